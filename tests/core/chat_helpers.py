"""Small conversation sets for the chat tests: files in each format, and a synthetic task whose replies
are a deterministic function of the message (so a fine-tuned model can be checked on held-out messages)."""

from __future__ import annotations

import itertools
import json
import random
from pathlib import Path

LETTERS = "abcdefgh"


def shifted(word: str, by: int = 3) -> str:
    """The task: every letter moved `by` places along LETTERS (wrapping round)."""
    return "".join(LETTERS[(LETTERS.index(c) + by) % len(LETTERS)] for c in word)


def shift_task(seed: int = 0, held_out: int = 60) -> tuple[list[str], list[str]]:
    """All three-letter words over LETTERS, shuffled: (training words, held-out words)."""
    words = ["".join(p) for p in itertools.product(LETTERS, repeat=3)]
    random.Random(seed).shuffle(words)
    return words[held_out:], words[:held_out]


def messages_record(user: str, reply: str, system: str = "") -> dict:
    messages = [{"role": "system", "content": system}] if system else []
    return {"messages": [*messages, {"role": "user", "content": user}, {"role": "assistant", "content": reply}]}


def write_jsonl(path: Path, records) -> Path:
    path = Path(path)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def shift_jsonl(path: Path, words) -> Path:
    return write_jsonl(path, (messages_record(w, shifted(w)) for w in words))


def small_chat_jsonl(path: Path, n: int = 40) -> Path:
    """n short two-turn conversations (every third with a system prompt)."""
    return write_jsonl(
        path,
        (messages_record(f"hello {i}", f"hi {i}!", "be nice" if i % 3 == 0 else "") for i in range(n)),
    )
