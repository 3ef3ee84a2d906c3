import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gptstudio.core.conversation import (
    Conversation,
    ConversationError,
    Message,
    format_stop_sequences,
    from_markdown,
    load_conversation,
    parse_stop_sequences,
    save_conversation,
    to_markdown,
)
from gptstudio.core.errors import GPTStudioError


def sample_conversation() -> Conversation:
    conv = Conversation(
        mode="chat", checkpoint="shakespeare/best", settings={"temperature": 0.8, "top_k": 200, "stop": ["\nUser:"]}
    )
    conv.add("user", "Hello there,\nwho are you?")
    conv.add(
        "model",
        "I am a humble servant.",
        label="shakespeare/best",
        group=1,
        meta={"seed": 1337, "tokens": 22, "tokens_per_sec": 410.5},
    )
    conv.add("model", "Nay, I am a king!", label="other/latest", group=1, meta={"seed": 1337})
    conv.add("user", "<!-- gptstudio-message {} -->\nTricky --> text ## User")
    conv.add("model", "", label="shakespeare/best", group=2)
    conv.add("user", "windows\r\nline\n\n")
    return conv


@pytest.mark.parametrize("name", ["talk.json", "talk.md"])
def test_save_and_open_round_trip(tmp_path, name):
    conv = sample_conversation()
    path = save_conversation(conv, tmp_path / name)
    back = load_conversation(path)
    assert back.to_dict() == conv.to_dict()
    assert not list(tmp_path.glob(".*.tmp")), "atomic write left a temporary file"


def test_markdown_is_readable():
    md = to_markdown(sample_conversation())
    assert "### User\n\nHello there,\nwho are you?" in md
    assert "### Model — shakespeare/best\n\nI am a humble servant." in md


def test_turns_keep_only_the_first_of_side_by_side_replies():
    assert sample_conversation().turns() == [
        ("user", "Hello there,\nwho are you?"),
        ("model", "I am a humble servant."),
        ("user", "<!-- gptstudio-message {} -->\nTricky --> text ## User"),
        ("model", ""),
        ("user", "windows\r\nline\n\n"),
    ]


def test_next_group():
    conv = sample_conversation()
    assert conv.next_group() == 3
    assert Conversation().next_group() == 1


texts = st.text(st.characters(blacklist_categories=("Cs",)), max_size=60)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["user", "model"]), texts, texts, st.integers(0, 5)), max_size=6))
def test_markdown_round_trip_any_text(items):
    conv = Conversation(mode="complete", checkpoint="x")
    for role, text, label, group in items:
        conv.add(role, text, label=label.replace("\n", " "), group=group)
    assert from_markdown(to_markdown(conv)).to_dict() == conv.to_dict()


def test_damaged_files_raise_plain_errors(tmp_path):
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("{not json", encoding="utf-8")
    with pytest.raises(ConversationError, match="not valid JSON"):
        load_conversation(bad_json)
    wrong_shape = tmp_path / "shape.json"
    wrong_shape.write_text(json.dumps({"messages": [{"role": "robot", "text": "x"}]}), encoding="utf-8")
    with pytest.raises(ConversationError, match="Message 1"):
        load_conversation(wrong_shape)
    plain_md = tmp_path / "notes.md"
    plain_md.write_text("# Just notes\n", encoding="utf-8")
    with pytest.raises(ConversationError, match="not a conversation saved by GPT Studio"):
        load_conversation(plain_md)
    with pytest.raises(GPTStudioError, match="No conversation file"):
        load_conversation(tmp_path / "missing.json")
    with pytest.raises(ConversationError):
        Message("system", "x")


def test_unwritable_target_raises_plain_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ConversationError, match="Could not save"):
        save_conversation(sample_conversation(), blocker / "talk.json")


def test_parse_stop_sequences():
    assert parse_stop_sequences(r"\nUser:, ###") == ("\nUser:", "###")
    assert parse_stop_sequences("END\nSTOP") == ("END", "STOP")
    assert parse_stop_sequences(r"a\,b, c\\n, \t,, ") == ("a,b", "c\\n", "\t")
    assert parse_stop_sequences("") == ()
    assert parse_stop_sequences("x, x") == ("x",)


@given(
    st.lists(
        st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=10).filter(
            lambda s: s.strip(" ") == s
        ),
        max_size=5,
        unique=True,
    )
)
def test_stop_sequences_format_round_trip(stops):
    assert parse_stop_sequences(format_stop_sequences(stops)) == tuple(stops)
