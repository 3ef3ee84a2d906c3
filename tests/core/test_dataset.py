import codecs
import errno
import hashlib
import json
import pickle
import threading
import tracemalloc
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gptstudio.core import dataset as ds
from gptstudio.core.errors import Cancelled, DatasetError, WorkspaceError
from gptstudio.core.safe_pickle import MAX_PICKLE_BYTES, read_meta_pkl, safe_load, safe_loads
from gptstudio.core.textfiles import iter_text_chunks
from gptstudio.core.tokenizer import GPT2_EOT, CharTokenizer, gpt2_encoding

MIXED = (
    "Crème brûlée, naïve façade — Ångström.\r\n中文字符和日本語のテキスト、한국어\n"
    "emoji 😀🎉👍🏽 🇫🇷 𝄞 and plain words   with  runs of spaces\n\n\tTabs\r\n"
) * 20


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


def all_ids(meta: dict) -> np.ndarray:
    folder = Path(meta["path"])
    return np.concatenate(
        [np.fromfile(folder / "train.bin", dtype=meta["dtype"]), np.fromfile(folder / "val.bin", dtype=meta["dtype"])]
    )


def leftovers(home: Path) -> list[str]:
    return sorted(p.name for p in (home / "datasets").iterdir() if p.name.startswith(".") and p.is_dir())


def snapshot(folder: Path) -> dict:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


# --------------------------------------------------------------------------------------------- char


def test_char_prepare_round_trip_and_meta(home, tmp_path):
    src = write(tmp_path / "mixed.txt", MIXED)
    meta = ds.prepare_dataset([src], "mixed", home=home)
    assert meta["chars"] == sorted(set(MIXED))
    assert meta["vocab_size"] == len(meta["chars"])
    assert meta["dtype"] == "uint16" and meta["tokenizer"] == "char" and meta["format"] == 1
    assert CharTokenizer(meta["chars"]).decode(all_ids(meta)) == MIXED  # CRLF, emoji, CJK kept exactly
    assert meta["total_chars"] == len(MIXED)
    assert meta["total_bytes"] == src.stat().st_size
    assert meta["sources"] == [
        {
            "path": str(src),
            "size": src.stat().st_size,
            "sha256": hashlib.sha256(src.read_bytes()).hexdigest(),
            "encoding": "utf-8",
            "chars": len(MIXED),
            "format": "text",
        }
    ]
    assert "skipped" not in meta and "cleanup" not in meta  # plain text is used as it is
    assert datetime.fromisoformat(meta["created"]).tzinfo is not None
    on_disk = json.loads((home / "datasets" / "mixed" / "meta.json").read_text(encoding="utf-8"))
    assert on_disk == {k: v for k, v in meta.items() if k not in ("name", "path")}
    assert meta["name"] == "mixed" and meta["path"] == str(home / "datasets" / "mixed")
    assert leftovers(home) == []


@pytest.mark.parametrize("val_fraction", [0.1, 0.25, 0.5])
def test_split_first_part_train_rest_val(home, tmp_path, val_fraction):
    text = "abcdefghij" * 13  # 130 tokens
    meta = ds.prepare_dataset([write(tmp_path / "a.txt", text)], "split", val_fraction=val_fraction, home=home)
    n_train = int(130 * (1 - val_fraction))
    assert (meta["train_tokens"], meta["val_tokens"]) == (n_train, 130 - n_train)
    tok = CharTokenizer(meta["chars"])
    folder = Path(meta["path"])
    assert tok.decode(np.fromfile(folder / "train.bin", np.uint16)) == text[:n_train]
    assert tok.decode(np.fromfile(folder / "val.bin", np.uint16)) == text[n_train:]
    assert meta["val_fraction"] == val_fraction


@pytest.mark.parametrize("chunk", [16, 17, 19, 64])
def test_char_streaming_with_tiny_chunks_equals_whole(home, tmp_path, chunk):
    src = write(tmp_path / "m.txt", MIXED)
    meta = ds.prepare_dataset([src], f"c{chunk}", home=home, chunk_bytes=chunk)
    assert np.array_equal(all_ids(meta), CharTokenizer(sorted(set(MIXED))).encode_array(MIXED))


