"""The curves of a training run, without Qt: what the Training tab plots and the CLI's loss line shows.

Read top to bottom:
  LossSmoother   the one loss smoothing: the CLI's progress line, the GUI's curves and the runs
                 overlays all use it, so they show the same smoothed loss at any log_interval
  Series         x/y points in growing arrays, with a min/max summary for drawing (`Series.view`):
                 the points handed to a plot are bounded by its width, not by the run's length
  RunCurves      one run's steps (loss, smoothed loss, lr), evals, checkpoints and best point,
                 built from the engine's events (live, or read back from metrics.jsonl)
  steady_range   the range an axis shows for growing data: it moves in round steps, so a live
                 plot's axes are laid out again a few times per run, not at every redraw
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from gptstudio.core.events import CheckpointSaved, Eval, Event, RunStarted, Step, event_from_dict

SMOOTHING = 0.9  # the smoothed loss keeps 90% of its value per ITERATION (~10 iterations of memory)


class LossSmoother:
    """Bias-corrected exponential moving average of the training loss, decaying per iteration.

    Steps arrive every `log_interval` iterations; the decay is applied once per iteration in
    between (beta ** gap), as if the loss had stayed at the logged value meanwhile. Decaying per
    logged point instead would make the curve lag 10x further behind at log_interval=10. The
    running weight corrects the start (the first values are not pulled towards 0)."""

    def __init__(self, beta: float = SMOOTHING):
        self.beta = beta
        self.last_iter: int | None = None
        self.total = 0.0  # the weighted sum of the losses so far
        self.weight = 0.0  # the sum of the weights: total / weight is the smoothed loss

    def add(self, it: int, loss: float) -> float:
        """Take the loss logged at iteration `it`; return the smoothed loss there."""
        gap = 1 if self.last_iter is None else max(1, it - self.last_iter)
        decay = self.beta**gap
        self.total = decay * self.total + (1 - decay) * loss
        self.weight = decay * self.weight + (1 - decay)
        self.last_iter = it
        return self.total / self.weight

    @property
    def value(self) -> float | None:
        return self.total / self.weight if self.weight else None

    def restore(self, last_iter: int | None, value: float, weight: float) -> None:
        """Continue from an earlier state (a resumed run keeps its curve up to the checkpoint)."""
        self.last_iter, self.total, self.weight = last_iter, value * weight, weight


class Series:
    """x/y points, x non-decreasing, in arrays that double when full.

    Next to the points it keeps a pyramid of min/max summaries: level k holds, for each block of
    2**k consecutive points, the lowest and the highest point. `view` picks the level whose blocks
    fit the plot's width, so drawing a million-point run costs the same as drawing a thousand, and
    every spike still shows (the envelope of the data, as pyqtgraph's 'peak' downsampling draws it).
    """

    def __init__(self, capacity: int = 256):
        self._x, self._y = np.empty(capacity), np.empty(capacity)
        self.n = 0
        self.version = 0  # changes whenever the points do (a plot redraws only what changed)
        # levels[k - 1] summarises blocks of 2**k points: arrays lo_x, lo_y, hi_x, hi_y and a count
        self._levels: list[_Level] = []

    @property
    def x(self) -> np.ndarray:
        return self._x[: self.n]

    @property
    def y(self) -> np.ndarray:
        return self._y[: self.n]

    def __len__(self) -> int:
        return self.n

    def extend(self, xs, ys) -> None:
        xs, ys = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
        need = self.n + len(xs)
        if need > len(self._x):
            size = max(need, 2 * len(self._x))
            self._x, self._y = np.resize(self._x, size), np.resize(self._y, size)
        self._x[self.n : need], self._y[self.n : need] = xs, ys
        self.n = need
        self.version += 1
        self._summarise()

    def keep_first(self, n: int) -> None:
        """Drop every point after the first n (block summaries are cut the same way)."""
        self.n = max(0, min(n, self.n))
        self.version += 1
        for k, level in enumerate(self._levels, start=1):
            level.count = self.n >> k

    def keep_until(self, x_max: float, inclusive: bool = True) -> None:
        """Drop the points beyond x_max (or from x_max on, when not inclusive)."""
        self.keep_first(int(np.searchsorted(self.x, x_max, side="right" if inclusive else "left")))

    def clear(self) -> None:
        self.keep_first(0)

    def view(self, x_lo: float | None = None, x_hi: float | None = None, max_points: int = 4000):
        """Points to draw for the x range [x_lo, x_hi] (None: the whole series): at most about
        max_points of them (exact points when they fit, else the min/max envelope), plus one point
        either side of the range so lines reach the plot's edges. Returns new arrays (x, y)."""
        n = self.n
        i0 = 0 if x_lo is None else max(0, int(np.searchsorted(self.x, x_lo, side="left")) - 1)
        i1 = n if x_hi is None else min(n, int(np.searchsorted(self.x, x_hi, side="right")) + 1)
        if i1 - i0 <= max_points:
            return self._x[i0:i1].copy(), self._y[i0:i1].copy()
        # the coarsest level needed: 2 points per block, at most max_points in all
        top = min(len(self._levels), math.ceil(math.log2(2 * (i1 - i0) / max(2, max_points))))
        # the first and last points as they are, so the line starts and ends where the data does;
        # whole blocks in between (finer ones at the edges, where the coarse blocks do not fit)
        pieces = [(self._x[i0 : i0 + 1], self._y[i0 : i0 + 1])]
        self._cover(i0 + 1, i1 - 1, top, pieces)
        pieces.append((self._x[i1 - 1 : i1], self._y[i1 - 1 : i1]))
        return np.concatenate([x for x, _ in pieces]), np.concatenate([y for _, y in pieces])

    def _cover(self, a: int, b: int, k: int, pieces: list) -> None:
        """Append, in x order, the points that summarise points a..b-1 with blocks of 2**k or finer."""
        if b <= a:
            return
        if k == 0:
            pieces.append((self._x[a:b], self._y[a:b]))
            return
        level, size = self._levels[k - 1], 1 << k
        j0, j1 = -(-a // size), min(b // size, level.count)
        if j1 <= j0:
            self._cover(a, b, k - 1, pieces)
            return
        self._cover(a, j0 * size, k - 1, pieces)
        pieces.append(level.points(j0, j1))
        self._cover(j1 * size, b, k - 1, pieces)

    def _summarise(self) -> None:
        """Bring every level up to date with the points (only the new blocks are computed)."""
        lo_x = hi_x = self._x
        lo_y = hi_y = self._y
        count, k = self.n, 0
        while count >= 2:
            if k == len(self._levels):
                self._levels.append(_Level())
            level = self._levels[k]
            new_from, new_to = level.count, count // 2
            if new_to > new_from:
                # pairs of blocks of the level below become blocks of this one
                a, b = slice(2 * new_from, 2 * new_to, 2), slice(2 * new_from + 1, 2 * new_to, 2)
                lower = lo_y[b] < lo_y[a]
                higher = hi_y[b] > hi_y[a]
                level.put(
                    new_from,
                    np.where(lower, lo_x[b], lo_x[a]),
                    np.where(lower, lo_y[b], lo_y[a]),
                    np.where(higher, hi_x[b], hi_x[a]),
                    np.where(higher, hi_y[b], hi_y[a]),
                )
            lo_x, lo_y, hi_x, hi_y = level.lo_x, level.lo_y, level.hi_x, level.hi_y
            count, k = level.count, k + 1


class _Level:
    """One level of Series' pyramid: per block, its lowest point (lo_x, lo_y) and highest (hi_x, hi_y)."""

    def __init__(self):
        self.lo_x, self.lo_y, self.hi_x, self.hi_y = (np.empty(0) for _ in range(4))
        self.count = 0

    def put(self, at: int, lo_x, lo_y, hi_x, hi_y) -> None:
        end = at + len(lo_x)
        if end > len(self.lo_x):
            size = max(end, 2 * len(self.lo_x), 64)
            self.lo_x, self.lo_y, self.hi_x, self.hi_y = (
                np.resize(a, size) for a in (self.lo_x, self.lo_y, self.hi_x, self.hi_y)
            )
        self.lo_x[at:end], self.lo_y[at:end], self.hi_x[at:end], self.hi_y[at:end] = lo_x, lo_y, hi_x, hi_y
        self.count = end

    def points(self, j0: int, j1: int) -> tuple[np.ndarray, np.ndarray]:
        """Blocks j0..j1-1 as two points each, in x order."""
        lo_x, lo_y, hi_x, hi_y = (a[j0:j1] for a in (self.lo_x, self.lo_y, self.hi_x, self.hi_y))
        lo_first = lo_x <= hi_x
        x = np.column_stack([np.where(lo_first, lo_x, hi_x), np.where(lo_first, hi_x, lo_x)]).ravel()
        y = np.column_stack([np.where(lo_first, lo_y, hi_y), np.where(lo_first, hi_y, lo_y)]).ravel()
        return x, y


KEEP_FILL = 0.7  # steady_range keeps the range shown while the data fill at least this share of it
RANGE_MARGIN = 0.02  # ...and leaves this share of the data's span free at the edges


def steady_range(lo: float, hi: float, shown: tuple[float, float] | None = None) -> tuple[float, float]:
    """The range an axis should show for data spanning [lo, hi], given the range it shows now.

    The range shown is kept while it holds the data and the data fill most of it; otherwise the
    data's range (with a small margin) is rounded outwards to round steps of about an eighth of it.
    So a growing run changes its axes every ~10% of growth instead of at every point (each change
    costs pyqtgraph a new layout of the ticks and a second paint), and the data never touches the
    edges. A range starting at 0 stays at 0."""
    span = hi - lo
    if shown is not None:
        inside = (shown[0] < lo or shown[0] == lo == 0) and hi < shown[1]
        if inside and span >= KEEP_FILL * (shown[1] - shown[0]):
            return shown
    if span <= 0:
        span = max(abs(hi), 1.0) * 0.1
    margin = RANGE_MARGIN * span
    step = _round_step(span / 8)
    start = lo if lo == 0 else math.floor((lo - margin) / step) * step
    return start, math.ceil((hi + margin) / step) * step


def _round_step(x: float) -> float:
    """The smallest of 1, 2, 5, 10, 20, 50, ... (times a power of ten) at least x."""
    power = 10 ** math.floor(math.log10(x))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= x)


EVAL_METRICS = ("train_loss", "val_loss")  # Eval fields drawn as points, one Series each
UNITS = ("loss", "bpb")  # a loss in nats per token, or in bits per byte of text


class RunCurves:
    """Everything plotted for one run: the logged loss, its smoothed line and the lr per iteration,
    the evals, the checkpoints and the best one. Fed with the engine's events in order."""

    def __init__(self, smoothing: float = SMOOTHING):
        self.loss, self.smooth, self.lr = Series(), Series(), Series()
        self.evals = {name: Series(64) for name in EVAL_METRICS}
        # bits per byte per nat per token of each split (a constant of the run's dataset: tokens per byte
        # / ln 2), read off the evals; a run logged before bits per byte existed has none
        self.bpb_factor: dict[str, float] = {}
        self.checkpoints = Series(64)  # x: iteration, y: val loss (nan when unknown)
        self.best: tuple[float, float] | None = None  # (iteration, val loss) of the best eval
        self._smoother = LossSmoother(smoothing)
        self._weights = Series()  # the smoother's weight at each point, to restart it after a resume

    # ----- reading

    @property
    def train_eval(self) -> Series:
        return self.evals["train_loss"]

    @property
    def val_eval(self) -> Series:
        return self.evals["val_loss"]

    def unit_factor(self, split: str, unit: str) -> float | None:
        """What turns a loss on `split` ("train" or "val") into `unit`: 1 for "loss", the split's bits per
        byte per nat for "bpb" (None when this run's evals did not measure it)."""
        return 1.0 if unit == "loss" else self.bpb_factor.get(split)

    @property
    def best_bpb(self) -> float | None:
        """The best val loss in bits per byte (None when unknown)."""
        factor = self.bpb_factor.get("val")
        return self.best[1] * factor if self.best is not None and factor is not None else None

    @property
    def smoothed_loss(self) -> float | None:
        """The smoothed loss at the last logged step (what the CLI's progress line shows)."""
        return float(self.smooth.y[-1]) if self.smooth.n else None

    @property
    def last_iter(self) -> int | None:
        return int(self.loss.x[-1]) if self.loss.n else None

    # ----- feeding

    def add(self, event: Event) -> None:
        """One event of any type (those that draw nothing are ignored)."""
        if isinstance(event, Step):
            self.add_steps([event])
        elif isinstance(event, Eval):
            self.add_eval(event)
        elif isinstance(event, CheckpointSaved):
            self.add_checkpoint(event)
        elif isinstance(event, RunStarted):
            self.restart_at(event.start_iter)

    def add_events(self, events: Iterable[Event]) -> None:
        """Many events in order; consecutive steps are added in one go."""
        steps: list[Step] = []
        for event in events:
            if isinstance(event, Step):
                steps.append(event)
                continue
            if steps:
                self.add_steps(steps)
                steps = []
            self.add(event)
        if steps:
            self.add_steps(steps)

    def add_steps(self, steps: list[Step]) -> None:
        smooth, weights = [], []
        for s in steps:
            smooth.append(self._smoother.add(s.iter, s.loss))
            weights.append(self._smoother.weight)
        iters = [s.iter for s in steps]
        self.loss.extend(iters, [s.loss for s in steps])
        self.smooth.extend(iters, smooth)
        self._weights.extend(iters, weights)
        self.lr.extend(iters, [s.lr for s in steps])

    def add_eval(self, ev: Eval) -> None:
        for name, series in self.evals.items():
            value = getattr(ev, name, None)
            if value is not None and math.isfinite(value):
                series.extend([ev.iter], [value])
        for split, loss, bpb in (("train", ev.train_loss, ev.train_bpb), ("val", ev.val_loss, ev.val_bpb)):
            if bpb is not None and loss is not None and math.isfinite(bpb) and math.isfinite(loss) and loss > 0:
                self.bpb_factor[split] = bpb / loss
        val = ev.val_loss
        if val is not None and math.isfinite(val) and (self.best is None or val <= self.best[1]):
            self.best = (ev.iter, val)

    def add_checkpoint(self, ev: CheckpointSaved) -> None:
        self.checkpoints.extend([ev.iter], [math.nan if ev.val_loss is None else ev.val_loss])
        if ev.best and ev.val_loss is not None:
            self.best = (ev.iter, ev.val_loss)

    def restart_at(self, start_iter: int) -> None:
        """A session (re)starts at `start_iter`: drop what the previous session logged after its last
        checkpoint, which the new one repeats. As runs.read_metrics reads metrics.jsonl: a step's iter
        is the index of the step (steps from start_iter on are redone), an eval's the number of steps
        done (the eval at start_iter was made before the checkpoint and is kept)."""
        for series in (self.loss, self.smooth, self.lr, self._weights):
            series.keep_until(start_iter, inclusive=False)
        for series in (*self.evals.values(), self.checkpoints):
            series.keep_until(start_iter)
        if self.loss.n:
            self._smoother.restore(int(self.loss.x[-1]), float(self.smooth.y[-1]), float(self._weights.y[-1]))
        else:
            self._smoother.restore(None, 0.0, 0.0)
        val = self.val_eval
        self.best = None
        if val.n:
            i = int(np.argmin(val.y))
            self.best = (float(val.x[i]), float(val.y[i]))

    @classmethod
    def from_events(cls, events: Iterable[Event]) -> RunCurves:
        curves = cls()
        curves.add_events(events)
        return curves


def typed_events(dicts: Iterable[dict]) -> list[Event]:
    """Typed events from metrics.jsonl dicts, skipping types (and shapes) this version does not know."""
    out = []
    for d in dicts:
        try:
            out.append(event_from_dict(d))
        except (ValueError, TypeError):
            continue
    return out


READ_BATCH = 10_000  # metrics.jsonl lines turned into events at a time


def read_run_curves(run_dir: str | Path) -> RunCurves:
    """The curves of a run from its metrics.jsonl (empty when it has none), read as a stream: memory
    stays bounded by the curves, not by the file (a session's RunStarted truncates what the one
    before logged past its checkpoint, as read_metrics does)."""
    from gptstudio.core.runs import iter_metrics

    curves = RunCurves()
    records = iter(iter_metrics(run_dir))
    while batch := list(itertools.islice(records, READ_BATCH)):
        curves.add_events(typed_events(batch))
    return curves


def read_runs_curves(run_dirs: list[Path], *, report=None, cancel=None) -> list[RunCurves]:
    """The curves of several runs, as a job (the GUI reads them off its thread): one RunCurves per
    folder, in order; `report(done)` after each; raises Cancelled when `cancel` is set."""
    from gptstudio.core.errors import Cancelled

    out = []
    for run_dir in run_dirs:
        if cancel is not None and cancel.is_set():
            raise Cancelled()
        out.append(read_run_curves(run_dir))
        if report is not None:
            report(len(out))
    return out
