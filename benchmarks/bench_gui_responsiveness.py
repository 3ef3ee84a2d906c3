"""Does the window answer within a frame or two while the app works? Every heavy scenario, measured.

Each scenario drives the real main window (offscreen) in a fresh process while a 10 ms timer probes
the GUI thread: the gaps between its ticks are how long a click or a key press would have waited.
The same work is then done without the window (the CLI, or the core call the GUI runs) in another
fresh process, so the table shows what the window costs the work, and the work costs the window.

    python benchmarks/bench_gui_responsiveness.py                  # every scenario, twice (~45 min)
    python benchmarks/bench_gui_responsiveness.py --scenario train_log1,open_run --repeats 3
    python benchmarks/bench_gui_responsiveness.py --quick          # smaller sizes: a smoke test (~4 min)
    git worktree add /tmp/gptstudio-before <commit>                 # before/after, side by side:
    python benchmarks/bench_gui_responsiveness.py --before /tmp/gptstudio-before

With --before, each repetition drives the window of that checkout too (its gptstudio imported, this
script's scenarios), so both columns are measured in the same minutes under the same load.

Per scenario: the probe's p99 and worst gap (ms; 10 is a free GUI thread), the work's speed in the
window and without it, and the window process's memory growth while the work runs. Targets (issue
20): p99 <= 30 ms, worst <= 100 ms, memory growth <= 50 MB over the 15,000-iteration run, training in
the window within 5 % of the CLI. The machine's load average is printed with each row: on a shared
machine, measure when it is quiet.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from corpus import shakespeare_path

REPO = Path(__file__).resolve().parent.parent
TREE = Path(os.environ.get("GUI_BENCH_TREE", REPO))  # the checkout whose gptstudio is measured
sys.path.insert(0, str(TREE))

from gptstudio.core.presets import BUILTIN_PRESETS  # noqa: E402 (the checkout chosen above)
from gptstudio.selftest import SELF_TEST_SETTINGS  # noqa: E402

PROBE_MS = 10
_app = None  # the QApplication of a window child process
SHAPE = ("n_layer", "n_head", "n_embd", "block_size", "batch_size", "dropout")
# the tiny model of the issue, the self-test's: 2 layers, 32 wide, every step logged (~200 iterations/s on 2 cores)
TINY_RUN = dict(
    {k: SELF_TEST_SETTINGS[k] for k in SHAPE},
    bias=False,
    learning_rate=1e-3,
    min_lr=1e-4,
    warmup_iters=50,
    log_interval=1,
    eval_interval=1000,
    eval_iters=20,
    device="cpu",
    dtype="float32",
    compile=False,
)
# nanoGPT's baby GPT (the preset of config/train_shakespeare_char.py): its shape, with one eval batch,
# so the eval at iteration 0 does not take the whole two minutes on a CPU
BABY_GPT = dict(
    TINY_RUN,
    **{k: BUILTIN_PRESETS["Shakespeare char (nanoGPT baby GPT)"][k] for k in SHAPE},
    eval_iters=1,
    eval_interval=100_000,
)


# ----------------------------------------------------------------------------- sizes


def sizes(quick: bool) -> dict:
    if quick:
        return dict(
            idle_s=5,
            log1_iters=1500,
            baby_s=15,
            baby=dict(n_layer=2, n_embd=128, n_head=4, batch_size=16),
            prepare_mb=10,
            tokens=500,
            points=20_000,
            runs=50,
            files=500,
        )
    return dict(
        idle_s=8,
        log1_iters=15_000,
        baby_s=120,
        baby={},
        prepare_mb=100,
        tokens=2000,
        points=200_000,
        runs=500,
        files=5000,
    )


# ----------------------------------------------------------------------------- measuring


def rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


class Probe:
    """A 10 ms precise timer in the GUI thread; the gaps between its ticks are the GUI's response time."""

    def __init__(self):
        from PySide6.QtCore import Qt, QTimer

        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(PROBE_MS)
        self.timer.timeout.connect(self._tick)
        self.ticks: list[float] = []
        self.rss_start = self.rss_warm = self.rss_peak = 0.0

    def _tick(self) -> None:
        self.ticks.append(time.perf_counter())

    def start(self) -> None:
        self.rss_start = self.rss_peak = rss_mb()
        self.cpu_start = time.thread_time()  # the GUI thread's own CPU time
        self.ticks = [time.perf_counter()]
        self.timer.start()
        if hasattr(_app, "slowest"):
            watch_stalls(self.ticks)

    def warm(self) -> None:
        """The work is under way: memory growth is counted from here (first allocations excluded)."""
        if not self.rss_warm:
            self.rss_warm = rss_mb()

    def stop(self) -> dict:
        self.timer.stop()
        self.ticks.append(time.perf_counter())
        gui_cpu = (time.thread_time() - self.cpu_start) / (self.ticks[-1] - self.ticks[0])
        print_blame(self.ticks)
        gaps = sorted(1000 * (b - a) for a, b in zip(self.ticks, self.ticks[1:]))
        end = rss_mb()
        return {
            "p99_ms": gaps[min(len(gaps) - 1, int(0.99 * len(gaps)))],
            "worst_ms": gaps[-1],
            "ticks": len(gaps),
            "rss_start_mb": self.rss_start,
            "rss_growth_mb": end - (self.rss_warm or self.rss_start),
            "rss_end_mb": end,
            "gui_cpu": gui_cpu,
        }


