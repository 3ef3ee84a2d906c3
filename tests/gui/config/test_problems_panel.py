"""The checks panel: 'Ready to train' or every problem, as tall as its problems; the last file's status."""

import pytest

from gptstudio.core.errors import Problem
from gptstudio.gui.config.problems_panel import MAX_LIST_HEIGHT, ProblemsPanel

from .helpers import child


@pytest.fixture
def panel(qtbot):
    p = ProblemsPanel()
    qtbot.addWidget(p)
    p.resize(400, 400)
    p.show()
    return p


def test_ready_or_every_problem(qtbot, panel):
    panel.show_problems([])
    assert "Ready to train" in child(panel, "configStatusLabel").text()
    assert not child(panel, "configErrors").isVisible() and panel.messages() == []
    problems = [Problem("n_embd (100) must be divisible by n_head (3).", ("n_embd", "n_head")), Problem("Second.")]
    panel.show_problems(problems)
    assert panel.messages() == [str(p) for p in problems]
    assert "2 problems to fix" in child(panel, "configStatusLabel").text()
    short = child(panel, "configErrors").height()
    panel.show_problems([Problem(f"Problem number {i}, described at some length to wrap.") for i in range(30)])
    assert short < child(panel, "configErrors").height() <= MAX_LIST_HEIGHT  # then it scrolls


def test_file_status(panel):
    assert panel.file_status() == "" and not child(panel, "fileStatusLabel").isVisible()
    panel.show_file_status("Loaded cfg.json.")
    assert panel.file_status() == "Loaded cfg.json." and child(panel, "fileStatusLabel").isVisible()
