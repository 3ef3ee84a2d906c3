"""Two ways the Dataset panels speak up: a warning row under a control, and an error dialog."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QMessageBox, QStyle, QWidget

ERROR_BOX_NAME = "datasetErrorBox"


class MessageRow(QWidget):
    """A warning icon and a wrapped, selectable sentence; hidden while there is nothing to say."""

    def __init__(self, object_name: str, parent=None):
        super().__init__(parent)
        self.label = QLabel(objectName=object_name, wordWrap=True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        icon = QLabel()
        icon.setPixmap(self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning).pixmap(20, 20))
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(icon, 0, Qt.AlignmentFlag.AlignTop)
        layout.addWidget(self.label, 1)
        self.hide()

    def set_text(self, text: str) -> None:
        self.label.setText(text)
        self.setVisible(bool(text))

    def text(self) -> str:
        return self.label.text()


def open_error_box(parent: QWidget, title: str, message: str) -> QMessageBox:
    """A readable error dialog that does not block the event loop (window-modal `open()`); it replaces
    one still open from the same panel and finds itself by its objectName."""
    for old in parent.findChildren(QMessageBox, ERROR_BOX_NAME):
        old.close()
    box = QMessageBox(QMessageBox.Icon.Critical, title, message, QMessageBox.StandardButton.Ok, parent)
    box.setObjectName(ERROR_BOX_NAME)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()
    return box
