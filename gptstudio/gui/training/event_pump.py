"""EventPump: the thread-safe buffer between a training job and the GUI thread.

The job's `report` is `pump.push`: a lock and a deque append, so the training thread never waits
on the GUI (and a GUI thread blocked in a join cannot deadlock it). The GUI thread drains the
buffer on a 100 ms timer and turns what it holds into signals, so the GUI handles a run's events
at most ~10 times a second however fast the steps come.
"""

from __future__ import annotations

import collections
import threading

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from gptstudio.core.events import CheckpointSaved, Eval, Event, Finished, Message, RunStarted, SettingsProblem, Step

DRAIN_INTERVAL_MS = 100  # <= 10 GUI updates per second


class EventPump(QObject):
    """Consecutive Step events of one drain arrive together in `sig_steps(list)`; `sig_drained`
    follows every drain that delivered something (the plots redraw once per drain); `sig_finished`
    comes once per run, last. After it, only log lines still pass (e.g. torchrun's exit messages)."""

    sig_started = Signal(object)  # RunStarted
    sig_steps = Signal(object)  # list[Step]
    sig_eval = Signal(object)  # Eval
    sig_checkpoint = Signal(object)  # CheckpointSaved
    sig_problem = Signal(object)  # SettingsProblem: why the run could not start
    sig_message = Signal(str, str)  # level (info|warning|error), text
    sig_finished = Signal(object)  # Finished
    sig_drained = Signal()

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._lock = threading.Lock()
        self._queue: collections.deque = collections.deque()
        self._finished = False
        self._timer = QTimer(self)
        self._timer.setInterval(DRAIN_INTERVAL_MS)
        self._timer.timeout.connect(self.drain)

    def start(self) -> None:
        """A new run: forget what is left of the previous one, start draining."""
        with self._lock:
            self._queue.clear()
        self._finished = False
        self._timer.start()

    def push(self, event: Event) -> None:
        """Any thread: queue an event for the next drain."""
        with self._lock:
            self._queue.append(event)

    def stop(self) -> None:
        """The run's job has ended: deliver what is left, then stop polling."""
        self.drain()
        self._timer.stop()

    @Slot()
    def drain(self) -> None:
        with self._lock:
            events = list(self._queue)
            self._queue.clear()
        if self._finished:
            events = [ev for ev in events if isinstance(ev, Message)]
        if not events:
            return
        steps: list[Step] = []
        final, after = None, []  # the run's Finished, and the log lines that came after it
        for ev in events:
            if final is not None:
                after += [ev] if isinstance(ev, Message) else []
            elif isinstance(ev, Step):
                steps.append(ev)
            else:
                if steps:
                    self.sig_steps.emit(steps)
                    steps = []
                if isinstance(ev, Finished):
                    final = ev
                else:
                    self._emit(ev)
        if steps:
            self.sig_steps.emit(steps)
        self.sig_drained.emit()
        if final is not None:
            self._finished = True
            self.sig_finished.emit(final)
        for ev in after:
            self._emit(ev)

    def _emit(self, ev: Event) -> None:
        if isinstance(ev, RunStarted):
            self.sig_started.emit(ev)
        elif isinstance(ev, Eval):
            self.sig_eval.emit(ev)
        elif isinstance(ev, CheckpointSaved):
            self.sig_checkpoint.emit(ev)
        elif isinstance(ev, SettingsProblem):
            self.sig_problem.emit(ev)
        elif isinstance(ev, Message):
            self.sig_message.emit(ev.level, ev.text)
