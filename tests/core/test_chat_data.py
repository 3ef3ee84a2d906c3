"""Reading conversation files: every format, detection from the content, and every kind of bad record."""

from __future__ import annotations

import json

import pytest

from gptstudio.core.chat_data import (
    MAX_RECORD_BYTES,
    BadRecord,
    Conversation,
    demo_conversations,
    detect_chat_format,
    file_format,
    inputs_are_chat,
    iter_conversations,
    looks_like_transcript,
)
from gptstudio.core.chat_template import ChatMessage

U, A, S = "user", "assistant", "system"


def jsonl(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def read(path, fmt=None):
    return list(iter_conversations(path, fmt or file_format(path, forced=True)))


def messages(item):
    return [(m.role, m.content) for m in item.messages]


def test_messages_format_jsonl(tmp_path):
    p = jsonl(
        tmp_path / "c.jsonl",
        [
            {
                "messages": [
                    {"role": S, "content": "Be kind."},
                    {"role": U, "content": "Hi"},
                    {"role": A, "content": "Hello"},
                ]
            },
            {
                "messages": [
                    {"role": U, "content": [{"type": "text", "text": "multi"}, {"type": "text", "text": "part"}]},
                    {"role": A, "content": "ok"},
                ]
            },
        ],
    )
    assert detect_chat_format(p) == "messages"
    items = read(p)
    assert [messages(i) for i in items] == [[(S, "Be kind."), (U, "Hi"), (A, "Hello")], [(U, "multipart"), (A, "ok")]]
    assert items[1].line == 2 and items[0].turns == 2


def test_alpaca_as_array_and_as_lines(tmp_path):
    records = [
        {"instruction": "Add", "input": "2 and 3", "output": "5"},
        {"instruction": "Say hi", "input": "", "output": "hi"},
    ]
    arr = tmp_path / "a.json"
    arr.write_text(json.dumps(records, indent=2), encoding="utf-8")
    lines = jsonl(tmp_path / "a.jsonl", records)
    for p in (arr, lines):
        assert detect_chat_format(p) == "alpaca"
        assert [messages(i) for i in read(p)] == [[(U, "Add\n\n2 and 3"), (A, "5")], [(U, "Say hi"), (A, "hi")]]
    assert [i.line for i in read(arr)] == [2, 7]  # line numbers inside a JSON array


def test_sharegpt(tmp_path):
    p = jsonl(
        tmp_path / "s.jsonl",
        [
            {
                "conversations": [
                    {"from": "system", "value": "sys"},
                    {"from": "human", "value": "q"},
                    {"from": "gpt", "value": "a"},
                ]
            }
        ],
    )
    assert detect_chat_format(p) == "sharegpt"
    assert messages(read(p)[0]) == [(S, "sys"), (U, "q"), (A, "a")]


def test_transcript_with_separators_and_multiline_turns(tmp_path):
    p = tmp_path / "t.txt"
    p.write_text(
        "System: You are a pirate.\nUser: Hello\nAssistant: Arr.\nStill me.\n\n###\n\nUser: Bye\nassistant: Farewell\n",
        encoding="utf-8",
    )
    assert detect_chat_format(p) is None and file_format(p) is None  # text needs --chat
    assert file_format(p, forced=True) == "transcript" and looks_like_transcript(p)
    items = read(p)
    assert [messages(i) for i in items] == [
        [(S, "You are a pirate."), (U, "Hello"), (A, "Arr.\nStill me.")],
        [(U, "Bye"), (A, "Farewell")],
    ]
    assert [i.line for i in items] == [1, 8]


def test_plain_json_or_prose_is_not_chat_data(tmp_path):
    prose = tmp_path / "play.txt"
    prose.write_text("ROMEO:\nBut soft!\n", encoding="utf-8")
    other = jsonl(tmp_path / "other.jsonl", [{"text": "hello"}])
    assert not looks_like_transcript(prose) and detect_chat_format(other) is None
    assert not inputs_are_chat([prose])
    chat = jsonl(tmp_path / "c.jsonl", [{"messages": [{"role": U, "content": "a"}, {"role": A, "content": "b"}]}])
    assert inputs_are_chat([chat])
    assert not inputs_are_chat([chat, prose])  # a text dataset: the import skips the conversations, saying why


@pytest.mark.parametrize(
    "record, reason",
    [
        ({"text": "hello"}, "unknown schema"),
        ({"messages": 1}, "is not a list"),
        ({"messages": [{"role": U, "content": "q"}, {"role": A, "content": "  "}]}, "reply in turn 2 is empty"),
        ({"messages": [{"role": A, "content": "a"}, {"role": U, "content": "q"}]}, "starts with an assistant turn"),
        (
            {"messages": [{"role": U, "content": "q"}, {"role": U, "content": "q"}, {"role": A, "content": "a"}]},
            "roles out of order",
        ),
        ({"messages": [{"role": U, "content": "q"}]}, "no reply"),
        (
            {"messages": [{"role": U, "content": "q"}, {"role": A, "content": "a"}, {"role": S, "content": "s"}]},
            "only the first message",
        ),
        ({"messages": [{"role": "tool", "content": "q"}]}, "role 'tool'"),
        ({"messages": [{"role": U, "content": 3}, {"role": A, "content": "a"}]}, "not text"),
        ({"instruction": "q", "output": None}, "'output' is not text"),
        ({"conversations": [{"from": "observation", "value": "x"}]}, "from 'observation'"),
    ],
)
def test_each_bad_record_names_file_line_and_problem(tmp_path, record, reason):
    good = {"messages": [{"role": U, "content": "q"}, {"role": A, "content": "a"}]}
    if "instruction" in record:
        good = {"instruction": "q", "output": "a"}
    elif "conversations" in record:
        good = {"conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}]}
    p = jsonl(tmp_path / "c.jsonl", [good, record])
    items = read(p)
    assert isinstance(items[0], Conversation)
    bad = items[1]
    assert isinstance(bad, BadRecord) and bad.line == 2 and bad.skippable
    assert reason in bad.reason
    assert bad.describe().startswith("c.jsonl line 2: ")


def test_broken_json_lines_and_a_broken_array(tmp_path):
    p = tmp_path / "c.jsonl"
    p.write_text(
        '{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}\n{"messages": [\n',
        encoding="utf-8",
    )
    items = read(p)
    assert isinstance(items[1], BadRecord) and items[1].line == 2 and "broken JSON" in items[1].reason
    arr = tmp_path / "c.json"
    arr.write_text('[\n {"instruction": "a", "output": "b"},\n {"instruction": "c", "output": \n', encoding="utf-8")
    items = read(arr)
    assert isinstance(items[0], Conversation)
    assert isinstance(items[1], BadRecord) and not items[1].skippable and items[1].line == 3


def test_a_50_mb_single_line_is_reported_without_holding_it(tmp_path):
    p = tmp_path / "huge.jsonl"
    good = json.dumps({"messages": [{"role": U, "content": "q"}, {"role": A, "content": "a"}]})
    with open(p, "w", encoding="utf-8") as f:
        f.write(good + "\n")
        f.write('{"messages": [{"role": "user", "content": "' + "x" * (50 << 20) + '"}]}\n')
        f.write(good + "\n")
    assert MAX_RECORD_BYTES < (50 << 20)
    items = read(p)
    assert [type(i).__name__ for i in items] == ["Conversation", "BadRecord", "Conversation"]
    assert items[1].line == 2 and "longer than" in items[1].reason and items[2].line == 3


def test_demo_conversations_pair_a_speech_with_the_next_speakers_reply():
    text = "ROMEO:\nHello there.\n\nJULIET:\nGood morrow.\n\nJULIET:\nAgain.\n\nNURSE:\nMadam!\n"
    convs = demo_conversations(text)
    assert [messages(c) for c in convs] == [
        [(U, "Hello there."), (A, "Good morrow.")],  # JULIET answering herself is not an exchange
        [(U, "Again."), (A, "Madam!")],
    ]
    full = demo_conversations()
    assert len(full) > 3000 and all(len(c.messages[1].content) <= 200 for c in full)
    assert full[0].messages[0] == ChatMessage(U, "Before we proceed any further, hear me speak.")


def test_one_format_per_file(tmp_path):
    p = jsonl(
        tmp_path / "c.jsonl",
        [
            {"messages": [{"role": U, "content": "q"}, {"role": A, "content": "a"}]},
            {"instruction": "q", "output": "a"},
        ],
    )
    bad = read(p)[1]
    assert isinstance(bad, BadRecord) and "alpaca format" in bad.reason and "one per file" in bad.reason
