"""Keeps the conversation (Qt-free `PlaygroundSession`) and the chat view in step.

Sending shows the user's message and a row with one pane per answer, then streams every answering
model's reply (`ReplyStreamer`); pieces go to their pane as they come, and at the end each reply is
kept (a base model's chat reply cut at the next turn), recorded in the session with its numbers, and `finished`
says so; when a chat model's context no longer holds the oldest messages, the view marks where its
conversation now starts. Stop keeps what came so far. Rewinding, clearing and opening a saved conversation change both
sides together.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from gptstudio.core.conversation import Conversation
from gptstudio.core.sample_settings import SampleSettings
from gptstudio.gui.playground.chat_view import ChatView
from gptstudio.gui.playground.reply_streamer import ReplyStreamer
from gptstudio.gui.state.checkpoint_choices import Pairing
from gptstudio.gui.state.playground_session import PlaygroundSession
from gptstudio.gui.state.reply_progress import Reply


class ChatController(QObject):
    progressed = Signal(str)  # the running line: tokens so far and tokens/s
    finished = Signal(str)  # the finished reply's numbers

    def __init__(self, session: PlaygroundSession, view: ChatView, parent: QObject | None = None):
        super().__init__(parent)
        self.session, self.view = session, view
        self.streamer = ReplyStreamer(self)
        self.update_count = 0  # streamed UI updates so far (diagnostics, tests)
        self._reply: Reply | None = None
        self._row = None
        self.streamer.pieces.connect(self._on_pieces)
        self.streamer.answered.connect(lambda tag, stats: self._reply.stats.update({tag: stats}))
        self.streamer.failed.connect(lambda tag, message: self._reply.errors.update({tag: message}))
        self.streamer.finished.connect(self._finish)

    # ---------------------------------------------------------------------------------- replies
    def send(self, text: str, prompt, settings: SampleSettings, pairing: Pairing, samplers: list) -> None:
        """Send `text` (the models see `prompt`) to the pairing's models, one sampler each."""
        group = self.session.add_user(text)
        self.view.add_user(text)
        self._reply = Reply(pairing.answering(), settings, group, mode=self.session.mode)
        self._row = self.view.add_reply(pairing.pane_titles(settings.num_samples), group)
        self.streamer.start(samplers, prompt, settings)

    def is_running(self) -> bool:
        return self.streamer.is_running()

    def stop(self) -> None:
        """Every answer ends before its next token; what came so far is kept."""
        self.streamer.stop()

    def shutdown(self, timeout_ms: int = 15_000) -> bool:
        return self.streamer.shutdown(timeout_ms)

    def _on_pieces(self, tag: int, batch: list) -> None:
        by_pane: dict[int, list] = {}
        for piece in batch:
            by_pane.setdefault(self._reply.answer_index(tag, piece.sample), []).append(piece)
        for index, pieces in by_pane.items():
            self._row.panes[index].append(pieces)
        self.update_count += 1
        self._reply.count(len(batch))
        self.progressed.emit(self._reply.progress_text())

    def _finish(self) -> None:
        reply, row, self._reply, self._row = self._reply, self._row, None, None
        for (tag, info), pane in zip(reply.answers(), row.panes):
            if tag in reply.errors:
                pane.show_error(f"Generation failed: {reply.errors[tag]}")
                continue
            pane.set_footer(reply.footer(tag, len(pane.pieces)))
            pane.set_final_text(reply.kept_text(pane.text, tag))
            meta = reply.message_meta(tag, len(pane.pieces))
            self.session.add_reply(pane.reply_text, label=pane.title or info.short_name, group=reply.group, meta=meta)
        if reply.mode == "chat":
            self.view.mark_trimmed(reply.dropped())
        self.finished.emit(reply.summary_text())

    # ----------------------------------------------------------------------------- conversation
    def rewind(self) -> str | None:
        """Take back the last user message and its answers, to ask again; returns its text (None if none)."""
        text = self.session.rewind()
        if text is not None:
            self.view.remove_last_exchange()
        return text

    def clear(self) -> None:
        self.session.clear()
        self.view.clear()

    def open(self, path) -> Conversation:
        """Show a saved conversation instead (raises GPTStudioError; nothing changes then)."""
        conv = self.session.open(path)
        self.view.clear()
        self.view.show_messages(conv.messages)
        return conv