def wait_until(condition: Callable[[], bool], timeout_s: float, every: Callable[[], None] | None = None) -> None:
    """Run the event loop until `condition()` holds (checked every 20 ms)."""
    from PySide6.QtCore import QEventLoop, QTimer

    deadline = time.monotonic() + timeout_s
    loop = QEventLoop()

    def check():
        if every is not None:
            every()
        if condition() or time.monotonic() > deadline:
            loop.quit()

    timer = QTimer()
    timer.setInterval(20)
    timer.timeout.connect(check)
    timer.start()
    if not condition():
        loop.exec()
    timer.stop()
    if not condition():
        raise TimeoutError(f"gave up after {timeout_s:.0f} s")


def settle(ms: int = 300) -> None:
    """Let the event loop run a while (queued signals, repaints)."""
    end = time.monotonic() + ms / 1000
    wait_until(lambda: time.monotonic() >= end, ms / 1000 + 5)


def probe_while(action: Callable[[], None], done: Callable[[], bool], timeout_s: float) -> tuple[Probe, float]:
    """Start the probe on the settled window, do `action`, run the event loop until `done()`: the probe
    (still ticking, for what follows) and the seconds from the action to done."""
    probe = Probe()
    settle()
    probe.start()
    t0 = time.perf_counter()
    action()
    wait_until(done, timeout_s)
    return probe, time.perf_counter() - t0


def timed_application():
    """A QApplication that times the delivery of every event (--blame): the slowest ones name what
    held the GUI thread (the receiver's class and the event's type; queued signals are MetaCall)."""
    from PySide6.QtWidgets import QApplication

    class TimedApplication(QApplication):
        def __init__(self, argv):
            super().__init__(argv)
            self.slowest: list = []  # (ms, when, receiver, event type, ms of CPU)
            self.depth = 0

        def notify(self, receiver, event):
            self.depth += 1
            t0, cpu0 = time.perf_counter(), time.thread_time()
            try:
                return super().notify(receiver, event)
            except TypeError:  # PySide wraps a receiver being deleted as the wrong type: let Qt have it
                return False
            finally:
                self.depth -= 1
                ms = 1000 * (time.perf_counter() - t0)
                if self.depth == 0 and ms > 20:
                    name = receiver.objectName() if hasattr(receiver, "objectName") else ""
                    parent = receiver.parent() if hasattr(receiver, "parent") else None
                    who = type(receiver).__name__ + (f"#{name}" if name else "")
                    who += f" in {type(parent).__name__}" if parent is not None else ""
                    cpu = 1000 * (time.thread_time() - cpu0)
                    self.slowest.append((ms, t0, who, event.type().name, cpu))

    return TimedApplication([])


_stalls: list = []  # (stall length so far, when it began, what the GUI thread was doing, the others)


def watch_stalls(ticks: list[float]) -> None:
    """--blame: a thread that looks at the GUI thread's stack whenever the probe is 60 ms late."""
    import threading
    import traceback

    gui = threading.get_ident()

    def where(frame) -> str:
        return " < ".join(
            f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in traceback.extract_stack(frame)[::-1][:6]
        )

    def watch():
        while _stalls is not None:
            time.sleep(0.02)
            late = time.perf_counter() - ticks[-1]
            frames = sys._current_frames()
            if late > 0.06 and gui in frames:
                others = [where(f) for ident, f in frames.items() if ident not in (gui, threading.get_ident())]
                _stalls.append((late, ticks[-1], where(frames[gui]), others))

    threading.Thread(target=watch, daemon=True).start()


def print_blame(ticks: list[float]) -> None:
    """With GUI_BENCH_BLAME set: the probe's longest gaps and the slowest events, on one clock."""
    if not hasattr(_app, "slowest"):
        return
    t_start = ticks[0]
    gaps = sorted(((b - a, a) for a, b in itertools.pairwise(ticks)), reverse=True)[:5]
    print("  longest gaps: " + ", ".join(f"{1000 * g:.0f} ms at {a - t_start:.2f} s" for g, a in gaps), file=sys.stderr)
    for ms, t0, who, kind, cpu in sorted(_app.slowest, reverse=True)[:15]:
        print(f"  {ms:7.0f} ms ({cpu:4.0f} ms CPU) at {t0 - t_start:6.2f} s  {who}  {kind}", file=sys.stderr)
    longest: dict = {}  # the last look at each stall (by when it began)
    for late, began, stack, others in _stalls:
        longest[began] = (late, stack, others)
    for began, (late, stack, others) in sorted(longest.items(), key=lambda kv: -kv[1][0])[:4]:
        print(f"  stall at {began - t_start:.2f} s, {1000 * late:.0f} ms in: GUI thread at {stack}", file=sys.stderr)
        for other in others[:3]:
            print(f"      other thread at {other}", file=sys.stderr)


