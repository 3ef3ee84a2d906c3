"""The app shell: window, tabs, menus, status bar, remembered layout, tab wiring, run_app."""

import json
import os
import platform
import subprocess
import sys

import pytest
import torch
from PySide6.QtCore import QTimer, QUrl, qVersion
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QDoubleSpinBox,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QTabWidget,
    QTextBrowser,
    QWidget,
)

import gptstudio
from gptstudio.core import dataset as ds
from gptstudio.core.config import TrainConfig
from gptstudio.core.devices import describe_default_device
from gptstudio.gui import create_main_window
from gptstudio.gui.config_tab import ConfigTab
from gptstudio.gui.dataset_tab import DatasetTab
from gptstudio.gui.playground_tab import PlaygroundTab
from gptstudio.gui.settings import AppSettings
from gptstudio.gui.training_tab import TrainingTab

DATASET_WIDGETS = [
    "datasetDropArea",
    "datasetNameEdit",
    "tokenizerCombo",
    "bpeVocabSpin",
    "bpeVocabDefaultButton",
    "bpeVocabReason",
    "tokenizerComparePanel",
    "tokenizerCompareTable",
    "valFractionSpin",
    "prepareButton",
    "cancelPrepareButton",
    "prepareProgress",
    "datasetList",
    "datasetPreview",
    "datasetStatsView",
    "datasetDropMessage",
    "datasetError",
    "datasetInputList",
    "datasetInputSummary",
    "clearInputsButton",
    "demoButton",
    "datasetEmptyLabel",
    "revealDatasetButton",
    "deleteDatasetButton",
    "refreshDatasetsButton",
    "guidedStart",
    "guideDemoButton",
    "guideConfigButton",
    "guideTrainingButton",
    "guidePlaygroundButton",
    "guideHideButton",
    "datasetSplitter",
    "datasetRightSplitter",
]
CONFIG_WIDGETS = [
    "configTab",
    "presetCombo",
    "savePresetButton",
    "deletePresetButton",
    "showAdvancedCheck",
    "openConfigButton",
    "saveConfigButton",
    "importNanoGPTButton",
    "resetDefaultsButton",
    "configForm",
    "configSidePanel",
    "configStatusLabel",
    "configErrors",
    "fileStatusLabel",
    "paramCountLabel",
    "paramDetailLabel",
    "estimatesView",
    "measureSpeedCheck",
    "lrSchedulePlot",
    "group_Model",
    "label_n_layer",
    "cfg_n_layer",
]


def test_window_tabs_and_object_names(window, tmp_path):
    assert isinstance(window, QMainWindow) and window.objectName() == "mainWindow"
    assert window.windowTitle() == "GPT Studio" and not window.windowIcon().isNull()
    tabs = window.findChild(QTabWidget, "mainTabs")
    assert [tabs.tabText(i) for i in range(tabs.count())] == ["Dataset", "Config", "Training", "Playground"]
    for name in DATASET_WIDGETS + CONFIG_WIDGETS:
        assert window.findChild(QWidget, name) is not None, name
    combo = window.findChild(QComboBox, "tokenizerCombo")
    assert [combo.itemData(i) for i in range(combo.count())] == ["char", "gpt2", "bpe"]
    assert combo.itemText(2) == "bpe: BPE trained on this text"
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


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="freedesktop.org menus are Linux's")
def test_file_menu_adds_the_app_to_the_applications_menu_and_removes_it(qtbot, window, tmp_path):
    action = window.findChild(QAction, "actionDesktopEntry")
    assert action in window.menuBar().actions()[0].menu().actions()
    entry = tmp_path / "xdg-data" / "applications" / "gptstudio.desktop"  # conftest's XDG_DATA_HOME
    assert action.text().replace("&", "") == "Add to Applications Menu" and not entry.exists()

    action.trigger()
    qtbot.waitUntil(lambda: action.text().replace("&", "") == "Remove from Applications Menu", timeout=10_000)
    assert "Exec=" in entry.read_text() and (tmp_path / "xdg-data/icons/hicolor/48x48/apps/gptstudio.png").is_file()
    assert "in the applications menu now" in window.statusBar().currentMessage()

    action.trigger()
    qtbot.waitUntil(lambda: action.text().replace("&", "") == "Add to Applications Menu", timeout=10_000)
    assert not entry.exists() and "no longer in the applications menu" in window.statusBar().currentMessage()


def test_open_workspace_folder(window, home, monkeypatch):
    opened = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url) or True)
    {a.objectName(): a for a in window.actions()}["actionOpenWorkspace"].trigger()
    assert opened == [QUrl.fromLocalFile(str(home))]


GEOMETRY_SCRIPT = """
import sys
from pathlib import Path

from gptstudio.gui import create_main_window
from gptstudio.gui.app import make_application

app = make_application()
first = create_main_window(Path(sys.argv[1]))
first.show()
first.setGeometry(37, 41, 1300, 860)
first.tabs.setCurrentIndex(2)
app.processEvents()
geometry = first.geometry()
first.close()
second = create_main_window(Path(sys.argv[1]))
second.show()
app.processEvents()
print(second.geometry() == geometry, second.tabs.currentIndex(), second.geometry())
second.close()
"""


