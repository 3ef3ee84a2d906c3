"""Fixtures shared by the engine's tests."""

import pytest
import torch


@pytest.fixture
def one_torch_thread(monkeypatch):
    """Tiny models run fastest on one thread, and on a busy shared machine two threads wait on each other
    (a 300-iteration run took 2 minutes instead of 10 s under another process's load). OMP_NUM_THREADS
    tells the trainer to leave the count alone."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
