"""The Dataset tab assembled: the panels pass their data along, as a person using the tab sees it."""

import json
import re
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from gptstudio.core import dataset as ds
from gptstudio.core import input_check
from gptstudio.core.workspace import Workspace
from gptstudio.gui import create_main_window
from gptstudio.gui.dataset.prepare_panel import DEMO_NAME
from gptstudio.gui.dataset_tab import DatasetTab
from gptstudio.gui.settings import AppSettings

from .helpers import WAIT_MS, Gate, drop_files, find


@pytest.fixture
def tab(window):
    return window.tab("Dataset")


@pytest.fixture
def lone_tab(qtbot, home):
    """The tab on its own, outside the window."""
    t = DatasetTab(Workspace.open(home), AppSettings())
    qtbot.addWidget(t)
    t.show()
    return t  # closing it (qtbot does) stops its jobs


def list_rows(tab):
    lst = find(tab, "datasetList")
    return {lst.topLevelItem(i).text(0): lst.topLevelItem(i) for i in range(lst.topLevelItemCount())}


def prepare_and_wait(qtbot, tab):
    qtbot.mouseClick(find(tab, "prepareButton"), Qt.MouseButton.LeftButton)
    assert tab.is_preparing()
    qtbot.waitUntil(lambda: not tab.is_preparing(), timeout=WAIT_MS)


def test_drop_prepare_and_find_it_in_the_library(qtbot, tab, poem, home, tmp_path):
    drop_files(qtbot, tab, [poem])
    assert find(tab, "datasetInputList").topLevelItemCount() == 1
    assert find(tab, "datasetNameEdit").text() == "my_poem"  # suggested from the file name
    with qtbot.waitSignal(tab.sig_dataset_selected, timeout=WAIT_MS) as selected:
        prepare_and_wait(qtbot, tab)
    assert selected.args == ["my_poem"]
    assert not find(tab, "datasetError").isVisible()
    meta = json.loads((home / "datasets" / "my_poem" / "meta.json").read_text())
    item = list_rows(tab)["my_poem"]
    assert item.isSelected() and item.text(3) == f"{meta['train_tokens']:,}"
    assert tab.selected_dataset() == "my_poem"
    assert find(tab, "datasetInputList").topLevelItemCount() == 0  # ready for the next one
    assert find(tab, "datasetNameEdit").text() == ""
    stats = find(tab, "datasetStatsView")
    qtbot.waitUntil(lambda: "tok:" in stats.toHtml(), timeout=WAIT_MS)
    assert "my_poem" in stats.toPlainText()
    tab.window().grab().save(str(tmp_path / "dataset_tab.png"))


def test_name_made_unique_and_choices_remembered(qtbot, tab, poem, home):
    ds.prepare_dataset([poem], "my_poem", home=home)
    tab.refresh()
    drop_files(qtbot, tab, [poem])
    assert find(tab, "datasetNameEdit").text() == "my_poem-2"
    tab.prepare_panel.set_tokenizer("gpt2")
    find(tab, "valFractionSpin").setValue(0.2)
    tab.window().close()  # choices are written when the window closes
    second = create_main_window(home)
    qtbot.addWidget(second)
    tab2 = second.tab("Dataset")
    assert find(tab2, "tokenizerCombo").currentData() == "gpt2"
    assert find(tab2, "valFractionSpin").value() == pytest.approx(0.2)


def test_a_folder_is_named_after_itself_and_a_binary_file_refused(qtbot, tab, tmp_path, letters):
    drop_files(qtbot, tab, [letters])
    assert find(tab, "datasetNameEdit").text() == "letters"
    qtbot.mouseClick(find(tab, "clearInputsButton"), Qt.MouseButton.LeftButton)
    assert find(tab, "datasetNameEdit").text() == ""

    binary = tmp_path / "photo.png"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40)
    drop_files(qtbot, tab, [binary])
    assert "not a text file" in find(tab, "datasetDropMessage").text()
    assert find(tab, "datasetInputList").topLevelItemCount() == 0
    qtbot.mouseClick(find(tab, "prepareButton"), Qt.MouseButton.LeftButton)
    assert not tab.is_preparing() and "Drop a text file" in find(tab, "datasetError").text()


def test_prepare_waits_for_the_check_and_drops_wait_for_prepare(qtbot, lone_tab, poem, monkeypatch):
    tab = lone_tab
    gate = Gate()
    monkeypatch.setattr(input_check, "inspect_document", gate.hold(input_check.inspect_document))
    tab.add_inputs([poem])
    qtbot.waitUntil(gate.entered.is_set, timeout=WAIT_MS)
    assert tab.is_checking() and not find(tab, "prepareButton").isEnabled()
    tab.prepare()  # e.g. Ctrl+Return: nothing starts before the files are checked
    assert not tab.is_preparing()
    gate.open()
    qtbot.waitUntil(lambda: not tab.is_checking(), timeout=WAIT_MS)
    assert find(tab, "prepareButton").isEnabled()
    qtbot.mouseClick(find(tab, "prepareButton"), Qt.MouseButton.LeftButton)
    assert tab.is_preparing() and not find(tab, "datasetDropArea").isEnabled()
    tab.add_inputs([poem])
    assert "being prepared" in find(tab, "datasetDropMessage").text()
    qtbot.waitUntil(lambda: not tab.is_preparing(), timeout=WAIT_MS)
    assert find(tab, "datasetDropArea").isEnabled()


