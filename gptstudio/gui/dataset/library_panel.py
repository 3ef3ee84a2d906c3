"""The workspace's datasets: a sortable list with Refresh, Show in folder and Delete."""

from __future__ import annotations

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QStyle,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
)

from gptstudio.core import dataset as ds
from gptstudio.core.errors import GPTStudioError
from gptstudio.core.units import format_bytes
from gptstudio.core.workspace import Workspace
from gptstudio.gui.dataset.messages import open_error_box

COLUMNS = ("Name", "Tokenizer", "Vocab", "Train tokens", "Val tokens", "Size")


class _SortItem(QTreeWidgetItem):
    """Sorts numeric columns by the raw number stored in UserRole, not by the formatted text."""

    def __lt__(self, other) -> bool:
        col = self.treeWidget().sortColumn() if self.treeWidget() else 0
        a, b = self.data(col, Qt.ItemDataRole.UserRole), other.data(col, Qt.ItemDataRole.UserRole)
        if isinstance(a, (int, float)) and isinstance(b, (int, float)):
            return a < b
        return self.text(col).lower() < other.text(col).lower()


class DatasetLibrary(QGroupBox):
    """Signals out: `sig_selection_changed(entry | None)` when the person (or `select`) picks a dataset,
    `sig_refreshed()` after the list was read again (the selection kept quietly), `sig_activated(name)`
    on a double click, `sig_deleted(name)`. Methods in: refresh, select, delete_selected,
    reveal_selected; read: entries, entry, selected."""

    sig_selection_changed = Signal(object)  # the list_datasets() entry (a dict), or None
    sig_refreshed = Signal()
    sig_activated = Signal(str)
    sig_deleted = Signal(str)

    def __init__(self, workspace: Workspace, parent=None):
        super().__init__("Datasets in this workspace", parent)
        self.workspace = workspace
        self._entries: dict[str, dict] = {}
        self.dataset_list = QTreeWidget(objectName="datasetList")
        self.dataset_list.setHeaderLabels(list(COLUMNS))
        self.dataset_list.setRootIsDecorated(False)
        self.dataset_list.setAlternatingRowColors(True)
        self.dataset_list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.dataset_list.setSortingEnabled(True)
        self.dataset_list.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        header = self.dataset_list.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setStretchLastSection(False)
        for col in range(1, len(COLUMNS)):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        self.dataset_list.itemSelectionChanged.connect(self._on_selection_changed)
        self.dataset_list.itemDoubleClicked.connect(lambda item, _col: self.sig_activated.emit(item.text(0)))

        self.reveal_button = QPushButton("Show in folder", objectName="revealDatasetButton", enabled=False)
        self.reveal_button.clicked.connect(self.reveal_selected)
        self.delete_button = QPushButton("Delete…", objectName="deleteDatasetButton", enabled=False)
        self.delete_button.clicked.connect(self.delete_selected)
        refresh = QPushButton("Refresh", objectName="refreshDatasetsButton")
        refresh.setToolTip("Look again for datasets made by the CLI or copied into the workspace (F5).")
        refresh.setShortcut("F5")
        refresh.clicked.connect(lambda: self.refresh(keep=self.selected()))
        buttons = QHBoxLayout()
        buttons.addWidget(refresh)
        buttons.addStretch(1)
        buttons.addWidget(self.reveal_button)
        buttons.addWidget(self.delete_button)
        self.empty_label = QLabel(
            "No datasets yet: drop a text file on the left, or use the demo text.",
            objectName="datasetEmptyLabel",
            wordWrap=True,
        )
        layout = QVBoxLayout(self)
        layout.addWidget(self.empty_label)
        layout.addWidget(self.dataset_list, 1)
        layout.addLayout(buttons)

    # ---- methods in

    def refresh(self, keep: str | None = None) -> None:
        """Re-read the workspace's datasets (also ones made by the CLI or imported from nanoGPT) and
        select `keep` again, quietly, if it is still there."""
        entries = ds.list_datasets(self.workspace.home)
        self._entries = {e["name"]: e for e in entries}
        self.dataset_list.blockSignals(True)
        self.dataset_list.setSortingEnabled(False)
        self.dataset_list.clear()
        for e in entries:
            self.dataset_list.addTopLevelItem(self._item(e))
        self.dataset_list.setSortingEnabled(True)
        self.dataset_list.blockSignals(False)
        self.empty_label.setVisible(not entries)
        if not (keep in self._entries and self.select(keep, emit=False)):
            self._update_buttons()
        self.sig_refreshed.emit()

    def select(self, name: str, emit: bool = True) -> bool:
        """Select a dataset by name; False when there is none of that name. With `emit`, the selection
        is announced even when that item already was the selected one (the list, refilled with its
        signals blocked, may have made it current quietly): a dataset just prepared is always shown."""
        for i in range(self.dataset_list.topLevelItemCount()):
            item = self.dataset_list.topLevelItem(i)
            if item.text(0) == name:
                was_selected = item.isSelected() and self.dataset_list.currentItem() is item
                blocked = self.dataset_list.blockSignals(not emit)
                self.dataset_list.setCurrentItem(item)
                item.setSelected(True)
                self.dataset_list.blockSignals(blocked)
                if emit and was_selected:
                    self._on_selection_changed()
                self._update_buttons()
                return True
        return False

    def delete_selected(self) -> None:
        """Ask, then delete the selected dataset's folder."""
        name = self.selected()
        if not name:
            return
        answer = QMessageBox.question(
            self,
            "Delete dataset?",
            f"Delete the dataset '{name}' and its files?\nRuns trained on it keep working; this cannot be undone.",
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        try:
            ds.delete_dataset(name, home=self.workspace.home)
        except GPTStudioError as e:
            open_error_box(self, "Could not delete the dataset", str(e))
            return
        self.refresh()
        self.sig_deleted.emit(name)

    def reveal_selected(self) -> None:
        entry = self.entry(self.selected())
        if entry is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(entry["path"])))

    # ---- read

    def entries(self) -> dict[str, dict]:
        return dict(self._entries)

    def entry(self, name: str | None) -> dict | None:
        return self._entries.get(name) if name else None

    def selected(self) -> str | None:
        items = self.dataset_list.selectedItems()
        return items[0].text(0) if items else None

    # ---- internals

    def _on_selection_changed(self) -> None:
        self._update_buttons()
        self.sig_selection_changed.emit(self.entry(self.selected()))

    def _update_buttons(self) -> None:
        chosen = self.entry(self.selected()) is not None
        self.reveal_button.setEnabled(chosen)
        self.delete_button.setEnabled(chosen)

    def _item(self, e: dict) -> QTreeWidgetItem:
        if e.get("error"):
            item = _SortItem([e["name"], "damaged", "", "", "", format_bytes(e.get("size_on_disk", 0))])
            for col in range(len(COLUMNS)):
                item.setToolTip(col, e["error"])
            item.setIcon(0, self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning))
            return item
        numbers = [int(e.get("vocab_size", 0)), int(e.get("train_tokens", 0)), int(e.get("val_tokens", 0))]
        item = _SortItem(
            [e["name"], e.get("tokenizer", "?") + (" · chat" if e.get("chat") else "")]
            + [f"{n:,}" for n in numbers]
            + [format_bytes(e.get("size_on_disk", 0))]
        )
        for col, value in zip(range(2, 5), numbers):
            item.setData(col, Qt.ItemDataRole.UserRole, value)
        item.setData(5, Qt.ItemDataRole.UserRole, int(e.get("size_on_disk", 0)))
        for col in range(2, len(COLUMNS)):
            item.setTextAlignment(col, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        item.setToolTip(0, str(e.get("path", "")))
        return item
