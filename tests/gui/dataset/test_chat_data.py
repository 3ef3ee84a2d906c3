"""Chat data on the Dataset tab: conversations recognised by drop, prepared through a check that lists
bad records and offers to skip them, the demo conversations, and the details' conversation preview."""

import json

import pytest
import torch
from PySide6.QtCore import Qt

from gptstudio.core.model import GPT, GPTConfig
from gptstudio.core.tokenizer import CharTokenizer
from gptstudio.gui.dataset.chat_panel import DEMO_CHAT_NAME
from tests.core.chat_helpers import messages_record, small_chat_jsonl, write_jsonl
from tests.core.sampling_helpers import save_run

from .helpers import WAIT_MS, drop_files, find


@pytest.fixture
def tab(window):
    return window.tab("Dataset")


def click(qtbot, tab, name):
    widget = find(tab, name)
    assert widget.isVisible() and widget.isEnabled(), name
    # a click lands where the person sees the button: wait for the layout to have placed it in view
    qtbot.waitUntil(lambda: widget.visibleRegion().boundingRect().size() == widget.size(), timeout=WAIT_MS)
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton)


def wait_idle(qtbot, tab):
    qtbot.waitUntil(lambda: not tab.is_preparing(), timeout=WAIT_MS)


def char_run(home, chars, name="base"):
    tok = CharTokenizer(sorted(set(chars)))
    args = dict(block_size=32, n_layer=1, n_head=2, n_embd=16, dropout=0.0, bias=False, vocab_size=tok.vocab_size)
    torch.manual_seed(0)
    save_run(home, name, GPT(GPTConfig(**args)), tok, args, best=False)


def test_conversations_dropped_beside_text_are_left_out_of_a_text_dataset(qtbot, tab, home, tmp_path):
    chat = small_chat_jsonl(tmp_path / "talks.jsonl", 5)
    prose = tmp_path / "play.txt"
    prose.write_text("ROMEO:\nBut soft, what light through yonder window breaks?\n" * 40, encoding="utf-8")
    drop_files(qtbot, tab, [chat, prose])
    assert not find(tab, "chatCheck").isChecked()  # a text dataset: the text is what can be pretrained on
    assert "a text dataset leaves them out" in find(tab, "chatFormatLabel").text()
    click(qtbot, tab, "prepareButton")
    wait_idle(qtbot, tab)
    folder = next((home / "datasets").iterdir())
    meta = json.loads((folder / "meta.json").read_text())
    assert [s["code"] for s in meta["skipped"]] == ["chat"] and "chat" not in meta


def test_dropped_conversations_become_a_chat_dataset_with_a_preview(qtbot, tab, home, tmp_path):
    src = small_chat_jsonl(tmp_path / "talks.jsonl", 30)
    drop_files(qtbot, tab, [src])
    assert find(tab, "chatCheck").isChecked()  # recognised from the content
    assert "messages (OpenAI / Hugging Face)" in find(tab, "chatFormatLabel").text()
    assert find(tab, "chatTokenizerFrom").currentData() == ""  # no run yet: a new model
    with qtbot.waitSignal(tab.sig_dataset_selected, timeout=WAIT_MS) as selected:
        click(qtbot, tab, "prepareButton")
        wait_idle(qtbot, tab)
    assert selected.args == ["talks"]
    meta = json.loads((home / "datasets" / "talks" / "meta.json").read_text())
    assert meta["chat"]["conversations"] == {"train": 27, "val": 3}
    stats = find(tab, "datasetStatsView")
    qtbot.waitUntil(lambda: "as the model sees it" in stats.toHtml(), timeout=WAIT_MS)
    page = stats.toPlainText()
    assert "Conversations" in page and "30 = 27 train + 3 validation" in page and "of the tokens" in page
    assert "<|assistant|>" in page and "hi 0!" in page  # the first conversation, specials by name
    assert "#a7f3d0" in stats.toHtml()  # the trained-on reply is highlighted


def test_bad_records_are_listed_and_skipped_only_when_asked(qtbot, tab, home, tmp_path):
    records = [messages_record(f"q{i}", f"a{i}") for i in range(6)]
    records.insert(2, {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": " "}]})
    records.insert(4, {"nope": 1})
    src = write_jsonl(tmp_path / "mixed.jsonl", records)
    drop_files(qtbot, tab, [src])
    click(qtbot, tab, "prepareButton")
    wait_idle(qtbot, tab)
    problems = find(tab, "chatProblemList")
    qtbot.waitUntil(lambda: problems.isVisible(), timeout=WAIT_MS)
    listed = [problems.item(i).text() for i in range(problems.count())]
    assert listed == [
        "mixed.jsonl line 3: the reply in turn 2 is empty",
        "mixed.jsonl line 5: unknown schema: a record needs 'messages' (OpenAI / Hugging Face), "
        "'conversations' (ShareGPT), or 'instruction' and 'output' (Alpaca)",
    ]
    assert not (home / "datasets" / "mixed").exists()  # nothing is written before the person chooses
    assert find(tab, "skipBadButton").text() == "Skip 2 bad records and prepare"
    with qtbot.waitSignal(tab.sig_dataset_selected, timeout=WAIT_MS):
        click(qtbot, tab, "skipBadButton")
        wait_idle(qtbot, tab)
    meta = json.loads((home / "datasets" / "mixed" / "meta.json").read_text())
    assert meta["chat"]["skipped"] == 2 and sum(meta["chat"]["conversations"].values()) == 6
    assert not find(tab, "chatReview").isVisible()


def test_for_a_run_unknown_characters_can_be_dropped(qtbot, tab, home, tmp_path):
    char_run(home, "abcdefghijklmnopqrstuvwxyz !")
    tab.refresh()
    src = write_jsonl(tmp_path / "odd.jsonl", [messages_record("héllo", "ok"), messages_record("hi", "yø")])
    drop_files(qtbot, tab, [src])
    assert find(tab, "chatTokenizerFrom").currentData() == "base"  # the newest run: the one to fine-tune
    assert not find(tab, "tokenizerCombo").isEnabled()  # the run's tokenizer decides
    click(qtbot, tab, "prepareButton")
    wait_idle(qtbot, tab)
    text = find(tab, "chatReviewText")
    qtbot.waitUntil(lambda: text.isVisible(), timeout=WAIT_MS)
    assert "never saw 2 of these characters" in text.text() and "é ø" in text.text()
    with qtbot.waitSignal(tab.sig_dataset_selected, timeout=WAIT_MS):
        click(qtbot, tab, "dropUnknownButton")
        wait_idle(qtbot, tab)
    meta = json.loads((home / "datasets" / "odd" / "meta.json").read_text())
    assert meta["tokenizer_from"] == "base" and meta["chat"]["dropped_chars"] == ["é", "ø"]


def test_demo_chat_data_needs_no_file(qtbot, tab, home):
    with qtbot.waitSignal(tab.sig_dataset_selected, timeout=WAIT_MS) as selected:
        click(qtbot, tab, "demoChatButton")
        wait_idle(qtbot, tab)
    assert selected.args == [DEMO_CHAT_NAME]
    meta = json.loads((home / "datasets" / DEMO_CHAT_NAME / "meta.json").read_text())
    assert meta["chat"]["conversations"]["train"] > 3000 and meta["tokenizer"] == "char"


def test_plain_text_stays_text(qtbot, tab, poem):
    drop_files(qtbot, tab, [poem])
    assert not find(tab, "chatCheck").isChecked() and not find(tab, "chatFormatLabel").isVisible()
    assert find(tab, "tokenizerCombo").isEnabled()
