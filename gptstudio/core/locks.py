"""One writer at a time per run and per dataset, across processes (GUI, CLI, torchrun).

A lock is a small JSON file `<folder>/.<name>.lock` created with O_EXCL (atomic on every OS) holding the
holder's pid, host and process start time. A second writer is refused with a message naming the
holder. A lock whose process is gone (same host, pid dead or reused) is stale and taken over.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

import psutil

from gptstudio.core.errors import WorkspaceError


class LockedError(WorkspaceError):
    """Someone else is writing this run or dataset."""


def _process_start(pid: int) -> float | None:
    try:
        return psutil.Process(pid).create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied, ValueError):
        return None


def _me() -> dict:
    pid = os.getpid()
    return {"pid": pid, "host": socket.gethostname(), "started": _process_start(pid), "time": time.time()}


def _is_stale(holder: dict | None, lock_path: Path) -> bool:
    if not isinstance(holder, dict) or "pid" not in holder:
        # unreadable: a writer died between creating and filling it, or it is being written right now
        try:
            return time.time() - lock_path.stat().st_mtime > 5.0
        except FileNotFoundError:
            return True
    if holder.get("host") != socket.gethostname():
        return False  # cannot see other machines' processes: trust the lock
    start = _process_start(int(holder["pid"]))
    if start is None:
        return True
    recorded = holder.get("started")
    return recorded is not None and abs(start - recorded) > 1.0  # pid reused by another process


def read_holder(lock_path: Path) -> dict | None:
    try:
        return json.loads(lock_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


class FileLock:
    """`with FileLock(folder, name, what="run"):` — raises LockedError if held by a live process."""

    def __init__(self, folder: str | os.PathLike, name: str, what: str = "run"):
        self.path = Path(folder) / f".{name}.lock"
        self.name, self.what = name, what
        self.held = False

    def acquire(self) -> FileLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _attempt in range(3):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = read_holder(self.path)
                if _is_stale(holder, self.path):
                    try:
                        self.path.unlink()  # take over a lock left by a dead process
                    except FileNotFoundError:
                        pass
                    continue
                raise LockedError(self._busy_message(holder)) from None
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(_me(), f)
            self.held = True
            return self
        raise LockedError(self._busy_message(read_holder(self.path)))

    def _busy_message(self, holder: dict | None) -> str:
        who = f"process {holder.get('pid')} on {holder.get('host')}" if isinstance(holder, dict) else "another process"
        return (
            f"The {self.what} '{self.name}' is in use by {who}. Wait for it to finish or stop it first "
            f"(if that process is gone for good, delete {self.path})."
        )

    def release(self) -> None:
        if self.held:
            holder = read_holder(self.path)
            if isinstance(holder, dict) and holder.get("pid") == os.getpid():
                try:
                    self.path.unlink()
                except FileNotFoundError:
                    pass
            self.held = False

    def __enter__(self) -> FileLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def run_lock(runs_dir: str | os.PathLike, run: str) -> FileLock:
    return FileLock(runs_dir, run, "run")


def dataset_lock(datasets_dir: str | os.PathLike, name: str) -> FileLock:
    return FileLock(datasets_dir, name, "dataset")
