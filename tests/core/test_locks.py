"""Workspace locks: a second writer is refused with the holder named; stale locks are taken over."""

import json
import os
import socket
import subprocess
import sys

import pytest

from gptstudio.core.locks import FileLock, LockedError, dataset_lock, run_lock


def test_second_writer_refused_naming_holder(tmp_path):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"""
import sys, time
from gptstudio.core.locks import run_lock
with run_lock({str(tmp_path)!r}, "r1"):
    print("locked", flush=True)
    sys.stdin.readline()
""",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(LockedError) as e:
            run_lock(tmp_path, "r1").acquire()
        msg = str(e.value)
        assert str(holder.pid) in msg and socket.gethostname() in msg and "r1" in msg
    finally:
        holder.communicate("\n", timeout=30)
    # released when the holder is done
    with run_lock(tmp_path, "r1"):
        pass
    assert not (tmp_path / ".r1.lock").exists()


def test_stale_lock_of_dead_process_is_taken_over(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    (tmp_path / ".d.lock").write_text(json.dumps({"pid": pid, "host": socket.gethostname(), "started": 1.0}))
    with dataset_lock(tmp_path, "d") as lock:
        assert json.loads(lock.path.read_text())["pid"] != pid


def test_lock_from_other_host_is_respected(tmp_path):
    (tmp_path / ".r.lock").write_text(json.dumps({"pid": 1, "host": "another-machine", "started": 1.0}))
    with pytest.raises(LockedError, match="another-machine"):
        FileLock(tmp_path, "r").acquire()


def test_same_process_cannot_take_it_twice(tmp_path):
    with run_lock(tmp_path, "x"), pytest.raises(LockedError):
        run_lock(tmp_path, "x").acquire()


def test_zombie_process_counts_as_dead():
    """A killed trainer that its parent has not reaped yet must not keep its run 'running'."""
    import time

    from gptstudio.core.runs import is_running_elsewhere

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.time() + 30
    import psutil

    while psutil.Process(child.pid).status() != psutil.STATUS_ZOMBIE and time.time() < deadline:
        time.sleep(0.05)
    assert not is_running_elsewhere({"status": "running", "pid": child.pid})
    child.wait()
    assert is_running_elsewhere({"status": "running", "pid": os.getppid()})
