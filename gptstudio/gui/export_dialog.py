"""Export a run or a checkpoint file: a Hugging Face folder or safetensors (core.export does the work).

The export runs on the dialog's JobRunner; the dialog stays open and says what happened. While an
export runs the dialog does not close (the files are written atomically, but the job cannot be
interrupted): its owner calls `shutdown()` before the window closes.
"""

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
from gptstudio.gui.jobs import JobRunner

FORMATS = (("Hugging Face folder (transformers)", "hf"), ("safetensors + JSON metadata", "safetensors"))


def export_job(source: str, fmt: str, out: str, which: str, home, *, report, cancel) -> str:
    return str(export_run(source, fmt, out, which=which, home=home))


class ExportDialog(QDialog):
    """Pick a format and a folder, export in the background, report the result inline."""

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
        self.runner = JobRunner(self)
        self.runner.succeeded.connect(lambda path: self.status.setText(f"Exported to {path}"))
        self.runner.failed.connect(lambda msg: self.status.setText(f"Export failed: {msg}"))
        self.runner.finished.connect(self._set_idle)

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export into folder", self.out_edit.text())
        if folder:
            self.out_edit.setText(folder)

    def start_export(self) -> None:
        """Export in the background; the dialog stays open and says what happened."""
        if self.runner.is_running():
            return
        out = self.out_edit.text().strip()
        if not out:
            self.status.setText("Choose a folder to export into.")
            return
        self.status.setText("Exporting…")
        self.runner.start(
            export_job, self.source, self.format_combo.currentData(), out, self.which_combo.currentText(), self.home
        )
        self._set_idle()

    def _set_idle(self) -> None:
        busy = self.runner.is_running()
        self.export_button.setEnabled(not busy)
        self.buttons.button(QDialogButtonBox.Close).setEnabled(not busy)

    def done(self, result: int) -> None:
        if self.runner.is_running():
            return  # the dialog owns the export's thread: it stays until the export has ended
        super().done(result)

    def shutdown(self, timeout_ms: int = 60_000) -> bool:
        """Wait for a running export (the window is closing); True when it ended in time."""
        return self.runner.shutdown(timeout_ms)
