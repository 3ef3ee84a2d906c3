"""The Training tab: runs from the GUI (in-process and torchrun), live plots, stop/resume, run history.

Everything goes through the tab's public API and its panels' (tab.controls, tab.runs, tab.plots,
tab.log, tab.sample, tab.status, tab.runner); the panels have their own tests in test_training_panels.py.
"""

import math
import os
import re
import sys
import time

import numpy as np
import psutil
import pytest
from PySide6.QtCore import QElapsedTimer, QTimer
from PySide6.QtWidgets import QWidget

from gptstudio.commands.train import ProgressPrinter
from gptstudio.core import launch, trainer
from gptstudio.core.config import TrainConfig
from gptstudio.core.curves import typed_events
from gptstudio.core.events import Eval, Finished, RunStarted, Step
from gptstudio.gui import create_main_window
from gptstudio.gui.settings import AppSettings
from gptstudio.gui.training_tab import TrainingTab
from tests.core import training_helpers
from tests.core.training_helpers import write_char_dataset

WIDGETS = [
    "startButton",
    "stopButton",
    "resumeButton",
    "lossPlot",
    "lrPlot",
    "logScaleCheck",
    "trainStatus",
    "trainProgress",
    "trainLog",
    "samplePreview",
    "runsList",
    "useTorchrunCheck",
    "nprocSpin",
    "multiNodeButton",
    "refreshRunsButton",
    "revealRunButton",
    "exportRunButton",
    "deleteRunButton",
]
TEXT = (
    "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n\n"
    "First Citizen:\nYou are all resolved rather to die than to famish?\n\n"
) * 40


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny models, a shared machine

# the trainer tests' tiny model, a little wider, training until stopped, with a sample at each eval
GUI_RUN = dict(
    run_name="",
    n_embd=32,
    block_size=32,
    batch_size=8,
    max_iters=100_000,
    lr_decay_iters=100_000,
    warmup_iters=5,
    eval_interval=20,
    eval_sample_tokens=20,
    always_save_checkpoint=True,
)


def tiny_config(**overrides) -> TrainConfig:
    return training_helpers.tiny_config(**{**GUI_RUN, **overrides})


@pytest.fixture
def dataset(home):
    return write_char_dataset(home, text=TEXT)


@pytest.fixture
def make_tab(qtbot, home, tmp_path):
    tabs = []

    def make(config: TrainConfig | None = None, run_name="gui-run"):
        tab = TrainingTab(home, AppSettings(tmp_path / "settings.json"))
        qtbot.addWidget(tab)
        tab.resize(1300, 820)
        tab.show()
        tab.config = config or tiny_config()
        tab.set_config_source(lambda: TrainConfig.from_dict(tab.config.to_dict()))
        tab.names_asked = []
        tab.ask_run_name = lambda suggestion: (tab.names_asked.append(suggestion), run_name)[1]
        tabs.append(tab)
        wait_listed(qtbot, tab)
        return tab

    yield make
    for tab in tabs:  # no run may outlive its test
        assert tab.shutdown(60_000)


def npoints(curve) -> int:
    """Points given to a plot item (getData() would return only those in view)."""
    return 0 if curve.xData is None else len(curve.xData)


def ended(process: psutil.Process) -> bool:
    """Gone, or a zombie: ranks whose torchrun parent was killed wait for the OS's init to reap them."""
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def wait_finished(qtbot, tab, timeout=60_000) -> Finished:
    with qtbot.waitSignal(tab.runner.pump.sig_finished, timeout=timeout) as blocker:
        pass
    qtbot.waitUntil(lambda: not tab.is_running(), timeout=10_000)
    wait_listed(qtbot, tab)  # the runs are read again when a run ends
    return blocker.args[0]


def wait_listed(qtbot, tab) -> None:
    qtbot.waitUntil(lambda: not tab.runs.is_listing(), timeout=30_000)


def wait_read(qtbot, tab) -> None:
    qtbot.waitUntil(lambda: not tab.runs.is_reading(), timeout=30_000)


