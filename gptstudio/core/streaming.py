"""Generation for a window: load a checkpoint's model, and stream a reply in batches at a steady rate.

Two jobs, plain functions taking `report` and `cancel` (the GUI runs them on its JobRunner):
- `load_sampler(info, home)`: the Sampler for a checkpoint that a `catalog.CheckpointInfo` describes
  (or the pretrained GPT-2 it names).
- `stream_job(sampler, prompt, settings)`: streams a reply and reports lists of TokenPiece at most
  about 30 times a second however fast the tokens come, so a chat view redraws at a steady rate and
  its event loop stays free. `prompt` is a text to continue, or a conversation (a list of
  chat_template.ChatMessage) that core.chat.prepare_reply turns into this model's prompt: its chat
  template for a chat model (the oldest exchanges left out when it outgrows the context), the
  User:/Model: transcript for a base model. The sampler checks `cancel` before every token. A
  cancelled stream is a stopped reply, not a failure: what came so far is reported and the job returns
  its numbers (marked `stopped`) instead of raising Cancelled.
"""

from __future__ import annotations

import time
from typing import Any

from gptstudio.core.errors import Cancelled

UPDATE_INTERVAL_S = 1 / 30


def load_sampler(info, home=None, *, report, cancel):
    """Load the model a CheckpointInfo describes (a run's checkpoint, a file from elsewhere, or a
    pretrained GPT-2, downloaded first if need be: report((done_bytes, total_bytes)) follows it)."""
    from gptstudio.core.sampler import Sampler  # torch: imported in the job's thread

    if cancel.is_set():
        raise Cancelled()
    if info.pretrained:

        def downloading(done: int, total: int) -> None:
            report((done, total))

        return Sampler.from_pretrained(info.pretrained, home=home, report=downloading, cancel=cancel)
    if info.run:
        return Sampler.from_run(info.run, info.which, home=home)
    return Sampler.from_checkpoint_file(info.path)


def stream_job(sampler, prompt, settings, interval: float = UPDATE_INTERVAL_S, *, report, cancel) -> dict:
    """Stream a reply: report lists of TokenPiece; return the numbers of the whole reply (also when stopped):
    tokens, seconds, first_token_s, tokens_per_sec, stopped, and for a conversation its `mode` ("chat" or
    "transcript") and `dropped` (how many of the oldest messages the model no longer sees)."""
    batch: list[Any] = []
    count = 0
    start = time.perf_counter()
    first_token_s = None
    last_report = float("-inf")  # the first piece goes out at once: the reply visibly starts
    extra: dict = {"mode": "complete", "dropped": 0}
    if isinstance(prompt, str):
        pieces = sampler.stream(prompt, settings, cancel=cancel)
    else:
        from gptstudio.core.chat import prepare_reply

        prepared = prepare_reply(sampler, prompt, settings)
        extra = {"mode": prepared.mode, "dropped": prepared.dropped}
        pieces = prepared.stream(sampler, cancel)
    try:
        for piece in pieces:
            now = time.perf_counter()
            if first_token_s is None:
                first_token_s = now - start
            batch.append(piece)
            count += 1
            if now - last_report >= interval:
                report(batch)
                batch, last_report = [], now
    except Cancelled:
        pass  # stopped: what came so far is the reply
    if batch:
        report(batch)
    seconds = time.perf_counter() - start
    return {
        "tokens": count,
        "seconds": seconds,
        "first_token_s": first_token_s,
        "tokens_per_sec": count / seconds if seconds > 0 else 0.0,
        "stopped": cancel.is_set(),
        **extra,
    }
