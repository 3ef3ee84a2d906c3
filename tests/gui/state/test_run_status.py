"""RunStatus and the start checks: what the Run box says and checks, without Qt."""

from gptstudio.core.events import Eval, Finished
from gptstudio.core.workspace import Workspace
from gptstudio.gui.state.run_status import RunStatus
from gptstudio.gui.state.start_checks import name_problem, start_problems, suggested_name
from tests.core.training_helpers import tiny_config
from tests.gui.training.helpers import started, step


def test_run_status_lines_during_and_after_a_run():
    status = RunStatus()
    assert status.text() == "" and status.progress() is None
    status.on_started(started(max_iters=200, world_size=2))
    status.on_steps([step(49), step(50)])
    status.on_eval(Eval(50, 2.0, 2.25, 2.25))
    text = status.text(smoothed_loss=2.1234)
    assert text.splitlines()[:3] == [
        "Run r: training…",
        "iteration 50 / 200 (25%)",
        "loss 2.0000 (smoothed 2.1234) · lr 1.00e-03",
    ]
    assert "ETA" in text and "MFU 1.2%" in text and "× 2 processes · 0.21M parameters" in text
    assert text.endswith("best val loss 2.2500") and status.progress() == (50, 200)
    said = status.on_finished(Finished("stopped", 60, "Stopped by request at iteration 60."), "r")
    assert said == "Run r stopped at iteration 60. Stopped by request at iteration 60."
    assert status.text().startswith(said) and "ETA" not in status.text()
    status.summarise("old", {"status": "completed", "iter": 30, "max_iters": 30, "best_val_loss": 1.5})
    assert status.text() == "Run old: completed at iteration 30 / 30.\nbest val loss 1.5000"
    status.reset()
    assert status.on_finished(Finished("failed", -1, "Dataset 'x' does not exist."), "new") == (
        "Run new failed. Dataset 'x' does not exist."  # it never started: no iteration to name
    )


def test_run_status_gives_the_best_val_loss_in_bits_per_byte_too():
    status = RunStatus()
    status.on_started(started())
    status.on_eval(Eval(10, 2.0, 2.0, 2.0, None, 1.0, 1.2))  # 0.6 bits per byte per nat on val
    status.on_eval(Eval(20, 1.9, 2.5, 2.0, None, 0.95, 1.5))  # worse: the best stays 2.0, 1.2 bits per byte
    assert status.text().endswith("best val loss 2.0000 (1.2000 bits per byte)")
    status.on_finished(Finished("completed", 20, "", 2.0, 1.2), "r")
    assert status.best_bpb == 1.2
    status.summarise("old", {"status": "completed", "best_val_loss": 1.5, "best_val_bpb": 0.9})
    assert status.text().endswith("best val loss 1.5000 (0.9000 bits per byte)")


def test_start_checks(home):
    ws = Workspace.open(home)
    assert start_problems(tiny_config()) == []
    assert any("divisible" in p for p in start_problems(tiny_config(n_embd=30, n_head=4)))
    cfg = tiny_config(gradient_accumulation_steps=3)
    assert start_problems(cfg, 0) == [] and "multiple of the number of processes (2)" in start_problems(cfg, 2)[0]
    assert suggested_name(ws, tiny_config()) == "tiny-1x16"
    assert name_problem(ws, "fresh") is None
    (home / "runs" / "taken").mkdir(parents=True)
    assert "already exists" in name_problem(ws, "taken")
    assert name_problem(ws, "../escape")
