"""One reply being generated: who answers, with which settings, and its numbers as they come (Qt-free).

A reply has one answer per checkpoint that answers (two in compare mode) and per sample (Complete
mode can ask for several); answer `tag * num_samples + sample` is the pane that shows it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from gptstudio.core.catalog import CheckpointInfo
from gptstudio.core.chat import cut_reply
from gptstudio.core.sample_settings import SampleSettings
from gptstudio.core.units import format_rate, format_time


@dataclass
class Reply:
    sources: list[CheckpointInfo]  # tag -> the checkpoint that answers
    settings: SampleSettings
    group: int  # the conversation group its answers share
    mode: str = "chat"  # the mode it was asked in ("chat" replies are cut at the next turn)
    started: float = field(default_factory=time.perf_counter)
    received: int = 0  # tokens so far, every answer together
    stats: dict[int, dict] = field(default_factory=dict)  # tag -> the stream job's numbers
    errors: dict[int, str] = field(default_factory=dict)  # tag -> why it failed

    def kept_text(self, streamed: str, tag: int = 0) -> str:
        """What of a streamed answer is the reply: a base model's transcript up to its next turn, a chat
        model's reply (ended by its end-of-turn token) without surrounding space; completions as they came."""
        mode = self.stats.get(tag, {}).get("mode", "complete" if self.mode != "chat" else "transcript")
        if mode == "transcript":
            return cut_reply(streamed)
        return streamed.strip() if mode == "chat" else streamed

    def dropped(self) -> int:
        """How many of the oldest messages the first answering model no longer sees (its context is full)."""
        return int(self.stats.get(0, {}).get("dropped", 0))

    def answer_index(self, tag: int, sample: int) -> int:
        return tag * self.settings.num_samples + sample

    def answers(self) -> list[tuple[int, CheckpointInfo]]:
        """(tag, checkpoint) for every answer, in answer order."""
        return [(tag, info) for tag, info in enumerate(self.sources) for _ in range(self.settings.num_samples)]

    def count(self, new_tokens: int) -> None:
        self.received += new_tokens

    def progress_text(self, now: float | None = None) -> str:
        """The running line shown while tokens arrive."""
        elapsed = (time.perf_counter() if now is None else now) - self.started
        rate = self.received / elapsed if elapsed > 0 else 0.0
        return f"Generating… {self.received} tokens · {format_rate(rate)}"

    def summary_text(self) -> str:
        """The numbers of the finished reply: one part per checkpoint (named when compared)."""
        parts = []
        for tag, info in enumerate(self.sources):
            stats = self.stats.get(tag)
            if not stats:
                continue
            text = f"{stats['tokens']} tokens · {format_rate(stats['tokens_per_sec'])}"
            if len(self.sources) > 1:  # side by side: keep it to one line
                parts.append(f"{info.short_name}: {text}")
                continue
            text += f" · {format_time(stats['seconds'])}"
            if stats.get("first_token_s"):
                text += f" · first token {format_time(stats['first_token_s'])}"
            parts.append(text)
        return "  |  ".join(parts)

    def stopped(self, tag: int) -> bool:
        return bool(self.stats.get(tag, {}).get("stopped"))

    def footer(self, tag: int, tokens: int) -> str:
        rate = format_rate(self.stats.get(tag, {}).get("tokens_per_sec", 0.0))
        return f"{tokens} tokens · {rate} · seed {self.settings.seed}" + (" · stopped" if self.stopped(tag) else "")

    def message_meta(self, tag: int, tokens: int) -> dict:
        """What the conversation keeps about an answer (saved with it)."""
        return {
            "checkpoint": self.sources[tag].short_name,
            "seed": self.settings.seed,
            "tokens": tokens,
            "stopped": self.stopped(tag),
            "tokens_per_sec": round(self.stats.get(tag, {}).get("tokens_per_sec", 0.0), 1),
        }
