"""One model, many requests: generations run one at a time, in arrival order, on one thread.

The local server (core/server.py) gets requests concurrently on its event loop, but a model on a CPU
or one GPU is fastest serving them in turn (and a second concurrent generation would only halve the
speed of both). So every generation is a job for a single worker thread: jobs queue in the order they
arrive, and each streams its tokens back to the coroutine that asked for them.

Cancelling: each job has its own `threading.Event`. The sampler checks it before every token, so a
job whose client went away stops within one token, and one still waiting in the queue never starts
generating. The caller passes `gone` (e.g. "has the HTTP client disconnected?"), asked every
`poll` seconds, tokens flowing or not. `close()` cancels every job.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from gptstudio.core.errors import Cancelled

T = TypeVar("T")


class GenerationQueue:
    """Run generation jobs one at a time in a worker thread; stream each job's items to asyncio."""

    def __init__(self):
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gptstudio-generation")
        self._lock = threading.Lock()
        self._cancels: set[threading.Event] = set()
        self.completed = 0  # jobs that ended by themselves (or failed)
        self.cancelled = 0  # jobs stopped because their caller went away (or the queue closed)

    @property
    def waiting(self) -> int:
        """Jobs queued or running."""
        with self._lock:
            return len(self._cancels)

    async def stream(
        self,
        start: Callable[[threading.Event], Iterator[T]],
        gone: Callable[[], Awaitable[bool]] | None = None,
        poll: float = 0.25,
    ) -> AsyncIterator[T]:
        """Queue `start(cancel)`, which returns an iterator of items, and yield the items as the worker
        produces them. Raise Cancelled when `gone()` says nobody wants them any more. Whenever this
        ends early (gone, the iterator closed, the task cancelled) the job is cancelled: it stops
        before its next item, or never starts."""
        loop = asyncio.get_running_loop()
        items: asyncio.Queue = asyncio.Queue()
        cancel = threading.Event()
        with self._lock:
            self._cancels.add(cancel)

        def post(kind: str, value=None) -> None:
            try:
                loop.call_soon_threadsafe(items.put_nowait, (kind, value))
            except RuntimeError:  # the event loop is gone (server shut down): nobody is listening
                cancel.set()

        def work() -> None:
            stopped = False
            try:
                if cancel.is_set():
                    raise Cancelled()
                for item in start(cancel):
                    post("item", item)
                    if cancel.is_set():
                        raise Cancelled()
            except Cancelled as e:
                stopped = True
                post("error", e)
            except BaseException as e:  # handed to the coroutine, which re-raises it
                post("error", e)
            else:
                post("end")
            finally:
                with self._lock:
                    self._cancels.discard(cancel)
                    self.cancelled += stopped
                    self.completed += not stopped

        try:
            self._executor.submit(work)
        except RuntimeError:  # closed
            with self._lock:
                self._cancels.discard(cancel)
            raise Cancelled("The server is shutting down.") from None
        checked = time.monotonic()
        try:
            while True:
                try:
                    kind, value = await asyncio.wait_for(items.get(), poll) if gone else await items.get()
                except asyncio.TimeoutError:
                    kind = "none"
                if gone is not None and time.monotonic() - checked >= poll:
                    checked = time.monotonic()
                    if await gone():
                        raise Cancelled("The client went away.")
                if kind == "none":
                    continue
                if kind == "end":
                    return
                if kind == "error":
                    raise value
                yield value
        finally:
            cancel.set()  # a no-op if the job ended by itself

    def close(self) -> None:
        """Cancel every queued and running job: the running one stops after its current token, the
        queued ones end at once (each still tells its coroutine); then the worker thread ends."""
        with self._lock:
            for cancel in self._cancels:
                cancel.set()
        self._executor.shutdown(wait=False)
