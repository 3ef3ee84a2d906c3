"""The Playground tab with a tiny trained char model: streaming, stop, seeds, vocabulary, compare, files."""

import itertools
import os
import pickle
import time
from pathlib import Path

import pytest
import torch
from PySide6.QtCore import QEventLoop, Qt, QTimer, QUrl

from gptstudio.core.conversation import load_conversation
from gptstudio.core.workspace import Workspace
from gptstudio.gui.chat_widgets import ReplyRow, UserBubble
from gptstudio.gui.playground_tab import PlaygroundTab
from gptstudio.gui.settings import AppSettings
from tests.gui.playground_fixtures import install_run, make_checkpoints

SCREENSHOT_DIR = os.environ.get("GPTSTUDIO_SCREENSHOT_DIR")  # keep the tab's screenshot there


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread():
    """A 30k-parameter model gains nothing from parallel matmuls, and on a busy shared machine the
    thread hand-offs make generation up to 40x slower: use one intra-op thread in these tests."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def _event_loops_work(qapp):
    """A test that ran QApplication.exec() and then got a second quit request (closing the last window
    also quits) leaves Qt's "quit now" flag set: every later QEventLoop.exec(), and so every qtbot wait,
    returns at once. A short exec() of the application clears the flag."""
    probe = QEventLoop()
    QTimer.singleShot(0, probe.quit)
    if probe.exec() == -1:
        QTimer.singleShot(0, qapp.quit)
        qapp.exec()


@pytest.fixture(scope="session")
def tiny_run_source(tmp_path_factory, shakespeare_text):
    return make_checkpoints(tmp_path_factory.mktemp("tiny_run"), shakespeare_text[:100_000])


def make_tab(qtbot, home, settings=None):
    tab = PlaygroundTab(Workspace.open(home), settings or AppSettings())
    qtbot.addWidget(tab)
    tab.resize(1100, 760)
    tab.show()
    return tab


@pytest.fixture
def tab(qtbot, home, tiny_run_source):
    install_run(home, tiny_run_source)
    t = make_tab(qtbot, home)
    qtbot.waitUntil(t.models_ready, timeout=30_000)
    yield t
    t.shutdown()


def set_mode(tab, mode):
    tab.mode_combo.setCurrentIndex(tab.mode_combo.findData(mode))


def send_and_wait(qtbot, tab, text, timeout=30_000):
    tab.prompt_input.setPlainText(text)
    with qtbot.waitSignal(tab.sig_reply_finished, timeout=timeout):
        qtbot.mouseClick(tab.send_button, Qt.LeftButton)
    return tab.chat_view.rows()[-1]


def texts(row):
    return [pane.reply_text for pane in row.panes]


OBJECT_NAMES = [
    "checkpointCombo",
    "openCheckpointButton",
    "modeCombo",
    "compareCheck",
    "compareCheckpointCombo",
    "chatView",
    "promptInput",
    "sendButton",
    "stopGenerationButton",
    "regenerateButton",
    "clearButton",
    "saveConversationButton",
    "openConversationButton",
    "tokenViewCheck",
    "tokenDetails",
    "generationStats",
    "promptWarning",
    "dropUnknownCheck",
    "temperatureSpin",
    "topKSpin",
    "topPSpin",
    "repetitionPenaltySpin",
    "maxTokensSpin",
    "seedSpin",
    "numSamplesSpin",
    "stopSequencesEdit",
]


def test_controls_have_their_object_names(tab):
    from PySide6.QtWidgets import QWidget

    missing = [name for name in OBJECT_NAMES if tab.findChild(QWidget, name) is None]
    assert missing == []
    assert tab.findChild(QWidget, "seedSpin").specialValueText() == "random"
    assert not tab.stop_button.isEnabled() and tab.send_button.isEnabled()


def test_lists_each_runs_checkpoints_with_details(tab):
    items = [tab.checkpoint_combo.itemText(i) for i in range(tab.checkpoint_combo.count())]
    assert len(items) == 2
    assert items[0].startswith("tiny/latest") and "iter 100" in items[0] and "char" in items[0]
    assert items[1].startswith("tiny/best") and "iter 30" in items[1] and "val " in items[1]
    assert "tiny_shakespeare" in items[0]
    assert "tiny/latest" in tab.model_status.text() and "char tokenizer" in tab.model_status.text()


def test_reply_streams_in_several_updates(qtbot, tab):
    """A long completion arrives in many UI updates, not all at once at the end."""
    set_mode(tab, "complete")
    tab.sampling.max_tokens.setValue(300)
    row = send_and_wait(qtbot, tab, "ROMEO:")
    assert tab.update_count > 1
    assert len(row.panes[0].pieces) == 300
    assert len(texts(row)[0]) > 200
    assert "tokens/s" in tab.generation_stats.text()
    assert [m.role for m in tab.conversation.messages] == ["user", "model"]
    assert isinstance(tab.chat_view.rows()[0], UserBubble)


def test_chat_reply_is_recorded_and_followed_by_the_next_turn(qtbot, tab):
    tab.sampling.seed.setValue(3)
    tab.sampling.max_tokens.setValue(80)
    send_and_wait(qtbot, tab, "Good morrow, who art thou?")
    send_and_wait(qtbot, tab, "What news?")
    roles = [m.role for m in tab.conversation.messages]
    assert roles == ["user", "model", "user", "model"]
    reply = tab.conversation.messages[1].text
    assert "\nUser:" not in reply and reply == reply.strip()
    assert tab.conversation.messages[1].meta["seed"] == 3


def test_stop_ends_a_long_reply_quickly(qtbot, tab):
    set_mode(tab, "complete")
    tab.sampling.max_tokens.setValue(100_000)
    tab.prompt_input.setPlainText("KING:")
    qtbot.mouseClick(tab.send_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: tab.update_count >= 2, timeout=10_000)
    assert tab.stop_button.isEnabled() and not tab.send_button.isEnabled()
    with qtbot.waitSignal(tab.sig_reply_finished, timeout=2_000):
        started = time.perf_counter()
        qtbot.mouseClick(tab.stop_button, Qt.LeftButton)
    assert time.perf_counter() - started < 1.0
    pane = tab.chat_view.rows()[-1].panes[0]
    assert 0 < len(pane.pieces) < 100_000
    assert "stopped" in pane.footer.text()
    assert tab.conversation.messages[-1].meta["stopped"] is True
    assert tab.send_button.isEnabled() and not tab.stop_button.isEnabled()


def test_same_seed_gives_the_same_reply(qtbot, tab):
    set_mode(tab, "complete")
    tab.sampling.max_tokens.setValue(30)
    tab.sampling.seed.setValue(1234)
    first = texts(send_and_wait(qtbot, tab, "First Citizen:"))
    second = texts(send_and_wait(qtbot, tab, "First Citizen:"))
    tab.sampling.seed.setValue(99)
    third = texts(send_and_wait(qtbot, tab, "First Citizen:"))
    assert first == second
    assert first != third


def test_regenerate_replaces_the_last_reply(qtbot, tab):
    tab.sampling.max_tokens.setValue(40)
    tab.sampling.seed.setValue(5)
    first = texts(send_and_wait(qtbot, tab, "Hello"))
    with qtbot.waitSignal(tab.sig_reply_finished, timeout=30_000):
        qtbot.mouseClick(tab.regenerate_button, Qt.LeftButton)
    assert texts(tab.chat_view.rows()[-1]) == first  # the same seed: the same answer
    assert [m.role for m in tab.conversation.messages] == ["user", "model"]
    assert len(tab.chat_view.rows()) == 2


def test_unknown_characters_are_pointed_out_before_sending(qtbot, tab):
    tab.prompt_input.setPlainText("Héllo ☃ friend")
    assert tab.prompt_warning.isVisible()
    assert "'é'" in tab.prompt_warning.text() and "'☃'" in tab.prompt_warning.text()
    assert tab.drop_unknown_check.isVisible()
    qtbot.mouseClick(tab.send_button, Qt.LeftButton)
    assert tab.conversation.messages == [] and not tab.generating()
    assert "not sent" in tab.message.text()
    assert tab.prompt_input.toPlainText() == "Héllo ☃ friend"  # nothing typed is lost

    tab.drop_unknown_check.setChecked(True)
    assert "left out" in tab.prompt_warning.text()
    tab.sampling.max_tokens.setValue(20)
    row = send_and_wait(qtbot, tab, "Héllo ☃ friend")
    assert len(row.panes[0].pieces) > 0
    tab.prompt_input.setPlainText("plain words")
    assert not tab.prompt_warning.isVisible()


def test_ui_stays_responsive_while_generating(qtbot, tab):
    """A 10 ms timer keeps firing while a long reply streams into the token view."""
    set_mode(tab, "complete")
    tab.sampling.max_tokens.setValue(100_000)
    tab.token_view_check.setChecked(True)  # the heavier rendering
    ticks = []
    probe = QTimer()
    probe.setInterval(10)
    probe.timeout.connect(lambda: ticks.append(time.perf_counter()))
    tab.prompt_input.setPlainText("To be")
    qtbot.mouseClick(tab.send_button, Qt.LeftButton)
    probe.start()
    qtbot.wait(1500)
    probe.stop()
    with qtbot.waitSignal(tab.sig_reply_finished, timeout=5_000):
        tab.stop()
    gaps = [b - a for a, b in itertools.pairwise(ticks)]
    assert tab.update_count > 5 and len(ticks) > 20
    assert max(gaps) < 0.2, f"event loop blocked for {max(gaps) * 1000:.0f} ms"


def test_compare_mode_answers_with_two_checkpoints(qtbot, tab):
    set_mode(tab, "complete")
    tab.compare_check.setChecked(True)
    assert tab.compare_combo.isEnabled()
    assert tab.compare_combo.currentText().startswith("tiny/best")
    qtbot.waitUntil(tab.models_ready, timeout=15_000)
    tab.sampling.max_tokens.setValue(50)
    tab.sampling.seed.setValue(11)
    row = send_and_wait(qtbot, tab, "MENENIUS:")
    assert [p.title for p in row.panes] == ["tiny/latest", "tiny/best"]
    a, b = texts(row)
    assert a and b and a != b  # different weights, same seed and settings
    models = [m for m in tab.conversation.messages if m.role == "model"]
    assert [m.label for m in models] == ["tiny/latest", "tiny/best"]
    assert models[0].group == models[1].group
    assert {m.meta["seed"] for m in models} == {11}


def test_complete_mode_shows_samples_side_by_side(qtbot, tab):
    set_mode(tab, "complete")
    tab.sampling.num_samples.setValue(3)
    tab.sampling.max_tokens.setValue(40)
    row = send_and_wait(qtbot, tab, "The ")
    assert isinstance(row, ReplyRow) and len(row.panes) == 3
    assert [p.title for p in row.panes] == ["sample 1", "sample 2", "sample 3"]
    assert len(set(texts(row))) == 3
    set_mode(tab, "chat")
    assert not tab.sampling.num_samples.isEnabled()


def test_stop_sequences_cut_the_reply(qtbot, tab):
    set_mode(tab, "complete")
    tab.sampling.max_tokens.setValue(300)
    tab.sampling.stop_edit.setText(r"e, \n")
    row = send_and_wait(qtbot, tab, "Th")
    reply = texts(row)[0]
    assert "e" not in reply and "\n" not in reply
    assert len(row.panes[0].pieces) < 300


def test_token_view_shows_probabilities_and_alternatives(qtbot, tab):
    tab.sampling.max_tokens.setValue(30)
    set_mode(tab, "complete")
    row = send_and_wait(qtbot, tab, "Hark")
    pane = row.panes[0]
    assert 'href="tok:' not in pane.body.toHtml()
    tab.token_view_check.setChecked(True)
    assert pane.body.toHtml().count('href="tok:') == 30
    pane.body.highlighted.emit(QUrl("tok:0"))
    details = tab.token_details.text()
    assert "Token 1" in details and "%" in details
    assert details.count("<tr>") == 5
    tab.token_view_check.setChecked(False)
    assert 'href="tok:' not in pane.body.toHtml()
    assert pane.body.toPlainText() == pane.reply_text


def test_enter_sends_and_shift_enter_adds_a_line(qtbot, tab):
    tab.sampling.max_tokens.setValue(10)
    tab.prompt_input.setFocus()
    qtbot.keyClicks(tab.prompt_input, "one")
    qtbot.keyClick(tab.prompt_input, Qt.Key_Return, Qt.ShiftModifier)
    qtbot.keyClicks(tab.prompt_input, "two")
    assert tab.prompt_input.toPlainText() == "one\ntwo"
    with qtbot.waitSignal(tab.sig_reply_finished, timeout=30_000):
        qtbot.keyClick(tab.prompt_input, Qt.Key_Return)
    assert tab.conversation.messages[0].text == "one\ntwo"
    assert tab.prompt_input.toPlainText() == ""


@pytest.mark.parametrize("name", ["chat.json", "chat.md"])
def test_save_and_open_a_conversation(qtbot, tab, tmp_path, name):
    tab.sampling.max_tokens.setValue(30)
    tab.sampling.seed.setValue(8)
    send_and_wait(qtbot, tab, "Speak, friend.")
    before = tab.conversation.to_dict()
    assert tab.save_conversation_to(tmp_path / name)
    assert load_conversation(tmp_path / name).messages == tab.conversation.messages

    qtbot.mouseClick(tab.clear_button, Qt.LeftButton)
    assert tab.chat_view.rows() == [] and tab.conversation.messages == []
    assert tab.open_conversation_from(tmp_path / name)
    assert tab.conversation.to_dict()["messages"] == before["messages"]
    rows = tab.chat_view.rows()
    assert isinstance(rows[0], UserBubble) and rows[0].text == "Speak, friend."
    assert texts(rows[1]) == [before["messages"][1]["text"]]
    # the conversation goes on from the opened transcript
    send_and_wait(qtbot, tab, "And then?")
    assert len(tab.conversation.messages) == 4


def test_opening_a_bad_conversation_file_says_why(tab, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{oops", encoding="utf-8")
    assert not tab.open_conversation_from(bad)
    assert "not valid JSON" in tab.message.text()


def test_copy_a_reply(qtbot, tab):
    from PySide6.QtGui import QGuiApplication

    tab.sampling.max_tokens.setValue(20)
    row = send_and_wait(qtbot, tab, "Copy me")
    qtbot.mouseClick(row.panes[0].copy_button, Qt.LeftButton)
    assert QGuiApplication.clipboard().text() == row.panes[0].reply_text


def test_open_a_nanogpt_checkpoint_file(qtbot, tab, tiny_run_source, tmp_path):
    """A plain nanoGPT out_dir: ckpt.pt without tokenizer info, meta.pkl with the vocabulary beside it."""
    ckpt = torch.load(tiny_run_source / "ckpt.pt", weights_only=True)
    chars = ckpt["tokenizer"]["chars"]
    plain = {k: ckpt[k] for k in ("model", "optimizer", "model_args", "iter_num", "best_val_loss", "config")}
    out = tmp_path / "out-shakespeare-char"
    out.mkdir()
    torch.save(plain, out / "ckpt.pt")
    with open(out / "meta.pkl", "wb") as f:
        pickle.dump(
            {"vocab_size": len(chars), "itos": dict(enumerate(chars)), "stoi": {c: i for i, c in enumerate(chars)}}, f
        )
    info = tab.add_checkpoint_file(out / "ckpt.pt")
    assert info is not None
    assert tab.checkpoint_combo.currentText().startswith("ckpt.pt")
    qtbot.waitUntil(tab.models_ready, timeout=15_000)
    tab.sampling.max_tokens.setValue(20)
    row = send_and_wait(qtbot, tab, "Hi")
    assert len(row.panes[0].pieces) > 0

    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    assert tab.add_checkpoint_file(junk) is None
    assert "junk.pt" in tab.message.text()


def test_a_damaged_run_checkpoint_is_reported_not_fatal(qtbot, home, tiny_run_source):
    install_run(home, tiny_run_source)
    broken = home / "runs" / "broken"
    broken.mkdir()
    (broken / "ckpt.pt").write_bytes(b"\x00garbage")
    tab = make_tab(qtbot, home)
    try:
        assert tab.checkpoint_combo.count() == 2
        assert "broken/latest" in tab.message.text()
    finally:
        tab.shutdown()


def test_empty_workspace_explains_what_to_do(qtbot, home):
    tab = make_tab(qtbot, home)
    assert not tab.send_button.isEnabled()
    assert "No checkpoints yet" in tab.checkpoint_combo.currentText()
    assert "Training tab" in tab.chat_view.placeholder.text()
    tab.prompt_input.setPlainText("hello")
    assert tab.send() is False
    tab.shutdown()


def test_settings_are_remembered(qtbot, home, tiny_run_source):
    install_run(home, tiny_run_source)
    settings = AppSettings()
    first = make_tab(qtbot, home, settings)
    first.sampling.temperature.setValue(0.5)
    first.sampling.seed.setValue(7)
    first.sampling.stop_edit.setText(r"\n\n")
    set_mode(first, "complete")
    first.token_view_check.setChecked(True)
    first.checkpoint_combo.setCurrentIndex(1)
    first.shutdown()  # saves what was pending

    second = make_tab(qtbot, home, AppSettings(settings.path))
    assert second.sampling.temperature.value() == 0.5
    assert second.sampling.seed.value() == 7
    assert second.sampling.stop_edit.text() == r"\n\n"
    assert second.mode() == "complete"
    assert second.token_view_check.isChecked()
    assert second.checkpoint_combo.currentText().startswith("tiny/best")
    second.shutdown()


def test_new_checkpoints_appear_on_refresh(qtbot, home, tiny_run_source):
    tab = make_tab(qtbot, home)
    assert tab.checkpoint_combo.itemData(0) is None
    install_run(home, tiny_run_source, name="later")
    tab.refresh_checkpoints()
    assert tab.checkpoint_combo.currentText().startswith("later/latest")
    qtbot.waitUntil(tab.models_ready, timeout=15_000)
    assert tab.send_button.isEnabled()
    tab.shutdown()


def test_screenshot(qtbot, tab, tmp_path):
    """Render a conversation with compare and token view (kept when SCREENSHOT_DIR is set)."""
    tab.sampling.max_tokens.setValue(80)
    tab.sampling.seed.setValue(42)
    send_and_wait(qtbot, tab, "Good morrow, who art thou?")
    tab.compare_check.setChecked(True)
    qtbot.waitUntil(tab.models_ready, timeout=15_000)
    tab.token_view_check.setChecked(True)
    send_and_wait(qtbot, tab, "What news from the court?")
    tab.chat_view.rows()[-1].panes[0].body.highlighted.emit(QUrl("tok:2"))
    path = Path(SCREENSHOT_DIR or tmp_path) / "playground.png"
    assert tab.grab().save(str(path))
    assert path.stat().st_size > 10_000
