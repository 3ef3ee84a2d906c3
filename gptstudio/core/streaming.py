"""Generation for a window: load a checkpoint's model, and stream a reply in batches at a steady rate.

Two jobs, plain functions taking `report` and `cancel` (the GUI runs them on its JobRunner):
- `load_sampler(info, home)`: the Sampler for a checkpoint that a `catalog.CheckpointInfo` describes
  (or the pretrained GPT-2 it names).
- `stream_job(sampler, prompt, settings)`: iterates `Sampler.stream` and reports lists of TokenPiece at
  most about 30 times a second however fast the tokens come, so a chat view redraws at a steady rate
  and its event loop stays free. The sampler checks `cancel` before every token. A cancelled stream is
  a stopped reply, not a failure: what came so far is reported and the job returns its numbers (marked
  `stopped`) instead of raising Cancelled.
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


def stream_job(sampler, prompt: str, settings, interval: float = UPDATE_INTERVAL_S, *, report, cancel) -> dict:
    """Stream a reply: report lists of TokenPiece; return the numbers of the whole reply (also when stopped)."""
    batch: list[Any] = []
    count = 0
    start = time.perf_counter()
    first_token_s = None
    last_report = float("-inf")  # the first piece goes out at once: the reply visibly starts
    try:
        for piece in sampler.stream(prompt, settings, cancel=cancel):
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
    }