def application():
    """The process's QApplication (timing every event with GUI_BENCH_BLAME set), kept alive."""
    from PySide6.QtWidgets import QApplication

    global _app
    _app = QApplication.instance() or (timed_application() if os.environ.get("GUI_BENCH_BLAME") else QApplication([]))
    return _app


def open_window(home: Path, measure_speed: bool = False):

    from gptstudio.gui import create_main_window
    from gptstudio.gui.settings import AppSettings

    application()
    AppSettings().set("config.measure_speed", measure_speed)
    window = create_main_window(home)
    window.resize(1280, 820)
    window.show()
    settle(500)
    # what a person sees after the first seconds: torch's optimizer stack loaded in the background
    # (by a window that does so: an older checkout has no warm-up)
    wait_until(getattr(window.training_tab.runner, "warmed_up", lambda: True), 120)
    return window


def last_iter(tab) -> int:
    """The last iteration the Training tab's plots hold (0 before the first)."""
    loss = tab.plots.curves.loss
    return int(loss.x[-1]) if len(loss) else 0


def listing(runs) -> bool:
    """Whether the runs list is still reading the runs (an older checkout reads them in the GUI thread)."""
    return getattr(runs, "is_listing", lambda: False)()


# ----------------------------------------------------------------------------- fixtures of the scenarios


def char_dataset(home: Path, name: str = "shakespeare", chars: int | None = None) -> str:
    from gptstudio.core.dataset import prepare_dataset

    src = shakespeare_path()
    if chars:
        src = home / "input.txt"
        src.write_text(shakespeare_path().read_text(encoding="utf-8")[:chars], encoding="utf-8")
    prepare_dataset([src], name, "char", home=home)
    return name


def big_text(home: Path, mb: int) -> Path:
    """`mb` MB of text: the Shakespeare corpus repeated."""
    text = shakespeare_path().read_bytes()
    path = home / f"text_{mb}mb.txt"
    with open(path, "wb") as f:
        left = mb * 10**6
        while left > 0:
            f.write(text[:left])
            left -= len(text)
    return path


def train_config(run: str, dataset: str, **settings):
    from gptstudio.core.config import TrainConfig

    settings = {**TINY_RUN, **settings}
    settings.setdefault("lr_decay_iters", settings.get("max_iters", 1000))
    return TrainConfig(dataset=dataset, run_name=run, **settings)


def tiny_run(home: Path, dataset: str, name: str = "tiny", iters: int = 30) -> None:
    """A small trained run with a checkpoint (for the Playground and the runs list)."""
    from gptstudio.core.launch import train_here

    cfg = train_config(name, dataset, max_iters=iters, block_size=64, eval_interval=iters, log_interval=10)
    finished = train_here(cfg, home=home)
    assert finished.status == "completed", finished.reason


def ms_per_iter(run_dir: Path, skip: int = 1) -> float:
    """The run's training speed from its metrics.jsonl: elapsed time per iteration between the
    `skip`-th logged step and the last (the start-up before the first steps excluded)."""
    from gptstudio.core.runs import read_metrics

    steps = [e for e in read_metrics(run_dir) if e.get("type") == "step"]
    a, b = steps[min(skip, len(steps) - 2)], steps[-1]
    return 1000 * (b["elapsed"] - a["elapsed"]) / max(1, b["iter"] - a["iter"])


def cli_train(home: Path, cfg, stop_after_s: float | None = None) -> Path:
    """`gptstudio train` in its own process (stopped with Ctrl+C after `stop_after_s`)."""
    from gptstudio.core.config import save_config

    path = home / f"{cfg.run_name}.json"
    save_config(cfg, path)
    cmd = [sys.executable, "-m", "gptstudio", "--home", str(home), "train", "--config", str(path)]
    proc = subprocess.Popen([*cmd, "--name", cfg.run_name], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if stop_after_s is not None:
        try:
            proc.wait(stop_after_s)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGINT)  # stops with a checkpoint, as Stop does
    _, err = proc.communicate()
    if proc.returncode not in (0,):
        raise SystemExit(f"gptstudio train failed ({proc.returncode}): {err.decode()[-2000:]}")
    return home / "runs" / cfg.run_name


# ----------------------------------------------------------------------------- the scenarios
# Each has a `window` side (returns the probe's numbers and the work's speed in the window) and a
# `reference` side (the same work without the window). Both run in a fresh process each.


