"""Size and cost of the settings: parameters, memory against the free memory, work, and measured speed.

The numbers come from gui/state/config_estimates.py; the speed is measured by timing a few real
training steps in the background (core.estimates.measure_iteration_time, one job at a time).
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QCheckBox, QGroupBox, QLabel, QTreeWidget, QTreeWidgetItem, QVBoxLayout

from gptstudio.core import estimates as est
from gptstudio.core.config import TrainConfig
from gptstudio.core.devices import device_info, free_memory_bytes
from gptstudio.gui.jobs import JobRunner
from gptstudio.gui.settings import AppSettings
from gptstudio.gui.state.config_estimates import ROWS, ConfigEstimates, can_measure, vocab_size

MEASURE_KEY = "config.measure_speed"
MEASURE_MS = 800  # the benchmark waits until edits settle: it costs seconds of compute
TONES = {"good": "#2e7d32", "bad": "#c62828"}


class EstimatesPanel(QGroupBox):
    """Method in: show_estimates(cfg, dataset_meta). Read: estimates() (a ConfigEstimates), texts(),
    is_measuring(). The "Measure speed on the device" box is remembered in the settings."""

    def __init__(self, settings: AppSettings, parent=None):
        super().__init__("Size and cost", parent)
        self.settings = settings
        self._cfg: TrainConfig | None = None
        self._meta: dict | None = None
        self._estimates: ConfigEstimates | None = None
        self._failure = ""  # why the last measurement of these settings failed
        self._measure_again = False
        self._measurer = JobRunner(self)
        self._measurer.succeeded.connect(lambda _timing: self._render())  # read back from the cache
        self._measurer.failed.connect(self._on_measure_failed)
        self._measurer.finished.connect(self._on_measure_finished)
        self._measure_timer = QTimer(self, singleShot=True, interval=MEASURE_MS, timeout=self._measure_now)
        self._build()

    def _build(self) -> None:
        self.param_label = QLabel(objectName="paramCountLabel")
        big = self.param_label.font()
        big.setPointSizeF(big.pointSizeF() * 1.7)
        big.setBold(True)
        self.param_label.setFont(big)
        self.param_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.detail_label = QLabel(objectName="paramDetailLabel", wordWrap=True)
        self.detail_label.setStyleSheet("color: palette(placeholder-text);")
        self.view = QTreeWidget(
            objectName="estimatesView", columnCount=2, headerHidden=True, rootIsDecorated=True, uniformRowHeights=True
        )
        self.view.setSelectionMode(QTreeWidget.SelectionMode.NoSelection)
        self.view.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self._items: dict[str, QTreeWidgetItem] = {}
        for key, title, parent in ROWS:
            item = QTreeWidgetItem([title, ""])
            if parent:
                self._items[parent].addChild(item)
            else:
                self.view.addTopLevelItem(item)
            self._items[key] = item
        self.view.setColumnWidth(0, 170)
        self.view.expandAll()
        self.view.setFixedHeight(len(self._items) * self.view.sizeHintForRow(0) + 8)
        self.measure_check = QCheckBox(
            "Measure speed on the device",
            objectName="measureSpeedCheck",
            toolTip="Time a few real training steps of this model (in the "
            "background, a few seconds, cached per model shape).",
        )
        self.measure_check.setChecked(bool(self.settings.get(MEASURE_KEY, True)))
        self.measure_check.toggled.connect(self._on_measure_toggled)
        col = QVBoxLayout(self)
        for w in (self.param_label, self.detail_label, self.view, self.measure_check):
            col.addWidget(w)

    # ---- method in, and what it shows

    def show_estimates(self, cfg: TrainConfig, dataset_meta: dict | None) -> None:
        """Show the numbers of these settings; their speed is measured once the edits settle."""
        self._cfg, self._meta, self._failure = cfg, dataset_meta, ""
        self._render()
        if self.measure_check.isChecked():
            self._measure_timer.start()

    def estimates(self) -> ConfigEstimates | None:
        return self._estimates

    def texts(self) -> dict[str, str]:
        """What the view shows, by key (memory, fits, tokens, epochs, flops, iter_time, ...)."""
        return {key: item.text(1) for key, item in self._items.items()}

    def is_measuring(self) -> bool:
        return self._measurer.is_running()

    def shutdown(self, timeout_ms: int = 30_000) -> None:
        """Stop the benchmark (the step in progress finishes: a few seconds at most)."""
        self._measure_timer.stop()
        self._measure_again = False
        self._measurer.shutdown(timeout_ms)

    def _render(self) -> None:
        cfg = self._cfg
        if cfg is None:
            return
        info = device_info(cfg.device) if cfg.device else None
        try:
            free = free_memory_bytes(cfg.device) if info else None
        except Exception:  # a device this machine lacks (validation already says so)
            free = None
        timing, state = self._timing(cfg)
        e = ConfigEstimates.of(cfg, self._meta, free, info.label if info else cfg.device, timing, state)
        self._estimates = e
        self.param_label.setText(e.headline)
        self.param_label.setToolTip(e.params_tip)
        self.detail_label.setText(e.shape)
        text_colour = self.palette().color(QPalette.ColorRole.Text)
        for key, row in e.rows.items():
            item = self._items[key]
            item.setText(1, row.text)
            item.setToolTip(0, row.tip)
            item.setToolTip(1, row.tip or row.text)
            item.setForeground(1, pg.mkColor(TONES[row.tone]) if row.tone else text_colour)

    def _timing(self, cfg: TrainConfig) -> tuple[est.IterationTiming | None, str]:
        if not can_measure(cfg):
            return None, "blocked"
        timing = est.cached_iteration_time(cfg, vocab_size(self._meta)[0])
        if timing is not None:
            return timing, "ready"
        if self._failure:
            return None, f"failed: {self._failure}"
        return None, "measuring" if self.measure_check.isChecked() else "off"

    # ---- the benchmark

    def _measure_now(self) -> None:
        cfg = self._cfg
        if cfg is None or not self.measure_check.isChecked() or not can_measure(cfg):
            return
        vocab = vocab_size(self._meta)[0]
        if est.cached_iteration_time(cfg, vocab) is not None:
            self._render()
            return
        job = self._measurer.current
        if job is not None:  # one at a time: stop the stale one, measure again once it has stopped
            self._measure_again = True
            job.cancel()
            return
        self._measurer.start(est.measure_iteration_time, cfg, vocab)

    def _on_measure_failed(self, message: str) -> None:
        self._failure = message
        self._render()

    def _on_measure_finished(self) -> None:
        if self._measure_again:
            self._measure_again = False
            self._measure_now()

    def _on_measure_toggled(self, on: bool) -> None:
        self.settings.set(MEASURE_KEY, on)
        job = self._measurer.current
        if not on and job is not None:
            job.cancel()
        if self._cfg is not None:
            self.show_estimates(self._cfg, self._meta)
