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
    """App settings, logs and applications-menu entries of a test go to its temp folder, never the real user's."""
    monkeypatch.setenv("GPTSTUDIO_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("GPTSTUDIO_LOG_DIR", str(tmp_path / "logs"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))


@pytest.fixture
def one_torch_thread(monkeypatch):
    """Tiny models run fastest on one thread, and on a busy shared machine two threads wait on each other
    (a 300-iteration run took 2 minutes instead of 10 s under another process's load). OMP_NUM_THREADS
    tells the trainer (and torchrun's children) to leave the count alone."""
    import torch

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def shakespeare_text() -> str:
    """Tiny Shakespeare (1.1 MB, nanoGPT's char corpus) as the package ships it: the demo text, so a
    lone clone of the repository runs every test."""
    from gptstudio.core.dataset import demo_text_path

    return demo_text_path().read_text(encoding="utf-8")
