"""The main window: four tabs (Dataset, Config, Training, Playground), menus, status bar, remembered layout.

The tabs know nothing of each other; this module wires their documented signals to each other's
public methods (checked with hasattr, so a tab can grow its API without touching the window).
"""

from __future__ import annotations

import importlib
import platform
from functools import lru_cache
from pathlib import Path

from PySide6.QtCore import QByteArray, Qt, QUrl, qVersion
from PySide6.QtGui import QAction, QDesktopServices, QIcon, QKeySequence
from PySide6.QtWidgets import QLabel, QMainWindow, QMessageBox, QTabWidget, QVBoxLayout, QWidget

import gptstudio
from gptstudio.core.resources import resource_path
from gptstudio.core.workspace import Workspace
from gptstudio.gui.settings import AppSettings

ICON_DIR = resource_path("icons")

# (tab title, module, class): the order here is the order of the tabs and of Ctrl+1..4
TAB_SPECS = (
    ("Dataset", "gptstudio.gui.dataset_tab", "DatasetTab"),
    ("Config", "gptstudio.gui.config_tab", "ConfigTab"),
    ("Training", "gptstudio.gui.training_tab", "TrainingTab"),
    ("Playground", "gptstudio.gui.playground_tab", "PlaygroundTab"),
)


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
        self.tab_widgets: dict[str, QWidget] = {}
        for title, module, cls in TAB_SPECS:
            tab = self._make_tab(title, module, cls)
            self.tab_widgets[title] = tab
            self.tabs.addTab(tab, title)
        self.setCentralWidget(self.tabs)
        self._wire_tabs()
        self._build_menus()
        self._build_status_bar()
        self._restore_layout()

    # ---- tabs -------------------------------------------------------------------------------------

    def _make_tab(self, title: str, module: str, cls: str) -> QWidget:
        try:
            tab_class = getattr(importlib.import_module(module), cls)
            return tab_class(self.workspace, self.settings, self)
        except Exception as e:
            if isinstance(e, ModuleNotFoundError) and e.name == module:
                # a build without this tab's module (tabs are developed separately): say so, keep the rest
                return self._message_page(f"The {title} tab is coming in a later version.")
            # one broken tab must not take the whole app down: log it and say so in the tab
            from gptstudio.gui.errors import log_exception, log_file

            log_exception(type(e), e, e.__traceback__)
            return self._message_page(
                f"The {title} tab could not be loaded: {type(e).__name__}: {e}\nDetails were written to {log_file()}."
            )

    @staticmethod
    def _message_page(text: str) -> QWidget:
        page = QWidget()
        label = QLabel(text, wordWrap=True, objectName="tabMessage")
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        QVBoxLayout(page).addWidget(label, 0, Qt.AlignmentFlag.AlignTop)
        return page

    def tab(self, title: str) -> QWidget:
        return self.tab_widgets[title]

    def show_tab(self, title: str) -> None:
        if title in self.tab_widgets:
            self.tabs.setCurrentWidget(self.tab_widgets[title])

    def _wire_tabs(self) -> None:
        data, config = self.tab("Dataset"), self.tab("Config")
        if hasattr(data, "sig_show_tab"):
            data.sig_show_tab.connect(self.show_tab)
        if hasattr(data, "sig_status"):
            data.sig_status.connect(lambda text: self.statusBar().showMessage(text, 8000))
        if hasattr(data, "sig_dataset_selected") and hasattr(config, "set_dataset"):
            data.sig_dataset_selected.connect(config.set_dataset)
            if data.selected_dataset():  # the dataset remembered from last time
                config.set_dataset(data.selected_dataset())
        if hasattr(data, "sig_datasets_changed") and hasattr(config, "refresh_datasets"):
            data.sig_datasets_changed.connect(config.refresh_datasets)
        training = self.tab("Training")
        if hasattr(training, "set_config_source") and hasattr(config, "config"):
            training.set_config_source(config.config)
        if hasattr(training, "set_config_valid") and hasattr(config, "sig_validity_changed"):
            config.sig_validity_changed.connect(training.set_config_valid)
            training.set_config_valid(config.is_valid())
        playground = self.tab("Playground")
        if hasattr(playground, "refresh_checkpoints"):
            # new checkpoints show up in the Playground's list as soon as training writes them
            for name in ("sig_run_finished", "sig_checkpoint_saved"):
                if hasattr(training, name):
                    getattr(training, name).connect(playground.refresh_checkpoints)
        if hasattr(playground, "sig_status"):
            playground.sig_status.connect(lambda text: self.statusBar().showMessage(text, 8000))

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
        data = self.tab("Dataset")
        file_menu = self.menuBar().addMenu("&File")
        file_menu.addAction(
            self._action(
                "&Import text…",
                lambda: self._on_dataset_tab("open_file_dialog"),
                QKeySequence.StandardKey.Open,
                "actionImportText",
            )
        )
        file_menu.addAction(
            self._action(
                "Import &folder…",
                lambda: self._on_dataset_tab("open_folder_dialog"),
                "Ctrl+Shift+O",
                "actionImportFolder",
            )
        )
        file_menu.addAction(
            self._action("Use &demo text", lambda: self._on_dataset_tab("use_demo_text"), None, "actionDemoText")
        )
        file_menu.addSeparator()
        file_menu.addAction(
            self._action("Open &workspace folder", self.open_workspace_folder, None, "actionOpenWorkspace")
        )
        file_menu.addSeparator()
        file_menu.addAction(self._action("&Quit", self.close, "Ctrl+Q", "actionQuit"))
        for action in file_menu.actions()[:3]:
            action.setEnabled(hasattr(data, "use_demo_text"))

        view_menu = self.menuBar().addMenu("&View")
        for i, (title, _m, _c) in enumerate(TAB_SPECS):
            view_menu.addAction(
                self._action(
                    f"&{title}", lambda _=False, t=title: self.show_tab(t), f"Ctrl+{i + 1}", f"actionShow{title}"
                )
            )

        help_menu = self.menuBar().addMenu("&Help")
        help_menu.addAction(self._action("&About GPT Studio", self.show_about, None, "actionAbout"))

    def _on_dataset_tab(self, method: str) -> None:
        self.show_tab("Dataset")
        getattr(self.tab("Dataset"), method)()

    def _build_status_bar(self) -> None:
        self.device_label = QLabel(f"Device: {_default_device()}", objectName="deviceLabel")
        self.device_label.setToolTip("Training and generation use this device unless the Config tab says otherwise.")
        self.statusBar().addPermanentWidget(self.device_label)
        self.statusBar().showMessage(f"Workspace: {self.workspace.home}", 8000)

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
        # a tab may veto closing (e.g. to ask whether to stop a training run)
        if any(hasattr(t, "confirm_close") and not t.confirm_close() for t in self.tab_widgets.values()):
            event.ignore()
            return
        self.save_layout()
        for tab in self.tab_widgets.values():
            if hasattr(tab, "shutdown"):
                tab.shutdown()  # stop workers cleanly before their threads are destroyed
        self.settings.save()  # tabs keep their choices in memory (set(..., save=False)); write them once
        super().closeEvent(event)