def test_damaged_dataset_listed_but_never_handed_to_config(qtbot, tab, home):
    broken = home / "datasets" / "broken"
    broken.mkdir(parents=True)
    (broken / "meta.json").write_text("{not json")
    tab.refresh()
    with qtbot.assertNotEmitted(tab.sig_dataset_selected):
        tab.select_dataset("broken")
    assert "cannot be used" in find(tab, "datasetStatsView").toPlainText()


def test_delete_tells_the_other_tabs(qtbot, tab, poem, home, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    ds.prepare_dataset([poem], "doomed", home=home)
    qtbot.keyClick(find(tab, "datasetList"), Qt.Key.Key_F5)  # Refresh's shortcut
    qtbot.mouseClick(find(tab, "refreshDatasetsButton"), Qt.MouseButton.LeftButton)
    assert tab.select_dataset("doomed")
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    with qtbot.waitSignal(tab.sig_datasets_changed), qtbot.waitSignal(tab.sig_status) as status:
        tab.delete_selected()
    assert status.args == ["Deleted dataset 'doomed'."] and list_rows(tab) == {}
    assert find(tab, "datasetStatsView").toPlainText() == ""


def test_demo_text_and_guided_start(qtbot, window, tab, home, tmp_path):
    guide = find(tab, "guidedStart")
    assert guide.isVisible()  # an empty workspace starts with the guide
    tab.grab().save(str(tmp_path / "dataset_tab_first_run.png"))
    qtbot.mouseClick(find(tab, "guideDemoButton"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not tab.is_preparing(), timeout=WAIT_MS)
    meta = json.loads((home / "datasets" / DEMO_NAME / "meta.json").read_text())
    assert meta["tokenizer"] == "char" and meta["vocab_size"] == 65  # Tiny Shakespeare's 65 characters
    assert tab.selected_dataset() == DEMO_NAME
    created = meta["created"]
    qtbot.mouseClick(find(tab, "demoButton"), Qt.MouseButton.LeftButton)  # again: just selects it
    assert not tab.is_preparing()
    assert json.loads((home / "datasets" / DEMO_NAME / "meta.json").read_text())["created"] == created

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


def test_clicking_the_drop_area_or_the_menu_opens_the_file_dialog(qtbot, window, tab, poem, tmp_path, monkeypatch):
    calls = []

    def fake_dialog(parent, caption, start, filters):
        calls.append(caption)
        return [str(poem)], filters

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
    folder = tmp_path / "more"
    folder.mkdir()
    (folder / "more.txt").write_text("More text.\n", encoding="utf-8")
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a: str(folder))
    {a.objectName(): a for a in window.actions()}["actionImportFolder"].trigger()  # File > Import folder…
    qtbot.waitUntil(lambda: not tab.is_checking(), timeout=WAIT_MS)
    assert find(tab, "datasetInputList").topLevelItemCount() == 2


def test_compare_then_prepare_with_a_bpe_trained_on_the_text(qtbot, window, tab, home, tmp_path):
    """The tokenizers compared on the dropped text at the Config tab's width; a click on the BPE row
    chooses it; the size chosen from the text is shown with its reason; Prepare makes a BPE dataset."""
    from gptstudio.core.config import TrainConfig

    text = tmp_path / "sonnets.txt"
    text.write_text(ds.demo_text_path().read_text(encoding="utf-8")[:120_000], encoding="utf-8")
    window.tab("Config").set_config(TrainConfig(n_layer=2, n_head=4, n_embd=64, block_size=64))
    drop_files(qtbot, tab, [text])
    compare, table = tab.compare_panel, find(tab, "tokenizerCompareTable")
    assert table.horizontalHeaderItem(4).text() == "Embedding (64 wide)"  # the Config tab's n_embd
    qtbot.waitUntil(lambda: compare.comparison() is not None and not compare.is_measuring(), timeout=WAIT_MS)
    assert [row[0] for row in compare.rows()] == ["char", "gpt2", "bpe 512"]  # 117 KiB of text: 512
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=table.visualItemRect(table.item(2, 0)).center())
    assert find(tab, "tokenizerCombo").currentData() == "bpe"
    assert "512 for 117.2 KiB of text" in find(tab, "bpeVocabReason").text()
    find(tab, "bpeVocabSpin").setValue(400)
    qtbot.waitUntil(lambda: compare.comparison() is not None and compare.rows()[2][0] == "bpe 400", timeout=WAIT_MS)
    assert table.item(2, 0).font().bold()  # the choice is marked
    tab.window().grab().save(str(tmp_path / "dataset_bpe.png"))
    with qtbot.waitSignal(tab.sig_dataset_selected, timeout=WAIT_MS):
        prepare_and_wait(qtbot, tab)
    meta = ds.load_dataset_meta(home / "datasets" / "sonnets")
    assert meta["tokenizer"] == "bpe" and meta["vocab_size"] == 405
    assert list_rows(tab)["sonnets"].text(1) == "bpe"
    stats = find(tab, "datasetStatsView")
    qtbot.waitUntil(lambda: "tok:" in stats.toHtml(), timeout=WAIT_MS)  # the token view shows merged pieces
    pieces = re.findall(r'href="tok:\d+"[^>]*>(?:<span[^>]*>)?([^<]+)<', stats.toHtml())
    assert pieces and max(len(p) for p in pieces) >= 3  # merged pieces, not single characters
    assert compare.isHidden()  # the files were used: nothing left to compare