def train_headless(home, name, **overrides) -> Finished:
    """A run made without the GUI, like `gptstudio train` does."""
    return trainer.train(tiny_config(run_name=name, **overrides), home=home)


def child_processes(marker: str) -> list[psutil.Process]:
    """This test's child processes whose command line holds `marker` (the torchrun child)."""
    return [p for p in psutil.Process().children() if any(marker in part for part in p.cmdline())]


# ----- widgets -----


def test_widgets_exist_and_plots_are_labelled(make_tab, dataset):
    tab = make_tab()
    for name in WIDGETS:
        assert tab.findChild(QWidget, name) is not None, name
    loss = tab.plots.lossPlot.getPlotItem()
    assert tab.plots.title().startswith("Loss")
    assert loss.getAxis("bottom").labelText == "iteration"
    assert "loss" in loss.getAxis("left").labelText
    assert tab.plots.lrPlot.getPlotItem().titleLabel.text == "Learning rate"
    assert tab.controls.startButton.isEnabled() and not tab.controls.stopButton.isEnabled()
    tab.plots.logScaleCheck.setChecked(True)
    assert loss.ctrl.logYCheck.isChecked()


def test_invalid_config_cannot_start(make_tab, dataset):
    tab = make_tab()
    tab.set_config_valid(False)
    assert not tab.controls.startButton.isEnabled()
    tab.controls.startButton.click()
    tab.start()  # even a direct call does nothing while the Config tab says the settings are invalid
    assert not tab.is_running() and tab.names_asked == []
    tab.set_config_valid(True)
    assert tab.controls.startButton.isEnabled()
    tab.config = tiny_config(n_embd=30, n_head=4)  # impossible: 30 is not divisible by 4
    tab.controls.startButton.click()
    assert not tab.is_running() and tab.names_asked == []
    assert "divisible" in tab.log.toPlainText()


# ----- an in-process run: plot, stop, resume -----


def test_start_plot_stop_then_resume_continues(qtbot, make_tab, dataset, home):
    tab = make_tab(run_name="first")
    plots, controls = tab.plots, tab.controls
    finished, checkpoints = [], []
    tab.sig_run_finished.connect(finished.append)
    tab.sig_checkpoint_saved.connect(checkpoints.append)
    controls.startButton.click()
    assert tab.names_asked == ["tiny-1x32"]
    assert tab.is_running() and not controls.startButton.isEnabled() and controls.stopButton.isEnabled()
    # evals at iterations 0 and 20 (the second one after 20 plotted steps)
    qtbot.waitUntil(lambda: npoints(plots.valEvalCurve) >= 2, timeout=60_000)
    assert npoints(plots.rawCurve) >= 20 and npoints(plots.lrCurve) >= 20 and npoints(plots.emaCurve) >= 20
    header, _, sample = tab.sample.toPlainText().partition("\n\n")
    evaluated = re.fullmatch(r"iteration (\d+), val loss \d+\.\d{4}", header)
    assert evaluated and int(evaluated[1]) % 20 == 0 and int(evaluated[1]) > 0 and len(sample) >= 10
    assert tab.runs.row("first")[1] == "running"
    controls.stopButton.click()
    end = wait_finished(qtbot, tab)
    assert end.status == "stopped"
    assert (home / "runs" / "first" / "ckpt.pt").is_file()
    assert "stopped" in controls.trainStatus.text()
    assert tab.runs.row("first")[1] == "stopped"
    assert finished == ["first"] and checkpoints and set(checkpoints) == {"first"}
    stopped_at = trainer.list_runs(home)[0]
    assert controls.startButton.isEnabled() and controls.resumeButton.isEnabled()

    starts = []
    tab.runner.pump.sig_started.connect(starts.append)
    points_before = npoints(plots.rawCurve)
    tab.select_runs(["first"])
    controls.resumeButton.click()
    assert tab.is_running()
    qtbot.waitUntil(lambda: bool(starts) and npoints(plots.rawCurve) > points_before + 5, timeout=60_000)
    assert starts[0].run == "first" and starts[0].start_iter >= 20
    x = plots.rawCurve.xData
    assert x[0] == 0 and np.all(np.diff(x) > 0)  # one continuous curve: old points then the resumed ones
    controls.stopButton.click()
    assert wait_finished(qtbot, tab).status == "stopped"
    assert trainer.list_runs(home)[0]["name"] == "first"
    assert starts[0].start_iter >= stopped_at.get("iter", stopped_at.get("iter_num", 0)) - 1


