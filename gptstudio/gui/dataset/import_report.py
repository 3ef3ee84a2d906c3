"""The import report of a dataset in a window: every input file, included with the characters it gave or
skipped with the reason, sortable; rows from gui/state/import_report.py."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QStyle,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
)

from gptstudio.gui.state.import_report import report_rows, report_summary

COLUMNS = ("Status", "File", "Type", "Characters", "Reason or note")


class _Row(QTreeWidgetItem):
    def __lt__(self, other) -> bool:  # characters sort as numbers, the rest as text
        column = self.treeWidget().sortColumn() if self.treeWidget() else 0
        if column == 3:
            mine, theirs = self.data(3, Qt.ItemDataRole.UserRole), other.data(3, Qt.ItemDataRole.UserRole)
            return (-1 if mine is None else mine) < (-1 if theirs is None else theirs)
        return self.text(column).lower() < other.text(column).lower()


class ImportReportDialog(QDialog):
    """Read-only: `table` lists the files; `summary` says how many were included and skipped."""

    def __init__(self, name: str, meta: dict, parent=None):
        super().__init__(parent)
        self.setObjectName("importReportDialog")
        self.setWindowTitle(f"Import report — {name}")
        self.resize(900, 520)
        self.summary = QLabel(report_summary(meta), objectName="importReportSummary", wordWrap=True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.table = QTreeWidget(objectName="importReportTable", rootIsDecorated=False, uniformRowHeights=True)
        self.table.setHeaderLabels(COLUMNS)
        ok = self.style().standardIcon(QStyle.StandardPixmap.SP_DialogApplyButton)
        skipped = self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)
        right = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        items = []
        for row in report_rows(meta):
            chars = "" if row.chars is None else f"{row.chars:,}"
            item = _Row([row.status, row.name, row.kind, chars, row.detail])
            item.setIcon(0, ok if row.status == "included" else skipped)
            item.setToolTip(1, row.path)
            item.setToolTip(4, row.detail)
            item.setTextAlignment(3, right)
            item.setData(3, Qt.ItemDataRole.UserRole, row.chars)
            items.append(item)
        self.table.addTopLevelItems(items)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(-1, Qt.SortOrder.AscendingOrder)  # as reported: skipped files first
        header = self.table.header()
        for column in range(len(COLUMNS) - 1):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)
        layout.addWidget(buttons)

    def rows(self) -> list[list[str]]:
        """What the table shows, row by row (in its current order)."""
        table = self.table
        return [[table.topLevelItem(i).text(c) for c in range(len(COLUMNS))] for i in range(table.topLevelItemCount())]