def training_window(home: Path, cfg):
    """The window with `cfg` on the Config tab and the Training tab shown; Start names the run cfg.run_name."""
    window = open_window(home)
    window.config_tab.set_config(cfg)
    shown = window.config_tab.config().to_dict()
    differ = {k: (v, shown.get(k)) for k, v in cfg.to_dict().items() if shown.get(k) != v}
    assert not differ and window.config_tab.is_valid(), (differ, window.config_tab.problems())
    window.show_tab("Training")
    tab = window.training_tab
    tab.ask_run_name = lambda suggestion: cfg.run_name
    return window, tab


def _train_in_window(home: Path, cfg, stop_after_s: float | None = None, timeout_s: float = 1800) -> dict:
    window, tab = training_window(home, cfg)
    probe = Probe()
    settle()
    probe.start()
    t0 = time.monotonic()
    tab.controls.startButton.click()
    warm_at = max(2, cfg.max_iters // 20)  # memory growth is counted from 5 % of the run (or of its time)

    def every():
        if last_iter(tab) >= warm_at or (stop_after_s and time.monotonic() - t0 > stop_after_s / 20):
            probe.warm()
        if stop_after_s is not None and time.monotonic() - t0 > stop_after_s and tab.is_running():
            tab.controls.stopButton.click()

    wait_until(lambda: not tab.is_running(), timeout_s, every)
    settle()
    numbers = probe.stop()
    window.close()
    return {**numbers, "work": ms_per_iter(home / "runs" / cfg.run_name), "unit": "ms/iter"}


def first_seconds_window(home: Path, s: dict) -> dict:
    """The window's first seconds, left alone: what it loads in the background then (the trainer's
    warm-up) must not freeze it either."""
    from gptstudio.gui import create_main_window
    from gptstudio.gui.settings import AppSettings

    application()
    AppSettings().set("config.measure_speed", False)  # (measuring is the config_speed scenario)
    t0 = time.perf_counter()
    window = create_main_window(home)
    window.resize(1280, 820)
    window.show()
    shown = time.perf_counter() - t0
    probe = Probe()
    probe.start()
    settle(s["idle_s"] * 1000)
    numbers = probe.stop()
    window.close()
    return {**numbers, "work": shown, "unit": "s to show"}


def log1_config(s: dict, dataset: str, run: str):
    return train_config(run, dataset, max_iters=s["log1_iters"])


def train_log1_window(home: Path, s: dict) -> dict:
    return _train_in_window(home, log1_config(s, char_dataset(home), "gui"))


def train_log1_reference(home: Path, s: dict) -> dict:
    run_dir = cli_train(home, log1_config(s, char_dataset(home), "cli"))
    return {"work": ms_per_iter(run_dir), "unit": "ms/iter"}


def baby_config(s: dict, dataset: str, run: str):
    return train_config(run, dataset, **{**BABY_GPT, **s["baby"], "max_iters": 100_000})


def train_baby_window(home: Path, s: dict) -> dict:
    return _train_in_window(home, baby_config(s, char_dataset(home), "gui"), stop_after_s=s["baby_s"])


def train_baby_reference(home: Path, s: dict) -> dict:
    run_dir = cli_train(home, baby_config(s, char_dataset(home), "cli"), stop_after_s=s["baby_s"])
    return {"work": ms_per_iter(run_dir), "unit": "ms/iter"}


def start_config(dataset: str, run: str):
    # first eval at iteration 0, first checkpoint at the eval of iteration 200
    return train_config(run, dataset, max_iters=100_000, eval_interval=200)


def start_window(home: Path, s: dict) -> dict:
    """Start → the first points drawn → the first eval → the first checkpoint."""
    cfg = start_config(char_dataset(home), "gui")
    window, tab = training_window(home, cfg)
    probe, seconds = probe_while(tab.controls.startButton.click, lambda: tab.plots.curves.checkpoints.n > 0, 300)
    settle()
    numbers = probe.stop()
    tab.stop()
    wait_until(lambda: not tab.is_running(), 60)
    window.close()
    return {**numbers, "work": seconds, "unit": "s to 1st checkpoint"}


def start_reference(home: Path, s: dict) -> dict:
    import threading

    from gptstudio.core.events import CheckpointSaved
    from gptstudio.core.launch import train_here

    cfg = start_config(char_dataset(home), "core")
    cancel, t_first = threading.Event(), []

    def report(event):
        if isinstance(event, CheckpointSaved) and not t_first:
            t_first.append(time.perf_counter())
            cancel.set()

    t0 = time.perf_counter()
    train_here(cfg, home=home, report=report, cancel=cancel)
    return {"work": t_first[0] - t0, "unit": "s to 1st checkpoint"}


def stop_resume_window(home: Path, s: dict) -> dict:
    """Train, Stop (a checkpoint is saved), Resume, train on, Stop: the seconds from each click to
    its effect (the run ended; the resumed run's first point drawn)."""
    cfg = start_config(char_dataset(home), "gui")
    window, tab = training_window(home, cfg)
    probe = Probe()
    settle()
    tab.controls.startButton.click()
    wait_until(lambda: last_iter(tab) >= 300, 300)
    probe.start()
    t0 = time.perf_counter()
    tab.controls.stopButton.click()
    wait_until(lambda: not tab.is_running(), 120)
    stop_s = time.perf_counter() - t0
    stopped_at = last_iter(tab)
    settle()
    t0 = time.perf_counter()
    tab.runs.select([cfg.run_name])
    settle(100)
    tab.controls.resumeButton.click()
    wait_until(lambda: last_iter(tab) > stopped_at, 300)
    resume_s = time.perf_counter() - t0
    wait_until(lambda: last_iter(tab) >= stopped_at + 300, 300)
    tab.controls.stopButton.click()
    wait_until(lambda: not tab.is_running(), 120)
    settle()
    numbers = probe.stop()
    window.close()
    return {**numbers, "work": [stop_s, resume_s], "unit": "s stop / resume"}


def stop_resume_reference(home: Path, s: dict) -> dict:
    import threading

    from gptstudio.core.config import TrainConfig
    from gptstudio.core.events import Step
    from gptstudio.core.launch import train_here

    cfg = start_config(char_dataset(home), "core")
    cancel, clicked = threading.Event(), []

    def stop_at_300(event):
        if isinstance(event, Step) and event.iter >= 300 and not cancel.is_set():
            clicked.append(time.perf_counter())
            cancel.set()

    train_here(cfg, home=home, report=stop_at_300, cancel=cancel)
    stop_s = time.perf_counter() - clicked[0]
    resumed, first = threading.Event(), []

    def first_step(event):
        if isinstance(event, Step) and not first:
            first.append(time.perf_counter())
            resumed.set()

    t0 = time.perf_counter()
    train_here(TrainConfig(init_from="resume", run_name=cfg.run_name), home=home, report=first_step, cancel=resumed)
    return {"work": [stop_s, first[0] - t0], "unit": "s stop / resume"}


def _prepare_window(home: Path, s: dict, tokenizer: str) -> dict:
    text = big_text(home, s["prepare_mb"])
    window = open_window(home)
    tab = window.dataset_tab
    window.show_tab("Dataset")
    tab.add_inputs([text])
    wait_until(lambda: not tab.is_checking(), 60)
    # the files added are compared on three tokenizers in the background: that is another scenario's
    # work (measured alone: the window's first seconds with files), not the preparation's
    compare = getattr(tab, "compare_panel", None)
    wait_until(lambda: compare is None or not compare.is_measuring(), 300)
    tab.prepare_panel.set_name("big")
    tab.prepare_panel.set_tokenizer(tokenizer)
    probe = Probe()
    settle()
    probe.start()
    t0 = time.perf_counter()
    tab.prepare_panel.prepare_button.click()
    wait_until(lambda: tab.is_preparing(), 10)
    wait_until(lambda: not tab.is_preparing(), 900, probe.warm)
    seconds = time.perf_counter() - t0
    settle()
    numbers = probe.stop()
    assert (home / "datasets" / "big" / "meta.json").exists(), tab.prepare_panel.error()
    window.close()
    return {**numbers, "work": s["prepare_mb"] / seconds, "unit": "MB/s"}


def _prepare_reference(home: Path, s: dict, tokenizer: str) -> dict:
    from gptstudio.core.dataset import prepare_dataset

    text = big_text(home, s["prepare_mb"])
    t0 = time.perf_counter()
    prepare_dataset([text], "big", tokenizer, home=home)
    return {"work": s["prepare_mb"] / (time.perf_counter() - t0), "unit": "MB/s"}


def prepare_char_window(home, s):
    return _prepare_window(home, s, "char")


def prepare_char_reference(home, s):
    return _prepare_reference(home, s, "char")


def prepare_gpt2_window(home, s):
    return _prepare_window(home, s, "gpt2")


def prepare_gpt2_reference(home, s):
    return _prepare_reference(home, s, "gpt2")


def generate_window(home: Path, s: dict) -> dict:
    """2,000 tokens into the Playground's token view (each token shaded by its probability)."""
    tiny_run(home, char_dataset(home, chars=200_000))
    window = open_window(home)
    tab = window.playground_tab
    window.show_tab("Playground")
    wait_until(tab.models_ready, 120)
    tab.mode_choice.combo.setCurrentIndex(tab.mode_choice.combo.findData("complete"))
    tab.sampling.max_tokens.setValue(s["tokens"])
    tab.sampling.seed.setValue(1)
    tab.inspector.view_check.setChecked(True)
    tab.composer.prompt_input.setPlainText("ROMEO:")
    done = []
    tab.sig_reply_finished.connect(lambda: done.append(time.perf_counter()))
    probe = Probe()
    settle()
    probe.start()
    t0 = time.perf_counter()
    tab.composer.send_button.click()
    wait_until(lambda: bool(done), 600, probe.warm)
    settle()
    numbers = probe.stop()
    tokens = len(tab.chat_view.rows()[-1].panes[0].pieces)
    window.close()
    return {**numbers, "work": tokens / (done[0] - t0), "unit": "tokens/s"}


def generate_reference(home: Path, s: dict) -> dict:
    import threading

    from gptstudio.core.sample_settings import SampleSettings
    from gptstudio.core.sampler import Sampler
    from gptstudio.core.streaming import stream_job

    tiny_run(home, char_dataset(home, chars=200_000))
    sampler = Sampler.from_run("tiny", "latest", home=home)
    settings = SampleSettings(max_new_tokens=s["tokens"], seed=1, slide="fast")
    t0 = time.perf_counter()
    numbers = stream_job(sampler, "ROMEO:", settings, report=lambda pieces: None, cancel=threading.Event())
    return {"work": numbers["tokens"] / (time.perf_counter() - t0), "unit": "tokens/s"}


def long_run(home: Path, points: int, name: str = "long") -> None:
    """A run folder whose metrics.jsonl holds `points` steps (and an eval every 1,000)."""
    from gptstudio.core.runs import write_status

    run_dir = home / "runs" / name
    run_dir.mkdir(parents=True)
    with open(run_dir / "metrics.jsonl", "w", encoding="utf-8") as f:
        for i in range(points):
            loss = 2 + math.sin(i / 300) + 1 / (1 + i / 1000)
            step = {"type": "step", "iter": i, "loss": loss, "lr": 1e-3, "tokens_per_sec": 1e5}
            f.write(json.dumps({**step, "ms_per_iter": 5.0, "mfu": -1.0, "elapsed": i * 0.005}) + "\n")
            if i % 1000 == 0:
                f.write(json.dumps({"type": "eval", "iter": i, "train_loss": loss, "val_loss": loss + 0.1}) + "\n")
    write_status(run_dir, status="completed", iter=points, max_iters=points, best_val_loss=2.0, dataset="x")


def open_run_window(home: Path, s: dict) -> dict:
    long_run(home, s["points"])
    window = open_window(home)
    tab = window.training_tab
    window.show_tab("Training")
    probe, seconds = probe_while(
        lambda: tab.runs.select(["long"]), lambda: len(tab.plots.curves.loss) == s["points"], 300
    )
    settle(1000)
    numbers = probe.stop()
    window.close()
    return {**numbers, "work": seconds, "unit": "s to draw"}


def open_run_reference(home: Path, s: dict) -> dict:
    from gptstudio.core.curves import read_run_curves

    long_run(home, s["points"])
    t0 = time.perf_counter()
    read_run_curves(home / "runs" / "long")
    return {"work": time.perf_counter() - t0, "unit": "s to draw"}


def many_runs(home: Path, n: int) -> None:
    """`n` finished runs, each with a checkpoint (hard links of one small run's files)."""
    tiny_run(home, char_dataset(home, chars=200_000), "run0000", iters=10)
    src = home / "runs" / "run0000"
    for i in range(1, n):
        dst = home / "runs" / f"run{i:04d}"
        dst.mkdir()
        for f in src.iterdir():
            if f.is_file():
                try:
                    os.link(f, dst / f.name)
                except OSError:
                    shutil.copy2(f, dst / f.name)


def runs_list_window(home: Path, s: dict) -> dict:
    """Refresh the Training tab's runs list, then open the Playground (whose model list reads them too)."""
    many_runs(home, s["runs"])
    window = open_window(home)
    tab = window.training_tab
    window.show_tab("Training")
    listed = lambda: not listing(tab.runs) and len(tab.runs.names()) == s["runs"]  # noqa: E731
    probe, seconds = probe_while(tab.runs.refreshRunsButton.click, listed, 120)
    settle()
    window.show_tab("Playground")
    settle(1500)
    numbers = probe.stop()
    window.close()
    return {**numbers, "work": seconds, "unit": "s to list"}


def runs_list_reference(home: Path, s: dict) -> dict:
    from gptstudio.core.runs import list_runs

    many_runs(home, s["runs"])
    t0 = time.perf_counter()
    assert len(list_runs(home)) == s["runs"]
    return {"work": time.perf_counter() - t0, "unit": "s to list"}


def text_folder(home: Path, n: int) -> Path:
    folder = home / "letters"
    folder.mkdir()
    text = shakespeare_path().read_text(encoding="utf-8")
    for i in range(n):
        at = (i * 2003) % (len(text) - 2000)
        (folder / f"letter_{i:05d}.txt").write_text(text[at : at + 2000], encoding="utf-8")
    return folder


def drop_folder_window(home: Path, s: dict) -> dict:
    from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
    from PySide6.QtGui import QDragEnterEvent, QDropEvent
    from PySide6.QtWidgets import QApplication

    folder = text_folder(home, s["files"])
    window = open_window(home)
    tab = window.dataset_tab
    window.show_tab("Dataset")
    area = tab.drop_area
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(folder))])
    pos = QPointF(area.rect().center())
    buttons, keys = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier

    def drop():
        QApplication.sendEvent(area, QDragEnterEvent(pos.toPoint(), Qt.DropAction.CopyAction, mime, buttons, keys))
        QApplication.sendEvent(area, QDropEvent(pos, Qt.DropAction.CopyAction, mime, buttons, keys))

    probe, seconds = probe_while(drop, lambda: len(tab.input_panel.inputs.files) == s["files"], 300)
    compare = getattr(tab, "compare_panel", None)  # then the files are compared on three tokenizers
    wait_until(lambda: compare is None or not compare.is_measuring(), 300)
    settle(1000)
    numbers = probe.stop()
    window.close()
    return {**numbers, "work": seconds, "unit": "s to list"}


