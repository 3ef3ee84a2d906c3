"""The chat template and the special tokens of char and GPT-2 tokenizers."""

from __future__ import annotations

import pytest

from gptstudio.core.chat_template import CHAT_TEMPLATE, ChatMessage, ChatTemplate, is_chat_tokenizer
from gptstudio.core.errors import ChatError, TokenizerError
from gptstudio.core.special_tokens import END_OF_TEXT, END_OF_TURN, SPECIAL_TOKENS, START_OF_TURN
from gptstudio.core.tokenizer import (
    GPT2_EOT,
    GPT2_VOCAB,
    CharTokenizer,
    GPT2Tokenizer,
    same_vocabulary,
    tokenizer_from_meta,
)

CHARS = sorted(set("abcdefghijklmnopqrstuvwxyz0123456789 ,.!?<|>"))


def char_chat():
    return CharTokenizer(CHARS).with_chat_template(CHAT_TEMPLATE)


def test_char_special_tokens_follow_the_characters_in_order():
    tok = char_chat()
    n = len(CHARS)
    assert [tok.special_id(t) for t in SPECIAL_TOKENS] == list(range(n, n + len(SPECIAL_TOKENS)))
    assert tok.vocab_size == n + len(SPECIAL_TOKENS) and tok.eot_token == n
    assert tok.decode([0, n + 4]) == CHARS[0] + END_OF_TURN  # a special id decodes to its name
    # ordinary text never yields a special id, even when it spells one
    assert all(not tok.is_special(i) for i in tok.encode("<|user|>"))
    # a base char tokenizer has none, and its meta is unchanged (nanoGPT-compatible)
    base = CharTokenizer(CHARS)
    assert base.special_tokens == {} and base.to_meta() == {"tokenizer": "char", "vocab_size": n, "chars": CHARS}


def test_gpt2_special_tokens_take_the_padding_above_50257():
    tok = GPT2Tokenizer().with_chat_template(CHAT_TEMPLATE)
    assert tok.special_id(END_OF_TEXT) == GPT2_EOT
    others = [t for t in SPECIAL_TOKENS if t != END_OF_TEXT]
    assert [tok.special_id(t) for t in others] == list(range(GPT2_VOCAB, GPT2_VOCAB + len(others)))
    assert tok.vocab_size == GPT2_VOCAB + len(others)
    assert tok.decode([GPT2_VOCAB + 1]) == START_OF_TURN["user"]
    assert tok.encode("<|user|> hi") == GPT2Tokenizer().encode("<|user|> hi")  # text stays text
    assert GPT2Tokenizer().to_meta() == {"tokenizer": "gpt2", "vocab_size": GPT2_VOCAB, "eot_token": GPT2_EOT}


@pytest.mark.parametrize("make", [char_chat, lambda: GPT2Tokenizer().with_chat_template(CHAT_TEMPLATE)])
def test_meta_round_trip_keeps_the_template(make):
    tok = make()
    again = tokenizer_from_meta(tok.to_meta())
    assert again.special_tokens == tok.special_tokens and again.chat_template == CHAT_TEMPLATE
    assert is_chat_tokenizer(again) and not is_chat_tokenizer(tokenizer_from_meta({"tokenizer": "gpt2"}))
    assert same_vocabulary(tok.to_meta(), {**tok.to_meta(), "special_tokens": {}, "chat_template": None})


@pytest.mark.parametrize(
    "change",
    [
        {"special_tokens": {END_OF_TEXT: 0}},  # an id inside the characters
        {"special_tokens": {"<|nope|>": 40}},
        {"special_tokens": {END_OF_TEXT: 33, END_OF_TURN: 33}},
        {"chat_template": CHAT_TEMPLATE, "special_tokens": {END_OF_TEXT: 33}},  # a template needs them all
    ],
)
def test_damaged_special_tokens_are_refused(change):
    meta = {**char_chat().to_meta(), **change}
    with pytest.raises(TokenizerError, match="damaged"):
        tokenizer_from_meta(meta)


def test_render_masks_the_replies_and_their_end_of_turn_only():
    tok = char_chat()
    t = ChatTemplate(tok)
    messages = [ChatMessage("system", "be brief"), ChatMessage("user", "hi"), ChatMessage("assistant", "yo!")]
    r = t.render(messages)
    ids = [t.begin, t.start["system"], *tok.encode("be brief"), t.end, t.start["user"], *tok.encode("hi"), t.end]
    ids += [t.start["assistant"], *tok.encode("yo!"), t.end]
    assert r.ids == ids
    trained = [i for i, m in zip(r.ids, r.mask) if m]
    assert trained == [*tok.encode("yo!"), t.end]  # not the assistant's start token, nothing of the prompt
    assert r.first_trained == len(ids) - 4
    assert t.prompt(messages[:2]) == ids[:-5] + [t.start["assistant"]]
    segments = t.segments(r.ids, r.mask)
    assert ("yo!", True, False) in segments and segments[-1] == (END_OF_TURN, True, True)
    assert ("hi", False, False) in segments and (START_OF_TURN["assistant"], False, True) in segments


def test_fit_drops_the_oldest_exchanges_but_never_the_system_prompt():
    t = ChatTemplate(char_chat())
    system = ChatMessage("system", "sys")
    history = []
    for i in range(6):
        history += [ChatMessage("user", f"question {i}"), ChatMessage("assistant", f"answer {i}")]
    messages = [system, *history, ChatMessage("user", "last one")]
    whole = t.fit(messages, 10_000)
    assert whole.dropped == 0 and whole.ids == t.prompt(messages)
    budget = len(t.prompt([system, *history[-4:], messages[-1]]))
    fitted = t.fit(messages, budget)
    assert fitted.messages == [system, *history[-4:], messages[-1]]  # two exchanges kept, whole
    assert fitted.dropped == 8 and len(fitted.ids) <= budget and fitted.ids == t.prompt(fitted.messages)
    with pytest.raises(ChatError, match="shorten"):
        t.fit(messages, 5)


def test_a_base_tokenizer_has_no_template():
    with pytest.raises(TokenizerError, match="not a chat model"):
        ChatTemplate(CharTokenizer(CHARS))
