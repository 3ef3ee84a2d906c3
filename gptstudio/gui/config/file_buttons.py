"""Settings files: open a .json/.toml, save as one, import a nanoGPT config/*.py, back to the defaults."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QPushButton, QWidget

from gptstudio.gui.settings import AppSettings

LAST_FOLDER_KEY = "config.last_folder"


class ConfigFileButtons(QWidget):
    """Signals out, each after the person chose a file: `sig_open(path)`, `sig_save(path)`, `sig_import(path)`;
    and `sig_defaults()`. `suggest_save_name(text)` sets the file name the save dialog proposes."""

    sig_open = Signal(object)  # Path
    sig_save = Signal(object)
    sig_import = Signal(object)
    sig_defaults = Signal()

    def __init__(self, settings: AppSettings, parent=None):
        super().__init__(parent)
        self.settings = settings
        self._save_name = "config"
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for text, name, slot, tip in (
            ("Open…", "openConfigButton", self._ask_open, "Load settings from a .json or .toml file."),
            (
                "Save as…",
                "saveConfigButton",
                self._ask_save,
                "Save these settings as .json or .toml (chosen by the file name).",
            ),
            (
                "Import nanoGPT config…",
                "importNanoGPTButton",
                self._ask_import,
                "Read a nanoGPT config/*.py file. It is parsed, never run: files with code in them are refused.",
            ),
            (
                "Defaults",
                "resetDefaultsButton",
                self.sig_defaults.emit,
                "Reset every setting to its default (the dataset stays).",
            ),
        ):
            button = QPushButton(text, objectName=name, toolTip=tip)
            button.clicked.connect(slot)
            layout.addWidget(button)

    def suggest_save_name(self, name: str) -> None:
        self._save_name = name or "config"

    def _last_folder(self) -> str:
        return str(self.settings.get(LAST_FOLDER_KEY) or Path.home())

    def _chosen(self, path: str) -> Path | None:
        if not path:
            return None
        self.settings.set(LAST_FOLDER_KEY, str(Path(path).parent))
        return Path(path)

    def _ask_open(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open config", self._last_folder(), "Configs (*.json *.toml *.py);;All files (*)"
        )
        if chosen := self._chosen(path):
            self.sig_open.emit(chosen)

    def _ask_save(self) -> None:
        suggestion = str(Path(self._last_folder()) / f"{self._save_name}.json")
        path, _ = QFileDialog.getSaveFileName(self, "Save config as", suggestion, "JSON (*.json);;TOML (*.toml)")
        if chosen := self._chosen(path):
            self.sig_save.emit(chosen)

    def _ask_import(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Import nanoGPT config", self._last_folder(), "nanoGPT config (*.py);;All files (*)"
        )
        if chosen := self._chosen(path):
            self.sig_import.emit(chosen)
