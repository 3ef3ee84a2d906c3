"""A BPE learned from the user's text, exported as GGUF: llama.cpp's `gpt2` tokenizer with its own tokens and
merges. The read-back test runs everywhere; the one with llama.cpp itself is marked `llamacpp`."""

from __future__ import annotations

import json

import gguf
import numpy as np
import pytest
import torch

from gptstudio.core.bpe import train_bpe
from gptstudio.core.dataset import demo_text_path
from gptstudio.core.gguf_export import write_gguf
from gptstudio.core.model import GPT, GPTConfig
from gptstudio.core.special_tokens import SPECIAL_TOKENS
from gptstudio.core.tokenizer import bpe_pieces, padded_vocab_size
from tests.core.test_bpe import adversarial_text

TEXT = "Hello world! It's 2024 — naïve café, 日本語 and emoji 🎉\n\n  indented\tcode();\nROMEO: the king's men"


@pytest.fixture(scope="module")
def bpe():
    pieces, rest = bpe_pieces(demo_text_path().read_text(encoding="utf-8")[:200_000], 4096)
    return train_bpe([*pieces, rest], 1100)  # above 1,024: the model pads its embedding


@pytest.fixture
def model(bpe):
    torch.manual_seed(0)
    args = dict(n_layer=1, n_head=2, n_embd=32, block_size=64, vocab_size=padded_vocab_size(bpe.vocab_size))
    return GPT(GPTConfig(**args, dropout=0.0)).eval()


def test_bpe_vocabulary_and_merges_are_written(tmp_path, bpe, model):
    reader = gguf.GGUFReader(write_gguf(model, bpe, tmp_path / "bpe.gguf", quant="f32"))
    f = {k: field.contents() for k, field in reader.fields.items()}
    assert f["tokenizer.ggml.model"] == "gpt2" and f["tokenizer.ggml.pre"] == "gpt-2"
    spec = json.loads(bpe.json)
    tokens = f["tokenizer.ggml.tokens"]
    assert len(tokens) == bpe.vocab_size  # the padding rows are left out
    by_id = {i: t for t, i in spec["model"]["vocab"].items()}
    assert tokens[: bpe.learned_size] == [by_id[i] for i in range(bpe.learned_size)]  # the library's strings
    assert tokens[bpe.learned_size :] == list(SPECIAL_TOKENS)
    types = f["tokenizer.ggml.token_type"]
    assert set(types[bpe.learned_size :]) == {int(gguf.TokenType.CONTROL)}
    assert [m.split(" ") for m in f["tokenizer.ggml.merges"]] == [
        m.split(" ") if isinstance(m, str) else m for m in spec["model"]["merges"]
    ]
    assert f["tokenizer.ggml.bos_token_id"] == f["tokenizer.ggml.eos_token_id"] == bpe.eot_token


@pytest.mark.llamacpp
def test_llama_cpp_tokenizes_and_computes_like_us(tmp_path, bpe, model):
    llama_cpp = pytest.importorskip("llama_cpp")
    path = write_gguf(model, bpe, tmp_path / "bpe.gguf", quant="f32")
    llm = llama_cpp.Llama(model_path=str(path), n_ctx=64, n_threads=2, verbose=False, logits_all=True)
    for text in (TEXT, adversarial_text(), demo_text_path().read_text(encoding="utf-8")[300_000:320_000]):
        assert llm.tokenize(text.encode(), add_bos=False, special=False) == bpe.encode(text)
        assert llm.detokenize(bpe.encode(text)).decode() == text
    ids = bpe.encode(TEXT)
    assert llm.token_eos() == bpe.eot_token and llm.n_vocab() == bpe.vocab_size
    ids = ids[:64]  # the model's context
    llm.eval(ids)
    with torch.no_grad():
        ours, _ = model(torch.tensor([ids]), targets=torch.zeros(1, len(ids), dtype=torch.long))
    assert np.abs(np.asarray(llm.scores[: len(ids)]) - ours[0, :, : bpe.vocab_size].numpy()).max() < 1e-2
