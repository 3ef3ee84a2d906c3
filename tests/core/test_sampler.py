"""The generation engine: cache equivalence, sampling controls, streaming, prompts, loading, chat."""

from __future__ import annotations

import itertools
import math
import os
import pickle
import threading

import pytest
import torch
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from gptstudio.core.chat import chat_prompt, chat_stops, cut_reply
from gptstudio.core.checkpoint import save_checkpoint
from gptstudio.core.errors import Cancelled, CheckpointError, DatasetError, GPTStudioError, TokenizerError
from gptstudio.core.model import GPT, GPTConfig
from gptstudio.core.sampler import (
    Sampler,
    SamplerError,
    SampleSettings,
    TextAssembler,
    apply_repetition_penalty,
    apply_top_k,
    apply_top_p,
)
from gptstudio.core.tokenizer import GPT2_EOT, CharTokenizer, GPT2Tokenizer
from tests.core.sampling_helpers import (
    checkpoint_dict,
    fixed,
    forced,
    nanogpt_generate,
    save_run,
    shared_tiny_char_model,
    sharp_random_model,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # every test here runs tiny models


@pytest.fixture(scope="module")
def trained(shakespeare_text):
    return shared_tiny_char_model(shakespeare_text[:50_000])


@pytest.fixture
def sampler(trained):
    model, tok, _ = trained
    return Sampler(model, tok, device="cpu")


@pytest.fixture(params=["trained", "sharp"])
def any_model(request, trained):
    """The trained model, and a random one whose output depends strongly on the whole context."""
    model, tok, _ = trained
    if request.param == "sharp":
        model = sharp_random_model(tok.vocab_size)
    return model, tok


def token_ids(pieces, sample=0):
    return [p.token_id for p in pieces if p.sample == sample]


CHARS = CharTokenizer(list("\nabcdefghij"))  # ids: "\n"=0, a=1, ..., j=10


# --------------------------------------------------------------------------------------------
# the KV cache gives the tokens of full recomputation


@pytest.mark.parametrize("prompt", ["ROMEO:", "", "First Citizen:\nBefore we proceed any further, hear me"])
def test_greedy_exact_cache_equals_full_recomputation_past_block_size(any_model, prompt):
    sampler = Sampler(*any_model, device="cpu")
    s = SampleSettings(max_new_tokens=50, temperature=0, slide="exact")
    cached = token_ids(sampler.stream(prompt, s))
    uncached = token_ids(sampler.stream(prompt, s, use_cache=False))
    assert len(cached) == 50 and sampler.block_size == 16
    assert cached == uncached


@pytest.mark.parametrize("use_cache", [False, True])
def test_greedy_is_nanogpt_generate_also_for_long_generations(any_model, use_cache):
    # 200 tokens on block_size 16: the token buffer is compacted on the way (it keeps ~4 windows)
    model, tok = any_model
    sampler = Sampler(model, tok, device="cpu")
    prompt = tok.encode("ROMEO:")
    with torch.no_grad():
        ref = nanogpt_generate(model, torch.tensor([prompt]), 200, temperature=0)[0, len(prompt) :].tolist()
    s = SampleSettings(max_new_tokens=200, temperature=0)
    assert token_ids(sampler.stream("ROMEO:", s, use_cache=use_cache)) == ref


@pytest.mark.parametrize("use_cache, slide", [(False, "exact"), (True, "exact"), (True, "fast")])
def test_seeded_sampling_matches_nanogpt_sample_py(any_model, use_cache, slide):
    # nanoGPT's sample.py: torch.manual_seed(seed), then multinomial on softmax(top_k(logits / T));
    # 200 tokens on block_size 16 also cross the token buffer's compaction (it keeps ~4 windows)
    model, tok = any_model
    sampler = Sampler(model, tok, device="cpu")
    prompt = tok.encode("KING:")
    torch.manual_seed(1337)
    with torch.no_grad():
        ref = nanogpt_generate(model, torch.tensor([prompt]), 200, temperature=0.8, top_k=20, slide=slide)
    s = SampleSettings(max_new_tokens=200, temperature=0.8, top_k=20, seed=1337, slide=slide)
    assert token_ids(sampler.stream("KING:", s, use_cache=use_cache)) == ref[0, len(prompt) :].tolist()


def test_fast_slide_equals_full_recomputation_until_the_window_is_full(any_model):
    sampler = Sampler(*any_model, device="cpu")
    prompt = "ROMEO:"
    s = SampleSettings(max_new_tokens=50, temperature=0, slide="fast")
    fast = token_ids(sampler.stream(prompt, s))
    exact = token_ids(sampler.stream(prompt, SampleSettings(max_new_tokens=50, temperature=0), use_cache=False))
    first_slide = sampler.block_size - len(prompt) + 1  # tokens decided before any context is dropped
    assert len(fast) == 50
    assert fast[:first_slide] == exact[:first_slide]


class Spy(torch.nn.Module):
    """Wraps a model and records how many tokens each forward is given."""

    def __init__(self, model):
        super().__init__()
        self.inner, self.config, self.widths = model, model.config, []

    def forward(self, idx, targets=None, cache=None):
        self.widths.append(idx.size(1))
        return self.inner(idx, targets, cache=cache)


@pytest.mark.parametrize("slide", ["exact", "fast"])
def test_cache_feeds_one_token_per_step_and_slides_as_documented(trained, slide):
    model, tok, _ = trained
    spy = Spy(model)
    Sampler(spy, tok, device="cpu").generate("ab", SampleSettings(max_new_tokens=40, temperature=0, slide=slide))
    block = model.config.block_size
    assert spy.widths[0] == 2 and len(spy.widths) == 40
    # the context reaches block_size after 14 new tokens; token 15 is the first past it
    assert spy.widths[1:15] == [1] * 14
    if slide == "exact":
        assert spy.widths[15:] == [block] * 25  # nanoGPT's cost from then on
    else:
        assert spy.widths[15] == block // 2  # re-prefill half a window, then cached again
        assert spy.widths[16:24] == [1] * 8
        assert spy.widths[24] == block // 2


def test_mixed_precision_cache_as_on_cuda(trained):
    # on CUDA the sampler autocasts to bf16 and keeps keys/values in bf16; the same path on the CPU
    model, tok, _ = trained
    sampler = Sampler(model, tok, device="cpu")
    sampler._amp_dtype = sampler._cache_dtype = torch.bfloat16
    for slide in ("exact", "fast"):
        pieces = list(sampler.stream("ROMEO:", SampleSettings(max_new_tokens=30, seed=0, slide=slide)))
        assert len(pieces) == 30 and all(0 < p.prob <= 1 for p in pieces)


def test_consumer_code_runs_outside_inference_mode(sampler):
    for piece in sampler.stream("a", SampleSettings(max_new_tokens=3, seed=0)):
        assert not torch.is_inference_mode_enabled()
        assert piece.text is not None


# --------------------------------------------------------------------------------------------
# seeds, batches


def test_same_seed_same_text_other_seed_other_text(sampler):
    s = SampleSettings(max_new_tokens=60, temperature=1.0, seed=7, num_samples=2)
    a = sampler.generate("JULIET:", s)
    assert sampler.generate("JULIET:", s) == a
    assert sampler.generate("JULIET:", SampleSettings(max_new_tokens=60, temperature=1.0, seed=8, num_samples=2)) != a
    assert a[0] != a[1]  # two samples of one batch differ


def test_random_seed_is_reported_and_reproduces(sampler):
    s = SampleSettings(max_new_tokens=40, temperature=1.0)
    text = sampler.generate("A", s)
    seed = sampler.last_seed
    assert isinstance(seed, int)
    assert sampler.generate("A", SampleSettings(max_new_tokens=40, temperature=1.0, seed=seed)) == text


def test_batch_pieces_are_tagged_and_counted(sampler):
    pieces = list(sampler.stream("a", SampleSettings(max_new_tokens=12, num_samples=3, seed=1)))
    assert len(pieces) == 36
    for i in range(3):
        mine = [p for p in pieces if p.sample == i]
        assert [p.index for p in mine] == list(range(12))
        assert [p.done for p in mine] == [False] * 11 + [True]
    for p in pieces:
        assert 0 < p.prob <= 1
        assert 1 <= len(p.top) <= 5
        assert all(a >= b for (_, a), (_, b) in zip(p.top, p.top[1:]))


# --------------------------------------------------------------------------------------------
# top-k, top-p, repetition penalty on known logits


def shuffled_logits(seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.linspace(3.0, -2.0, CHARS.vocab_size)[torch.randperm(CHARS.vocab_size, generator=g)]


def draw(model, settings):
    return list(Sampler(model, CHARS, device="cpu").stream("a", settings))


def test_top_k_never_emits_a_token_outside_the_k_best():
    logits = shuffled_logits()
    allowed = set(torch.topk(logits, 3).indices.tolist())
    pieces = draw(fixed(logits), SampleSettings(max_new_tokens=5, temperature=1.5, top_k=3, num_samples=80, seed=0))
    chosen = {p.token_id for p in pieces}
    assert chosen == allowed  # never outside, and every allowed one shows up in 400 draws
    expected = torch.softmax(logits[sorted(allowed)] / 1.5, -1)
    for p in pieces[:10]:
        assert p.prob == pytest.approx(expected[sorted(allowed).index(p.token_id)].item(), rel=1e-5)
        assert len(p.top) == 3  # zero-probability tokens are not listed


@pytest.mark.parametrize("top_p, size", [(0.45, 1), (0.7, 2), (0.85, 3), (0.93, 4)])
def test_top_p_keeps_the_smallest_set_reaching_p(top_p, size):
    probs = torch.tensor([0.02, 0.5, 0.01, 0.1, 0.3, 0.04, 0.01, 0.005, 0.005, 0.005, 0.005])
    order = torch.argsort(probs, descending=True).tolist()
    pieces = draw(
        fixed(probs.log()),
        SampleSettings(max_new_tokens=4, temperature=1.0, top_k=None, top_p=top_p, num_samples=100, seed=3),
    )
    assert {p.token_id for p in pieces} == set(order[:size])


def test_top_k_and_top_p_functions():
    logits = torch.tensor([[1.0, 3.0, 2.0, 0.0]])
    assert torch.isinf(apply_top_k(logits, 2)).tolist() == [[True, False, False, True]]
    assert torch.equal(apply_top_k(logits, 0), logits) and torch.equal(apply_top_k(logits, 10), logits)
    # p tiny: still one token
    assert torch.isinf(apply_top_p(logits, 1e-6)).tolist() == [[True, False, True, True]]
    assert torch.equal(apply_top_p(logits, 1.0), logits)


def test_repetition_penalty_math():
    logits = torch.tensor([[2.0, -1.0, 0.5, -0.5]])
    seen = torch.tensor([[True, True, False, False]])
    out = apply_repetition_penalty(logits, seen, 2.0)
    assert out.tolist() == [[1.0, -2.0, 0.5, -0.5]]
    assert torch.equal(apply_repetition_penalty(logits, seen, 1.0), logits)


def test_repetition_penalty_counts_prompt_and_generated_tokens_once():
    logits = torch.full((CHARS.vocab_size,), -1.0)
    logits[CHARS.stoi["a"]], logits[CHARS.stoi["b"]], logits[CHARS.stoi["c"]] = 2.0, 1.9, 1.8
    model = fixed(logits)
    plain = Sampler(model, CHARS, device="cpu").generate("j", SampleSettings(max_new_tokens=6, temperature=0))
    assert plain == ["aaaaaa"]
    s = SampleSettings(max_new_tokens=6, temperature=0, repetition_penalty=1.2)
    # a: 2.0 -> 1.67 once seen, so b (1.9), then c (1.8), then a again: the penalty does not compound
    assert Sampler(model, CHARS, device="cpu").generate("j", s) == ["abcaaa"]
    # a token of the prompt is penalised from the start
    assert Sampler(model, CHARS, device="cpu").generate("a", s) == ["bcaaaa"]


def test_greedy_reports_temperature_one_probabilities():
    logits = shuffled_logits(1)
    piece = draw(fixed(logits), SampleSettings(max_new_tokens=1, temperature=0))[0]
    probs = torch.softmax(logits, -1)
    assert piece.token_id == int(logits.argmax())
    assert piece.prob == pytest.approx(probs.max().item(), rel=1e-5)
    assert [t for t, _ in piece.top] == [CHARS.chars[i] for i in probs.topk(5).indices.tolist()]


def test_padded_vocabulary_ids_are_never_chosen():
    logits = torch.zeros(50304)
    logits[50300] = 50.0  # padding id: no text
    logits[464] = 5.0  # "The"
    sampler = Sampler(fixed(logits), GPT2Tokenizer(), device="cpu")
    pieces = list(sampler.stream("", SampleSettings(max_new_tokens=3, temperature=1.0, top_k=None, seed=0)))
    assert all(p.token_id < 50257 for p in pieces)
    assert sampler.generate("", SampleSettings(max_new_tokens=2, temperature=0)) == ["TheThe"]


# --------------------------------------------------------------------------------------------
# stop sequences and streaming text


def test_stop_sequence_cuts_and_is_held_back_while_streaming():
    tok = CharTokenizer(sorted(set("Hello World END never")))
    model = forced(tok.vocab_size, tok.encode("ello World END never"))
    pieces = list(Sampler(model, tok, device="cpu").stream("H", SampleSettings(max_new_tokens=30, stop=("END",))))
    assert "".join(p.text for p in pieces) == "ello World "
    assert len(pieces) == len("ello World END")  # generation ended with the token completing the stop
    assert pieces[-1].done and pieces[-1].text == ""
    # "E" and "EN" were never shown before the stop was certain
    shown = ""
    for p in pieces:
        shown += p.text
        assert "E" not in shown


def test_held_text_is_released_when_it_is_not_a_stop():
    tok = CharTokenizer(list("ENDx"))
    model = forced(tok.vocab_size, tok.encode("xENxENx"))
    s = SampleSettings(max_new_tokens=7, temperature=0, stop=("END",))
    pieces = list(Sampler(model, tok, device="cpu").stream("x", s))
    assert [p.text for p in pieces] == ["x", "", "", "ENx", "", "", "ENx"]
    # the budget ends while "EN" is held: released at the end
    s = SampleSettings(max_new_tokens=3, temperature=0, stop=("END",))
    model = forced(tok.vocab_size, tok.encode("xENxENx"))
    assert Sampler(model, tok, device="cpu").generate("x", s) == ["xEN"]


def test_earliest_of_several_stops_wins_and_samples_stop_independently():
    tok = CharTokenizer(list("abcXY"))
    scripts = [tok.encode("abXcY"), tok.encode("abcabc")]
    s = SampleSettings(max_new_tokens=6, temperature=0, stop=("Y", "X"), num_samples=2)
    pieces = list(Sampler(forced(tok.vocab_size, scripts), tok, device="cpu").stream("a", s))
    assert Sampler(forced(tok.vocab_size, scripts), tok, device="cpu").generate("a", s) == ["ab", "abcabc"]
    assert len([p for p in pieces if p.sample == 0]) == 3 and len([p for p in pieces if p.sample == 1]) == 6


def test_stop_across_gpt2_token_boundaries():
    gpt2 = GPT2Tokenizer()
    ids = gpt2.encode("The cat sat on the mat.")
    model = forced(50257, ids[1:])
    s = SampleSettings(max_new_tokens=20, temperature=0, stop=(" on th",))
    pieces = list(Sampler(model, gpt2, device="cpu").stream("The", s))
    assert "".join(p.text for p in pieces) == " cat sat"
    assert " on" not in "".join(p.text for p in pieces)


@hsettings(max_examples=150, deadline=None)
@given(
    text=st.text(alphabet="ab\n", max_size=30),
    cuts=st.lists(st.integers(min_value=0, max_value=30), max_size=8),
    stops=st.lists(st.text(alphabet="ab\n", min_size=1, max_size=4), min_size=1, max_size=3),
)
def test_text_assembler_cuts_at_the_first_stop_as_tokens_arrive(text, cuts, stops):
    bounds = sorted({0, len(text), *[min(c, len(text)) for c in cuts]})
    chunks = [text[a:b] for a, b in itertools.pairwise(bounds)] or [""]
    asm = TextAssembler(stops)
    out = ""
    for i, chunk in enumerate(chunks):
        out += asm.push(chunk.encode(), final=i == len(chunks) - 1)
        assert not any(s in out for s in stops)
        if asm.done:
            break
    # expected: at the first token boundary where the text contains a stop sequence, cut before the
    # earliest one contained (a later token cannot undo a stop that has already happened)
    expected, stopped, end = text, False, 0
    for chunk in chunks:
        end += len(chunk)
        hits = [i for i in (text[:end].find(s) for s in stops) if i >= 0]
        if hits:
            expected, stopped = text[: min(hits)], True
            break
    assert out == expected
    assert asm.stopped == stopped


def test_utf8_characters_split_over_tokens_are_never_emitted_in_halves():
    gpt2 = GPT2Tokenizer()
    text = " 🦜 你好 there"
    ids = gpt2.encode(text)
    assert any(gpt2.decode_bytes([i]) == b"\xa6" for i in ids)  # the parrot spans several tokens
    model = forced(50257, ids)
    sampler = Sampler(model, gpt2, device="cpu")
    pieces = list(sampler.stream("Hi", SampleSettings(max_new_tokens=len(ids), temperature=0)))
    assert [p.token_id for p in pieces] == ids
    assert all("\ufffd" not in p.text for p in pieces)
    assert "".join(p.text for p in pieces) == text
    assert [p.text for p in pieces[:3]] == [" ", "", "🦜"]  # the space is whole at once
    assert pieces[0].token == " \\xf0\\x9f"  # the token's own text shows its bytes


def test_incomplete_character_at_the_end_is_dropped():
    gpt2 = GPT2Tokenizer()
    ids = gpt2.encode(" ok 🦜")
    model = forced(50257, ids)
    out = Sampler(model, gpt2, device="cpu").generate("", SampleSettings(max_new_tokens=len(ids) - 1, temperature=0))
    assert out == [" ok "]  # the parrot's first two bytes never show


# --------------------------------------------------------------------------------------------
# cancel


def test_cancel_stops_within_one_token():
    model = forced(CHARS.vocab_size, [1, 2, 3, 4, 5, 6, 7, 8])
    cancel = threading.Event()
    pieces = []
    with pytest.raises(Cancelled):
        for piece in Sampler(model, CHARS, device="cpu").stream("a", SampleSettings(max_new_tokens=100), cancel):
            pieces.append(piece)
            if len(pieces) == 3:
                cancel.set()
    assert len(pieces) == 3 and len(model.calls) == 3  # no token computed after the request


def test_cancel_from_another_thread(sampler):
    cancel = threading.Event()
    seen = []
    timer = threading.Timer(0.2, cancel.set)
    timer.start()
    with pytest.raises(Cancelled):
        sampler.generate("a", SampleSettings(max_new_tokens=1_000_000, slide="fast"), cancel, report=seen.append)
    timer.join()
    assert 0 < len(seen) < 1_000_000


def test_cancel_before_start_generates_nothing():
    model = forced(CHARS.vocab_size, [1])
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        Sampler(model, CHARS, device="cpu").generate("a", SampleSettings(max_new_tokens=5), cancel)
    assert model.calls == []


# --------------------------------------------------------------------------------------------
# prompts


def test_out_of_vocabulary_prompt_is_named_or_dropped():
    model = forced(CHARS.vocab_size, [1])
    sampler = Sampler(model, CHARS, device="cpu")
    with pytest.raises(TokenizerError, match="'§'"):
        sampler.stream("ab§c", SampleSettings(max_new_tokens=1))  # raised at once, not on first next()
    assert sampler.unknown_chars("ab§cZ") == ["Z", "§"]
    sampler.generate("ab§c", SampleSettings(max_new_tokens=1, drop_unknown=True))
    assert model.calls[0].tolist() == [CHARS.encode("abc")]


@pytest.mark.parametrize(
    "tok, start",
    [(CHARS, 0), (CharTokenizer(list("xyz\n")), 3), (CharTokenizer(list("xyz")), 0), (GPT2Tokenizer(), GPT2_EOT)],
)
def test_empty_prompt_starts_from_newline_or_end_of_text(tok, start):
    model = forced(tok.vocab_size, [1])
    Sampler(model, tok, device="cpu").generate("", SampleSettings(max_new_tokens=1))
    assert model.calls[0].tolist() == [[start]]


def test_prompt_of_only_unknown_characters_dropped_starts_from_newline():
    model = forced(CHARS.vocab_size, [1])
    Sampler(model, CHARS, device="cpu").generate("§§", SampleSettings(max_new_tokens=1, drop_unknown=True))
    assert model.calls[0].tolist() == [[CHARS.stoi["\n"]]]


@pytest.mark.parametrize("use_cache", [True, False])
def test_long_prompt_keeps_its_last_block_size_tokens(use_cache):
    model = forced(CHARS.vocab_size, [1], block_size=16)
    prompt = "abcdefghij" * 4
    Sampler(model, CHARS, device="cpu").generate(prompt, SampleSettings(max_new_tokens=2), use_cache=use_cache)
    assert model.calls[0].tolist() == [CHARS.encode(prompt[-16:])]


def test_real_model_with_prompt_longer_than_the_context(sampler):
    s = SampleSettings(max_new_tokens=20, temperature=0)
    long_prompt = "ROMEO: " * 10
    assert sampler.generate(long_prompt, s) == sampler.generate(long_prompt, s, use_cache=False)


# --------------------------------------------------------------------------------------------
# settings


@pytest.mark.parametrize(
    "kwargs, word",
    [
        ({"temperature": -0.1}, "temperature"),
        ({"temperature": math.nan}, "temperature"),
        ({"top_k": -1}, "top_k"),
        ({"top_p": 0.0}, "top_p"),
        ({"top_p": 1.5}, "top_p"),
        ({"repetition_penalty": 0}, "repetition_penalty"),
        ({"max_new_tokens": 0}, "max_new_tokens"),
        ({"num_samples": 0}, "num_samples"),
        ({"seed": -1}, "seed"),
        ({"stop": ("",)}, "stop"),
        ({"slide": "sideways"}, "slide"),
        ({"max_new_tokens": 2.5}, "max_new_tokens"),
    ],
)
def test_invalid_settings_are_named(kwargs, word):
    with pytest.raises(SamplerError, match=word):
        SampleSettings(**kwargs)


def test_settings_defaults_are_nanogpt_and_stop_accepts_one_text():
    s = SampleSettings()
    assert (s.max_new_tokens, s.temperature, s.top_k, s.top_p, s.num_samples) == (500, 0.8, 200, 1.0, 1)
    assert SampleSettings(stop="\n\n").stop == ("\n\n",)
    assert SampleSettings(stop=["a", "b"]).stop == ("a", "b")


# --------------------------------------------------------------------------------------------
# loading checkpoints


def test_from_run_latest_and_best(home, trained):
    model, tok, args = trained
    save_run(home, "tiny", model, tok, args)
    latest = Sampler.from_run("tiny", home=home, device="cpu")
    best = Sampler.from_run("tiny", "best", home=home, device="cpu")
    assert (latest.iter_num, latest.best_val_loss) == (80, 2.5)
    assert (best.iter_num, best.best_val_loss) == (60, 2.25)
    assert latest.dataset == "shakespeare_char" and latest.block_size == 16
    assert latest.model_args["n_embd"] == 32 and latest.tokenizer.chars == tok.chars
    assert "iter 80" in latest.summary()
    s = SampleSettings(max_new_tokens=20, temperature=0)
    assert latest.generate("ROMEO:", s) == Sampler(model, tok).generate("ROMEO:", s)
    assert not latest.model.training


def test_open_accepts_run_name_folder_and_file(home, trained):
    model, tok, args = trained
    run = save_run(home, "tiny", model, tok, args, best=False)
    for target in ("tiny", str(run), str(run / "ckpt.pt")):
        assert Sampler.open(target, home=home, device="cpu").iter_num == 80


def test_missing_runs_and_checkpoints_are_clear_errors(home, trained):
    model, tok, args = trained
    with pytest.raises(CheckpointError, match="no run named 'nope'"):
        Sampler.from_run("nope", home=home)
    with pytest.raises(CheckpointError, match="neither a run"):
        Sampler.open("nope", home=home)
    save_run(home, "tiny", model, tok, args, best=False)
    with pytest.raises(CheckpointError, match="best.pt"):
        Sampler.from_run("tiny", "best", home=home)
    (home / "runs" / "empty").mkdir()
    with pytest.raises(CheckpointError, match="no checkpoint"):
        Sampler.from_run("empty", home=home)
    with pytest.raises(SamplerError, match="not available"):
        Sampler.from_run("tiny", home=home, device="cuda:7")


def test_nanogpt_checkpoint_with_meta_pkl(tmp_path, trained):
    model, tok, args = trained
    ckpt = checkpoint_dict(model, args)  # no tokenizer entry, as nanoGPT writes it
    ckpt["best_val_loss"] = torch.tensor(1.75)  # nanoGPT stores a tensor
    save_checkpoint(ckpt, tmp_path / "ckpt.pt")
    with pytest.raises(CheckpointError, match="meta.pkl"):
        Sampler.from_checkpoint_file(tmp_path / "ckpt.pt")
    meta = {
        "vocab_size": tok.vocab_size,
        "itos": dict(enumerate(tok.chars)),
        "stoi": {c: i for i, c in enumerate(tok.chars)},
    }
    (tmp_path / "meta.pkl").write_bytes(pickle.dumps(meta))
    sampler = Sampler.from_checkpoint_file(tmp_path / "ckpt.pt", device="cpu")
    assert sampler.tokenizer.chars == tok.chars and sampler.best_val_loss == 1.75
    assert sampler.generate("ROMEO:", SampleSettings(max_new_tokens=10, temperature=0)) == Sampler(model, tok).generate(
        "ROMEO:", SampleSettings(max_new_tokens=10, temperature=0)
    )


class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_meta_pkl_is_refused_and_never_runs(tmp_path, trained):
    model, _tok, args = trained
    save_checkpoint(checkpoint_dict(model, args), tmp_path / "ckpt.pt")
    marker = tmp_path / "pwned"
    (tmp_path / "meta.pkl").write_bytes(pickle.dumps({"itos": _Exploit(marker)}))
    with pytest.raises(GPTStudioError, match="meta.pkl"):
        Sampler.from_checkpoint_file(tmp_path / "ckpt.pt")
    assert not marker.exists()
    (tmp_path / "meta.pkl").write_bytes(pickle.dumps({"vocab_size": 2, "itos": {0: "ab", 1: 7}}))
    with pytest.raises(DatasetError, match="meta.pkl has a damaged vocabulary"):
        Sampler.from_checkpoint_file(tmp_path / "ckpt.pt")


def test_checkpoint_without_tokenizer_info_falls_back_to_gpt2(tmp_path):
    args = dict(block_size=8, vocab_size=50304, n_layer=1, n_head=1, n_embd=4, dropout=0.0, bias=False)
    torch.manual_seed(0)
    save_checkpoint(checkpoint_dict(GPT(GPTConfig(**args)), args), tmp_path / "ckpt.pt")
    sampler = Sampler.from_checkpoint_file(tmp_path / "ckpt.pt", device="cpu")
    assert sampler.tokenizer.kind == "gpt2"
    assert len(list(sampler.stream("Hello", SampleSettings(max_new_tokens=3, seed=1)))) == 3


def test_tokenizer_larger_than_the_model_is_refused(trained):
    model, _, _ = trained
    with pytest.raises(CheckpointError, match="do not belong together"):
        Sampler(model, GPT2Tokenizer())


# --------------------------------------------------------------------------------------------
# chat helper


def test_chat_prompt_builds_a_transcript_ending_with_the_model_label():
    turns = [("user", "Hello"), ("model", " Hi there. "), ("User", "How are you?")]
    assert chat_prompt(turns) == "User: Hello\nModel: Hi there.\nUser: How are you?\nModel:"
    assert chat_prompt([]) == "Model:"
    assert chat_prompt([("user", "Hi")], "ROMEO", "JULIET") == "ROMEO: Hi\nJULIET:"
    assert chat_prompt([("user", "Hi"), ("assistant", "Well")]) == "User: Hi\nModel: Well"  # left open
    with pytest.raises(SamplerError, match="role"):
        chat_prompt([("narrator", "x")])
    with pytest.raises(SamplerError, match="label"):
        chat_prompt([], user_label="A:B")


def test_cut_reply_and_stops():
    assert chat_stops() == ("\nUser:", "\nModel:")
    assert cut_reply(" Fine, thanks.\nUser: and you?") == "Fine, thanks."
    assert cut_reply(" One.\nTwo.\nModel: again") == "One.\nTwo."
    assert cut_reply(" Cut short\nUse") == "Cut short"
    assert cut_reply(" No marker") == "No marker"
    assert cut_reply("A\nROMEO: x", labels=("ROMEO", "JULIET")) == "A"


def test_chat_round_trip_with_streaming_stops():
    tok = CharTokenizer(sorted(set("User: Model:Fine.\nmore")))
    model = forced(tok.vocab_size, tok.encode(" Fine.\nUser: more"))
    prompt = chat_prompt([("user", "more")])
    out = Sampler(model, tok, device="cpu").generate(prompt, SampleSettings(max_new_tokens=40, stop=chat_stops()))
    assert out == [" Fine."]
    assert cut_reply(out[0]) == "Fine."
