"""core/curves.py: the one loss smoothing, the display summary of long series, a run's curves from events."""

import io
import json
import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gptstudio.cli import main
from gptstudio.commands.train import ProgressPrinter
from gptstudio.core.curves import (
    KEEP_FILL,
    LossSmoother,
    RunCurves,
    Series,
    read_run_curves,
    steady_range,
    typed_events,
)
from gptstudio.core.events import CheckpointSaved, Eval, Finished, RunStarted, Step

from .training_helpers import tiny_cli_args, write_char_dataset


def step(it: int, loss: float, lr: float = 1e-3) -> Step:
    return Step(iter=it, loss=loss, lr=lr, tokens_per_sec=1.0, ms_per_iter=1.0, mfu=-1, elapsed=float(it))


def started(start_iter: int = 0, max_iters: int = 100) -> RunStarted:
    return RunStarted("r", {}, 1, "cpu", "float32", start_iter, max_iters, 1, 1.0)


# ----- smoothing -----


def test_smoothing_is_bias_corrected():
    s = LossSmoother()
    assert [s.add(i, 2.0) for i in range(3)] == pytest.approx([2.0, 2.0, 2.0])
    s = LossSmoother()
    s.add(0, 1.0)
    assert s.add(1, 3.0) == pytest.approx((0.09 * 1 + 0.1 * 3) / 0.19)


