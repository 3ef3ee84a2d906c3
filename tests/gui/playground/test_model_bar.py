"""The model bar: offers the workspace's checkpoints, remembers last session's, pairs for compare mode,
loads the answering models and says what is loaded or why a checkpoint cannot be used."""

from PySide6.QtWidgets import QLabel

from gptstudio.core.workspace import Workspace
from gptstudio.gui.playground.model_bar import ModelBar


def make(qtbot, home):
    bar = ModelBar(Workspace.open(home))
    qtbot.addWidget(bar)
    bar.show()
    return bar


def test_offers_runs_and_loads_the_chosen_one(qtbot, home, install_run):
    bar = make(qtbot, home)
    bar.refresh()
    assert not bar.has_checkpoints() and bar.pairing().answering() == []
    install_run()
    with qtbot.waitSignal(bar.changed, timeout=30_000):
        bar.refresh()
    qtbot.waitUntil(bar.ready, timeout=30_000)
    assert bar.has_checkpoints() and [c.short_name for c in bar.pairing().answering()] == ["tiny/latest"]
    assert bar.status.text().startswith("tiny/latest:") and len(bar.samplers()) == 1
    bar.compare.check.click()
    assert [c.short_name for c in bar.pairing().answering()] == ["tiny/latest", "tiny/best"]
    qtbot.waitUntil(bar.ready, timeout=30_000)
    assert "tiny/best:" in bar.status.text() and len(bar.samplers()) == 2
    bar.shutdown()


def test_remembers_last_sessions_choices(qtbot, home, install_run, tiny_run_source):
    install_run()
    bar = make(qtbot, home)
    best = str(home / "runs" / "tiny" / "best.pt")
    bar.remember(best, None, [str(tiny_run_source / "ckpt.pt"), "/gone/away.pt"])
    bar.refresh()  # lists the checkpoints in the background
    qtbot.waitUntil(lambda: not bar.is_refreshing(), timeout=30_000)
    assert bar.picker.current().short_name == "tiny/best"
    assert [c.short_name for c in bar.choices.all()] == ["tiny/latest", "tiny/best", "ckpt.pt"]
    assert bar.remembered() == (best, best, [str(tiny_run_source / "ckpt.pt")], [])  # no pretrained models
    bar.shutdown()


def test_a_file_that_is_no_checkpoint_is_a_problem(qtbot, home, tmp_path):
    bar = make(qtbot, home)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with qtbot.waitSignal(bar.problem) as problem:
        assert bar.add_file(junk) is None
    assert "junk.pt" in problem.args[0]
    broken = home / "runs" / "broken"
    broken.mkdir(parents=True)
    (broken / "ckpt.pt").write_bytes(b"\x00garbage")
    with qtbot.waitSignal(bar.problem) as problem:
        bar.refresh()
    assert problem.args[0].startswith("Some checkpoints could not be read: broken/latest")
    bar.shutdown()


def test_another_control_sits_between_the_pickers(qtbot, home):
    bar = make(qtbot, home)
    extra = QLabel("Mode")
    bar.insert(extra)
    qtbot.waitUntil(extra.isVisible)
    assert bar.picker.geometry().right() < extra.geometry().left() < bar.compare.geometry().left()
