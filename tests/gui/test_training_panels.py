"""The Training tab's panels on their own, through their public APIs (gptstudio/gui/training/)."""

import math

import numpy as np
import pytest

from gptstudio.core.curves import RunCurves
from gptstudio.core.events import CheckpointSaved, Eval, Finished, Message, RunStarted, SettingsProblem, Step
from gptstudio.core.trainer import train
from gptstudio.core.workspace import Workspace
from gptstudio.gui.settings import AppSettings
from gptstudio.gui.training.event_pump import EventPump
from gptstudio.gui.training.multinode_dialog import MultiNodeDialog
from gptstudio.gui.training.plots import TrainingPlots
from gptstudio.gui.training.run_controls import RunControls
from gptstudio.gui.training.run_status import RunStatus
from gptstudio.gui.training.runs_list import RunsList
from gptstudio.gui.training.start_checks import name_problem, start_problems, suggested_name
from gptstudio.gui.training.text_views import SamplePreview, TrainingLog
from tests.core.training_helpers import tiny_config, write_char_dataset


def step(it: int, loss: float = 2.0) -> Step:
    return Step(it, loss, 1e-3, 1000.0, 10.0, 0.012, it * 0.01)


def started(start_iter: int = 0, max_iters: int = 100, world_size: int = 1) -> RunStarted:
    return RunStarted("r", {}, 210_000, "cpu", "float32", start_iter, max_iters, 512, 1.0, world_size)


# ----- EventPump


def test_pump_coalesces_steps_and_delivers_one_finished_last(qtbot):
    pump = EventPump()
    got = []
    for name in ("started", "steps", "eval", "checkpoint", "problem", "finished"):
        getattr(pump, f"sig_{name}").connect(lambda ev, name=name: got.append((name, ev)))
    pump.sig_message.connect(lambda level, text: got.append(("message", (level, text))))
    drains = []
    pump.sig_drained.connect(lambda: drains.append(len(got)))
    pump.start()
    events = [started(), *[step(i) for i in range(500)], Eval(10, 2.0, 2.1, 2.1), CheckpointSaved(10, "c.pt")]
    events += [SettingsProblem("bad", ["n_head"]), Message("hello", "warning"), step(500)]
    events += [Finished("completed", 501), Finished("failed", -1, "a second end"), step(501), Message("late")]
    for ev in events:
        pump.push(ev)
    pump.drain()
    names = [name for name, _ in got]
    assert names == ["started", "steps", "eval", "checkpoint", "problem", "message", "steps", "finished", "message"]
    assert len(got[1][1]) == 500 and got[7][1].status == "completed" and got[-1][1] == ("info", "late")
    assert drains == [7]  # one redraw for the whole drain, before the end is announced
    pump.push(step(502))
    pump.push(Message("torchrun says bye"))
    pump.stop()  # after the end, only log lines pass
    assert got[-1] == ("message", ("info", "torchrun says bye")) and len(got) == 10


# ----- RunStatus and the start checks (no Qt)


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


# ----- RunControls


def test_run_controls_buttons_processes_and_remembered_choice(qtbot, tmp_path):
    settings = AppSettings(tmp_path / "s.json")
    controls = RunControls(settings)
    qtbot.addWidget(controls)
    clicked = []
    for name in ("start", "stop", "resume", "multinode"):
        getattr(controls, f"{name}_clicked").connect(lambda name=name: clicked.append(name))
    controls.show_state(running=False, can_start=True, start_tip="go", resume_candidate="old-run")
    assert controls.startButton.isEnabled() and not controls.stopButton.isEnabled()
    assert "old-run" in controls.resumeButton.toolTip() and controls.processes() == 0
    assert not controls.nprocSpin.isEnabled()
    controls.useTorchrunCheck.setChecked(True)
    controls.nprocSpin.setValue(1)
    assert controls.processes() == 1 and controls.nprocSpin.isEnabled()
    assert settings.get("training.torchrun") is True and settings.get("training.nproc") == 1
    for button in (controls.startButton, controls.resumeButton, controls.multiNodeButton):
        button.click()
    controls.show_state(running=True, can_start=False, start_tip="A run is in progress.", resume_candidate=None)
    controls.stopButton.click()
    assert clicked == ["start", "resume", "multinode", "stop"]
    assert not controls.useTorchrunCheck.isEnabled() and not controls.nprocSpin.isEnabled()
    controls.show_stopping()
    assert not controls.stopButton.isEnabled()
    controls.show_status("Run r: training…", (5, 10))
    assert controls.trainStatus.text() == "Run r: training…" and controls.trainProgress.value() == 5
    again = RunControls(settings)  # the choice is remembered
    qtbot.addWidget(again)
    assert again.processes() == 1


# ----- RunsList


@pytest.fixture
def two_runs(home):
    write_char_dataset(home)
    train(tiny_config(run_name="a", max_iters=6, eval_interval=3), home=home)
    train(tiny_config(run_name="b", max_iters=8, eval_interval=4), home=home)
    return ["b", "a"]  # newest first


