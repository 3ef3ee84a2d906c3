"""The composer: Enter sends, Shift+Enter breaks the line; buttons as signals; state; the warning row."""

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton

from gptstudio.gui.playground.composer import Composer
from gptstudio.gui.state.playground_session import PromptCheck


def make(qtbot):
    composer = Composer()
    qtbot.addWidget(composer)
    composer.show()
    return composer


def test_enter_sends_and_shift_enter_adds_a_line(qtbot):
    composer = make(qtbot)
    composer.prompt_input.setFocus()
    qtbot.keyClicks(composer.prompt_input, "one")
    qtbot.keyClick(composer.prompt_input, Qt.Key_Return, Qt.ShiftModifier)
    qtbot.keyClicks(composer.prompt_input, "two")
    assert composer.text() == "one\ntwo"
    with qtbot.waitSignal(composer.sendRequested):
        qtbot.keyClick(composer.prompt_input, Qt.Key_Enter)
    assert composer.text() == "one\ntwo"  # sending (and clearing) is the tab's business


def test_buttons_are_signals_and_follow_the_state(qtbot):
    composer = make(qtbot)
    composer.set_state(busy=False, can_send=True, can_regenerate=False)
    assert composer.send_button.isEnabled() and not composer.stop_button.isEnabled()
    assert not composer.regenerate_button.isEnabled() and composer.clear_button.isEnabled()
    for button, signal in (
        (composer.send_button, composer.sendRequested),
        (composer.clear_button, composer.clearRequested),
    ):
        with qtbot.waitSignal(signal):
            qtbot.mouseClick(button, Qt.LeftButton)
    composer.set_state(busy=True, can_send=True, can_regenerate=True)
    assert not composer.send_button.isEnabled() and not composer.clear_button.isEnabled()
    assert not composer.regenerate_button.isEnabled()
    with qtbot.waitSignal(composer.stopRequested):
        qtbot.mouseClick(composer.stop_button, Qt.LeftButton)
    composer.set_state(busy=False, can_send=False, can_regenerate=True)
    with qtbot.waitSignal(composer.regenerateRequested):
        qtbot.mouseClick(composer.regenerate_button, Qt.LeftButton)
    assert not composer.send_button.isEnabled()


def test_unknown_characters_warning_and_drop_choice(qtbot):
    composer = make(qtbot)
    composer.show_check(PromptCheck())
    assert not composer.prompt_warning.isVisible() and not composer.drop_unknown_check.isVisible()
    composer.show_check(PromptCheck(("é",)))
    assert composer.prompt_warning.isVisible() and "'é'" in composer.prompt_warning.text()
    assert composer.drop_unknown_check.isVisible()
    with qtbot.waitSignal(composer.promptChanged):
        composer.set_drop_unknown(True)
    assert composer.drop_unknown()
    with qtbot.waitSignal(composer.promptChanged):
        composer.set_text("typed")


def test_mode_placeholder_messages_and_extra_actions(qtbot):
    composer = make(qtbot)
    composer.set_mode("complete")
    assert "continue" in composer.prompt_input.placeholderText()
    composer.set_mode("chat")
    assert "Shift+Enter" in composer.prompt_input.placeholderText()
    composer.say("Saved.")
    assert composer.message.isVisible() and composer.message.text() == "Saved."
    composer.say("")
    assert not composer.message.isVisible()
    composer.show_stats("10 tokens")
    assert composer.generation_stats.text() == "10 tokens"
    extra = QPushButton("Extra")
    composer.add_action(extra)
    assert extra.parent() is composer
    qtbot.waitUntil(extra.isVisible)
