"""A byte-level BPE vocabulary trained on the user's own text (Hugging Face `tokenizers`).

Why byte-level: every byte has a token of its own (the 256-symbol alphabet is always in the vocabulary),
so any text round-trips exactly, whatever its script, and merges learned from the user's text make the
frequent pieces single tokens. The pre-tokenizer is GPT-2's (`ByteLevel`, use_regex=True, no prefix
space, no normalizer), so the ids match what GPT-2-style consumers compute from the same tokenizer.json:
transformers' `PreTrainedTokenizerFast`, and llama.cpp's `gpt2` pre-tokenizer for a GGUF export.

Layout of the ids (also recorded in the tokenizer meta, "special_tokens"):
  0 .. n-1     the learned vocabulary: the 256 byte symbols, then one token per merge, in merge order
  n .. n+4     the special tokens of core/special_tokens.py, in SPECIAL_TOKENS order (end of text first)
n is the requested vocabulary size, or fewer when the text has no more pairs worth merging (a pair must
occur at least twice). The special tokens never come out of encoding text: a literal "<|endoftext|>"
in the text is encoded as ordinary characters, as GPT-2's encode_ordinary does.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Callable, Iterable

import numpy as np

from gptstudio.core.errors import Cancelled, TokenizerError
from gptstudio.core.special_tokens import END_OF_TEXT, SPECIAL_TOKENS
from gptstudio.core.tokenizer import bpe_pieces
from gptstudio.core.units import format_bytes

VOCAB_MIN = 256  # the byte alphabet alone
VOCAB_MAX = 65536
DEFAULT_MIN, DEFAULT_MAX = 512, 32768
BYTES_PER_ENTRY = 512  # default size: about one vocabulary entry per this many bytes of text
MIN_PAIR_COUNT = 2  # a pair seen once is not worth a token
ENCODE_PIECE_CHARS = 4096  # the library is fastest on short texts: long ones are cut where it splits anyway
POLL_S = 0.1


def check_vocab_size(n) -> int:
    """The vocabulary size as an int, or TokenizerError naming the allowed range."""
    if not isinstance(n, int) or isinstance(n, bool) or not VOCAB_MIN <= n <= VOCAB_MAX:
        raise TokenizerError(
            f"The BPE vocabulary size {n!r} is out of range: choose a whole number from {VOCAB_MIN:,} "
            f"to {VOCAB_MAX:,}, e.g. 2,048."
        )
    return n


def default_vocab_size(total_bytes: int) -> tuple[int, str]:
    """A vocabulary size for this much text, and the reason in one sentence.

    About one entry per 512 bytes of text, as a power of two: each token then occurs often enough for
    a small model to learn it (llama2.c found 2,048-4,096 entries enough for TinyStories), and the
    embedding stays a modest share of the model.
    """
    size = max(1, int(total_bytes) // BYTES_PER_ENTRY)
    n = min(DEFAULT_MAX, max(DEFAULT_MIN, 1 << (size.bit_length() - 1)))
    text = format_bytes(total_bytes)
    if n == DEFAULT_MIN and size < DEFAULT_MIN:
        reason = f"{n:,} for {text} of text: a small text gives few pieces frequent enough to be worth a token."
    elif n == DEFAULT_MAX and size > DEFAULT_MAX:
        reason = f"{n:,} for {text} of text: larger vocabularies rarely pay off for a model trained here."
    else:
        reason = (
            f"{n:,} for {text} of text: one entry per {BYTES_PER_ENTRY} bytes or so, so that each token "
            "occurs often enough to be learned."
        )
    return n, reason


@functools.cache
def _byte_decoder() -> dict[str, int]:
    """GPT-2's byte-level alphabet, inverted: the printable character that stands for each byte."""
    from tokenizers import pre_tokenizers

    alphabet = pre_tokenizers.ByteLevel.alphabet()  # the 256 characters, unordered
    # GPT-2's bytes_to_unicode: printable Latin-1 bytes stand for themselves, the others are shifted
    # above 255 in byte order
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    chars, shift = {}, 0
    for b in range(256):
        if b in printable:
            chars[chr(b)] = b
        else:
            chars[chr(256 + shift)] = b
            shift += 1
    assert set(chars) == set(alphabet), "tokenizers' ByteLevel alphabet is not GPT-2's"
    return chars


def _damaged(problem: str) -> TokenizerError:
    return TokenizerError(f"The BPE tokenizer (tokenizer.json) {problem}: prepare the dataset again.")


