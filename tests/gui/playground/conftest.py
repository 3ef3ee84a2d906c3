"""Fixtures of the Playground tests: a tiny trained char-level run (trained once per session on the demo
text the package ships), the tab on a workspace holding it, and its loaded model."""

from __future__ import annotations

import shutil

import pytest
import torch

from gptstudio.core.checkpoint import save_checkpoint
from gptstudio.core.workspace import Workspace
from tests.core.sampling_helpers import checkpoint_dict, train_tiny_char_model

MODEL_ARGS = dict(n_layer=2, n_head=2, n_embd=32, block_size=32)  # ~28k parameters


@pytest.fixture(autouse=True)
def _tiny_models_on_one_thread(one_torch_thread):
    """Every model here is tiny: one torch thread (see tests/conftest.py)."""


@pytest.fixture(autouse=True)
def _event_loops_work(request):
    """A test that ran QApplication.exec() and then got a second quit request (closing the last window
    also quits) leaves Qt's "quit now" flag set: every later QEventLoop.exec(), and so every qtbot wait,
    returns at once. A short exec() of the application clears the flag. (Qt-free tests start no Qt.)"""
    if "qtbot" not in request.fixturenames:
        return
    from PySide6.QtCore import QEventLoop, QTimer

    qapp = request.getfixturevalue("qapp")
    probe = QEventLoop()
    QTimer.singleShot(0, probe.quit)
    if probe.exec() == -1:
        QTimer.singleShot(0, qapp.quit)
        qapp.exec()


@pytest.fixture(scope="session")
def tiny_run_source(tmp_path_factory, shakespeare_text):
    """A run folder: latest (100 steps) and best (30 steps, different weights) checkpoints."""
    folder = tmp_path_factory.mktemp("tiny_run")
    text = shakespeare_text[:100_000]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: threads only add overhead on a shared machine
    try:
        for name, steps, loss in (("best.pt", 30, 2.4), ("ckpt.pt", 100, 2.41)):
            model, tok, args = train_tiny_char_model(text, steps, **MODEL_ARGS)
            save_checkpoint(checkpoint_dict(model, args, tok, steps, loss, dataset="tiny_shakespeare"), folder / name)
    finally:
        torch.set_num_threads(threads)
    return folder


@pytest.fixture
def install_run(home, tiny_run_source):
    """Copy the tiny run into the test's workspace under a name; returns its folder."""

    def install(name: str = "tiny"):
        return shutil.copytree(tiny_run_source, home / "runs" / name)

    return install


@pytest.fixture
def make_tab(qtbot, home):
    """A Playground tab on the test's workspace, shown at a usual size; shut down after the test."""
    from gptstudio.gui.playground_tab import PlaygroundTab
    from gptstudio.gui.settings import AppSettings

    tabs = []

    def make(settings=None):
        tab = PlaygroundTab(Workspace.open(home), settings or AppSettings())
        qtbot.addWidget(tab)
        tab.resize(1100, 760)
        tab.show()
        tabs.append(tab)
        qtbot.waitUntil(lambda: not tab.models.is_refreshing(), timeout=30_000)  # checkpoints listed
        return tab

    yield make
    for tab in tabs:
        tab.shutdown()


@pytest.fixture
def tab(qtbot, install_run, make_tab):
    """The tab with the tiny run installed and its latest checkpoint loaded."""
    install_run()
    t = make_tab()
    qtbot.waitUntil(t.models_ready, timeout=30_000)
    return t


@pytest.fixture(scope="session")
def tiny_sampler(tiny_run_source):
    from gptstudio.core.sampler import Sampler

    return Sampler.from_checkpoint_file(tiny_run_source / "ckpt.pt", device="cpu")
