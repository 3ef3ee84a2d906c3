"""TrainingRunner: one training run at a time, in this process or under torchrun, on the GUI's job runner.

The run is a plain engine job (core/launch.py: train_here or train_with_torchrun) started on a
`JobRunner` with `report=pump.push`, so its events reach the GUI through the `EventPump` (at most
~10 deliveries a second). Whatever happens the pump delivers exactly one Finished, and `ended`
follows once the job's thread is done.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot

from gptstudio.core.config import TrainConfig
from gptstudio.core.launch import train_here, train_with_torchrun
from gptstudio.gui.jobs import Job, JobRunner
from gptstudio.gui.training.event_pump import EventPump

# The training thread runs Python between torch ops. With the default 5 ms GIL switch interval,
# every Python callback of a repaint can wait 5 ms for the GIL; 1 ms keeps the GUI thread's waits
# short at a negligible cost to training. (A torchrun child has a GIL of its own.)
GIL_SWITCH_S = 0.001


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
        self._switch_interval: float | None = None

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
        self._switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(min(self._switch_interval, GIL_SWITCH_S))
        self._job = self._jobs.start(train_here, config, home=self.home, overrides=overrides, report=self.pump.push)

    def stop(self) -> None:
        """Ask the run to save a checkpoint and stop (it ends, and says so, within an iteration or so)."""
        if self._job is not None:
            self._job.cancel()

    def is_running(self) -> bool:
        return self._job is not None

    @property
    def job(self) -> Job | None:
        """The run's job (its thread), while it runs."""
        return self._job

    def shutdown(self, timeout_ms: int = 60_000) -> bool:
        """Stop the run and wait for it; True when it ended in time (its events are delivered)."""
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
        if self._switch_interval is not None:
            sys.setswitchinterval(self._switch_interval)
            self._switch_interval = None
        self.run_name = None
        self.ended.emit()