def test_gui_and_cli_show_the_same_smoothed_loss_at_log_interval_10(qtbot, make_tab, dataset, home):
    """The status line's smoothed loss is the CLI's progress line's, for the same run's events."""
    tab = make_tab(tiny_config(max_iters=95, lr_decay_iters=95, eval_interval=50, log_interval=10), run_name="li10")
    tab.controls.startButton.click()
    assert wait_finished(qtbot, tab).status == "completed"
    shown = re.search(r"\(smoothed (\d+\.\d{4})\)", tab.controls.trainStatus.text())
    assert tab.plots.curves.loss.x.tolist() == list(range(0, 100, 10))
    cli = ProgressPrinter(open(os.devnull, "w"))  # the CLI's printer, fed the run's events
    for event in typed_events(trainer.read_metrics(home / "runs" / "li10")):
        cli(event)
    assert shown and shown[1] == f"{cli.smoother.value:.4f}"


def test_gui_stays_responsive_and_redraws_at_most_10_per_second(qtbot, make_tab, dataset):
    """A 20 ms QTimer probe: nine gaps in ten stay under 100 ms and none reaches half a second
    while the CPU trains in the worker.

    The limits are generous on purpose (benchmarks/bench_gui_responsiveness.py measures the real
    p99 and worst gaps): a lone scheduler hiccup on a shared CI machine must not fail the test, a
    GUI thread that blocks on the training must. On a machine whose cores are oversubscribed by
    other programs (load average above the core count) every thread, the GUI's included, gets
    only a share of a core, so the bounds are scaled by that factor.
    """
    tab = make_tab(tiny_config(max_iters=200, lr_decay_iters=200, eval_interval=50), run_name="probe")
    gaps, clock = [], QElapsedTimer()
    probe = QTimer()
    probe.setInterval(20)
    probe.timeout.connect(lambda: gaps.append(clock.restart()))
    load_before = os.getloadavg()[0]
    redraws_before = tab.plots.redraw_count
    tab.controls.startButton.click()
    qtbot.waitUntil(lambda: tab.status.started is not None, timeout=60_000)  # measure the training itself
    clock.start()
    probe.start()
    started = time.monotonic()
    end = wait_finished(qtbot, tab, timeout=120_000)
    seconds = time.monotonic() - started
    probe.stop()
    assert end.status == "completed"
    assert len(gaps) > 20
    oversubscribed = max(1.0, min(load_before, os.getloadavg()[0]) / (os.cpu_count() or 1))
    ordered = sorted(gaps[1:])
    shown = f"event-loop gaps (ms), worst: {ordered[-5:]}, load {os.getloadavg()}"
    assert ordered[int(0.9 * len(ordered))] < 100 * oversubscribed, shown
    assert ordered[-1] < 500 * oversubscribed, shown
    assert tab.plots.redraw_count - redraws_before <= 10 * seconds + 2


def test_steps_are_coalesced_however_fast_they_come(qtbot, make_tab, monkeypatch):
    """20 000 steps in a burst reach the plot in a few redraws, not 20 000."""

    def burst(config, *, home=None, report=None, cancel=None):
        report(RunStarted(config.run_name, {}, 1, "cpu", "float32", 0, 20_000, 1, 1.0))
        for i in range(20_000):
            report(Step(i, 3 * math.exp(-i / 5000) + 1, 1e-3, 1e5, 0.01, -1, i * 1e-5))
        report(Eval(iter=20_000, train_loss=1.2, val_loss=1.3, best_val_loss=1.3, sample="abc"))
        final = Finished(status="completed", iter=20_000, best_val_loss=1.3)
        report(final)
        return final

    monkeypatch.setattr(trainer, "train", burst)
    tab = make_tab(run_name="burst")
    before = tab.plots.redraw_count
    tab.controls.startButton.click()
    wait_finished(qtbot, tab)
    assert tab.plots.curves.loss.n == 20_000 and 0 < npoints(tab.plots.rawCurve) <= 20_000
    assert tab.plots.redraw_count - before <= 5
    status = tab.controls.trainStatus.text()
    assert "completed" in status and "20000 / 20000" in status


