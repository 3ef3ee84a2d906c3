"""The main window: four tabs (Dataset, Config, Training, Playground), menus, status bar, remembered layout.

The tabs know nothing of each other; `wire_tabs` connects their documented signals to each other's
public methods, by name: a name misspelt on either side fails at once (AttributeError) when the
window is built, rather than silently dropping a feature.
"""

from __future__ import annotations

import platform
import sys
from functools import lru_cache
from pathlib import Path

from PySide6.QtCore import QByteArray, Qt, QUrl, qVersion
from PySide6.QtGui import QAction, QDesktopServices, QIcon, QKeySequence
from PySide6.QtWidgets import QLabel, QMainWindow, QMessageBox, QTabWidget, QWidget

import gptstudio
from gptstudio.core.estimates import effective_model_args
from gptstudio.core.resources import resource_path
from gptstudio.core.workspace import Workspace
from gptstudio.gui.config_tab import ConfigTab
from gptstudio.gui.dataset_tab import DatasetTab
from gptstudio.gui.desktop_menu import DesktopEntryAction
from gptstudio.gui.playground_tab import PlaygroundTab
from gptstudio.gui.settings import AppSettings
from gptstudio.gui.training_tab import TrainingTab

ICON_DIR = resource_path("icons")

TAB_TITLES = ("Dataset", "Config", "Training", "Playground")  # the order of the tabs and of Ctrl+1..4
STATUS_MS = 8000  # how long a tab's status message stays in the status bar


@lru_cache(maxsize=1)
def app_icon() -> QIcon:
    """The app icon at every shipped size (the desktop picks the sharpest one)."""
    icon = QIcon()
    for png in sorted(ICON_DIR.glob("gptstudio-*.png")):
        icon.addFile(str(png))
    if icon.isNull() and (ICON_DIR / "gptstudio.svg").exists():
        icon.addFile(str(ICON_DIR / "gptstudio.svg"))
    return icon


def _default_device() -> str:
    try:
        from gptstudio.core.devices import describe_default_device

        return describe_default_device()
    except Exception as e:  # a broken GPU driver must not stop the window from opening
        return f"unknown ({type(e).__name__})"


def versions_text() -> str:
    """Versions for the About box and bug reports."""
    import PySide6
    import torch

    return (
        f"GPT Studio {gptstudio.__version__}\n"
        f"PyTorch {torch.__version__}\n"
        f"Qt {qVersion()} (PySide6 {PySide6.__version__})\n"
        f"Python {platform.python_version()} on {platform.system()} {platform.machine()}\n"
        f"Device: {_default_device()}"
    )