class BPETokenizer:
    """A trained byte-level BPE, built from its tokenizer.json text (what meta and checkpoints store)."""

    kind = "bpe"

    def __init__(self, tokenizer_json: str, chat_template: str | None = None):
        from tokenizers import Tokenizer

        try:
            spec = json.loads(tokenizer_json)
            model_type = spec["model"]["type"]
            self.hf = Tokenizer.from_str(tokenizer_json)
        except Exception as e:  # the library raises its own exception type for bad files
            raise _damaged(f"is damaged ({e})") from None
        if model_type != "BPE" or (spec.get("pre_tokenizer") or {}).get("type") != "ByteLevel":
            raise _damaged("is not a byte-level BPE made by GPT Studio")
        self.json = tokenizer_json
        self.hf.encode_special_tokens = True  # a special token's text in the input is plain text
        self.vocab_size = self.hf.get_vocab_size(with_added_tokens=True)
        decoder = _byte_decoder()
        pieces: list[bytes | None] = [None] * self.vocab_size
        try:
            for token, i in self.hf.get_vocab(with_added_tokens=False).items():
                pieces[i] = bytes(decoder[c] for c in token)
        except (KeyError, IndexError):
            raise _damaged("has tokens outside the byte alphabet") from None
        self.special_tokens: dict[str, int] = {}
        for name in SPECIAL_TOKENS:
            special_id = self.hf.token_to_id(name)
            if special_id is None or pieces[special_id] is not None:
                raise _damaged(f"lacks the special token {name}")
            self.special_tokens[name] = special_id
            pieces[special_id] = name.encode("utf-8")
        if any(p is None for p in pieces):
            raise _damaged("has gaps in its token ids")
        self._pieces: list[bytes] = pieces  # type: ignore[assignment]
        self.eot_token = self.special_tokens[END_OF_TEXT]
        self.chat_template = chat_template  # the chat template a chat model was fine-tuned with, or None

    # --- special tokens (always all of them: they were reserved when the vocabulary was learned) ---

    def special_id(self, token: str) -> int | None:
        """The id of a special token (core/special_tokens.py), or None if this tokenizer has none for it."""
        return self.special_tokens.get(token)

    def is_special(self, token_id: int) -> bool:
        return self.learned_size <= int(token_id) < self.vocab_size

    def with_chat_template(self, template: str) -> BPETokenizer:
        """The same vocabulary, recorded as a chat model's (its special tokens are there already)."""
        return BPETokenizer(self.json, template)

    # --- encoding ---

    def encode(self, text: str, drop_unknown: bool = False) -> list[int]:
        return self.encode_array(text).tolist()

    def encode_array(self, text: str, drop_unknown: bool = False) -> np.ndarray:
        pieces, rest = bpe_pieces(text, ENCODE_PIECE_CHARS)
        return self.encode_pieces([*pieces, rest] if rest else pieces)

    def encode_pieces(self, pieces: list[str]) -> np.ndarray:
        """The ids of texts encoded one after the other (the library spreads them over its threads)."""
        if not pieces:
            return np.zeros(0, dtype=np.int64)
        encodings = self.hf.encode_batch_fast(pieces, add_special_tokens=False)
        return np.concatenate([np.array(e.ids, dtype=np.int64) for e in encodings])

    def unknown_chars(self, text: str) -> list[str]:
        return []  # byte-level: every text has tokens

    # --- decoding ---

    def decode(self, ids) -> str:
        return self.decode_bytes(ids).decode("utf-8", errors="replace")

    def decode_bytes(self, ids) -> bytes:
        pieces = self._pieces
        return b"".join(pieces[int(i)] for i in ids)

    def token_text(self, i: int) -> str:
        """The piece of text a token stands for (a part of a character shows as U+FFFD)."""
        return self._pieces[int(i)].decode("utf-8", errors="replace")

    def token_byte_lengths(self) -> np.ndarray:
        lengths = np.array([len(p) for p in self._pieces], dtype=np.int64)
        lengths[list(self.special_tokens.values())] = 0  # a special token stands for no text
        return lengths

    @property
    def learned_size(self) -> int:
        """Ordinary tokens (bytes and merges): the ids below the special tokens."""
        return self.vocab_size - len(self.special_tokens)

    def to_meta(self) -> dict:
        meta = {
            "tokenizer": "bpe",
            "vocab_size": self.vocab_size,
            "eot_token": self.eot_token,
            "special_tokens": dict(self.special_tokens),
            "tokenizer_json": self.json,
        }
        if self.chat_template:
            meta["chat_template"] = self.chat_template
        return meta


def train_bpe(texts: Iterable[str], vocab_size: int, *, poll: Callable[[], None] | None = None) -> BPETokenizer:
    """Learn `vocab_size` ordinary tokens from `texts` (consumed once, as a stream), then add the
    special tokens after them. Deterministic: the same texts give the same tokenizer.json.

    The library learns on a helper thread that pulls `texts` there (so the texts' iterator must not
    report progress itself); this thread calls `poll()` every 0.1 s meanwhile, to report progress and
    raise Cancelled. When poll raises, reading stops at once and the exception propagates; if the
    library was already computing the merges (which cannot be interrupted), it finishes in the
    background and its result is dropped. Memory: the library keeps one count per distinct pre-token
    (word), so it grows with the text's vocabulary of words, not with its length.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    check_vocab_size(vocab_size)
    hf = Tokenizer(models.BPE())
    hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    hf.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=MIN_PAIR_COUNT,
        show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),  # every byte, seen or not: any text encodes
        special_tokens=[],  # added after the learned ids below
    )
    stop = threading.Event()
    failure: list[BaseException] = []

    def feed():
        for text in texts:
            if stop.is_set():
                raise Cancelled()  # the library stops reading and returns at once
            yield text

    def learn():
        try:
            hf.train_from_iterator(feed(), trainer)
        except BaseException as e:  # handed to the caller's thread
            failure.append(e)

    worker = threading.Thread(target=learn, name="gptstudio-bpe-train", daemon=True)
    worker.start()
    try:
        while worker.is_alive():
            worker.join(POLL_S)
            if poll is not None:
                poll()
    except BaseException:
        stop.set()
        raise
    if failure:
        raise failure[0]
    hf.add_special_tokens(list(SPECIAL_TOKENS))
    return BPETokenizer(hf.to_str())
