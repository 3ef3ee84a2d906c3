"""The size-and-cost panel: numbers of the settings, the speed measured in a worker thread, one at a time."""

import pytest

from gptstudio.core import estimates as est
from gptstudio.core.config import TrainConfig
from gptstudio.core.units import format_count
from gptstudio.gui.config.estimates_panel import MEASURE_KEY, EstimatesPanel
from gptstudio.gui.config.lr_plot import LrSchedulePlot

from .helpers import child

META = {"vocab_size": 40, "train_tokens": 5000, "val_tokens": 600}
TINY = dict(n_layer=1, n_head=2, n_embd=16, block_size=16, batch_size=4, device="cpu", eval_iters=2)


@pytest.fixture
def panel(qtbot, settings):
    p = EstimatesPanel(settings)
    qtbot.addWidget(p)
    p.show()
    yield p
    p.shutdown()


def test_numbers_of_the_settings(panel):
    cfg = TrainConfig(n_layer=2, n_head=2, n_embd=32, block_size=16, batch_size=10, gradient_accumulation_steps=2)
    panel.show_estimates(cfg, META)
    e = panel.estimates()
    assert child(panel, "paramCountLabel").text() == f"{format_count(e.params_non_embedding)} parameters"
    assert child(panel, "paramDetailLabel").text() == "2 layers × 32 wide, 2 heads, vocabulary 40"
    assert panel.texts() == e.texts() and panel.texts()["tokens"] == "320"
    assert panel.texts()["iter_time"] == "not measured"  # the benchmark is off in these settings


def test_speed_is_measured_in_the_background(qtbot, panel):
    est._cache.clear()
    panel.measure_check.setChecked(True)
    panel.show_estimates(TrainConfig(**TINY, max_iters=40, eval_interval=20), META)
    assert panel.texts()["iter_time"] == "measuring…"
    qtbot.waitUntil(lambda: panel.texts()["iter_time"] not in ("measuring…", ""), timeout=30_000)
    qtbot.waitUntil(lambda: not panel.is_measuring(), timeout=30_000)
    assert panel.texts()["iter_time"].endswith(("ms", "s", "µs")), panel.texts()
    assert panel.texts()["run_time"].startswith("≈ ")
    # a longer run of the same shape is answered from the cache at once
    panel.show_estimates(TrainConfig(**TINY, max_iters=400, eval_interval=20), META)
    assert panel.texts()["iter_time"] != "measuring…" and not panel.is_measuring()


def test_a_new_shape_during_a_measurement_measures_again(qtbot, panel):
    est._cache.clear()
    panel.measure_check.setChecked(True)
    first = TrainConfig(**TINY)
    panel.show_estimates(first, META)
    qtbot.waitUntil(panel.is_measuring, timeout=10_000)
    second = TrainConfig(**{**TINY, "n_embd": 32})
    panel.show_estimates(second, META)
    qtbot.waitUntil(lambda: est.cached_iteration_time(second, 40) is not None, timeout=60_000)
    qtbot.waitUntil(lambda: panel.texts()["iter_time"] != "measuring…", timeout=10_000)
    assert panel.texts()["iter_time"].endswith(("ms", "s", "µs"))


def test_unchecking_stops_and_is_remembered(qtbot, panel, settings):
    est._cache.clear()
    panel.measure_check.setChecked(True)
    panel.show_estimates(TrainConfig(**TINY), META)
    panel.measure_check.setChecked(False)
    assert settings.get(MEASURE_KEY) is False and panel.texts()["iter_time"] == "not measured"
    qtbot.waitUntil(lambda: not panel.is_measuring(), timeout=30_000)
    panel.show_estimates(TrainConfig(**{**TINY, "n_embd": 100, "n_head": 3}), META)
    assert panel.texts()["iter_time"] == "—"  # nothing to measure until the shape is fixed


def test_lr_schedule_plot(qtbot):
    plot = LrSchedulePlot()
    qtbot.addWidget(plot)
    plot.show_schedule(TrainConfig(max_iters=50, warmup_iters=10, lr_decay_iters=50, learning_rate=1e-3))
    x, y = plot.curve()
    assert x[0] == 0 and x[-1] == 50 and max(y) == pytest.approx(1e-3, rel=0.05)
    assert y[0] < y[5] and y[-1] < max(y)  # warmup, then decay
    plot.show_schedule(TrainConfig(max_iters=50, decay_lr=False, learning_rate=1e-3))
    assert set(plot.curve()[1]) == {1e-3}
    assert child(plot, "lrSchedulePlot") is not None
