"""Events for the Training tab's panel tests."""

from gptstudio.core.events import RunStarted, Step


def step(it: int, loss: float = 2.0) -> Step:
    return Step(it, loss, 1e-3, 1000.0, 10.0, 0.012, it * 0.01)


def started(start_iter: int = 0, max_iters: int = 100, world_size: int = 1) -> RunStarted:
    return RunStarted("r", {}, 210_000, "cpu", "float32", start_iter, max_iters, 512, 1.0, world_size)