def drop_folder_reference(home: Path, s: dict) -> dict:
    from gptstudio.core.input_check import check_inputs

    folder = text_folder(home, s["files"])
    t0 = time.perf_counter()
    assert len(check_inputs([folder]).accepted) == s["files"]
    return {"work": time.perf_counter() - t0, "unit": "s to list"}


def measure_config(dataset: str):
    return train_config("m", dataset, n_layer=4, n_head=4, n_embd=128, block_size=64, batch_size=12)


def config_speed_window(home: Path, s: dict) -> dict:
    """The Config tab's "Measure speed on the device": a few real training steps in the background."""
    cfg = measure_config(char_dataset(home, chars=200_000))
    window = open_window(home, measure_speed=True)
    tab = window.config_tab
    window.show_tab("Config")
    wait_until(lambda: not tab.estimates.is_measuring(), 120)  # the settings restored at start-up
    settle(1500)
    probe = Probe()
    probe.start()
    t0 = time.perf_counter()
    tab.set_config(cfg)
    wait_until(tab.estimates.is_measuring, 30)
    wait_until(lambda: not tab.estimates.is_measuring(), 300)
    seconds = time.perf_counter() - t0
    settle()
    numbers = probe.stop()
    window.close()
    return {**numbers, "work": seconds, "unit": "s to measure"}