class MainWindow(QMainWindow):
    def __init__(self, home: Path, settings: AppSettings | None = None):
        super().__init__()
        self.setObjectName("mainWindow")
        self.setWindowTitle("GPT Studio")
        self.setWindowIcon(app_icon())
        self.workspace = Workspace.open(home)
        self.settings = settings or AppSettings()
        self._about_box: QMessageBox | None = None

        self.tabs = QTabWidget(objectName="mainTabs")
        self.tabs.setDocumentMode(True)
        self.dataset_tab = DatasetTab(self.workspace, self.settings, self)
        self.config_tab = ConfigTab(self.workspace, self.settings, self)
        self.training_tab = TrainingTab(self.workspace, self.settings, self)
        self.playground_tab = PlaygroundTab(self.workspace, self.settings, self)
        self.tab_widgets: dict[str, QWidget] = dict(
            zip(TAB_TITLES, (self.dataset_tab, self.config_tab, self.training_tab, self.playground_tab))
        )
        for title, tab in self.tab_widgets.items():
            self.tabs.addTab(tab, title)
        self.setCentralWidget(self.tabs)
        wire_tabs(self, self.dataset_tab, self.config_tab, self.training_tab, self.playground_tab)
        self._build_menus()
        self._build_status_bar()
        self._restore_layout()

    # ---- tabs -------------------------------------------------------------------------------------

    def tab(self, title: str) -> QWidget:
        return self.tab_widgets[title]

    def show_tab(self, title: str) -> None:
        if title in self.tab_widgets:
            self.tabs.setCurrentWidget(self.tab_widgets[title])

    def show_status(self, text: str) -> None:
        self.statusBar().showMessage(text, STATUS_MS)

    # ---- menus and status bar ---------------------------------------------------------------------

    def _action(self, text: str, slot, shortcut=None, name: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        if name:
            action.setObjectName(name)
        action.triggered.connect(slot)
        self.addAction(action)  # shortcuts work even while the menu bar is hidden (e.g. macOS full screen)
        return action

    def _build_menus(self) -> None:
        data = self.dataset_tab
        file_menu = self.menuBar().addMenu("&File")
        file_menu.addAction(
            self._action(
                "&Import text…",
                lambda: self._on_dataset_tab(data.open_file_dialog),
                QKeySequence.StandardKey.Open,
                "actionImportText",
            )
        )
        file_menu.addAction(
            self._action(
                "Import &folder…",
                lambda: self._on_dataset_tab(data.open_folder_dialog),
                "Ctrl+Shift+O",
                "actionImportFolder",
            )
        )
        file_menu.addAction(
            self._action("Use &demo text", lambda: self._on_dataset_tab(data.use_demo_text), None, "actionDemoText")
        )
        file_menu.addSeparator()
        file_menu.addAction(
            self._action("Open &workspace folder", self.open_workspace_folder, None, "actionOpenWorkspace")
        )
        self.desktop_entry_action = None
        if sys.platform.startswith("linux"):  # freedesktop.org menus; macOS and Windows have their own ways
            self.desktop_entry_action = DesktopEntryAction(self)
            self.desktop_entry_action.sig_status.connect(self.show_status)
            self.desktop_entry_action.sig_failed.connect(self.show_error)
            file_menu.addAction(self.desktop_entry_action)
        file_menu.addSeparator()
        file_menu.addAction(self._action("&Quit", self.close, "Ctrl+Q", "actionQuit"))

        view_menu = self.menuBar().addMenu("&View")
        for i, title in enumerate(TAB_TITLES):
            view_menu.addAction(
                self._action(
                    f"&{title}", lambda _=False, t=title: self.show_tab(t), f"Ctrl+{i + 1}", f"actionShow{title}"
                )
            )

        help_menu = self.menuBar().addMenu("&Help")
        help_menu.addAction(self._action("&About GPT Studio", self.show_about, None, "actionAbout"))

    def _on_dataset_tab(self, action) -> None:
        self.show_tab("Dataset")
        action()

    def _build_status_bar(self) -> None:
        self.device_label = QLabel(f"Device: {_default_device()}", objectName="deviceLabel")
        self.device_label.setToolTip("Training and generation use this device unless the Config tab says otherwise.")
        self.statusBar().addPermanentWidget(self.device_label)
        self.statusBar().showMessage(f"Workspace: {self.workspace.home}", 8000)

    def show_error(self, message: str) -> None:
        """A non-blocking warning box for a failed menu action."""
        box = QMessageBox(QMessageBox.Icon.Warning, "GPT Studio", message, QMessageBox.StandardButton.Ok, self)
        box.setObjectName("errorBox")
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    def open_workspace_folder(self) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.workspace.home)))

    def show_about(self) -> None:
        """A non-blocking About box (window-modal `open()`, so tests and the event loop keep going)."""
        if self._about_box is None:
            box = QMessageBox(QMessageBox.Icon.NoIcon, "About GPT Studio", "", QMessageBox.StandardButton.Ok, self)
            box.setObjectName("aboutBox")
            box.setIconPixmap(app_icon().pixmap(64, 64))
            box.setText("<b>GPT Studio</b><br>Train a small GPT on your own text, then talk to it.")
            self._about_box = box
        self._about_box.setInformativeText(
            versions_text().replace("\n", "<br>") + f"<br>Workspace: {self.workspace.home}"
        )
        self._about_box.open()

    # ---- remembered layout ------------------------------------------------------------------------

    def _restore_layout(self) -> None:
        geometry = self.settings.get("window.geometry")
        restored = isinstance(geometry, str) and self.restoreGeometry(QByteArray.fromBase64(geometry.encode("ascii")))
        if not restored:
            self.resize(1280, 820)
        last = self.settings.get("window.last_tab")
        if isinstance(last, int) and 0 <= last < self.tabs.count():
            self.tabs.setCurrentIndex(last)

    def save_layout(self) -> None:
        self.settings.set("window.geometry", bytes(self.saveGeometry().toBase64()).decode("ascii"), save=False)
        self.settings.set("window.last_tab", self.tabs.currentIndex(), save=False)

    def closeEvent(self, event) -> None:
        if not self.training_tab.confirm_close():  # it asks whether to stop a training run
            event.ignore()
            return
        self.save_layout()
        for tab in (self.dataset_tab, self.config_tab, self.training_tab, self.playground_tab):
            tab.shutdown()  # stop their jobs cleanly before their threads are destroyed
        if self.desktop_entry_action is not None:
            self.desktop_entry_action.shutdown()
        self.settings.save()  # tabs keep their choices in memory (set(..., save=False)); write them once
        super().closeEvent(event)


def model_width(cfg) -> int:
    """n_embd of the model these settings build (a pretrained GPT-2's own when starting from one)."""
    return int(effective_model_args(cfg, 0)["n_embd"])


def wire_tabs(
    window: MainWindow, data: DatasetTab, config: ConfigTab, training: TrainingTab, playground: PlaygroundTab
) -> None:
    """The tabs' seams, each a typed signal connected to a public method."""
    data.sig_show_tab.connect(window.show_tab)
    data.sig_status.connect(window.show_status)
    data.sig_dataset_selected.connect(config.set_dataset)
    data.sig_datasets_changed.connect(config.refresh_datasets)
    # the tokenizer comparison prices embeddings at the width of the model being configured
    config.sig_config_changed.connect(lambda cfg: data.set_model_width(model_width(cfg)))
    data.set_model_width(model_width(config.config()))
    if data.selected_dataset():  # the dataset remembered from last time in this workspace
        config.set_dataset(data.selected_dataset())
    training.set_config_source(config.config)
    config.sig_validity_changed.connect(training.set_config_valid)
    training.set_config_valid(config.is_valid())
    # new checkpoints show up in the Playground's list as soon as training writes them
    training.sig_run_finished.connect(playground.refresh_checkpoints)
    training.sig_checkpoint_saved.connect(playground.refresh_checkpoints)
    playground.sig_status.connect(window.show_status)
