"""The Training tab: start / stop / resume runs, live loss and learning-rate plots, run history.

An assembler of the panels in gptstudio/gui/training/: RunControls (the Run box), RunsList,
TrainingPlots (over core.curves.RunCurves), SamplePreview and TrainingLog, with a TrainingRunner
that runs the engine's training job and delivers its events. This module decides what the buttons
do and routes each event to the panels that show it.

Public API for the window and the other tabs: `set_config_source(fn)`, `set_config_valid(bool)`,
`is_running()`, `confirm_close()`, `shutdown()`, `start()`, `stop()`, `resume()`, `select_runs(names)`,
`show_multinode_dialog()`, the signals `sig_run_finished(str)` and `sig_checkpoint_saved(str)`, and
the panels as attributes (`controls`, `runs`, `plots`, `sample`, `log`, `status`, `runner`).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QInputDialog, QLineEdit, QMessageBox, QSplitter, QVBoxLayout, QWidget

from gptstudio.core.config import TrainConfig
from gptstudio.core.curves import RunCurves, read_run_curves
from gptstudio.core.errors import GPTStudioError
from gptstudio.core.events import Finished
from gptstudio.core.workspace import Workspace
from gptstudio.gui.state.run_status import RunStatus
from gptstudio.gui.state.start_checks import name_problem, start_problems, suggested_name
from gptstudio.gui.training.multinode_dialog import MultiNodeDialog
from gptstudio.gui.training.plots import TrainingPlots
from gptstudio.gui.training.run_controls import RunControls
from gptstudio.gui.training.runs_list import RunsList
from gptstudio.gui.training.text_views import SamplePreview, TrainingLog, titled
from gptstudio.gui.training.training_runner import TrainingRunner


class TrainingTab(QWidget):
    sig_run_finished = Signal(str)  # run name, when a run ends (completed, stopped or failed)
    sig_checkpoint_saved = Signal(str)  # run name, after each checkpoint the engine saves

    def __init__(self, workspace, settings, parent=None):
        super().__init__(parent)
        self.setObjectName("trainingTab")
        self.workspace = workspace if isinstance(workspace, Workspace) else Workspace.open(workspace)
        self.settings = settings
        self._config_source: Callable[[], TrainConfig] | None = None
        self._config_valid = True
        self.status = RunStatus()
        self.controls = RunControls(settings)
        self.runs = RunsList(self.workspace)
        self.plots = TrainingPlots()
        self.sample = SamplePreview()
        self.log = TrainingLog()
        self.runner = TrainingRunner(self.workspace.home, self)
        self._lay_out()
        self._connect()
        self.runs.refresh()
        self._update_state()

    # ----- public API

    def set_config_source(self, source: Callable[[], TrainConfig]) -> None:
        """Where Start gets its settings (the Config tab's `config`)."""
        self._config_source = source
        self._update_state()

    @Slot(bool)
    def set_config_valid(self, valid: bool) -> None:
        self._config_valid = bool(valid)
        self._update_state()

    def is_running(self) -> bool:
        return self.runner.is_running()

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
        self.runs.shutdown()
        if not self.is_running():
            return self.runner.shutdown(timeout_ms)  # (no run: waits for its background import, if any)
        self.log.log(f"Stopping run {self.runner.run_name} and saving a checkpoint…")
        ended = self.runner.shutdown(timeout_ms)
        if not ended:
            self.log.log("The training did not stop in time; it will stop after its current iteration.", "error")
        return ended

    def select_runs(self, names: list[str]) -> None:
        self.runs.select(names)

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
            f"Run '{self.runner.run_name}' is training. Stop it (a checkpoint is saved, Resume continues later) "
            "and quit?",
        )
        return answer == QMessageBox.Yes

    # ----- start / stop / resume

    @Slot()
    def start(self) -> None:
        """Start a new run with the Config tab's settings (asks for its name)."""
        cfg = None if self.is_running() or not self._config_valid else self._current_config()
        if cfg is None:
            return
        if problems := start_problems(cfg, self.controls.processes()):
            self.log.log("Cannot start: " + " ".join(problems), "error")
            return
        name = self.ask_run_name(suggested_name(self.workspace, cfg))
        if name and (problem := name_problem(self.workspace, name)):
            self.log.log(problem, "error")
        elif name:
            cfg.run_name = name
            cfg.init_from = "scratch" if cfg.init_from == "resume" else cfg.init_from  # continuing is Resume's job
            self._launch(cfg)

    @Slot()
    def stop(self) -> None:
        if self.is_running():
            self.log.log("Stopping after the current iteration; saving a checkpoint…")
            self.runner.stop()
            self.controls.show_stopping()

    @Slot()
    def resume(self) -> None:
        """Continue the selected run (or the most recent stopped one) from its latest checkpoint."""
        name = None if self.is_running() else self.runs.resume_candidate()
        if name is not None:
            self._launch(TrainConfig(init_from="resume", run_name=name), overrides=self.resume_overrides())

    def resume_overrides(self) -> dict:
        """A resumed run keeps its saved settings, but trains on the device chosen on the Config tab."""
        cfg = self._current_config(quiet=True)
        return {} if cfg is None else {"device": cfg.device, "dtype": cfg.dtype, "compile": cfg.compile}

    @Slot()
    def show_multinode_dialog(self) -> MultiNodeDialog:
        """A dialog with copyable torchrun command lines, one per machine."""
        dialog = MultiNodeDialog(
            self.workspace, self._current_config(quiet=True), self.controls.nprocSpin.value(), self
        )
        dialog.show()
        return dialog

    def _current_config(self, quiet: bool = False) -> TrainConfig | None:
        try:
            if self._config_source is not None:
                return self._config_source()
            if not quiet:
                self.log.log("There are no settings to train with yet (the Config tab is missing).", "error")
        except GPTStudioError as e:
            if not quiet:
                self.log.log(str(e), "error")
        return None

    def _launch(self, cfg: TrainConfig, overrides: dict | None = None) -> None:
        name, resumed = cfg.run_name, cfg.init_from == "resume"
        # a resumed run's curves continue its past ones (one file, read here before its events come)
        history = read_run_curves(self.workspace.run_dir(name)) if resumed else RunCurves()
        self.status.reset(best_val=history.best[1] if history.best else None)
        self.plots.show_curves(history, f"Loss: {name}")
        nproc = self.controls.processes()
        self.plots.set_training_here(not nproc)  # in this process, it shares the GIL with the plots
        self.runner.start(cfg, nproc=nproc, overrides=overrides)
        self.runs.set_active_run(name)
        with_procs = f" with {nproc} processes" if nproc else ""
        self.log.log(f"{'Resuming' if resumed else 'Starting'} run '{name}'{with_procs}…")
        self.controls.show_status(f"Run {name}: starting…")
        self._update_state()

    # ----- the run's events

    def _connect(self) -> None:
        c, pump = self.controls, self.runner.pump
        c.start_clicked.connect(self.start)
        c.stop_clicked.connect(self.stop)
        c.resume_clicked.connect(self.resume)
        c.multinode_clicked.connect(self.show_multinode_dialog)
        self.runs.past_run_selected.connect(self._summarise_past_run)
        self.runs.curves_read.connect(self._show_curves)
        self.runs.deleted.connect(self._on_deleted)
        self.runs.refreshed.connect(self._update_state)  # Resume follows the runs as listed
        self.runs.message.connect(lambda level, text: self.log.log(text, level))
        # each panel takes the events it shows; the tab adds the status line and the end
        for signal, takers in (
            (pump.sig_started, [self.status.on_started, self.plots.add, self.log.show_event, self.runs.refresh]),
            (pump.sig_steps, [self.status.on_steps, self.plots.add_steps]),
            (pump.sig_eval, [self.status.on_eval, self.plots.add, self.sample.show_eval, self.log.show_event]),
            (pump.sig_checkpoint, [self.plots.add, self.log.show_event, self._on_checkpoint]),
            (pump.sig_problem, [self.log.show_event]),
            (pump.sig_drained, [self._show_progress]),
            (pump.sig_finished, [self._on_finished]),
        ):
            for taker in takers:
                signal.connect(taker)
        pump.sig_message.connect(lambda level, text: self.log.log(text, level))
        self.runner.ended.connect(self._on_ended)

    @Slot(object)
    def _on_checkpoint(self, _ev) -> None:
        self.sig_checkpoint_saved.emit(self.runner.run_name or "")

    @Slot()
    def _show_progress(self) -> None:
        self.plots.changed()
        progress = self.status.progress()
        self.controls.show_status(self.status.text(self.plots.curves.smoothed_loss), progress)
        if progress and self.is_running() and self.runner.run_name:
            self.runs.show_progress(self.runner.run_name, *progress, self.status.best_val, self.status.best_bpb)

    @Slot(object)
    def _on_finished(self, ev: Finished) -> None:
        name = self.runner.run_name or ""
        self.log.log(self.status.on_finished(ev, name), "error" if ev.status == "failed" else "info")
        self._show_progress()
        self.plots.redraw(force=True)
        self.sig_run_finished.emit(name)

    @Slot()
    def _on_ended(self) -> None:
        self.plots.set_training_here(False)
        self.runs.set_active_run(None)
        self.runs.refresh()
        self._update_state()

    # ----- run history

    @Slot(str)
    def _summarise_past_run(self, name: str) -> None:
        self.status.summarise(name, self.runs.run(name))
        self.controls.show_status(self.status.text())

    @Slot(object, object, dict)
    def _show_curves(self, full: str | None, curves: RunCurves | None, overlays: dict) -> None:
        if full is not None and curves is not None:
            self.plots.show_curves(curves, f"Loss: {full}")
        # runs with different tokenizers compare only in bits per byte: show those
        shown = [n for n in (self.runs.active_run or self.runs.shown_run, *overlays) if n]
        if len(self.runs.tokenizers(shown)) > 1:
            self.plots.set_unit("bpb")
        self.plots.set_overlays(overlays)

    @Slot(list)
    def _on_deleted(self, names: list[str]) -> None:
        if self.runs.shown_run is None:
            self.plots.show_curves(RunCurves())
        self.plots.set_overlays({})
        self._update_state()

    # ----- layout and state

    def _lay_out(self) -> None:
        left = QWidget()
        column = QVBoxLayout(left)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.controls)
        column.addWidget(self.runs, 1)
        texts = _splitter(Qt.Horizontal, titled("Latest sample", self.sample), titled("Log", self.log))
        right = _splitter(Qt.Vertical, self.plots, texts, stretch=(3, 1))
        main = _splitter(Qt.Horizontal, left, right, stretch=(1, 3))
        main.setSizes([380, 900])
        QVBoxLayout(self).addWidget(main)

    def _update_state(self) -> None:
        running = self.is_running()
        can_start = not running and self._config_valid and self._config_source is not None
        tip = "Start a new run with the Config tab's settings."
        if not can_start:
            tip = "A run is in progress." if running else "Fix the settings on the Config tab first."
        candidate = None if running else self.runs.resume_candidate()
        self.controls.show_state(running=running, can_start=can_start, start_tip=tip, resume_candidate=candidate)


def _splitter(orientation, first: QWidget, second: QWidget, stretch=(1, 1)) -> QSplitter:
    splitter = QSplitter(orientation)
    for i, widget in enumerate((first, second)):
        splitter.addWidget(widget)
        splitter.setStretchFactor(i, stretch[i])
    return splitter