def config_speed_reference(home: Path, s: dict) -> dict:
    from gptstudio.core.dataset import load_dataset_meta
    from gptstudio.core.estimates import measure_iteration_time

    dataset = char_dataset(home, chars=200_000)
    cfg = measure_config(dataset)
    vocab = load_dataset_meta(home / "datasets" / dataset)["vocab_size"]
    t0 = time.perf_counter()
    measure_iteration_time(cfg, vocab)
    # the window waits MEASURE_MS for the edits to settle before measuring: count it here too
    from gptstudio.gui.config.estimates_panel import MEASURE_MS

    return {"work": time.perf_counter() - t0 + MEASURE_MS / 1000, "unit": "s to measure"}


SCENARIOS = {
    "first_seconds": "the window's first {idle_s} s, left alone",
    "train_log1": "training 2x32, log_interval=1, {log1_iters:,} iterations (vs the CLI)",
    "train_baby": "training baby GPT 6x6x384 for {baby_s} s (vs the CLI)",
    "start": "Start → first points → first eval and checkpoint",
    "stop_resume": "Stop, then Resume",
    "prepare_char": "preparing {prepare_mb} MB, char",
    "prepare_gpt2": "preparing {prepare_mb} MB, gpt2",
    "generate": "generating {tokens:,} tokens, token view on",
    "open_run": "opening a run of {points:,} logged points",
    "runs_list": "runs list of {runs} runs (+ the Playground's list)",
    "drop_folder": "dropping a folder of {files:,} files",
    "config_speed": "the Config tab's speed measurement",
}
HIGHER_IS_BETTER = {"MB/s", "tokens/s"}


