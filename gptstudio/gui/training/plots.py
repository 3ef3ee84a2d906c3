"""TrainingPlots: the loss plot above the learning-rate plot, with a log-scale switch and a unit choice.

The loss plot draws one run's RunCurves (raw and smoothed train loss, eval points, the best
checkpoint) and, overlaid, the smoothed loss and val points of other runs, as loss (nats per token)
or in bits per byte of text: the unit that compares runs whose tokenizers differ (a run logged
before bits per byte were measured is then left out, and the status line says so). Two things keep
it smooth however long the run and however fast the steps come:
- each line is given `Series.view(...)` of the x range in sight, at most two points per pixel
  column (the data's min/max envelope), so a redraw costs the same at 1,000 or 1,000,000 points;
- only the lines whose points changed are handed new data, and the axes follow the data in
  round steps (`SteadyViewBox`, core.curves.steady_range) rather than at every new point: a new
  range makes pyqtgraph lay out its ticks again and paint twice, which was most of a redraw's cost;
- `changed()` redraws at most 10 times a second, and less often when drawing is slow (a loaded
  machine, a huge window): plotting may take REDRAW_SHARE of the time, and much less while a run
  trains in this process (`set_training_here`), whose thread waits for the GIL while the GUI draws.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from gptstudio.core.curves import UNITS, RunCurves, Series, steady_range
from gptstudio.core.events import Event, Step

REDRAW_MIN_S = 0.1  # at most 10 redraws a second...
REDRAW_SHARE = 0.25  # ...and plotting may take at most a quarter of the GUI thread's time...
# ...or this share while a run trains in this process: its thread shares the GIL with the GUI
# thread, so every millisecond spent drawing is a millisecond the training waits
REDRAW_SHARE_TRAINING_HERE = 0.03
# tab10 colours: the shown run is blue/orange/red, overlays take the rest in turn
BLUE, ORANGE, RED = (31, 119, 180), (255, 127, 14), (214, 39, 40)
OVERLAY_COLORS = [
    (44, 160, 44),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
]


class TimedPlotWidget(pg.PlotWidget):
    """A PlotWidget that adds up the time spent painting it (the redraw throttle reads it).

    A redraw that changes the axes' range costs two paints (pyqtgraph repaints once more after the
    axes follow), so the time is summed rather than taken from the last paint."""

    paint_s = 0.0

    def paintEvent(self, event):
        t0 = time.perf_counter()
        super().paintEvent(event)
        self.paint_s += time.perf_counter() - t0

    def take_paint_time(self) -> float:
        spent, self.paint_s = self.paint_s, 0.0
        return spent


class SteadyViewBox(pg.ViewBox):
    """A ViewBox whose auto-range follows `data_bounds` (set by its owner at every redraw) in round
    steps (core.curves.steady_range) instead of measuring every item at every change of the data.

    pyqtgraph's own auto-range asks each item for its bounds and moves the axes by a hair at every
    new point; this one leaves them alone until the data outgrow them. Zooming, panning and the "A"
    button work as in any ViewBox: they only decide whether auto-range is on."""

    def __init__(self, **kwargs):
        super().__init__(defaultPadding=0.0, **kwargs)  # steady_range leaves the margins
        self.data_bounds: list[tuple[float, float] | None] = [None, None]  # (lo, hi) in x, in y

    def childrenBounds(self, frac=None, orthoRange=(None, None), items=None):
        shown = self.viewRange()
        return [
            None if bounds is None else list(steady_range(*bounds, tuple(shown[axis])))
            for axis, bounds in enumerate(self.data_bounds)
        ]


class PlotLine:
    """A plot item drawn from a Series (times a unit factor): given new points only when the series,
    the factor or the range in sight changed, as most redraws leave most lines as they were.

    `curves` and `split` say where the factor comes from (split None: not a loss, never scaled)."""

    def __init__(self, item, series: Callable[[], Series], curves: Callable[[], RunCurves], split: str | None):
        self.item, self.series, self.curves, self.split = item, series, curves, split
        self.view = item.getViewBox()
        self.bounds: tuple[float, float, float, float] | None = None  # x lo, x hi, y lo, y hi drawn
        self._drawn: tuple | None = None  # what the item shows: (series, its version, factor, range, log)

    def draw(self, unit: str, x_lo: float | None, x_hi: float | None, max_points: int, log_y: bool) -> None:
        series = self.series()
        factor = 1.0 if self.split is None else self.curves().unit_factor(self.split, unit)
        drawn = (series, series.version, factor, x_lo, x_hi, max_points, log_y)
        if drawn == self._drawn:
            return
        self._drawn = drawn
        if factor is None:  # this run has no bits per byte: not drawn in them
            self.item.setData([], [])
            self.bounds = None
            return
        x, y = series.view(x_lo, x_hi, max_points)
        y = y * factor if factor != 1.0 else y
        self.item.setData(x, y)
        self.bounds = _bounds(x, y, log_y)


def _bounds(x: np.ndarray, y: np.ndarray, log_y: bool = False) -> tuple[float, float, float, float] | None:
    """x lo, x hi, y lo, y hi of the finite points (y in log10 units on a log axis, as pyqtgraph's)."""
    keep = np.isfinite(y) & (y > 0) if log_y else np.isfinite(y)
    if not keep.any():
        return None
    y = np.log10(y[keep]) if log_y else y[keep]
    return float(x.min()), float(x.max()), float(y.min()), float(y.max())


def _union(bounds: list) -> list[tuple[float, float] | None]:
    """[(x lo, x hi), (y lo, y hi)] around every line's bounds ([None, None] when nothing is drawn)."""
    drawn = [b for b in bounds if b is not None]
    if not drawn:
        return [None, None]
    return [
        (min(b[0] for b in drawn), max(b[1] for b in drawn)),
        (min(b[2] for b in drawn), max(b[3] for b in drawn)),
    ]


UNIT_LABELS = {"loss": "Loss (nats per token)", "bpb": "Bits per byte"}
Y_LABELS = {"loss": "loss (cross-entropy)", "bpb": "bits per byte of text"}


class TrainingPlots(QWidget):
    """Signal out: `sig_unit_changed(unit)`. Methods in: show_curves, add, add_steps, changed, set_overlays,
    set_unit(unit); read: unit(), missing_bpb() (runs shown without bits per byte), title, legend_names."""

    sig_unit_changed = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.curves = RunCurves()
        self.overlays: dict[str, RunCurves] = {}
        self.redraw_count = 0  # tests check the plots redraw at a bounded rate
        self._lines: list[PlotLine] = []  # every item drawn from a Series
        self._overlay_items: list[pg.PlotDataItem] = []
        self._best_drawn: tuple | None = None  # what the best-checkpoint star shows
        self._dirty = False
        self._share = REDRAW_SHARE
        self._next_redraw = 0.0
        self._redraw_timer = QTimer(self, singleShot=True)
        self._redraw_timer.timeout.connect(self.redraw)

        self.lossPlot = self._plot("lossPlot", "Loss", "loss (cross-entropy)")
        self.lrPlot = self._plot("lrPlot", "Learning rate", "lr")
        self.lrPlot.setXLink(self.lossPlot)
        # the lr plot follows the loss plot's x range; its own x auto-range would bounce it back (2x paints)
        self.lrPlot.getPlotItem().enableAutoRange(x=False)
        self.lrPlot.setMaximumHeight(220)
        self._make_items()
        # zoomed in by the user: draw the points of the new range (in auto-range the view covers all);
        # resized (or shown for the first time): as many points as the new width holds
        view = self.lossPlot.getPlotItem().getViewBox()
        view.sigXRangeChanged.connect(self._on_x_range_changed)
        view.sigResized.connect(self.changed)
        self.logScaleCheck = QCheckBox("Log scale", objectName="logScaleCheck")
        self.logScaleCheck.setToolTip("Show the loss on a logarithmic axis (late progress stays visible).")
        self.logScaleCheck.toggled.connect(self._on_log_scale)
        self.unitCombo = QComboBox(objectName="plotUnitCombo")
        for unit in UNITS:
            self.unitCombo.addItem(UNIT_LABELS[unit], unit)
        self.unitCombo.setToolTip(
            "Loss per token depends on the tokenizer; bits per byte of text does not, so it compares runs "
            "with different tokenizers (it is chosen when the runs shown have different tokenizers)."
        )
        self.unitCombo.currentIndexChanged.connect(self._on_unit_changed)
        self.missingLabel = QLabel(objectName="missingBpbLabel")
        self.missingLabel.setForegroundRole(QPalette.ColorRole.PlaceholderText)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        row.addWidget(self.missingLabel, 1)
        row.addWidget(QLabel("Show:"))
        row.addWidget(self.unitCombo)
        row.addWidget(self.logScaleCheck)
        layout.addLayout(row)
        layout.addWidget(self.lossPlot, 3)
        layout.addWidget(self.lrPlot, 1)

    # ----- public API

    def unit(self) -> str:
        """ "loss" (nats per token) or "bpb" (bits per byte of text)."""
        return self.unitCombo.currentData()

    def set_unit(self, unit: str) -> None:
        self.unitCombo.setCurrentIndex(max(0, self.unitCombo.findData(unit)))

    def missing_bpb(self) -> list[str]:
        """The runs drawn (by name; "" for the main one) that have no bits per byte to show."""
        runs = {"": self.curves, **self.overlays}
        return [name for name, c in runs.items() if c.loss.n and c.unit_factor("val", "bpb") is None]

    def show_curves(self, curves: RunCurves, title: str = "Loss") -> None:
        """Draw these curves from now on (a new run, a past run, or none) and redraw at once."""
        self.curves = curves
        self.lossPlot.getPlotItem().setTitle(title)
        self._dirty = True
        self.redraw(force=True)

    def add(self, event: Event) -> None:
        """An event of the run shown (drawn at the next redraw: `changed()`, or a forced `redraw`)."""
        self.curves.add(event)
        self._dirty = True

    def add_steps(self, steps: list[Step]) -> None:
        self.curves.add_steps(steps)
        self._dirty = True

    def title(self) -> str:
        return self.lossPlot.getPlotItem().titleLabel.text

    def changed(self) -> None:
        """The curves grew: redraw soon (now, if the last redraw was long enough ago)."""
        self._dirty = True
        self.redraw()

    def set_overlays(self, overlays: dict[str, RunCurves]) -> None:
        """Overlay other runs (name → curves): smoothed loss and val points, each in its colour."""
        item = self.lossPlot.getPlotItem()
        for it in self._overlay_items:
            item.removeItem(it)
        self._lines = [line for line in self._lines if line.item not in self._overlay_items]
        self._overlay_items = []
        self.overlays = dict(overlays)
        for i, (name, curves) in enumerate(self.overlays.items()):
            color = OVERLAY_COLORS[i % len(OVERLAY_COLORS)]
            line = item.plot(name=f"{name} (smoothed)", pen=pg.mkPen(color, width=2))
            vals = item.plot(name=f"{name} val", pen=None, symbol="d", symbolSize=8, symbolBrush=color)
            self._lines += [
                PlotLine(line, lambda c=curves: c.smooth, lambda c=curves: c, "train"),
                PlotLine(vals, lambda c=curves: c.val_eval, lambda c=curves: c, "val"),
            ]
            self._overlay_items += [line, vals]
        self._dirty = True
        self.redraw(force=True)

    def set_training_here(self, training: bool) -> None:
        """A run trains in this process (True) or not: while it does, plotting takes at most
        REDRAW_SHARE_TRAINING_HERE of the time (fewer redraws a second when drawing is slow)."""
        self._share = REDRAW_SHARE_TRAINING_HERE if training else REDRAW_SHARE

    def legend_names(self) -> list[str]:
        return [label.text for _sample, label in self._legend.items]

    @Slot()
    def redraw(self, force: bool = False) -> None:
        """Push the curves into the plot items: at most 10 times a second, and less often when
        drawing is slow, so the GUI always has time to react."""
        if not self._dirty:
            return
        now = time.monotonic()
        if not force and now < self._next_redraw:
            if not self._redraw_timer.isActive():
                self._redraw_timer.start(int(1000 * (self._next_redraw - now)) + 1)
            return
        t0 = time.perf_counter()
        painted = self.lossPlot.take_paint_time() + self.lrPlot.take_paint_time()  # of the previous redraw
        self._dirty = False
        self.redraw_count += 1
        view = self.lossPlot.getPlotItem().getViewBox()
        x_lo, x_hi = (None, None) if view.autoRangeEnabled()[0] else view.viewRange()[0]
        max_points = 2 * max(100, int(view.width()))  # a min and a max per pixel column
        unit, log_y = self.unit(), self.logScaleCheck.isChecked()
        for line in self._lines:
            line.draw(unit, x_lo, x_hi, max_points, log_y and line.view is view)
        best, factor = self.curves.best, self.curves.unit_factor("val", unit)
        best_point = (best[0], best[1] * factor) if best is not None and factor is not None else None
        if best_point != self._best_drawn:
            self._best_drawn = best_point
            self.bestMarker.setData(*([[v] for v in best_point] if best_point else ([], [])))
        star = [] if best_point is None else [_bounds(np.array(best_point[:1]), np.array(best_point[1:]), log_y)]
        for plot in (self.lossPlot, self.lrPlot):
            box = plot.getPlotItem().getViewBox()
            drawn = [line.bounds for line in self._lines if line.view is box]
            box.data_bounds = _union(drawn + (star if box is view else []))
        self._show_missing()
        cost = time.perf_counter() - t0 + painted
        self._next_redraw = now + max(REDRAW_MIN_S, cost / self._share)

    # -----

    @Slot(bool)
    def _on_log_scale(self, on: bool) -> None:
        self.lossPlot.setLogMode(x=False, y=on)
        self._dirty = True
        self.redraw(force=True)  # the lines' bounds in log units

    @Slot()
    def _on_unit_changed(self) -> None:
        unit = self.unit()
        self.lossPlot.getPlotItem().setLabel("left", Y_LABELS[unit])
        self._dirty = True
        self.redraw(force=True)
        self.lossPlot.getPlotItem().getViewBox().enableAutoRange(y=True)  # the values changed scale
        self.sig_unit_changed.emit(unit)

    def _show_missing(self) -> None:
        missing = self.missing_bpb() if self.unit() == "bpb" else []
        names = ", ".join(n or "this run" for n in missing)
        text = f"No bits per byte for {names} (logged before they were measured)." if missing else ""
        self.missingLabel.setText(text)

    @Slot()
    def _on_x_range_changed(self) -> None:
        if not self.lossPlot.getPlotItem().getViewBox().autoRangeEnabled()[0]:
            self.changed()

    def _plot(self, name: str, title: str, ylabel: str) -> TimedPlotWidget:
        pal = self.palette()
        fg = pal.color(QPalette.ColorRole.Text)
        w = TimedPlotWidget(background=pal.color(QPalette.ColorRole.Base), viewBox=SteadyViewBox())
        w.setObjectName(name)
        item = w.getPlotItem()
        item.setTitle(title, color=fg.name(), size="11pt")
        for axis in ("left", "bottom"):
            item.getAxis(axis).setPen(pg.mkPen(fg))
            item.getAxis(axis).setTextPen(pg.mkPen(fg))
        item.setLabel("left", ylabel)
        item.getAxis("left").enableAutoSIPrefix(False)  # "lr (x0.001)" reads worse than 1e-03 ticks
        item.getAxis("left").setWidth(64)  # same width on both plots, so their iteration axes line up
        item.setLabel("bottom", "iteration")
        return w

    def _make_items(self) -> None:
        loss = self.lossPlot.getPlotItem()
        text = self.palette().color(QPalette.ColorRole.Text)
        self._legend = loss.addLegend(offset=(-10, 10), labelTextColor=text)
        self._legend.setBrush(pg.mkBrush(self.palette().color(QPalette.ColorRole.Base)))
        edge = pg.mkPen("k", width=0.5)
        self.rawCurve = loss.plot(name="train loss", pen=pg.mkPen((*BLUE, 70), width=1))
        self.emaCurve = loss.plot(name="train loss (smoothed)", pen=pg.mkPen(BLUE, width=2))
        self.trainEvalCurve = loss.plot(
            name="eval: train", pen=None, symbol="o", symbolSize=7, symbolBrush=ORANGE, symbolPen=edge
        )
        self.valEvalCurve = loss.plot(
            name="eval: val",
            pen=pg.mkPen((*RED, 150), width=1, style=Qt.PenStyle.DashLine),
            symbol="d",
            symbolSize=9,
            symbolBrush=RED,
            symbolPen=edge,
        )
        self.bestMarker = loss.plot(
            name="best checkpoint",
            pen=None,
            symbol="star",
            symbolSize=18,
            symbolBrush=(255, 200, 0),
            symbolPen=pg.mkPen("k", width=1),
        )
        self.lrCurve = self.lrPlot.getPlotItem().plot(pen=pg.mkPen(BLUE, width=2))
        main = lambda: self.curves  # noqa: E731 (the curves shown change: read them at each redraw)
        self._lines = [
            PlotLine(self.rawCurve, lambda: self.curves.loss, main, "train"),
            PlotLine(self.emaCurve, lambda: self.curves.smooth, main, "train"),
            PlotLine(self.lrCurve, lambda: self.curves.lr, main, None),  # not a loss: never scaled
            PlotLine(self.trainEvalCurve, lambda: self.curves.train_eval, main, "train"),
            PlotLine(self.valEvalCurve, lambda: self.curves.val_eval, main, "val"),
        ]
