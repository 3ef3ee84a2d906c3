"""The BPE trained on the user's text (core/bpe.py) and its datasets: exact round trips, determinism,
special tokens, progress and cancel, bounded memory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gptstudio.core import dataset as ds
from gptstudio.core.bpe import (
    VOCAB_MAX,
    VOCAB_MIN,
    BPETokenizer,
    check_vocab_size,
    default_vocab_size,
    train_bpe,
)
from gptstudio.core.errors import Cancelled, DatasetError, TokenizerError
from gptstudio.core.special_tokens import END_OF_TEXT, SPECIAL_TOKENS, START_OF_TURN
from gptstudio.core.tokenizer import bpe_pieces, tokenizer_from_meta

DEMO = ds.demo_text_path().read_text(encoding="utf-8")


def adversarial_text() -> str:
    """Every Unicode plane, combining marks, emoji sequences, control characters, odd whitespace and a
    literal special token, as one text."""
    planes = "".join(chr(plane * 0x10000 + 0x41) for plane in range(17))  # a code point in every plane
    planes += "\U0001d11e\U0001f600\U00020000\U000e0001\U000f0000\U0010fffd\U0010ffff"
    combining = "e\u0301 a\u0308\u0323 \u0915\u094d\u0937 Z\u0351\u0352\u0353\u0354 \u1100\u1161\u11a8"
    emoji = "👩‍👩‍👧‍👦 🏳️‍🌈 🇫🇷🇯🇵 👍🏽 ❤️ 1️⃣ 🧑🏿‍🚀"
    controls = "".join(chr(c) for c in [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)])
    spaces = "\u00a0\u2000\u2028\u2029\u3000\ufeff\u200b\r\n\r\r\n\t\v\f  trailing   \n"
    scripts = "Ελληνικά русский עברית العربية हिन्दी 中文 日本語 한국어 ไทย"
    others = f"{END_OF_TEXT}{START_OF_TURN['user']}<|end|> \ufffd \uffff \ue000 'll 's 've 123 4.5e6"
    return "\n".join([planes, combining, emoji, controls, spaces, scripts, others])


@pytest.fixture(scope="module")
def demo_bpe() -> BPETokenizer:
    pieces, rest = bpe_pieces(DEMO, 4096)
    return train_bpe([*pieces, rest], 1024)


# ----- round trips -----


def test_adversarial_text_round_trips_exactly(demo_bpe):
    text = adversarial_text()
    ids = demo_bpe.encode(text)
    assert demo_bpe.decode(ids) == text
    assert demo_bpe.decode_bytes(ids) == text.encode("utf-8")
    # a tokenizer trained on the adversarial text itself too
    own = train_bpe([text * 3], 300)
    assert own.decode(own.encode(text)) == text


@pytest.mark.parametrize(
    "text",
    [
        "x" * 300_000,  # a very long line without any space
        ("word " * 60_000).strip(),  # a very long line with spaces
        "\n" * 100_000,
        "🙂" * 50_000,
        "\x00" * 1000 + "a\x00b",
        "",
    ],
    ids=["letters", "words", "newlines", "emoji", "nul", "empty"],
)
def test_long_and_degenerate_texts_round_trip(demo_bpe, text):
    ids = demo_bpe.encode_array(text)
    assert demo_bpe.decode(ids) == text


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_any_text_round_trips(demo_bpe, text):
    assert demo_bpe.decode(demo_bpe.encode(text)) == text


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.sampled_from([*"ab é\n\t.'s中🙂\u2028\u00a0\x1c\r", "ll", "  ", "'ve"]), max_size=300).map("".join),
    st.integers(min_value=1, max_value=40),
)
def test_pieces_encode_exactly_as_the_whole(demo_bpe, text, piece_chars):
    """The cuts bpe_pieces makes are pre-token boundaries for the library too: the long-text path
    (pieces) gives the ids of encoding the text in one call."""
    pieces, rest = bpe_pieces(text, piece_chars)
    cut = demo_bpe.encode_pieces([*pieces, rest] if rest else pieces).tolist()
    assert cut == demo_bpe.hf.encode(text, add_special_tokens=False).ids


def test_dataset_tokens_decode_to_the_input_files(home, tmp_path):
    """Through prepare: the two splits together decode to the files' text byte for byte (the end of
    text token between files stands for no text), for UTF-8 and UTF-16 files."""
    text = adversarial_text().replace("\x00", "") * 20  # the importer refuses NUL bytes
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text(text, encoding="utf-8", newline="")
    b.write_bytes(b"\xff\xfe" + ("Ünïcödé in UTF-16 🙂\r\n" * 300).encode("utf-16-le"))
    meta = ds.prepare_dataset([a, b], "adv", "bpe", vocab_size=400, home=home, chunk_bytes=4096)
    tok = tokenizer_from_meta(meta)
    ids = np.concatenate([ds.dataset_tokens("adv", s, 0, 10**9, home=home) for s in ("train", "val")])
    eot = np.flatnonzero(ids == tok.eot_token)
    assert len(eot) == 1  # between the two files, never from the text's literal "<|endoftext|>"
    assert tok.decode(ids[: eot[0]]) == text
    assert tok.decode(ids[eot[0] + 1 :]) == "Ünïcödé in UTF-16 🙂\r\n" * 300
    assert meta["train_bytes"] + meta["val_bytes"] == len(text.encode()) + len(
        ("Ünïcödé in UTF-16 🙂\r\n" * 300).encode()
    )


def test_invalid_utf8_is_refused_before_a_dataset_exists(home, tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"fine text " * 10_000 + b"\xff\xfe broken")
    with pytest.raises(DatasetError, match="not valid UTF-8"):
        ds.prepare_dataset([bad], "bad", "bpe", vocab_size=300, home=home)
    assert not (home / "datasets" / "bad").exists()


# ----- the vocabulary -----


def test_special_tokens_follow_the_learned_vocabulary(demo_bpe):
    n = demo_bpe.learned_size
    assert n == 1024 and demo_bpe.vocab_size == 1024 + len(SPECIAL_TOKENS)
    assert list(demo_bpe.special_tokens) == list(SPECIAL_TOKENS)
    assert list(demo_bpe.special_tokens.values()) == list(range(n, n + len(SPECIAL_TOKENS)))
    assert demo_bpe.eot_token == demo_bpe.special_tokens[END_OF_TEXT]
    for name, i in demo_bpe.special_tokens.items():
        assert demo_bpe.token_text(i) == name
    # their text in the input is ordinary text, never the special id
    ids = demo_bpe.encode(f"a{END_OF_TEXT}b{START_OF_TURN['assistant']}")
    assert not set(ids) & set(demo_bpe.special_tokens.values())
    lengths = demo_bpe.token_byte_lengths()
    assert lengths.shape == (demo_bpe.vocab_size,)
    assert (lengths[n:] == 0).all() and (lengths[:n] >= 1).all()
    assert lengths[demo_bpe.encode(" the")[0]] == len(" the")  # a merged piece


def test_meta_round_trip_and_damaged_tokenizer(demo_bpe):
    meta = demo_bpe.to_meta()
    assert meta["special_tokens"] == demo_bpe.special_tokens and meta["eot_token"] == demo_bpe.eot_token
    again = tokenizer_from_meta(json.loads(json.dumps(meta)))
    assert again.encode(DEMO[:2000]) == demo_bpe.encode(DEMO[:2000])
    for broken in ("", "{}", meta["tokenizer_json"][:500], json.dumps({"model": {"type": "WordPiece"}})):
        with pytest.raises(TokenizerError, match="prepare the dataset again"):
            tokenizer_from_meta({**meta, "tokenizer_json": broken})
    no_specials = json.loads(meta["tokenizer_json"])
    no_specials["added_tokens"] = []
    with pytest.raises(TokenizerError, match="special token"):
        BPETokenizer(json.dumps(no_specials))
    with pytest.raises(TokenizerError, match="missing"):
        tokenizer_from_meta({"tokenizer": "bpe", "vocab_size": 300})


def test_a_small_text_learns_fewer_tokens_than_asked():
    tok = train_bpe(["abab abab cdcd"], 5000)
    assert VOCAB_MIN <= tok.learned_size < 300
    assert tok.decode(tok.encode("abab xyz")) == "abab xyz"


def test_vocab_size_range():
    assert check_vocab_size(VOCAB_MIN) == VOCAB_MIN and check_vocab_size(VOCAB_MAX) == VOCAB_MAX
    for bad in (VOCAB_MIN - 1, VOCAB_MAX + 1, 0, -5, 2048.0, "2048", True, None):
        with pytest.raises(TokenizerError, match="256 to 65,536"):
            check_vocab_size(bad)


def test_default_vocab_size_grows_with_the_text_and_says_why():
    sizes = [default_vocab_size(n)[0] for n in (0, 10_000, 1_115_394, 10**7, 10**8, 10**10)]
    assert sizes == sorted(sizes) and sizes[0] == 512 and sizes[-1] == 32768
    assert all(s & (s - 1) == 0 for s in sizes)  # powers of two
    n, reason = default_vocab_size(1_115_394)  # the demo text
    assert n == 2048 and "2,048" in reason and "1.1 MiB" in reason


# ----- determinism -----


def test_prepare_is_deterministic(home, tmp_path):
    """Same input and settings -> identical tokenizer.json and token files, whatever the chunking,
    the number of threads, or the library's thread pool size (a separate process)."""
    src = tmp_path / "in.txt"
    src.write_text(DEMO[:300_000], encoding="utf-8")
    a = ds.prepare_dataset([src], "a", "bpe", vocab_size=700, home=home)
    b = ds.prepare_dataset([src], "b", "bpe", vocab_size=700, home=home, chunk_bytes=10_000, num_threads=1)
    code = textwrap.dedent(
        f"""
        from gptstudio.core import dataset as ds
        ds.prepare_dataset([{str(src)!r}], "c", "bpe", vocab_size=700, home={str(home)!r}, chunk_bytes=65536)
        """
    )
    env = {**os.environ, "RAYON_NUM_THREADS": "1"}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=300)
    folders = [home / "datasets" / n for n in "abc"]
    first = [(folders[0] / f).read_bytes() for f in ("tokenizer.json", "train.bin", "val.bin")]
    for folder in folders[1:]:
        assert [(folder / f).read_bytes() for f in ("tokenizer.json", "train.bin", "val.bin")] == first
    assert a["vocab_size"] == b["vocab_size"] == 705


