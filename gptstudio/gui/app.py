"""Start the desktop app: `gptstudio` with no arguments ends up in `run_app()`."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication

import gptstudio
from gptstudio.core.workspace import Workspace
from gptstudio.gui.errors import install_excepthook


def make_application(argv: list[str] | None = None) -> QApplication:
    """The QApplication with the app's name, organisation and icon (reuses one that exists)."""
    app = QApplication.instance()
    if app is None:
        # fractional scale factors (125 %, 150 %) as the desktop sets them, not rounded to 1x/2x
        QGuiApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
        app = QApplication(sys.argv[:1] if argv is None else argv)
    app.setApplicationName("GPT Studio")
    app.setOrganizationName("GPTStudio")
    app.setApplicationVersion(gptstudio.__version__)
    app.setDesktopFileName("gptstudio")  # lets Wayland/X11 docks match the window to gptstudio.desktop
    from gptstudio.gui.main_window import app_icon

    app.setWindowIcon(app_icon())
    collect_garbage_on_gui_thread(app)
    return app


def collect_garbage_on_gui_thread(app: QApplication) -> None:
    """Run Python's cycle collector only in the GUI thread, on a timer.

    The collector otherwise runs in whichever thread happens to allocate when its threshold is
    crossed: in a training or loading thread it can destroy a widget caught in a reference cycle there,
    and Qt crashes (seen once as a segfault in a full test run). pyqtgraph's GarbageCollector disables
    automatic collection and collects, generation by generation, from a QTimer instead."""
    if getattr(app, "_gui_thread_gc", None) is None:
        from pyqtgraph.util.garbage_collector import GarbageCollector

        app._gui_thread_gc = GarbageCollector(interval=0.5)


def run_app(home: str | Path | None = None) -> int:
    """Open the main window on the workspace `home` (default: $GPTSTUDIO_HOME or the user data folder)."""
    app = make_application()
    holder: dict = {}
    install_excepthook(lambda: holder.get("window"))
    from gptstudio.gui.main_window import MainWindow

    window = MainWindow(Workspace.open(home).home)
    holder["window"] = window
    window.show()
    return app.exec()
