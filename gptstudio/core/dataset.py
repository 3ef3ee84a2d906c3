"""Datasets: turn text files into token files, import nanoGPT data, list, inspect and delete them.

A dataset is a folder `datasets/NAME/` with `train.bin`, `val.bin` (token ids, uint16 or uint32) and
`meta.json` (see docs/ARCHITECTURE.md). Preparing streams the input in chunks, so memory stays flat
whatever the input size:

- char: pass 1 finds the vocabulary (and hashes the files), pass 2 encodes chunk by chunk with
  vectorised lookups (bytes.translate for ASCII chunks, a code-point table in numpy otherwise);
- gpt2: one pass; each chunk is cut into ~1 MB pieces where GPT-2's pre-tokenizer splits anyway
  (so the ids equal encoding the whole file), encoded by tiktoken on a thread pool while the next
  chunk is read; the end-of-text token goes between files.

Tokens go to one temporary file (the total is only known at the end), then the last val_fraction
of it is copied to val.bin and the rest becomes train.bin. Everything is built in a hidden folder
`datasets/.tmp-NAME-*` that is renamed into place at the end; cancel or failure moves it to the
workspace's `.trash/` at once (deleted there in the background) and never touches an existing dataset
of the same name. Like nanoGPT, the token files are not fsynced (on a
slow disk that would cost more than the whole preparation): the rename makes a dataset appear whole
to every process, and one cut short by a power failure fails load_dataset_meta's size check.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
import tempfile
import threading
import uuid
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from gptstudio.core.atomic import write_json_atomic
from gptstudio.core.bpe import check_vocab_size, default_vocab_size, train_bpe
from gptstudio.core.cleanup import CleanupOptions
from gptstudio.core.documents import document_kind
from gptstudio.core.errors import Cancelled, DatasetError, TokenizerError
from gptstudio.core.locks import dataset_lock
from gptstudio.core.resources import resource_path
from gptstudio.core.safe_pickle import read_meta_pkl
from gptstudio.core.text_import import StagedInputs, stage_inputs
from gptstudio.core.textfiles import (
    Skipped,
    TextChunk,
    TextFileInfo,
    collect_input_files,
    file_sha256,
    inspect_text_file,
    iter_text_chunks,
    sniff_encoding,
)
from gptstudio.core.tokenizer import (
    GPT2_EOT,
    GPT2_VOCAB,
    bpe_pieces,
    gpt2_encoding,
    gpt2_meta,
    special_tokens_problem,
    tokenizer_from_meta,
)
from gptstudio.core.units import format_quantity
from gptstudio.core.workspace import Workspace

__all__ = [
    "PrepareProgress",
    "TextFileInfo",
    "bpe_pieces",
    "collect_input_files",
    "dataset_split_sizes",
    "dataset_tokens",
    "delete_dataset",
    "demo_text_path",
    "import_nanogpt_data",
    "inspect_text_file",
    "list_datasets",
    "load_dataset_meta",
    "prepare_dataset",
    "token_dtype",
]

FORMAT = 1
TOKENIZERS = ("char", "gpt2", "bpe")
CHUNK_BYTES = 8 << 20  # input read per step: big enough for fast numpy/tiktoken calls, small in RAM
BPE_PIECE_CHARS = 1 << 20  # text per encoding call
BPE_MAX_CARRY = 16  # pieces of text without any safe cut before one is forced (see bpe_pieces)
TRAIN_PIECE_CHARS = 4096  # text per item given to the BPE trainer (it buffers 256 items)
TOKENIZER_FILE = "tokenizer.json"  # an own-BPE dataset's tokenizer (Hugging Face format)
COPY_BYTES = 1 << 20  # block size when copying token files
STAGING = "text"  # the build folder's subfolder holding the cleaned text of documents
TRASH = ".trash"  # in the workspace: unfinished build folders being deleted
DEMO_TEXT = "demo_shakespeare.txt"  # in resources/ (see resources/README.md)


@dataclass(frozen=True)
class PrepareProgress:
    """Progress of prepare/import. `done`/`total` count input bytes over every pass (char-level reads
    the input twice, so its total is twice the input size): done/total is the overall fraction.
    `phase`: "scanning", "reading" (documents), "vocabulary", "encoding", "finishing" ("copying" when
    importing). While documents are read, `file` names the one being read, the `file_index`-th (from
    0) of `file_count`."""

    done: int
    total: int
    phase: str
    file: str = ""
    file_index: int = 0
    file_count: int = 0

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 0.0


def token_dtype(vocab_size: int) -> np.dtype:
    """uint16 while every id and one spare value (a 'missing' marker) fit, else uint32."""
    return np.dtype(np.uint16 if vocab_size <= 65535 else np.uint32)


# ---------------------------------------------------------------------------------------------- helpers


class _Progress:
    """Counts bytes, reports PrepareProgress and polls the cancel flag (once per chunk)."""

    def __init__(self, report, cancel, total: int = 0):
        self.report, self.cancel, self.total, self.done = report, cancel, total, 0
        self.file, self.file_index, self.file_count = "", 0, 0

    def check(self) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise Cancelled()

    def emit(self, phase: str, cancellable: bool = True) -> None:
        if cancellable:
            self.check()
        if self.report is not None:
            self.report(PrepareProgress(self.done, self.total, phase, self.file, self.file_index, self.file_count))
        if cancellable:
            self.check()  # a cancel set by the report callback itself stops at once

    def advance(self, nbytes: int, phase: str) -> None:
        self.done = min(self.total, self.done + nbytes)
        self.emit(phase)

    def at_file(self, index: int, count: int, path: Path) -> None:
        """Reading documents: the index-th file (from 0) of count is next."""
        self.file, self.file_index, self.file_count = str(path), index, count
        self.emit("reading")


class _Hasher:
    """sha256 fed on a helper thread (hashlib releases the GIL), so hashing overlaps the encoding."""

    def __init__(self, pool: ThreadPoolExecutor):
        self._h, self._pool, self.size = hashlib.sha256(), pool, 0
        self._last: Future | None = None

    def update(self, data: bytes) -> None:
        self.size += len(data)
        if self._last is not None:
            self._last.result()  # keep the order, and at most one block in flight
        self._last = self._pool.submit(self._h.update, data)

    def hexdigest(self) -> str:
        if self._last is not None:
            self._last.result()
        return self._h.hexdigest()


def _source(path: Path, hasher: _Hasher, chars: int) -> dict:
    with open(path, "rb") as f:
        encoding, _ = sniff_encoding(f.read(4))
    return {"path": str(path), "size": hasher.size, "sha256": hasher.hexdigest(), "encoding": encoding, "chars": chars}


class _TokenFile:
    """Appends token ids to one file. With a (one-thread) pool, the conversion to the file's dtype
    and the write run in the background while the caller encodes the next chunk (numpy casts and
    file writes release the GIL); at most one write is in flight."""

    def __init__(self, path: Path, dtype, pool: ThreadPoolExecutor | None = None):
        self.path, self.dtype, self.count = path, np.dtype(dtype), 0
        self._f = open(path, "wb")
        self._pool = pool
        self._last: Future | None = None

    def write(self, ids: np.ndarray) -> None:
        self._wait()
        if self._pool is None:
            self._write_now(ids)
        else:
            self._last = self._pool.submit(self._write_now, ids)
        self.count += len(ids)

    def _write_now(self, ids: np.ndarray) -> None:
        self._f.write(np.ascontiguousarray(ids, dtype=self.dtype).data)

    def _wait(self) -> None:
        if self._last is not None:
            last, self._last = self._last, None
            last.result()  # re-raises the write's error (e.g. a full disk) here

    def close(self) -> None:
        if not self._f.closed:
            try:
                self._wait()
            finally:
                self._f.close()


def _changed_error(path) -> DatasetError:
    return DatasetError(
        f"{path} changed while the dataset was being prepared: wait until it is saved, then prepare again."
    )


def _no_text_error() -> DatasetError:
    return DatasetError("The input has no text (only empty files or byte order marks): give files with text.")


def _exists_error(name: str) -> DatasetError:
    return DatasetError(f"A dataset named '{name}' already exists: choose another name, or replace it (--force).")


def _check_val_fraction(val_fraction) -> float:
    try:
        vf = float(val_fraction)
    except (TypeError, ValueError):
        vf = float("nan")
    if not 0.0 < vf < 1.0:
        raise DatasetError(
            f"The validation fraction {val_fraction!r} is out of range: use a number between 0 and 1, e.g. 0.1."
        )
    return vf


def _split_sizes(n_tokens: int, val_fraction: float) -> tuple[int, int]:
    """nanoGPT's split: the first int(n * (1 - val_fraction)) tokens train, the rest validate."""
    n_train = int(n_tokens * (1.0 - val_fraction))
    return n_train, n_tokens - n_train