@pytest.mark.parametrize(
    "encoding,label",
    [("utf-8-sig", "utf-8-sig"), ("utf-16", "utf-16-le"), ("utf-16-be", "utf-16-be"), ("utf-32", "utf-32-le")],
)
def test_bom_encodings_are_read_incrementally(home, tmp_path, encoding, label):
    raw = MIXED.encode(encoding)
    if encoding == "utf-16-be":
        raw = codecs.BOM_UTF16_BE + raw
    src = tmp_path / "bom.txt"
    src.write_bytes(raw)
    meta = ds.prepare_dataset([src], "bom", home=home, chunk_bytes=17)  # odd size: splits code units
    assert "\ufeff" not in meta["chars"]
    assert CharTokenizer(meta["chars"]).decode(all_ids(meta)) == MIXED
    assert meta["sources"][0]["encoding"] == label
    assert meta["sources"][0]["sha256"] == hashlib.sha256(raw).hexdigest()


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-32"])
def test_text_chunks_cover_the_file_exactly(tmp_path, encoding):
    src = tmp_path / "t.txt"
    src.write_bytes(MIXED.encode(encoding))
    for chunk_bytes in (16, 17, 33, 4096):
        chunks = list(iter_text_chunks(src, chunk_bytes))
        assert "".join(c.text for c in chunks) == MIXED
        assert sum(c.nread for c in chunks) == src.stat().st_size  # progress adds up to the file size
        assert all(c.data == c.text.encode("utf-8") and c.is_ascii == c.data.isascii() for c in chunks)


