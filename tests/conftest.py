import os

import pytest

# Qt runs headless in tests; set before any Qt import
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A fresh temporary workspace; GPTSTUDIO_HOME points at it so nothing touches the real one."""
    h = tmp_path / "home"
    h.mkdir()
    monkeypatch.setenv("GPTSTUDIO_HOME", str(h))
    return h


@pytest.fixture(autouse=True)
def _isolated_user_dirs(tmp_path, monkeypatch):
    """App settings and logs of a test go to its temp folder, never the real user's."""
    monkeypatch.setenv("GPTSTUDIO_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("GPTSTUDIO_LOG_DIR", str(tmp_path / "logs"))


@pytest.fixture(scope="session")
def shakespeare_text() -> str:
    """Tiny Shakespeare (1.1 MB, nanoGPT's char corpus) as the package ships it: the demo text, so a
    lone clone of the repository runs every test."""
    from gptstudio.core.dataset import demo_text_path

    return demo_text_path().read_text(encoding="utf-8")
