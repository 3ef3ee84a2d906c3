"""The Playground's conversation being edited: prompts, sampling settings from the form (defaults read
from the engine), the unknown-characters check, rewind, files, rows for display (Qt-free)."""

import pytest

from gptstudio.core.chat_template import ChatMessage
from gptstudio.core.conversation import Message
from gptstudio.core.errors import GPTStudioError
from gptstudio.core.sample_settings import SamplerError, SampleSettings
from gptstudio.gui.state.playground_session import (
    RANDOM_SEED,
    PlaygroundSession,
    PromptCheck,
    displayed_rows,
    draw_seed,
    sampling_defaults,
)


def test_sampling_defaults_are_read_from_the_engine():
    engine = SampleSettings()
    form = sampling_defaults()
    assert form == {
        "max_new_tokens": engine.max_new_tokens,
        "temperature": engine.temperature,
        "top_k": engine.top_k,
        "top_p": engine.top_p,
        "repetition_penalty": engine.repetition_penalty,
        "seed": RANDOM_SEED,
        "num_samples": engine.num_samples,
        "stop_text": "",
    }
    settings = PlaygroundSession("complete").sample_settings(form, seed=1)
    for name in ("max_new_tokens", "temperature", "top_k", "top_p", "repetition_penalty", "num_samples"):
        assert getattr(settings, name) == getattr(engine, name), name


def test_sample_settings_follow_the_mode():
    form = {**sampling_defaults(), "top_k": 0, "num_samples": 3, "stop_text": r"THE END, \n\n"}
    complete = PlaygroundSession("complete").sample_settings(form, seed=9, drop_unknown=True)
    assert complete.top_k is None and complete.num_samples == 3 and complete.seed == 9
    assert complete.stop == ("THE END", "\n\n") and complete.drop_unknown and complete.slide == "fast"
    chat = PlaygroundSession("chat").sample_settings(form, seed=9)
    assert chat.num_samples == 1  # one answer per turn
    assert chat.stop == ("THE END", "\n\n")  # a base model's turn stops are core.chat's to add
    with pytest.raises(SamplerError):
        PlaygroundSession().sample_settings({**form, "temperature": 99.0}, seed=1)


def test_draw_seed():
    assert draw_seed(1234) == 1234
    seeds = {draw_seed(RANDOM_SEED) for _ in range(20)}
    assert len(seeds) > 1 and all(0 <= s < 2**31 for s in seeds)


def test_chat_prompts_carry_the_history_and_the_system_prompt_complete_ones_do_not():
    session = PlaygroundSession("chat")
    assert session.prompt("Hi") == [ChatMessage("user", "Hi")]
    group = session.add_user("Hi")
    session.add_reply("Hello.", label="a/latest", group=group, meta={})
    session.add_reply("Hey.", label="b/latest", group=group, meta={})  # side by side: the first one counts
    session.system_prompt = "Be brief."
    assert session.prompt("Who?") == [
        ChatMessage("system", "Be brief."),
        ChatMessage("user", "Hi"),
        ChatMessage("assistant", "Hello."),
        ChatMessage("user", "Who?"),
    ]
    assert session.prompt("Who?", history=False) == [ChatMessage("system", "Be brief."), ChatMessage("user", "Who?")]
    session.mode = "complete"
    assert session.prompt("Once upon") == "Once upon"


class FakeSampler:
    def __init__(self, vocabulary, is_chat=False):
        self.vocabulary = set(vocabulary)
        self.is_chat = is_chat

    def unknown_chars(self, text):
        return sorted({c for c in text if c not in self.vocabulary})


def test_unknown_characters_of_the_new_message_only():
    session = PlaygroundSession("complete")
    samplers = [FakeSampler("abc "), FakeSampler("abcx ")]
    check = session.check("ab x!", samplers, drop=False)
    assert check.unknown == ("!", "x") and not check.can_send and check.offer_drop
    assert "'!'" in check.warning() and "tick" in check.warning()
    dropping = session.check("ab x!", samplers, drop=True)
    assert dropping.can_send and "left out" in dropping.warning()
    assert session.check("abc", samplers, drop=False) == PromptCheck()
    assert PromptCheck().warning() == "" and not PromptCheck().offer_drop and PromptCheck(drop=True).offer_drop
    many = PromptCheck(tuple("0123456789ABCDEF"))
    assert "and 4 more" in many.warning()
    session.mode = "chat"  # a base model's transcript labels count too; a chat model reads no labels
    assert "U" in session.check("abc", [FakeSampler("abc ")], drop=False).unknown
    assert session.check("abc", [FakeSampler("abc", is_chat=True)], drop=False).unknown == ()
    session.system_prompt = "xyz"  # the system prompt is read too
    assert session.check("abc", [FakeSampler("abc", is_chat=True)], drop=False).unknown == ("x", "y", "z")


def test_rewind_removes_the_last_exchange():
    session = PlaygroundSession()
    assert session.rewind() is None and not session.has_user_message()
    g = session.add_user("one")
    session.add_reply("1", label="a", group=g, meta={})
    g = session.add_user("two")
    session.add_reply("2a", label="a", group=g, meta={})
    session.add_reply("2b", label="b", group=g, meta={})
    assert session.rewind() == "two"
    assert [m.text for m in session.conversation.messages] == ["one", "1"]
    session.clear()
    assert session.conversation.messages == [] and session.conversation.mode == "chat"


def test_save_and_open_keep_mode_checkpoint_and_settings(tmp_path):
    session = PlaygroundSession("complete")
    g = session.add_user("Once")
    session.add_reply(" upon", label="a/latest", group=g, meta={"seed": 3})
    session.save(tmp_path / "c.md", "a/latest", {"seed": 3})
    other = PlaygroundSession("chat")
    conv = other.open(tmp_path / "c.md")
    assert other.mode == "complete" and conv.checkpoint == "a/latest" and conv.settings == {"seed": 3}
    assert conv.messages == session.conversation.messages
    with pytest.raises(GPTStudioError):
        other.open(tmp_path / "nothing.json")
    assert other.conversation is conv  # a failed open changes nothing


def test_displayed_rows_group_side_by_side_answers():
    messages = [
        Message("user", "q1"),
        Message("model", "a", group=1),
        Message("model", "b", group=1),
        Message("user", "q2"),
        Message("model", "c", group=2),
        Message("model", "d", group=3),
    ]
    rows = displayed_rows(messages)
    assert [[m.text for m in row] for row in rows] == [["q1"], ["a", "b"], ["q2"], ["c"], ["d"]]
