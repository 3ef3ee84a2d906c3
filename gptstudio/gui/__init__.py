"""The Qt desktop app. Thin: widgets and wiring only; the engine lives in gptstudio.core."""

from __future__ import annotations

from pathlib import Path


def create_main_window(home: Path):
    """Build the main window on a workspace folder (tests and embedding use this)."""
    from gptstudio.gui.main_window import MainWindow

    return MainWindow(Path(home))
