"""The Dataset tab, driven like a user would: real drop events, button clicks, worker threads."""

import json
import re
import time
import warnings
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QTimer, QUrl
from PySide6.QtGui import QColor, QDesktopServices, QDragEnterEvent, QDropEvent, QPalette
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from gptstudio.core import dataset as ds
from gptstudio.core.units import format_bytes, format_duration
from gptstudio.core.workspace import Workspace
from gptstudio.gui import create_main_window
from gptstudio.gui import dataset_tab as dt
from gptstudio.gui.settings import AppSettings

WAIT_MS = 60_000  # generous: the CI machine may be slow and shared


@pytest.fixture
def tab(window):
    return window.tab("Dataset")


@pytest.fixture
def lone_tab(qtbot, home):
    """The tab on its own: timing checks measure its work, not other tabs' background jobs."""
    t = dt.DatasetTab(Workspace.open(home), AppSettings())
    qtbot.addWidget(t)
    t.show()
    return t  # closing it (qtbot does) stops its workers


@pytest.fixture
def poem(tmp_path, shakespeare_text):
    path = tmp_path / "my poem.txt"
    path.write_text(shakespeare_text[:40_000], encoding="utf-8")
    return path


def drop(qtbot, tab, paths):
    """Send a real drag-enter + drop with file URLs, as a file manager would; wait for the file checks."""
    widget = find(tab, "datasetDropArea")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    pos = QPointF(widget.rect().center())
    with warnings.catch_warnings():  # PySide marks the only (QPoint) constructor deprecated
        warnings.simplefilter("ignore", DeprecationWarning)
        enter = QDragEnterEvent(
            pos.toPoint(), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
        )
    QApplication.sendEvent(widget, enter)
    assert enter.isAccepted()
    event = QDropEvent(pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, event)
    assert event.isAccepted()
    qtbot.waitUntil(lambda: not tab.is_checking(), timeout=WAIT_MS)


def find(tab, name):
    widget = tab.findChild(QWidget, name)
    assert widget is not None, name
    return widget


def list_rows(tab):
    lst = find(tab, "datasetList")
    return {lst.topLevelItem(i).text(0): lst.topLevelItem(i) for i in range(lst.topLevelItemCount())}


def prepare_and_wait(qtbot, tab):
    qtbot.mouseClick(find(tab, "prepareButton"), Qt.MouseButton.LeftButton)
    assert tab.is_preparing()
    qtbot.waitUntil(lambda: not tab.is_preparing(), timeout=WAIT_MS)


def test_drop_prepare_and_list(qtbot, tab, poem, home, tmp_path, shakespeare_text):
    """Drop a file, see it described, prepare it, find it in the library with the counts of meta.json."""
    drop(qtbot, tab, [poem])
    inputs = find(tab, "datasetInputList")
    assert inputs.topLevelItemCount() == 1
    row = inputs.topLevelItem(0)
    assert row.text(0) == "my poem.txt" and row.text(1) == "39.1 KiB" and "utf" in row.text(2).lower()
    assert find(tab, "datasetPreview").toPlainText().startswith(shakespeare_text.splitlines()[0])
    assert find(tab, "datasetNameEdit").text() == "my_poem"

    with qtbot.waitSignal(tab.sig_dataset_selected, timeout=WAIT_MS) as selected:
        prepare_and_wait(qtbot, tab)
    assert selected.args == ["my_poem"]
    assert not find(tab, "datasetError").isVisible()

    meta = json.loads((home / "datasets" / "my_poem" / "meta.json").read_text())
    item = list_rows(tab)["my_poem"]
    assert item.isSelected()
    assert item.text(1) == "char"
    assert item.text(2) == f"{meta['vocab_size']:,}"
    assert item.text(3) == f"{meta['train_tokens']:,}" and item.text(4) == f"{meta['val_tokens']:,}"
    assert meta["train_tokens"] + meta["val_tokens"] == 40_000
    assert find(tab, "prepareProgress").value() == 1000
    assert find(tab, "datasetInputList").topLevelItemCount() == 0  # ready for the next one

    stats = find(tab, "datasetStatsView")
    qtbot.waitUntil(lambda: "tok:" in stats.toHtml(), timeout=WAIT_MS)
    text = stats.toPlainText()
    assert f"{meta['vocab_size']} tokens" in text and "Character vocabulary" in text
    assert "characters per token" not in text  # compression only means something for BPE
    assert len(re.findall(r'href="tok:\d+"', stats.toHtml())) == dt.SAMPLE_TOKENS
    tab.window().grab().save(str(tmp_path / "dataset_tab.png"))