def test_failed_run_reports_the_reason(qtbot, make_tab, home):
    tab = make_tab(tiny_config(dataset="missing"), run_name="broken")
    tab.controls.startButton.click()
    end = wait_finished(qtbot, tab)
    assert end.status == "failed" and end.reason
    assert "failed" in tab.controls.trainStatus.text()
    assert "Settings problem: " in tab.log.toPlainText() and "missing" in tab.log.toPlainText()
    assert tab.controls.startButton.isEnabled()


def test_close_during_run_asks_then_stops_with_checkpoint(qtbot, make_tab, dataset, home):
    tab = make_tab(run_name="closing")
    answers = []
    tab.ask_stop_for_close = lambda: (answers.append(1), len(answers) > 1)[1]  # "No", then "Yes"
    tab.controls.startButton.click()
    qtbot.waitUntil(lambda: npoints(tab.plots.rawCurve) > 3, timeout=60_000)
    job = tab.runner.job
    assert not tab.confirm_close() and tab.is_running()
    assert tab.confirm_close()
    assert not tab.is_running() and not job.is_running()
    assert (home / "runs" / "closing" / "ckpt.pt").is_file()
    assert trainer.list_runs(home)[0]["status"] == "stopped"


def test_main_window_wires_config_and_close_stops_the_run(qtbot, dataset, home):
    """In the app: the Config tab's settings and validity reach the Training tab; closing the
    window during a run asks, then stops it with a checkpoint and leaves no thread behind."""
    window = create_main_window(home)
    qtbot.addWidget(window)
    window.show()
    config, tab = window.tab("Config"), window.tab("Training")
    start = tab.controls.startButton
    config.set_config(tiny_config(n_embd=30, n_head=4))
    qtbot.waitUntil(lambda: not start.isEnabled(), timeout=10_000)  # invalid: Start is off
    config.set_config(tiny_config())
    qtbot.waitUntil(start.isEnabled, timeout=10_000)
    tab.ask_run_name = lambda suggestion: "from-app"
    start.click()
    qtbot.waitUntil(lambda: npoints(tab.plots.rawCurve) > 3, timeout=60_000)
    assert tab.status.started.config["n_layer"] == 1 and tab.status.started.config["dataset"] == "tiny"
    job = tab.runner.job
    tab.ask_stop_for_close = lambda: False
    window.close()
    assert window.isVisible() and tab.is_running()  # "No": the app stays open, training goes on
    tab.ask_stop_for_close = lambda: True
    window.close()
    assert not window.isVisible() and not tab.is_running() and not job.is_running()
    assert (home / "runs" / "from-app" / "ckpt.pt").is_file()
    assert trainer.list_runs(home)[0]["status"] == "stopped"


# ----- run history -----


def test_runs_with_different_tokenizers_compare_in_bits_per_byte(qtbot, make_tab, home, tmp_path):
    from gptstudio.core.dataset import prepare_dataset

    text = tmp_path / "text.txt"
    text.write_text(TEXT, encoding="utf-8")
    prepare_dataset([text], "chars", "char", home=home)
    prepare_dataset([text], "pieces", "bpe", vocab_size=300, home=home)
    train_headless(home, "on-chars", dataset="chars", max_iters=10, lr_decay_iters=10, eval_interval=5)
    train_headless(home, "on-pieces", dataset="pieces", max_iters=10, lr_decay_iters=10, eval_interval=5)
    tab = make_tab()
    runs, plots = tab.runs, tab.plots
    status = {r["name"]: r for r in trainer.list_runs(home)}
    for name in ("on-chars", "on-pieces"):
        assert runs.row(name)[4] == f"{status[name]['best_val_bpb']:.4f}"  # the Best bpb column
    tab.select_runs(["on-chars"])
    wait_read(qtbot, tab)
    assert plots.unit() == "loss"  # one run: its loss
    tab.select_runs(["on-chars", "on-pieces"])
    wait_read(qtbot, tab)
    assert plots.unit() == "bpb"  # two tokenizers: only bits per byte compare
    shown = plots.curves
    assert plots.valEvalCurve.yData[-1] == pytest.approx(shown.val_eval.y[-1] * shown.bpb_factor["val"])
    assert plots.missing_bpb() == []
    plots.set_unit("loss")  # the person may still look at the losses
    assert plots.valEvalCurve.yData[-1] == pytest.approx(shown.val_eval.y[-1])


