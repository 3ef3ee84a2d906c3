"""Fixtures shared by the GUI tests."""

import pytest

from gptstudio.gui import create_main_window
from gptstudio.gui.settings import AppSettings


@pytest.fixture
def window(qtbot, home):
    """The whole main window on a fresh workspace. The Config tab's background speed measurement is
    turned off: these tests are about the window and the tabs, so that CPU work (and its shutdown
    wait) stays out."""
    AppSettings().set("config.measure_speed", False)
    w = create_main_window(home)
    qtbot.addWidget(w)
    w.show()
    return w


@pytest.fixture(scope="session", autouse=True)
def _gc_on_gui_thread(qapp):
    """As in the app: reference cycles are collected in the GUI thread only (see gui.app)."""
    from gptstudio.gui.app import collect_garbage_on_gui_thread

    collect_garbage_on_gui_thread(qapp)
