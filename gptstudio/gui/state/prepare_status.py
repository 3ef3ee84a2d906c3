"""What the Prepare progress bar says: value and text through one preparation, with an ETA."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import PurePath

from gptstudio.core.units import format_bytes, format_duration

STEPS = 1000  # the bar's range: tenths of a percent
MIN_ETA_S = 0.5  # before this much time the rate is noise: no ETA yet


def progress_text(
    done: int, total: int, elapsed: float, phase: str = "", file: str = "", index: int = 0, count: int = 0
) -> str:
    """'Encoding · 12.0 MiB / 30.0 MiB · ETA 0:07' (the ETA assumes the rate so far holds); while documents
    are read, 'Reading file 12 of 200: report.pdf · ETA 1:05'."""
    parts = [phase.capitalize()] if phase else []
    if phase == "reading" and count:
        parts = [f"Reading file {index + 1:,} of {count:,}: {PurePath(file).name}"]
    else:
        parts.append(f"{format_bytes(done)} / {format_bytes(total)}")
    if 0 < done < total and elapsed >= MIN_ETA_S:
        parts.append(f"ETA {format_duration(elapsed * (total - done) / done)}")
    elif done < total:
        parts.append("ETA estimating…")
    return " · ".join(parts)


class PrepareStatus:
    """One preparation seen from the progress bar: start, progress, cancel, and how it ended.

    `value` runs 0..STEPS; `text` is the bar's label. Progress that arrives after Cancel was pressed
    (still queued from the job) leaves "Cancelling…" on show.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self.value, self.text = 0, "Ready"
        self.name = ""
        self.running = self.cancelling = False
        self._started = 0.0

    def start(self, name: str) -> None:
        self.name, self.running, self.cancelling = name, True, False
        self._started = self._clock()
        self.value, self.text = 0, "Starting…"

    def progress(self, done: int, total: int, phase: str = "", file: str = "", index: int = 0, count: int = 0) -> None:
        if not self.running or self.cancelling or total <= 0:
            return
        self.value = min(STEPS, int(STEPS * done / total))
        self.text = progress_text(done, total, self.elapsed(), phase, file, index, count)

    def cancel(self) -> None:
        if self.running:
            self.cancelling, self.text = True, "Cancelling…"

    def succeeded(self, name: str = "") -> None:
        self.name = name or self.name
        self.value, self.text = STEPS, f"Done: {self.name} in {format_duration(self.elapsed())}"
        self.running = self.cancelling = False

    def failed(self) -> None:
        self.value, self.text = 0, "Failed"
        self.running = self.cancelling = False

    def cancelled(self) -> None:
        self.value, self.text = 0, "Cancelled"
        self.running = self.cancelling = False

    def elapsed(self) -> float:
        return self._clock() - self._started
