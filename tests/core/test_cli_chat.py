"""`gptstudio chat`: scripted and interactive use, and the end-to-end proof that chat fine-tuning works."""

from __future__ import annotations

import json
import random
import subprocess
import sys

import pytest
import torch

from gptstudio import cli
from gptstudio.core.chat_dataset import prepare_chat_dataset
from gptstudio.core.chat_template import CHAT_TEMPLATE
from gptstudio.core.config import TrainConfig
from gptstudio.core.dataset import prepare_dataset
from gptstudio.core.model import GPT, GPTConfig
from gptstudio.core.tokenizer import CharTokenizer
from gptstudio.core.trainer import train
from tests.core.chat_helpers import LETTERS, shift_jsonl, shift_task, shifted
from tests.core.sampling_helpers import save_run

CHARS = "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ:\n!?.,"


@pytest.fixture
def chat_cli(monkeypatch, capsys):
    monkeypatch.setattr(cli, "COMMAND_MODULES", ["chat"])

    def run(*argv, stdin=None):
        if stdin is not None:
            monkeypatch.setattr(sys, "stdin", _Lines(stdin))
        code = cli.main(["chat", *argv])
        out, err = capsys.readouterr()
        return code, out, err

    return run


class _Lines:
    """stdin that is not a terminal."""

    def __init__(self, text: str):
        self.lines = text.splitlines(keepends=True)

    def readline(self):
        return self.lines.pop(0) if self.lines else ""

    def isatty(self):
        return False


def random_run(home, name: str, chat: bool, block_size: int = 64):
    tok = CharTokenizer(sorted(set(CHARS)))
    if chat:
        tok = tok.with_chat_template(CHAT_TEMPLATE)
    args = dict(block_size=block_size, n_layer=1, n_head=2, n_embd=16, dropout=0.0, bias=False)
    args["vocab_size"] = tok.vocab_size
    torch.manual_seed(0)
    save_run(home, name, GPT(GPTConfig(**args)), tok, args, best=False)


def test_scripted_messages_print_one_reply_each_in_order(home, chat_cli):
    random_run(home, "c", chat=True)
    code, out, err = chat_cli("c", "-m", "Hello", "-m", "And you?", "--json", "--seed", "7", "--max-new-tokens", "5")
    assert code == 0, err
    replies = [json.loads(line) for line in out.splitlines()]
    assert [r["message"] for r in replies] == ["Hello", "And you?"]
    assert [r["seed"] for r in replies] == [7, 8] and all(r["mode"] == "chat" for r in replies)
    assert all(r["tokens"] <= 5 and r["ended"] in ("end_of_turn", "max_new_tokens") for r in replies)
    again = chat_cli("c", "-m", "Hello", "-m", "And you?", "--json", "--seed", "7", "--max-new-tokens", "5")[1]
    assert again == out  # same seed, same conversation, same replies
    code, out, err = chat_cli("c", "-m", "Hello", "--seed", "7", "--max-new-tokens", "5")
    assert out.endswith("\n") and out.strip() == replies[0]["reply"]  # the streamed text, then a line break
    assert "is a base model" not in err


def test_interactive_commands_reset_and_system(home, chat_cli):
    random_run(home, "c", chat=True, block_size=32)
    stdin = "Hi\n/system Be brief.\nHow?\n/reset\nHi\n"
    code, out, err = chat_cli("c", "--json", "--seed", "1", "--max-new-tokens", "4", stdin=stdin)
    assert code == 0, err
    replies = [json.loads(line) for line in out.splitlines()]
    assert len(replies) == 3 and "[system prompt set]" in err and "[conversation forgotten]" in err
    assert replies[1]["dropped_messages"] >= 0


def test_a_base_model_is_said_to_continue_text(home, chat_cli):
    random_run(home, "b", chat=False)
    code, out, err = chat_cli("b", "-m", "Hi", "--json", "--max-new-tokens", "3", "--seed", "0")
    assert code == 0 and json.loads(out)["mode"] == "transcript"
    assert "b is a base model: it continues a User:/Model: transcript" in err


def test_mistakes_are_one_line(home, chat_cli):
    random_run(home, "c", chat=True, block_size=16)
    code, _, err = chat_cli("nope", "-m", "Hi")
    assert code == 2 and err.count("\n") == 1 and "neither a run" in err
    code, _, err = chat_cli("c", "-m", "x" * 40)
    assert code == 2 and err.strip().endswith("shorten it.") and err.count("\n") == 1


# ----- the proof: fine-tune a tiny model, then chat with it -----

REQUIRED_ACCURACY = 0.8  # of held-out messages answered exactly right, ending the reply by itself


def chat_replies(home, run: str, messages: list[str]) -> list[dict]:
    """Greedy replies of `gptstudio chat RUN`, each to a fresh conversation (/reset in between)."""
    stdin = "".join(f"{m}\n/reset\n" for m in messages)
    out = subprocess.run(
        [sys.executable, "-m", "gptstudio", "--home", str(home), "chat", run, "--temperature", "0", "--json"]
        + ["--max-new-tokens", "8"],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    return [json.loads(line) for line in out.stdout.splitlines()]


def test_fine_tuned_model_answers_held_out_messages(home, tmp_path):
    """The task: reply to a three-letter word with every letter moved three places along 'abcdefgh'.
    A base model pretrained on User:/Model: transcripts with random replies knows the letters and the
    format but not the task (it answers about 1 in 512 right); fine-tuned on 452 conversations it must
    answer at least REQUIRED_ACCURACY of 60 words it never saw, and stop at the end of each reply.
    (A model of 89 k parameters; rows of 16 tokens hold one conversation each, so it learns to copy from
    fixed positions: the val loss on replies is below 0.01 after 150 iterations.)"""
    train_words, held_out = shift_task()
    rng = random.Random(1)
    text = tmp_path / "transcripts.txt"
    text.write_text(
        "".join(f"User: {rng.choice(train_words)}\nModel: {''.join(rng.choices(LETTERS, k=3))}\n" for _ in range(1500))
    )
    common = dict(
        n_layer=2, n_head=4, n_embd=60, block_size=16, batch_size=64, dropout=0.0, warmup_iters=10,
        eval_iters=4, eval_sample_tokens=0, log_interval=50, device="cpu", compile=False, dtype="float32",
    )  # fmt: skip
    prepare_dataset([text], "transcripts", home=home)
    base = TrainConfig(
        dataset="transcripts", run_name="base", max_iters=20, lr_decay_iters=20, eval_interval=20,
        learning_rate=3e-3, min_lr=3e-4, **common,
    )  # fmt: skip
    assert train(base, home=home).status == "completed"
    prepare_chat_dataset(
        [shift_jsonl(tmp_path / "shift.jsonl", train_words)], "shift", home=home, tokenizer_from="base"
    )
    sft = TrainConfig(
        dataset="shift", run_name="chat", init_from="base", max_iters=200, lr_decay_iters=200, eval_interval=200,
        learning_rate=3e-3, min_lr=3e-4, **common,
    )  # fmt: skip
    done = train(sft, home=home)
    assert done.status == "completed", done.reason

    replies = chat_replies(home, "chat", held_out)
    right = [r for r in replies if r["reply"] == shifted(r["message"]) and r["ended"] == "end_of_turn"]
    assert len(replies) == len(held_out)
    assert len(right) >= REQUIRED_ACCURACY * len(held_out), [(r["message"], r["reply"]) for r in replies[:10]]
    base_right = [r for r in chat_replies(home, "base", held_out) if r["reply"] == shifted(r["message"])]
    assert len(base_right) <= 0.1 * len(held_out)  # the requirement is far above what the base model does
