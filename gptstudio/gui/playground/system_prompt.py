"""The system prompt of a chat: what the model is told before the conversation (Chat mode only).

A chat model gets it as its template's system turn, kept however long the conversation grows; a base
model reads it as a first paragraph above the transcript.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QGroupBox, QPlainTextEdit, QVBoxLayout


class SystemPromptBox(QGroupBox):
    """Signal out: `changed(str)`. Methods in: set_text; read: text."""

    changed = Signal(str)

    def __init__(self, parent=None):
        super().__init__("System prompt", parent, objectName="systemPromptBox")
        self.edit = QPlainTextEdit(objectName="systemPrompt")
        self.edit.setPlaceholderText("e.g. You answer in one short sentence.")
        self.edit.setToolTip(
            "Told to the model before the conversation, and kept when old messages no longer fit its context."
        )
        self.edit.setFixedHeight(self.edit.fontMetrics().lineSpacing() * 3 + 12)
        QVBoxLayout(self).addWidget(self.edit)
        self.edit.textChanged.connect(lambda: self.changed.emit(self.text()))

    def text(self) -> str:
        return self.edit.toPlainText().strip()

    def set_text(self, text: str) -> None:
        if text != self.text():
            self.edit.setPlainText(text)
