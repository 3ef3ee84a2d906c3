"""Replies from chat and base models (core/chat.py): template prompts, stopping at the end of turn,
special tokens never shown, history trimmed to the context with the system prompt kept."""

from __future__ import annotations

import pytest

from gptstudio.core.chat import CHAT, TRANSCRIPT, chat_messages, prepare_reply
from gptstudio.core.chat_template import CHAT_TEMPLATE, ChatMessage, ChatTemplate
from gptstudio.core.errors import ChatError
from gptstudio.core.sampler import Sampler, SampleSettings
from gptstudio.core.tokenizer import CharTokenizer
from tests.core.sampling_helpers import forced

CHARS = sorted(set("abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:\n!?.,"))
GREEDY = SampleSettings(temperature=0, max_new_tokens=20, seed=0)


def chat_sampler(script_text: str, then: str = "<|end|>", block_size: int = 256):
    tok = CharTokenizer(CHARS).with_chat_template(CHAT_TEMPLATE)
    script = tok.encode(script_text) + [tok.special_id(then)] + tok.encode("LEAKED")
    model = forced(tok.vocab_size, script, block_size=block_size)
    return Sampler(model, tok, device="cpu"), tok, model


def reply(sampler, messages, settings=GREEDY):
    prepared = prepare_reply(sampler, messages, settings)
    pieces = list(prepared.stream(sampler))
    return prepared, pieces, prepared.reply_text("".join(p.text for p in pieces))


@pytest.mark.parametrize("stop", ["<|end|>", "<|user|>", "<|endoftext|>"])
def test_a_chat_reply_stops_at_a_special_token_and_never_shows_it(stop):
    sampler, tok, model = chat_sampler("Hello there!", then=stop)
    messages = [ChatMessage("system", "be brief"), ChatMessage("user", "hi")]
    prepared, pieces, text = reply(sampler, messages)
    assert prepared.mode == CHAT and prepared.dropped == 0
    assert text == "Hello there!" and "<|" not in "".join(p.text for p in pieces)
    assert pieces[-1].done and pieces[-1].token_id == tok.special_id(stop)
    assert model.calls[0][0].tolist() == ChatTemplate(tok).prompt(messages)  # the template, nothing else


def test_history_is_trimmed_oldest_first_keeping_the_system_prompt():
    sampler, tok, _ = chat_sampler("ok", block_size=64)
    template = ChatTemplate(tok)
    history = []
    for i in range(8):
        history += [ChatMessage("user", f"question {i}"), ChatMessage("assistant", f"answer {i}")]
    messages = [ChatMessage("system", "sys"), *history, ChatMessage("user", "now")]
    settings = SampleSettings(temperature=0, max_new_tokens=16, seed=0)
    prepared, _, text = reply(sampler, messages, settings)
    assert text == "ok" and prepared.dropped > 0 and prepared.dropped % 2 == 0  # whole exchanges
    kept = [messages[0], *messages[1 + prepared.dropped :]]
    assert prepared.ids == template.prompt(kept) and len(prepared.ids) <= 64 - 16
    with pytest.raises(ChatError, match="shorten"):
        prepare_reply(sampler, [ChatMessage("user", "x" * 100)], settings)


def test_a_base_model_continues_a_transcript_and_is_cut_at_the_next_turn():
    tok = CharTokenizer(CHARS)
    model = forced(tok.vocab_size, tok.encode(" Fine, thanks.\nUser: more"))
    sampler = Sampler(model, tok, device="cpu")
    messages = chat_messages([("user", "Hi"), ("model", "Hello"), ("user", "How are you?")], system="Be kind.")
    prepared, _, text = reply(sampler, messages, SampleSettings(temperature=0, max_new_tokens=40, seed=0))
    assert prepared.mode == TRANSCRIPT and text == "Fine, thanks."
    assert tok.decode(model.calls[0][0].tolist()) == "Be kind.\nUser: Hi\nModel: Hello\nUser: How are you?\nModel:"
    assert not sampler.is_chat and sampler.chat_template is None


def test_chat_messages_maps_playground_roles():
    assert chat_messages([("user", "a"), ("model", "b")], "s") == [
        ChatMessage("system", "s"),
        ChatMessage("user", "a"),
        ChatMessage("assistant", "b"),
    ]
