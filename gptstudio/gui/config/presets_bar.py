"""Presets: a recipe chosen from a list (built-in or saved by the person), saving and deleting one's own."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QInputDialog, QLabel, QMessageBox, QPushButton, QWidget

from gptstudio.core import presets
from gptstudio.core.config import TrainConfig
from gptstudio.core.errors import GPTStudioError

CHOOSE = "Choose a preset…"


class PresetsBar(QWidget):
    """Signals out: `sig_preset_chosen(name)` (the tab applies it), `sig_save_requested(name)` (the tab saves
    its settings under that name, then calls reload). Methods in: reload, select, follow, clear_choice,
    delete_preset; read: names, chosen."""

    sig_preset_chosen = Signal(str)
    sig_save_requested = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.combo = QComboBox(
            objectName="presetCombo",
            minimumContentsLength=26,
            toolTip="Fill the form with a recipe; your dataset stays selected.",
        )
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.combo.activated.connect(self._on_activated)
        self.save_button = QPushButton(
            "Save preset…", objectName="savePresetButton", toolTip="Save the current settings as a preset of your own."
        )
        self.save_button.clicked.connect(self._ask_save)
        self.delete_button = QPushButton(
            "Delete preset", objectName="deletePresetButton", toolTip="Delete the selected preset of your own."
        )
        self.delete_button.clicked.connect(self._ask_delete)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Preset:"))
        layout.addWidget(self.combo)
        layout.addWidget(self.save_button)
        layout.addWidget(self.delete_button)
        self.reload()

    # ---- methods in

    def reload(self, select: str | None = None) -> None:
        """Read the presets again (the person's may have changed) and show `select` as chosen."""
        combo = self.combo
        combo.blockSignals(True)
        combo.clear()
        combo.addItem(CHOOSE, None)
        for name in presets.BUILTIN_PRESETS:
            combo.addItem(name, ("builtin", name))
        mine = presets.user_presets()
        if mine:
            combo.insertSeparator(combo.count())
            for name in mine:
                combo.addItem(f"{name}  (yours)", ("user", name))
        combo.blockSignals(False)
        self.select(select)

    def select(self, name: str | None) -> None:
        """Show a preset as the chosen one (None: no preset)."""
        index = next((i for i in range(self.combo.count()) if (self.combo.itemData(i) or (None, None))[1] == name), 0)
        self.combo.setCurrentIndex(index if name else 0)
        self._update_buttons()

    def clear_choice(self) -> None:
        self.select(None)

    def follow(self, cfg: TrainConfig) -> None:
        """Once the settings no longer match the chosen preset, stop showing its name."""
        name = self.chosen()
        settings = presets.all_presets().get(name) if name else None
        if name and (settings is None or presets.apply_preset(settings, cfg) != cfg):
            self.clear_choice()

    def delete_preset(self, name: str) -> None:
        presets.delete_user_preset(name)
        self.reload()

    # ---- read

    def names(self) -> list[str]:
        return [self.combo.itemData(i)[1] for i in range(self.combo.count()) if self.combo.itemData(i)]

    def chosen(self) -> str | None:
        data = self.combo.currentData()
        return data[1] if data else None

    # ---- internals

    def _is_mine(self) -> bool:
        data = self.combo.currentData()
        return bool(data) and data[0] == "user"

    def _update_buttons(self) -> None:
        self.delete_button.setEnabled(self._is_mine())

    def _on_activated(self, index: int) -> None:
        data = self.combo.itemData(index)
        if data:
            self.sig_preset_chosen.emit(data[1])
        self._update_buttons()

    def _ask_save(self) -> None:
        default = self.chosen() if self._is_mine() else ""
        name, ok = QInputDialog.getText(self, "Save preset", "Name of the preset:", text=default or "")
        name = name.strip()
        if not ok or not name:
            return
        if (
            name in presets.user_presets()
            and QMessageBox.question(self, "Save preset", f"Replace your preset '{name}'?")
            != QMessageBox.StandardButton.Yes
        ):
            return
        self.sig_save_requested.emit(name)

    def _ask_delete(self) -> None:
        name = self.chosen()
        if not (name and self._is_mine()):
            return
        if (
            QMessageBox.question(self, "Delete preset", f"Delete your preset '{name}'?")
            != QMessageBox.StandardButton.Yes
        ):
            return
        try:
            self.delete_preset(name)
        except (GPTStudioError, OSError) as e:
            QMessageBox.warning(self, "Cannot delete the preset", str(e))
