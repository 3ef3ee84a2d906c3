"""Export a run or a checkpoint file: a Hugging Face folder or safetensors (core.export does the work)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from gptstudio.core.export import export_run
from gptstudio.gui.workers import JobWorker, start_worker

FORMATS = (("Hugging Face folder (transformers)", "hf"), ("safetensors + JSON metadata", "safetensors"))


def _export_job(source: str, fmt: str, out: str, which: str, home, report=None, cancel=None) -> str:
    return str(export_run(source, fmt, out, which=which, home=home))


class ExportDialog(QDialog):
    """Pick a format and a folder, export in a worker, report the result inline."""

    def __init__(self, source: str, home: Path, parent: QWidget | None = None, *, is_file: bool = False):
        super().__init__(parent)
        self.setObjectName("exportDialog")
        self.setWindowTitle(f"Export {Path(source).name if is_file else source}")
        self.source, self.home = source, Path(home)
        self.format_combo = QComboBox(objectName="exportFormatCombo")
        for text, fmt in FORMATS:
            self.format_combo.addItem(text, fmt)
        self.which_combo = QComboBox(objectName="exportCheckpointCombo")
        self.which_combo.addItems(["latest", "best"])
        self.which_combo.setEnabled(not is_file)  # a file is one checkpoint already
        default_out = Path.home() / f"{Path(source).stem if is_file else source}-export"
        self.out_edit = QLineEdit(str(default_out), objectName="exportOutEdit")
        browse = QPushButton("Browse…", clicked=self._browse)
        row = QHBoxLayout()
        row.addWidget(self.out_edit, 1)
        row.addWidget(browse)
        form = QFormLayout()
        form.addRow("Format", self.format_combo)
        form.addRow("Checkpoint", self.which_combo)
        form.addRow("Folder", row)
        self.status = QLabel(objectName="exportStatus", wordWrap=True)
        self.status.setTextInteractionFlags(Qt.TextSelectableByMouse)  # the path can be copied
        self.buttons = QDialogButtonBox(QDialogButtonBox.Close)
        self.export_button = self.buttons.addButton("Export", QDialogButtonBox.AcceptRole)
        self.export_button.setObjectName("exportButton")
        self.buttons.accepted.connect(self.start_export)
        self.buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(self.status)
        lay.addWidget(self.buttons)
        self.resize(560, self.sizeHint().height())
        self.worker: JobWorker | None = None

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export into folder", self.out_edit.text())
        if folder:
            self.out_edit.setText(folder)

    def start_export(self) -> None:
        """Export in a worker thread; the dialog stays open and says what happened."""
        if self.worker is not None:
            return
        out = self.out_edit.text().strip()
        if not out:
            self.status.setText("Choose a folder to export into.")
            return
        self.export_button.setEnabled(False)
        self.status.setText("Exporting…")
        self.worker = JobWorker(
            _export_job, self.source, self.format_combo.currentData(), out, self.which_combo.currentText(), self.home
        )
        self.worker.succeeded.connect(lambda path: self.status.setText(f"Exported to {path}"))
        self.worker.failed.connect(lambda msg: self.status.setText(f"Export failed: {msg}"))
        self.worker.finished.connect(self._done)
        start_worker(self.worker, self)

    def _done(self) -> None:
        self.worker = None
        self.export_button.setEnabled(True)
