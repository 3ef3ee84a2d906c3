"""Model loading and token streaming for the Playground, run in QThreads via gui.workers.

`stream_job` iterates the engine's `Sampler.stream` and reports the pieces in batches, at most about
30 times a second however fast the tokens come: the chat view then redraws at a steady rate and the
event loop stays free. Stop sets the cancel event, which the sampler checks before every token.
"""

from __future__ import annotations

import time

from PySide6.QtCore import Signal

from gptstudio.core.errors import Cancelled
from gptstudio.gui.workers import JobWorker

UPDATE_INTERVAL_S = 1 / 30


def load_sampler(info, home=None, *, report, cancel):
    """Load the model a CheckpointInfo describes (a run's checkpoint, or a file from elsewhere)."""
    from gptstudio.core.sampler import Sampler

    if cancel.is_set():
        raise Cancelled()
    if info.run:
        return Sampler.from_run(info.run, info.which, home=home)
    return Sampler.from_checkpoint_file(info.path)


def stream_job(sampler, prompt, settings, interval=UPDATE_INTERVAL_S, *, report, cancel):
    """Stream a reply: report lists of TokenPiece; return the stats of the whole reply."""
    batch, count = [], 0
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
        pass  # a stop is not an error here: what came so far is the reply
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


class GenerationWorker(JobWorker):
    """Streams one sampler's reply. Its signals carry `tag` (which side of a comparison), so the tab
    can connect them to its own methods: those calls are then queued to the GUI thread (a lambda
    would run in the worker's thread)."""

    sig_pieces = Signal(int, object)  # tag, list of TokenPiece
    sig_done = Signal(int, object)  # tag, stats dict (also after Stop)
    sig_failed = Signal(int, str)  # tag, readable message
    sig_finished = Signal(int)  # tag; always, last

    def __init__(self, sampler, prompt, settings, tag: int = 0, interval=UPDATE_INTERVAL_S):
        super().__init__(stream_job, sampler, prompt, settings, interval)
        self.tag = tag
        # emitted and received in the worker thread: plain re-emits with the tag added
        self.progressed.connect(self._pieces)
        self.succeeded.connect(self._done)
        self.failed.connect(self._failed)
        self.finished.connect(self._finished)

    def _pieces(self, batch):
        self.sig_pieces.emit(self.tag, batch)

    def _done(self, stats):
        self.sig_done.emit(self.tag, stats)

    def _failed(self, message):
        self.sig_failed.emit(self.tag, message)

    def _finished(self):
        self.sig_finished.emit(self.tag)


class LoadWorker(JobWorker):
    """Loads one checkpoint's model; its signals carry the CheckpointInfo it was asked for."""

    sig_loaded = Signal(object, object)  # info, Sampler
    sig_failed = Signal(object, str)  # info, readable message
    sig_finished = Signal(object)  # info; always, last

    def __init__(self, info, home=None):
        super().__init__(load_sampler, info, home)
        self.info = info
        self.succeeded.connect(self._loaded)
        self.failed.connect(self._failed)
        self.finished.connect(self._finished)

    def _loaded(self, sampler):
        self.sig_loaded.emit(self.info, sampler)

    def _failed(self, message):
        self.sig_failed.emit(self.info, message)

    def _finished(self):
        self.sig_finished.emit(self.info)