def test_name_made_unique_and_settings_remembered(qtbot, tab, poem, home, tmp_path):
    ds.prepare_dataset([poem], "my_poem", home=home)
    tab.refresh()
    drop(qtbot, tab, [poem])
    assert find(tab, "datasetNameEdit").text() == "my_poem-2"
    find(tab, "tokenizerCombo").setCurrentText("gpt2")
    find(tab, "valFractionSpin").setValue(0.2)
    tab.window().close()  # choices are written when the window closes
    second = create_main_window(home)
    qtbot.addWidget(second)
    tab2 = second.tab("Dataset")
    assert find(tab2, "tokenizerCombo").currentText() == "gpt2"
    assert find(tab2, "valFractionSpin").value() == pytest.approx(0.2)


def test_binary_file_refused_at_drop(qtbot, tab, poem, tmp_path):
    binary = tmp_path / "photo.png"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40)
    drop(qtbot, tab, [binary, poem])
    message = find(tab, "datasetDropMessage")
    assert message.isVisible() and "photo.png" in message.text()
    assert "not a text file" in message.text()  # the reason is given
    names = [
        find(tab, "datasetInputList").topLevelItem(i).text(0)
        for i in range(find(tab, "datasetInputList").topLevelItemCount())
    ]
    assert names == ["my poem.txt"]
    tab.grab().save(str(tmp_path / "dataset_tab_dropped.png"))

    tab.clear_inputs()
    drop(qtbot, tab, [binary])
    assert find(tab, "datasetInputList").topLevelItemCount() == 0
    qtbot.mouseClick(find(tab, "prepareButton"), Qt.MouseButton.LeftButton)
    assert not tab.is_preparing() and find(tab, "datasetError").isVisible()


def test_drop_folder(qtbot, tab, tmp_path, shakespeare_text):
    folder = tmp_path / "letters"
    folder.mkdir()
    for i in range(3):
        (folder / f"part{i}.txt").write_text(shakespeare_text[i * 5000 : (i + 1) * 5000], encoding="utf-8")
    drop(qtbot, tab, [folder])
    assert find(tab, "datasetInputList").topLevelItemCount() == 3
    assert find(tab, "datasetInputSummary").text() == "3 files, 14.6 KiB"
    assert find(tab, "datasetNameEdit").text() == "letters"
    qtbot.mouseClick(find(tab, "clearInputsButton"), Qt.MouseButton.LeftButton)
    assert find(tab, "datasetInputList").topLevelItemCount() == 0
    assert find(tab, "datasetNameEdit").text() == "" and find(tab, "datasetPreview").toPlainText() == ""


def _big_text(path: Path, megabytes: int) -> Path:
    line = "It was the best of times, it was the worst of times, line {:08d}.\n"
    lines = (megabytes * 1024 * 1024) // len(line.format(0))
    path.write_text("".join(line.format(i) for i in range(lines)), encoding="utf-8")
    return path


def test_cancel_large_prepare_leaves_nothing(qtbot, lone_tab, home, tmp_path):
    tab = lone_tab
    big = _big_text(tmp_path / "big.txt", 30)
    drop(qtbot, tab, [big])
    qtbot.mouseClick(find(tab, "prepareButton"), Qt.MouseButton.LeftButton)
    progress = find(tab, "prepareProgress")
    qtbot.waitUntil(lambda: "MB" in progress.format() or not tab.is_preparing(), timeout=WAIT_MS)
    assert tab.is_preparing(), "the 30 MB prepare finished before it could be cancelled"
    assert re.search(r"\d+\.\d / \d+\.\d MB · ETA", progress.format())
    t0 = time.monotonic()
    qtbot.mouseClick(find(tab, "cancelPrepareButton"), Qt.MouseButton.LeftButton)
    assert progress.format() == "Cancelling…"
    qtbot.waitUntil(lambda: not tab.is_preparing(), timeout=WAIT_MS)
    assert time.monotonic() - t0 < 5
    assert progress.format() == "Cancelled"
    assert list((home / "datasets").iterdir()) == []  # no dataset, no temp folder
    assert list_rows(tab) == {}
    assert find(tab, "prepareButton").isEnabled()