def test_runs_list_shows_cli_runs_and_overlays_two(qtbot, make_tab, dataset, home):
    train_headless(home, "cli-a", max_iters=30, lr_decay_iters=30)
    train_headless(home, "cli-b", max_iters=40, lr_decay_iters=40, learning_rate=1e-3, min_lr=1e-4)
    tab = make_tab()
    runs, plots = tab.runs, tab.plots
    assert set(runs.names()) == {"cli-a", "cli-b"}
    assert runs.row("cli-a")[1] == "completed" and runs.row("cli-a")[5] == "tiny"
    assert runs.row("cli-b")[3]  # best val loss
    tab.select_runs(["cli-a", "cli-b"])
    wait_read(qtbot, tab)
    steps = {
        name: len([d for d in trainer.read_metrics(home / "runs" / name) if d["type"] == "step"])
        for name in ("cli-a", "cli-b")
    }
    assert steps["cli-a"] != steps["cli-b"]
    # the run listed first (the newest) is drawn in full: after a restart the curves come back
    # from metrics.jsonl ...
    first = runs.names()[0]
    second = ({"cli-a", "cli-b"} - {first}).pop()
    assert npoints(plots.rawCurve) == steps[first] and first in plots.title()
    # ... the other is overlaid (smoothed line + val points) with its name in the legend
    assert f"{second} (smoothed)" in plots.legend_names()
    assert list(plots.overlays) == [second] and plots.overlays[second].loss.n == steps[second]
    tab.select_runs(["cli-a"])
    wait_read(qtbot, tab)
    assert plots.overlays == {} and npoints(plots.rawCurve) == steps["cli-a"]
    assert f"{second} (smoothed)" not in plots.legend_names()
    assert "cli-a: completed" in tab.controls.trainStatus.text()

    # a run started elsewhere appears after Refresh; Delete asks first
    train_headless(home, "cli-c", max_iters=5, lr_decay_iters=5, eval_interval=5)
    runs.refreshRunsButton.click()
    wait_listed(qtbot, tab)
    assert len(runs.names()) == 3
    runs.confirm = lambda title, text: False
    tab.select_runs(["cli-c"])
    runs.deleteRunButton.click()
    assert (home / "runs" / "cli-c").exists()
    runs.confirm = lambda title, text: True
    runs.deleteRunButton.click()
    assert not (home / "runs" / "cli-c").exists() and len(runs.names()) == 2
    revealed = []
    runs.reveal_path = revealed.append
    tab.select_runs(["cli-a"])
    runs.revealRunButton.click()
    assert revealed == [home / "runs" / "cli-a"]


def test_plots_draw_a_bounded_number_of_points_for_200k_steps(qtbot, make_tab):
    """Opening a 200,000-step run and adding steps to it: the plot is given at most about two points
    per pixel column (the data's envelope, spikes included), so a redraw stays fast."""
    tab = make_tab()
    plots = tab.plots
    steps = [Step(i, 2 + math.sin(i / 300), 1e-3, 1.0, 1.0, -1, float(i)) for i in range(200_000)]
    steps[123_456] = Step(123_456, 50.0, 1e-3, 1.0, 1.0, -1, 1.0)  # a spike must still show
    t0 = time.perf_counter()
    plots.add_steps(steps)
    plots.redraw(force=True)
    first = time.perf_counter() - t0
    width = plots.lossPlot.getPlotItem().getViewBox().width()
    assert plots.curves.loss.n == 200_000 and 0 < npoints(plots.rawCurve) <= 2 * width + 100
    assert plots.rawCurve.yData.max() == 50.0
    times = []
    for batch in range(5):
        t0 = time.perf_counter()
        plots.add_steps([Step(200_000 + 10 * batch + i, 2.0, 1e-3, 1.0, 1.0, -1, 1.0) for i in range(10)])
        plots.redraw(force=True)
        plots.lossPlot.grab()  # paint it
        times.append(time.perf_counter() - t0)
    assert plots.rawCurve.xData[-1] == 200_049
    # a redraw takes a few ms here: the median of five stays within a few frames on a loaded machine
    assert first < 3.0 and sorted(times)[2] < 0.1, (first, times)


