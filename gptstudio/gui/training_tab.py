"""The Training tab: start / stop / resume runs, live loss and learning-rate plots, run history.

Thin on purpose: the engine (gptstudio.core.trainer) trains, writes the run folder and reports typed
events; `training_worker` carries them here; this module only draws them. The curves it draws
(smoothed loss included) are gptstudio.core.curves.RunCurves.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, QUrl, Signal, Slot
from PySide6.QtGui import QDesktopServices, QFont, QGuiApplication, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gptstudio.core import devices, trainer
from gptstudio.core.config import TrainConfig, save_config
from gptstudio.core.curves import RunCurves, typed_events
from gptstudio.core.errors import GPTStudioError
from gptstudio.core.events import CheckpointSaved, Eval, Finished, RunStarted, Step
from gptstudio.core.units import format_duration, format_rate
from gptstudio.core.workspace import Workspace
from gptstudio.gui.training_worker import EventPump, TorchrunWorker, TrainingWorker, multinode_commands

REDRAW_MIN_S = 0.1  # at most 10 redraws a second...
REDRAW_SHARE = 0.25  # ...and plotting may take at most a quarter of the GUI thread's time
GIL_SWITCH_S = 0.001  # see _launch
# tab10 colours: the live run is blue/orange/red, overlays take the rest in turn
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
RESUMABLE = {"stopped", "failed"}  # list_runs reports a run whose process died as "stopped"


# ----- small display helpers -----


if TYPE_CHECKING:
    from gptstudio.gui.export_dialog import ExportDialog


class TimedPlotWidget(pg.PlotWidget):
    """A PlotWidget that adds up the time spent painting it (the redraw throttle reads it).

    One redraw usually costs two paints: pyqtgraph repaints once more after the axes follow
    the new data range, so the time is summed rather than taken from the last paint.
    """

    paint_s = 0.0

    def paintEvent(self, event):
        t0 = time.perf_counter()
        super().paintEvent(event)
        self.paint_s += time.perf_counter() - t0

    def take_paint_time(self) -> float:
        spent, self.paint_s = self.paint_s, 0.0
        return spent


# ----- the tab -----


class TrainingTab(QWidget):
    sig_run_finished = Signal(str)  # run name, when a run ends (completed, stopped or failed)
    sig_checkpoint_saved = Signal(str)  # run name, after each checkpoint the engine saves

    def __init__(self, workspace, settings, parent=None):
        super().__init__(parent)
        self.workspace = workspace if isinstance(workspace, Workspace) else Workspace.open(workspace)
        self.settings = settings
        self._config_source: Callable[[], TrainConfig] | None = None
        self._config_valid = True
        self._worker = None
        self._active_run: str | None = None
        self._primary_run: str | None = None
        self._curves = RunCurves()
        self._overlay_items: list = []
        self._dirty = False
        self._started: RunStarted | None = None
        self._last_step: Step | None = None
        self._iter: int | None = None
        self._best_val: float | None = None
        self._outcome = ""
        self._runs: list[dict] = []
        self.redraw_count = 0  # tests check the GUI redraws at a bounded rate
        self._next_redraw = 0.0
        self._redraw_timer = QTimer(self)
        self._redraw_timer.setSingleShot(True)
        self._redraw_timer.timeout.connect(self._redraw)
        self._switch_interval: float | None = None

        self.pump = EventPump(self)
        self.pump.sig_started.connect(self._on_started)
        self.pump.sig_steps.connect(self._on_steps)
        self.pump.sig_eval.connect(self._on_eval)
        self.pump.sig_checkpoint.connect(self._on_checkpoint)
        self.pump.sig_message.connect(self._on_message)
        self.pump.sig_finished.connect(self._on_finished)
        self.pump.sig_drained.connect(self._redraw)

        self._build_ui()
        self.refresh_runs()
        self._update_buttons()

    # ----- public API -----

    def set_config_source(self, source: Callable[[], TrainConfig]) -> None:
        """Where Start gets its settings (the Config tab's `config`)."""
        self._config_source = source
        self._update_buttons()

    @Slot(bool)
    def set_config_valid(self, valid: bool) -> None:
        self._config_valid = bool(valid)
        self._update_buttons()

    def is_running(self) -> bool:
        return self._worker is not None

    def confirm_close(self) -> bool:
        """For the main window's closeEvent: False keeps the app open; True after a clean stop."""
        if not self.is_running():
            return True
        if not self.ask_stop_for_close():
            return False
        self.shutdown()
        return True

    def shutdown(self, timeout_ms: int = 60_000) -> bool:
        """Stop a run (checkpoint saved), wait for its thread/process; True when it ended in time."""
        worker = self._worker
        if worker is None:
            return True
        self._log(f"Stopping run {self._active_run} and saving a checkpoint…")
        worker.stop()
        ended = worker.wait(timeout_ms)
        if not ended:
            # torchrun children can be killed; an in-process loop only stops cooperatively
            worker.kill()
            ended = worker.wait(10_000)
        if ended:
            self._on_worker_done()
        else:
            self._log("The training did not stop in time; it will stop after its current iteration.", "error")
        return ended

    # patchable dialogs (tests replace these)
    def ask_run_name(self, suggestion: str) -> str | None:
        name, ok = QInputDialog.getText(
            self, "New training run", "Name of the run (its folder under runs/):", QLineEdit.Normal, suggestion
        )
        return name.strip() if ok and name.strip() else None

    def ask_stop_for_close(self) -> bool:
        answer = QMessageBox.question(
            self,
            "Training in progress",
            f"Run '{self._active_run}' is training. Stop it (a checkpoint is saved, Resume continues later) and quit?",
        )
        return answer == QMessageBox.Yes

    def confirm(self, title: str, text: str) -> bool:
        return QMessageBox.question(self, title, text) == QMessageBox.Yes

    def reveal_path(self, path: Path) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))

    # ----- layout -----

    def _build_ui(self) -> None:
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(self._build_run_box())
        ll.addWidget(self._build_runs_box(), 1)
        main = QSplitter(Qt.Horizontal)
        main.addWidget(left)
        main.addWidget(self._build_plots())
        main.setStretchFactor(0, 1)
        main.setStretchFactor(1, 3)
        main.setSizes([380, 900])
        QVBoxLayout(self).addWidget(main)
        self._on_torchrun_toggled(self.useTorchrunCheck.isChecked())

    def _build_run_box(self) -> QGroupBox:
        """Start/Stop/Resume, the process layout, progress and status."""
        self.startButton = self._button(
            "startButton", "Start", "Start a new run with the Config tab's settings.", self.start
        )
        self.stopButton = self._button(
            "stopButton", "Stop", "Stop after the current iteration and save a checkpoint.", self.stop
        )
        self.resumeButton = self._button(
            "resumeButton",
            "Resume",
            "Continue the selected (or the last) stopped run from its checkpoint.",
            self.resume,
        )
        gpus = sum(1 for d in devices.available_devices() if d.type == "cuda")
        self.useTorchrunCheck = QCheckBox("Several processes (torchrun)")
        self.useTorchrunCheck.setObjectName("useTorchrunCheck")
        self.useTorchrunCheck.setToolTip(
            "Train with torch.distributed (DDP) in a child process: one process per "
            "GPU, or several CPU processes with the gloo backend."
        )
        self.nprocSpin = QSpinBox()
        self.nprocSpin.setObjectName("nprocSpin")
        self.nprocSpin.setRange(1, max(gpus, os.cpu_count() or 1, 2))
        self.nprocSpin.setValue(
            int(self.settings.get("training.nproc", gpus if gpus > 1 else 2))
            if self.settings
            else (gpus if gpus > 1 else 2)
        )
        self.nprocSpin.setToolTip(
            f"Processes per machine ({gpus} GPU{'s' if gpus != 1 else ''} found; CPU processes use the gloo backend)."
        )
        self.useTorchrunCheck.setChecked(
            bool(self.settings.get("training.torchrun", False)) if self.settings else False
        )
        self.useTorchrunCheck.toggled.connect(self._on_torchrun_toggled)
        self.useTorchrunCheck.toggled.connect(lambda on: self._save_setting("training.torchrun", bool(on)))
        self.nprocSpin.valueChanged.connect(lambda v: self._save_setting("training.nproc", v))
        self.multiNodeButton = self._button(
            "multiNodeButton",
            "Several machines…",
            "Show the torchrun commands that run this job on several machines.",
            self.show_multinode_dialog,
        )

        self.trainProgress = QProgressBar()
        self.trainProgress.setObjectName("trainProgress")
        self.trainProgress.setRange(0, 1)
        self.trainProgress.setValue(0)
        self.trainStatus = QLabel("No run yet. Choose a dataset and settings, then press Start.")
        self.trainStatus.setObjectName("trainStatus")
        self.trainStatus.setWordWrap(True)
        self.trainStatus.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.trainStatus.setMinimumHeight(90)
        self.trainStatus.setAlignment(Qt.AlignTop | Qt.AlignLeft)

        run_box = QGroupBox("Run")
        rb = QVBoxLayout(run_box)
        row = QHBoxLayout()
        for b in (self.startButton, self.stopButton, self.resumeButton):
            row.addWidget(b)
        rb.addLayout(row)
        row = QHBoxLayout()
        row.addWidget(self.useTorchrunCheck)
        row.addWidget(self.nprocSpin)
        row.addStretch(1)
        rb.addLayout(row)
        rb.addWidget(self.multiNodeButton, 0, Qt.AlignLeft)
        rb.addWidget(self.trainProgress)
        rb.addWidget(self.trainStatus)
        return run_box

    def _build_runs_box(self) -> QGroupBox:
        """Every run of the workspace, with Refresh / Reveal folder / Delete."""
        self.runsList = QTreeWidget()
        self.runsList.setObjectName("runsList")
        self.runsList.setHeaderLabels(["Run", "Status", "Iterations", "Best val", "Dataset"])
        self.runsList.setRootIsDecorated(False)
        self.runsList.setSelectionMode(QAbstractItemView.ExtendedSelection)
        self.runsList.setSortingEnabled(False)
        self.runsList.header().setSectionResizeMode(0, QHeaderView.Stretch)
        self.runsList.setToolTip(
            "Every run in this workspace (also those started from the command line). "
            "Select several to compare their loss curves."
        )
        self.runsList.itemSelectionChanged.connect(self._on_selection_changed)
        self.refreshRunsButton = self._button(
            "refreshRunsButton", "Refresh", "Read the runs folder again.", self.refresh_runs
        )
        self.revealRunButton = self._button(
            "revealRunButton", "Reveal folder", "Open the run's folder.", self.reveal_selected
        )
        self.deleteRunButton = self._button(
            "deleteRunButton", "Delete…", "Delete the selected runs and their checkpoints.", self.delete_selected
        )
        self.exportRunButton = self._button(
            "exportRunButton",
            "Export…",
            "Export the selected run's model as a Hugging Face folder or safetensors.",
            self.export_selected,
        )
        runs_box = QGroupBox("Runs")
        rl = QVBoxLayout(runs_box)
        rl.addWidget(self.runsList)
        row = QHBoxLayout()
        for b in (self.refreshRunsButton, self.revealRunButton, self.exportRunButton, self.deleteRunButton):
            row.addWidget(b)
        row.addStretch(1)
        rl.addLayout(row)
        return runs_box

    def _build_plots(self) -> QWidget:
        """Loss and learning-rate plots above the latest sample and the log."""
        self.lossPlot = self._plot("lossPlot", "Loss", "loss (cross-entropy)")
        self.lrPlot = self._plot("lrPlot", "Learning rate", "lr")
        self.lrPlot.setXLink(self.lossPlot)
        # the lr plot follows the loss plot's x range; its own x auto-range would bounce it back (2x paints)
        self.lrPlot.getPlotItem().enableAutoRange(x=False)
        self.lrPlot.setMaximumHeight(220)
        self._make_curves()
        self.logScaleCheck = QCheckBox("Log scale")
        self.logScaleCheck.setObjectName("logScaleCheck")
        self.logScaleCheck.setToolTip("Show the loss on a logarithmic axis (late progress stays visible).")
        self.logScaleCheck.toggled.connect(lambda on: self.lossPlot.setLogMode(x=False, y=on))

        mono = QFont("monospace")
        mono.setStyleHint(QFont.TypeWriter)
        self.samplePreview = QPlainTextEdit()
        self.samplePreview.setObjectName("samplePreview")
        self.samplePreview.setReadOnly(True)
        self.samplePreview.setFont(mono)
        self.samplePreview.setPlaceholderText("At every evaluation, a short text from the model appears here.")
        self.trainLog = QPlainTextEdit()
        self.trainLog.setObjectName("trainLog")
        self.trainLog.setReadOnly(True)
        self.trainLog.setMaximumBlockCount(5000)
        self.trainLog.setPlaceholderText("Messages from the training engine.")

        plots = QWidget()
        pl = QVBoxLayout(plots)
        pl.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.logScaleCheck)
        pl.addLayout(row)
        pl.addWidget(self.lossPlot, 3)
        pl.addWidget(self.lrPlot, 1)
        bottom = QSplitter(Qt.Horizontal)
        bottom.addWidget(self._titled("Latest sample", self.samplePreview))
        bottom.addWidget(self._titled("Log", self.trainLog))
        right = QSplitter(Qt.Vertical)
        right.addWidget(plots)
        right.addWidget(bottom)
        right.setStretchFactor(0, 3)
        right.setStretchFactor(1, 1)
        return right

    def _button(self, name: str, text: str, tip: str, slot) -> QPushButton:
        b = QPushButton(text)
        b.setObjectName(name)
        b.setToolTip(tip)
        b.clicked.connect(slot)
        return b

    @staticmethod
    def _titled(title: str, widget: QWidget) -> QWidget:
        box = QWidget()
        lay = QVBoxLayout(box)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(QLabel(f"<b>{title}</b>"))
        lay.addWidget(widget)
        return box

    def _plot(self, name: str, title: str, ylabel: str) -> pg.PlotWidget:
        pal = self.palette()
        fg = pal.color(QPalette.Text)
        w = TimedPlotWidget(background=pal.color(QPalette.Base))
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
        # 100k+ points stay fast: draw only what is in view, min/max-downsampled to the pixel width
        item.setClipToView(True)
        item.setDownsampling(auto=True, mode="peak")
        return w

    def _make_curves(self) -> None:
        loss = self.lossPlot.getPlotItem()
        self._legend = loss.addLegend(offset=(-10, 10), labelTextColor=self.palette().color(QPalette.Text))
        self._legend.setBrush(pg.mkBrush(self.palette().color(QPalette.Base)))
        self.rawCurve = loss.plot(name="train loss", pen=pg.mkPen((*BLUE, 70), width=1))
        self.emaCurve = loss.plot(name="train loss (smoothed)", pen=pg.mkPen(BLUE, width=2))
        self.trainEvalCurve = loss.plot(
            name="eval: train",
            pen=None,
            symbol="o",
            symbolSize=7,
            symbolBrush=ORANGE,
            symbolPen=pg.mkPen("k", width=0.5),
        )
        self.valEvalCurve = loss.plot(
            name="eval: val",
            pen=pg.mkPen((*RED, 150), width=1, style=Qt.DashLine),
            symbol="d",
            symbolSize=9,
            symbolBrush=RED,
            symbolPen=pg.mkPen("k", width=0.5),
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

    # ----- start / stop / resume -----

    def _current_config(self) -> TrainConfig | None:
        if self._config_source is None:
            self._log("There are no settings to train with yet (the Config tab is missing).", "error")
            return None
        try:
            return self._config_source()
        except GPTStudioError as e:
            self._log(str(e), "error")
            return None

    @Slot()
    def start(self) -> None:
        """Start a new run with the Config tab's settings (asks for its name)."""
        if self.is_running() or not self._config_valid:
            return
        cfg = self._current_config()
        if cfg is None:
            return
        problems = [str(p) for p in cfg.validate()]
        nproc = self.nprocSpin.value() if self.useTorchrunCheck.isChecked() else 1
        if cfg.gradient_accumulation_steps % nproc:
            problems.append(
                f"gradient_accumulation_steps ({cfg.gradient_accumulation_steps}) must be a multiple "
                f"of the number of processes ({nproc}): change one of them."
            )
        if problems:
            self._log("Cannot start: " + " ".join(problems), "error")
            return
        suggestion = self.workspace.unique_run_name(f"{cfg.dataset or 'run'}-{cfg.n_layer}x{cfg.n_embd}")
        name = self.ask_run_name(suggestion)
        if not name:
            return
        try:
            run_dir = self.workspace.run_dir(name)
        except GPTStudioError as e:
            self._log(str(e), "error")
            return
        if run_dir.exists():
            self._log(
                f"A run named '{name}' already exists: choose another name, or select it in the list and press Resume.",
                "error",
            )
            return
        cfg.run_name = name
        if cfg.init_from == "resume":
            cfg.init_from = "scratch"  # Start always begins a new run; continuing one is Resume's job
        self._launch(cfg, resumed=False)

    @Slot()
    def stop(self) -> None:
        if self._worker is not None:
            self._log("Stopping after the current iteration; saving a checkpoint…")
            self._worker.stop()
            self.stopButton.setEnabled(False)

    @Slot()
    def resume(self) -> None:
        """Continue the selected run (or the most recent stopped one) from its latest checkpoint."""
        if self.is_running():
            return
        name = self.resume_candidate()
        if name is None:
            self._log("There is no stopped run with a checkpoint to resume.", "error")
            return
        self._launch(TrainConfig(init_from="resume", run_name=name), resumed=True, overrides=self.resume_overrides())

    def resume_candidate(self) -> str | None:
        """The selected stopped run; with nothing selected, the most recently stopped one."""
        selected = set(self._selected_runs())
        # list_runs gives the newest first
        candidates = [r for r in self._runs if self._resumable(r) and (not selected or r["name"] in selected)]
        return candidates[0]["name"] if candidates else None

    @staticmethod
    def _resumable(run: dict) -> bool:
        return bool(run.get("checkpoints")) and run.get("status") in RESUMABLE

    def resume_overrides(self) -> dict:
        """A resumed run keeps its saved settings, but trains on the device chosen on the Config tab."""
        if self._config_source is None:
            return {}
        try:
            cfg = self._config_source()
        except GPTStudioError:
            return {}
        return {"device": cfg.device, "dtype": cfg.dtype, "compile": cfg.compile}

    def _launch(self, cfg: TrainConfig, resumed: bool, overrides: dict | None = None) -> None:
        name = cfg.run_name
        self._active_run = name
        self._started, self._last_step, self._iter, self._best_val, self._outcome = None, None, None, None, ""
        self._show_primary(name if resumed else None)
        self._primary_run = name
        self.lossPlot.getPlotItem().setTitle(f"Loss: {name}")
        self.pump.start()
        if self.useTorchrunCheck.isChecked():
            worker = TorchrunWorker(
                cfg, self.workspace.home, self.nprocSpin.value(), self.pump, resume_overrides=overrides
            )
        else:
            worker = TrainingWorker(cfg, self.workspace.home, self.pump, resume_overrides=overrides)
            # The training thread runs Python between torch ops. With the default 5 ms GIL switch
            # interval, every Python callback of a repaint can wait 5 ms for the GIL; 1 ms keeps the
            # GUI thread's waits short at a negligible cost to training.
            self._switch_interval = sys.getswitchinterval()
            sys.setswitchinterval(min(self._switch_interval, GIL_SWITCH_S))
        worker.sig_done.connect(self._on_worker_done)
        self._worker = worker
        self._log(
            f"{'Resuming' if resumed else 'Starting'} run '{name}'"
            f"{f' with {self.nprocSpin.value()} processes' if isinstance(worker, TorchrunWorker) else ''}…"
        )
        self.trainStatus.setText(f"Run {name}: starting…")
        worker.start(self)
        self._update_buttons()

    @Slot()
    def _on_worker_done(self) -> None:
        worker = self._worker
        if worker is None:
            return
        worker.wait(5000)  # the thread is quitting right now; join it so none is left behind
        self.pump.stop()
        self._worker = None
        self._active_run = None
        if self._switch_interval is not None:
            sys.setswitchinterval(self._switch_interval)
            self._switch_interval = None
        self._update_buttons()
        self.refresh_runs()

    # ----- events from the pump -----

    @Slot(object)
    def _on_started(self, ev: RunStarted) -> None:
        self._started = ev
        self._curves.restart_at(ev.start_iter)
        self.trainProgress.setRange(0, max(1, ev.max_iters))
        self.trainProgress.setValue(ev.start_iter)
        procs = f", {ev.world_size} processes" if ev.world_size > 1 else ""
        self._log(
            f"Run '{ev.run}' on {ev.device} ({ev.dtype}{procs}): {ev.n_params / 1e6:.2f}M parameters, "
            f"iterations {ev.start_iter}→{ev.max_iters}, {ev.tokens_per_iter:,} tokens per iteration."
        )
        self.refresh_runs()
        self._dirty = True

    @Slot(object)
    def _on_steps(self, steps: list) -> None:
        self._curves.add_steps(steps)
        self._last_step = steps[-1]
        self._iter = steps[-1].iter
        self._dirty = True

    @Slot(object)
    def _on_eval(self, ev: Eval) -> None:
        self._curves.add_eval(ev)
        if ev.best_val_loss is not None and math.isfinite(ev.best_val_loss):  # JSON turns inf into None
            self._best_val = ev.best_val_loss
        if ev.sample:
            self.samplePreview.setPlainText(f"iteration {ev.iter}, val loss {ev.val_loss:.4f}\n\n{ev.sample}")
        self._log(f"iteration {ev.iter}: train loss {ev.train_loss:.4f}, val loss {ev.val_loss:.4f}")
        self._dirty = True

    @Slot(object)
    def _on_checkpoint(self, ev: CheckpointSaved) -> None:
        self._curves.add_checkpoint(ev)
        what = "best checkpoint" if ev.best else "checkpoint"
        self._log(f"Saved {what} at iteration {ev.iter}: {ev.path}")
        self._dirty = True
        if self._active_run:
            self.sig_checkpoint_saved.emit(self._active_run)

    @Slot(str, str)
    def _on_message(self, level: str, text: str) -> None:
        self._log(text, level)

    @Slot(object)
    def _on_finished(self, ev: Finished) -> None:
        name = self._active_run or ""
        if ev.iter >= 0:
            self._iter = ev.iter
        it = self._iter if self._iter is not None else 0
        if ev.best_val_loss is not None:
            self._best_val = ev.best_val_loss
        self._outcome = f"Run {name} {ev.status} at iteration {it}." + (f" {ev.reason}" if ev.reason else "")
        self._log(self._outcome, "error" if ev.status == "failed" else "info")
        self._dirty = True
        self._redraw(force=True)
        self.sig_run_finished.emit(name)

    # ----- drawing -----

    @Slot()
    def _redraw(self, force: bool = False) -> None:
        """Push the buffers into the plot items: at most 10 times a second, and less often when
        drawing is slow (a loaded machine, a huge window), so the GUI always has time to react."""
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
        c = self._curves
        self.rawCurve.setData(c.loss.x, c.loss.y)
        self.emaCurve.setData(c.smooth.x, c.smooth.y)
        self.lrCurve.setData(c.lr.x, c.lr.y)
        self.trainEvalCurve.setData(c.train_eval.x, c.train_eval.y)
        self.valEvalCurve.setData(c.val_eval.x, c.val_eval.y)
        self.bestMarker.setData([c.best[0]] if c.best else [], [c.best[1]] if c.best else [])
        self._update_status()
        cost = time.perf_counter() - t0 + painted
        self._next_redraw = now + max(REDRAW_MIN_S, cost / REDRAW_SHARE)

    def _update_status(self) -> None:
        st, step = self._started, self._last_step
        lines = [self._outcome] if self._outcome else []
        if st is not None:
            if not self._outcome:
                lines.append(f"Run {st.run}: training…")
            it = self._iter if self._iter is not None else st.start_iter
            pct = 100 * it / st.max_iters if st.max_iters else 100
            lines.append(f"iteration {it} / {st.max_iters} ({pct:.0f}%)")
            self.trainProgress.setValue(min(it, st.max_iters))
            if step is not None:
                done = max(1, step.iter - st.start_iter)
                eta = (
                    ""
                    if self._outcome
                    else f" · ETA {format_duration((st.max_iters - step.iter) * step.elapsed / done)}"
                )
                mfu = f"MFU {100 * step.mfu:.1f}%" if step.mfu >= 0 else "MFU n/a"
                lines.append(f"loss {step.loss:.4f} (smoothed {self._curves.smooth.y[-1]:.4f}) · lr {step.lr:.2e}")
                lines.append(
                    f"elapsed {format_duration(step.elapsed)}{eta} · "
                    f"{format_rate(step.tokens_per_sec)} · {mfu} · {step.ms_per_iter:.1f} ms/iter"
                )
            self._update_active_row(it, st.max_iters)
            procs = f" × {st.world_size} processes" if st.world_size > 1 else ""
            lines.append(f"device {st.device} ({st.dtype}){procs} · {st.n_params / 1e6:.2f}M parameters")
        if self._best_val is not None:
            lines.append(f"best val loss {self._best_val:.4f}")
        if lines:
            self.trainStatus.setText("\n".join(lines))

    def _update_active_row(self, it: int, max_iters: int) -> None:
        """Keep the training run's row in runsList current without re-reading the runs folder."""
        if not self.is_running():
            return
        for item in self.runsList.findItems(self._active_run or "", Qt.MatchExactly, 0):
            item.setText(1, "running")
            item.setText(2, f"{it} / {max_iters}")
            if self._best_val is not None:
                item.setText(3, f"{self._best_val:.4f}")
            self.runsList.resizeColumnToContents(2)

    def _show_primary(self, name: str | None) -> None:
        """Show a run's full history in the main curves (None: start empty for a new run)."""
        self._primary_run = name
        self._curves = RunCurves()
        title = "Loss"
        if name:
            self._curves = RunCurves.from_events(self._read_events(name))
            title = f"Loss: {name}"
            evals = self._curves.val_eval
            self._best_val = float(evals.y.min()) if evals.n else None
        self.lossPlot.getPlotItem().setTitle(title)
        self._dirty = True
        self._redraw(force=True)

    def _read_events(self, name: str) -> list:
        try:
            return typed_events(trainer.read_metrics(self.workspace.run_dir(name)))
        except (OSError, GPTStudioError) as e:
            self._log(f"Cannot read the curves of run '{name}': {e}", "warning")
            return []

    def _set_overlays(self, names: list[str]) -> None:
        item = self.lossPlot.getPlotItem()
        for it in self._overlay_items:
            item.removeItem(it)
        self._overlay_items = []
        for i, name in enumerate(names):
            color = OVERLAY_COLORS[i % len(OVERLAY_COLORS)]
            curves = RunCurves.from_events(self._read_events(name))
            line = item.plot(curves.smooth.x, curves.smooth.y, name=f"{name} (smoothed)", pen=pg.mkPen(color, width=2))
            vals = item.plot(
                curves.val_eval.x,
                curves.val_eval.y,
                name=f"{name} val",
                pen=None,
                symbol="d",
                symbolSize=8,
                symbolBrush=color,
            )
            self._overlay_items += [line, vals]

    # ----- runs list -----

    def refresh_runs(self) -> None:
        """Re-read every run of the workspace (CLI runs too) into runsList, keeping the selection."""
        try:
            self._runs = trainer.list_runs(self.workspace.home)
        except (OSError, GPTStudioError) as e:
            self._runs = []
            self._log(f"Cannot list the runs: {e}", "error")
        selected = set(self._selected_runs())
        self.runsList.blockSignals(True)
        self.runsList.clear()
        for run in self._runs:
            best, iters, max_iters = run.get("best_val_loss"), run.get("iter"), run.get("max_iters")
            item = QTreeWidgetItem(
                [
                    run["name"],
                    str(run.get("status", "?")),
                    "" if iters is None else (f"{iters} / {max_iters}" if max_iters else str(iters)),
                    "" if best is None else f"{best:.4f}",
                    str(run.get("dataset") or ""),
                ]
            )
            item.setData(0, Qt.UserRole, run["name"])
            item.setToolTip(0, f"{run['name']}\n{run.get('path', '')}")
            self.runsList.addTopLevelItem(item)
            item.setSelected(run["name"] in selected)
        for col in range(1, 5):
            self.runsList.resizeColumnToContents(col)
        self.runsList.blockSignals(False)
        self._update_buttons()

    def _selected_runs(self) -> list[str]:
        """Selected run names in list order (newest first): the first is drawn in full."""
        items = (self.runsList.topLevelItem(i) for i in range(self.runsList.topLevelItemCount()))
        return [it.data(0, Qt.UserRole) for it in items if it.isSelected()]

    def select_runs(self, names: list[str]) -> None:
        for i in range(self.runsList.topLevelItemCount()):
            item = self.runsList.topLevelItem(i)
            item.setSelected(item.data(0, Qt.UserRole) in names)

    @Slot()
    def _on_selection_changed(self) -> None:
        names = self._selected_runs()
        if self.is_running():
            overlays = [n for n in names if n != self._active_run]
        else:
            if names and names[0] != self._primary_run:
                self._show_past_run(names[0])
            overlays = names[1:]
        self._set_overlays(overlays)
        self._update_buttons()

    def _show_past_run(self, name: str) -> None:
        """Draw a run that is not training here and summarise it from its status.json."""
        run = next((r for r in self._runs if r["name"] == name), {})
        self._started, self._last_step, self._iter = None, None, None
        self._show_primary(name)
        it, max_iters = run.get("iter"), run.get("max_iters")
        where = f" at iteration {it}" + (f" / {max_iters}" if max_iters else "") if it is not None else ""
        self._outcome = f"Run {name}: {run.get('status', 'unknown')}{where}." + (
            f" {run['reason']}" if run.get("reason") else ""
        )
        if run.get("best_val_loss") is not None:
            self._best_val = run["best_val_loss"]
        self._update_status()

    @Slot()
    def delete_selected(self) -> None:
        names = [n for n in self._selected_runs() if n != self._active_run]  # never the one training
        if not names:
            return
        if not self.confirm("Delete runs", f"Delete {', '.join(names)} with all checkpoints? This cannot be undone."):
            return
        for name in names:
            try:
                self.workspace.delete(self.workspace.run_dir(name))
                self._log(f"Deleted run '{name}'.")
            except (OSError, GPTStudioError) as e:
                self._log(f"Could not delete run '{name}': {e}", "error")
        if self._primary_run in names:
            self._show_primary(None)
        self.refresh_runs()
        self._set_overlays([])

    @Slot()
    def export_selected(self) -> ExportDialog | None:
        """Open the export dialog for the one selected run (non-modal; returned for tests)."""
        from gptstudio.gui.export_dialog import ExportDialog

        names = self._selected_runs()
        if len(names) != 1:
            return None
        dialog = ExportDialog(names[0], self.workspace.home, self)
        dialog.setAttribute(Qt.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def reveal_selected(self) -> None:
        names = self._selected_runs() or ([self._active_run] if self._active_run else [])
        if names:
            self.reveal_path(self.workspace.run_dir(names[0]))

    # ----- several machines -----

    @Slot()
    def show_multinode_dialog(self) -> QDialog:
        """A dialog with copyable torchrun command lines, one per machine."""
        cfg = None
        if self._config_source is not None:
            try:
                cfg = self._config_source()
            except GPTStudioError:
                cfg = None
        run_name = (cfg.run_name if cfg and cfg.run_name else None) or self.workspace.unique_run_name(
            f"{(cfg.dataset if cfg else '') or 'run'}-multinode"
        )
        dlg = MultiNodeDialog(cfg, run_name, self.nprocSpin.value(), self)
        dlg.show()
        return dlg

    # ----- small things -----

    @Slot(bool)
    def _on_torchrun_toggled(self, on: bool) -> None:
        self.nprocSpin.setEnabled(on and not self.is_running())

    def _save_setting(self, key: str, value) -> None:
        if self.settings is not None:
            self.settings.set(key, value)

    def _update_buttons(self) -> None:
        running = self.is_running()
        can_start = not running and self._config_valid and self._config_source is not None
        self.startButton.setEnabled(can_start)
        self.startButton.setToolTip(
            "Start a new run with the Config tab's settings."
            if can_start
            else "A run is in progress."
            if running
            else "Fix the settings on the Config tab first."
        )
        self.stopButton.setEnabled(running)
        candidate = None if running else self.resume_candidate()
        self.resumeButton.setEnabled(candidate is not None)
        self.resumeButton.setToolTip(
            f"Continue run '{candidate}' from its last checkpoint."
            if candidate
            else "Select a stopped run to continue it from its last checkpoint."
        )
        self.useTorchrunCheck.setEnabled(not running)
        self.exportRunButton.setEnabled(len(self._selected_runs()) == 1)
        self.nprocSpin.setEnabled(not running and self.useTorchrunCheck.isChecked())
        selected = self._selected_runs()
        self.deleteRunButton.setEnabled(any(n != self._active_run for n in selected))
        self.revealRunButton.setEnabled(bool(selected) or self._active_run is not None)

    def _log(self, text: str, level: str = "info") -> None:
        prefix = {"error": "Error: ", "warning": ""}.get(level, "")
        self.trainLog.appendPlainText(f"[{time.strftime('%H:%M:%S')}] {prefix}{text}")


class MultiNodeDialog(QDialog):
    """Shows the torchrun lines that run the same job on several machines; the text can be copied."""

    def __init__(self, cfg: TrainConfig | None, run_name: str, nproc: int, parent=None):
        super().__init__(parent)
        self.setObjectName("multiNodeDialog")
        self.setWindowTitle("Train on several machines")
        self.cfg, self.run_name = cfg, run_name
        self.nodesSpin = QSpinBox()
        self.nodesSpin.setRange(2, 1024)
        self.nodesSpin.setValue(2)
        self.nprocSpin = QSpinBox()
        self.nprocSpin.setRange(1, 1024)
        self.nprocSpin.setValue(nproc)
        self.addrEdit = QLineEdit("192.168.1.10")
        self.portSpin = QSpinBox()
        self.portSpin.setRange(1024, 65535)
        self.portSpin.setValue(29500)
        form = QFormLayout()
        form.addRow("Machines (nodes):", self.nodesSpin)
        form.addRow("Processes per machine:", self.nprocSpin)
        form.addRow("Address of machine 0:", self.addrEdit)
        form.addRow("Port on machine 0:", self.portSpin)
        self.text = QPlainTextEdit()
        self.text.setObjectName("multiNodeText")
        self.text.setReadOnly(True)
        self.text.setMinimumSize(760, 260)
        mono = QFont("monospace")
        mono.setStyleHint(QFont.TypeWriter)
        self.text.setFont(mono)
        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        copy = buttons.addButton("Copy", QDialogButtonBox.ActionRole)
        copy.clicked.connect(lambda: QGuiApplication.clipboard().setText(self.text.toPlainText()))
        save = buttons.addButton("Save settings as JSON…", QDialogButtonBox.ActionRole)
        save.setEnabled(cfg is not None)
        save.clicked.connect(self.save_settings)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(self.text)
        lay.addWidget(buttons)
        for w in (self.nodesSpin, self.nprocSpin, self.portSpin):
            w.valueChanged.connect(self.update_text)
        self.addrEdit.textChanged.connect(self.update_text)
        self.update_text()

    def update_text(self) -> None:
        nodes = self.nodesSpin.value()
        lines = [
            f"# Run '{self.run_name}' on {nodes} machines x {self.nprocSpin.value()} processes.",
            "# 1. Save the settings (button below) as train.json and copy it to every machine.",
            f"# 2. Every machine needs GPT Studio and the dataset "
            f"'{self.cfg.dataset if self.cfg else 'NAME'}' (copy its folder under datasets/).",
            "# 3. Machine 0's address and port must be reachable from the others.",
            "# 4. Run one line per machine; machine 0 (rank 0) writes the checkpoints.",
            "",
        ]
        cmds = multinode_commands(
            nodes,
            self.nprocSpin.value(),
            self.addrEdit.text().strip() or "ADDRESS",
            self.portSpin.value(),
            "train.json",
            self.run_name,
        )
        for rank, cmd in enumerate(cmds):
            lines += [f"# machine {rank}", cmd, ""]
        self.text.setPlainText("\n".join(lines))

    def save_settings(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save settings", "train.json", "JSON (*.json)")
        if path and self.cfg is not None:
            cfg = TrainConfig.from_dict({**self.cfg.to_dict(), "run_name": self.run_name})
            save_config(cfg, path)
