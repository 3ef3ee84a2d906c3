"""Run an engine job in a QThread and turn its callbacks into Qt signals.

The job is a plain function (no Qt) called as `fn(*args, report=..., cancel=..., **kwargs)`:
`report(obj)` is its progress/event callback, `cancel` a threading.Event it polls. Signals are
emitted from the worker thread and delivered queued to the GUI thread.
"""

from __future__ import annotations

import threading

from PySide6.QtCore import QObject, QThread, Signal, Slot

from gptstudio.core.errors import GPTStudioError


class JobWorker(QObject):
    progressed = Signal(object)  # whatever the job reports (events, (done, total) tuples, ...)
    succeeded = Signal(object)  # the job's return value
    failed = Signal(str)  # a readable message
    cancelled = Signal()
    finished = Signal()  # always, last

    def __init__(self, fn, *args, **kwargs):
        super().__init__()
        self._fn, self._args, self._kwargs = fn, args, kwargs
        self.cancel_event = threading.Event()

    def cancel(self) -> None:
        self.cancel_event.set()  # thread-safe: the job polls it

    @Slot()
    def run(self) -> None:
        from gptstudio.core.errors import Cancelled

        try:
            result = self._fn(*self._args, report=self.progressed.emit, cancel=self.cancel_event, **self._kwargs)
        except Cancelled:
            self.cancelled.emit()
        except GPTStudioError as e:
            self.failed.emit(str(e))
        except MemoryError:
            self.failed.emit("Out of memory: lower batch_size or block_size, or close other programs.")
        except Exception as e:  # unexpected: show it readably, keep the app alive, log the trace
            from gptstudio.gui.errors import log_exception

            log_exception(type(e), e, e.__traceback__)
            self.failed.emit(f"Unexpected error: {type(e).__name__}: {e}")
        else:
            self.succeeded.emit(result)
        finally:
            self.finished.emit()


def start_worker(worker: JobWorker, owner: QObject) -> QThread:
    """Move the worker to a new QThread kept by `owner`, start it; the thread quits when done.

    The thread has no Qt parent: deleting the owner must neither destroy a running thread (Qt aborts)
    nor delete a finished one before its queued `finished` handlers ran (PySide then crashes calling
    the lambda below). `owner._live_jobs` keeps it alive until it has finished.
    """
    thread = QThread()
    worker.moveToThread(thread)
    thread.started.connect(worker.run)
    worker.finished.connect(thread.quit)
    # No worker.deleteLater: it would destroy the Python-made worker inside its thread, where
    # ~QObject holds Qt's connection lock while waiting for the GIL, and the GUI thread holds the GIL
    # while waiting for that lock in connect() (a deadlock seen in the suite). Dropping the last
    # reference below, in the GUI thread once the thread has finished, frees it safely.
    thread.finished.connect(thread.deleteLater)
    # keep Python references alive while the thread runs
    owner._live_jobs = getattr(owner, "_live_jobs", set())
    owner._live_jobs.add((worker, thread))
    thread.finished.connect(lambda: owner._live_jobs.discard((worker, thread)))
    thread.start()
    return thread
