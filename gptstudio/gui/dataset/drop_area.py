"""The drop target of the Dataset tab: a dashed box that takes dropped files and folders, or a click."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QPainter, QPalette, QPen
from PySide6.QtWidgets import QFrame, QLabel, QStyle, QVBoxLayout


class DropArea(QFrame):
    """A dashed box that takes dropped files/folders and opens a file dialog when clicked."""

    sig_paths_dropped = Signal(list)  # list[Path] of local files and folders
    sig_remote_dropped = Signal()  # URLs that are not local files (e.g. from a browser)
    sig_clicked = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("datasetDropArea")
        self.setAcceptDrops(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setMinimumHeight(110)
        self.setToolTip("Drop .txt files or folders here, or click to choose files (Ctrl+O).")
        self.setAccessibleName("Drop text files here or click to choose")
        icon = QLabel(alignment=Qt.AlignmentFlag.AlignCenter)
        icon.setPixmap(self.style().standardIcon(QStyle.StandardPixmap.SP_DialogOpenButton).pixmap(32, 32))
        text = QLabel(
            "<b>Drop text files or a folder here</b><br>or click to choose files",
            alignment=Qt.AlignmentFlag.AlignCenter,
        )
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addWidget(icon)
        layout.addWidget(text)
        layout.addStretch(1)
        self._set_active(False)

    def _set_active(self, active: bool) -> None:
        self._active = active
        self.update()

    def paintEvent(self, event) -> None:
        # painted from the palette at paint time, so a light/dark switch needs nothing else
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        role = QPalette.ColorRole.Highlight if self._active or self.hasFocus() else QPalette.ColorRole.Mid
        painter.setPen(QPen(self.palette().color(role), 2, Qt.PenStyle.DashLine))
        painter.setBrush(self.palette().color(QPalette.ColorRole.Base))
        painter.drawRoundedRect(QRectF(self.rect()).adjusted(1, 1, -1, -1), 10, 10)

    def focusInEvent(self, event) -> None:
        super().focusInEvent(event)
        self.update()

    def focusOutEvent(self, event) -> None:
        super().focusOutEvent(event)
        self.update()

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()
            self._set_active(True)
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dragLeaveEvent(self, event) -> None:
        self._set_active(False)

    def dropEvent(self, event) -> None:
        self._set_active(False)
        urls = event.mimeData().urls()
        paths = [Path(u.toLocalFile()) for u in urls if u.isLocalFile()]
        event.acceptProposedAction()
        if len(paths) < len(urls):
            self.sig_remote_dropped.emit()
        if paths:
            self.sig_paths_dropped.emit(paths)

    def mouseReleaseEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.rect().contains(event.position().toPoint()):
            self.sig_clicked.emit()

    def keyPressEvent(self, event) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space):
            self.sig_clicked.emit()
        else:
            super().keyPressEvent(event)
