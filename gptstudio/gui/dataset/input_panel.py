"""The files chosen for a new dataset: checked in the background, listed with their kind (text encoding, or
PDF, EPUB, ...), the selected one previewed."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QToolTip,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gptstudio.core.input_check import InputCheck, InputProgress, check_inputs
from gptstudio.core.textfiles import TextFileInfo
from gptstudio.core.units import format_bytes
from gptstudio.gui.dataset.messages import MessageRow
from gptstudio.gui.jobs import JobRunner
from gptstudio.gui.state.dataset_inputs import DatasetInputs


class InputPanel(QWidget):
    """Signals out: `sig_checked(InputCheck)` after a check added its files, `sig_checking_changed(bool)`,
    `sig_cleared()`, `sig_file_selected(TextFileInfo | None)`. Methods in: add, set_files, clear, show_message;
    set_preview_shown; state: inputs, is_checking, selected_file."""

    sig_checked = Signal(object)
    sig_checking_changed = Signal(bool)
    sig_cleared = Signal()
    sig_file_selected = Signal(object)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.inputs = DatasetInputs()
        self._checks = JobRunner(self)
        self._checks.progressed.connect(self._on_check_progress)
        self._checks.succeeded.connect(self._on_checked)
        self._checks.failed.connect(self.show_message)
        self._checks.finished.connect(lambda: self.sig_checking_changed.emit(False))

        self.message_row = MessageRow("datasetDropMessage")
        self.file_list = QTreeWidget(objectName="datasetInputList")
        self.file_list.setHeaderLabels(["File", "Size", "Type"])
        self.file_list.setRootIsDecorated(False)
        self.file_list.setMaximumHeight(110)
        self.file_list.setMinimumHeight(64)  # three rows at least
        self.file_list.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.file_list.header().setStretchLastSection(False)
        self.file_list.viewport().installEventFilter(self)  # the tooltips (eventFilter)
        self.file_list.currentItemChanged.connect(self._show_preview)
        self.summary = QLabel(objectName="datasetInputSummary")
        clear = QPushButton("Clear", objectName="clearInputsButton")
        clear.setToolTip("Remove the dropped files from the list (the files themselves are not touched).")
        clear.clicked.connect(self.clear)
        self.files_box = QWidget()
        files_layout = QVBoxLayout(self.files_box)
        files_layout.setContentsMargins(0, 0, 0, 0)
        files_layout.addWidget(self.file_list)
        summary_row = QHBoxLayout()
        summary_row.addWidget(self.summary, 1)
        summary_row.addWidget(clear)
        files_layout.addLayout(summary_row)
        self.files_box.hide()

        self.preview = QPlainTextEdit(objectName="datasetPreview", readOnly=True)
        self.preview.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.preview.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.preview.setPlaceholderText("The first lines of the dropped file appear here.")
        self.preview_label = QLabel("&Preview:")
        self.preview_label.setBuddy(self.preview)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.message_row)
        layout.addWidget(self.files_box)
        layout.addWidget(self.preview_label)
        layout.addWidget(self.preview, 1)

    # ---- methods in

    def add(self, paths) -> None:
        """Check dropped/chosen files and folders in the background; text files join the list, the
        others are refused with the reason. A drop during a check is checked together with it."""
        paths = [Path(p) for p in paths]
        if not paths:
            return
        self.show_message(f"Checking {len(paths)} dropped item{'s' if len(paths) != 1 else ''}…")
        self._checks.start(check_inputs, self.inputs.add_pending(paths))
        self.sig_checking_changed.emit(True)

    def set_files(self, files: list[TextFileInfo]) -> None:
        """Show files checked elsewhere (the bundled demo text), replacing the list."""
        self.inputs.set_files(files)
        self._show_files()

    def clear(self) -> None:
        self._checks.cancel()
        self.inputs.clear()
        self._show_files()
        self.show_message("")
        self.sig_checking_changed.emit(False)
        self.sig_cleared.emit()

    def set_preview_shown(self, shown: bool) -> None:
        """Show the selected file's first lines here, or not (when another panel previews the file)."""
        self.preview_label.setVisible(shown)
        self.preview.setVisible(shown)
        self.layout().setStretchFactor(self.files_box, 0 if shown else 1)

    def show_message(self, text: str) -> None:
        self.message_row.set_text(text)

    def message(self) -> str:
        return self.message_row.text() if self.message_row.isVisibleTo(self) else ""

    def is_checking(self) -> bool:
        return self._checks.is_running()

    def shutdown(self, timeout_ms: int = 10_000) -> None:
        self._checks.shutdown(timeout_ms)

    # ---- the check's results

    def _on_check_progress(self, p: InputProgress) -> None:
        self.show_message(f"Checking… {p.done:,} of {p.total:,} files")

    def _on_checked(self, check: InputCheck) -> None:
        self.inputs.accept(check)
        messages = list(check.refused)
        if check.passed_over:
            names = [s.path.name for s in check.passed_over]
            shown = ", ".join(names[:4]) + (f" and {len(names) - 4:,} more" if len(names) > 4 else "")
            messages.append(f"Passed over in the folders (not text or a document that can be read): {shown}.")
        self.show_message("\n".join(messages))
        self._show_files()
        self.sig_checked.emit(check)

    def _show_files(self) -> None:
        self.file_list.clear()
        items = []
        right = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        for info in self.inputs.files:
            item = QTreeWidgetItem([os.path.basename(str(info.path)), format_bytes(info.size), info.encoding or ""])
            item.setTextAlignment(1, right)  # (the full path is the tooltip: eventFilter)
            items.append(item)
        self.file_list.addTopLevelItems(items)  # one insertion: thousands of files stay quick
        self.summary.setText(self.inputs.summary())
        self.files_box.setVisible(bool(self.inputs.files))
        if self.inputs.files:
            self.file_list.setCurrentItem(self.file_list.topLevelItem(0))
        else:
            self.preview.clear()
            self.sig_file_selected.emit(None)

    def eventFilter(self, watched, event) -> bool:
        """A file's full path as its row's tooltip, looked up when asked for: a tooltip set on every
        row took a tenth of a second of the GUI thread for a folder of 5,000 files."""
        if event.type() == QEvent.Type.ToolTip and watched is self.file_list.viewport():
            item = self.file_list.itemAt(event.pos())
            row = self.file_list.indexOfTopLevelItem(item) if item is not None else -1
            if 0 <= row < len(self.inputs.files):
                QToolTip.showText(event.globalPos(), str(self.inputs.files[row].path), self.file_list)
                return True
        return super().eventFilter(watched, event)

    def selected_file(self) -> TextFileInfo | None:
        row = self.file_list.indexOfTopLevelItem(self.file_list.currentItem()) if self.file_list.currentItem() else -1
        return self.inputs.files[row] if 0 <= row < len(self.inputs.files) else None

    def _show_preview(self, item, _previous=None) -> None:
        info = self.selected_file()
        if info is not None:
            self.preview.setPlainText("\n".join(info.preview_lines))
            self.sig_file_selected.emit(info)
