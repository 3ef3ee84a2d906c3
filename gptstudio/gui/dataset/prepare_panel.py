"""Turn the chosen files into a dataset: its name, tokenizer and validation share, Prepare/Cancel, progress."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from gptstudio.core import dataset as ds
from gptstudio.core.errors import GPTStudioError
from gptstudio.core.workspace import Workspace
from gptstudio.gui.dataset.messages import MessageRow, open_error_box
from gptstudio.gui.jobs import JobRunner
from gptstudio.gui.settings import AppSettings
from gptstudio.gui.state.prepare_status import STEPS, PrepareStatus

DEMO_NAME = "shakespeare_demo"
# the choices of the tokenizer combo, in order, with their one-line help
TOKENIZER_HELP = {
    "char": "One token per character. Small vocabulary, best for a first model on one text.",
    "gpt2": "GPT-2's byte-pair encoding (50,257 tokens): about 4 characters per token; "
    "needed to fine-tune GPT-2 weights.",
}
TOKENIZER_KEY, VAL_FRACTION_KEY = "dataset.tokenizer", "dataset.val_fraction"


class PreparePanel(QWidget):
    """Signals out: `sig_prepare_requested()` (Prepare pressed), `sig_demo_requested()`, `sig_prepared(meta)`,
    `sig_status(str)`, `sig_busy_changed(bool)`, `sig_tokenizer_changed(kind)`. Methods in: prepare(paths),
    cancel, suggest_name, set_name, reset_name, set_tokenizer, set_checking, show_error; read: name,
    tokenizer, val_fraction, error, is_preparing."""

    sig_prepare_requested = Signal()
    sig_demo_requested = Signal()
    sig_prepared = Signal(dict)
    sig_status = Signal(str)
    sig_busy_changed = Signal(bool)
    sig_tokenizer_changed = Signal(str)

    def __init__(self, workspace: Workspace, settings: AppSettings, parent=None):
        super().__init__(parent)
        self.workspace, self.settings = workspace, settings
        self.status = PrepareStatus()
        self._name_typed = False  # the person typed a name: stop suggesting one
        self._checking = False
        self._job = JobRunner(self)
        self._job.progressed.connect(self._on_progress)
        self._job.succeeded.connect(self._on_succeeded)
        self._job.failed.connect(self._on_failed)
        self._job.cancelled.connect(self._on_cancelled)
        self._job.finished.connect(self._on_finished)
        self._build()
        self._restore_choices()

    def _build(self) -> None:
        self.name_edit = QLineEdit(objectName="datasetNameEdit")
        self.name_edit.setPlaceholderText("e.g. shakespeare_char")
        self.name_edit.setToolTip("Folder name of the dataset: letters, digits, '.', '_' or '-'.")
        self.name_edit.textEdited.connect(self._on_name_typed)
        self.tokenizer_combo = QComboBox(objectName="tokenizerCombo")
        for kind, help_text in TOKENIZER_HELP.items():
            self.tokenizer_combo.addItem(kind)
            self.tokenizer_combo.setItemData(self.tokenizer_combo.count() - 1, help_text, Qt.ItemDataRole.ToolTipRole)
        self.val_spin = QDoubleSpinBox(objectName="valFractionSpin")
        self.val_spin.setRange(0.01, 0.5)
        self.val_spin.setSingleStep(0.01)
        self.val_spin.setDecimals(2)
        self.val_spin.setValue(0.1)
        self.val_spin.setToolTip("Share of the text held out to measure validation loss (the end of the text).")
        self.tokenizer_help = QLabel(objectName="tokenizerHelp", wordWrap=True)
        self.tokenizer_help.setForegroundRole(QPalette.ColorRole.PlaceholderText)  # dimmed, theme-aware
        form = QFormLayout()
        form.addRow("&Name:", self.name_edit)
        form.addRow("&Tokenizer:", self.tokenizer_combo)
        form.addRow("&Validation share:", self.val_spin)
        form.addRow("", self.tokenizer_help)

        self.prepare_button = QPushButton("Prepare dataset", objectName="prepareButton")
        self.prepare_button.setDefault(True)
        self.prepare_button.setToolTip("Tokenize the files into train.bin / val.bin (Ctrl+Return).")
        self.prepare_button.setShortcut("Ctrl+Return")
        self.prepare_button.clicked.connect(self.sig_prepare_requested)
        self.cancel_button = QPushButton("Cancel", objectName="cancelPrepareButton", enabled=False)
        self.cancel_button.clicked.connect(self.cancel)
        self.demo_button = QPushButton("Use demo text", objectName="demoButton")
        self.demo_button.setToolTip(
            f"Prepare the bundled Tiny Shakespeare text (1 MB, public domain) as '{DEMO_NAME}'."
        )
        self.demo_button.clicked.connect(self.sig_demo_requested)
        buttons = QHBoxLayout()
        buttons.addWidget(self.demo_button)
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.prepare_button)

        self.progress = QProgressBar(objectName="prepareProgress")
        self.progress.setRange(0, STEPS)
        self.progress.setTextVisible(True)
        self.progress.setToolTip(
            "Bytes processed. The char tokenizer reads the text twice: once to find its characters, once to encode it."
        )
        self.error_row = MessageRow("datasetError")

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.error_row)
        self._show_status()

    def _restore_choices(self) -> None:
        self.set_tokenizer(self.settings.get(TOKENIZER_KEY, "char"))
        self._on_tokenizer_changed(self.tokenizer())
        try:
            self.val_spin.setValue(float(self.settings.get(VAL_FRACTION_KEY, 0.1)))
        except (TypeError, ValueError):
            pass
        self.tokenizer_combo.currentTextChanged.connect(self._on_tokenizer_changed)
        self.val_spin.valueChanged.connect(lambda v: self.settings.set(VAL_FRACTION_KEY, v, save=False))

    def _on_name_typed(self, text: str) -> None:
        self._name_typed = bool(text)

    def _on_tokenizer_changed(self, kind: str) -> None:
        self.tokenizer_help.setText(TOKENIZER_HELP.get(kind, ""))
        self.settings.set(TOKENIZER_KEY, kind, save=False)
        self.sig_tokenizer_changed.emit(kind)

    # ---- methods in

    def name(self) -> str:
        return self.name_edit.text().strip()

    def set_name(self, name: str) -> None:
        self.name_edit.setText(name)

    def suggest_name(self, name: str | None) -> None:
        """Take a suggested name unless the person typed one."""
        if name and not self._name_typed:
            self.name_edit.setText(name)

    def reset_name(self) -> None:
        self._name_typed = False
        self.name_edit.clear()

    def tokenizer(self) -> str:
        return self.tokenizer_combo.currentText()

    def set_tokenizer(self, kind: str) -> None:
        if kind in TOKENIZER_HELP:
            self.tokenizer_combo.setCurrentText(kind)

    def val_fraction(self) -> float:
        return self.val_spin.value()

    def set_checking(self, checking: bool) -> None:
        """While dropped files are still being checked, Prepare waits."""
        self._checking = checking
        self._update_controls()

    def is_preparing(self) -> bool:
        return self._job.is_running()

    def show_error(self, message: str) -> None:
        self.error_row.set_text(message)

    def error(self) -> str:
        return self.error_row.text() if self.error_row.isVisibleTo(self) else ""

    def prepare(self, paths: list[Path]) -> bool:
        """Tokenize `paths` into a new dataset in the background; False when nothing was started
        (no files, a bad name, or the person kept an existing dataset of that name)."""
        if self.is_preparing() or self._checking:
            return False
        self.show_error("")
        if not paths:
            self.show_error("Drop a text file (or click the box) first, or use the demo text.")
            return False
        name = self.name()
        try:
            folder = self.workspace.dataset_dir(name)
        except GPTStudioError as e:
            self.show_error(str(e))
            return False
        if folder.exists():
            answer = QMessageBox.question(
                self, "Replace dataset?", f"A dataset named '{name}' already exists. Replace it?"
            )
            if answer != QMessageBox.StandardButton.Yes:
                return False
        self._job.start(
            ds.prepare_dataset,
            list(paths),
            name,
            tokenizer=self.tokenizer(),
            val_fraction=self.val_fraction(),
            home=self.workspace.home,
            force=folder.exists(),
        )
        self.status.start(name)
        self._show_status()
        self._update_controls()
        self.sig_busy_changed.emit(True)
        return True

    def cancel(self) -> None:
        job = self._job.current
        if job is not None:
            job.cancel()  # the job stops at its next chunk and reports `cancelled`
            self.status.cancel()
            self._show_status()
            self._update_controls()

    def shutdown(self, timeout_ms: int = 10_000) -> None:
        self._job.shutdown(timeout_ms)

    # ---- the job's signals

    def _on_progress(self, p: ds.PrepareProgress) -> None:
        self.status.progress(p.done, p.total, p.phase)
        self._show_status()

    def _on_succeeded(self, meta: dict) -> None:
        self.status.succeeded((meta or {}).get("name", ""))
        self._show_status()
        self.sig_status.emit(
            f"Prepared dataset '{self.status.name}': {int(meta.get('train_tokens', 0)):,} train and "
            f"{int(meta.get('val_tokens', 0)):,} validation tokens."
        )
        self.sig_prepared.emit({**meta, "name": self.status.name})

    def _on_failed(self, message: str) -> None:
        self.status.failed()
        self._show_status()
        self.show_error(message)
        open_error_box(self, "Could not prepare the dataset", message)

    def _on_cancelled(self) -> None:
        self.status.cancelled()
        self._show_status()
        self.sig_status.emit("Preparing the dataset was cancelled; nothing was saved.")

    def _on_finished(self) -> None:
        self._update_controls()
        self.sig_busy_changed.emit(False)

    def _show_status(self) -> None:
        self.progress.setValue(self.status.value)
        self.progress.setFormat(self.status.text)

    def _update_controls(self) -> None:
        preparing = self.is_preparing()
        for w in (self.demo_button, self.name_edit, self.tokenizer_combo, self.val_spin):
            w.setEnabled(not preparing)
        self.prepare_button.setEnabled(not preparing and not self._checking)
        self.cancel_button.setEnabled(preparing and not self.status.cancelling)
