"""Where the run starts, said in one sentence above the problems: random weights, GPT-2, or which of the
person's runs it fine-tunes (with its iteration, loss and shape)."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel

from gptstudio.gui.state.start_point import StartPoint


class StartPointLabel(QLabel):
    """Method in: show_start(StartPoint). No signals: it only shows."""

    def __init__(self, parent=None):
        super().__init__(parent, objectName="startPointLabel", wordWrap=True)
        self.kind = ""

    def show_start(self, start: StartPoint) -> None:
        self.kind = start.kind
        self.setText(f"<b>Start:</b> {start.text}" if start.kind != "unknown" else "")
        self.setVisible(start.kind != "unknown")  # an unknown start is listed with the problems
