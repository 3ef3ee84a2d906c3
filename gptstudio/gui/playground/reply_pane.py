"""One model answer in the chat view: header (who), the text as it streams in, footer (numbers + Copy).

The text shows plainly, or token by token (token view), each token shaded by how probable the model
found it; hovering or clicking a token is signalled so the token inspector can show the alternatives.
Colours come from the palette, so the bubbles read well in light and dark themes.
"""

from __future__ import annotations

import math

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QGuiApplication, QPalette, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QMenu, QSizePolicy, QTextBrowser, QToolButton, QVBoxLayout

from gptstudio.gui.playground.style import ERROR_COLOUR

# token shades: the hue runs from red (the model found the token unlikely) to green (near certain),
# mixed into the bubble's own background so the text stays readable in light and dark themes
SHADE_STRENGTH = 0.5


def _mix(a: QColor, b: QColor, t: float) -> QColor:
    t = min(max(t, 0.0), 1.0)
    return QColor(
        round(a.red() + (b.red() - a.red()) * t),
        round(a.green() + (b.green() - a.green()) * t),
        round(a.blue() + (b.blue() - a.blue()) * t),
    )


def probability_colour(p: float, background: QColor) -> QColor:
    """Background colour for a token of probability p: red (0) through yellow to green (1)."""
    p = min(max(float(p), 0.0), 1.0)
    return _mix(background, QColor.fromHsvF(p / 3, 0.85, 0.95), SHADE_STRENGTH)


def copy_to_clipboard(text: str) -> None:
    QGuiApplication.clipboard().setText(text)


def _visible(label: str) -> str:
    """A token's text in token view: a newline shows as ↵ (then breaks the line), a tab as →."""
    return label.replace("\r", "").replace("\t", "→").replace("\n", "↵\n") or "∅"


def _token_index(url) -> int:
    href = url.toString()
    try:
        return int(href.split(":", 1)[1]) if href.startswith("tok:") else -1
    except ValueError:
        return -1


class ReplyBody(QTextBrowser):
    """The text of a reply, appended piece by piece.

    A QLabel re-lays out all of its text on every change, which takes hundreds of milliseconds once
    a reply has a few thousand characters. A text document only lays out the paragraph that grew,
    so streaming costs the same at token 10 and token 10,000. The widget is as tall as its text;
    the chat view scrolls, not the bubble.
    """

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setOpenLinks(False)
        self.setFrameShape(QFrame.NoFrame)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)
        self.viewport().setAutoFillBackground(False)
        self.setStyleSheet("QTextBrowser { background: transparent; }")
        self.document().setDocumentMargin(1)
        self.document().setUndoRedoEnabled(False)  # read-only: an undo history would only grow
        self.document().documentLayout().documentSizeChanged.connect(self._fit_height)
        self.setContextMenuPolicy(Qt.CustomContextMenu)
        self.customContextMenuRequested.connect(self._menu)
        self.copy_text = ""  # what "Copy message" copies: the reply's plain text, also in token view
        self._fit_height(self.document().size())

    def _fit_height(self, size) -> None:
        self.setFixedHeight(math.ceil(size.height()) + 2)

    def wheelEvent(self, event):
        event.ignore()  # never scrolls itself: let the chat view scroll

    def _menu(self, pos):
        menu = QMenu(self)
        selected = self.textCursor().selectedText().replace("\u2029", "\n")
        if selected:
            menu.addAction("Copy selection", lambda: copy_to_clipboard(selected))
        menu.addAction("Copy message", lambda: copy_to_clipboard(self.copy_text))
        menu.exec(self.mapToGlobal(pos))

    def _end(self) -> QTextCursor:
        cursor = QTextCursor(self.document())
        cursor.movePosition(QTextCursor.End)
        return cursor

    def add_text(self, text: str, colour: QColor) -> None:
        fmt = QTextCharFormat()
        fmt.setForeground(colour)
        self._end().insertText(text, fmt)

    def add_tokens(self, indexed_pieces, colour: QColor, background: QColor) -> None:
        """Each token an anchor "tok:<index>", shaded by its probability."""
        cursor = self._end()
        cursor.beginEditBlock()  # one layout pass for the whole batch, not one per token
        for i, piece in indexed_pieces:
            fmt = QTextCharFormat()
            fmt.setForeground(colour)
            fmt.setBackground(probability_colour(piece.prob, background))
            fmt.setAnchor(True)
            fmt.setAnchorHref(f"tok:{i}")
            cursor.insertText(_visible(piece.token or piece.text), fmt)
        cursor.endEditBlock()


