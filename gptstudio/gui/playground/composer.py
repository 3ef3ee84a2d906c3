"""Where the user writes: the prompt box (Enter sends, Shift+Enter a new line), Send/Stop, Regenerate/
Clear, the warning about characters the model cannot read, and the line that reports on the reply;
and `ModeChoice`, how what is written is read (Chat or Complete).

Other panels can add their own buttons to the action row (`add_action`), e.g. saving the conversation.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from gptstudio.gui.playground.style import ERROR_STYLE, WARNING_STYLE
from gptstudio.gui.state.playground_session import MODES, PromptCheck

PLACEHOLDERS = {
    "chat": "Type a message. Enter sends, Shift+Enter starts a new line.",
    "complete": "Type the start of a text for the model to continue (Enter sends).",
}


MODE_NAMES = {"chat": "Chat", "complete": "Complete"}


class ModeChoice(QWidget):
    """Chat: a chat model answers in its chat template; a base model continues a User/Model transcript
    (the hint beside the choice says which). Complete: the model continues the text as it is."""

    changed = Signal(str)  # the new mode

    def __init__(self, parent=None):
        super().__init__(parent)
        self.combo = QComboBox(objectName="modeCombo")
        for mode in MODES:
            self.combo.addItem(MODE_NAMES[mode], mode)
        self.combo.setToolTip(
            "Chat: a chat model (fine-tuned on conversations) answers and stops by itself; a base model "
            "continues a User/Model transcript. Complete: the model continues your text as is."
        )
        self.hint = QLabel(objectName="modeHint")
        self.hint.setStyleSheet("color: palette(placeholder-text);")
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(QLabel("Mode:"))
        lay.addWidget(self.combo)
        lay.addWidget(self.hint)
        self.combo.currentIndexChanged.connect(lambda _i: self.changed.emit(self.mode()))

    def mode(self) -> str:
        return self.combo.currentData()

    def set_mode(self, mode: str) -> None:
        """Choose a mode (an unknown one chooses Chat); `changed` follows when it differs."""
        self.combo.setCurrentIndex(max(0, self.combo.findData(mode)))

    def show_models(self, chat_models: list[bool]) -> None:
        """Say what Chat mode does with the answering models (True for a chat model), [] when none is loaded."""
        if self.mode() != "chat" or not chat_models:
            text = ""
        elif all(chat_models):
            text = "chat model: answers"
        elif not any(chat_models):
            text = "base model: continues text"
        else:
            text = "chat model answers, base model continues text"
        self.hint.setText(text)
        self.hint.setVisible(bool(text))


class _EnterSends(QObject):
    """Enter in the prompt box sends; Shift+Enter makes a new line."""

    def __init__(self, send, parent):
        super().__init__(parent)
        self._send = send

    def eventFilter(self, obj, event):
        if (
            event.type() == QEvent.KeyPress
            and event.key() in (Qt.Key_Return, Qt.Key_Enter)
            and not event.modifiers() & Qt.ShiftModifier
        ):
            self._send()
            return True
        return False


class Composer(QWidget):
    sendRequested = Signal()  # Send or Enter
    stopRequested = Signal()
    regenerateRequested = Signal()
    clearRequested = Signal()
    promptChanged = Signal()  # the text, or the "drop unknown characters" choice, changed

    def __init__(self, parent=None):
        super().__init__(parent)
        self.prompt_warning = QLabel("", objectName="promptWarning", wordWrap=True, styleSheet=WARNING_STYLE)
        self.drop_unknown_check = QCheckBox(
            "Drop unknown characters",
            objectName="dropUnknownCheck",
            toolTip="Send the prompt without the characters this model cannot read.",
        )
        self.prompt_input = QPlainTextEdit(objectName="promptInput")
        self.prompt_input.setPlaceholderText(PLACEHOLDERS["chat"])
        self.prompt_input.setFixedHeight(84)
        self.prompt_input.installEventFilter(_EnterSends(self.sendRequested.emit, self.prompt_input))
        self.send_button = QPushButton("Send", objectName="sendButton", toolTip="Send (Enter)", default=True)
        self.stop_button = QPushButton(
            "Stop", objectName="stopGenerationButton", toolTip="Stop generating; what came so far is kept."
        )
        self.regenerate_button = QPushButton(
            "Regenerate",
            objectName="regenerateButton",
            toolTip="Answer the last message again (a new seed if the seed is random).",
        )
        self.clear_button = QPushButton("Clear", objectName="clearButton", toolTip="Start a new conversation.")
        self.generation_stats = QLabel("", objectName="generationStats", wordWrap=True)
        self.message = QLabel("", objectName="playgroundMessage", wordWrap=True, visible=False)
        self.message.setTextInteractionFlags(Qt.TextSelectableByMouse)  # a path or an error can be copied

        warn_row = QHBoxLayout()
        warn_row.addWidget(self.prompt_warning, 1)
        warn_row.addWidget(self.drop_unknown_check)
        buttons = QVBoxLayout()
        buttons.addWidget(self.send_button)
        buttons.addWidget(self.stop_button)
        buttons.addStretch(1)
        input_row = QHBoxLayout()
        input_row.addWidget(self.prompt_input, 1)
        input_row.addLayout(buttons)
        self._actions = QHBoxLayout()
        self._actions.addWidget(self.regenerate_button)
        self._actions.addWidget(self.clear_button)
        self._actions.addStretch(1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        for row in (warn_row, input_row, self._actions):
            lay.addLayout(row)
        lay.addWidget(self.generation_stats)
        lay.addWidget(self.message)

        self.send_button.clicked.connect(self.sendRequested)
        self.stop_button.clicked.connect(self.stopRequested)
        self.regenerate_button.clicked.connect(self.regenerateRequested)
        self.clear_button.clicked.connect(self.clearRequested)
        self.prompt_input.textChanged.connect(self.promptChanged)
        self.drop_unknown_check.toggled.connect(self.promptChanged)

    def add_action(self, widget: QWidget, space_before: int = 12) -> None:
        """Put another panel's control at the end of the action row (before the stretch)."""
        self._actions.insertSpacing(self._actions.count() - 1, space_before)
        self._actions.insertWidget(self._actions.count() - 1, widget)

    # ------------------------------------------------------------------------------------- text
    def text(self) -> str:
        return self.prompt_input.toPlainText()

    def set_text(self, text: str) -> None:
        self.prompt_input.setPlainText(text)

    def set_mode(self, mode: str) -> None:
        self.prompt_input.setPlaceholderText(PLACEHOLDERS[mode])

    def drop_unknown(self) -> bool:
        return self.drop_unknown_check.isChecked()

    def set_drop_unknown(self, on: bool) -> None:
        self.drop_unknown_check.setChecked(on)

    def show_check(self, check: PromptCheck) -> None:
        """Say which characters the model cannot read, and offer to drop them."""
        self.prompt_warning.setText(check.warning())
        self.prompt_warning.setVisible(bool(check.unknown))
        self.drop_unknown_check.setVisible(check.offer_drop)

    # ---------------------------------------------------------------------------------- state
    def set_state(self, *, busy: bool, can_send: bool, can_regenerate: bool) -> None:
        """busy: a reply is being generated (only Stop works then)."""
        self.send_button.setEnabled(can_send and not busy)
        self.stop_button.setEnabled(busy)
        self.regenerate_button.setEnabled(can_regenerate and not busy)
        self.clear_button.setEnabled(not busy)

    def show_stats(self, text: str) -> None:
        self.generation_stats.setText(text)

    def say(self, text: str, error: bool = False) -> None:
        """A message under the prompt ("" hides it)."""
        self.message.setStyleSheet(ERROR_STYLE if error else "")
        self.message.setText(text)
        self.message.setVisible(bool(text))
