"""The chosen files: checked in a worker thread, listed with size and encoding, previewed, cleared."""

import pytest
from PySide6.QtCore import Qt

from gptstudio.core import input_check
from gptstudio.gui.dataset.input_panel import InputPanel

from .helpers import WAIT_MS, Gate, LoopProbe, find


@pytest.fixture
def panel(qtbot):
    p = InputPanel()
    qtbot.addWidget(p)
    p.show()
    yield p
    p.shutdown()


def add_and_wait(qtbot, panel, paths):
    with qtbot.waitSignal(panel.sig_checked, timeout=WAIT_MS) as checked:
        panel.add(paths)
    qtbot.waitUntil(lambda: not panel.is_checking(), timeout=WAIT_MS)
    return checked.args[0]


def rows(panel):
    files = find(panel, "datasetInputList")
    return [[files.topLevelItem(i).text(c) for c in range(3)] for i in range(files.topLevelItemCount())]


def test_a_text_file_is_listed_and_previewed(qtbot, panel, poem, shakespeare_text):
    check = add_and_wait(qtbot, panel, [poem])
    assert [i.path for i in check.accepted] == [poem] and check.refused == []
    assert rows(panel) == [["my poem.txt", "39.1 KiB", "utf-8"]]
    assert find(panel, "datasetPreview").toPlainText().startswith(shakespeare_text.splitlines()[0])
    assert find(panel, "datasetInputSummary").text() == "1 file, 39.1 KiB"
    assert panel.message() == "" and panel.inputs.paths == [poem]


def test_a_binary_file_is_refused_with_the_reason(qtbot, panel, poem, tmp_path):
    binary = tmp_path / "photo.png"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40)
    add_and_wait(qtbot, panel, [binary, poem])
    assert find(panel, "datasetDropMessage").isVisible()
    assert "photo.png" in panel.message() and "not a text file" in panel.message()
    assert [r[0] for r in rows(panel)] == ["my poem.txt"]
    panel.grab().save(str(tmp_path / "input_panel_refused.png"))


def test_a_folder_adds_its_text_files_and_clear_empties_the_list(qtbot, panel, letters, shakespeare_text):
    add_and_wait(qtbot, panel, [letters])
    assert [r[0] for r in rows(panel)] == ["part0.txt", "part1.txt", "part2.txt"]
    assert find(panel, "datasetInputSummary").text() == "3 files, 14.6 KiB"
    files = find(panel, "datasetInputList")
    files.setCurrentItem(files.topLevelItem(2))  # the preview follows the selected file
    assert find(panel, "datasetPreview").toPlainText() == "\n".join(shakespeare_text[10_000:15_000].splitlines()[:12])
    with qtbot.waitSignal(panel.sig_cleared):
        qtbot.mouseClick(find(panel, "clearInputsButton"), Qt.MouseButton.LeftButton)
    assert rows(panel) == [] and find(panel, "datasetPreview").toPlainText() == ""
    assert not find(panel, "datasetInputList").isVisible()


def test_a_drop_during_a_check_is_not_lost(qtbot, panel, poem, tmp_path, monkeypatch):
    other = tmp_path / "other.txt"
    other.write_text("Another text.\n", encoding="utf-8")
    gate = Gate()
    monkeypatch.setattr(input_check, "inspect_document", gate.hold(input_check.inspect_document))
    panel.add([poem])
    qtbot.waitUntil(gate.entered.is_set, timeout=WAIT_MS)
    panel.add([other])  # restarts the check with both drops
    gate.open()
    qtbot.waitUntil(lambda: not panel.is_checking(), timeout=WAIT_MS)
    assert sorted(r[0] for r in rows(panel)) == ["my poem.txt", "other.txt"]


def test_checking_a_big_folder_keeps_the_window_responsive(qtbot, panel, tmp_path, monkeypatch):
    """The check runs in a worker: held there on purpose, the event loop must keep turning meanwhile.
    (A check run in the GUI thread would stall the probe for the whole hold.)"""
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(600):
        (folder / f"note{i:04d}.txt").write_text(f"note {i}: all the world's a stage\n" * 20, encoding="utf-8")
    gate = Gate()
    monkeypatch.setattr(input_check, "inspect_document", gate.hold(input_check.inspect_document))
    checking = []
    panel.sig_checking_changed.connect(checking.append)
    with LoopProbe(qtbot) as probe:
        panel.add([folder])
        assert panel.is_checking() and checking == [True]
        qtbot.waitUntil(gate.entered.is_set, timeout=WAIT_MS)
        ticks = len(probe.gaps)
        qtbot.waitUntil(lambda: len(probe.gaps) >= ticks + 10, timeout=WAIT_MS)  # turning while held
        gate.open()
        qtbot.waitUntil(lambda: not panel.is_checking(), timeout=WAIT_MS)
    assert len(rows(panel)) == 600 and checking == [True, False]
    # listing 600 files is the GUI thread's only work: generous, as a loaded 2-core machine needs
    assert probe.worst() < 2.0, f"the event loop stalled for {probe.worst() * 1000:.0f} ms"