def _min_tokens(val_fraction: float) -> int:
    n = 2
    while 0 in _split_sizes(n, val_fraction):
        n += 1
    return n


# ----------------------------------------------------------------------------------------- char-level

_HIGH_BYTES = bytes(range(128, 256))
_ASCII_BYTES = bytes(range(128))


def _add_chars(new: bytes, known_ascii: bytearray, others: set[str]) -> None:
    """Record the characters of `new` (UTF-8 of whole characters, known ASCII already removed)."""
    ascii_part = new if new.isascii() else new.translate(None, _HIGH_BYTES)
    while ascii_part:
        # the bytes of a short prefix, then delete them all: a few fast C passes instead of a
        # per-byte loop or a histogram of the whole chunk
        known_ascii.extend(set(ascii_part[:65536]))
        ascii_part = ascii_part.translate(None, known_ascii)
    if not new.isascii():
        # removing ASCII bytes from UTF-8 keeps the multi-byte characters whole
        wide = new.translate(None, _ASCII_BYTES).decode("utf-8")
        codes = np.flatnonzero(np.bincount(np.frombuffer(wide.encode("utf-32-le"), np.uint32)))
        others.update(map(chr, codes.tolist()))


def _char_vocabulary(files, progress: _Progress, chunk_bytes: int, io_pool):
    """Pass 1: the sorted set of characters, each file's source entry, and its character count."""
    known_ascii = bytearray()  # ASCII bytes seen so far, deleted before looking for new characters
    others: set[str] = set()
    sources, counts = [], []
    for path in files:
        hasher, n_chars = _Hasher(io_pool), 0
        for chunk in iter_text_chunks(path, chunk_bytes, on_raw=hasher.update):
            # what is not known yet: usually nothing after the first chunk
            new = chunk.data.translate(None, known_ascii) if known_ascii else chunk.data
            if new:
                _add_chars(new, known_ascii, others)
            n_chars += len(chunk.data) if chunk.is_ascii else len(chunk.text)
            progress.advance(chunk.nread, "vocabulary")
        sources.append(_source(path, hasher, n_chars))
        counts.append(n_chars)
    return sorted(others.union(map(chr, known_ascii))), sources, counts


