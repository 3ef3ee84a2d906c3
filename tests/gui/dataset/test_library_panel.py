"""The workspace's datasets: listed with their numbers, sortable, damaged ones marked, reveal and delete."""

import json
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QMessageBox

from gptstudio.core import dataset as ds
from gptstudio.core.workspace import Workspace
from gptstudio.gui.dataset.library_panel import DatasetLibrary

from .helpers import find


@pytest.fixture
def library(qtbot, home):
    lib = DatasetLibrary(Workspace.open(home))
    qtbot.addWidget(lib)
    lib.show()
    return lib


def rows(library):
    lst = find(library, "datasetList")
    return {lst.topLevelItem(i).text(0): lst.topLevelItem(i) for i in range(lst.topLevelItemCount())}


def test_datasets_made_outside_are_listed_with_their_numbers(qtbot, library, poem, home, tmp_path):
    assert find(library, "datasetEmptyLabel").isVisible()
    ds.prepare_dataset([poem], "from_cli", home=home)  # e.g. `gptstudio prepare`
    small = tmp_path / "small.txt"
    small.write_text(poem.read_text(encoding="utf-8")[:3000], encoding="utf-8")
    ds.prepare_dataset([small], "a_small", home=home)
    with qtbot.waitSignal(library.sig_refreshed):
        qtbot.mouseClick(find(library, "refreshDatasetsButton"), Qt.MouseButton.LeftButton)
    assert not find(library, "datasetEmptyLabel").isVisible()
    meta = json.loads((home / "datasets" / "from_cli" / "meta.json").read_text())
    item = rows(library)["from_cli"]
    assert [item.text(c) for c in range(1, 5)] == [
        "char",
        f"{meta['vocab_size']:,}",
        f"{meta['train_tokens']:,}",
        f"{meta['val_tokens']:,}",
    ]
    lst = find(library, "datasetList")
    lst.sortByColumn(3, Qt.SortOrder.DescendingOrder)  # by number, not by text ("36,000" < "2,700" as text)
    assert [lst.topLevelItem(i).text(0) for i in range(2)] == ["from_cli", "a_small"]


def test_selecting_tells_and_enables_the_buttons(qtbot, library, poem, home, monkeypatch):
    ds.prepare_dataset([poem], "poems", home=home)
    library.refresh()
    assert library.selected() is None and not find(library, "deleteDatasetButton").isEnabled()
    with qtbot.waitSignal(library.sig_selection_changed) as changed:
        assert library.select("poems")
    assert changed.args[0]["name"] == "poems" and changed.args[0]["train_tokens"] > 0
    assert find(library, "deleteDatasetButton").isEnabled() and find(library, "revealDatasetButton").isEnabled()
    with qtbot.assertNotEmitted(library.sig_selection_changed):
        library.refresh(keep="poems")  # a refresh keeps the selection quietly
    assert library.selected() == "poems"
    assert not library.select("nope")

    opened = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url) or True)
    qtbot.mouseClick(find(library, "revealDatasetButton"), Qt.MouseButton.LeftButton)
    assert [Path(u.toLocalFile()) for u in opened] == [home / "datasets" / "poems"]

    lst = find(library, "datasetList")
    with qtbot.waitSignal(library.sig_activated) as activated:
        lst.itemDoubleClicked.emit(lst.topLevelItem(0), 0)
    assert activated.args == ["poems"]


def test_delete_asks_first(qtbot, library, poem, home, monkeypatch):
    ds.prepare_dataset([poem], "doomed", home=home)
    library.refresh()
    library.select("doomed")
    asked = []
    answer = [QMessageBox.StandardButton.No]
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: asked.append(a) or answer[0])
    qtbot.mouseClick(find(library, "deleteDatasetButton"), Qt.MouseButton.LeftButton)
    assert len(asked) == 1 and "doomed" in rows(library)
    answer[0] = QMessageBox.StandardButton.Yes
    with qtbot.waitSignal(library.sig_deleted) as deleted:
        qtbot.mouseClick(find(library, "deleteDatasetButton"), Qt.MouseButton.LeftButton)
    assert deleted.args == ["doomed"]
    assert rows(library) == {} and not (home / "datasets" / "doomed").exists()
    assert not find(library, "deleteDatasetButton").isEnabled()


def test_a_damaged_dataset_is_listed_with_the_reason(qtbot, library, home):
    broken = home / "datasets" / "broken"
    broken.mkdir(parents=True)
    (broken / "meta.json").write_text("{not json")
    library.refresh()
    item = rows(library)["broken"]
    assert item.text(1) == "damaged" and item.toolTip(0) == library.entry("broken")["error"]
    with qtbot.waitSignal(library.sig_selection_changed) as changed:
        library.select("broken")
    assert changed.args[0]["error"]
