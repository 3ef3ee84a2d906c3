"""Fixtures shared by the window and Dataset tab tests (import them into a test module to use them)."""
import pytest

from gptstudio.gui import create_main_window
from gptstudio.gui.settings import AppSettings


@pytest.fixture(autouse=True)
def _no_speed_benchmark():
    """The Config tab times training steps in the background when a dataset is selected; these tests
    are about the window and the Dataset tab, so keep that CPU work (and its shutdown wait) out."""
    AppSettings().set("config.measure_speed", False)


@pytest.fixture
def window(qtbot, home):
    w = create_main_window(home)
    qtbot.addWidget(w)
    w.show()
    return w