def test_runs_list_reads_the_selected_runs_curves_off_the_gui_thread(qtbot, home, two_runs):
    runs = RunsList(Workspace.open(home))
    qtbot.addWidget(runs)
    runs.refresh()
    assert runs.names() == two_runs and runs.row("a")[:3] == ["a", "completed", "6 / 6"]
    assert not runs.exportRunButton.isEnabled() and not runs.deleteRunButton.isEnabled()
    summaries = []
    runs.past_run_selected.connect(summaries.append)
    with qtbot.waitSignal(runs.curves_read, timeout=30_000) as read:
        runs.select(["a", "b"])
    full, curves, overlays = read.args
    assert (full, summaries, runs.shown_run) == ("b", ["b"], "b")
    assert curves.loss.n == 8 and list(overlays) == ["a"] and overlays["a"].loss.n == 6
    assert runs.deleteRunButton.isEnabled() and not runs.exportRunButton.isEnabled()
    with qtbot.waitSignal(runs.curves_read, timeout=30_000) as read:
        runs.select(["b"])  # already drawn in full: nothing to read again, no overlay
    assert read.args == [None, None, {}]
    assert runs.exportRunButton.isEnabled()


def test_runs_list_keeps_the_training_run_safe(qtbot, home, two_runs):
    runs = RunsList(Workspace.open(home))
    qtbot.addWidget(runs)
    runs.refresh()
    runs.set_active_run("a")
    with qtbot.waitSignal(runs.curves_read, timeout=30_000) as read:
        runs.select(["a", "b"])
    assert read.args[0] is None and list(read.args[2]) == ["b"]  # the training run is never replaced
    runs.show_progress("a", 3, 10, 1.25)
    assert runs.row("a")[1:4] == ["running", "3 / 10", "1.2500"]
    runs.select(["a"])
    assert not runs.deleteRunButton.isEnabled() and runs.resume_candidate() is None
    runs.set_active_run(None)
    deleted, messages = [], []
    runs.deleted.connect(deleted.append)
    runs.message.connect(lambda level, text: messages.append(text))
    runs.confirm = lambda title, text: True
    runs.deleteRunButton.click()
    assert deleted == [["a"]] and runs.names() == ["b"] and messages == ["Deleted run 'a'."]


# ----- TrainingPlots


def test_plots_draw_overlays_and_redraw_a_zoomed_range_in_detail(qtbot):
    plots = TrainingPlots()
    qtbot.addWidget(plots)
    plots.resize(900, 600)
    plots.show()
    curves = RunCurves.from_events([started(), *[step(i, 2 + math.sin(i / 50)) for i in range(50_000)]])
    curves.add_eval(Eval(1000, 2.0, 1.5, 1.5))
    plots.show_curves(curves, "Loss: r")
    assert plots.title() == "Loss: r" and plots.bestMarker.xData.tolist() == [1000]
    assert len(plots.rawCurve.xData) < 5_000  # the envelope, not 50,000 points
    other = RunCurves.from_events([step(i, 3.0) for i in range(100)])
    plots.set_overlays({"other": other})
    assert "other (smoothed)" in plots.legend_names() and "other val" in plots.legend_names()
    plots.set_overlays({})
    assert "other (smoothed)" not in plots.legend_names()
    # zoomed in: the points of that range, exactly
    plots.lossPlot.getPlotItem().getViewBox().setXRange(20_000, 20_300, padding=0)
    plots.redraw(force=True)
    x = plots.rawCurve.xData
    assert x[0] <= 20_000 and x[-1] >= 20_300 and np.all(np.diff(x) == 1) and len(x) < 400


def test_plots_redraw_at_most_10_times_a_second(qtbot):
    plots = TrainingPlots()
    qtbot.addWidget(plots)
    before = plots.redraw_count
    for i in range(50):
        plots.add_steps([step(i)])
        plots.changed()
    assert plots.redraw_count - before == 1  # the first at once, the rest wait for the timer
    qtbot.waitUntil(lambda: plots.redraw_count - before == 2, timeout=5_000)
    assert plots.rawCurve.xData[-1] == 49


# ----- the text panes and the several-machines dialog


def test_log_and_sample_show_events(qtbot):
    log, sample = TrainingLog(), SamplePreview()
    qtbot.addWidget(log)
    qtbot.addWidget(sample)
    for ev in (
        started(world_size=2),
        Eval(20, 2.5, 2.75, 2.75, sample="ROMEO: hi"),
        CheckpointSaved(20, "/runs/r/ckpt.pt", best=True),
        SettingsProblem("n_embd (30) must be divisible by n_head (4).", ["n_embd", "n_head"]),
        Message("careful", "warning"),
    ):
        log.show_event(ev)
        if isinstance(ev, Eval):
            sample.show_eval(ev)
    lines = [line.split("] ", 1)[1] for line in log.toPlainText().splitlines()]
    assert lines[0].startswith("Run 'r' on cpu (float32, 2 processes): 0.21M parameters")
    assert lines[1:] == [
        "iteration 20: train loss 2.5000, val loss 2.7500",
        "Saved best checkpoint at iteration 20: /runs/r/ckpt.pt",
        "Error: Settings problem: n_embd (30) must be divisible by n_head (4).",
        "careful",
    ]
    assert sample.toPlainText() == "iteration 20, val loss 2.7500\n\nROMEO: hi"


def test_multinode_dialog_names_the_run_and_follows_its_fields(qtbot, home):
    dialog = MultiNodeDialog(Workspace.open(home), tiny_config(run_name=""), 4)
    qtbot.addWidget(dialog)
    assert dialog.run_name == "tiny-multinode" and "--nproc_per_node=4" in dialog.text.toPlainText()
    dialog.portSpin.setValue(29600)
    assert dialog.text.toPlainText().count("--master_port=29600") == 2
    named = MultiNodeDialog(Workspace.open(home), tiny_config(run_name="big"), 8)
    qtbot.addWidget(named)
    assert "--name big" in named.text.toPlainText()