def test_several_inputs_and_folders_in_sorted_order(home, tmp_path):
    folder = tmp_path / "books"
    write(folder / "b.txt", "second ")
    write(folder / "a" / "z.txt", "first ")
    write(folder / ".hidden.txt", "HIDDEN")
    write(folder / ".git" / "x.txt", "GIT")
    (folder / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    (folder / "data.dat").write_bytes(b"ab\x00cd")
    (folder / "empty.txt").write_bytes(b"")
    last = write(tmp_path / "last.txt", "third")
    assert ds.collect_input_files([folder, last]) == [folder / "a" / "z.txt", folder / "b.txt", last]
    meta = ds.prepare_dataset([folder, last], "multi", home=home)
    assert CharTokenizer(meta["chars"]).decode(all_ids(meta)) == "first second third"
    assert [Path(s["path"]).name for s in meta["sources"]] == ["z.txt", "b.txt", "last.txt"]


def test_uint32_when_the_vocabulary_needs_it(home, tmp_path):
    # 70,000 distinct characters (CJK and other ranges, no surrogates)
    cps = list(range(0x4E00, 0x9FFF)) + list(range(0xAC00, 0xD7A3)) + list(range(0x20000, 0x2A6DF))
    text = "".join(map(chr, cps[:70000])) * 2
    assert ds.token_dtype(65535) == np.uint16 and ds.token_dtype(65536) == np.uint32
    meta = ds.prepare_dataset([write(tmp_path / "wide.txt", text)], "wide", home=home, chunk_bytes=50_000)
    assert meta["vocab_size"] == 70000 and meta["dtype"] == "uint32"
    ids = all_ids(meta)
    assert ids.dtype == np.uint32 and int(ids.max()) == 69999
    assert CharTokenizer(meta["chars"]).decode(ids) == text
    assert ds.load_dataset_meta(meta["path"])["dtype"] == "uint32"


def test_char_memory_stays_flat(home, tmp_path, shakespeare_text):
    src = write(tmp_path / "big.txt", shakespeare_text * 10)  # ~11 MB
    tracemalloc.start()
    try:
        ds.prepare_dataset([src], "big", home=home, chunk_bytes=256 << 10)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20, f"peak {peak / 1e6:.1f} MB for an 11 MB input in 256 KB chunks"


# --------------------------------------------------------------------------------------------- gpt2

TRICKY = (
    "Hello world!  Two  spaces,\tthen tabs\t\tand   runs   \n\n\nBlank lines\r\nCRLF\r\n\r\n"
    "it's we'll they've I'm   'quoted'  1234 5678 +-*/ café naïve 中文 😀 \n  indented\n"
    "trailing spaces   \n\u00a0nbsp\u3000ideographic space\x1c\x1dseparators\x0b\x0cend"
) * 8


@pytest.mark.parametrize("chunk", [16, 23, 64, 1000])
def test_gpt2_streaming_ids_equal_encoding_the_whole_file(home, tmp_path, chunk):
    src = write(tmp_path / "t.txt", TRICKY)
    meta = ds.prepare_dataset([src], f"g{chunk}", "gpt2", home=home, chunk_bytes=chunk, num_threads=2)
    assert all_ids(meta).tolist() == gpt2_encoding().encode_ordinary(TRICKY)
    assert meta["vocab_size"] == 50257 and meta["eot_token"] == GPT2_EOT and meta["dtype"] == "uint16"
    assert meta["total_chars"] == len(TRICKY)


def test_gpt2_shakespeare_in_small_chunks_equals_whole(home, tmp_path, shakespeare_text):
    text = shakespeare_text[:200_000]
    meta = ds.prepare_dataset([write(tmp_path / "s.txt", text)], "s", "gpt2", home=home, chunk_bytes=4096)
    assert all_ids(meta).tolist() == gpt2_encoding().encode_ordinary(text)


def test_gpt2_end_of_text_between_files(home, tmp_path):
    a, b = write(tmp_path / "1.txt", "First document.\n"), write(tmp_path / "2.txt", "Second one")
    meta = ds.prepare_dataset([a, b], "docs", "gpt2", home=home)
    enc = gpt2_encoding()
    assert all_ids(meta).tolist() == enc.encode_ordinary("First document.\n") + [GPT2_EOT] + enc.encode_ordinary(
        "Second one"
    )


@settings(max_examples=60, deadline=None)
@given(
    st.text(alphabet=st.sampled_from(list(" \t\n\r\x0b\x0c\u00a0\u2028aZ9'.é中😀-")), max_size=300),
    st.integers(min_value=1, max_value=40),
)
def test_bpe_pieces_cut_only_where_gpt2_splits(text, piece_chars):
    enc = gpt2_encoding()
    pieces, rest = ds.bpe_pieces(text, piece_chars)
    assert "".join(pieces) + rest == text
    assert all(len(p) > piece_chars for p in pieces)
    ids = [i for p in pieces + [rest] for i in enc.encode_ordinary(p)]
    assert ids == enc.encode_ordinary(text)


# ---------------------------------------------------------------------------------------- bad input


def test_missing_file(home, tmp_path):
    with pytest.raises(DatasetError, match=r"not found: .*nope\.txt"):
        ds.prepare_dataset([tmp_path / "nope.txt"], "x", home=home)


def test_empty_file_and_empty_input(home, tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    with pytest.raises(DatasetError, match=r"empty\.txt is empty"):
        ds.prepare_dataset([empty], "x", home=home)
    bom_only = tmp_path / "bom.txt"
    bom_only.write_bytes(codecs.BOM_UTF8)
    for tok in ("char", "gpt2"):
        with pytest.raises(DatasetError, match="no text"):
            ds.prepare_dataset([bom_only], "x", tok, home=home)
    with pytest.raises(DatasetError, match="No input"):
        ds.prepare_dataset([], "x", home=home)
    (tmp_path / "nothing").mkdir()
    with pytest.raises(DatasetError, match="has no text files"):
        ds.prepare_dataset([tmp_path / "nothing"], "x", home=home)


def test_binary_file_named_explicitly(home, tmp_path):
    src = tmp_path / "model.bin"
    src.write_bytes(b"abc\x00\x01\x02" * 10)
    with pytest.raises(DatasetError, match=r"model\.bin is not a text file: it contains NUL bytes"):
        ds.prepare_dataset([src], "x", home=home)


def test_nul_far_into_the_file(home, tmp_path):
    src = tmp_path / "late.txt"
    src.write_bytes(b"a" * 100_000 + b"\x00")
    with pytest.raises(DatasetError, match="offset 100,000"):
        ds.prepare_dataset([src], "x", home=home, chunk_bytes=4096)


def test_invalid_utf8_says_where(home, tmp_path):
    src = tmp_path / "latin1.txt"
    src.write_bytes(("line\n" * 30_000).encode() + "café\n".encode("latin-1"))  # past the 64 KB head check
    with pytest.raises(DatasetError) as e:
        ds.prepare_dataset([src], "x", home=home, chunk_bytes=1000)
    msg = str(e.value)
    assert "latin1.txt is not valid UTF-8" in msg and "0xE9" in msg
    assert "offset 150,003" in msg and "line 30,001" in msg and "\n" not in msg
    head = tmp_path / "head.txt"  # caught by the quick head check, same message style
    head.write_bytes(b"ok\n\xff\xfe")
    with pytest.raises(DatasetError, match=r"not valid UTF-8 text: the byte 0xFF at offset 3 \(line 2\)"):
        ds.prepare_dataset([head], "x", home=home)


def test_truncated_utf8_at_end_of_file(home, tmp_path):
    src = tmp_path / "cut.txt"
    src.write_bytes(b"x" * 70_000 + "é".encode()[:1])
    with pytest.raises(DatasetError, match="offset 70,000"):
        ds.prepare_dataset([src], "x", home=home, chunk_bytes=1024)


def test_invalid_utf16(home, tmp_path):
    src = tmp_path / "u16.txt"
    src.write_bytes(codecs.BOM_UTF16_LE + "ok".encode("utf-16-le") + b"\x00\xdc" + "zz".encode("utf-16-le"))
    with pytest.raises(DatasetError, match="not valid UTF-16-LE text"):
        ds.prepare_dataset([src], "x", home=home)


def test_too_little_text_says_how_much_more(home, tmp_path):
    src = write(tmp_path / "one.txt", "a")
    with pytest.raises(DatasetError, match="only 1 character.*at least 2.*at least 1 more character "):
        ds.prepare_dataset([src], "x", home=home)
    src = write(tmp_path / "two.txt", "ab")
    with pytest.raises(DatasetError, match="only 2 characters.*at least 4.*2 more characters"):
        ds.prepare_dataset([src], "x", val_fraction=0.75, home=home)
    assert leftovers(home) == [] and not (home / "datasets" / "x").exists()


def test_invalid_name_tokenizer_and_fraction(home, tmp_path):
    src = write(tmp_path / "a.txt", "hello world")
    for bad in ("", "../up", "a b", ".hidden"):
        with pytest.raises(WorkspaceError):
            ds.prepare_dataset([src], bad, home=home)
    with pytest.raises(DatasetError, match="Unknown tokenizer"):
        ds.prepare_dataset([src], "x", "sentencepiece", home=home)
    for vf in (0, 1, -0.1, "lots"):
        with pytest.raises(DatasetError, match="validation fraction"):
            ds.prepare_dataset([src], "x", val_fraction=vf, home=home)


def test_existing_name_needs_force(home, tmp_path):
    ds.prepare_dataset([write(tmp_path / "a.txt", "old text")], "same", home=home)
    before = snapshot(home / "datasets" / "same")
    with pytest.raises(DatasetError, match="'same' already exists"):
        ds.prepare_dataset([write(tmp_path / "b.txt", "new text!")], "same", home=home)
    assert snapshot(home / "datasets" / "same") == before
    meta = ds.prepare_dataset([tmp_path / "b.txt"], "same", home=home, force=True)
    assert CharTokenizer(meta["chars"]).decode(all_ids(meta)) == "new text!"
    assert leftovers(home) == []


def test_disk_full_is_one_clear_error_and_leaves_nothing(home, tmp_path, monkeypatch):
    ds.prepare_dataset([write(tmp_path / "a.txt", "old text")], "same", home=home)
    before = snapshot(home / "datasets" / "same")

    def full(self, ids):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(ds._TokenFile, "write", full)
    for tok in ("char", "gpt2"):
        with pytest.raises(DatasetError, match="disk is full.*free space"):
            ds.prepare_dataset([write(tmp_path / "b.txt", "new text " * 100)], "same", tok, home=home, force=True)
    assert snapshot(home / "datasets" / "same") == before
    assert leftovers(home) == []


# --------------------------------------------------------------------------------- cancel / atomicity


@pytest.mark.parametrize(
    "tokenizer,phase", [("char", "vocabulary"), ("char", "encoding"), ("gpt2", "encoding"), ("char", "finishing")]
)
def test_cancel_from_the_report_callback(home, tmp_path, tokenizer, phase):
    ds.prepare_dataset([write(tmp_path / "a.txt", "old text")], "same", home=home)
    before = snapshot(home / "datasets" / "same")
    cancel, seen = threading.Event(), []

    def report(p):
        seen.append(p)
        if p.phase == phase:
            cancel.set()

    with pytest.raises(Cancelled):
        ds.prepare_dataset(
            [write(tmp_path / "b.txt", MIXED * 5)],
            "same",
            tokenizer,
            home=home,
            force=True,
            report=report,
            cancel=cancel,
            chunk_bytes=1024,
        )
    assert seen[-1].phase == phase
    assert snapshot(home / "datasets" / "same") == before
    assert leftovers(home) == []


def test_progress_is_monotonic_and_complete(home, tmp_path):
    src = write(tmp_path / "a.txt", MIXED)
    seen = []
    ds.prepare_dataset([src], "p", home=home, report=seen.append, chunk_bytes=512)
    assert all(isinstance(p, ds.PrepareProgress) for p in seen)
    assert [p.done for p in seen] == sorted(p.done for p in seen)
    assert seen[-1].done == seen[-1].total == 2 * src.stat().st_size  # char reads the input twice
    assert {p.phase for p in seen} == {"scanning", "vocabulary", "encoding", "finishing"}


def test_failure_in_a_later_file_keeps_the_existing_dataset(home, tmp_path):
    ds.prepare_dataset([write(tmp_path / "a.txt", "old text")], "same", home=home)
    before = snapshot(home / "datasets" / "same")
    good = write(tmp_path / "good.txt", MIXED)
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"fine\n" * 20_000 + b"\xc3(")
    for tok in ("char", "gpt2"):
        with pytest.raises(DatasetError, match="bad.txt is not valid UTF-8"):
            ds.prepare_dataset([good, bad], "same", tok, home=home, force=True, chunk_bytes=4096)
    assert snapshot(home / "datasets" / "same") == before
    assert leftovers(home) == []


def test_file_changing_between_passes_is_detected(home, tmp_path, monkeypatch):
    src = write(tmp_path / "a.txt", "abc " * 100)
    real = ds._char_vocabulary

    def vocabulary_then_edit(*args):
        result = real(*args)
        src.write_text("xyz " * 100, encoding="utf-8")
        return result

    monkeypatch.setattr(ds, "_char_vocabulary", vocabulary_then_edit)
    with pytest.raises(DatasetError, match="changed while"):
        ds.prepare_dataset([src], "x", home=home)
    assert leftovers(home) == []


# ------------------------------------------------------------------------------ reading datasets


def test_load_list_tokens_delete(home, tmp_path):
    meta = ds.prepare_dataset([write(tmp_path / "a.txt", "hello there, general")], "hello", home=home)
    assert ds.load_dataset_meta(meta["path"])["chars"] == meta["chars"]
    assert ds.load_dataset_meta(Path(meta["path"]) / "meta.json")["vocab_size"] == meta["vocab_size"]
    tok = CharTokenizer(meta["chars"])
    assert tok.decode(ds.dataset_tokens("hello", "train", start=6, count=5, home=home)) == "there"
    assert tok.decode(ds.dataset_tokens(Path(meta["path"]), "val")) == "al"  # int(20 * 0.9) = 18 train
    assert len(ds.dataset_tokens("hello", "val", start=1, count=100, home=home)) == 1
    assert len(ds.dataset_tokens("hello", "val", start=99, home=home)) == 0
    with pytest.raises(DatasetError, match="split"):
        ds.dataset_tokens("hello", "test", home=home)

    (home / "datasets" / "junk").mkdir()
    entries = {e["name"]: e for e in ds.list_datasets(home)}
    assert set(entries) == {"hello", "junk"}
    assert entries["hello"]["train_tokens"] == 18 and "error" not in entries["hello"]
    assert entries["hello"]["size_on_disk"] == sum(p.stat().st_size for p in Path(meta["path"]).iterdir())
    assert "no meta.json" in entries["junk"]["error"]

    ds.delete_dataset("hello", home=home)
    assert not Path(meta["path"]).exists() and leftovers(home) == []
    with pytest.raises(DatasetError, match="no dataset named 'hello'"):
        ds.delete_dataset("hello", home=home)


@pytest.mark.parametrize(
    "damage,message",
    [
        (lambda f: (f / "meta.json").write_text("{not json"), "cannot be read"),
        (lambda f: (f / "val.bin").unlink(), "val.bin is missing"),
        (lambda f: (f / "train.bin").write_bytes(b"\x00\x00"), "train.bin has 2 bytes"),
        (lambda f: (f / "meta.json").write_text('{"format": 1}'), "no valid 'vocab_size'"),
        (lambda f: (f / "meta.json").unlink(), "no meta.json"),
    ],
)
def test_damaged_datasets_are_reported_not_crashing(home, tmp_path, damage, message):
    meta = ds.prepare_dataset([write(tmp_path / "a.txt", "some text here")], "d", home=home)
    damage(Path(meta["path"]))
    with pytest.raises(DatasetError, match=message):
        ds.load_dataset_meta(meta["path"])
    [entry] = ds.list_datasets(home)
    assert message.split()[0] in entry["error"]


def test_nanogpt_folder_without_meta_json_gets_a_hint(tmp_path):
    (tmp_path / "train.bin").write_bytes(b"\x00\x00")
    with pytest.raises(DatasetError, match="import-nanogpt-data"):
        ds.load_dataset_meta(tmp_path)


# --------------------------------------------------------------------------------- file inspection


def test_inspect_text_file(tmp_path):
    info = ds.inspect_text_file(write(tmp_path / "a.txt", "first line\nsecond ligne é\n"))
    assert info.is_text and info.encoding == "utf-8" and info.reason == ""
    assert info.preview_lines == ["first line", "second ligne é"] and info.size == 27

    info = ds.inspect_text_file(write(tmp_path / "u16.txt", "\ufeffbonjour\r\nmonde", "utf-16-le"))
    assert info.is_text and info.encoding == "utf-16-le" and info.preview_lines == ["bonjour", "monde"]

    big = tmp_path / "big.txt"  # the 64 KB window ends inside a 3-byte character
    big.write_bytes(b"x" * (64 * 1024 - 1) + "中".encode() + b"\nmore")
    assert ds.inspect_text_file(big).is_text

    (tmp_path / "bin.dat").write_bytes(b"\x7fELF\x00\x00")
    info = ds.inspect_text_file(tmp_path / "bin.dat")
    assert not info.is_text and "NUL" in info.reason

    (tmp_path / "latin.txt").write_bytes("déjà\n".encode("latin-1"))
    info = ds.inspect_text_file(tmp_path / "latin.txt")
    assert not info.is_text and "not valid UTF-8" in info.reason and "line 1" in info.reason

    (tmp_path / "empty.txt").write_bytes(b"")
    assert "empty" in ds.inspect_text_file(tmp_path / "empty.txt").reason
    assert "does not exist" in ds.inspect_text_file(tmp_path / "missing.txt").reason
    assert not ds.inspect_text_file(tmp_path).is_text


def test_demo_text_is_bundled():
    path = ds.demo_text_path()
    assert path.name == "demo_shakespeare.txt" and path.stat().st_size > 1_000_000
    assert path.read_text(encoding="utf-8").startswith("First Citizen:")
    assert (path.parent / "README.md").exists()


# ---------------------------------------------------------------------------- safe unpickler / import


class _Evil:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))  # would create the marker file if it ever ran


