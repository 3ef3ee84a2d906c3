"""Size it for my data on the Config tab: "I have … minutes", Suggest, the explanation and warnings, Apply
fills the form with valid settings that fit; the fit check follows the form."""

import pytest
from PySide6.QtCore import Qt

from gptstudio.core import estimates as est
from gptstudio.core import sizing
from gptstudio.core.config import validate

from .helpers import child, make_dataset, settle, widget

WAIT_MS = 60_000


@pytest.fixture
def measured(monkeypatch):
    """The device benchmark answers at once: 30 GFLOP/s for every model (a laptop CPU)."""

    def measure(cfg, vocab, device=None, **_kw):
        per_iter = est.flops_per_iter(cfg, vocab) / 3e10
        forward = 2 * cfg.eval_iters * per_iter / (3 * cfg.gradient_accumulation_steps)
        return est.IterationTiming(per_iter, forward, 0.0, cfg.batch_size, cfg.batch_size, "cpu", "float32", "test")

    monkeypatch.setattr(est, "measure_iteration_time", measure)


def suggest(qtbot, tab, minutes):
    child(tab, "sizingMinutes").setValue(minutes)
    qtbot.mouseClick(child(tab, "sizingSuggestButton"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not tab.sizing.is_suggesting(), timeout=WAIT_MS)
    return tab.sizing.suggestion()


def test_a_tiny_dataset_gets_a_small_model_with_a_warning_and_apply_fills_the_form(qtbot, tab, measured, tmp_path):
    tab.set_dataset("tiny")  # 5,000 training tokens
    assert not child(tab, "sizingApplyButton").isEnabled()
    suggestion = suggest(qtbot, tab, 10)
    assert suggestion is not None and suggestion.params < 20_000
    result = child(tab, "sizingResult").text()
    assert "Little text" in result and "more text, not more time" in result
    assert child(tab, "sizingApplyButton").isEnabled()
    tab.window().grab().save(str(tmp_path / "config_sizing.png"))

    qtbot.mouseClick(child(tab, "sizingApplyButton"), Qt.MouseButton.LeftButton)
    settle(qtbot, tab)
    cfg = tab.config()
    assert (cfg.n_layer, cfg.n_embd, cfg.max_iters) == (
        suggestion.settings["n_layer"],
        suggestion.settings["n_embd"],
        suggestion.settings["max_iters"],
    )
    assert cfg.dataset == "tiny" and tab.is_valid(), tab.problems()
    assert widget(tab, "dropout").value() == 0.2 and widget(tab, "early_stop_patience").value() == 3


def test_a_larger_dataset_gets_a_larger_model_that_fits_and_passes(qtbot, tab, home, measured):
    make_dataset(home, "novels", vocab=120, train_tokens=3_000_000, val_tokens=300_000)
    tab.refresh_datasets()
    tab.set_dataset("tiny")
    small = suggest(qtbot, tab, 60)
    tab.set_dataset("novels")
    assert tab.sizing.suggestion() is None  # made for another dataset: Suggest again
    assert "press Suggest" in child(tab, "sizingResult").text()
    large = suggest(qtbot, tab, 60)
    assert large.params > 4 * small.params
    tab.apply_suggestion(large)
    settle(qtbot, tab)
    cfg = tab.config()
    meta = tab.dataset_meta()
    assert validate(cfg, meta) == [] and tab.is_valid()
    assert tab.estimates.estimates().fits  # the memory estimate fits the free memory it shows


def test_the_fit_check_follows_the_form(qtbot, tab):
    tab.set_dataset("tiny")
    for name, value in (("n_layer", 6), ("n_head", 6), ("n_embd", 384), ("block_size", 64), ("max_iters", 5000)):
        widget(tab, name).setValue(value)
    widget(tab, "dropout").setValue(0.0)
    settle(qtbot, tab)
    fit = child(tab, "fitWarnings")
    assert fit.isVisibleTo(tab) and fit.text().startswith("Likely to overfit: ")
    assert "raise dropout to 0.2" in fit.text().lower() and "make the model smaller" in fit.text().lower()
    for name, value in (("n_layer", 1), ("n_head", 2), ("n_embd", 32), ("max_iters", 100), ("batch_size", 8)):
        widget(tab, name).setValue(value)
    settle(qtbot, tab)
    assert sizing.fit_warnings(tab.config(), tab.dataset_meta()) == [] and not fit.isVisibleTo(tab)


def test_without_a_dataset_suggest_waits_for_one(qtbot, tab):
    tab.set_dataset("")
    assert not child(tab, "sizingSuggestButton").isEnabled()
    tab.sizing.suggest()
    assert "Choose a dataset first" in child(tab, "sizingResult").text()
