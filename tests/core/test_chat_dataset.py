"""Chat datasets: conversations as tokens + loss mask + index, refused inputs, and the packed batches."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from gptstudio import cli
from gptstudio.core.chat_dataset import (
    ChatBatches,
    chat_summary,
    conversation_preview,
    conversation_tokens,
    index_file,
    mask_file,
    prepare_chat_dataset,
)
from gptstudio.core.chat_template import CHAT_TEMPLATE, ChatTemplate
from gptstudio.core.dataset import load_dataset_meta
from gptstudio.core.errors import ChatDataError, DatasetError, UnknownCharacters
from gptstudio.core.model import GPT, GPTConfig
from gptstudio.core.special_tokens import END_OF_TURN
from gptstudio.core.tokenizer import GPT2_VOCAB, CharTokenizer, tokenizer_from_meta
from tests.core.chat_helpers import messages_record, small_chat_jsonl, write_jsonl
from tests.core.sampling_helpers import save_run


def no_leftovers(home):
    datasets = home / "datasets"
    return not datasets.exists() or not [p.name for p in datasets.iterdir() if p.name.startswith(".")]


def test_prepare_stores_tokens_mask_and_index(home, tmp_path):
    src = small_chat_jsonl(tmp_path / "chat.jsonl", 40)
    meta = prepare_chat_dataset([src], "c", home=home)
    folder = home / "datasets" / "c"
    assert meta["chat_template"] == CHAT_TEMPLATE and meta["chat"]["conversations"] == {"train": 36, "val": 4}
    assert meta["chat"]["formats"] == ["messages"] and meta["sources"][0]["chat_format"] == "messages"
    assert load_dataset_meta(folder)["chat"] == meta["chat"]
    tok = tokenizer_from_meta(meta)
    template = ChatTemplate(tok)
    for split, n in (("train", 36), ("val", 4)):
        index = np.fromfile(index_file(folder, split), dtype=np.int64).reshape(-1, 2)
        assert len(index) == n and mask_file(folder, split).stat().st_size == meta[f"{split}_tokens"]
    for i in (0, 3, 35):
        ids, mask = conversation_tokens(folder, "train", i)
        trained = [int(t) for t, m in zip(ids, mask) if m]
        assert tok.decode(trained) == f"hi {i}!{END_OF_TURN}"  # the reply and its end-of-turn, nothing else
        assert ids[0] == template.begin and (template.start["system"] in ids) == (i % 3 == 0)
    ids, mask = conversation_tokens(folder, "val", 0)
    assert tok.decode([int(t) for t, m in zip(ids, mask) if m]) == f"hi 36!{END_OF_TURN}"
    summary = chat_summary(meta)
    assert summary["conversations"] == 40 and summary["turns"] == 80
    assert summary["reply_tokens"] == 40 * 5 + sum(len(str(i)) for i in range(40))
    assert 0 < summary["reply_share"] < 0.5
    preview = conversation_preview(folder, "train", 1)
    assert ("hi 1!", True, False) in preview and ("hello 1", False, False) in preview


def test_bad_records_refuse_everything_unless_skipped(home, tmp_path):
    good = [messages_record(f"q{i}", f"a{i}") for i in range(5)]
    bad_reply = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": ""}]}
    src = write_jsonl(tmp_path / "c.jsonl", [*good, bad_reply, {"oops": 1}])
    with open(src, "a", encoding="utf-8") as f:
        f.write("{not json\n")
    with pytest.raises(ChatDataError) as err:
        prepare_chat_dataset([src], "c", home=home)
    message = str(err.value)
    assert "3 bad records" in message and "c.jsonl line 6" in message and "--skip-bad" in message
    assert [b.line for b in err.value.bad] == [6, 7, 8]
    assert not (home / "datasets" / "c").exists() and no_leftovers(home)
    meta = prepare_chat_dataset([src], "c", home=home, skip_bad=True)
    assert meta["chat"]["skipped"] == 3 and chat_summary(meta)["conversations"] == 5


def test_an_unreadable_file_is_refused_even_with_skip_bad(home, tmp_path):
    src = tmp_path / "c.json"
    src.write_text('[{"instruction": "a", "output": "b"}, {"instruction": ', encoding="utf-8")
    with pytest.raises(ChatDataError, match="cannot be read: 1 bad file: c.json line 1: broken JSON"):
        prepare_chat_dataset([src], "c", home=home, skip_bad=True)
    assert no_leftovers(home)


def test_too_few_conversations_and_non_chat_files(home, tmp_path):
    with pytest.raises(DatasetError, match="at least 2"):
        prepare_chat_dataset([small_chat_jsonl(tmp_path / "one.jsonl", 1)], "c", home=home)
    text = tmp_path / "play.txt"
    text.write_text("ROMEO:\nHello\n", encoding="utf-8")
    with pytest.raises(ChatDataError, match="not chat data"):
        prepare_chat_dataset([text], "c", home=home)


def char_run(home, chars: str, name: str = "base"):
    tok = CharTokenizer(sorted(set(chars)))
    args = dict(block_size=32, n_layer=1, n_head=2, n_embd=16, dropout=0.0, bias=False, vocab_size=tok.vocab_size)
    torch.manual_seed(0)
    save_run(home, name, GPT(GPTConfig(**args)), tok, args, best=False)
    return tok


def test_tokenizer_from_a_run_keeps_its_ids_and_reports_unknown_characters(home, tmp_path, monkeypatch):
    base = char_run(home, "abcdefghijklmnopqrstuvwxyz !0123456789")
    src = small_chat_jsonl(tmp_path / "c.jsonl", 10)  # all known characters
    monkeypatch.setenv("GPTSTUDIO_HOME", str(tmp_path / "elsewhere"))  # the run is looked up in `home`
    meta = prepare_chat_dataset([src], "c", home=home, tokenizer_from="base")
    assert meta["chars"] == base.chars and meta["vocab_size"] == base.vocab_size + 5
    assert meta["tokenizer_from"] == "base"
    odd = write_jsonl(tmp_path / "odd.jsonl", [messages_record("héllo", "wörld"), messages_record("hi", "yo")])
    with pytest.raises(UnknownCharacters) as err:
        prepare_chat_dataset([odd], "odd", home=home, tokenizer_from="base")
    assert err.value.chars == ["é", "ö"] and err.value.count == 2 and "--drop-unknown" in str(err.value)
    assert no_leftovers(home)
    meta = prepare_chat_dataset([odd], "odd", home=home, tokenizer_from="base", drop_unknown=True)
    assert meta["chat"]["dropped_chars"] == ["é", "ö"]
    ids, mask = conversation_tokens(home / "datasets" / "odd", "train", 0)
    assert tokenizer_from_meta(meta).decode([int(t) for t, m in zip(ids, mask) if m]) == "wrld" + END_OF_TURN


def test_gpt2_chat_dataset(home, tmp_path):
    meta = prepare_chat_dataset([small_chat_jsonl(tmp_path / "c.jsonl", 6)], "g", "gpt2", home=home)
    assert meta["tokenizer"] == "gpt2" and meta["vocab_size"] == GPT2_VOCAB + 4 and meta["dtype"] == "uint16"
    ids, _ = conversation_tokens(home / "datasets" / "g", "train", 0)
    assert ids[0] == 50256 and ids[1] == GPT2_VOCAB  # end-of-text, then <|system|>
    assert load_dataset_meta(home / "datasets" / "g")["special_tokens"][END_OF_TURN] == GPT2_VOCAB + 3


def test_demo_chat_dataset(home):
    meta = prepare_chat_dataset([], "demo", home=home, demo=True)
    summary = chat_summary(meta)
    assert summary["conversations"] > 3000 and meta["sources"][0]["generated"].startswith("demo chat")
    assert 0.3 < summary["reply_share"] < 0.6


def test_a_damaged_mask_file_is_reported(home, tmp_path):
    prepare_chat_dataset([small_chat_jsonl(tmp_path / "c.jsonl", 6)], "c", home=home)
    folder = home / "datasets" / "c"
    with open(mask_file(folder, "train"), "ab") as f:
        f.write(b"\0")
    with pytest.raises(DatasetError, match="train_mask.bin has"):
        load_dataset_meta(folder)


def test_batches_start_at_conversations_and_target_only_the_replies(home, tmp_path):
    prepare_chat_dataset([small_chat_jsonl(tmp_path / "c.jsonl", 30)], "c", home=home, val_fraction=0.2)
    folder = home / "datasets" / "c"
    meta = load_dataset_meta(folder)
    tok = tokenizer_from_meta(meta)
    template = ChatTemplate(tok)
    data = np.fromfile(folder / "train.bin", dtype=meta["dtype"]).astype(np.int64)
    mask = np.fromfile(mask_file(folder, "train"), dtype=np.uint8)
    starts = set(np.fromfile(index_file(folder, "train"), dtype=np.int64).reshape(-1, 2)[:, 0].tolist())
    batches = ChatBatches(folder, "train", meta["dtype"], 48, 64, "cpu", np.random.default_rng(0), template.begin)
    x, y = batches.next()
    assert x.shape == y.shape == (64, 48)
    assert (x[:, 0] == template.begin).all()
    padded = 0
    for row_x, row_y in zip(x.tolist(), y.tolist()):
        start = next(s for s in starts if data[s : s + 48].tolist() == row_x[: len(data[s : s + 48])])
        for j, target in enumerate(row_y):
            pos = start + j + 1  # the position of the token this target predicts
            if pos >= len(data):  # past the end of the split: padding, never a target
                padded += 1
                assert target == -1 and row_x[j] == (template.begin if pos > len(data) else data[pos - 1])
            elif mask[pos]:
                assert target == data[pos]
            else:
                assert target == -1  # the user's turns, the starts of turns, the next conversation's start
    assert padded  # the last conversations are drawn too, and run past the end
    # a block too short to reach any reply is refused with the size that would work
    with pytest.raises(DatasetError, match="raise block_size to at least"):
        ChatBatches(folder, "train", meta["dtype"], 8, 4, "cpu", np.random.default_rng(0), template.begin)


# ----- the command line -----


@pytest.fixture
def prepare_cli(monkeypatch, capsys):
    monkeypatch.setattr(cli, "COMMAND_MODULES", ["prepare"])

    def run(*argv):
        code = cli.main(["prepare", *map(str, argv)])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_cli_detects_chat_data_from_content(home, tmp_path, prepare_cli):
    src = small_chat_jsonl(tmp_path / "my chat.jsonl", 20)
    code, out, err = prepare_cli(src)
    assert code == 0, err
    assert "Prepared chat dataset 'my_chat': 20 conversations (18 train + 2 val), 40 turns" in out
    assert "with the chat template" in out and (home / "datasets" / "my_chat" / "train_mask.bin").is_file()


def test_cli_transcripts_need_chat_and_bad_files_are_one_line(home, tmp_path, prepare_cli):
    t = tmp_path / "talk.txt"
    t.write_text("User: hi\nAssistant: hello\n\n###\nUser: bye\nAssistant:\n\n###\nUser: a\nAssistant: b\n")
    code, out, err = prepare_cli(t, "--chat", "--name", "talk")
    assert code == 2 and err.count("\n") == 1 and "talk.txt line 5: the reply in turn 2 is empty" in err
    assert not (home / "datasets" / "talk").exists()
    code, out, err = prepare_cli(t, "--chat", "--name", "talk", "--skip-bad")
    assert code == 0 and "2 conversations" in out and "1 bad record skipped" in out
    code, out, err = prepare_cli(t, "--name", "plain")  # without --chat: plain text to pretrain on
    assert code == 0 and "Prepared dataset 'plain'" in out


def test_cli_demo_chat_and_tokenizer_from(home, tmp_path, prepare_cli):
    char_run(home, "abc")
    code, out, err = prepare_cli("--demo-chat", "--tokenizer-from", "base", "--name", "d")
    assert code == 2 and "--drop-unknown" in err and err.count("\n") == 1
    code, out, err = prepare_cli("--demo-chat")
    assert code == 0 and "Prepared chat dataset 'shakespeare_chat'" in out
    meta = json.loads((home / "datasets" / "shakespeare_chat" / "meta.json").read_text())
    assert meta["chat"]["conversations"]["train"] > 3000


def test_survey_finds_what_preparing_would_refuse_without_writing(home, tmp_path):
    from gptstudio.core.chat_dataset import survey_chat_inputs

    char_run(home, "abcdefghijklmnopqrstuvwxyz !0123456789")
    bad = {"messages": [{"role": "assistant", "content": "a"}]}
    src = write_jsonl(tmp_path / "c.jsonl", [messages_record("héllo", "ok"), bad, messages_record("hi", "yo")])
    survey = survey_chat_inputs([src], tokenizer_from="base", home=home)
    assert survey.conversations == 2 and survey.turns == 4 and survey.formats == ["messages"]
    assert [b.line for b in survey.bad] == [2] and not survey.unreadable
    assert survey.unknown_chars == ["é"] and survey.unknown_count == 1
    assert not (home / "datasets").exists() or not list((home / "datasets").iterdir())
    own = survey_chat_inputs([src])  # its own characters: nothing is unknown
    assert own.unknown_chars == [] and own.conversations == 2


@pytest.mark.parametrize("kind", ["schema", "broken_json", "empty_reply", "roles_out_of_order", "huge_line"])
def test_each_kind_of_bad_file_is_refused_with_its_line_and_leaves_nothing(home, tmp_path, kind, prepare_cli):
    good = [messages_record(f"q{i}", f"a{i}") for i in range(3)]
    src = write_jsonl(tmp_path / "c.jsonl", good)
    with open(src, "a", encoding="utf-8") as f:
        f.write(
            {
                "schema": '{"prompt": "q", "completion": "a"}',
                "broken_json": '{"messages": [{"role": "user", "content": "q"}',
                "empty_reply": json.dumps(messages_record("q", "")),
                "roles_out_of_order": json.dumps(
                    {"messages": [{"role": "user", "content": "q"}, {"role": "user", "content": "again"}]}
                ),
                "huge_line": json.dumps(messages_record("x" * (50 << 20), "a")),
            }[kind]
            + "\n"
        )
    code, _, err = prepare_cli(src, "--name", "c")
    assert code == 2 and err.count("\n") == 1 and "c.jsonl line 4: " in err and "--skip-bad" in err
    assert not (home / "datasets" / "c").exists() and no_leftovers(home)
