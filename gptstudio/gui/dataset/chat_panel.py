"""Chat data on the Dataset tab: conversations or text, for which model, the demo conversations, and the
choices a check of the conversations asks for (skip bad records, drop characters the model never saw)."""

from __future__ import annotations

import html

from PySide6.QtCore import Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from gptstudio.core.chat_data import FORMAT_LABELS
from gptstudio.core.chat_dataset import ChatSurvey
from gptstudio.gui.dataset.details_html import visible_char
from gptstudio.gui.state.chat_choice import NEW_MODEL, ChatChoice

SHOWN_PROBLEMS = 200  # bad records listed (the rest counted)
DEMO_CHAT_NAME = "shakespeare_chat"


class ChatPanel(QGroupBox):
    """Signals out: `sig_demo_requested()` (Use demo chat data), `sig_answered()` (the person chose to skip
    bad records or drop unknown characters: prepare again), `sig_review_cancelled()` (nothing is
    prepared). Methods in: set_inputs(kind, formats), set_runs(runs), set_model_run(name),
    show_survey(survey, questions), clear_review(); read: is_chat(), model_run(), choice(tokenizer)."""

    sig_demo_requested = Signal()
    sig_answered = Signal()
    sig_review_cancelled = Signal()

    def __init__(self, parent=None):
        super().__init__("Chat data", parent, objectName="chatPanel")
        self._skip_bad = self._drop_unknown = False
        self.chat_check = QCheckBox("Conversations: make a chat dataset", objectName="chatCheck")
        self.chat_check.setToolTip(
            "Fine-tune a model on these conversations so it answers, instead of continuing text. "
            "JSON Lines in the messages, Alpaca or ShareGPT format are recognised; a text file is read as a "
            "transcript: turns start with User: or Assistant:, conversations are separated by a line '###'."
        )
        self.format_label = QLabel(objectName="chatFormatLabel", wordWrap=True)
        self.format_label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.model_combo = QComboBox(objectName="chatTokenizerFrom")
        self._model_chosen = False  # the person picked a model: keep it when the runs are read again
        self.model_combo.activated.connect(lambda _i: setattr(self, "_model_chosen", True))
        self.model_combo.setToolTip(
            "Chat data must use the tokenizer of the model you will fine-tune: pick that run. "
            "A new model uses the Tokenizer chosen below."
        )
        self.demo_button = QPushButton("Use demo chat data", objectName="demoChatButton")
        self.demo_button.setToolTip(
            "Conversations made from the bundled play: one speech as your message, the next speaker's "
            f"answer as the reply, prepared as '{DEMO_CHAT_NAME}'."
        )
        self.demo_button.clicked.connect(self.sig_demo_requested)

        self.review = QWidget(objectName="chatReview")
        self.review_text = QLabel(objectName="chatReviewText", wordWrap=True)
        self.problem_list = QListWidget(objectName="chatProblemList")
        self.problem_list.setMaximumHeight(120)
        self.skip_button = QPushButton(objectName="skipBadButton")
        self.skip_button.clicked.connect(self._skip)
        self.drop_button = QPushButton(objectName="dropUnknownButton")
        self.drop_button.clicked.connect(self._drop)
        self.review_cancel = QPushButton("Cancel", objectName="chatReviewCancel")
        self.review_cancel.setToolTip("Prepare nothing: fix the data, then prepare again.")
        self.review_cancel.clicked.connect(self._cancel_review)
        answers = QHBoxLayout()
        answers.addStretch(1)
        answers.addWidget(self.review_cancel)
        answers.addWidget(self.skip_button)
        answers.addWidget(self.drop_button)
        review = QVBoxLayout(self.review)
        review.setContentsMargins(0, 0, 0, 0)
        review.addWidget(self.review_text)
        review.addWidget(self.problem_list)
        review.addLayout(answers)
        self.review.hide()

        form = QFormLayout()
        form.addRow("For the &model:", self.model_combo)
        top = QHBoxLayout()
        top.addWidget(self.chat_check, 1)
        top.addWidget(self.demo_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.format_label)
        layout.addLayout(form)
        layout.addWidget(self.review)
        self.chat_check.toggled.connect(self._update)
        self.set_runs([])
        self._update()

    # ---- methods in

    def set_inputs(self, kind: str, formats: list[str]) -> None:
        """The dropped files changed: tick Conversations for chat data (and transcripts), untick for text."""
        self.clear_review()
        self.chat_check.setChecked(kind in ("chat", "transcript"))
        names = ", ".join(FORMAT_LABELS.get(f, f) for f in formats)
        text = {
            "chat": f"Recognised conversations: {names}.",
            "transcript": "These look like User:/Assistant: transcripts.",
            "mixed": "Some files are conversations: a text dataset leaves them out (the import report lists them); "
            "prepare them on their own to fine-tune for chat.",
        }.get(kind, "")
        self.format_label.setText(text)
        self.format_label.setVisible(bool(text))

    def set_runs(self, runs: list[dict]) -> None:
        """The runs a chat dataset can be made for (list_runs() entries with a checkpoint), newest first;
        the newest is chosen: pretrain on your text, then fine-tune it on conversations."""
        current = self.model_combo.currentData() if self._model_chosen else None
        self.model_combo.clear()
        for run in runs:
            kind = "chat" if run.get("chat") else "base"
            self.model_combo.addItem(f"{run['name']} ({run.get('tokenizer') or '?'}, {kind} model)", run["name"])
        self.model_combo.addItem("a new model (the Tokenizer below)", NEW_MODEL)
        index = self.model_combo.findData(current) if current is not None else -1
        self.model_combo.setCurrentIndex(max(0, index))

    def is_chat(self) -> bool:
        return self.chat_check.isChecked()

    def model_run(self) -> str:
        """The run the data is made for ("" for a new model)."""
        return self.model_combo.currentData() or NEW_MODEL

    def set_model_run(self, name: str) -> bool:
        index = self.model_combo.findData(name)
        if index >= 0:
            self.model_combo.setCurrentIndex(index)
            self._model_chosen = True
        return index >= 0

    def choice(self, tokenizer: str, kind: str = "text", demo: bool = False) -> ChatChoice:
        """The preparation's settings: `tokenizer` is the Prepare panel's choice (for a new model)."""
        return ChatChoice(
            forced=kind != "chat",
            tokenizer=tokenizer,
            tokenizer_from=self.model_run(),
            skip_bad=self._skip_bad,
            drop_unknown=self._drop_unknown,
            demo=demo,
        )

    def show_survey(self, survey: ChatSurvey, questions: list[str]) -> None:
        """Show what a check of the conversations found and ask what to do about it."""
        self.problem_list.clear()
        lines = []
        if "skip_bad" in questions:
            lines.append(
                f"{len(survey.bad):,} of {len(survey.bad) + survey.conversations:,} records cannot be used "
                "(listed below). Skip them, or fix the file and prepare again."
            )
            self.problem_list.addItems([b.describe() for b in survey.bad[:SHOWN_PROBLEMS]])
            if len(survey.bad) > SHOWN_PROBLEMS:
                self.problem_list.addItem(f"… and {len(survey.bad) - SHOWN_PROBLEMS:,} more")
        if "drop_unknown" in questions:
            shown = " ".join(visible_char(c) for c in survey.unknown_chars[:60])
            lines.append(
                f"The model of {self.model_run()} never saw {len(survey.unknown_chars)} of these characters "
                f"({survey.unknown_count:,} in the conversations): {html.escape(shown)}. Drop them, or cancel "
                "and clean the data."
            )
        self.review_text.setText("<br>".join(lines))
        self.problem_list.setVisible("skip_bad" in questions)
        n = len(survey.bad)
        self.skip_button.setText(f"Skip {n:,} bad record{'' if n == 1 else 's'} and prepare")
        self.skip_button.setVisible("skip_bad" in questions)
        self.drop_button.setText("Drop these characters and prepare")
        self.drop_button.setVisible("drop_unknown" in questions)
        self.review.setVisible(bool(questions))

    def clear_review(self) -> None:
        """Forget the answers (new inputs, or a dataset was prepared)."""
        self._skip_bad = self._drop_unknown = False
        self.review.hide()

    # ---- internals

    def _skip(self) -> None:
        self._skip_bad = True
        self.skip_button.hide()
        self.problem_list.hide()
        self._answered()

    def _drop(self) -> None:
        self._drop_unknown = True
        self.drop_button.hide()
        self._answered()

    def _cancel_review(self) -> None:
        self.clear_review()
        self.sig_review_cancelled.emit()

    def _answered(self) -> None:
        if not self.skip_button.isVisibleTo(self) and not self.drop_button.isVisibleTo(self):
            self.review.hide()
            self.sig_answered.emit()  # every question answered

    def _update(self) -> None:
        self.model_combo.setEnabled(self.is_chat())