class LoopProbe:
    """A 20 ms QTimer recording the time between its ticks: the event loop's longest stall."""

    def __init__(self, qtbot):
        self.qtbot, self.gaps, self.last = qtbot, [], None
        self.timer = QTimer()
        self.timer.setInterval(20)
        self.timer.timeout.connect(self._tick)

    def _tick(self):
        now = time.monotonic()
        if self.last is not None:
            self.gaps.append(now - self.last)
        self.last = now

    def __enter__(self):
        self.timer.start()
        self.qtbot.waitUntil(lambda: self.last is not None)  # measure from a first tick
        return self

    def __exit__(self, *exc):
        self.timer.stop()

    def check(self, limit=0.2, min_ticks=10):
        assert len(self.gaps) >= min_ticks, "the probe saw too short a stretch of work"
        assert max(self.gaps) < limit, f"event loop stalled for {max(self.gaps) * 1000:.0f} ms"


def test_event_loop_keeps_turning_while_preparing(qtbot, lone_tab, tmp_path):
    tab = lone_tab
    drop(qtbot, tab, [_big_text(tmp_path / "three.txt", 24)])
    with LoopProbe(qtbot) as probe:
        qtbot.mouseClick(find(tab, "prepareButton"), Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: not tab.is_preparing(), timeout=WAIT_MS)
    assert "three" in list_rows(tab)
    probe.check()


def test_prepare_error_is_shown_like_the_cli(qtbot, tab, poem, home, monkeypatch):
    drop(qtbot, tab, [poem])
    poem.unlink()  # gone between drop and prepare
    with pytest.raises(Exception) as cli_error:
        ds.prepare_dataset([poem], "other", home=home)
    prepare_and_wait(qtbot, tab)
    assert find(tab, "datasetError").isVisible()
    assert find(tab, "datasetError").text() == str(cli_error.value)
    box = tab._error_box
    assert box is not None and box.isVisible() and box.text() == str(cli_error.value)
    assert list_rows(tab) == {}
    box.close()


def test_dataset_made_outside_appears_and_delete_asks(qtbot, tab, poem, home, monkeypatch, tmp_path):
    ds.prepare_dataset([poem], "from_cli", home=home)  # e.g. `gptstudio prepare`
    qtbot.mouseClick(find(tab, "refreshDatasetsButton"), Qt.MouseButton.LeftButton)
    assert tab.select_dataset("from_cli")

    opened = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url) or True)
    qtbot.mouseClick(find(tab, "revealDatasetButton"), Qt.MouseButton.LeftButton)
    assert [Path(u.toLocalFile()) for u in opened] == [home / "datasets" / "from_cli"]

    asked = []
    answer = [QMessageBox.StandardButton.No]
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: asked.append(a) or answer[0])
    qtbot.mouseClick(find(tab, "deleteDatasetButton"), Qt.MouseButton.LeftButton)
    assert len(asked) == 1 and "from_cli" in list_rows(tab)
    answer[0] = QMessageBox.StandardButton.Yes
    with qtbot.waitSignal(tab.sig_datasets_changed):
        qtbot.mouseClick(find(tab, "deleteDatasetButton"), Qt.MouseButton.LeftButton)
    assert list_rows(tab) == {} and not (home / "datasets" / "from_cli").exists()


def test_damaged_dataset_listed_not_selected_for_config(qtbot, tab, home):
    broken = home / "datasets" / "broken"
    broken.mkdir(parents=True)
    (broken / "meta.json").write_text("{not json")
    tab.refresh()
    item = list_rows(tab)["broken"]
    assert item.text(1) == "damaged" and item.toolTip(0)
    with qtbot.assertNotEmitted(tab.sig_dataset_selected):
        tab.select_dataset("broken")
    assert "cannot be used" in find(tab, "datasetStatsView").toPlainText()


def test_gpt2_dataset_shows_compression(qtbot, tab, poem, home, tmp_path):
    ds.prepare_dataset([poem], "bpe", tokenizer="gpt2", home=home)
    tab.refresh()
    tab.select_dataset("bpe")
    stats = find(tab, "datasetStatsView")
    qtbot.waitUntil(lambda: "tok:" in stats.toHtml(), timeout=WAIT_MS)
    meta = json.loads((home / "datasets" / "bpe" / "meta.json").read_text())
    ratio = meta["total_chars"] / (meta["train_tokens"] + meta["val_tokens"])
    assert f"{ratio:.2f} characters per token" in stats.toPlainText()
    assert 2.5 < ratio < 5  # English BPE: roughly 4 characters a token
    assert "Character vocabulary" not in stats.toPlainText()
    tab.grab().save(str(tmp_path / "dataset_tab_gpt2.png"))


