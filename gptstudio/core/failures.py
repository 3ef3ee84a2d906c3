"""Exceptions turned into one plain sentence: the only place that recognises out-of-memory errors.

Used by the trainer (a run's Finished reason), the Config tab's speed measurement, the GUI's job
runner and the CLI, so an out-of-memory error reads the same everywhere. Imports no torch: CUDA's
OutOfMemoryError is recognised by its name, so the CLI stays fast to start.
"""

from __future__ import annotations

OOM_ADVICE = "lower batch_size or block_size (or use a smaller model)"


def is_out_of_memory(exc: BaseException) -> bool:
    """MemoryError (host RAM), torch's OutOfMemoryError (CUDA), or a backend's 'out of memory' error
    (MPS and some CUDA paths raise a plain RuntimeError)."""
    if isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError":
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


def out_of_memory_message(where: str = "", then: str = "") -> str:
    """'Out of memory[ on cuda]: lower batch_size ...[; then]'."""
    place = f" on {where}" if where else ""
    return f"Out of memory{place}: {OOM_ADVICE}" + (f"; {then}" if then else ".")


def readable_failure(exc: BaseException, then: str = "") -> str:
    """One sentence for any exception: a GPTStudioError's own message, out of memory with the
    advice, else the exception's type and first line (a bug: the caller logs the traceback)."""
    from gptstudio.core.errors import GPTStudioError

    if isinstance(exc, GPTStudioError):
        return str(exc)
    if is_out_of_memory(exc):
        return out_of_memory_message(then=then)
    text = str(exc).splitlines()[0][:300] if str(exc) else ""
    name = type(exc).__name__
    return f"Unexpected error: {name}: {text}" if text else f"Unexpected error: {name}."