def test_safe_unpickler_accepts_plain_data_and_refuses_code(tmp_path):
    plain = {"vocab_size": 3, "itos": {0: "a", 1: "b"}, "x": [1, 2.5, None, True, ("t",)], "big": 2**70}
    for protocol in range(0, pickle.HIGHEST_PROTOCOL + 1):
        assert safe_loads(pickle.dumps(plain, protocol=protocol)) == plain
    assert safe_loads(pickle.dumps({"b": b"raw"}, protocol=3)) == {"b": b"raw"}
    marker = tmp_path / "pwned"
    for protocol in (0, 2, pickle.HIGHEST_PROTOCOL):
        evil = tmp_path / f"evil{protocol}.pkl"
        evil.write_bytes(pickle.dumps({"vocab_size": 1, "itos": _Evil(marker)}, protocol=protocol))
        with pytest.raises(DatasetError, match="refused: it asks to load io.open, which could run code"):
            safe_load(evil)
        assert not marker.exists()
    live = tmp_path / "live"  # the payload is real: the ordinary unpickler runs it
    pickle.loads(pickle.dumps(_Evil(live))).close()
    assert live.exists()
    with pytest.raises(DatasetError, match="refused"):
        safe_loads(b"not a pickle")


def test_read_meta_pkl_gives_our_tokenizer_meta_or_one_clear_refusal(tmp_path):
    path = tmp_path / "meta.pkl"
    chars = sorted(set("hello world"))
    for itos in (dict(enumerate(chars)), chars):  # nanoGPT writes a dict; a list reads the same
        path.write_bytes(pickle.dumps({"vocab_size": len(chars), "itos": itos, "stoi": {}}))
        assert read_meta_pkl(path) == {"tokenizer": "char", "vocab_size": len(chars), "chars": chars}
    for vocab in (50257, 50304):  # a GPT-2 data folder's meta.pkl: no itos
        path.write_bytes(pickle.dumps({"vocab_size": vocab}))
        assert read_meta_pkl(path) == {"tokenizer": "gpt2", "vocab_size": 50257, "eot_token": GPT2_EOT}
    for bad, match in [
        ([1, 2], "not a nanoGPT meta.pkl"),
        ({"vocab_size": 3}, "no usable vocabulary"),
        ({"vocab_size": 2, "itos": {0: "a", 1: "a"}}, "damaged vocabulary"),
        ({"vocab_size": 2, "itos": {0: "ab", 1: 7}}, "damaged vocabulary"),
    ]:
        path.write_bytes(pickle.dumps(bad))
        with pytest.raises(DatasetError, match=match):
            read_meta_pkl(path)
    with open(path, "wb") as f:  # a sparse file past the cap: refused before it is read
        f.truncate(MAX_PICKLE_BYTES + 1)
    with pytest.raises(DatasetError, match="too large for a vocabulary file"):
        read_meta_pkl(path)