def test_geometry_and_last_tab_restored(home, tmp_path):
    """In a process of its own with a 1920x1200 offscreen screen: the test session's 800x800 one is
    smaller than the window's minimum size, so Qt would move the window to fit."""
    screen = tmp_path / "screen.json"
    screen.write_text(json.dumps({"screens": [{"name": "big", "x": 0, "y": 0, "width": 1920, "height": 1200}]}))
    env = {**os.environ, "QT_QPA_PLATFORM": f"offscreen:configfile={screen}"}
    done = subprocess.run(
        [sys.executable, "-c", GEOMETRY_SCRIPT, str(home)], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[:2] == ["True", "2"], done.stdout


def test_the_tabs_are_wired(qtbot, window, home, tmp_path, shakespeare_text):
    """Dataset -> Config (chosen and new datasets), Config validity -> Training's Start, status messages."""
    data, config, training = window.tab("Dataset"), window.tab("Config"), window.tab("Training")
    src = tmp_path / "a.txt"
    src.write_text(shakespeare_text[:5000], encoding="utf-8")
    ds.prepare_dataset([src], "alpha", home=home)
    data.sig_datasets_changed.emit()  # as after a prepare or a delete
    assert "alpha" in [c[1] for c in config.datasets.choices()]
    data.refresh()
    data.select_dataset("alpha")
    assert config.config().dataset == "alpha"
    start = window.findChild(QPushButton, "startButton")
    config.set_config(TrainConfig(dataset="alpha", n_layer=1, n_head=2, n_embd=16, block_size=16))
    assert config.is_valid() and start.isEnabled()
    config.set_config(TrainConfig(dataset="alpha", n_embd=100, n_head=3))
    assert not config.is_valid() and not start.isEnabled()
    data.sig_status.emit("Prepared a dataset.")
    assert window.statusBar().currentMessage() == "Prepared a dataset."
    data.sig_show_tab.emit("Training")
    assert window.tabs.currentWidget() is training


@pytest.mark.parametrize(
    "tab_class, name",
    [
        (ConfigTab, "set_dataset"),
        (DatasetTab, "selected_dataset"),
        (TrainingTab, "set_config_source"),
        (PlaygroundTab, "refresh_checkpoints"),
    ],
)
def test_a_misspelt_seam_fails_when_the_window_is_built(qtbot, home, monkeypatch, tab_class, name):
    AppSettings().set("config.measure_speed", False)  # no background job in a window that is never finished
    monkeypatch.delattr(tab_class, name)
    with pytest.raises(AttributeError, match=name):
        create_main_window(home)


def test_a_dataset_of_another_workspace_is_forgotten_quietly(qtbot, tmp_path, shakespeare_text, monkeypatch):
    """Pick a dataset in workspace A, open workspace B: nothing complains; A's choice comes back in A."""
    AppSettings().set("config.measure_speed", False)
    a, b = tmp_path / "A", tmp_path / "B"
    src = tmp_path / "a.txt"
    src.write_text(shakespeare_text[:5000], encoding="utf-8")
    ds.prepare_dataset([src], "only_in_a", home=a)
    ds.prepare_dataset([src], "in_b", home=b)

    def open_window(home):
        w = create_main_window(home)
        qtbot.addWidget(w)
        w.show()
        return w

    first = open_window(a)
    first.tab("Dataset").select_dataset("only_in_a")
    assert first.tab("Config").config().dataset == "only_in_a"
    first.close()
    errors = []
    monkeypatch.setattr(QMessageBox, "critical", lambda *args, **kw: errors.append(args))
    monkeypatch.setattr(QMessageBox, "warning", lambda *args, **kw: errors.append(args))
    second = open_window(b)
    config = second.tab("Config")
    assert second.tab("Dataset").selected_dataset() is None and config.config().dataset == ""
    assert not [p for p in config.problems() if "only_in_a" in str(p)] and errors == []
    assert "only_in_a" not in second.findChild(QComboBox, "cfg_dataset").currentText()
    second.tab("Dataset").select_dataset("in_b")
    second.close()
    third = open_window(a)
    assert third.tab("Dataset").selected_dataset() == "only_in_a"
    assert third.tab("Config").config().dataset == "only_in_a"
    third.close()
    fourth = open_window(b)
    assert fourth.tab("Dataset").selected_dataset() == "in_b" and fourth.tab("Config").config().dataset == "in_b"


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


def test_reference_cycles_are_collected_on_the_gui_thread_only(qtbot, qapp):
    """A cycle dropped in a worker thread is not collected there (it could hold widgets, and Qt crashes
    when a widget is destroyed outside the GUI thread), but soon after by the GUI thread's timer."""
    import gc
    import threading
    import weakref

    from gptstudio.gui.app import collect_garbage_on_gui_thread

    collect_garbage_on_gui_thread(qapp)
    assert not gc.isenabled()

    class Node:
        pass

    refs = []

    def make_garbage():
        for _ in range(5000):  # far past the collector's thresholds: it would have run in this thread
            a, b = Node(), Node()
            a.other, b.other = b, a
            refs.append(weakref.ref(a))

    worker = threading.Thread(target=make_garbage)
    worker.start()
    worker.join()
    assert all(r() is not None for r in refs[:10])  # nothing collected in the worker thread
    qtbot.waitUntil(lambda: refs[0]() is None, timeout=10_000)  # collected by the GUI thread's timer
