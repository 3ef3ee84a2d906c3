"""The learning-rate schedule of the settings, drawn as the trainer will follow it (core.schedule)."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QGroupBox, QVBoxLayout

from gptstudio.core import estimates as est
from gptstudio.core.config import TrainConfig
from gptstudio.gui.config.bindings import format_float

CURVE_RGB = (33, 110, 200)


class LrAxis(pg.AxisItem):
    """Tick labels like 1e-3 and 6e-5 instead of 0.001 and 0.00006."""

    def tickStrings(self, values, scale, spacing):
        return [format_float(float(f"{v * scale:.6g}")) for v in values]


class LrSchedulePlot(QGroupBox):
    """Method in: show_schedule(cfg); read: curve() -> (iterations, learning rates)."""

    def __init__(self, parent=None):
        super().__init__("Learning-rate schedule", parent)
        pal = self.palette()
        self.plot = pg.PlotWidget(background=pal.color(QPalette.ColorRole.Base), axisItems={"left": LrAxis("left")})
        self.plot.setObjectName("lrSchedulePlot")
        self.plot.setMinimumHeight(150)
        item = self.plot.getPlotItem()
        item.hideButtons()
        item.setMenuEnabled(False)
        item.setMouseEnabled(x=False, y=False)
        item.showGrid(x=True, y=True, alpha=0.15)
        text = pal.color(QPalette.ColorRole.Text)
        for side in ("left", "bottom"):
            item.getAxis(side).setTextPen(text)
            item.getAxis(side).setPen(pg.mkPen(text.lighter(250)))
        item.getAxis("bottom").setLabel("iteration", color=text.name())
        self._curve = item.plot(pen=pg.mkPen(CURVE_RGB, width=2), fillLevel=0, brush=(*CURVE_RGB, 40))
        QVBoxLayout(self).addWidget(self.plot)

    def show_schedule(self, cfg: TrainConfig) -> None:
        iters, lrs = est.lr_schedule(cfg)
        self._curve.setData(iters, lrs)
        top = max(lrs) * 1.08 if max(lrs) > 0 else 1
        self.plot.getPlotItem().setYRange(0, top, padding=0)
        self.plot.getPlotItem().setXRange(0, max(iters[-1], 1), padding=0.02)

    def curve(self) -> tuple[list, list]:
        x, y = self._curve.getData()
        return ([] if x is None else list(x)), ([] if y is None else list(y))