def test_smoothing_decays_per_iteration_not_per_logged_step():
    """Logged every 10 iterations, the smoothed loss is what logging every iteration gives when the
    loss held the logged value over the 10 iterations since the previous log: the curve does not
    lag 10x further behind, as it would if it decayed once per logged point."""
    rng = np.random.default_rng(0)
    logged = rng.uniform(1, 4, size=30)  # the loss at iterations 0, 10, 20, ...
    every_iteration = [logged[0]] + [logged[-(-i // 10)] for i in range(1, 291)]
    fine = LossSmoother()
    per_iteration = [fine.add(i, v) for i, v in enumerate(every_iteration)]
    coarse = LossSmoother()
    per_log = [coarse.add(10 * b, v) for b, v in enumerate(logged)]
    assert per_log == pytest.approx(per_iteration[::10], rel=1e-12)
    lagging = LossSmoother()  # the old GUI way: one decay per logged point
    assert [lagging.add(b, v) for b, v in enumerate(logged)][5] != pytest.approx(per_log[5], rel=1e-3)


def test_smoothing_restores_its_state():
    a, b = LossSmoother(), LossSmoother()
    for i in range(5):
        a.add(i, 5 - i)
    b.restore(a.last_iter, a.value, a.weight)
    assert b.add(9, 1.0) == pytest.approx(a.add(9, 1.0))


# ----- Series and its display summary -----


def test_series_grows_and_cuts():
    s = Series(capacity=2)
    s.extend([0, 1, 2], [5.0, 4.0, 3.0])
    s.extend(range(3, 10), [1.0] * 7)
    assert s.n == 10 and s.x.tolist() == list(range(10)) and s.y[:3].tolist() == [5.0, 4.0, 3.0]
    s.keep_until(4)
    assert s.x.tolist() == [0, 1, 2, 3, 4]
    s.keep_until(4, inclusive=False)
    assert s.x.tolist() == [0, 1, 2, 3]
    s.clear()
    assert s.n == 0 and s.view()[0].size == 0


def test_view_returns_exact_points_when_they_fit():
    s = Series()
    s.extend(range(100), np.arange(100.0) ** 2)
    x, y = s.view(10, 20, max_points=1000)
    assert x.tolist() == list(range(9, 22)) and y.tolist() == [v * v for v in range(9, 22)]


def test_view_of_a_million_points_is_bounded_by_the_width_and_keeps_every_spike():
    n = 1_000_000
    rng = np.random.default_rng(1)
    y = rng.normal(2.0, 0.1, n)
    y[123_457], y[876_543] = 9.0, -5.0  # two single-point spikes
    s = Series()
    for chunk in np.array_split(np.arange(n), 37):  # arrives in pieces, as during training
        s.extend(chunk, y[chunk])
    vx, vy = s.view(max_points=2000)
    assert len(vx) <= 2000 + 64
    assert vy.max() == 9.0 and vy.min() == -5.0 and vx[np.argmax(vy)] == 123_457
    assert vx[0] == 0 and vx[-1] == n - 1 and np.all(np.diff(vx) >= 0)
    zx, zy = s.view(500_000.5, 500_100.5, max_points=2000)  # zoomed in: the exact points
    assert zx.tolist() == list(range(500_000, 500_102)) and zy.tolist() == y[500_000:500_102].tolist()


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=3000),
    st.integers(0, 2999),
    st.integers(0, 2999),
    st.integers(4, 300),
    st.integers(0, 3000),
)
def test_view_is_the_envelope_of_the_points_in_range(ys, a, b, max_points, cut):
    """Whatever the data, range and width (and after cutting and regrowing, as a resume does): the
    view is made of real points in x order, holds the lowest and highest point of the range, and
    stays within the width."""
    s = Series()
    s.extend(range(len(ys)), ys)
    s.keep_first(cut)
    s.extend(range(s.n, len(ys)), ys[s.n :])
    lo, hi = sorted((a, b))
    x, y = s.view(lo, hi, max_points)
    assert np.all(np.diff(x) >= 0)
    assert all(ys[int(xi)] == yi for xi, yi in zip(x, y))
    inside = ys[lo : hi + 1]
    if inside:
        assert max(inside) in y.tolist() and min(inside) in y.tolist()
    # whole blocks fill the width; at each finer level at most one block either side, and the two ends
    assert len(x) <= max_points + 4 * math.ceil(math.log2(len(ys) + 1)) + 2


# ----- a run's curves -----


def test_curves_from_events_steps_evals_checkpoints_best():
    c = RunCurves.from_events(
        [
            started(),
            step(0, 4.0, lr=1e-4),
            step(1, 3.0, lr=2e-4),
            Eval(iter=2, train_loss=2.9, val_loss=3.1, best_val_loss=3.1),
            CheckpointSaved(iter=2, path="ckpt.pt", best=True, val_loss=3.1),
            step(2, 2.5),
            Eval(iter=3, train_loss=2.4, val_loss=3.3, best_val_loss=3.1),
            Finished(status="completed", iter=3),
        ]
    )
    assert c.loss.x.tolist() == [0, 1, 2] and c.lr.y.tolist() == [1e-4, 2e-4, 1e-3]
    assert c.val_eval.y.tolist() == [3.1, 3.3] and c.train_eval.x.tolist() == [2, 3]
    assert c.checkpoints.x.tolist() == [2] and c.best == (2, 3.1)
    assert c.smoothed_loss == pytest.approx(_smooth([4.0, 3.0, 2.5]))
    assert c.last_iter == 2


def _smooth(values):
    s = LossSmoother()
    return [s.add(i, v) for i, v in enumerate(values)][-1]


def test_restart_drops_what_a_resumed_session_repeats_and_smoothing_continues():
    """Crashed at iteration 8 with the last checkpoint at 5: the resumed session starts at 5 and
    redoes steps 5..8. The curve never doubles back and smooths as if it had never crashed."""
    first = [step(i, 4.0 - 0.1 * i) for i in range(9)]
    redone = [step(i, 3.0 - 0.05 * i) for i in range(5, 12)]
    evals = [Eval(iter=5, train_loss=3.5, val_loss=3.6, best_val_loss=3.6)]
    late_eval = [Eval(iter=8, train_loss=3.0, val_loss=3.0, best_val_loss=3.0)]
    c = RunCurves.from_events([started(), *first[:5], *evals, *first[5:], *late_eval, started(5), *redone])
    clean = RunCurves.from_events([started(), *first[:5], *evals, *redone])
    assert c.loss.x.tolist() == list(range(12)) and np.all(np.diff(c.loss.x) > 0)
    assert c.loss.y.tolist() == clean.loss.y.tolist() and c.smooth.y.tolist() == clean.smooth.y.tolist()
    assert c.val_eval.x.tolist() == [5] and c.best == (5, 3.6)


def test_curves_read_back_from_metrics_agree_with_live_events(tmp_path):
    """The GUI builds a live run from events and a past run from metrics.jsonl (which drops what a
    resume repeats): both give the same curves."""
    events = [started(), *[step(i, 3 - i / 10) for i in range(8)], started(4), *[step(i, 2.0) for i in range(4, 9)]]
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.jsonl").write_text("".join(json.dumps(e.to_dict()) + "\n" for e in events))
    live, past = RunCurves.from_events(events), read_run_curves(run)
    assert past.loss.x.tolist() == live.loss.x.tolist() and past.smooth.y.tolist() == live.smooth.y.tolist()
    assert typed_events([{"type": "from the future"}, {"type": "step"}]) == []  # skipped, not fatal


def test_cli_and_curves_show_the_same_smoothed_loss_at_log_interval_10(home, capsys):
    """The CLI's progress line and the GUI's curves (here built from the run's metrics.jsonl) smooth
    the loss the same way, at every logged step of a run with log_interval=10."""
    write_char_dataset(home)
    assert main(["train", *tiny_cli_args(max_iters=60, eval_interval=30, log_interval=10)]) == 0
    printed = [float(m[1]) for m in re.finditer(r"^iter +\d+/60 .*?\| loss (\d+\.\d+)", capsys.readouterr().out, re.M)]
    curves = read_run_curves(home / "runs" / "r")
    assert curves.loss.x.tolist() == [0, 10, 20, 30, 40, 50]
    assert printed == [round(v, 4) for v in curves.smooth.y.tolist()]
    # and the printer fed with the same events: identical to the last digit
    out = io.StringIO()
    printer = ProgressPrinter(out)
    for event in typed_events(json.loads(line) for line in (home / "runs" / "r" / "metrics.jsonl").open()):
        printer(event)
    assert printer.smoother.value == curves.smoothed_loss
    assert not math.isnan(curves.smoothed_loss)


# ----- the range an axis shows -----


def test_steady_range_holds_the_data_and_moves_in_round_steps():
    shown, changes = None, 0
    for hi in range(1, 20_001, 7):  # a run growing one logged point at a time
        new = steady_range(0, hi, shown)
        changes += new != shown
        shown = new
        assert shown[0] == 0 and hi < shown[1]  # the data inside, never on the edge
        assert hi >= KEEP_FILL * shown[1]  # and filling most of the range
    assert changes < 60  # a few dozen changes over 2,857 new points
    assert shown[1] % 1000 == 0  # round numbers at this size


def test_steady_range_keeps_what_still_fits_and_widens_a_flat_line():
    assert steady_range(1.5, 4.0, (1.0, 4.5)) == (1.0, 4.5)  # fits and fills 2.5/3.5 of it
    lo, hi = steady_range(1.5, 4.0, (0.0, 10.0))  # fits but fills only a quarter: tighter
    assert 1.0 <= lo < 1.5 and 4.0 < hi <= 4.5
    lo, hi = steady_range(2.0, 2.0)  # one value: a little room around it
    assert lo < 2.0 < hi and hi - lo < 1


def test_a_series_version_changes_with_its_points():
    s = Series()
    versions = {s.version}
    s.extend([0, 1], [2.0, 1.0])
    versions.add(s.version)
    s.keep_first(1)
    versions.add(s.version)
    assert len(versions) == 3


def test_curves_are_read_as_a_stream_with_the_same_result(tmp_path):
    """read_run_curves reads metrics.jsonl a line at a time, in batches; a resumed session still drops
    what the previous one logged past its checkpoint."""
    lines = [started(0, 30_000)] + [step(i, 2.0 + i / 1e4) for i in range(25_000)]
    lines += [started(20_000, 30_000)] + [step(i, 1.0) for i in range(20_000, 30_000)]
    (tmp_path / "metrics.jsonl").write_text("\n".join(json.dumps(e.to_dict()) for e in lines) + "\n{torn")
    curves = read_run_curves(tmp_path)
    assert curves.loss.n == 30_000 and curves.loss.y[19_999] == pytest.approx(3.9999) and curves.loss.y[-1] == 1.0
    assert np.all(np.diff(curves.loss.x) == 1)
