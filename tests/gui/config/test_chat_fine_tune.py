"""The Config tab for chat fine-tuning: a run as the start point, its shape kept, the Chat fine-tune
preset, a chat dataset made for a run choosing that run, and data made for another model flagged."""

import torch

from gptstudio.core.chat_dataset import prepare_chat_dataset
from gptstudio.core.model import GPT, GPTConfig
from gptstudio.core.presets import CHAT_FINE_TUNE
from gptstudio.core.tokenizer import CharTokenizer
from tests.core.chat_helpers import small_chat_jsonl
from tests.core.sampling_helpers import save_run

from .helpers import child, settle, widget


def base_run(home, name="base"):
    tok = CharTokenizer(sorted(set("abcdefghijklmnopqrstuvwxyz !0123456789")))
    args = dict(block_size=32, n_layer=2, n_head=2, n_embd=32, dropout=0.0, bias=False, vocab_size=tok.vocab_size)
    torch.manual_seed(0)
    save_run(home, name, GPT(GPTConfig(**args)), tok, args)


def choose(qtbot, tab, name, value):
    combo = widget(tab, name)
    combo.setCurrentIndex(combo.findData(value))
    settle(qtbot, tab)


def test_a_run_to_fine_tune_is_offered_and_fixes_the_shape(qtbot, tab, home):
    base_run(home)
    tab.refresh_datasets()
    combo = widget(tab, "init_from")
    assert combo.findData("base") >= 0 and "your run" in combo.itemText(combo.findData("base"))
    tab.set_dataset("tiny")
    choose(qtbot, tab, "init_from", "base")
    assert widget(tab, "n_layer").value() == 2 and widget(tab, "n_embd").value() == 32  # the run's shape
    assert widget(tab, "block_size").value() == 32  # at most the run's context
    label = child(tab, "startPointLabel")
    assert not label.isHidden() and "Starts from your run 'base' (a base model, char tokenizer, iteration 80" in (
        label.text()
    )
    # this dataset has other characters than the run: a problem on both fields
    assert any(p.code == "tokenizer" and set(p.fields) == {"dataset", "init_from"} for p in tab.problems())
    choose(qtbot, tab, "init_from", "scratch")
    assert "random weights" in label.text()


def test_chat_data_made_for_a_run_starts_from_it_with_the_chat_preset(qtbot, tab, home, tmp_path):
    base_run(home)
    prepare_chat_dataset([small_chat_jsonl(tmp_path / "c.jsonl", 12)], "talks", home=home, tokenizer_from="base")
    tab.refresh_datasets()
    tab.set_dataset("talks")
    assert tab.config().init_from == "base" and tab.start_point().kind == "run"
    tab.apply_preset(CHAT_FINE_TUNE)
    cfg = tab.config()
    assert (cfg.init_from, cfg.dataset, cfg.learning_rate, cfg.n_layer) == ("base", "talks", 3e-4, 2)
    settle(qtbot, tab)
    assert tab.is_valid(), tab.problems()
