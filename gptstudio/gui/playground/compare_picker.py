"""Compare mode: a second checkpoint answers every prompt with the same seed and settings, side by side."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QWidget

from gptstudio.core.catalog import CheckpointInfo
from gptstudio.gui.playground.checkpoint_picker import CheckpointCombo


class ComparePicker(QWidget):
    changed = Signal()  # compare mode switched, or another checkpoint chosen

    def __init__(self, parent=None):
        super().__init__(parent)
        self.check = QCheckBox(
            "Compare with",
            objectName="compareCheck",
            toolTip="A second checkpoint answers the same prompt with the same seed and settings, side by side.",
        )
        self.combo = CheckpointCombo("compareCheckpointCombo", 20)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.check)
        lay.addWidget(self.combo, 1)
        self.check.toggled.connect(self._on_changed)
        self.combo.currentIndexChanged.connect(self._on_changed)
        self.set_choices([])
        self._on_changed()

    def set_choices(self, infos: list[CheckpointInfo], select_path=None) -> None:
        """Without a remembered choice, compare with something other than the first checkpoint."""
        self.combo.set_choices(infos, select_path, fallback=1 if len(infos) > 1 else 0)

    def comparing(self) -> bool:
        return self.check.isChecked()

    def choice(self) -> CheckpointInfo | None:
        """The checkpoint in the list (remembered even while compare mode is off)."""
        return self.combo.current()

    def current(self) -> CheckpointInfo | None:
        """The checkpoint that answers as well, or None when not comparing."""
        return self.combo.current() if self.comparing() else None

    def _on_changed(self, *_args) -> None:
        self.combo.setEnabled(self.comparing())
        self.changed.emit()
