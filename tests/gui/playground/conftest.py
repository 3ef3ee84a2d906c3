"""Fixtures of the Playground tests: a tiny trained char-level run (trained once per session on the demo
text the package ships), the tab on a workspace holding it, and its loaded model."""

from __future__ import annotations

import shutil

import pytest
import torch

from gptstudio.core.checkpoint import save_checkpoint
from gptstudio.core.dataset import demo_text_path
from gptstudio.core.model import GPT, GPTConfig
from gptstudio.core.tokenizer import CharTokenizer
from gptstudio.core.workspace import Workspace

MODEL_ARGS = dict(n_layer=2, n_head=2, n_embd=32, block_size=32, bias=False, dropout=0.0)


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread():
    """A 30k-parameter model gains nothing from parallel matmuls, and on a busy shared machine the
    thread hand-offs make generation up to 40x slower: use one intra-op thread in these tests."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


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


def _train_tiny_char_model(text: str, steps: int, seed: int = 0):
    """~30k parameters trained for `steps` steps with a plain loop: letters and spaces, not yet words."""
    torch.manual_seed(seed)
    tok = CharTokenizer(sorted(set(text)))
    data = torch.tensor(tok.encode(text), dtype=torch.long)
    args = {**MODEL_ARGS, "vocab_size": tok.vocab_size}
    model = GPT(GPTConfig(**args))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    block = args["block_size"]
    for _ in range(steps):
        ix = torch.randint(len(data) - block - 1, (8,))
        x = torch.stack([data[i : i + block] for i in ix])
        y = torch.stack([data[i + 1 : i + block + 1] for i in ix])
        _, loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return {
        "model": model.state_dict(),
        "optimizer": {},
        "model_args": args,
        "iter_num": steps,
        "best_val_loss": loss.item(),
        "config": {"dataset": "tiny_shakespeare"},
        "tokenizer": tok.to_meta(),
        "dataset": "tiny_shakespeare",
    }


@pytest.fixture(scope="session")
def tiny_run_source(tmp_path_factory):
    """A run folder: latest (100 steps) and best (30 steps, different weights) checkpoints."""
    folder = tmp_path_factory.mktemp("tiny_run")
    text = demo_text_path().read_text(encoding="utf-8")[:100_000]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: threads only add overhead on a shared machine
    try:
        save_checkpoint(_train_tiny_char_model(text, 30), folder / "best.pt")
        save_checkpoint(_train_tiny_char_model(text, 100), folder / "ckpt.pt")
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
