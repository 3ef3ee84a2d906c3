import os
import sys
from pathlib import Path

import pytest

# Qt runs headless in tests; set before any Qt import
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("GPTSTUDIO_NO_SETTINGS_SYNC", "1")

REPO = Path(__file__).resolve().parent.parent
SHAKESPEARE = REPO.parent / "shared" / "data" / "tinyshakespeare.txt"


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A fresh temporary workspace; GPTSTUDIO_HOME points at it so nothing touches the real one."""
    h = tmp_path / "home"
    h.mkdir()
    monkeypatch.setenv("GPTSTUDIO_HOME", str(h))
    return h


@pytest.fixture(scope="session")
def shakespeare_text() -> str:
    if not SHAKESPEARE.exists():
        pytest.skip(f"{SHAKESPEARE} not found")
    return SHAKESPEARE.read_text(encoding="utf-8")
