"""Atomic file writes: write to a temporary file beside the target, fsync, then os.replace.

A crash or a full disk at any moment leaves either the old file or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path


def _plain_file_mode() -> int:
    mask = os.umask(0)  # read once, at import, before any thread of ours creates files
    os.umask(mask)
    return 0o666 & ~mask


# the permissions open() gives a new file; temporary files are private (0600) until given this mode
PLAIN_FILE_MODE = _plain_file_mode()


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike, mode: int | None = None):
    """Yield a temporary path in the target's folder; on success it replaces the target.

    mode: the permissions the file gets (e.g. PLAIN_FILE_MODE for a file other programs or users
    read, such as an export); None keeps the temporary file's private 0600."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        if mode is not None:
            os.chmod(tmp, mode)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_bytes_atomic(target: str | os.PathLike, data: bytes, mode: int | None = None) -> None:
    with atomic_path(target, mode) as tmp:
        Path(tmp).write_bytes(data)


def write_text_atomic(target: str | os.PathLike, text: str, mode: int | None = None) -> None:
    write_bytes_atomic(target, text.encode("utf-8"), mode)


def write_json_atomic(target: str | os.PathLike, obj) -> None:
    write_text_atomic(target, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def remove_stale_temps(folder: str | os.PathLike) -> int:
    """Delete temporary files that atomic writes of a killed process left in `folder`.

    Only call this while holding the folder's lock: a live writer's temp file looks the same.
    """
    removed = 0
    for tmp in Path(folder).glob(".*.tmp"):
        with contextlib.suppress(OSError):
            tmp.unlink()
            removed += 1
    return removed


def describe_write_error(e: BaseException, path: str | os.PathLike) -> str:
    """One readable sentence for a failed write (full disk, read-only folder, ...)."""
    import errno

    code = getattr(e, "errno", None)
    if code in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)) or "No space left" in str(e):
        return (
            f"The disk is full: {path} could not be written. Free some space and try again; the previous file was kept."
        )
    if code in (errno.EROFS, errno.EACCES, errno.EPERM):
        return (
            f"{path} cannot be written ({getattr(e, 'strerror', None) or e}): the folder is read-only. "
            "Choose a writable workspace; the previous file was kept."
        )
    return f"{path} could not be written ({getattr(e, 'strerror', None) or e}); the previous file was kept."