# ----- torchrun -----


def test_multinode_dialog_shows_copyable_commands(make_tab, dataset):
    tab = make_tab()
    dialog = tab.show_multinode_dialog()
    dialog.nodesSpin.setValue(3)
    dialog.addrEdit.setText("10.1.2.3")
    text = dialog.text.toPlainText()
    assert text.count("torchrun --nnodes=3") == 3 and "--node_rank=2" in text and "10.1.2.3" in text
    assert "--name tiny-multinode" in text
    dialog.close()


FAKE_CHILD = "\n".join(
    [
        "import json, sys, time",
        "print(json.dumps(dict(type='run_started', run='fake', config={}, n_params=10, device='cpu',"
        " dtype='float32', start_iter=0, max_iters=10, tokens_per_iter=8, flops_per_iter=1.0, world_size=2)))",
        "print(json.dumps(dict(type='step', iter=0, loss=4.0, lr=1e-3, tokens_per_sec=1.0, ms_per_iter=1.0,"
        " mfu=-1, elapsed=0.1)))",
        "print('a library says hello')",
        "print('rank 1: a warning', file=sys.stderr)",
        "sys.stdout.flush(); sys.stderr.flush()",
        "time.sleep(60)  # fake-torchrun-child",  # and never looks at the STOP file
    ]
)


def test_killed_torchrun_child_is_reported(qtbot, make_tab, monkeypatch):
    """A child that dies without its Finished event: the tab says so in plain words and lives on."""
    monkeypatch.setattr(launch, "torchrun_command", lambda *a, **k: [sys.executable, "-c", FAKE_CHILD])
    tab = make_tab(tiny_config(gradient_accumulation_steps=2), run_name="fake")
    tab.controls.useTorchrunCheck.setChecked(True)
    tab.controls.nprocSpin.setValue(2)
    tab.controls.startButton.click()
    qtbot.waitUntil(lambda: npoints(tab.plots.rawCurve) == 1, timeout=30_000)
    log = tab.log.toPlainText()
    assert "a library says hello" in log and "rank 1: a warning" in log  # shown, not interpreted
    (child,) = child_processes("fake-torchrun-child")
    child.kill()
    end = wait_finished(qtbot, tab)
    assert end.status == "failed"
    assert "exited with code -9 before finishing" in tab.log.toPlainText()
    assert "failed" in tab.controls.trainStatus.text() and tab.controls.startButton.isEnabled()


def test_torchrun_child_with_bad_settings_shows_the_problems(qtbot, make_tab, home):
    """Real torchrun, 2 processes, settings the child refuses (no such dataset): the problems arrive
    as events, once (not once per process), and the run ends failed with them as the reason."""
    tab = make_tab(tiny_config(dataset="missing", gradient_accumulation_steps=2), run_name="bad")
    tab.controls.useTorchrunCheck.setChecked(True)
    tab.controls.nprocSpin.setValue(2)
    tab.controls.startButton.click()
    end = wait_finished(qtbot, tab, timeout=120_000)
    assert end.status == "failed" and end.reason.startswith("The settings have problems; nothing was started")
    problems = [line for line in tab.log.toPlainText().splitlines() if "Settings problem: " in line]
    assert len(problems) == 1 and "'missing'" in problems[0], tab.log.toPlainText()[-3000:]
    assert "failed" in tab.controls.trainStatus.text() and tab.controls.startButton.isEnabled()


