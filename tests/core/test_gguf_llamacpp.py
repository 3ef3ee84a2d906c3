"""The real consumer: llama.cpp (through llama-cpp-python) loads our GGUF files and computes what we do.

Marked `llamacpp` and left out of the default suite: llama-cpp-python has no wheel for every machine
and builds from source in about 20 minutes on two cores. Run it with (README, "For developers"):

    python3 -m pip install ".[llamacpp]" && python3 -m pytest -m llamacpp
"""

import math

import numpy as np
import pytest
import torch

from gptstudio.cli import main
from gptstudio.core.dataset import dataset_tokens, demo_text_path, prepare_dataset
from gptstudio.core.export import export_gguf
from gptstudio.core.gguf_export import write_gguf
from gptstudio.core.model import GPT, GPTConfig
from gptstudio.core.sampler import Sampler, SampleSettings
from gptstudio.core.tokenizer import GPT2Tokenizer
from gptstudio.core.trainer import train
from tests.core.training_helpers import tiny_config

pytestmark = pytest.mark.llamacpp
llama_cpp = pytest.importorskip("llama_cpp")

BLOCK = 64
PROMPTS = ("ROMEO:\nI", "First Citizen:\nWe", "\n")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny char model trained on the demo text (a few hundred iterations), exported three ways."""
    home = tmp_path_factory.mktemp("home")
    prepare_dataset([demo_text_path()], "demo", "char", home=home)
    cfg = tiny_config(
        dataset="demo",
        run_name="tiny",
        n_layer=2,
        n_embd=32,
        block_size=BLOCK,
        batch_size=16,
        max_iters=400,
        lr_decay_iters=400,
        warmup_iters=20,
        learning_rate=1e-2,
        min_lr=1e-3,
        eval_interval=1000,
        log_interval=100,
    )
    train(cfg, home=home)
    files = {q: export_gguf("tiny", home / f"tiny-{q}.gguf", quant=q, home=home).path for q in ("f32", "f16", "q8_0")}
    return home, Sampler.open("tiny", home=home, device="cpu"), files


def load(path, **kw):
    return llama_cpp.Llama(model_path=str(path), n_ctx=BLOCK, n_threads=2, verbose=False, **kw)


def llama_greedy(llm, ids, n):
    out = []
    for token in llm.generate(ids, temp=0.0, top_k=1, top_p=1.0, min_p=0.0, repeat_penalty=1.0):
        out.append(token)
        if len(out) == n:
            return out
    return out


def ours_greedy(sampler, prompt, n):
    return [p.token_id for p in sampler.stream(prompt, SampleSettings(max_new_tokens=n, temperature=0))]


@pytest.mark.parametrize(("quant", "tokens"), [("f32", 50), ("f16", 20)])
def test_greedy_continuation_is_token_identical(trained, quant, tokens):
    _home, sampler, files = trained
    llm = load(files[quant])
    for prompt in PROMPTS:
        ids = sampler.encode_prompt(prompt)
        assert llm.tokenize(prompt.encode(), add_bos=False, special=False) == ids  # the same tokenizer
        assert llama_greedy(llm, ids, tokens) == ours_greedy(sampler, prompt, tokens), (quant, prompt)


def test_f32_greedy_text_equals_gptstudio_sample(trained, capsys):
    home, _sampler, files = trained
    llm = load(files["f32"])
    prompt = PROMPTS[0]
    ids = llm.tokenize(prompt.encode(), add_bos=False, special=False)
    theirs = llm.detokenize(llama_greedy(llm, ids, 50)).decode()
    args = ["--home", str(home), "sample", "tiny", "--prompt", prompt, "--temperature", "0", "--max-new-tokens", "50"]
    assert main([*args, "--quiet"]) == 0
    assert capsys.readouterr().out == prompt + theirs + "\n---------------\n"


def test_f32_logits_match(trained):
    _home, sampler, files = trained
    llm = load(files["f32"], logits_all=True)
    ids = sampler.encode_prompt("ROMEO:\nWhat say'st thou? I do beseech you, sir,\n")
    llm.eval(ids)
    theirs = np.asarray(llm.scores[: len(ids)])
    with torch.no_grad():
        ours, _ = sampler.model(torch.tensor([ids]), targets=torch.zeros(1, len(ids), dtype=torch.long))
    # llama.cpp's GELU is the tanh approximation read from an f16 table: close, not bit-equal
    assert np.abs(theirs - ours[0].numpy()).max() < 2e-2


def val_perplexity(llm, val, windows):
    nll, count = 0.0, 0
    for w in range(windows):
        chunk = [int(t) for t in val[w * BLOCK : (w + 1) * BLOCK + 1]]
        llm.reset()
        llm.eval(chunk[:-1])
        logits = np.asarray(llm.scores[:BLOCK], dtype=np.float64)
        logp = logits - logits.max(-1, keepdims=True)
        logp -= np.log(np.exp(logp).sum(-1, keepdims=True))
        nll -= logp[np.arange(BLOCK), chunk[1:]].sum()
        count += BLOCK
    return math.exp(nll / count)


def test_q8_0_perplexity_is_within_two_percent_of_f32(trained):
    home, _sampler, files = trained
    val = dataset_tokens("demo", "val", 0, 40 * BLOCK + 1, home=home)
    f32 = val_perplexity(load(files["f32"], logits_all=True), val, 40)
    q8 = val_perplexity(load(files["q8_0"], logits_all=True), val, 40)
    assert abs(q8 - f32) / f32 < 0.02, (f32, q8)


def test_generation_past_the_trained_context_does_not_crash(trained):
    _home, _sampler, files = trained
    llm = llama_cpp.Llama(model_path=str(files["q8_0"]), n_ctx=256, n_threads=2, verbose=False)
    out = llm.create_completion("ROMEO:", max_tokens=240, temperature=0.8, seed=1)
    assert out["usage"]["completion_tokens"] > BLOCK


def test_gpt2_bpe_vocabulary_tokenizes_like_tiktoken(tmp_path):
    torch.manual_seed(0)
    model = GPT(GPTConfig(n_layer=1, n_head=2, n_embd=32, block_size=64, vocab_size=50304)).eval()
    tok = GPT2Tokenizer()
    path = write_gguf(model, tok, tmp_path / "bpe.gguf", quant="f32")
    llm = llama_cpp.Llama(model_path=str(path), n_ctx=64, n_threads=2, verbose=False, logits_all=True)
    text = "Hello world! It's 2024 — naïve café, 日本語 and emoji 🎉\n\n  indented\tcode();"
    ids = tok.encode(text)
    assert llm.tokenize(text.encode(), add_bos=False, special=False) == ids
    assert llm.detokenize(ids).decode() == text
    assert llm.token_eos() == 50256 and llm.n_vocab() == 50257
    llm.eval(ids)
    with torch.no_grad():
        ours, _ = model(torch.tensor([ids]), targets=torch.zeros(1, len(ids), dtype=torch.long))
    assert np.abs(np.asarray(llm.scores[: len(ids)]) - ours[0, :, :50257].numpy()).max() < 1e-2
