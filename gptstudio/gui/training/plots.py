"""TrainingPlots: the loss plot above the learning-rate plot, with a log-scale switch.

The loss plot draws one run's RunCurves (raw and smoothed train loss, eval points, the best
checkpoint) and, overlaid, the smoothed loss and val points of other runs. Two things keep it
smooth however long the run and however fast the steps come:
- each line is given `Series.view(...)` of the x range in sight, at most two points per pixel
  column (the data's min/max envelope), so a redraw costs the same at 1,000 or 1,000,000 points;
- `changed()` redraws at most 10 times a second, and less often when painting is slow (a loaded
  machine, a huge window), so the GUI always has time to answer the user.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QVBoxLayout, QWidget

from gptstudio.core.curves import RunCurves, Series
from gptstudio.core.events import Event, Step

REDRAW_MIN_S = 0.1  # at most 10 redraws a second...
REDRAW_SHARE = 0.25  # ...and plotting may take at most a quarter of the GUI thread's time
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

    One redraw usually costs two paints: pyqtgraph repaints once more after the axes follow the new
    data range, so the time is summed rather than taken from the last paint."""

    paint_s = 0.0

    def paintEvent(self, event):
        t0 = time.perf_counter()
        super().paintEvent(event)
        self.paint_s += time.perf_counter() - t0

    def take_paint_time(self) -> float:
        spent, self.paint_s = self.paint_s, 0.0
        return spent


class TrainingPlots(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.curves = RunCurves()
        self.overlays: dict[str, RunCurves] = {}
        self.redraw_count = 0  # tests check the plots redraw at a bounded rate
        self._lines: list[tuple[pg.PlotDataItem, Callable[[], Series]]] = []  # drawn from a Series' view
        self._overlay_items: list[pg.PlotDataItem] = []
        self._dirty = False
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
        self.logScaleCheck.toggled.connect(lambda on: self.lossPlot.setLogMode(x=False, y=on))

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.logScaleCheck)
        layout.addLayout(row)
        layout.addWidget(self.lossPlot, 3)
        layout.addWidget(self.lrPlot, 1)

    # ----- public API

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
        self._lines = [(line, series) for line, series in self._lines if line not in self._overlay_items]
        self._overlay_items = []
        self.overlays = dict(overlays)
        for i, (name, curves) in enumerate(self.overlays.items()):
            color = OVERLAY_COLORS[i % len(OVERLAY_COLORS)]
            line = item.plot(name=f"{name} (smoothed)", pen=pg.mkPen(color, width=2))
            vals = item.plot(name=f"{name} val", pen=None, symbol="d", symbolSize=8, symbolBrush=color)
            self._lines += [(line, lambda c=curves: c.smooth), (vals, lambda c=curves: c.val_eval)]
            self._overlay_items += [line, vals]
        self._dirty = True
        self.redraw(force=True)

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
        for line, series in self._lines:
            line.setData(*series().view(x_lo, x_hi, max_points))
        best = self.curves.best
        self.bestMarker.setData([best[0]] if best else [], [best[1]] if best else [])
        cost = time.perf_counter() - t0 + painted
        self._next_redraw = now + max(REDRAW_MIN_S, cost / REDRAW_SHARE)

    # -----

    @Slot()
    def _on_x_range_changed(self) -> None:
        if not self.lossPlot.getPlotItem().getViewBox().autoRangeEnabled()[0]:
            self.changed()

    def _plot(self, name: str, title: str, ylabel: str) -> TimedPlotWidget:
        pal = self.palette()
        fg = pal.color(QPalette.ColorRole.Text)
        w = TimedPlotWidget(background=pal.color(QPalette.ColorRole.Base))
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
        self._lines = [
            (self.rawCurve, lambda: self.curves.loss),
            (self.emaCurve, lambda: self.curves.smooth),
            (self.lrCurve, lambda: self.curves.lr),
            (self.trainEvalCurve, lambda: self.curves.train_eval),
            (self.valEvalCurve, lambda: self.curves.val_eval),
        ]
