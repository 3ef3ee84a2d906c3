"""Export a run or a checkpoint file: a Hugging Face folder, safetensors, or a GGUF file for llama.cpp,
LM Studio and Ollama (core.export does the work).

For GGUF the dialog asks for the weights' precision and a file name, and when done shows the
Ollama Modelfile written beside it and the commands for Ollama, LM Studio and llama.cpp.

The export runs on the dialog's JobRunner; the dialog stays open and says what happened. While an
export runs the dialog does not close (the files are written atomically, but the job cannot be
interrupted): its owner calls `shutdown()` before the window closes.
"""

from __future__ import annotations

import html
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

from gptstudio.core.export import export_gguf, export_run
from gptstudio.core.export_formats import DEFAULT_QUANT, QUANTS
from gptstudio.core.gguf_export import GGUFExport
from gptstudio.core.units import format_bytes
from gptstudio.gui.jobs import JobRunner

FORMATS = (
    ("Hugging Face folder (transformers)", "hf"),
    ("safetensors + JSON metadata", "safetensors"),
    ("GGUF file (llama.cpp, LM Studio, Ollama)", "gguf"),
)
QUANT_LABELS = {
    "f32": "f32: exact weights",
    "f16": "f16: half the size, what llama.cpp's converter writes",
    "q8_0": "q8_0: 8-bit, about a quarter of f32",
}


def export_job(source: str, fmt: str, out: str, which: str, home, quant: str = DEFAULT_QUANT, *, report, cancel):
    """The export itself: the folder written (hf, safetensors) or a GGUFExport (gguf)."""
    if fmt == "gguf":
        return export_gguf(source, out, quant=quant, which=which, home=home, report=report, cancel=cancel)
    return str(export_run(source, fmt, out, which=which, home=home))


def describe_export(result) -> str:
    """What the dialog says when done: where it went, and for GGUF how to use it elsewhere (rich text,
    the commands in a fixed-width font, ready to copy)."""
    if not isinstance(result, GGUFExport):
        return f"Exported to {result}"
    size = format_bytes(result.path.stat().st_size)
    rows = "".join(
        f"<tr><td>{html.escape(tool)}</td><td><code>{html.escape(line)}</code></td></tr>"
        for tool, line in result.instructions()
    )
    return (
        f"Exported to {html.escape(str(result.path))} ({size}, {result.quant}), with an Ollama Modelfile "
        f"beside it.<br>Use it:<table cellspacing='4'>{rows}</table>"
    )


class ExportDialog(QDialog):
    """Pick a format and where to, export in the background, report the result inline."""

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
        self.quant_combo = QComboBox(objectName="exportQuantCombo")
        for quant in QUANTS:
            self.quant_combo.addItem(QUANT_LABELS[quant], quant)
        self.quant_combo.setCurrentIndex(self.quant_combo.findData(DEFAULT_QUANT))
        self._name = Path(source).parent.name if is_file else source
        self.out_edit = QLineEdit(str(self._default_out()), objectName="exportOutEdit")
        browse = QPushButton("Browse…", clicked=self._browse)
        row = QHBoxLayout()
        row.addWidget(self.out_edit, 1)
        row.addWidget(browse)
        self.form = QFormLayout()
        self.form.addRow("Format", self.format_combo)
        self.form.addRow("Checkpoint", self.which_combo)
        self.form.addRow("Weights", self.quant_combo)
        self.out_label = QLabel("Folder")
        self.form.addRow(self.out_label, row)
        self.status = QLabel(objectName="exportStatus", wordWrap=True)
        self.status.setTextInteractionFlags(Qt.TextSelectableByMouse)  # paths and commands can be copied
        self.buttons = QDialogButtonBox(QDialogButtonBox.Close)
        self.export_button = self.buttons.addButton("Export", QDialogButtonBox.AcceptRole)
        self.export_button.setObjectName("exportButton")
        self.buttons.accepted.connect(self.start_export)
        self.buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(self.form)
        lay.addWidget(self.status)
        lay.addWidget(self.buttons)
        self.resize(640, self.sizeHint().height())
        self.runner = JobRunner(self)
        self.runner.progressed.connect(lambda done: self.status.setText(f"Exporting… {done:.0%}"))
        self.runner.succeeded.connect(self._show_result)
        self.runner.failed.connect(lambda msg: self.status.setText(f"Export failed: {msg}"))
        self.runner.finished.connect(self._set_idle)
        self.format_combo.currentIndexChanged.connect(self._on_format)
        self.quant_combo.currentIndexChanged.connect(self._on_format)
        self._on_format()

    def _show_result(self, result) -> None:
        self.status.setText(describe_export(result))
        self.resize(self.width(), max(self.height(), self.sizeHint().height()))  # every command in view

    def format(self) -> str:
        return self.format_combo.currentData()

    def _default_out(self) -> Path:
        if self.format_combo.currentData() == "gguf":
            return Path.home() / f"{self._name}-{self.quant_combo.currentData()}.gguf"
        return Path.home() / f"{self._name}-export"

    def _on_format(self, *_args) -> None:
        """GGUF writes one file with a chosen precision; the other formats a folder."""
        gguf = self.format() == "gguf"
        self.form.setRowVisible(self.quant_combo, gguf)
        self.out_label.setText("File" if gguf else "Folder")
        if self.out_edit.text() in self._defaults():  # never overwrite what the user typed
            self.out_edit.setText(str(self._default_out()))

    def _defaults(self) -> set[str]:
        home, name = Path.home(), self._name
        return {str(home / f"{name}-export")} | {str(home / f"{name}-{q}.gguf") for q in QUANTS}

    def _browse(self) -> None:
        if self.format() == "gguf":
            path, _ = QFileDialog.getSaveFileName(self, "Export as GGUF", self.out_edit.text(), "GGUF (*.gguf)")
        else:
            path = QFileDialog.getExistingDirectory(self, "Export into folder", self.out_edit.text())
        if path:
            self.out_edit.setText(path)

    def start_export(self) -> None:
        """Export in the background; the dialog stays open and says what happened."""
        if self.runner.is_running():
            return
        out = self.out_edit.text().strip()
        if not out:
            self.status.setText(
                "Choose a file to export to." if self.format() == "gguf" else "Choose a folder to export into."
            )
            return
        self.status.setText("Exporting…")
        self.runner.start(
            export_job,
            self.source,
            self.format(),
            out,
            self.which_combo.currentText(),
            self.home,
            self.quant_combo.currentData(),
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
