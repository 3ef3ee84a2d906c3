"""The app shell: window, tabs, menus, status bar, remembered layout, tab wiring, run_app."""

import platform
import sys
import types

import torch
from PySide6.QtCore import QTimer, QUrl, qVersion
from PySide6.QtGui import QDesktopServices, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QDoubleSpinBox,
    QLabel,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QTabWidget,
    QTextBrowser,
    QWidget,
)

import gptstudio
from gptstudio.core.devices import describe_default_device
from gptstudio.gui import create_main_window
from gptstudio.gui import main_window as mw

DATASET_WIDGETS = [
    "datasetDropArea",
    "datasetNameEdit",
    "tokenizerCombo",
    "valFractionSpin",
    "prepareButton",
    "cancelPrepareButton",
    "prepareProgress",
    "datasetList",
    "datasetPreview",
    "datasetStatsView",
    "datasetDropMessage",
    "datasetError",
]


def test_window_tabs_and_object_names(window, tmp_path):
    assert isinstance(window, QMainWindow) and window.objectName() == "mainWindow"
    assert window.windowTitle() == "GPT Studio" and not window.windowIcon().isNull()
    tabs = window.findChild(QTabWidget, "mainTabs")
    assert [tabs.tabText(i) for i in range(tabs.count())] == ["Dataset", "Config", "Training", "Playground"]
    for name in DATASET_WIDGETS:
        assert window.findChild(QWidget, name) is not None, name
    combo = window.findChild(QComboBox, "tokenizerCombo")
    assert [combo.itemText(i) for i in range(combo.count())] == ["char", "gpt2"]
    spin = window.findChild(QDoubleSpinBox, "valFractionSpin")
    assert (spin.minimum(), spin.maximum(), spin.value()) == (0.01, 0.5, 0.1)
    assert isinstance(window.findChild(QProgressBar, "prepareProgress"), QProgressBar)
    assert isinstance(window.findChild(QTextBrowser, "datasetStatsView"), QTextBrowser)
    assert isinstance(window.findChild(QPushButton, "prepareButton"), QPushButton)
    window.grab().save(str(tmp_path / "main_window.png"))


def test_status_bar_shows_device(window):
    label = window.findChild(QLabel, "deviceLabel")
    assert label.text() == f"Device: {describe_default_device()}"


def test_menus_and_shortcuts(qtbot, window):
    actions = {a.objectName(): a for a in window.actions() if a.objectName()}
    assert actions["actionImportText"].shortcut() == QKeySequence(QKeySequence.StandardKey.Open)
    assert actions["actionQuit"].shortcut().toString() == "Ctrl+Q"
    menus = [a.text().replace("&", "") for a in window.menuBar().actions()]
    assert menus == ["File", "View", "Help"]
    tabs = window.tabs
    for i, title in enumerate(["Dataset", "Config", "Training", "Playground"]):
        action = actions[f"actionShow{title}"]
        assert action.shortcut().toString() == f"Ctrl+{i + 1}"
    actions["actionShowTraining"].trigger()
    assert tabs.currentIndex() == 2
    actions["actionShowDataset"].trigger()
    assert tabs.currentIndex() == 0


def test_about_lists_versions(qtbot, window):
    actions = {a.objectName(): a for a in window.actions()}
    actions["actionAbout"].trigger()
    box = window.findChild(QWidget, "aboutBox")
    qtbot.waitUntil(box.isVisible)
    text = box.informativeText()
    for part in (
        gptstudio.__version__,
        torch.__version__,
        qVersion(),
        platform.python_version(),
        describe_default_device(),
    ):
        assert part in text
    box.close()


def test_open_workspace_folder(window, home, monkeypatch):
    opened = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url) or True)
    {a.objectName(): a for a in window.actions()}["actionOpenWorkspace"].trigger()
    assert opened == [QUrl.fromLocalFile(str(home))]


def test_geometry_and_last_tab_restored(qtbot, home, monkeypatch):
    # the other tabs out, so the window's minimum size fits the 800x800 offscreen screen
    monkeypatch.setattr(
        mw,
        "TAB_SPECS",
        tuple((t, "gptstudio.gui.no_such_tab", c) if t != "Dataset" else (t, m, c) for t, m, c in mw.TAB_SPECS),
    )
    first = create_main_window(home)
    qtbot.addWidget(first)
    first.show()
    first.setGeometry(37, 41, 700, 560)
    first.tabs.setCurrentIndex(2)
    qtbot.wait(10)
    geometry = first.geometry()
    first.close()
    second = create_main_window(home)
    qtbot.addWidget(second)
    second.show()
    qtbot.wait(10)
    assert second.geometry() == geometry
    assert second.tabs.currentIndex() == 2


class FakeConfigTab(QWidget):
    """Stands in for the Config tab to check the window's wiring contract."""

    def __init__(self, workspace, settings, parent=None):
        super().__init__(parent)
        self.datasets, self.refreshes = [], 0

    def set_dataset(self, name):
        self.datasets.append(name)

    def refresh_datasets(self):
        self.refreshes += 1


def test_dataset_selection_reaches_config_tab(qtbot, home, tmp_path, shakespeare_text, monkeypatch):
    from gptstudio.core import dataset as ds

    fake = types.ModuleType("fake_config_tab")
    fake.ConfigTab = FakeConfigTab
    monkeypatch.setitem(sys.modules, "fake_config_tab", fake)
    specs = list(mw.TAB_SPECS)
    specs[1] = ("Config", "fake_config_tab", "ConfigTab")
    monkeypatch.setattr(mw, "TAB_SPECS", tuple(specs))
    src = tmp_path / "a.txt"
    src.write_text(shakespeare_text[:5000], encoding="utf-8")
    ds.prepare_dataset([src], "alpha", home=home)
    ds.prepare_dataset([src], "beta", home=home)

    w = create_main_window(home)
    qtbot.addWidget(w)
    config, data = w.tab("Config"), w.tab("Dataset")
    data.select_dataset("beta")
    assert config.datasets == ["beta"]
    data.sig_datasets_changed.emit()
    assert config.refreshes == 1
    w.close()

    again = create_main_window(home)  # the remembered dataset is handed over at start
    qtbot.addWidget(again)
    assert again.tab("Config").datasets == ["beta"]


def test_missing_tab_module_shows_message(qtbot, home, monkeypatch):
    specs = list(mw.TAB_SPECS)
    specs[3] = ("Playground", "gptstudio.gui.no_such_tab", "PlaygroundTab")
    monkeypatch.setattr(mw, "TAB_SPECS", tuple(specs))
    w = create_main_window(home)
    qtbot.addWidget(w)
    assert "coming" in w.tab("Playground").findChild(QLabel, "tabMessage").text()
    assert w.tabs.count() == 4


def test_run_app_opens_window_and_exits(qtbot, home, monkeypatch):
    from gptstudio.gui.app import run_app

    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # run_app installs its own; restore after
    seen = []

    def close_all():
        # closing the last window ends exec() by itself; a second quit() here would leave Qt's
        # "quit now" flag set and break every later qtbot wait in the session
        for w in QApplication.topLevelWidgets():
            if w.objectName() == "mainWindow" and w.isVisible():
                seen.append(w.windowTitle())
                w.close()

    QTimer.singleShot(200, close_all)
    assert run_app(home) == 0
    assert seen == ["GPT Studio"]
    assert QApplication.instance().applicationName() == "GPT Studio"
    assert not QApplication.instance().windowIcon().isNull()