def make_nanogpt_char(folder: Path, text: str) -> list[int]:
    """What nanoGPT's data/shakespeare_char/prepare.py writes."""
    folder.mkdir(parents=True, exist_ok=True)
    chars = sorted(set(text))
    stoi = {c: i for i, c in enumerate(chars)}
    ids = [stoi[c] for c in text]
    n = int(len(ids) * 0.9)
    np.array(ids[:n], dtype=np.uint16).tofile(folder / "train.bin")
    np.array(ids[n:], dtype=np.uint16).tofile(folder / "val.bin")
    with open(folder / "meta.pkl", "wb") as f:
        pickle.dump({"vocab_size": len(chars), "itos": dict(enumerate(chars)), "stoi": stoi}, f)
    return ids


def test_import_nanogpt_char_data(home, tmp_path):
    text = "To be, or not to be — ça.\n" * 50
    ids = make_nanogpt_char(tmp_path / "shakespeare_char", text)
    meta = ds.import_nanogpt_data(tmp_path / "shakespeare_char", "imported", home=home)
    assert meta["tokenizer"] == "char" and meta["chars"] == sorted(set(text)) and meta["dtype"] == "uint16"
    assert all_ids(meta).tolist() == ids
    assert (meta["train_tokens"], meta["val_tokens"]) == (int(len(ids) * 0.9), len(ids) - int(len(ids) * 0.9))
    assert meta["total_chars"] == len(text) and meta["total_bytes"] == len(text.encode())
    assert meta["imported_from"] == str(tmp_path / "shakespeare_char")
    assert [Path(s["path"]).name for s in meta["sources"]] == ["train.bin", "val.bin", "meta.pkl"]
    assert ds.load_dataset_meta(meta["path"])["vocab_size"] == len(set(text))
    with pytest.raises(DatasetError, match="already exists"):
        ds.import_nanogpt_data(tmp_path / "shakespeare_char", "imported", home=home)
    assert leftovers(home) == []


