"""The one way the GUI runs background work: a `JobRunner` per panel (after Orange3's ConcurrentMixin).

A job is a plain engine function, called in a thread of its own as

    fn(*args, report=<callback>, cancel=<threading.Event>, **kwargs)

and the runner turns what it does into signals delivered on the GUI thread:

    runner = JobRunner(self)                 # a child of the panel that owns it
    runner.progressed.connect(self.on_progress)
    runner.succeeded.connect(self.on_result)
    runner.failed.connect(self.show_error)  # one readable sentence
    runner.start(prepare_dataset, files, name, home=home)

- Starting a job cancels the runner's previous one: its cancel event is set and nothing it reports
  or returns afterwards reaches the signals. So a panel never sees a stale result.
- `finished` follows every job that was not superseded, after exactly one of
  `succeeded` / `failed` / `cancelled`.
- `shutdown(timeout_ms)` cancels and joins every thread the runner started (superseded ones too);
  a panel calls it when it closes. Threads are never destroyed while running.
- A caller may pass its own `report=` (e.g. a buffer that coalesces training events); the runner then
  leaves `progressed` silent for that job.

Threads have no Qt parent and the worker objects are released in the GUI thread once their thread has
finished: deleting a Python-made QObject inside its own thread (deleteLater) can deadlock, because
~QObject holds Qt's connection lock while waiting for the GIL that the GUI thread holds in connect().
"""

from __future__ import annotations

import itertools
import threading
import time

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from gptstudio.core.errors import Cancelled, GPTStudioError
from gptstudio.core.failures import readable_failure

_job_ids = itertools.count(1)


class _Worker(QObject):
    """Runs one job in its thread; every signal carries the job id."""

    progressed = Signal(int, object)
    succeeded = Signal(int, object)
    failed = Signal(int, str)
    cancelled = Signal(int)
    done = Signal(int)  # always, last

    def __init__(self, job_id: int, fn, args, kwargs):
        super().__init__()
        self.job_id, self._fn, self._args, self._kwargs = job_id, fn, args, kwargs
        self.cancel_event = threading.Event()

    @Slot()
    def run(self) -> None:
        job = self.job_id
        kwargs = dict(self._kwargs)
        kwargs.setdefault("report", lambda obj: self.progressed.emit(job, obj))
        try:
            result = self._fn(*self._args, cancel=self.cancel_event, **kwargs)
        except Cancelled:
            self.cancelled.emit(job)
        except BaseException as e:  # the app lives on whatever a job raises
            if not isinstance(e, (GPTStudioError, MemoryError)):
                from gptstudio.gui.errors import log_exception

                log_exception(type(e), e, e.__traceback__)
            self.failed.emit(job, readable_failure(e))
        else:
            self.succeeded.emit(job, result)
        finally:
            self.done.emit(job)


class Job:
    """A started job: its id, its cancel event, and its thread."""

    def __init__(self, worker: _Worker, thread: QThread):
        self.id, self.worker, self.thread = worker.job_id, worker, thread

    def cancel(self) -> None:
        self.worker.cancel_event.set()

    @property
    def cancel_event(self) -> threading.Event:
        return self.worker.cancel_event

    def is_running(self) -> bool:
        return self.thread.isRunning()


class JobRunner(QObject):
    """Runs one job at a time for its owner; see the module docstring."""

    progressed = Signal(object)  # whatever the job reports
    succeeded = Signal(object)  # the job's return value
    failed = Signal(str)  # one readable sentence
    cancelled = Signal()
    finished = Signal()  # after each of the above, for the current job

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._current: Job | None = None
        self._jobs: dict[int, Job] = {}  # every job whose thread has not finished yet

    # ----- the panel's side

    def start(self, fn, *args, **kwargs) -> Job:
        """Cancel the previous job (if any) and run `fn(*args, report=, cancel=, **kwargs)`."""
        self.cancel()
        worker = _Worker(next(_job_ids), fn, args, kwargs)
        thread = QThread()
        thread.setObjectName(f"job-{worker.job_id}-{getattr(fn, '__name__', 'job')}")
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        # Direct: the thread quits from inside itself, so a GUI thread blocked in wait() sees it end
        worker.done.connect(thread.quit, Qt.ConnectionType.DirectConnection)
        worker.progressed.connect(self._on_progressed)
        worker.succeeded.connect(self._on_succeeded)
        worker.failed.connect(self._on_failed)
        worker.cancelled.connect(self._on_cancelled)
        worker.done.connect(self._on_done)
        job = Job(worker, thread)
        thread.finished.connect(lambda job_id=job.id: self._release(job_id))
        self._jobs[job.id] = job
        self._current = job
        thread.start()
        return job

    def cancel(self) -> None:
        """Ask the current job to stop; its late signals are dropped."""
        if self._current is not None:
            self._current.cancel()
            self._current = None

    def is_running(self) -> bool:
        """True while the current job (not a superseded one) has not finished."""
        return self._current is not None

    @property
    def current(self) -> Job | None:
        return self._current

    def shutdown(self, timeout_ms: int = 30_000) -> bool:
        """Cancel everything and wait for every thread; True when all have stopped in time."""
        self.cancel()
        deadline = time.monotonic() + max(0, timeout_ms) / 1000
        for job in list(self._jobs.values()):
            job.cancel()
            left_ms = max(0, int((deadline - time.monotonic()) * 1000))
            if job.thread.wait(left_ms):
                self._release(job.id)
        return not self._jobs

    # ----- signals from the jobs' threads (queued to the GUI thread)

    def _is_current(self, job_id: int) -> bool:
        return self._current is not None and self._current.id == job_id

    @Slot(int, object)
    def _on_progressed(self, job_id: int, obj) -> None:
        if self._is_current(job_id):
            self.progressed.emit(obj)

    @Slot(int, object)
    def _on_succeeded(self, job_id: int, result) -> None:
        if self._is_current(job_id):
            self.succeeded.emit(result)

    @Slot(int, str)
    def _on_failed(self, job_id: int, message: str) -> None:
        if self._is_current(job_id):
            self.failed.emit(message)

    @Slot(int)
    def _on_cancelled(self, job_id: int) -> None:
        if self._is_current(job_id):
            self.cancelled.emit()

    @Slot(int)
    def _on_done(self, job_id: int) -> None:
        if self._is_current(job_id):
            self._current = None
            self.finished.emit()

    def _release(self, job_id: int) -> None:
        """Drop the last references to a finished job's worker and thread, in the GUI thread."""
        # the thread is Python-owned: it is destroyed with the last reference (a Job handle a caller
        # kept stays usable), never by deleteLater while someone still holds it
        self._jobs.pop(job_id, None)
