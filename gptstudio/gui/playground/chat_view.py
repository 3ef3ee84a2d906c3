"""The Playground's chat view: message bubbles (user right, model left), one row of answers per prompt.

A reply row holds one `ReplyPane` per answer shown side by side (several samples, or two checkpoints
in compare mode). The view follows the newest text while the user is at the bottom, and re-emits the
token signals of every pane, so the token inspector connects once.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QMenu, QScrollArea, QSizePolicy, QVBoxLayout, QWidget

from gptstudio.gui.playground.reply_pane import ReplyPane, copy_to_clipboard
from gptstudio.gui.state.playground_session import displayed_rows

BUBBLE_STYLE = """
QFrame#userBubble { background: palette(highlight); border-radius: 10px; }
QFrame#userBubble QLabel { color: palette(highlighted-text); background: transparent; }
QFrame#modelBubble { background: palette(alternate-base); border: 1px solid palette(mid); border-radius: 10px; }
QFrame#modelBubble QLabel { background: transparent; }
QLabel#bubbleHeader, QLabel#bubbleFooter { color: palette(placeholder-text); font-size: 11px; }
QToolButton#copyButton { border: none; padding: 0 2px; font-size: 11px; color: palette(link); }
"""
MAX_BUBBLE_FRACTION = 0.78  # a lone bubble takes at most this share of the view's width


class UserBubble(QFrame):
    """The user's message: selectable text, Copy in its context menu, as wide as its longest line."""

    def __init__(self, text: str, parent=None):
        super().__init__(parent)
        self.setObjectName("userBubble")
        self.text = text
        self.body = QLabel(text, self, wordWrap=True, textFormat=Qt.PlainText)
        self.body.setTextInteractionFlags(Qt.TextSelectableByMouse | Qt.LinksAccessibleByMouse)
        self.body.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Minimum)
        self.body.setContextMenuPolicy(Qt.CustomContextMenu)
        self.body.customContextMenuRequested.connect(self._menu)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(12, 8, 12, 8)
        lay.addWidget(self.body)

    def _menu(self, pos):
        menu = QMenu(self)
        if self.body.hasSelectedText():
            menu.addAction("Copy selection", lambda: copy_to_clipboard(self.body.selectedText()))
        menu.addAction("Copy message", lambda: copy_to_clipboard(self.text))
        menu.exec(self.body.mapToGlobal(pos))

    def fit(self, max_width: int) -> None:
        """As wide as the longest line, wrapping only beyond max_width (a word-wrapped QLabel alone
        would pick an arbitrary narrow width)."""
        margins = self.layout().contentsMargins()
        room = max_width - margins.left() - margins.right()
        fm = self.body.fontMetrics()
        natural = max(fm.horizontalAdvance(line) for line in self.text.split("\n")) + 4
        self.body.setFixedWidth(max(min(natural, room), 20))


class ReplyRow(QWidget):
    """Side-by-side answers to one prompt; a single answer sits on the left like a chat bubble."""

    def __init__(self, titles: list[str], group: int, parent=None, token_view: bool = False):
        super().__init__(parent)
        self.group = group
        self.panes = [ReplyPane(t, self, token_view) for t in titles]
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        for pane in self.panes:
            lay.addWidget(pane, 1, Qt.AlignTop)  # each bubble as tall as its own text