# ----- the dataset folder -----


def test_bpe_dataset_folder_and_meta(home, tmp_path):
    src = tmp_path / "in.txt"
    src.write_text(DEMO[:200_000], encoding="utf-8")
    meta = ds.prepare_dataset([src], "d", "bpe", vocab_size=512, home=home)
    folder = home / "datasets" / "d"
    assert sorted(p.name for p in folder.iterdir()) == ["meta.json", "tokenizer.json", "train.bin", "val.bin"]
    on_disk = json.loads((folder / "meta.json").read_text())
    assert "tokenizer_json" not in on_disk  # it is tokenizer.json, beside meta.json
    assert on_disk["tokenizer"] == "bpe" and on_disk["vocab_size"] == 517
    assert on_disk["special_tokens"] == {name: 512 + i for i, name in enumerate(SPECIAL_TOKENS)}
    loaded = ds.load_dataset_meta(folder)
    assert loaded["tokenizer_json"] == (folder / "tokenizer.json").read_text(encoding="utf-8")
    assert meta["tokenizer_json"] == loaded["tokenizer_json"]
    assert [e["name"] for e in ds.list_datasets(home) if "error" not in e] == ["d"]
    (folder / "tokenizer.json").unlink()
    with pytest.raises(DatasetError, match=r"tokenizer\.json is missing"):
        ds.load_dataset_meta(folder)


