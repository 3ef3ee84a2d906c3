"""Turn the chosen files into a dataset: its name, tokenizer (and a trained BPE's vocabulary size) and
validation share, Prepare/Cancel, progress (file by file while documents are read)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from gptstudio.core import dataset as ds
from gptstudio.core.chat_data import format_bad
from gptstudio.core.chat_dataset import ChatSurvey, chat_summary, prepare_chat_dataset, survey_chat_inputs
from gptstudio.core.cleanup import CleanupOptions
from gptstudio.core.errors import GPTStudioError
from gptstudio.core.workspace import Workspace
from gptstudio.gui.dataset.messages import MessageRow, open_error_box
from gptstudio.gui.dataset.tokenizer_choice import TokenizerChoice
from gptstudio.gui.jobs import JobRunner
from gptstudio.gui.settings import AppSettings
from gptstudio.gui.state.chat_choice import ChatChoice, open_questions
from gptstudio.gui.state.prepare_status import STEPS, PrepareStatus

DEMO_NAME = "shakespeare_demo"
VAL_FRACTION_KEY = "dataset.val_fraction"


class PreparePanel(QWidget):
    """Signals out: `sig_prepare_requested()` (Prepare pressed), `sig_demo_requested()`, `sig_prepared(meta)`,
    `sig_chat_checked(survey, questions)` (conversations checked; questions left for the person),
    `sig_status(str)`, `sig_busy_changed(bool)`, `sig_tokenizer_changed(kind)`, `sig_vocab_size_changed(n)`.
    Methods in: prepare(paths), prepare_chat(paths, choice), continue_chat(choice), abandon_chat, cancel,
    suggest_name, set_name, reset_name, set_tokenizer, set_tokenizer_enabled, set_vocab_size,
    use_default_vocab_size, set_input_bytes, set_checking, show_error; read: name, tokenizer, vocab_size,
    default_vocab_size, val_fraction, error, is_preparing."""

    sig_prepare_requested = Signal()
    sig_demo_requested = Signal()
    sig_prepared = Signal(dict)
    sig_chat_checked = Signal(object, list)
    sig_status = Signal(str)
    sig_busy_changed = Signal(bool)
    sig_tokenizer_changed = Signal(str)
    sig_vocab_size_changed = Signal(int)

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
        # conversations are checked first (a job of their own), then prepared once nothing is left to ask
        self._survey = JobRunner(self)
        self._survey.progressed.connect(self._on_progress)
        self._survey.succeeded.connect(self._on_surveyed)
        self._survey.failed.connect(self._on_failed)
        self._survey.cancelled.connect(self._on_cancelled)
        self._survey.finished.connect(self._on_finished)
        self._chat: tuple[str, bool, list[Path]] | None = None  # name, replace, paths of the chat dataset asked for
        self._pending_choice = ChatChoice()
        self._tokenizer_enabled = True
        self._build()
        self._restore_choices()

    def _build(self) -> None:
        self.name_edit = QLineEdit(objectName="datasetNameEdit")
        self.name_edit.setPlaceholderText("e.g. shakespeare_char")
        self.name_edit.setToolTip("Folder name of the dataset: letters, digits, '.', '_' or '-'.")
        self.name_edit.textEdited.connect(self._on_name_typed)
        self.tokenizer_choice = TokenizerChoice(self.settings, self)
        self.tokenizer_choice.sig_tokenizer_changed.connect(self.sig_tokenizer_changed)
        self.tokenizer_choice.sig_vocab_size_changed.connect(self.sig_vocab_size_changed)
        self.val_spin = QDoubleSpinBox(objectName="valFractionSpin")
        self.val_spin.setRange(0.01, 0.5)
        self.val_spin.setSingleStep(0.01)
        self.val_spin.setDecimals(2)
        self.val_spin.setValue(0.1)
        self.val_spin.setToolTip("Share of the text held out to measure validation loss (the end of the text).")
        form = QFormLayout()
        form.addRow("&Name:", self.name_edit)
        self.tokenizer_choice.add_rows(form)
        form.addRow("&Validation share:", self.val_spin)

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
            "Bytes processed. The char and bpe tokenizers read the text twice: once to learn the vocabulary, "
            "once to encode it."
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
        try:
            self.val_spin.setValue(float(self.settings.get(VAL_FRACTION_KEY, 0.1)))
        except (TypeError, ValueError):
            pass
        self.val_spin.valueChanged.connect(lambda v: self.settings.set(VAL_FRACTION_KEY, v, save=False))

    def _on_name_typed(self, text: str) -> None:
        self._name_typed = bool(text)

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

    # the tokenizer choice's methods, for the tab and the tests
    def tokenizer(self) -> str:
        return self.tokenizer_choice.tokenizer()

    def set_tokenizer(self, kind: str) -> None:
        self.tokenizer_choice.set_tokenizer(kind)

    def vocab_size(self) -> int:
        return self.tokenizer_choice.vocab_size()

    def set_vocab_size(self, n: int) -> None:
        self.tokenizer_choice.set_vocab_size(n)

    def default_vocab_size(self) -> tuple[int, str]:
        return self.tokenizer_choice.default_vocab_size()

    def use_default_vocab_size(self) -> None:
        self.tokenizer_choice.use_default_vocab_size()

    def set_input_bytes(self, total: int) -> None:
        self.tokenizer_choice.set_input_bytes(total)

    def val_fraction(self) -> float:
        return self.val_spin.value()

    def set_checking(self, checking: bool) -> None:
        """While dropped files are still being checked, Prepare waits."""
        self._checking = checking
        self._update_controls()

    def set_tokenizer_enabled(self, enabled: bool) -> None:
        """Chat data made for an existing run takes that run's tokenizer: the choice is then off."""
        self._tokenizer_enabled = enabled
        self._update_controls()

    def is_preparing(self) -> bool:
        return self._job.is_running() or self._survey.is_running()

    def show_error(self, message: str) -> None:
        self.error_row.set_text(message)

    def error(self) -> str:
        return self.error_row.text() if self.error_row.isVisibleTo(self) else ""

    def _target(self, paths: list[Path], demo: bool = False) -> tuple[str, bool] | None:
        """The dataset's name and whether it replaces one (asked), or None: nothing to start."""
        if self.is_preparing() or self._checking:
            return None
        self.show_error("")
        if not paths and not demo:
            self.show_error("Drop a text file (or click the box) first, or use the demo text.")
            return None
        name = self.name()
        try:
            folder = self.workspace.dataset_dir(name)
        except GPTStudioError as e:
            self.show_error(str(e))
            return None
        if folder.exists():
            answer = QMessageBox.question(
                self, "Replace dataset?", f"A dataset named '{name}' already exists. Replace it?"
            )
            if answer != QMessageBox.StandardButton.Yes:
                return None
        return name, folder.exists()

    def prepare(self, paths: list[Path], cleanup: CleanupOptions | None = None, text_field: str | None = None) -> bool:
        """Tokenize `paths` into a new dataset in the background, documents cleaned with `cleanup` and
        JSON/CSV records read from `text_field` (None: detected); False when nothing was started (no
        files, a bad name, or the person kept an existing dataset of that name)."""
        target = self._target(paths)
        if target is None:
            return False
        name, replace = target
        self._job.start(
            ds.prepare_dataset,
            list(paths),
            name,
            tokenizer=self.tokenizer(),
            val_fraction=self.val_fraction(),
            vocab_size=self.vocab_size() if self.tokenizer() == "bpe" else None,
            home=self.workspace.home,
            force=replace,
            cleanup=cleanup,
            text_field=text_field,
        )
        self._started(name)
        return True

    def prepare_chat(self, paths: list[Path], choice: ChatChoice) -> bool:
        """Make a chat dataset of `paths` (or of the demo conversations): check the conversations first
        (`sig_chat_checked` says what was found), then prepare unless the person must choose something."""
        target = self._target(paths, demo=choice.demo)
        if target is None:
            return False
        self._chat = (target[0], target[1], list(paths))
        self._pending_choice = choice
        self._survey.start(survey_chat_inputs, list(paths), home=self.workspace.home, **choice.survey_kwargs())
        self._started(target[0], "Checking the conversations…")
        return True

    def continue_chat(self, choice: ChatChoice) -> bool:
        """Prepare the chat dataset checked last, with the person's answers in `choice`."""
        if self._chat is None or self.is_preparing():
            return False
        self._start_chat(choice)
        return True

    def abandon_chat(self) -> None:
        """The person cancelled at the questions a check of conversations asked: nothing is prepared."""
        if self._chat is not None and not self.is_preparing():
            self._chat = None
            self._on_cancelled()

    def _start_chat(self, choice: ChatChoice) -> None:
        assert self._chat is not None
        name, replace, paths = self._chat
        self._job.start(
            prepare_chat_dataset,
            paths,
            name,
            val_fraction=self.val_fraction(),
            home=self.workspace.home,
            force=replace,
            **choice.kwargs(),
        )
        self._started(name)

    def _started(self, name: str, text: str = "") -> None:
        self.status.start(name)
        if text:
            self.status.text = text
        self._show_status()
        self._update_controls()
        self.sig_busy_changed.emit(True)

    def cancel(self) -> None:
        job = self._job.current or self._survey.current
        if job is not None:
            job.cancel()  # the job stops at its next chunk and reports `cancelled`
            self.status.cancel()
            self._show_status()
            self._update_controls()

    def shutdown(self, timeout_ms: int = 10_000) -> None:
        self._survey.shutdown(timeout_ms)
        self._job.shutdown(timeout_ms)

    # ---- the job's signals

    def _on_progress(self, p: ds.PrepareProgress) -> None:
        self.status.progress(p.done, p.total, p.phase, p.file, p.file_index, p.file_count)
        self._show_status()

    def _on_succeeded(self, meta: dict) -> None:
        self.status.succeeded((meta or {}).get("name", ""))
        self._show_status()
        if meta.get("chat"):
            counts = chat_summary(meta)
            self.sig_status.emit(
                f"Prepared chat dataset '{self.status.name}': {counts['conversations']:,} conversations, "
                f"{counts['tokens']:,} tokens, {counts['reply_share']:.0%} of them replies."
            )
        else:
            skipped = len(meta.get("skipped") or [])
            self.sig_status.emit(
                f"Prepared dataset '{self.status.name}': {int(meta.get('train_tokens', 0)):,} train and "
                f"{int(meta.get('val_tokens', 0)):,} validation tokens"
                + (
                    f"; {skipped:,} file{'s' if skipped != 1 else ''} skipped (see the import report)."
                    if skipped
                    else "."
                )
            )
        self.sig_prepared.emit({**meta, "name": self.status.name})

    def _on_surveyed(self, survey: ChatSurvey) -> None:
        if survey.unreadable:
            self._on_failed(f"The conversations cannot be read: {format_bad(survey.unreadable, 'file')}.")
            return
        questions = open_questions(survey, self._pending_choice)
        self.sig_chat_checked.emit(survey, questions)
        if questions:
            self.status.failed()
            self.status.text = "Waiting for your choice above"
            self._show_status()
        else:
            self._start_chat(self._pending_choice)

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
        self.sig_busy_changed.emit(self.is_preparing())  # a check may have handed over to the preparation

    def _show_status(self) -> None:
        self.progress.setValue(self.status.value)
        self.progress.setFormat(self.status.text)

    def _update_controls(self) -> None:
        preparing = self.is_preparing()
        for w in (self.demo_button, self.name_edit, self.val_spin):
            w.setEnabled(not preparing)
        self.tokenizer_choice.set_enabled(not preparing and self._tokenizer_enabled, not preparing)
        self.prepare_button.setEnabled(not preparing and not self._checking)
        self.cancel_button.setEnabled(preparing and not self.status.cancelling)
