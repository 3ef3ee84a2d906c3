"""RunControls: the "Run" box: Start / Stop / Resume, how many processes, progress and status lines.

It only shows and asks: its buttons emit signals and the tab decides; `show_state` sets what can be
pressed, `show_status` what the status lines and the progress bar say.
"""

from __future__ import annotations

import os

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
)

from gptstudio.core import devices


def make_button(name: str, text: str, tip: str) -> QPushButton:
    button = QPushButton(text)
    button.setObjectName(name)
    button.setToolTip(tip)
    return button


class RunControls(QGroupBox):
    start_clicked = Signal()
    stop_clicked = Signal()
    resume_clicked = Signal()
    multinode_clicked = Signal()

    def __init__(self, settings=None, parent=None):
        super().__init__("Run", parent)
        self.settings = settings
        self.startButton = make_button("startButton", "Start", "Start a new run with the Config tab's settings.")
        self.stopButton = make_button("stopButton", "Stop", "Stop after the current iteration and save a checkpoint.")
        self.resumeButton = make_button(
            "resumeButton", "Resume", "Continue the selected (or the last) stopped run from its checkpoint."
        )
        self.multiNodeButton = make_button(
            "multiNodeButton", "Several machines…", "Show the torchrun commands that run this job on several machines."
        )
        for button, signal in (
            (self.startButton, self.start_clicked),
            (self.stopButton, self.stop_clicked),
            (self.resumeButton, self.resume_clicked),
            (self.multiNodeButton, self.multinode_clicked),
        ):
            button.clicked.connect(signal)
        self._build_processes()
        self.trainProgress = QProgressBar(objectName="trainProgress")
        self.trainProgress.setRange(0, 1)
        self.trainProgress.setValue(0)
        self.trainStatus = QLabel("No run yet. Choose a dataset and settings, then press Start.")
        self.trainStatus.setObjectName("trainStatus")
        self.trainStatus.setWordWrap(True)
        self.trainStatus.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.trainStatus.setMinimumHeight(90)
        self.trainStatus.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)

        layout = QVBoxLayout(self)
        row = QHBoxLayout()
        for button in (self.startButton, self.stopButton, self.resumeButton):
            row.addWidget(button)
        layout.addLayout(row)
        row = QHBoxLayout()
        row.addWidget(self.useTorchrunCheck)
        row.addWidget(self.nprocSpin)
        row.addStretch(1)
        layout.addLayout(row)
        layout.addWidget(self.multiNodeButton, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.trainProgress)
        layout.addWidget(self.trainStatus)
        self._running = False
        self.show_state(running=False, can_start=False, start_tip="", resume_candidate=None)

    def _build_processes(self) -> None:
        """The torchrun choice and its number of processes, remembered in the settings."""
        gpus = sum(1 for d in devices.available_devices() if d.type == "cuda")
        default = gpus if gpus > 1 else 2
        self.useTorchrunCheck = QCheckBox("Several processes (torchrun)", objectName="useTorchrunCheck")
        self.useTorchrunCheck.setToolTip(
            "Train with torch.distributed (DDP) in a child process: one process per "
            "GPU, or several CPU processes with the gloo backend."
        )
        self.nprocSpin = QSpinBox(objectName="nprocSpin")
        self.nprocSpin.setRange(1, max(gpus, os.cpu_count() or 1, 2))
        self.nprocSpin.setValue(int(self.settings.get("training.nproc", default)) if self.settings else default)
        self.nprocSpin.setToolTip(
            f"Processes per machine ({gpus} GPU{'s' if gpus != 1 else ''} found; CPU processes use the gloo backend)."
        )
        self.useTorchrunCheck.setChecked(bool(self.settings and self.settings.get("training.torchrun", False)))
        self.useTorchrunCheck.toggled.connect(self._on_torchrun_toggled)
        self.nprocSpin.valueChanged.connect(lambda v: self._remember("training.nproc", v))

    # ----- public API

    def processes(self) -> int:
        """How many torchrun processes the user chose; 0 to train in this process."""
        return self.nprocSpin.value() if self.useTorchrunCheck.isChecked() else 0

    def show_state(self, *, running: bool, can_start: bool, start_tip: str, resume_candidate: str | None) -> None:
        self._running = running
        self.startButton.setEnabled(can_start)
        self.startButton.setToolTip(start_tip)
        self.stopButton.setEnabled(running)
        self.resumeButton.setEnabled(resume_candidate is not None)
        self.resumeButton.setToolTip(
            f"Continue run '{resume_candidate}' from its last checkpoint."
            if resume_candidate
            else "Select a stopped run to continue it from its last checkpoint."
        )
        self.useTorchrunCheck.setEnabled(not running)
        self.nprocSpin.setEnabled(not running and self.useTorchrunCheck.isChecked())

    def show_stopping(self) -> None:
        self.stopButton.setEnabled(False)

    def show_status(self, text: str, progress: tuple[int, int] | None = None) -> None:
        if text:
            self.trainStatus.setText(text)
        if progress is not None:
            self.trainProgress.setRange(0, progress[1])
            self.trainProgress.setValue(progress[0])

    # -----

    @Slot(bool)
    def _on_torchrun_toggled(self, on: bool) -> None:
        self.nprocSpin.setEnabled(on and not self._running)
        self._remember("training.torchrun", bool(on))

    def _remember(self, key: str, value) -> None:
        if self.settings is not None:
            self.settings.set(key, value)