def train_with_torchrun_then_stop(qtbot, tab, home) -> Finished:
    """Start a 2-process CPU run from the GUI, wait for its curves, press Stop; checks on the way."""
    controls = tab.controls
    controls.useTorchrunCheck.setChecked(True)
    assert controls.nprocSpin.isEnabled()
    controls.nprocSpin.setValue(2)
    controls.startButton.click()  # nanoGPT's rule: the accumulation steps are shared out among the processes
    assert not tab.is_running() and "multiple of the number of processes (2)" in tab.log.toPlainText()
    tab.config = tiny_config(eval_interval=10, gradient_accumulation_steps=2, batch_size=4)
    controls.startButton.click()
    assert tab.is_running() and not controls.nprocSpin.isEnabled()
    plots = tab.plots
    qtbot.waitUntil(lambda: npoints(plots.valEvalCurve) >= 2 and npoints(plots.rawCurve) >= 10, timeout=120_000)
    assert tab.status.started.world_size == 2 and "× 2 processes" in controls.trainStatus.text()
    (child,) = child_processes("torch.distributed.run")
    ranks = child.children(recursive=True)
    controls.stopButton.click()
    end = wait_finished(qtbot, tab, timeout=60_000)
    # rank 0's own Finished (the GUI's stand-in for a killed child has iter -1): a graceful stop
    assert end.status == "stopped" and end.iter >= 10, tab.log.toPlainText()[-3000:]
    assert (home / "runs" / "ddp" / "ckpt.pt").is_file() and not (home / "runs" / "ddp" / "STOP").exists()
    assert tab.runs.row("ddp")[1] == "stopped"
    assert all(ended(p) for p in [*ranks, child])  # no orphan processes
    return end


def test_torchrun_two_cpu_processes_reach_the_plot_and_stop(qtbot, make_tab, dataset, home):
    """torchrun with 2 CPU processes (gloo): curves reach the plot; Stop asks rank 0 to save and all to exit."""
    train_with_torchrun_then_stop(qtbot, make_tab(tiny_config(eval_interval=10), run_name="ddp"), home)


@pytest.mark.slow
def test_torchrun_resume_then_a_killed_child_is_reported(qtbot, make_tab, dataset, home):
    """Resume continues under torchrun (--resume); killing its processes is reported, the app lives on."""
    tab = make_tab(tiny_config(eval_interval=10), run_name="ddp")
    end = train_with_torchrun_then_stop(qtbot, tab, home)
    starts = []
    tab.runner.pump.sig_started.connect(starts.append)
    tab.controls.resumeButton.click()
    qtbot.waitUntil(lambda: bool(starts) and npoints(tab.plots.rawCurve) > end.iter + 2, timeout=120_000)
    assert starts[0].start_iter == end.iter and starts[0].world_size == 2
    (child,) = child_processes("torch.distributed.run")
    procs = [*child.children(recursive=True), child]
    for p in procs:
        p.kill()
    crash = wait_finished(qtbot, tab)
    assert crash.status == "failed"
    assert "exited with code" in tab.log.toPlainText() and "failed" in tab.controls.trainStatus.text()
    assert tab.controls.startButton.isEnabled() and not tab.is_running()
    psutil.wait_procs(procs, timeout=10)
    assert all(ended(p) for p in procs)


def test_the_window_warms_up_the_trainer_then_leaves_its_objects_out_of_collections(qtbot, make_tab):
    """Shortly after the tab is up, the first optimizer step's imports are done in the background, and
    what is loaded then is frozen: a full cycle collection in the GUI thread stays short."""
    import gc

    tab = make_tab()
    qtbot.waitUntil(tab.runner.warmed_up, timeout=120_000)
    assert "torch._dynamo" in sys.modules and gc.get_freeze_count() > 100_000
    seconds = []
    for _ in range(3):  # the best of three: a shared machine may deschedule the process during one
        t0 = time.perf_counter()
        gc.collect()
        seconds.append(time.perf_counter() - t0)
    assert min(seconds) < 0.1, seconds  # 150 ms with torch's compiler stack loaded and nothing frozen
