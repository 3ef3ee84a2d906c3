"""The streaming job: pieces batched to a steady rate, stop within a token keeping what came."""

import threading

from gptstudio.core.sampler import TokenPiece
from gptstudio.core.streaming import stream_job


class CountingSampler:
    """Yields pieces until cancelled or `n` are made."""

    def __init__(self, n, on_piece=None):
        self.n, self.on_piece = n, on_piece

    def stream(self, prompt, settings, cancel):
        from gptstudio.core.errors import Cancelled

        for i in range(self.n):
            if cancel.is_set():
                raise Cancelled()
            if self.on_piece:
                self.on_piece(i)
            yield TokenPiece(text="x", token_id=0, prob=1.0, top=[], index=i, sample=0)


def test_stream_job_batches_pieces_and_reports_its_numbers():
    batches = []
    stats = stream_job(CountingSampler(500), "p", None, 1.0, report=batches.append, cancel=threading.Event())
    assert len(batches[0]) == 1  # the first piece goes out at once
    assert sum(len(b) for b in batches) == 500 and len(batches) <= 3  # the rest coalesced
    assert stats["tokens"] == 500 and not stats["stopped"] and stats["first_token_s"] is not None


def test_stream_job_stops_within_a_token_and_keeps_what_came():
    cancel, batches = threading.Event(), []
    sampler = CountingSampler(10_000, on_piece=lambda i: i == 41 and cancel.set())
    stats = stream_job(sampler, "p", None, 0.0, report=batches.append, cancel=cancel)
    assert stats["tokens"] == 42 and stats["stopped"]
    assert sum(len(b) for b in batches) == 42