# ----------------------------------------------------------------------------- running and printing


def child(scenario: str, side: str, quick: bool) -> dict:
    """Run one side of one scenario in this (fresh) process, in a temporary workspace."""
    with tempfile.TemporaryDirectory(prefix="gptstudio-gui-bench-") as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        os.environ["GPTSTUDIO_HOME"] = str(home)
        os.environ["GPTSTUDIO_CONFIG_DIR"] = str(Path(tmp) / "config")
        os.environ["GPTSTUDIO_LOG_DIR"] = str(Path(tmp) / "logs")
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        do = globals().get(f"{scenario}_{side}")
        return do(home, sizes(quick)) if do else {}  # (a scenario without a reference: no work to compare)


def run_child(scenario: str, side: str, quick: bool, threads: int | None = None, tree: Path = REPO) -> dict:
    """One side of one scenario in a fresh process that imports the gptstudio of `tree`."""
    cmd = [sys.executable, __file__, "--child", scenario, side] + (["--quick"] if quick else [])
    env = dict(os.environ, GUI_BENCH_TREE=str(tree), PYTHONPATH=str(tree))  # the CLI child imports it too
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=CHILD_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return {"error": f"gave up after {CHILD_TIMEOUT_S} s"}
    if out.returncode != 0:
        return {"error": (out.stderr.strip().splitlines() or [f"exit {out.returncode}"])[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])


CHILD_TIMEOUT_S = 1200


