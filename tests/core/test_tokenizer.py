import numpy as np
import pytest

from gptstudio.core.errors import TokenizerError
from gptstudio.core.tokenizer import (
    GPT2_EOT,
    GPT2_VOCAB,
    CharTokenizer,
    GPT2Tokenizer,
    gpt2_encoding,
    tokenizer_from_meta,
)

SAMPLES = [
    "plain ascii text\n",
    "Crème brûlée, façade, naïve — Ångström ß",
    "中文字符和日本語のテキスト、한국어",
    "emoji 😀🎉👍🏽 and flags 🇫🇷, beyond the BMP: 𝄞",
    "Windows line endings\r\nsecond line\r\n\r\nthird\r\n",
    "tabs\tand\x0bcontrol\x1fchars and trailing spaces   \n\n",
]


@pytest.mark.parametrize("text", SAMPLES)
def test_char_round_trip_is_exact(text):
    tok = CharTokenizer(sorted(set(text)))
    ids = tok.encode(text)
    assert len(ids) == len(text)  # one token per character, surrogate pairs and CRLF included
    assert tok.decode(ids) == text
    assert tok.encode_array(text).tolist() == ids
    assert tok.decode_bytes(ids) == text.encode("utf-8")


def test_char_ids_are_positions_in_the_sorted_vocabulary():
    tok = CharTokenizer(sorted(set("hello")))
    assert tok.chars == ["e", "h", "l", "o"]
    assert tok.encode("hello") == [1, 0, 2, 2, 3]
    assert tok.vocab_size == 4
    assert tok.token_text(3) == "o"


def test_char_unknown_characters_raise_or_drop():
    tok = CharTokenizer(list("abc"))
    with pytest.raises(TokenizerError, match="'z'"):
        tok.encode("abz")
    assert tok.encode("azb€c", drop_unknown=True) == [0, 1, 2]
    assert tok.unknown_chars("abzz€") == ["z", "€"]


def test_char_meta_round_trip_and_damaged_meta():
    tok = CharTokenizer(sorted(set("héllo wörld")))
    again = tokenizer_from_meta(tok.to_meta())
    assert isinstance(again, CharTokenizer) and again.chars == tok.chars
    with pytest.raises(TokenizerError):
        tokenizer_from_meta({"tokenizer": "char", "chars": ["ab", "c"]})
    with pytest.raises(TokenizerError):
        tokenizer_from_meta({"tokenizer": "wordpiece"})


def test_gpt2_known_ids():
    tok = GPT2Tokenizer()
    assert tok.encode("Hello world") == [15496, 995]
    assert tok.encode(" the") == [262]
    assert tok.encode("\n") == [198]
    assert tok.encode("\n\n") == [628]
    assert tok.vocab_size == GPT2_VOCAB == 50257
    assert tok.eot_token == GPT2_EOT == 50256
    assert gpt2_encoding().decode_single_token_bytes(GPT2_EOT) == b"<|endoftext|>"


def test_gpt2_special_token_text_is_encoded_as_ordinary_text():
    ids = GPT2Tokenizer().encode("a<|endoftext|>b")
    assert GPT2_EOT not in ids
    assert GPT2Tokenizer().decode(ids) == "a<|endoftext|>b"


@pytest.mark.parametrize("text", SAMPLES)
def test_gpt2_round_trip_is_exact(text):
    tok = GPT2Tokenizer()
    ids = tok.encode(text)
    assert tok.decode(ids) == text
    assert tok.decode_bytes(ids) == text.encode("utf-8")
    assert np.array_equal(tok.encode_array(text), np.array(ids))
    assert tok.encode_batch([text, text], num_threads=2) == [ids, ids]


def test_gpt2_meta_round_trip():
    meta = GPT2Tokenizer().to_meta()
    assert meta == {"tokenizer": "gpt2", "vocab_size": 50257, "eot_token": 50256}
    assert isinstance(tokenizer_from_meta(meta), GPT2Tokenizer)
