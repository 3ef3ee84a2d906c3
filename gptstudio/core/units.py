"""Numbers for people: the one place durations, sizes, counts and rates are formatted.

Used by the CLI, the GUI and the benchmarks alike, so the same quantity reads the same everywhere.
No third-party imports: the CLI loads this at start.
"""

from __future__ import annotations

import math


def format_duration(seconds: float) -> str:
    """A clock reading for elapsed times and ETAs: '0:07', '12:34', '1:02:05' ('?' when unknown)."""
    if not math.isfinite(seconds) or seconds < 0:
        return "?"
    s = round(seconds)
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def format_time(seconds: float) -> str:
    """An estimate in words at the scale that matters: '250 ms', '4.2 s', '2 min', '3 h 05 min'."""
    if not math.isfinite(seconds) or seconds < 0:
        return "?"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms" if seconds >= 0.001 else f"{seconds * 1e6:.0f} µs"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes = seconds / 60
    if minutes < 60:
        return f"{minutes:.0f} min"
    hours = minutes / 60
    if hours < 48:
        return f"{int(hours)} h {int(minutes % 60):02d} min"
    return f"{hours / 24:.1f} days"


def format_bytes(n: float) -> str:
    """Binary units: '512 B', '1.5 KiB', '3.0 GiB'."""
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} B"


def format_count(n: float, billion: str = "B", sep: str = " ") -> str:
    """10_646_784 -> '10.65 M' (as nanoGPT prints parameter counts); billion='G' for FLOPs."""
    for unit, size in (("T", 1e12), (billion, 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.2f}{sep}{unit}"
    return f"{n:.0f}"


def format_quantity(n: int, noun: str) -> str:
    """A count with its noun, plural unless one: '1 file', '12,345 characters'."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def format_flops(n: float) -> str:
    for unit, size in (("EFLOP", 1e18), ("PFLOP", 1e15), ("TFLOP", 1e12), ("GFLOP", 1e9), ("MFLOP", 1e6)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} FLOP"


def format_rate(tokens_per_sec: float) -> str:
    if tokens_per_sec >= 1e6:
        return f"{tokens_per_sec / 1e6:.2f}M tokens/s"
    if tokens_per_sec >= 1e3:
        return f"{tokens_per_sec / 1e3:.1f}k tokens/s"
    return f"{tokens_per_sec:.0f} tokens/s"
