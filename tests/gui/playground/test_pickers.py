"""The checkpoint picker, the compare picker and the conversation files buttons."""

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from gptstudio.core.catalog import CheckpointInfo
from gptstudio.gui.playground.checkpoint_picker import NO_CHECKPOINTS, CheckpointPicker
from gptstudio.gui.playground.compare_picker import ComparePicker
from gptstudio.gui.playground.conversation_files import ConversationFiles

INFOS = [CheckpointInfo(path=f"/runs/r/{w}.pt", run="r", which=w, iter_num=i) for w, i in (("latest", 9), ("best", 5))]


def test_checkpoint_picker_lists_and_chooses(qtbot, tmp_path, monkeypatch):
    picker = CheckpointPicker(tmp_path)
    qtbot.addWidget(picker)
    assert picker.current() is None and picker.combo.currentText() == NO_CHECKPOINTS
    assert not picker.export_button.isEnabled() and picker.export_checkpoint() is None
    picker.set_choices(INFOS, select_path="/runs/r/best.pt")
    assert picker.current() == INFOS[1] and picker.export_button.isEnabled()
    assert picker.combo.currentText() == "r/best · iter 5"
    picker.set_choices(INFOS, select_path="/elsewhere.pt")  # not offered: the first one
    assert picker.current() == INFOS[0]
    with qtbot.waitSignal(picker.changed):
        picker.combo.setCurrentIndex(1)
    assert picker.current() == INFOS[1]
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: ("/some/ckpt.pt", ""))
    with qtbot.waitSignal(picker.fileChosen) as chosen:
        qtbot.mouseClick(picker.open_button, Qt.LeftButton)
    assert chosen.args == ["/some/ckpt.pt"]


def test_compare_picker(qtbot):
    compare = ComparePicker()
    qtbot.addWidget(compare)
    compare.set_choices(INFOS)
    assert compare.choice() == INFOS[1]  # something other than the first, by default
    assert compare.current() is None and not compare.combo.isEnabled()
    with qtbot.waitSignal(compare.changed):
        compare.check.click()
    assert compare.comparing() and compare.current() == INFOS[1] and compare.combo.isEnabled()
    compare.set_choices(INFOS, select_path="/runs/r/latest.pt")
    assert compare.current() == INFOS[0]
    compare.set_choices(INFOS[:1])
    assert compare.current() == INFOS[0]


def test_conversation_files_emit_the_chosen_paths(qtbot, tmp_path, monkeypatch):
    files = ConversationFiles(tmp_path)
    qtbot.addWidget(files)
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(tmp_path / "c.md"), ""))
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(tmp_path / "c.json"), ""))
    with qtbot.waitSignal(files.saveRequested) as saved:
        qtbot.mouseClick(files.save_button, Qt.LeftButton)
    assert saved.args == [str(tmp_path / "c.md")]
    with qtbot.waitSignal(files.openRequested) as opened:
        qtbot.mouseClick(files.open_button, Qt.LeftButton)
    assert opened.args == [str(tmp_path / "c.json")]
    files.set_busy(True)
    assert not files.open_button.isEnabled() and files.save_button.isEnabled()
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: ("", ""))  # cancelled
    files.set_busy(False)
    with qtbot.assertNotEmitted(files.openRequested):
        qtbot.mouseClick(files.open_button, Qt.LeftButton)