def test_vocab_size_only_for_bpe(home, tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("hello world " * 100, encoding="utf-8")
    with pytest.raises(DatasetError, match="only applies to the 'bpe' tokenizer"):
        ds.prepare_dataset([src], "x", "char", vocab_size=512, home=home)
    with pytest.raises(DatasetError, match="256 to 65,536"):
        ds.prepare_dataset([src], "x", "bpe", vocab_size=100, home=home)
    meta = ds.prepare_dataset([src], "x", "bpe", home=home)  # the default size: the text's pairs only
    assert meta["vocab_size"] < 512 + len(SPECIAL_TOKENS)


# ----- progress and cancel -----


def test_progress_reads_the_input_twice(home, tmp_path):
    src = tmp_path / "in.txt"
    src.write_text(DEMO[:300_000], encoding="utf-8")
    seen = []
    ds.prepare_dataset([src], "p", "bpe", vocab_size=512, home=home, chunk_bytes=16384, report=seen.append)
    phases = [p.phase for p in seen]
    assert phases[0] == "scanning" and phases[-1] == "finishing"
    assert {"vocabulary", "encoding"} <= set(phases)
    assert phases.index("encoding") > max(i for i, p in enumerate(phases) if p == "vocabulary")
    assert all(p.total == 2 * src.stat().st_size for p in seen[1:])
    done = [p.done for p in seen]
    assert done == sorted(done) and done[-1] == seen[-1].total


@pytest.mark.parametrize("phase", ["vocabulary", "learning merges", "encoding"])
def test_cancel_in_every_phase_leaves_nothing(home, tmp_path, phase):
    src = tmp_path / "in.txt"
    src.write_text(DEMO * 2, encoding="utf-8")
    cancel = threading.Event()

    def report(p):
        if p.phase == phase:
            cancel.set()

    with pytest.raises(Cancelled):
        ds.prepare_dataset(
            [src], "c", "bpe", vocab_size=4096, home=home, chunk_bytes=65536, report=report, cancel=cancel
        )
    assert list((home / "datasets").iterdir()) == []


def test_a_file_changed_between_the_passes_is_refused(home, tmp_path):
    src = tmp_path / "in.txt"
    src.write_text(DEMO[:100_000], encoding="utf-8")

    def report(p):
        if p.phase == "encoding" and not report.done:
            report.done = True
            src.write_text(DEMO[:100_000] + "more text", encoding="utf-8")

    report.done = False
    with pytest.raises(DatasetError, match="changed while the dataset was being prepared"):
        ds.prepare_dataset([src], "c", "bpe", vocab_size=300, home=home, report=report, chunk_bytes=1 << 20)
    assert list((home / "datasets").iterdir()) == []


# ----- memory -----

MEMORY_SCRIPT = """
import random, sys
from gptstudio.core import dataset as ds

def peak_rss():
    # VmHWM: this process's own peak (ru_maxrss would keep the forking parent's peak across exec)
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:"))

def generate(path, nbytes, seed=0, nwords=30000):
    # Zipf-distributed words from a fixed list: like natural text, new words get rarer as it grows
    rng = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyzéàü"
    words = ["".join(rng.choice(letters) for _ in range(rng.randint(1, 10))) for _ in range(nwords)]
    weights = [1 / (i + 1) for i in range(nwords)]
    with open(path, "w", encoding="utf-8") as f:
        written = 0
        while written < nbytes:
            line = " ".join(rng.choices(words, weights, k=200)) + ".\\n"
            written += f.write(line)

generate(sys.argv[1], int(sys.argv[2]))
before = peak_rss()
ds.prepare_dataset([sys.argv[1]], "big", "bpe", vocab_size=2048, home=sys.argv[3])
print(before, peak_rss())
"""

# The bound: preparing may add at most 256 MB to the process's peak memory, whatever the size of the
# input: the files are streamed in 8 MB chunks and the trainer keeps one count per distinct word, never
# the text. Measured on the 2-core CI machine: +120 MB for 8 MB of text, +172 MB for 24 MB, +191 MB for
# 48 MB (the word and pair tables fill up as rare words appear, then stay).
MEMORY_BOUND = 256 << 20


def peak_memory_growth(tmp_path, input_bytes: int) -> int:
    out = subprocess.run(
        [sys.executable, "-c", MEMORY_SCRIPT, str(tmp_path / "big.txt"), str(input_bytes), str(tmp_path / "home")],
        capture_output=True,
        text=True,
        timeout=1800,
        check=True,
    )
    before, after = map(int, out.stdout.split())
    return after - before


@pytest.mark.skipif(sys.platform != "linux", reason="reads the peak memory from /proc")
def test_memory_stays_bounded_on_a_large_input(tmp_path):
    growth = peak_memory_growth(tmp_path, 12 << 20)
    assert growth < MEMORY_BOUND, f"peak memory grew by {growth >> 20} MB"


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="reads the peak memory from /proc")
def test_memory_bound_holds_for_a_much_larger_input(tmp_path):
    growth = peak_memory_growth(tmp_path, 96 << 20)
    assert growth < MEMORY_BOUND, f"peak memory grew by {growth >> 20} MB"