class ReplyPane(QFrame):
    """One model answer: header (who), the text (streams in), footer (stats + Copy)."""

    tokenHovered = Signal(object, int)  # (pane, token index), index -1 when the pointer leaves tokens
    tokenClicked = Signal(object, int)

    def __init__(self, title: str, parent=None, token_view: bool = False):
        super().__init__(parent)
        self.setObjectName("modelBubble")
        self.title = title
        self.pieces = []  # TokenPiece objects, in order
        self.text = ""  # everything streamed so far
        self.span = None  # (start, end) of `text` kept as the reply; None = all of it
        self.token_view = token_view
        self.failed = False
        self.header = QLabel(title, self)
        self.header.setObjectName("bubbleHeader")
        self.header.setVisible(bool(title))
        self.body = ReplyBody(self)
        self.body.highlighted.connect(lambda url: self.tokenHovered.emit(self, _token_index(url)))
        self.body.anchorClicked.connect(lambda url: self.tokenClicked.emit(self, _token_index(url)))
        self.footer = QLabel("", self)
        self.footer.setObjectName("bubbleFooter")
        self.copy_button = QToolButton(self)
        self.copy_button.setObjectName("copyButton")
        self.copy_button.setText("Copy")
        self.copy_button.setToolTip("Copy this reply to the clipboard")
        self.copy_button.clicked.connect(lambda: copy_to_clipboard(self.reply_text))
        foot = QHBoxLayout()
        foot.addWidget(self.footer, 1)
        foot.addWidget(self.copy_button)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(12, 6, 12, 6)
        lay.setSpacing(4)
        lay.addWidget(self.header)
        lay.addWidget(self.body)
        lay.addLayout(foot)
        self.render()

    @property
    def reply_text(self) -> str:
        return self.text if self.span is None else self.text[self.span[0] : self.span[1]]

    def _colours(self) -> tuple[QColor, QColor]:
        fg = self.palette().color(QPalette.Text)
        return (QColor(ERROR_COLOUR) if self.failed else fg), self.palette().color(QPalette.AlternateBase)

    def append(self, pieces) -> None:
        """Add streamed pieces; only the new text is drawn."""
        if not self.pieces:
            self.body.clear()  # the "…" placeholder
        first = len(self.pieces)
        self.pieces.extend(pieces)
        added = "".join(p.text for p in pieces)
        self.text += added
        self.body.copy_text = self.reply_text
        colour, background = self._colours()
        if self.token_view:
            self.body.add_tokens(enumerate(pieces, first), colour, background)
        else:
            self.body.add_text(added, colour)

    def set_final_text(self, text: str) -> None:
        """The reply as kept: part of the streamed text (chat replies are cut and trimmed), or text
        opened from a file (then there are no tokens to show)."""
        at = self.text.find(text) if text else 0
        if self.pieces and text == self.text and self.span is None:
            return  # the streamed text is the reply: what is drawn is right already
        if at >= 0 and (text or not self.pieces):
            self.span = (at, at + len(text))
        else:
            self.text, self.pieces, self.span = text, [], None
        self.render()

    def show_error(self, message: str) -> None:
        self.failed = True
        self.text, self.pieces, self.span = message, [], None
        self.render()

    def set_footer(self, text: str) -> None:
        self.footer.setText(text)

    def set_token_view(self, on: bool) -> None:
        if on != self.token_view:
            self.token_view = on
            self.render()

    def render(self) -> None:
        """Draw the whole reply again (after a cut, a view switch or a theme change)."""
        self.body.clear()
        self.body.copy_text = self.reply_text
        colour, background = self._colours()
        if self.token_view and self.pieces:
            self.body.add_tokens(self.visible_pieces(), colour, background)
        else:
            self.body.add_text(self.reply_text or ("" if self.footer.text() else "…"), colour)

    def visible_pieces(self) -> list[tuple[int, object]]:
        """(index, piece) of the tokens that make up the kept reply. A piece whose text was held back
        (it might have started a stop sequence) sits where its text finally appeared."""
        if self.span is None:
            return list(enumerate(self.pieces))
        start, end = self.span
        out, at = [], 0
        for i, p in enumerate(self.pieces):
            if start <= at < end or (p.text and at < end and at + len(p.text) > start):
                out.append((i, p))
            at += len(p.text)
        return out