class _CharEncoder:
    """Ids of whole chunks at numpy/C speed (uint8 for ASCII chunks, else `dtype`); `encode` returns
    None for a character not in the vocabulary."""

    def __init__(self, chars: list[str], dtype):
        self.dtype = np.dtype(dtype)
        self.missing = np.iinfo(self.dtype).max  # never an id (token_dtype keeps one value spare)
        cps = np.array([ord(c) for c in chars], dtype=np.int64)
        self.lut = np.full(int(cps.max()) + 1, self.missing, dtype=self.dtype)
        self.lut[cps] = np.arange(len(chars))
        # the vocabulary is sorted, so ASCII characters have ids < 128: an ASCII chunk maps byte -> id
        # with bytes.translate (0xFF = not in the vocabulary)
        table = bytearray(b"\xff" * 256)
        for i, c in enumerate(chars[:128]):
            if ord(c) < 128:
                table[ord(c)] = i
        self.ascii_table = bytes(table)

    def encode(self, chunk: TextChunk) -> np.ndarray | None:
        if chunk.is_ascii:
            ascii_ids = chunk.data.translate(self.ascii_table)
            if b"\xff" in ascii_ids:
                return None
            return np.frombuffer(ascii_ids, np.uint8)  # widened to the file's dtype by the writer
        cps = np.frombuffer(chunk.text.encode("utf-32-le"), np.uint32)
        if cps.max() >= len(self.lut):
            return None
        ids = self.lut[cps]
        return None if ids.max() == self.missing else ids


def _encode_char(files, tmp: Path, progress: _Progress, chunk_bytes: int, io_pool):
    chars, sources, counts = _char_vocabulary(files, progress, chunk_bytes, io_pool)
    if not chars:
        raise _no_text_error()
    out = _TokenFile(tmp / "tokens.tmp", token_dtype(len(chars)), pool=io_pool)  # it hashed in pass 1
    try:
        encoder = _CharEncoder(chars, out.dtype)
        for path, expected in zip(files, counts):  # pass 2
            before = out.count
            for chunk in iter_text_chunks(path, chunk_bytes):
                ids = encoder.encode(chunk)
                if ids is None:
                    raise _changed_error(path)
                out.write(ids)
                progress.advance(chunk.nread, "encoding")
            if out.count - before != expected:
                raise _changed_error(path)
    finally:
        out.close()
    tok = {"tokenizer": "char", "vocab_size": len(chars), "chars": chars}
    return tok, out, sources, sum(counts)


# ------------------------------------------------------------------------- byte-level BPE (GPT-2 and own)


def _text_pieces(files, chunk_bytes: int, piece_chars: int, on_chunk, hashers=None):
    """(file index, piece of text) for every file in turn, cut where GPT-2's pre-tokenizer splits anyway
    (bpe_pieces), so encoding the pieces gives the ids of encoding each file whole. `on_chunk(i, chunk)`
    sees every chunk read; `hashers[i]`, when given, hashes file i's raw bytes."""
    for i, path in enumerate(files):
        carry = ""
        on_raw = hashers[i].update if hashers else None
        for chunk in iter_text_chunks(path, chunk_bytes, on_raw=on_raw):
            on_chunk(i, chunk)
            pieces, carry = bpe_pieces(carry + chunk.text, piece_chars)
            if len(carry) > BPE_MAX_CARRY * piece_chars:
                # a very long run with no whitespace at all: cut anyway to bound memory; only the
                # tokens right at this cut may differ from encoding the file in one go
                pieces.append(carry[:-piece_chars])
                carry = carry[-piece_chars:]
            for piece in pieces:
                yield i, piece
        if carry:
            yield i, carry


@dataclass
class _FileCounts:
    """What one pass saw of each input file: characters and UTF-8 bytes of text."""

    chars: list[int]
    nbytes: list[int]

    @classmethod
    def of(cls, files) -> _FileCounts:
        return cls([0] * len(files), [0] * len(files))

    def add(self, i: int, chunk: TextChunk) -> None:
        self.chars[i] += len(chunk.data) if chunk.is_ascii else len(chunk.text)
        self.nbytes[i] += len(chunk.data)


def _drain(queue: deque, out: _TokenFile, keep: int) -> None:
    """Write finished pieces in order until at most `keep` remain in flight."""
    while len(queue) > keep:
        item = queue.popleft()
        out.write(item.result() if isinstance(item, Future) else item)