def test_demo_text_and_guided_start(qtbot, window, tab, home, tmp_path):
    guide = find(tab, "guidedStart")
    assert guide.isVisible()  # an empty workspace starts with the guide
    tab.grab().save(str(tmp_path / "dataset_tab_first_run.png"))
    qtbot.mouseClick(find(tab, "guideDemoButton"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not tab.is_preparing(), timeout=WAIT_MS)
    meta = json.loads((home / "datasets" / dt.DEMO_NAME / "meta.json").read_text())
    assert meta["tokenizer"] == "char" and meta["vocab_size"] == 65  # Tiny Shakespeare's 65 characters
    assert tab.selected_dataset() == dt.DEMO_NAME
    created = meta["created"]
    qtbot.mouseClick(find(tab, "demoButton"), Qt.MouseButton.LeftButton)  # again: just selects it
    assert not tab.is_preparing()
    assert json.loads((home / "datasets" / dt.DEMO_NAME / "meta.json").read_text())["created"] == created

    qtbot.mouseClick(find(tab, "guideConfigButton"), Qt.MouseButton.LeftButton)
    assert window.tabs.currentIndex() == 1
    window.tabs.setCurrentIndex(0)
    qtbot.mouseClick(find(tab, "guideHideButton"), Qt.MouseButton.LeftButton)
    assert not guide.isVisible()
    window.close()
    again = create_main_window(home)  # hiding is remembered
    qtbot.addWidget(again)
    again.show()
    assert not find(again.tab("Dataset"), "guidedStart").isVisible()


def test_guide_hidden_once_a_run_exists(qtbot, home):
    (home / "runs" / "first").mkdir(parents=True)
    w = create_main_window(home)
    qtbot.addWidget(w)
    w.show()
    assert not find(w.tab("Dataset"), "guidedStart").isVisible()


def test_dark_theme_keeps_text_readable(qtbot, tab, poem, home, tmp_path):
    """Only token spans carry fixed colours (each with its own background); the rest follows the palette."""
    ds.prepare_dataset([poem], "dark", home=home)
    app = QApplication.instance()
    old = app.palette()
    # a dark palette as a desktop theme gives it (QPalette(button, window) derives the other roles)
    dark = QPalette(QColor("#303134"), QColor("#202124"))
    for role, colour in (
        (QPalette.ColorRole.Base, "#292a2d"),
        (QPalette.ColorRole.Text, "#e8eaed"),
        (QPalette.ColorRole.WindowText, "#e8eaed"),
        (QPalette.ColorRole.ButtonText, "#e8eaed"),
        (QPalette.ColorRole.PlaceholderText, "#9aa0a6"),
    ):
        dark.setColor(QPalette.ColorGroup.Active, role, QColor(colour))
        dark.setColor(QPalette.ColorGroup.Inactive, role, QColor(colour))
    app.setPalette(dark)
    try:
        tab.refresh()
        tab.select_dataset("dark")
        stats = find(tab, "datasetStatsView")
        qtbot.waitUntil(lambda: "tok:" in stats.toHtml(), timeout=WAIT_MS)
        tab.window().grab().save(str(tmp_path / "dataset_tab_dark.png"))
        drop_area = find(tab, "datasetDropArea")
        assert drop_area.grab().toImage().pixelColor(drop_area.width() // 2, 8).lightness() < 128
        source = dt.stats_html(tab._entries["dark"], tab._details["dark"])
        outside_tokens = re.sub(r"<a href=\"tok:[^>]*>", "", source)
        assert "color" not in outside_tokens
        for style in re.findall(r'<a href="tok:\d+" style="([^"]*)"', source):
            assert "background-color:#" in style and "color:#000000" in style
    finally:
        app.setPalette(old)


def test_progress_text_and_helpers():
    mb = 1024 * 1024
    assert dt.progress_text(0, 30 * mb, 0.0, "reading") == "Reading · 0.0 / 30.0 MB · ETA estimating…"
    assert dt.progress_text(10 * mb, 30 * mb, 5.0, "tokenizing") == "Tokenizing · 10.0 / 30.0 MB · ETA 0:10"
    assert dt.progress_text(30 * mb, 30 * mb, 9.0) == "30.0 / 30.0 MB"
    assert format_duration(3725) == "1:02:05" and format_duration(float("nan")) == "?"
    assert format_bytes(512) == "512 B" and format_bytes(1536) == "1.5 KiB"
    assert dt.visible_char("\n") == "↵" and dt.visible_char(" ") == "␣" and dt.visible_char("\x01") == "\\x01"


def test_token_view_alternates_and_escapes():
    html = dt.token_view_html([(1, "<b>"), (2, " and"), (3, "\n\n"), (4, "x")])
    colours = re.findall(r"background-color:(#[0-9a-f]{6})", html)
    assert colours == list(dt.TOKEN_COLOURS[:4])
    assert "&lt;b&gt;" in html and "<b>" not in html
    assert 'text-decoration:none">↵<br>↵<br></a>' in html  # one visible mark and break per newline


def test_clicking_drop_area_opens_file_dialog(qtbot, window, tab, poem, monkeypatch):
    calls = []

    def fake_dialog(parent, caption, start, filters):
        calls.append(caption)
        return [str(poem)], filters

    from PySide6.QtWidgets import QFileDialog

    monkeypatch.setattr(QFileDialog, "getOpenFileNames", fake_dialog)
    qtbot.mouseClick(find(tab, "datasetDropArea"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not tab.is_checking(), timeout=WAIT_MS)
    assert calls and find(tab, "datasetInputList").topLevelItemCount() == 1
    tab.clear_inputs()
    window.tabs.setCurrentIndex(3)
    {a.objectName(): a for a in window.actions()}["actionImportText"].trigger()  # File > Import text… (Ctrl+O)
    assert len(calls) == 2 and window.tabs.currentIndex() == 0
    qtbot.waitUntil(lambda: not tab.is_checking(), timeout=WAIT_MS)
    assert find(tab, "datasetInputList").topLevelItemCount() == 1


def test_existing_name_asks_before_replacing(qtbot, tab, poem, home, monkeypatch):
    ds.prepare_dataset([poem], "taken", home=home)
    old = json.loads((home / "datasets" / "taken" / "meta.json").read_text())
    drop(qtbot, tab, [poem])
    find(tab, "datasetNameEdit").setText("taken")
    find(tab, "valFractionSpin").setValue(0.25)
    answers = [QMessageBox.StandardButton.No, QMessageBox.StandardButton.Yes]
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: answers.pop(0))
    qtbot.mouseClick(find(tab, "prepareButton"), Qt.MouseButton.LeftButton)
    assert not tab.is_preparing()  # "No": nothing started
    prepare_and_wait(qtbot, tab)
    new = json.loads((home / "datasets" / "taken" / "meta.json").read_text())
    assert old["val_tokens"] == 4000 and new["val_tokens"] == 10_000


def test_hovering_a_token_shows_its_id(qtbot, tab, poem, home):
    from PySide6.QtWidgets import QToolTip

    ds.prepare_dataset([poem], "hover", home=home)
    tab.refresh()
    tab.select_dataset("hover")
    stats = find(tab, "datasetStatsView")
    qtbot.waitUntil(lambda: "tok:" in stats.toHtml(), timeout=WAIT_MS)
    stats.highlighted.emit(QUrl("tok:42"))
    assert QToolTip.text() == "token id 42"
    stats.highlighted.emit(QUrl())  # the mouse left the token
    qtbot.waitUntil(lambda: not QToolTip.isVisible(), timeout=5000)


def test_dropping_a_big_folder_does_not_freeze(qtbot, lone_tab, tmp_path):
    """Checking many files happens in a worker: the event loop keeps turning, Prepare waits for it."""
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(600):
        (folder / f"note{i:04d}.txt").write_text(f"note {i}: all the world's a stage\n" * 20, encoding="utf-8")
    with LoopProbe(qtbot) as probe:
        lone_tab.add_inputs([folder])
        assert lone_tab.is_checking() and not find(lone_tab, "prepareButton").isEnabled()
        qtbot.waitUntil(lambda: not lone_tab.is_checking(), timeout=WAIT_MS)
    assert find(lone_tab, "datasetInputList").topLevelItemCount() == 600
    assert find(lone_tab, "prepareButton").isEnabled()
    probe.check(min_ticks=3)