# ----- documents: a mixed folder, the cleanup, the text field, the import report


@pytest.fixture
def documents(tmp_path):
    """A folder of documents of several kinds, one of them a scan and one locked, and a file to pass over."""
    import shutil

    fixtures = Path(__file__).parents[2] / "fixtures" / "documents"
    folder = tmp_path / "my documents"
    folder.mkdir()
    for name in ("paper.pdf", "book.epub", "book.docx", "book.html", "scan.pdf", "locked.pdf"):
        shutil.copy(fixtures / name, folder / name)
    (folder / "logs.jsonl").write_text(
        "".join(
            json.dumps({"id": i, "title": f"Log {i}", "body": f"Entry {i}: the lamp was lit at dusk."}) + "\n"
            for i in range(5)
        ),
        encoding="utf-8",
    )
    (folder / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(300))
    return folder


def test_a_mixed_folder_is_cleaned_prepared_and_reported(qtbot, tab, documents, home, tmp_path):
    drop_files(qtbot, tab, [documents])
    files = find(tab, "datasetInputList")
    listed = {files.topLevelItem(i).text(0): files.topLevelItem(i).text(2) for i in range(files.topLevelItemCount())}
    assert listed == {
        "book.docx": "Word (DOCX)",
        "book.epub": "EPUB",
        "book.html": "HTML",
        "logs.jsonl": "JSON Lines",
        "paper.pdf": "PDF, 4 pages",
        "scan.pdf": "PDF, 1 page",  # refused when read: a first look cannot tell a scan from a cover page
    }
    message = find(tab, "datasetDropMessage").text()
    assert "locked.pdf is an encrypted PDF" in message and "Passed over in the folders" in message
    assert "photo.png" in message
    assert find(tab, "textFieldCombo").isVisible() and tab.text_field() is None
    assert find(tab, "textFieldDetected").text() == "(detected: body)"

    files.setCurrentItem(files.findItems("paper.pdf", Qt.MatchFlag.MatchExactly)[0])  # the cleanup preview follows
    cleanup = tab.cleanup
    qtbot.waitUntil(
        lambda: cleanup.preview() is not None and "Proceedings" in cleanup.preview().before, timeout=WAIT_MS
    )
    assert "page headers, footers and numbers" in find(tab, "cleanupRemoved").text()
    tab.window().grab().save(str(tmp_path / "dataset_documents.png"))

    assert tab.set_text_field("title")  # one field for every record file
    find(tab, "cleanup_short").click()  # "Log 3" is short: keep it anyway
    with qtbot.waitSignal(tab.sig_dataset_selected, timeout=WAIT_MS):
        prepare_and_wait(qtbot, tab)
    meta = ds.load_dataset_meta(home / "datasets" / "my_documents")
    assert {Path(s["path"]).name for s in meta["skipped"]} == {"scan.pdf"}
    assert meta["cleanup"]["options"]["short"] is False and meta["cleanup"]["options"]["page_furniture"] is True
    logs = next(s for s in meta["sources"] if s["path"].endswith("logs.jsonl"))
    assert logs["note"] == "field 'title', 5 records"
    assert "1 file skipped" in tab.window().statusBar().currentMessage()

    stats = find(tab, "datasetStatsView")
    assert "6 files included" not in stats.toPlainText()
    assert "5 files included" in stats.toPlainText() and "1 skipped" in stats.toPlainText()
    report = tab.details.open_report()
    rows = report.rows()
    assert rows[0][:3] == ["skipped", "scan.pdf", "PDF"] and "it may be a scan" in rows[0][4]
    assert {r[1] for r in rows[1:]} == {"book.docx", "book.epub", "book.html", "logs.jsonl", "paper.pdf"}
    assert all(r[0] == "included" and int(r[3].replace(",", "")) > 0 for r in rows[1:])
    report.grab().save(str(tmp_path / "import_report.png"))
    report.close()
