"""The Playground tab: talk to a checkpoint, or let it continue a text, and watch the tokens come.

An assembler of the panels in `gptstudio.gui.playground` (model bar, mode choice, chat view,
composer, conversation files, system prompt, sampling panel, serve panel, token inspector): it lays
them out and routes between them. In Chat mode a chat model answers through its chat template and
stops by itself (core.chat); a base model continues a transcript, which the mode's hint says. The
state they share is Qt-free (`PlaygroundSession`, `PlaygroundPrefs`); the `ChatController` keeps the
session and the chat view in step and streams the replies.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QSplitter, QVBoxLayout, QWidget

from gptstudio.core.errors import GPTStudioError
from gptstudio.gui.playground.chat_controller import ChatController
from gptstudio.gui.playground.chat_view import ChatView
from gptstudio.gui.playground.composer import Composer, ModeChoice
from gptstudio.gui.playground.conversation_files import ConversationFiles
from gptstudio.gui.playground.model_bar import ModelBar
from gptstudio.gui.playground.sampling_panel import SamplingPanel
from gptstudio.gui.playground.serve_panel import ServePanel
from gptstudio.gui.playground.system_prompt import SystemPromptBox
from gptstudio.gui.playground.token_inspector import TokenInspector
from gptstudio.gui.state.playground_prefs import PlaygroundPrefs
from gptstudio.gui.state.playground_session import PlaygroundSession, draw_seed

NO_CHOICE = "Choose a checkpoint first: train a model in the Training tab, or open a checkpoint file."
EMPTY_HINT = "No checkpoints yet. Train a model in the Training tab, or open a checkpoint file, then talk to it here."


def _column(*widgets: QWidget, grows: QWidget) -> QWidget:
    """Widgets one above the other; `grows` takes the spare height."""
    column = QWidget()
    lay = QVBoxLayout(column)
    lay.setContentsMargins(0, 0, 0, 0)
    for widget in widgets:
        lay.addWidget(widget, 1 if widget is grows else 0)
    return column


class PlaygroundTab(QWidget):
    sig_status = Signal(str)  # one-line messages for the main window's status bar
    sig_reply_finished = Signal()  # every answer of the last prompt is complete (or stopped/failed)

    def __init__(self, workspace, settings, parent=None):
        super().__init__(parent)
        self.setObjectName("playgroundTab")
        self.workspace, self.settings = workspace, settings
        self.session = PlaygroundSession()
        self._pending_send = False  # send once the models have loaded
        self._build()
        self.chat = ChatController(self.session, self.chat_view, self)
        self._connect()
        self._restore(PlaygroundPrefs.for_workspace(settings, workspace.home))
        self.models.refresh()

    def _build(self) -> None:
        self.models = ModelBar(self.workspace)
        self.mode_choice = ModeChoice()
        self.models.insert(self.mode_choice)
        self.chat_view = ChatView()
        self.composer = Composer()
        self.files = ConversationFiles(self.workspace.home)
        self.system_prompt = SystemPromptBox()
        self.sampling = SamplingPanel()
        self.serving = ServePanel()
        self.inspector = TokenInspector()
        self.composer.add_action(self.files, space_before=0)
        self.composer.add_action(self.inspector.view_check)

        splitter = QSplitter(Qt.Horizontal, objectName="playgroundSplitter")
        splitter.addWidget(_column(self.chat_view, self.composer, grows=self.chat_view))
        splitter.addWidget(
            _column(self.system_prompt, self.sampling, self.serving, self.inspector, grows=self.inspector)
        )
        splitter.widget(1).setMinimumWidth(240)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 0)
        splitter.setSizes([900, 300])
        lay = QVBoxLayout(self)
        lay.addWidget(self.models)
        lay.addWidget(splitter, 1)

    def _connect(self) -> None:
        self.models.changed.connect(self._on_models_changed)
        self.models.problem.connect(lambda text: self._say(text, error=True))
        self.mode_choice.changed.connect(self._on_mode)
        self.system_prompt.changed.connect(self._on_system_prompt)
        self.composer.sendRequested.connect(self.send)
        self.composer.stopRequested.connect(self.chat.stop)
        self.composer.regenerateRequested.connect(self.regenerate)
        self.composer.clearRequested.connect(self.clear)
        self.composer.promptChanged.connect(self._check_prompt)
        self.chat.progressed.connect(self.composer.show_stats)
        self.chat.finished.connect(self._on_reply_finished)
        self.serving.serveRequested.connect(self.serve)
        self.files.saveRequested.connect(self.save_conversation_to)
        self.files.openRequested.connect(self.open_conversation_from)
        self.inspector.view_check.toggled.connect(self.chat_view.set_token_view)
        self.chat_view.tokenHovered.connect(self.inspector.hover)
        self.chat_view.tokenClicked.connect(self.inspector.show_token)
        self._save_timer = QTimer(self, singleShot=True, interval=400)
        self._save_timer.timeout.connect(self._save_prefs)
        for changed in (
            self.models.changed,
            self.sampling.changed,
            self.inspector.view_check.toggled,
            self.composer.drop_unknown_check.toggled,
            self.serving.port_spin.valueChanged,
            self.system_prompt.changed,
        ):
            changed.connect(self._save_timer.start)

    # ------------------------------------------------------------------------- the public face
    def refresh_checkpoints(self, *_args) -> None:
        """Re-read the workspace's runs (after training saved a checkpoint, or when the tab is shown)."""
        self.models.refresh()

    def models_ready(self) -> bool:
        return self.models.ready()

    @property
    def conversation(self):
        """The conversation shown (a core.conversation.Conversation)."""
        return self.session.conversation

    def generating(self) -> bool:
        return self.chat.is_running()

    # ---------------------------------------------------------------------------------- sending
    def send(self) -> bool:
        """Send the composer's text; True if a reply started (False: nothing to send, a model is
        still loading and will answer when ready, or the prompt needs fixing first)."""
        text, pairing = self.composer.text(), self.models.pairing()
        if self.generating():
            return False
        if self.session.mode == "chat" and not text.strip():
            return self._say("Type a message first.")
        if not pairing.answering() and not self.models.is_refreshing():
            return self._say(NO_CHOICE, error=True)
        if self.models.failed():
            return self._say(self.models.status.text(), error=True)
        if not self.models.ready():
            self._pending_send = True
            return self._say("Loading the model; your message goes out as soon as it is ready.")
        if not self._check_prompt().can_send:
            return self._say("The message was not sent: it has characters the model cannot read.", error=True)
        samplers, prompt = self.models.samplers(), self.session.prompt(text)
        read = self.session.read_text(prompt)
        drop = any(s.unknown_chars(read) for s in samplers)  # earlier turns may hold dropped characters
        try:
            settings = self.session.sample_settings(self.sampling.values(), draw_seed(self.sampling.seed.value()), drop)
        except GPTStudioError as e:
            return self._say(str(e), error=True)
        self.chat.send(text, prompt, settings, pairing, samplers)
        self.composer.set_text("")
        self._say("")
        self._update_controls()
        return True

    def _on_reply_finished(self, numbers: str) -> None:
        self.composer.show_stats(numbers)
        self._update_controls()
        self.sig_reply_finished.emit()

    def _on_models_changed(self) -> None:
        self._show_model_kinds()
        self._pending_send = self._pending_send and not self.models.failed()
        if self._pending_send and not self.models.pairing().answering() and not self.models.is_refreshing():
            self._pending_send = False  # the checkpoints are listed: there is none to answer
            self._say(NO_CHOICE, error=True)
        self._check_prompt()
        if self._pending_send and self.models.ready():
            self._pending_send = False
            self.send()

    def serve(self, port: int | None = None) -> bool:
        """Serve the chosen model with the OpenAI API on this computer; True if the server starts."""
        info = self.models.pairing().primary
        if info is None:
            self.serving.refuse("Choose a model first.")
            return False
        if not self.models.ready() or not self.models.samplers():
            self.serving.refuse(f"{info.short_name} is not loaded yet: try again in a moment.")
            return False
        self.serving.start(self.models.samplers()[0], info.model_id, port)
        return True

    # ----------------------------------------------------------------------------- conversation
    def regenerate(self) -> bool:
        """Answer the last user message again."""
        if self.generating():
            return False
        text = self.chat.rewind()
        if text is None:
            return self._say("Nothing to regenerate yet.")
        self.composer.set_text(text)
        return self.send()

    def clear(self) -> None:
        if not self.generating():  # the reply being written belongs to this conversation: stop it first
            self.chat.clear()
            self.composer.show_stats("")
            self._check_prompt()

    def save_conversation_to(self, path) -> bool:
        try:
            self.session.save(path, getattr(self.models.picker.current(), "short_name", ""), self.sampling.values())
        except GPTStudioError as e:
            return self._say(str(e), error=True)
        self._say(f"Saved the conversation to {path}.")
        return True

    def open_conversation_from(self, path) -> bool:
        if self.generating():
            return self._say("Stop the reply being generated before opening a conversation.", error=True)
        try:
            conv = self.chat.open(path)
        except GPTStudioError as e:
            return self._say(str(e), error=True)
        self.mode_choice.set_mode(conv.mode)
        self.system_prompt.set_text(self.session.system_prompt)
        self._say(f"Opened {Path(path).name}: {len(conv.messages)} messages.")
        self._check_prompt()
        return True

    # ------------------------------------------------------------------------------------ state
    def _on_mode(self, mode: str) -> None:
        self.session.mode = mode
        self.composer.set_mode(mode)
        self.sampling.set_mode(mode)
        self.system_prompt.setVisible(mode == "chat")
        self._show_model_kinds()
        self._check_prompt()
        self._save_timer.start()

    def _on_system_prompt(self, text: str) -> None:
        self.session.system_prompt = text
        self._check_prompt()

    def _show_model_kinds(self) -> None:
        self.mode_choice.show_models([s.is_chat for s in self.models.samplers()])

    def _check_prompt(self, *_args):
        """Show which characters of the new message the models cannot read; returns the PromptCheck."""
        check = self.session.check(self.composer.text(), self.models.samplers(), self.composer.drop_unknown())
        self.composer.show_check(check)
        self._update_controls()
        return check

    def _update_controls(self) -> None:
        busy, can_send = self.generating(), bool(self.models.pairing().answering()) and not self.models.failed()
        self.composer.set_state(busy=busy, can_send=can_send, can_regenerate=self.session.has_user_message())
        self.files.set_busy(busy)
        self.chat_view.set_placeholder("" if self.models.has_checkpoints() else EMPTY_HINT)

    def _say(self, text: str, error: bool = False) -> bool:
        """Show a message (and in the status bar); returns False, for an action it refuses."""
        self.composer.say(text, error)
        if text:
            self.sig_status.emit(text)
        return False

    def _restore(self, prefs: PlaygroundPrefs) -> None:
        self.models.remember(
            prefs.checkpoint, prefs.compare_checkpoint, prefs.external_checkpoints, prefs.pretrained_models
        )
        self.sampling.set_values(prefs.sampling)
        self.mode_choice.set_mode(prefs.mode)
        self.inspector.set_token_view(prefs.token_view)
        self.composer.set_drop_unknown(prefs.drop_unknown)
        self.serving.port_spin.setValue(prefs.serve_port)
        self.system_prompt.set_text(prefs.system_prompt)
        self.session.system_prompt = self.system_prompt.text()
        self._on_mode(self.mode_choice.mode())

    def _save_prefs(self) -> None:
        checkpoint, compare, files, pretrained = self.models.remembered()
        PlaygroundPrefs(
            sampling=self.sampling.values(),
            mode=self.session.mode,
            token_view=self.inspector.token_view(),
            drop_unknown=self.composer.drop_unknown(),
            checkpoint=checkpoint,
            compare_checkpoint=compare,
            external_checkpoints=files,
            pretrained_models=pretrained,
            serve_port=self.serving.port(),
            system_prompt=self.system_prompt.text(),
        ).save_for_workspace(self.settings, self.workspace.home)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self.generating():
            self.models.refresh()

    def shutdown(self) -> None:
        """Save what is pending, stop generating and loading, wait for the threads (before the window closes)."""
        if self._save_timer.isActive():
            self._save_timer.stop()
            self._save_prefs()
        self.chat.shutdown()
        self.serving.shutdown()
        self.models.shutdown()
