"""TrainingRunner: one training run at a time, in this process or under torchrun, on the GUI's job runner.

The run is a plain engine job (core/launch.py: train_here or train_with_torchrun) started on a
`JobRunner` with `report=pump.push`, so its events reach the GUI through the `EventPump` (at most
~10 deliveries a second). Whatever happens the pump delivers exactly one Finished, and `ended`
follows once the job's thread is done.
"""

from __future__ import annotations

import gc
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from gptstudio.core import trainer  # imported with the window: see below
from gptstudio.core.config import TrainConfig
from gptstudio.core.launch import train_here, train_with_torchrun
from gptstudio.gui.jobs import Job, JobRunner
from gptstudio.gui.training.event_pump import EventPump

# train_here imports the trainer when it runs, so that the command line starts without it. In the
# window it is imported up front instead: imported at Start by the training thread, its modules would
# hold the GIL (and their import locks) for a good part of a second while the GUI draws. What the
# first optimizer step imports (trainer.warm_up: seconds of torch's compiler stack) is imported in
# the background once the window has been up for WARM_UP_AFTER_MS.
WARM_UP_AFTER_MS = 1500


class TrainingRunner(QObject):
    ended = Signal()  # the run's job is over; its Finished was delivered before

    def __init__(self, home: Path, parent: QObject | None = None):
        super().__init__(parent)
        self.home = Path(home)
        self.pump = EventPump(self)
        self.run_name: str | None = None
        self._jobs = JobRunner(self)
        self._jobs.finished.connect(self._on_job_done)
        self._job: Job | None = None
        self._warm_up = JobRunner(self)
        self._warm_up.finished.connect(self._on_warmed_up)
        self._warmed_up = self._closed = False
        QTimer.singleShot(WARM_UP_AFTER_MS, self, self._start_warm_up)

    def start(self, config: TrainConfig, *, nproc: int = 0, overrides: dict | None = None) -> None:
        """Train `config` (a resume when init_from="resume", with `overrides` on its saved settings):
        here when nproc is 0, else with nproc processes under torchrun."""
        self.run_name = config.run_name
        self.pump.start()
        if nproc:
            self._job = self._jobs.start(
                train_with_torchrun, config, home=self.home, nproc=nproc, overrides=overrides, report=self.pump.push
            )
            return
        self._job = self._jobs.start(train_here, config, home=self.home, overrides=overrides, report=self.pump.push)

    def stop(self) -> None:
        """Ask the run to save a checkpoint and stop (it ends, and says so, within an iteration or so)."""
        if self._job is not None:
            self._job.cancel()

    def is_running(self) -> bool:
        return self._job is not None

    def warmed_up(self) -> bool:
        """True once trainer.warm_up has run in the background (it starts WARM_UP_AFTER_MS after this)."""
        return self._warmed_up

    def _start_warm_up(self) -> None:
        if not self._closed and not self._warmed_up:
            self._warm_up.start(trainer.warm_up)

    @Slot()
    def _on_warmed_up(self) -> None:
        self._warmed_up = True
        # The window and every module it needs are loaded now (torch's compiler stack included: 340,000
        # objects). Python's cycle collector walks them all at each full collection, in the GUI thread
        # (app.collect_garbage_on_gui_thread): 150 ms each. Frozen, they are left out of collections
        # (refcounting still frees them): a full collection then takes a few ms.
        gc.freeze()

    @property
    def job(self) -> Job | None:
        """The run's job (its thread), while it runs."""
        return self._job

    def shutdown(self, timeout_ms: int = 60_000) -> bool:
        """Stop the run and wait for it; True when it ended in time (its events are delivered)."""
        self._closed = True
        self._warm_up.shutdown(timeout_ms)  # an import cannot be cancelled: it ends by itself
        if self._job is None:
            return True
        if not self._jobs.shutdown(timeout_ms):
            return False
        self._on_job_done()
        return True

    @Slot()
    def _on_job_done(self) -> None:
        if self._job is None:
            return
        self._job = None
        self.pump.stop()  # delivers the rest of the run's events, its Finished included
        self.run_name = None
        self.ended.emit()
