"""RunsList: the workspace's runs, their curves read off the GUI thread."""

import pytest

from gptstudio.core.runs import write_status
from gptstudio.core.trainer import train
from gptstudio.core.workspace import Workspace
from gptstudio.gui.training.runs_list import RunsList
from tests.core.training_helpers import tiny_config, write_char_dataset
from tests.gui.dataset.helpers import LoopProbe

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # it trains two tiny runs


@pytest.fixture
def two_runs(home):
    write_char_dataset(home)
    train(tiny_config(run_name="a", max_iters=6, eval_interval=3), home=home)
    train(tiny_config(run_name="b", max_iters=8, eval_interval=4), home=home)
    return {"a": 6, "b": 8}  # name: steps logged


def test_runs_list_reads_the_selected_runs_curves_off_the_gui_thread(qtbot, home, two_runs):
    runs = RunsList(Workspace.open(home))
    qtbot.addWidget(runs)
    with qtbot.waitSignal(runs.refreshed, timeout=30_000):
        runs.refresh()  # listed off the GUI thread
    assert sorted(runs.names()) == ["a", "b"] and runs.row("a")[:3] == ["a", "completed", "6 / 6"]
    assert not runs.exportRunButton.isEnabled() and not runs.deleteRunButton.isEnabled()
    first, second = runs.names()  # newest first (finished within the same second: either order)
    summaries = []
    runs.past_run_selected.connect(summaries.append)
    with qtbot.waitSignal(runs.curves_read, timeout=30_000) as read:
        runs.select(["a", "b"])
    full, curves, overlays = read.args
    assert (full, summaries, runs.shown_run) == (first, [first], first)
    assert curves.loss.n == two_runs[first] and list(overlays) == [second]
    assert overlays[second].loss.n == two_runs[second]
    assert runs.deleteRunButton.isEnabled() and not runs.exportRunButton.isEnabled()
    with qtbot.waitSignal(runs.curves_read, timeout=30_000) as read:
        runs.select([first])  # already drawn in full: nothing to read again, no overlay
    assert read.args == [None, None, {}]
    assert runs.exportRunButton.isEnabled()


def test_runs_list_keeps_the_training_run_safe(qtbot, home, two_runs):
    runs = RunsList(Workspace.open(home))
    qtbot.addWidget(runs)
    with qtbot.waitSignal(runs.refreshed, timeout=30_000):
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


def test_a_runs_list_of_500_runs_fills_without_a_long_block(qtbot, home):
    """500 run folders are read off the GUI thread and shown in one batch: the event loop keeps
    turning (generous limits for a shared machine; benchmarks/bench_gui_responsiveness.py measures
    the real gaps)."""
    for i in range(500):
        run_dir = home / "runs" / f"run{i:03d}"
        run_dir.mkdir(parents=True)
        (run_dir / "metrics.jsonl").write_text('{"type": "step", "iter": 0, "loss": 2.0}\n')
        write_status(run_dir, status="completed", iter=10, max_iters=10, best_val_loss=2.0, dataset="d")
    runs = RunsList(Workspace.open(home))
    qtbot.addWidget(runs)
    runs.show()
    with LoopProbe(qtbot) as probe, qtbot.waitSignal(runs.refreshed, timeout=60_000):
        runs.refresh()
    assert len(runs.names()) == 500 and runs.row("run042")[:3] == ["run042", "completed", "10 / 10"]
    assert probe.worst() < 0.5, sorted(probe.gaps)[-5:]
