"""Streams the answers of one reply, each checkpoint's on a JobRunner of its own (compare mode runs two).

Stop asks every stream to end before its next token, without discarding it: each stream still
reports what it made and its numbers (marked stopped), then `finished` says the reply is complete.
"""

from __future__ import annotations

from functools import partial

from PySide6.QtCore import QObject, Signal

from gptstudio.core.sample_settings import SampleSettings
from gptstudio.core.streaming import UPDATE_INTERVAL_S, stream_job
from gptstudio.gui.jobs import JobRunner


class ReplyStreamer(QObject):
    pieces = Signal(int, object)  # tag (which answering checkpoint), list of TokenPiece
    answered = Signal(int, object)  # tag, the stream's numbers (also after Stop)
    failed = Signal(int, str)  # tag, one readable sentence
    finished = Signal()  # every stream of the reply has ended

    def __init__(self, parent: QObject | None = None, interval: float = UPDATE_INTERVAL_S):
        super().__init__(parent)
        self.interval = interval
        self._runners: list[JobRunner] = []
        self._running: set[int] = set()

    def start(self, samplers: list, prompt, settings: SampleSettings) -> None:
        """One stream per model (tag = its index), same prompt (a text, or a conversation that each
        model gets in its own form), settings and seed."""
        while len(self._runners) < len(samplers):
            self._add_runner(len(self._runners))
        for tag, sampler in enumerate(samplers):
            self._running.add(tag)
            self._runners[tag].start(stream_job, sampler, prompt, settings, self.interval)

    def _add_runner(self, tag: int) -> None:
        runner = JobRunner(self)
        runner.progressed.connect(partial(self.pieces.emit, tag))
        runner.succeeded.connect(partial(self.answered.emit, tag))
        runner.failed.connect(partial(self.failed.emit, tag))
        runner.finished.connect(partial(self._on_finished, tag))
        self._runners.append(runner)

    def _on_finished(self, tag: int) -> None:
        self._running.discard(tag)
        if not self._running:
            self.finished.emit()

    def is_running(self) -> bool:
        return bool(self._running)

    def stop(self) -> None:
        """End every stream before its next token; what came so far is kept and reported."""
        for runner in self._runners:
            if runner.current is not None:
                runner.current.cancel()  # the job's own event: its last pieces and numbers still arrive

    def shutdown(self, timeout_ms: int = 30_000) -> bool:
        self._running.clear()
        return all([runner.shutdown(timeout_ms) for runner in self._runners])
