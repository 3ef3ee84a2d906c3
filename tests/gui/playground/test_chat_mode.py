"""Chat mode with a chat model: the chat template, a reply that stops by itself, the system prompt, the
oldest exchanges dropped with a visible marker; base models labelled as continuing text."""

import pytest
from PySide6.QtCore import Qt

from gptstudio.core.conversation import load_conversation
from gptstudio.gui.playground.chat_view import UserBubble
from tests.core.chat_helpers import scripted_chat_run

CHARS = "abcdefghijklmnopqrstuvwxyz ?.,"


def send_and_wait(qtbot, tab, text, timeout=30_000):
    tab.composer.prompt_input.setPlainText(text)
    with qtbot.waitSignal(tab.sig_reply_finished, timeout=timeout):
        qtbot.mouseClick(tab.composer.send_button, Qt.LeftButton)
    return tab.chat_view.rows()[-1]


@pytest.fixture
def chat_tab(qtbot, home, make_tab):
    scripted_chat_run(home, "chatty", CHARS, "Ok!", block_size=48)
    tab = make_tab()
    qtbot.waitUntil(tab.models_ready, timeout=30_000)
    return tab


def test_a_chat_model_answers_in_its_template_and_stops_by_itself(qtbot, chat_tab):
    tab = chat_tab
    combo = tab.models.picker.combo
    assert "chatty/latest" in combo.currentText() and "chat" in combo.currentText().split(" · ")
    assert tab.mode_choice.hint.text() == "chat model: answers"
    assert "chatty/latest: chat model" in tab.models.status.text()
    tab.sampling.max_tokens.setValue(40)
    row = send_and_wait(qtbot, tab, "how are you?")
    pane = row.panes[0]
    assert pane.reply_text == "Ok!" and "<|" not in pane.text  # never a special token on screen
    assert pane.footer.text().startswith("4 tokens") and "stopped" not in pane.footer.text()  # Ok! + end of turn
    assert tab.conversation.messages[-1].text == "Ok!"
    assert tab.findChild(type(tab.chat_view.placeholder), "trimMarker") is None


def test_system_prompt_and_trimming_the_oldest_exchanges(qtbot, chat_tab, tmp_path):
    tab = chat_tab
    tab.sampling.max_tokens.setValue(8)  # the context keeps 8 tokens free for the reply: 40 for the chat
    tab.system_prompt.edit.setPlainText("be brief.")
    assert tab.session.system_prompt == "be brief."
    for text in ("first question", "second one", "third"):
        send_and_wait(qtbot, tab, text)
    marker = tab.chat_view.trim_marker
    assert marker is not None and marker.isVisible()
    assert "earlier messages are beyond the model's context" in marker.text() and "system prompt stays" in marker.text()
    # the marker sits before the first message the model still sees: whole exchanges went
    column = tab.chat_view.widget().layout()
    rows = tab.chat_view.rows()
    at = column.indexOf(marker)
    first_kept = next(r for r in rows if column.indexOf(r) > at)
    assert isinstance(first_kept, UserBubble)
    dropped = sum(1 for r in rows if column.indexOf(r) < at)
    assert dropped % 2 == 0 and 0 < dropped < len(rows)
    assert f"the {dropped} earlier messages" in marker.text()
    # every reply still ended by itself
    assert [m.text for m in tab.conversation.messages if m.role == "model"] == ["Ok!"] * 3
    # the system prompt is saved with the conversation and comes back with it
    assert tab.save_conversation_to(tmp_path / "c.json")
    assert load_conversation(tmp_path / "c.json").settings["system_prompt"] == "be brief."
    tab.clear()
    assert tab.chat_view.trim_marker is None
    tab.system_prompt.edit.setPlainText("")
    assert tab.open_conversation_from(tmp_path / "c.json")
    assert tab.system_prompt.text() == "be brief."


def test_a_base_model_is_labelled_as_continuing_text(qtbot, install_run, make_tab):
    install_run()
    tab = make_tab()
    qtbot.waitUntil(tab.models_ready, timeout=30_000)
    assert tab.mode_choice.hint.text() == "base model: continues text"
    assert "base model (continues text)" in tab.models.status.text()
    tab.mode_choice.combo.setCurrentIndex(tab.mode_choice.combo.findData("complete"))
    assert not tab.mode_choice.hint.isVisible() and not tab.system_prompt.isVisible()
