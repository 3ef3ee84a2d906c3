"""The chat view and its reply panes: streaming text, token view, kept replies, rows, opened messages."""

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QGuiApplication

from gptstudio.core.conversation import Message
from gptstudio.core.sampler import TokenPiece
from gptstudio.gui.playground.chat_view import ChatView, ReplyRow, UserBubble


def pieces(text, start=0, prob=0.5):
    return [
        TokenPiece(text=c, token_id=i, prob=prob, top=[(c, prob), ("?", 0.1)], index=start + i, sample=0, token=c)
        for i, c in enumerate(text)
    ]


def make_view(qtbot):
    view = ChatView()
    qtbot.addWidget(view)
    view.resize(700, 500)
    view.show()
    return view


def test_bubbles_and_rows(qtbot):
    view = make_view(qtbot)
    view.set_placeholder("Nothing here yet")
    assert view.placeholder.isVisible()
    view.add_user("Hello\nthere")
    row = view.add_reply(["a", "b"], group=1)
    assert not view.placeholder.isVisible()
    assert [type(r) for r in view.rows()] == [UserBubble, ReplyRow]
    assert view.rows()[0].text == "Hello\nthere" and row.group == 1
    assert [p.title for p in view.panes()] == ["a", "b"]
    assert row.panes[0].body.toPlainText() == "…"  # waiting for the first token
    old_rows = view.rows()
    view.mark_trimmed(1)
    marker = view.trim_marker
    view.clear()
    assert view.rows() == [] and view.placeholder.isVisible()
    # gone from sight at once, not when Qt gets round to deleting them (they would paint over new rows)
    assert not any(w.isVisible() for w in [*old_rows, marker])


def test_pieces_stream_into_a_pane_and_copy(qtbot):
    view = make_view(qtbot)
    pane = view.add_reply([""], group=1).panes[0]
    assert not pane.header.isVisible()
    pane.append(pieces("Hel"))
    pane.append(pieces("lo", start=3))
    assert pane.text == pane.reply_text == "Hello" and len(pane.pieces) == 5
    assert pane.body.toPlainText() == "Hello"
    pane.set_footer("5 tokens")
    qtbot.mouseClick(pane.copy_button, Qt.LeftButton)
    assert QGuiApplication.clipboard().text() == "Hello"


def test_token_view_draws_each_token_as_a_link(qtbot):
    view = make_view(qtbot)
    first = view.add_reply(["a"], group=1).panes[0]
    first.append(pieces("ab\nc"))
    view.set_token_view(True)
    assert first.body.toHtml().count('href="tok:') == 4 and "↵" in first.body.toPlainText()
    later = view.add_reply(["b"], group=2).panes[0]  # new replies follow the view's setting
    later.append(pieces("xy"))
    assert later.body.toHtml().count('href="tok:') == 2
    with qtbot.waitSignal(view.tokenHovered) as hovered:
        later.body.highlighted.emit(QUrl("tok:1"))
    assert hovered.args == [later, 1]
    with qtbot.waitSignal(view.tokenClicked) as clicked:
        first.body.anchorClicked.emit(QUrl("https://elsewhere"))
    assert clicked.args == [first, -1]
    view.set_token_view(False)
    assert 'href="tok:' not in first.body.toHtml() and first.body.toPlainText() == "ab\nc"


def test_a_kept_reply_is_part_of_what_streamed(qtbot):
    view = make_view(qtbot)
    pane = view.add_reply(["a"], group=1).panes[0]
    pane.append(pieces(" Well met.\nUser: x"))
    pane.set_final_text("Well met.")
    assert pane.reply_text == "Well met." and pane.body.toPlainText() == "Well met."
    assert pane.body.copy_text == "Well met."
    indexes = [i for i, _ in pane.visible_pieces()]
    assert indexes == list(range(1, 10))  # the tokens of "Well met."
    pane.set_token_view(True)
    assert pane.body.toHtml().count('href="tok:') == 9


def test_an_error_replaces_the_reply(qtbot):
    view = make_view(qtbot)
    pane = view.add_reply(["a"], group=1).panes[0]
    pane.append(pieces("half"))
    pane.show_error("Generation failed: out of memory")
    assert pane.failed and pane.pieces == [] and pane.reply_text == "Generation failed: out of memory"


def test_remove_last_exchange(qtbot):
    view = make_view(qtbot)
    view.add_user("one")
    view.add_reply(["a"], group=1)
    view.add_user("two")
    view.add_reply(["a"], group=2)
    view.add_reply(["b"], group=2)
    view.remove_last_exchange()
    qtbot.waitUntil(lambda: len(view.rows()) == 2)
    assert [getattr(r, "text", None) for r in view.rows()] == ["one", None]


def test_show_opened_messages(qtbot):
    view = make_view(qtbot)
    view.show_messages(
        [
            Message("user", "Hi"),
            Message("model", "Hello", label="a/latest", group=1, meta={"tokens": 5, "seed": 3}),
            Message("model", "Hey", label="b/best", group=1),
        ]
    )
    user, row = view.rows()
    assert user.text == "Hi"
    assert [p.title for p in row.panes] == ["a/latest", "b/best"]
    assert [p.reply_text for p in row.panes] == ["Hello", "Hey"]
    assert row.panes[0].footer.text() == "5 tokens · seed 3"
