"""Save the conversation as JSON or Markdown, or open one saved before (core.conversation reads and writes)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QPushButton, QWidget

SAVE_FILTER = "JSON (*.json);;Markdown (*.md)"
OPEN_FILTER = "Conversations (*.json *.md *.markdown);;All files (*)"


class ConversationFiles(QWidget):
    saveRequested = Signal(str)  # a path chosen in the save dialog
    openRequested = Signal(str)  # a path chosen in the open dialog

    def __init__(self, folder, parent=None):
        super().__init__(parent)
        self.folder = Path(folder)
        self.save_button = QPushButton(
            "Save…", objectName="saveConversationButton", toolTip="Save the conversation as JSON or Markdown."
        )
        self.open_button = QPushButton(
            "Open…", objectName="openConversationButton", toolTip="Open a conversation saved as JSON or Markdown."
        )
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.save_button)
        lay.addWidget(self.open_button)
        self.save_button.clicked.connect(self._ask_save)
        self.open_button.clicked.connect(self._ask_open)

    def set_busy(self, busy: bool) -> None:
        """While a reply is being written, opening another conversation would lose it."""
        self.open_button.setEnabled(not busy)

    def _ask_save(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save the conversation", str(self.folder), SAVE_FILTER)
        if path:
            self.saveRequested.emit(path)

    def _ask_open(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a conversation", str(self.folder), OPEN_FILTER)
        if path:
            self.openRequested.emit(path)
