"""A chat model exported for Hugging Face transformers chats there: apply_chat_template gives our ids."""

import pytest
import torch

from gptstudio.core.chat_template import CHAT_TEMPLATE, ChatMessage, ChatTemplate
from gptstudio.core.checkpoint import save_checkpoint
from gptstudio.core.export import export_run
from gptstudio.core.model import GPT, GPTConfig
from gptstudio.core.special_tokens import END_OF_TURN
from gptstudio.core.tokenizer import CharTokenizer, GPT2Tokenizer

transformers = pytest.importorskip("transformers")

MESSAGES = [
    {"role": "system", "content": "Be terse."},
    {"role": "user", "content": "Hello there, how are you?"},
    {"role": "assistant", "content": " Fine!\n ok"},
    {"role": "user", "content": "ünïcode 🙂"},
]


def save(path, tok, vocab):
    args = dict(block_size=32, vocab_size=vocab, n_layer=1, n_head=2, n_embd=16, dropout=0.0, bias=True)
    torch.manual_seed(0)
    save_checkpoint(
        {"model": GPT(GPTConfig(**args)).state_dict(), "model_args": args, "tokenizer": tok.to_meta()}, path
    )


def test_gpt2_chat_model_exports_its_chat_template(tmp_path):
    tok = GPT2Tokenizer().with_chat_template(CHAT_TEMPLATE)
    save(tmp_path / "run" / "ckpt.pt", tok, 50304)
    out = export_run(str(tmp_path / "run" / "ckpt.pt"), "hf", tmp_path / "hf")
    hf = transformers.AutoTokenizer.from_pretrained(out)
    ours = ChatTemplate(tok)
    messages = [ChatMessage(m["role"], m["content"]) for m in MESSAGES]
    got = hf.apply_chat_template(MESSAGES, add_generation_prompt=True, tokenize=True)
    got = got["input_ids"] if isinstance(got, dict) or hasattr(got, "input_ids") else got
    assert list(got) == ours.prompt(messages)
    whole = hf.apply_chat_template(MESSAGES[:3], tokenize=True)
    whole = whole["input_ids"] if isinstance(whole, dict) or hasattr(whole, "input_ids") else whole
    assert list(whole) == ours.render(messages[:3]).ids
    assert hf.eos_token == END_OF_TURN and hf.eos_token_id == tok.special_id(END_OF_TURN)
    config = transformers.AutoConfig.from_pretrained(out)
    assert config.eos_token_id == tok.special_id(END_OF_TURN)  # generate() stops at the end of the reply


def test_char_chat_model_exports_its_special_tokens_and_template(tmp_path):
    import json

    tok = CharTokenizer(list("abc ")).with_chat_template(CHAT_TEMPLATE)
    save(tmp_path / "run" / "ckpt.pt", tok, tok.vocab_size)
    out = export_run(str(tmp_path / "run" / "ckpt.pt"), "hf", tmp_path / "hf")
    vocab = json.loads((out / "char_vocab.json").read_text(encoding="utf-8"))
    assert vocab["special_tokens"] == tok.special_tokens and "<|assistant|>" in vocab["chat_template"]
    assert "## Chatting" in (out / "README.md").read_text(encoding="utf-8")