def _encode_stream(
    files,
    out: _TokenFile,
    progress: _Progress,
    chunk_bytes: int,
    num_threads: int,
    encode,
    eot: int,
    hashers=None,
) -> _FileCounts:
    """Encode the files into `out` with `encode(text) -> ids` on a thread pool while the next chunk is read
    (tiktoken and tokenizers release the GIL), `eot` between files. Returns what was read of each file."""
    piece_chars = max(16, min(BPE_PIECE_CHARS, chunk_bytes // 8))
    counts = _FileCounts.of(files)

    def on_chunk(i: int, chunk: TextChunk) -> None:
        counts.add(i, chunk)
        progress.advance(chunk.nread, "encoding")

    pool = ThreadPoolExecutor(num_threads, thread_name_prefix="gptstudio-bpe")
    queue: deque = deque()
    keep = num_threads + max(1, chunk_bytes // piece_chars)  # about two chunks in flight
    try:
        last = None
        for i, piece in _text_pieces(files, chunk_bytes, piece_chars, on_chunk, hashers):
            if i != last:
                if last is not None:
                    queue.append(np.array([eot], dtype=out.dtype))  # between documents
                last = i
            queue.append(pool.submit(encode, piece))
            _drain(queue, out, keep)
        _drain(queue, out, 0)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    if sum(counts.chars) == 0:
        raise _no_text_error()
    return counts


def _encode_gpt2(files, tmp: Path, progress: _Progress, chunk_bytes: int, io_pool, num_threads: int):
    enc = gpt2_encoding()

    def encode(text: str) -> np.ndarray:
        return np.asarray(enc.encode_ordinary(text), dtype=np.uint16)

    hashers = [_Hasher(io_pool) for _ in files]
    out = _TokenFile(tmp / "tokens.tmp", token_dtype(GPT2_VOCAB))
    try:
        counts = _encode_stream(files, out, progress, chunk_bytes, num_threads, encode, GPT2_EOT, hashers)
    finally:
        out.close()
    sources = [_source(path, h, n) for path, h, n in zip(files, hashers, counts.chars)]
    return gpt2_meta(), out, sources, sum(counts.chars)


def _train_vocabulary(files, progress: _Progress, chunk_bytes: int, io_pool, vocab_size: int):
    """Pass 1 of own-BPE: learn the vocabulary from a stream of the files (hashing them meanwhile)."""
    hashers = [_Hasher(io_pool) for _ in files]
    counts = _FileCounts.of(files)
    phase = ["vocabulary"]

    def on_chunk(i: int, chunk: TextChunk) -> None:  # on the library's thread: count only, never report
        counts.add(i, chunk)
        progress.done = min(progress.total, progress.done + chunk.nread)

    def texts():
        for _i, piece in _text_pieces(files, chunk_bytes, TRAIN_PIECE_CHARS, on_chunk, hashers):
            yield piece
        phase[0] = "learning merges"

    progress.emit(phase[0])
    tok = train_bpe(texts(), vocab_size, poll=lambda: progress.emit(phase[0]))
    if sum(counts.chars) == 0:
        raise _no_text_error()
    return tok, [_source(path, h, n) for path, h, n in zip(files, hashers, counts.chars)], counts


def _encode_own_bpe(files, tmp: Path, progress: _Progress, chunk_bytes: int, io_pool, num_threads: int, vocab_size):
    tok, sources, seen = _train_vocabulary(files, progress, chunk_bytes, io_pool, vocab_size)
    out = _TokenFile(tmp / "tokens.tmp", token_dtype(tok.vocab_size), pool=io_pool)
    try:  # pass 2
        counts = _encode_stream(files, out, progress, chunk_bytes, num_threads, tok.encode_array, tok.eot_token)
    finally:
        out.close()
    for path, before, now in zip(files, seen.nbytes, counts.nbytes):
        if before != now:
            raise _changed_error(path)
    meta = tok.to_meta()
    (tmp / TOKENIZER_FILE).write_text(meta.pop("tokenizer_json"), encoding="utf-8")
    return meta, out, sources, sum(counts.chars)


# ------------------------------------------------------------------------------------- build and publish


def _split_token_file(tokens: Path, folder: Path, n_train: int, itemsize: int, progress: _Progress) -> None:
    """train.bin = the token file cut at n_train (no copy); val.bin = a copy of its tail."""
    buffer = memoryview(bytearray(COPY_BYTES))
    with open(tokens, "r+b") as src:
        src.seek(n_train * itemsize)
        dst = open(folder / "val.bin", "wb")
        try:
            while n := src.readinto(buffer):
                dst.write(buffer[:n])
                progress.check()
        finally:
            dst.close()
        src.truncate(n_train * itemsize)
    os.replace(tokens, folder / "train.bin")


@contextlib.contextmanager
def _build_folder(ws: Workspace, name: str, needed: int):
    """Everything around building dataset `name`: its lock held, OS failures (a full disk: `needed`
    bytes) turned into DatasetError, and a hidden build folder yielded (see _building); finish with
    _publish inside the block."""
    with dataset_lock(ws.datasets_dir, name), _os_errors(ws, name, needed), _building(ws, name) as tmp:
        yield tmp


@contextlib.contextmanager
def _building(ws: Workspace, name: str):
    """A hidden temporary folder beside the datasets; always removed at the end (it is renamed away
    on success, and moved out of the way at once after a cancel or a failure)."""
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{name}-", dir=ws.datasets_dir))
    except OSError as e:
        raise DatasetError(
            f"Cannot write in the workspace {ws.datasets_dir}: {e.strerror or e}. "
            "Choose another workspace folder (--home)."
        ) from None
    try:
        yield tmp
    finally:
        if tmp.exists():
            _remove_soon(tmp, ws)


def _remove_soon(folder: Path, ws: Workspace) -> None:
    """Move an unfinished build folder out of datasets/ (one rename), then delete it on a thread of its
    own: thousands of staged documents can take seconds to delete on a disk that trims freed blocks,
    and a cancel must not wait for that. What a killed process left in the trash goes with it."""
    trash = ws.home / TRASH
    try:
        trash.mkdir(exist_ok=True)
        os.rename(folder, trash / folder.name)
    except OSError:
        shutil.rmtree(folder, ignore_errors=True)
        return
    threading.Thread(
        target=shutil.rmtree, args=(trash,), kwargs={"ignore_errors": True}, name="gptstudio-trash"
    ).start()


@contextlib.contextmanager
def _os_errors(ws: Workspace, name: str, needed: int):
    """Turn a full disk (or another OS failure while writing) into one readable DatasetError."""
    try:
        yield
    except OSError as e:
        if e.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
            try:
                free = shutil.disk_usage(ws.datasets_dir).free
            except OSError:
                free = 0
            raise DatasetError(
                f"The disk is full: dataset '{name}' did not fit in {ws.datasets_dir} "
                f"({_mb(free)} free space left). Free up to {_mb(needed)} and try again."
            ) from None
        where = f" ({e.filename})" if e.filename else ""
        raise DatasetError(f"Could not write dataset '{name}': {e.strerror or e}{where}.") from None


def _mb(n: int) -> str:
    return f"{n / 1e6:,.1f} MB"


def _publish(tmp: Path, final: Path, force: bool, meta: dict) -> None:
    """Write meta.json, then give the finished folder its name with one rename. A dataset being
    replaced is first moved aside, so at every moment one complete dataset has the name."""
    write_json_atomic(tmp / "meta.json", meta)
    if not final.exists():
        try:
            os.rename(tmp, final)
            return
        except OSError:
            if not final.exists():
                raise
            # created by someone else meanwhile: same as existing
    if not force:
        raise _exists_error(final.name)
    old = final.with_name(f".old-{final.name}-{uuid.uuid4().hex[:8]}")
    os.rename(final, old)
    try:
        os.rename(tmp, final)
    except BaseException:
        os.rename(old, final)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _with_tokenizer_file(meta: dict, folder: Path) -> dict:
    """The meta with an own-BPE dataset's tokenizer.json text as "tokenizer_json" (what tokenizer_from_meta
    and checkpoints use); other metas as they are."""
    if meta.get("tokenizer") != "bpe":
        return meta
    try:
        text = (folder / TOKENIZER_FILE).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise DatasetError(
            f"The dataset '{folder.name}' is damaged: its {TOKENIZER_FILE} cannot be read ({e}). "
            "Prepare it again or delete it."
        ) from None
    return {**meta, "tokenizer_json": text}


def _count_split_bytes(folder: Path, meta: dict, progress: _Progress | None = None) -> dict[str, int]:
    """{"train_bytes", "val_bytes"}: the UTF-8 bytes of text each split's tokens stand for (the sum of
    each token's byte length; special tokens count 0). Bits per byte divide by these."""
    try:
        lengths = tokenizer_from_meta(meta).token_byte_lengths()
    except TokenizerError as e:
        raise DatasetError(f"The dataset '{folder.name}' is damaged: {e}") from None
    dtype, block = np.dtype(meta["dtype"]), COPY_BYTES // 4  # bincount widens ids to 8 bytes each
    counts = {}
    for split in ("train", "val"):
        total = 0
        with open(folder / f"{split}.bin", "rb") as f:
            while data := f.read(block):
                ids = np.frombuffer(data, dtype)
                # ids the vocabulary lacks would be a damaged file: count them as 0 bytes, never crash
                total += int(np.bincount(ids, minlength=len(lengths))[: len(lengths)] @ lengths)
                if progress is not None:
                    progress.check()
        counts[f"{split}_bytes"] = total
    return counts


def dataset_split_sizes(name_or_dir, *, home=None) -> dict[str, tuple[int, int]]:
    """{"train": (tokens, bytes), "val": (tokens, bytes)}: each split's tokens and the UTF-8 bytes of text
    they stand for (what bits per byte needs). The bytes come from meta.json, or are counted from the
    token files for datasets prepared before meta.json stored them (one pass over the ids)."""
    folder = _dataset_folder(name_or_dir, home)
    meta = load_dataset_meta(folder)
    if not all(isinstance(meta.get(f"{s}_bytes"), int) for s in ("train", "val")):
        meta = {**meta, **_count_split_bytes(folder, meta)}
    return {s: (meta[f"{s}_tokens"], meta[f"{s}_bytes"]) for s in ("train", "val")}


def _now() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


def _text_estimate(path: Path) -> int:
    """Bytes of text a file will give, before reading it: a zipped EPUB/DOCX unpacks to more."""
    size = path.stat().st_size
    return 3 * size if path.suffix.lower() in (".epub", ".docx") else size


def _import_meta(staged: StagedInputs, cleanup: CleanupOptions) -> dict:
    """What meta.json says about the import beyond its sources: files skipped, and the cleanup."""
    meta: dict = {}
    if staged.skipped:
        meta["skipped"] = [r.to_dict() for r in staged.skipped]
    if staged.cleaned:
        meta["cleanup"] = {"options": cleanup.to_dict(), "stats": staged.stats.to_dict()}
    return meta


def prepare_dataset(
    inputs,
    name: str,
    tokenizer: str = "char",
    val_fraction: float = 0.1,
    *,
    home=None,
    force: bool = False,
    report=None,
    cancel=None,
    vocab_size: int | None = None,
    cleanup: CleanupOptions | None = None,
    text_field: str | None = None,
    chunk_bytes: int = CHUNK_BYTES,
    num_threads: int | None = None,
) -> dict:
    """Tokenize text files, documents and folders of them into `datasets/NAME/` of the workspace at `home`.

    `tokenizer` is "char", "gpt2" or "bpe" (a byte-level BPE learned from these files, with
    `vocab_size` ordinary tokens: bpe.default_vocab_size of the input when None; it is stored as
    tokenizer.json in the dataset folder). Documents (PDF, EPUB, DOCX, HTML, Markdown, JSON/CSV
    records: core/documents.py) are read and cleaned with `cleanup` (default: CleanupOptions(); plain
    text stays as it is unless it says so); `text_field` names the field of JSON/CSV records (None:
    detected per file). Files that cannot be used are skipped and listed in meta.json's "skipped"
    with the reason; "sources" lists the others with their hash, format and characters. Returns the
    meta written to meta.json, plus "name" and "path" (and "tokenizer_json" for bpe, as
    load_dataset_meta gives it). `report` receives PrepareProgress; setting `cancel` (a
    threading.Event) stops with Cancelled. Bad input raises DatasetError (or WorkspaceError for an
    invalid name); an existing dataset is replaced only with `force`, and is never touched when
    preparing fails or is cancelled. `chunk_bytes`/`num_threads` tune the streaming.
    """
    ws = Workspace.open(home)
    final = ws.dataset_dir(name)  # validates the name
    if tokenizer not in TOKENIZERS:
        raise DatasetError(
            f"Unknown tokenizer {tokenizer!r}: choose 'char' (one token per character), 'gpt2' (GPT-2's BPE) "
            "or 'bpe' (a BPE vocabulary learned from your text)."
        )
    if vocab_size is not None and tokenizer != "bpe":
        raise DatasetError(
            f"A vocabulary size only applies to the 'bpe' tokenizer ('{tokenizer}' has a fixed vocabulary): "
            "leave it out, or choose bpe."
        )
    if vocab_size is not None:
        try:
            check_vocab_size(vocab_size)
        except TokenizerError as e:
            raise DatasetError(str(e)) from None
    vf = _check_val_fraction(val_fraction)
    cleanup = cleanup or CleanupOptions()
    progress = _Progress(report, cancel)
    progress.emit("scanning")
    walked_past: list[Skipped] = []
    files = collect_input_files(inputs, walked_past)
    if final.exists() and not force:
        raise _exists_error(name)
    passes = 1 if tokenizer == "gpt2" else 2  # char and bpe read the text twice
    input_bytes = sum(p.stat().st_size for p in files)
    documents = [p for p in files if document_kind(p) != "text" or cleanup.plain_text]
    progress.total = sum(p.stat().st_size for p in documents) + passes * sum(map(_text_estimate, files))
    threads = num_threads or min(8, os.cpu_count() or 1)
    with (
        _build_folder(ws, name, 4 * input_bytes) as tmp,
        ThreadPoolExecutor(1, thread_name_prefix="gptstudio-io") as io_pool,
    ):
        staged = stage_inputs(
            files, tmp / STAGING, progress, options=cleanup, text_field=text_field, walked_past=walked_past
        )
        if not staged.read_paths:
            raise DatasetError(staged.nothing_message())
        read = staged.read_paths
        progress.total = progress.done + passes * sum(p.stat().st_size for p in read)
        if tokenizer == "char":
            tok, out, sources, total_chars = _encode_char(read, tmp, progress, chunk_bytes, io_pool)
        elif tokenizer == "gpt2":
            tok, out, sources, total_chars = _encode_gpt2(read, tmp, progress, chunk_bytes, io_pool, threads)
        else:
            if vocab_size is None:  # from the size of the text, known now that documents are read
                vocab_size, _reason = default_vocab_size(sum(p.stat().st_size for p in read))
            tok, out, sources, total_chars = _encode_own_bpe(
                read, tmp, progress, chunk_bytes, io_pool, threads, vocab_size
            )
        shutil.rmtree(tmp / STAGING, ignore_errors=True)
        n_train, n_val = _split_sizes(out.count, vf)
        if not n_train or not n_val:
            need, unit = _min_tokens(vf), "character" if tokenizer == "char" else "token"
            raise DatasetError(
                f"Too little text: the input has only {format_quantity(out.count, unit)}, and a training "
                f"and a validation split need at least {need}. Add at least "
                f"{format_quantity(need - out.count, 'more ' + unit)} of text, or change the validation "
                "fraction."
            )
        progress.emit("finishing")
        _split_token_file(out.path, tmp, n_train, out.dtype.itemsize, progress)
        meta = {
            "format": FORMAT,
            **tok,
            "dtype": out.dtype.name,
            "train_tokens": n_train,
            "val_tokens": n_val,
            "total_chars": total_chars,
            "total_bytes": sum(r.size for r in staged.included),
            "sources": staged.sources(sources),
            "created": _now(),
            "val_fraction": vf,
            **_import_meta(staged, cleanup),
        }
        meta.update(_count_split_bytes(tmp, _with_tokenizer_file(meta, tmp), progress))
        _publish(tmp, final, force, meta)
        progress.done = progress.total
        progress.emit("finishing", cancellable=False)  # published: too late to cancel
    return {**_with_tokenizer_file(meta, final), "name": name, "path": str(final)}


# ---------------------------------------------------------------------------------------- nanoGPT import


def _token_lengths(tok: dict) -> tuple[np.ndarray, np.ndarray]:
    """Per token id: its UTF-8 byte length and how many characters start in it (to total the text);
    special tokens stand for no text."""
    tokenizer = tokenizer_from_meta(tok)
    nbytes = tokenizer.token_byte_lengths()
    if tok["tokenizer"] == "char":
        return nbytes, np.ones(tokenizer.vocab_size, dtype=np.int64)
    pieces = [tokenizer.decode_bytes([i]) for i in range(tokenizer.vocab_size)]
    starts = np.array([sum(1 for b in p if not 0x80 <= b < 0xC0) for p in pieces], dtype=np.int64)
    return nbytes, np.where(nbytes > 0, starts, 0)


def _copy_tokens(src: Path, dst: Path, tok: dict, lengths, progress: _Progress) -> tuple[int, int, int, str]:
    """Copy a uint16 token file, checking every id against the vocabulary; (tokens, bytes, chars, sha256)."""
    h, counts, vocab = hashlib.sha256(), np.zeros(tok["vocab_size"], dtype=np.int64), tok["vocab_size"]
    with open(src, "rb") as fi:
        fo = open(dst, "wb")
        try:
            while block := fi.read(COPY_BYTES):
                ids = np.frombuffer(block, np.uint16)
                top = int(ids.max())
                if top >= vocab:
                    raise DatasetError(
                        f"{src} holds token id {top}, but the vocabulary has {vocab} tokens: "
                        "meta.pkl belongs to another dataset."
                    )
                counts += np.bincount(ids, minlength=vocab)
                h.update(block)
                fo.write(block)
                progress.advance(len(block), "copying")
        finally:
            fo.close()
    nbytes, starts = lengths
    return int(counts.sum()), int(counts @ nbytes), int(counts @ starts), h.hexdigest()


def import_nanogpt_data(src_dir, name: str, *, home=None, force: bool = False, report=None, cancel=None) -> dict:
    """Copy a nanoGPT data folder (train.bin, val.bin as uint16, optional meta.pkl for char-level;
    without it GPT-2 BPE) into `datasets/NAME/` with a meta.json. meta.pkl is read with a restricted
    unpickler that never runs code. Atomic like prepare_dataset; returns the meta plus name and path."""
    src = Path(src_dir).expanduser().absolute()
    ws = Workspace.open(home)
    final = ws.dataset_dir(name)
    if not src.is_dir():
        raise DatasetError(f"Folder not found: {src}. Give a nanoGPT data folder (train.bin, val.bin, meta.pkl).")
    bins = {split: src / f"{split}.bin" for split in ("train", "val")}
    for split, path in bins.items():
        if not path.is_file():
            raise DatasetError(f"{src} has no {split}.bin: it is not a nanoGPT data folder.")
        size = path.stat().st_size
        if size == 0 or size % 2:
            problem = "is empty" if size == 0 else "has an odd size, so it is not uint16 token ids"
            raise DatasetError(f"{path} {problem}: it cannot be imported.")
    # without meta.pkl a nanoGPT data folder is GPT-2 BPE (data/openwebtext, data/shakespeare)
    tok = read_meta_pkl(src / "meta.pkl") if (src / "meta.pkl").exists() else gpt2_meta()
    if final.exists() and not force:
        raise _exists_error(name)
    progress = _Progress(report, cancel, sum(p.stat().st_size for p in bins.values()))
    progress.emit("scanning")
    with _build_folder(ws, name, progress.total) as tmp:
        lengths = _token_lengths(tok)
        counts, split_bytes, sources, total_chars = {}, {}, [], 0
        for split, path in bins.items():
            n, nbytes, nchars, sha = _copy_tokens(path, tmp / f"{split}.bin", tok, lengths, progress)
            counts[split], split_bytes[f"{split}_bytes"] = n, nbytes
            total_chars += nchars
            sources.append({"path": str(path), "size": path.stat().st_size, "sha256": sha})
        if (src / "meta.pkl").exists():
            pkl = src / "meta.pkl"
            sources.append({"path": str(pkl), "size": pkl.stat().st_size, "sha256": file_sha256(pkl)})
        meta = {
            "format": FORMAT,
            **tok,
            "dtype": "uint16",
            "train_tokens": counts["train"],
            "val_tokens": counts["val"],
            "total_chars": total_chars,
            "total_bytes": sum(split_bytes.values()),
            "sources": sources,
            "created": _now(),
            "val_fraction": round(counts["val"] / (counts["train"] + counts["val"]), 6),
            "imported_from": str(src),
            **split_bytes,
        }
        _publish(tmp, final, force, meta)
        progress.emit("finishing", cancellable=False)
    return {**meta, "name": name, "path": str(final)}


# ---------------------------------------------------------------------------------- reading datasets


def _meta_problem(meta, folder: Path) -> str | None:
    """What is wrong with a dataset's meta.json or token files, or None."""
    if not isinstance(meta, dict):
        return "meta.json is not a JSON object"
    for key in ("format", "vocab_size", "train_tokens", "val_tokens"):
        value = meta.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            return f"meta.json has no valid '{key}'"
    if meta["format"] > FORMAT:
        return "it was made by a newer GPT Studio (update the app to use it)"
    kind, vocab = meta.get("tokenizer"), meta["vocab_size"]
    special = meta.get("special_tokens")
    n_special = len(special) if isinstance(special, dict) else 0  # beyond the ordinary vocabulary
    if kind == "char":
        chars = meta.get("chars")
        if (
            not isinstance(chars, list)
            or len(chars) + n_special != vocab
            or len(set(chars)) != len(chars)
            or not all(isinstance(c, str) and len(c) == 1 for c in chars)
        ):
            return "meta.json's character vocabulary is missing or does not match vocab_size"
        first: int | None = len(chars)
    elif kind == "gpt2":
        if vocab != GPT2_VOCAB + max(0, n_special - 1):  # GPT-2's own end-of-text is one of them
            return f"a GPT-2 vocabulary has {GPT2_VOCAB} tokens, meta.json says {vocab}"
        first = GPT2_VOCAB
    elif kind == "bpe":
        if not (folder / TOKENIZER_FILE).is_file():
            return f"its {TOKENIZER_FILE} is missing"
        first = None  # its tokenizer.json reserves the special tokens itself (core/bpe.py checks it)
    else:
        return f"unknown tokenizer {kind!r} in meta.json"
    problem = special_tokens_problem(meta, first) if first is not None else None
    if problem:
        return f"meta.json's tokenizer is damaged: {problem}"
    if meta.get("dtype") not in ("uint16", "uint32") or vocab - 1 > np.iinfo(meta["dtype"]).max:
        return f"meta.json's dtype {meta.get('dtype')!r} cannot hold {vocab} token ids"
    itemsize = np.dtype(meta["dtype"]).itemsize
    for split in ("train", "val"):
        path = folder / f"{split}.bin"
        if not path.is_file():
            return f"{split}.bin is missing"
        size, expected = path.stat().st_size, meta[f"{split}_tokens"] * itemsize
        if size != expected:
            return f"{split}.bin has {size:,} bytes, meta.json expects {expected:,}"
    if "chat" in meta:
        from gptstudio.core.chat_dataset import chat_files_problem

        return (
            chat_files_problem(meta, folder) if isinstance(meta["chat"], dict) else "meta.json's chat entry is damaged"
        )
    return None


def load_dataset_meta(path_or_dir) -> dict:
    """The validated meta.json of a dataset folder (or of the meta.json path itself); for an own-BPE
    dataset with its tokenizer.json text as "tokenizer_json", so tokenizer_from_meta works on it."""
    p = Path(path_or_dir).expanduser()
    folder = p.parent if p.name == "meta.json" else p
    meta_path = folder / "meta.json"
    if not meta_path.is_file():
        if not folder.is_dir():
            raise DatasetError(f"Dataset folder not found: {folder}.")
        if (folder / "train.bin").is_file():
            raise DatasetError(
                f"{folder} has no meta.json. If it is a nanoGPT data folder, import it first: "
                f"gptstudio import-nanogpt-data {folder} --name NAME"
            )
        raise DatasetError(f"{folder} is not a dataset: it has no meta.json. Prepare it again.")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise DatasetError(
            f"The dataset '{folder.name}' is damaged: meta.json cannot be read ({e}). Prepare it again or delete it."
        ) from None
    problem = _meta_problem(meta, folder)
    if problem:
        raise DatasetError(f"The dataset '{folder.name}' is damaged: {problem}. Prepare it again or delete it.")
    return _with_tokenizer_file(meta, folder)


def _folder_size(folder: Path) -> int:
    total = 0
    for root, _dirs, names in os.walk(folder):
        for n in names:
            with contextlib.suppress(OSError):
                total += os.path.getsize(os.path.join(root, n))
    return total


def list_datasets(home=None) -> list[dict]:
    """Every dataset of the workspace, by name: its meta plus "name", "path", "size_on_disk"; a damaged
    one has an "error" (the reason) instead of the meta."""
    ws = Workspace.open(home)
    entries = []
    for name in ws.dataset_names():
        folder = ws.datasets_dir / name
        entry = {"name": name, "path": str(folder), "size_on_disk": _folder_size(folder)}
        try:
            entry = {**load_dataset_meta(folder), **entry}
        except DatasetError as e:
            entry["error"] = str(e)
        entries.append(entry)
    return entries


def delete_dataset(name: str, home=None) -> None:
    """Remove a dataset folder. It is renamed away first, so it vanishes at once and as a whole."""
    ws = Workspace.open(home)
    folder = ws.dataset_dir(name)
    if not folder.is_dir():
        raise DatasetError(f"There is no dataset named '{name}' in {ws.datasets_dir}.")
    with dataset_lock(ws.datasets_dir, name):
        trash = folder.with_name(f".deleted-{name}-{uuid.uuid4().hex[:8]}")
        os.rename(folder, trash)
        shutil.rmtree(trash, ignore_errors=True)


def _dataset_folder(name_or_dir, home) -> Path:
    """A Path or a string with a folder separator is a folder; any other string is a dataset name."""
    if isinstance(name_or_dir, os.PathLike) or any(s in str(name_or_dir) for s in ("/", os.sep)):
        return Path(name_or_dir).expanduser()
    return Workspace.open(home).dataset_dir(name_or_dir)


def dataset_tokens(name_or_dir, split: str = "val", start: int = 0, count: int = 200, *, home=None) -> np.ndarray:
    """Up to `count` token ids of a split from position `start` (fewer near the end; the stored dtype)."""
    if split not in ("train", "val"):
        raise DatasetError(f"Unknown split {split!r}: use 'train' or 'val'.")
    folder = _dataset_folder(name_or_dir, home)
    meta = load_dataset_meta(folder)
    dtype, n = np.dtype(meta["dtype"]), meta[f"{split}_tokens"]
    start = min(max(0, int(start)), n)
    count = min(max(0, int(count)), n - start)
    return np.fromfile(folder / f"{split}.bin", dtype=dtype, count=count, offset=start * dtype.itemsize)


def demo_text_path() -> Path:
    """The bundled demo text: Shakespeare (public domain), the classic nanoGPT char-level corpus."""
    return resource_path(DEMO_TEXT)
