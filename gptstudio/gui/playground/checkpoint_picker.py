"""Which checkpoint answers: a list of the offered checkpoints (each run's latest and best, files
opened from elsewhere, pretrained GPT-2 models), a button to open a checkpoint file, a menu to add a
pretrained GPT-2 (by name, or a Hugging Face folder), and a button to export the chosen checkpoint.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QFileDialog, QHBoxLayout, QLabel, QMenu, QPushButton, QToolButton, QWidget

from gptstudio.core.catalog import CheckpointInfo
from gptstudio.core.pretrained import PRETRAINED_NAMES
from gptstudio.gui.state.start_point import PRETRAINED_SIZES

NO_CHECKPOINTS = "No checkpoints yet: train a model, or open a checkpoint file"


class CheckpointCombo(QComboBox):
    """A list of CheckpointInfo, one line each (name, dataset, tokenizer, iteration, val loss)."""

    def __init__(self, name: str, min_chars: int, parent=None):
        super().__init__(parent, objectName=name)
        self.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        self.setMinimumContentsLength(min_chars)

    def set_choices(self, infos: list[CheckpointInfo], select_path=None, fallback: int = 0) -> None:
        """Fill without signalling; select `select_path` if offered, else the `fallback`-th entry."""
        self.blockSignals(True)
        self.clear()
        for info in infos:
            self.addItem(info.describe(), info)
            self.setItemData(self.count() - 1, str(info.path), Qt.ToolTipRole)
        if not infos:
            self.addItem(NO_CHECKPOINTS, None)
        paths = [str(c.path) for c in infos]
        if select_path is not None and str(select_path) in paths:
            self.setCurrentIndex(paths.index(str(select_path)))
        elif fallback < len(paths):
            self.setCurrentIndex(fallback)
        self.blockSignals(False)

    def current(self) -> CheckpointInfo | None:
        info = self.currentData()
        return info if isinstance(info, CheckpointInfo) else None


class CheckpointPicker(QWidget):
    changed = Signal()  # another checkpoint was chosen
    fileChosen = Signal(str)  # the user picked a checkpoint file to open
    pretrainedChosen = Signal(str)  # the user picked a pretrained GPT-2: a name or a Hugging Face folder

    def __init__(self, home, parent=None):
        super().__init__(parent)
        self.home = Path(home)
        self.combo = CheckpointCombo("checkpointCombo", 30)
        self.open_button = QPushButton(
            "Open checkpoint file…",
            objectName="openCheckpointButton",
            toolTip="Use a nanoGPT ckpt.pt or a GPT Studio checkpoint from anywhere on disk.",
        )
        self.pretrained_button = QToolButton(
            text="GPT-2…",
            objectName="openPretrainedButton",
            toolTip="Talk to a pretrained GPT-2 without training (downloaded once if it is not on this machine), "
            "or compare it with your fine-tuned run.",
            popupMode=QToolButton.InstantPopup,
        )
        menu = QMenu(self.pretrained_button)
        for name in PRETRAINED_NAMES:
            menu.addAction(
                f"{name} ({PRETRAINED_SIZES.get(name, '?')} parameters)", partial(self.pretrainedChosen.emit, name)
            )
        menu.addSeparator()
        menu.addAction("Hugging Face folder…", self._ask_for_folder)
        self.pretrained_button.setMenu(menu)
        self.export_button = QPushButton(
            "Export…",
            objectName="exportCheckpointButton",
            toolTip="Export the selected checkpoint as a Hugging Face folder or safetensors.",
        )
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(QLabel("Model:"))
        lay.addWidget(self.combo, 1)
        lay.addWidget(self.open_button)
        lay.addWidget(self.pretrained_button)
        lay.addWidget(self.export_button)
        self.combo.currentIndexChanged.connect(self._on_changed)
        self.open_button.clicked.connect(self._ask_for_file)
        self.export_button.clicked.connect(self.export_checkpoint)
        self.set_choices([])

    def set_choices(self, infos: list[CheckpointInfo], select_path=None) -> None:
        """Offer these (without signalling a change: the caller knows), choosing `select_path` if there."""
        self.combo.set_choices(infos, select_path)
        self._update_export()

    def current(self) -> CheckpointInfo | None:
        return self.combo.current()

    def _update_export(self) -> None:
        """Only a checkpoint exports (a pretrained GPT-2 comes from Hugging Face already)."""
        info = self.current()
        self.export_button.setEnabled(info is not None and not info.pretrained)

    def _on_changed(self, *_args) -> None:
        self._update_export()
        self.changed.emit()

    def _ask_for_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open a checkpoint", str(self.home), "Checkpoints (*.pt *.pth *.ckpt);;All files (*)"
        )
        if path:
            self.fileChosen.emit(path)

    def _ask_for_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "A Hugging Face GPT-2 folder", str(self.home))
        if folder:
            self.pretrainedChosen.emit(folder)

    def export_checkpoint(self):
        """Open the export dialog for the chosen checkpoint file (window-modal; returned for tests)."""
        from gptstudio.gui.export_dialog import ExportDialog

        info = self.current()
        if info is None or info.pretrained:
            return None
        dialog = ExportDialog(str(info.path), self.home, self, is_file=True)
        dialog.setAttribute(Qt.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def shutdown(self) -> None:
        """Wait for an export still running (the tab calls this before the window closes)."""
        from gptstudio.gui.export_dialog import ExportDialog

        for dialog in self.findChildren(ExportDialog):
            dialog.shutdown()