def slowdown(window: float, reference: float, unit: str) -> float:
    """How much slower the work is in the window (0.05 = 5 % slower)."""
    return reference / window - 1 if unit in HIGHER_IS_BETTER else window / reference - 1


def fmt_work(value) -> str:
    if isinstance(value, list):
        return "/".join(f"{v:.2f}" for v in value)
    return f"{value:.3g}" if value < 100 else f"{value:,.0f}"


def pair(before: dict | None, after: dict, key: str, form: str) -> str:
    """`before → after` of one figure (a dash where a side has none)."""
    one = lambda side: format(side[key], form) if side and key in side else "-"  # noqa: E731
    return f"{one(before)} → {one(after)}"


def row(title: str, load: float, before: dict | None, after: dict, ref: dict) -> str:
    failed = [
        f"{name}: {side['error']}"
        for name, side in (("before", before), ("after", after), ("without", ref))
        if side and "error" in side
    ]
    if failed:
        return f"{title:48s} {load:4.1f}  failed: " + "; ".join(failed)

    def cost(side):
        if not side or "work" not in side:
            return None
        if "work" not in ref:
            return {"work": fmt_work(side["work"])}
        w, r = side["work"], ref["work"]
        w, r = (w[0], r[0]) if isinstance(w, list) else (w, r)
        return {"cost": 100 * slowdown(w, r, side["unit"]), "work": fmt_work(side["work"])}

    cb, ca = cost(before), cost(after)
    p99, worst = pair(before, after, "p99_ms", ".0f"), pair(before, after, "worst_ms", ".0f")
    rss, cpu = pair(before, after, "rss_growth_mb", ".0f"), pair(before, after, "gui_cpu", ".0%")
    without = fmt_work(ref["work"]) if "work" in ref else "-"
    return (
        f"{title:48s} {load:4.1f}  {p99:>11s}  {worst:>11s}  {pair(cb, ca, 'work', 's'):>21s}"
        f" {without:>10s}  {pair(cb, ca, 'cost', '+.0f'):>11s}  {rss:>9s}  {cpu:>11s}  {after['unit']}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenario", "--only", dest="only", help="comma-separated scenarios: " + ", ".join(SCENARIOS))
    ap.add_argument("--repeats", type=int, default=2, help="runs of each scenario (default 2)")
    ap.add_argument("--quick", action="store_true", help="smaller sizes: check that the script works")
    ap.add_argument("--before", type=Path, help="a checkout of the app before the change: measured side by side")
    ap.add_argument(
        "--threads",
        type=int,
        help="torch threads on both sides (OMP_NUM_THREADS; the trainer honours it). On a machine other jobs "
        "load, 2 threads on 2 cores wait on each other and the figures become noise: use --threads 1 there",
    )
    ap.add_argument("--json", help="also write every measurement to this file")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(*args.child, args.quick)))
        return

    names = args.only.split(",") if args.only else list(SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        raise SystemExit(f"unknown scenario(s): {', '.join(unknown)}")
    if args.before and not (args.before / "gptstudio" / "__init__.py").exists():
        raise SystemExit(f"{args.before} is not a checkout of GPT Studio")
    s = sizes(args.quick)
    threads = f"{args.threads} torch thread(s)" if args.threads else "torch threads as the app sets them"
    print(
        f"probe: a {PROBE_MS} ms timer in the GUI thread; {os.cpu_count()} CPUs, {threads}; load = 1-min load average"
    )
    print(f"before: {args.before or '(not measured: --before)'}   after: {REPO}")
    header = (
        f"{'scenario':48s} {'load':>4s}  {'p99 ms':>11s}  {'worst ms':>11s}  {'work in window':>21s} {'without':>10s}"
        f"  {'cost %':>11s}  {'RSS +MB':>9s}  {'GUI CPU':>11s}  unit"
    )
    print(header)
    print("-" * len(header), flush=True)
    results = []
    for name in names:
        title = SCENARIOS[name].format(**s)
        for repeat in range(args.repeats):
            load = os.getloadavg()[0]
            sides = ["before", "after"] if repeat % 2 == 0 else ["after", "before"]  # neither always first
            got = {}
            for side in sides:
                if side == "after":
                    got[side] = run_child(name, "window", args.quick, args.threads)
                elif args.before:
                    got[side] = run_child(name, "window", args.quick, args.threads, args.before)
            ref = run_child(name, "reference", args.quick, args.threads)
            results.append({"scenario": name, "load": load, **got, "reference": ref})
            print(row(title, load, got.get("before"), got["after"], ref), flush=True)
    print("\nx → y: before → after. work: the window's speed (stop/resume: seconds from the click); without: the same")
    print("work without the window (the CLI or the core call, this checkout); cost: how much slower the work is in the")
    print("window. GUI CPU: the GUI thread's CPU time over the scenario's wall time.")
    print("targets: p99 <= 30 ms, worst <= 100 ms, RSS growth <= 50 MB (15,000 iterations), training cost <= 5 %")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