class ChatView(QScrollArea):
    """A scrolling column of bubbles that follows the newest text while the user is at the bottom."""

    tokenHovered = Signal(object, int)  # (pane, token index) of any reply; -1 when the pointer leaves tokens
    tokenClicked = Signal(object, int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("chatView")
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.StyledPanel)
        self._inner = QWidget()
        self._inner.setObjectName("chatInner")
        self._column = QVBoxLayout(self._inner)
        self._column.setContentsMargins(10, 10, 10, 10)
        self._column.setSpacing(10)
        self._column.addStretch(1)
        self.setWidget(self._inner)
        self.setStyleSheet(BUBBLE_STYLE)
        self._follow = True
        self._token_view = False
        self.trim_marker: QLabel | None = None  # where the model's view of the conversation starts
        self.verticalScrollBar().valueChanged.connect(self._on_scrolled)
        self.verticalScrollBar().rangeChanged.connect(self._on_range_changed)
        self.placeholder = QLabel("", self._inner, wordWrap=True, objectName="bubbleFooter")
        self.placeholder.setAlignment(Qt.AlignCenter)
        self._column.insertWidget(0, self.placeholder)

    def set_placeholder(self, text: str) -> None:
        """What the empty view says (e.g. how to get a first checkpoint)."""
        self.placeholder.setText(text)
        self.placeholder.setVisible(bool(text) and not self.rows())

    def rows(self) -> list[QWidget]:
        """The bubbles, oldest first: UserBubble and ReplyRow widgets."""
        items = (self._column.itemAt(i).widget() for i in range(self._column.count()))
        return [w for w in items if isinstance(w, (UserBubble, ReplyRow))]

    def panes(self) -> list[ReplyPane]:
        return [pane for row in self.rows() if isinstance(row, ReplyRow) for pane in row.panes]

    def add_user(self, text: str) -> UserBubble:
        bubble = UserBubble(text)
        self._add(bubble, Qt.AlignRight)
        return bubble

    def add_reply(self, titles: list[str], group: int) -> ReplyRow:
        """A row of empty answers ("…") that pieces are appended to as they stream in."""
        row = ReplyRow(titles, group, token_view=self._token_view)
        for pane in row.panes:
            pane.tokenHovered.connect(self.tokenHovered)
            pane.tokenClicked.connect(self.tokenClicked)
        self._add(row, Qt.AlignLeft)
        return row

    def show_messages(self, messages) -> None:
        """Show saved messages (an opened conversation) after what is there."""
        for row in displayed_rows(messages):
            if row[0].role == "user":
                self.add_user(row[0].text)
                continue
            for pane, msg in zip(self.add_reply([m.label for m in row], row[0].group).panes, row):
                meta = msg.meta
                pane.set_footer(f"{meta['tokens']} tokens · seed {meta.get('seed', '?')}" if "tokens" in meta else " ")
                pane.set_final_text(msg.text)

    def remove_last_exchange(self) -> None:
        """Remove the last user message and the answers after it (to ask again)."""
        rows = self.rows()
        while rows and isinstance(rows[-1], ReplyRow):
            self._remove(rows.pop())
        if rows and isinstance(rows[-1], UserBubble):
            self._remove(rows.pop())

    def clear(self) -> None:
        for row in self.rows():
            self._remove(row)
        self.mark_trimmed(0)
        self.set_placeholder(self.placeholder.text())

    def mark_trimmed(self, dropped: int) -> None:
        """Mark where the model's view of the conversation starts: after the first `dropped` messages
        (rows), which no longer fit its context (0: no marker)."""
        if self.trim_marker is not None:
            self._remove(self.trim_marker)
            self.trim_marker = None
        if dropped <= 0:
            return
        noun = "message is" if dropped == 1 else "messages are"
        self.trim_marker = QLabel(
            f"⋯ the {dropped} earlier {noun} beyond the model's context: it no longer sees them "
            "(the system prompt stays) ⋯",
            objectName="trimMarker",
            alignment=Qt.AlignCenter,
            wordWrap=True,
        )
        self.trim_marker.setStyleSheet("color: palette(placeholder-text); font-size: 11px;")
        rows = self.rows()
        before = self._column.indexOf(rows[dropped]) if dropped < len(rows) else self._column.count() - 1
        self._column.insertWidget(before, self.trim_marker)
        self.trim_marker.show()

    def set_token_view(self, on: bool) -> None:
        """Show every reply (and the next ones) token by token, or as plain text."""
        self._token_view = on
        for pane in self.panes():
            pane.set_token_view(on)

    def _add(self, widget: QWidget, align) -> None:
        self.placeholder.hide()
        self._column.insertWidget(self._column.count() - 1, widget, 0, align)
        self._limit_width(widget)
        self._follow = True

    def _remove(self, widget: QWidget) -> None:
        # hidden at once: until Qt deletes it, a widget out of the layout would still paint at its
        # old place, over the rows that move up into it
        self._column.removeWidget(widget)
        widget.hide()
        widget.deleteLater()

    def _limit_width(self, widget: QWidget) -> None:
        """Side-by-side answers take the full width; a lone bubble at most MAX_BUBBLE_FRACTION of it."""
        full = max(self.viewport().width() - 24, 200)
        lone = max(int(full * MAX_BUBBLE_FRACTION), 200)
        if isinstance(widget, ReplyRow):
            widget.setFixedWidth(full if len(widget.panes) > 1 else lone)
        elif isinstance(widget, UserBubble):
            widget.fit(lone)

    def resizeEvent(self, event):
        super().resizeEvent(event)
        for row in self.rows():
            self._limit_width(row)

    # ------------------------------------------------------------------------- follow the new text
    def _on_scrolled(self, value: int) -> None:
        bar = self.verticalScrollBar()
        self._follow = value >= bar.maximum() - 4

    def _on_range_changed(self, _lo: int, hi: int) -> None:
        if self._follow:
            # after the layout settles, so the new maximum is the real bottom
            QTimer.singleShot(0, lambda: self.verticalScrollBar().setValue(self.verticalScrollBar().maximum()))

    def changeEvent(self, event):
        if event.type() == QEvent.PaletteChange:
            for pane in self.panes():
                pane.render()  # token shades are mixed from the palette
        super().changeEvent(event)