def test_import_nanogpt_gpt2_data(home, tmp_path):
    enc = gpt2_encoding()
    folder = tmp_path / "owt"
    folder.mkdir()
    train, val = enc.encode_ordinary("Some training text. ") + [GPT2_EOT], enc.encode_ordinary("Validation é")
    np.array(train, np.uint16).tofile(folder / "train.bin")
    np.array(val, np.uint16).tofile(folder / "val.bin")
    meta = ds.import_nanogpt_data(folder, "owt", home=home)
    assert meta["tokenizer"] == "gpt2" and meta["eot_token"] == GPT2_EOT
    assert all_ids(meta).tolist() == train + val
    # the end-of-text token stands for no text: it adds no characters and no bytes
    assert meta["total_chars"] == len("Some training text. Validation é")
    assert (meta["train_bytes"], meta["val_bytes"]) == (len(b"Some training text. "), len("Validation é".encode()))


def test_import_refuses_bad_folders(home, tmp_path):
    make_nanogpt_char(tmp_path / "evil", "abcabc" * 10)
    marker = tmp_path / "pwned"
    (tmp_path / "evil" / "meta.pkl").write_bytes(pickle.dumps({"vocab_size": 3, "itos": _Evil(marker)}))
    with pytest.raises(DatasetError, match="refused"):
        ds.import_nanogpt_data(tmp_path / "evil", "evil", home=home)
    assert not marker.exists()

    make_nanogpt_char(tmp_path / "wrong", "abc" * 10)
    np.array([0, 1, 7], np.uint16).tofile(tmp_path / "wrong" / "val.bin")
    with pytest.raises(DatasetError, match="token id 7.*3 tokens"):
        ds.import_nanogpt_data(tmp_path / "wrong", "wrong", home=home)

    make_nanogpt_char(tmp_path / "noval", "abc" * 10)
    (tmp_path / "noval" / "val.bin").unlink()
    with pytest.raises(DatasetError, match="no val.bin"):
        ds.import_nanogpt_data(tmp_path / "noval", "noval", home=home)

    make_nanogpt_char(tmp_path / "odd", "abc" * 10)
    (tmp_path / "odd" / "train.bin").write_bytes(b"\x00\x00\x00")
    with pytest.raises(DatasetError, match="odd size"):
        ds.import_nanogpt_data(tmp_path / "odd", "odd", home=home)

    with pytest.raises(DatasetError, match="Folder not found"):
        ds.import_nanogpt_data(tmp_path / "missing", "m", home=home)
    assert ds.list_datasets(home) == [] and leftovers(home) == []
