"""The token inspector: the "Token view" switch (replies shown token by token, shaded by probability)
and, for a token of a reply, its probability and the five tokens the model found most likely there.
Hovering shows it as a tooltip too; clicking keeps it here. The switch is a separate widget so the
tab can place it with the reply actions.
"""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtGui import QCursor
from PySide6.QtWidgets import QCheckBox, QLabel, QSizePolicy, QToolTip, QVBoxLayout, QWidget

HINT = (
    "Turn on Token view, then hover over or click a token of a reply to see "
    "the five tokens the model found most likely there."
)


def token_html(piece, index: int) -> str:
    """The chosen token, its probability, and the top alternatives, as a small table."""
    rows = []
    for token, prob in piece.top:
        mark, end = ("<b>", "</b>") if token == piece.token else ("", "")
        rows.append(
            f"<tr><td><code>{mark}{html.escape(repr(token))}{end}</code></td>"
            f"<td align='right'>{mark}{prob * 100:.1f}%{end}</td></tr>"
        )
    return (
        f"Token {index + 1}: <code>{html.escape(repr(piece.token or piece.text))}</code> "
        f"— probability {piece.prob * 100:.1f}%<br><br>Most likely at this point:"
        f"<table cellspacing='6'>{''.join(rows)}</table>"
    )


class TokenInspector(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.view_check = QCheckBox(
            "Token view",
            objectName="tokenViewCheck",
            toolTip="Show replies token by token, shaded by probability (red = the model found it unlikely, "
            "green = near certain). Hover or click a token to see the alternatives.",
        )
        self.details = QLabel(HINT, objectName="tokenDetails", wordWrap=True, textFormat=Qt.RichText)
        self.details.setAlignment(Qt.AlignTop | Qt.AlignLeft)
        self.details.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Expanding)
        self.details.setTextInteractionFlags(Qt.TextSelectableByMouse)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(QLabel("<b>Token</b>"))
        lay.addWidget(self.details, 1)

    def token_view(self) -> bool:
        return self.view_check.isChecked()

    def set_token_view(self, on: bool) -> None:
        self.view_check.setChecked(on)

    def text(self) -> str:
        return self.details.text()

    def show_token(self, pane, index: int) -> bool:
        """Show token `index` of a reply pane; False when there is no such token."""
        if not 0 <= index < len(pane.pieces):
            return False
        self.details.setText(token_html(pane.pieces[index], index))
        return True

    def hover(self, pane, index: int) -> None:
        """The pointer is over a token (index -1: it left the tokens): show it here and as a tooltip."""
        if self.show_token(pane, index):
            QToolTip.showText(QCursor.pos(), self.text(), pane.body)
        else:
            QToolTip.hideText()
