"""Fixtures of the Config panels' tests: settings without the speed benchmark, a tab on a tiny dataset."""

import pytest

from gptstudio.core.workspace import Workspace
from gptstudio.gui.config.estimates_panel import MEASURE_KEY
from gptstudio.gui.config_tab import ConfigTab
from gptstudio.gui.settings import AppSettings

from .helpers import make_dataset


@pytest.fixture
def settings():
    s = AppSettings()
    s.set(MEASURE_KEY, False)  # the speed benchmark only where a test asks for it
    return s


@pytest.fixture
def tab(qtbot, home, settings):
    make_dataset(home)
    t = ConfigTab(Workspace.open(home), settings)
    qtbot.addWidget(t)
    t.resize(1280, 800)
    return t
