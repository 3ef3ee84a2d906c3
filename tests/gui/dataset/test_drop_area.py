"""The drop area: real drag-and-drop events, clicks and keys."""

from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPoint, Qt, QUrl
from PySide6.QtGui import QColor, QDragEnterEvent, QPalette
from PySide6.QtWidgets import QApplication, QFileDialog

from gptstudio.gui.dataset.drop_area import LAST_DIR_KEY, DropArea
from gptstudio.gui.settings import AppSettings

from .helpers import send_drop


@pytest.fixture
def settings():
    return AppSettings()


@pytest.fixture
def area(qtbot, settings):
    a = DropArea(settings)
    qtbot.addWidget(a)
    a.resize(400, 150)
    a.show()
    return a


def test_dropped_files_and_folders_arrive_as_paths(qtbot, area, tmp_path):
    with qtbot.waitSignal(area.sig_paths_chosen) as dropped:
        send_drop(area, [QUrl.fromLocalFile(str(tmp_path / "a.txt")), QUrl.fromLocalFile(str(tmp_path))])
    assert dropped.args == [[tmp_path / "a.txt", Path(tmp_path)]]


def test_a_web_link_is_refused_with_a_signal(qtbot, area, tmp_path):
    with qtbot.waitSignal(area.sig_remote_dropped), qtbot.waitSignal(area.sig_paths_chosen) as dropped:
        send_drop(area, [QUrl("https://example.com/book.txt"), QUrl.fromLocalFile(str(tmp_path / "a.txt"))])
    assert dropped.args == [[tmp_path / "a.txt"]]
    with qtbot.waitSignal(area.sig_remote_dropped), qtbot.assertNotEmitted(area.sig_paths_chosen):
        send_drop(area, [QUrl("https://example.com/book.txt")])


def test_plain_text_drags_are_ignored(area):
    mime = QMimeData()
    mime.setText("just some words")
    enter = QDragEnterEvent(
        QPoint(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(area, enter)
    assert not enter.isAccepted()


def test_click_and_keys_open_the_file_dialog_where_the_last_files_were(qtbot, area, settings, tmp_path, monkeypatch):
    starts = []

    def dialog(parent, caption, start, filters):
        starts.append(start)
        return [str(tmp_path / "b.txt")], filters

    monkeypatch.setattr(QFileDialog, "getOpenFileNames", dialog)
    with qtbot.waitSignal(area.sig_paths_chosen) as chosen:
        qtbot.mouseClick(area, Qt.MouseButton.LeftButton)
    assert chosen.args == [[tmp_path / "b.txt"]] and settings.get(LAST_DIR_KEY) == str(tmp_path)
    area.setFocus()
    for key in (Qt.Key.Key_Return, Qt.Key.Key_Space):
        with qtbot.waitSignal(area.sig_paths_chosen):
            qtbot.keyClick(area, key)
    assert starts[1:] == [str(tmp_path), str(tmp_path)]
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a: str(tmp_path / "letters"))
    with qtbot.waitSignal(area.sig_paths_chosen) as chosen:
        area.choose_folder()
    assert chosen.args == [[tmp_path / "letters"]]
    monkeypatch.setattr(QFileDialog, "getOpenFileNames", lambda *a: ([], ""))  # the person cancelled
    with qtbot.assertNotEmitted(area.sig_paths_chosen):
        area.choose_files()


def test_painted_from_the_palette(qtbot, area):
    """A dark desktop theme gives a dark box (nothing hard-coded)."""
    dark = QPalette(QColor("#303134"), QColor("#202124"))
    dark.setColor(QPalette.ColorRole.Base, QColor("#292a2d"))
    area.setPalette(dark)
    assert area.grab().toImage().pixelColor(area.width() // 2, 8).lightness() < 128
