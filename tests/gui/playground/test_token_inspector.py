"""The token inspector: a token's probability and the top alternatives."""

from gptstudio.core.sampler import TokenPiece
from gptstudio.gui.playground.token_inspector import HINT, TokenInspector, token_html


class Pane:
    def __init__(self, pieces):
        self.pieces, self.body = pieces, None


def piece(token, prob, top):
    return TokenPiece(text=token, token_id=0, prob=prob, top=top, index=0, sample=0, token=token)


def test_token_html_marks_the_chosen_token():
    text = token_html(piece("b", 0.25, [("a", 0.5), ("b", 0.25), ("<", 0.125)]), 2)
    assert text.startswith("Token 3: <code>&#x27;b&#x27;</code> — probability 25.0%")
    assert text.count("<tr>") == 3 and "<b>&#x27;b&#x27;</b>" in text and "&#x27;&lt;&#x27;" in text


def test_show_and_hover(qtbot):
    inspector = TokenInspector()
    qtbot.addWidget(inspector)
    assert inspector.text() == HINT
    pane = Pane([piece("a", 0.9, [("a", 0.9)]), piece("b", 0.1, [("a", 0.8), ("b", 0.1)])])
    assert inspector.show_token(pane, 1)
    assert "Token 2" in inspector.text() and "10.0%" in inspector.text()
    assert not inspector.show_token(pane, 5) and "Token 2" in inspector.text()  # kept
    inspector.hover(pane, -1)  # the pointer left the tokens: the last one stays shown
    assert "Token 2" in inspector.text()
