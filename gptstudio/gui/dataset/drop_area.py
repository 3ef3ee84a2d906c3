"""Where a new dataset's files come from: a dashed box that takes dropped files and folders, or opens a
file dialog when clicked (the File menu opens the same dialogs)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QPainter, QPalette, QPen
from PySide6.QtWidgets import QFileDialog, QFrame, QLabel, QStyle, QVBoxLayout

from gptstudio.gui.settings import AppSettings

LAST_DIR_KEY = "dataset.last_dir"
TEXT_FILTER = (
    "Text and documents (*.txt *.md *.markdown *.pdf *.epub *.docx *.html *.htm *.jsonl *.json *.csv *.tsv *.py "
    "*.xml);;All files (*)"
)


class DropArea(QFrame):
    """Signals out: `sig_paths_chosen(list[Path])` (dropped, or picked in a dialog), `sig_remote_dropped()`
    (links that are not files on this computer). Methods in: choose_files, choose_folder (the dialogs,
    starting where the last files came from)."""

    sig_paths_chosen = Signal(list)  # list[Path] of local files and folders
    sig_remote_dropped = Signal()  # URLs that are not local files (e.g. from a browser)

    def __init__(self, settings: AppSettings, parent=None):
        super().__init__(parent)
        self.settings = settings
        self.setObjectName("datasetDropArea")
        self.setAcceptDrops(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setMinimumHeight(110)
        self.setToolTip(
            "Drop text files, documents (PDF, EPUB, Word .docx, HTML, Markdown, JSON Lines, CSV) or folders of "
            "them here, or click to choose files (Ctrl+O)."
        )
        self.setAccessibleName("Drop text files or documents here or click to choose")
        icon = QLabel(alignment=Qt.AlignmentFlag.AlignCenter)
        icon.setPixmap(self.style().standardIcon(QStyle.StandardPixmap.SP_DialogOpenButton).pixmap(32, 32))
        text = QLabel(
            "<b>Drop text files, documents or a folder here</b><br>"
            "PDF, EPUB, Word, HTML, Markdown, JSON, CSV · or click to choose files",
            alignment=Qt.AlignmentFlag.AlignCenter,
        )
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addWidget(icon)
        layout.addWidget(text)
        layout.addStretch(1)
        self._set_active(False)

    def choose_files(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Choose text files or documents", self._start_dir(), TEXT_FILTER)
        self._chosen([Path(f) for f in files])

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a folder of text files", self._start_dir())
        self._chosen([Path(folder)] if folder else [])

    def _start_dir(self) -> str:
        return self.settings.get(LAST_DIR_KEY) or str(Path.home())

    def _chosen(self, paths: list[Path]) -> None:
        if paths:
            self.settings.set(LAST_DIR_KEY, str(paths[0] if paths[0].is_dir() else paths[0].parent), save=False)
            self.sig_paths_chosen.emit(paths)

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
        self._chosen(paths)

    def mouseReleaseEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.rect().contains(event.position().toPoint()):
            self.choose_files()

    def keyPressEvent(self, event) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space):
            self.choose_files()
        else:
            super().keyPressEvent(event)
