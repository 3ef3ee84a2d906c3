"""TrainingPlots: loss and lr plots over RunCurves."""

import math

import numpy as np

from gptstudio.core.curves import RunCurves
from gptstudio.core.events import Eval
from gptstudio.gui.training.plots import TrainingPlots
from tests.gui.training.helpers import started, step


def test_plots_draw_overlays_and_redraw_a_zoomed_range_in_detail(qtbot):
    plots = TrainingPlots()
    qtbot.addWidget(plots)
    plots.resize(900, 600)
    plots.show()
    curves = RunCurves.from_events([started(), *[step(i, 2 + math.sin(i / 50)) for i in range(50_000)]])
    curves.add_eval(Eval(1000, 2.0, 1.5, 1.5))
    plots.show_curves(curves, "Loss: r")
    assert plots.title() == "Loss: r" and plots.bestMarker.xData.tolist() == [1000]
    assert len(plots.rawCurve.xData) < 5_000  # the envelope, not 50,000 points
    other = RunCurves.from_events([step(i, 3.0) for i in range(100)])
    plots.set_overlays({"other": other})
    assert "other (smoothed)" in plots.legend_names() and "other val" in plots.legend_names()
    plots.set_overlays({})
    assert "other (smoothed)" not in plots.legend_names()
    # zoomed in: the points of that range, exactly
    plots.lossPlot.getPlotItem().getViewBox().setXRange(20_000, 20_300, padding=0)
    plots.redraw(force=True)
    x = plots.rawCurve.xData
    assert x[0] <= 20_000 and x[-1] >= 20_300 and np.all(np.diff(x) == 1) and len(x) < 400


def test_plots_redraw_at_most_10_times_a_second(qtbot):
    plots = TrainingPlots()
    qtbot.addWidget(plots)
    before = plots.redraw_count
    for i in range(50):
        plots.add_steps([step(i)])
        plots.changed()
    assert plots.redraw_count - before == 1  # the first at once, the rest wait for the timer
    qtbot.waitUntil(lambda: plots.redraw_count - before == 2, timeout=5_000)
    assert plots.rawCurve.xData[-1] == 49


def test_plots_show_bits_per_byte_and_name_runs_without_them(qtbot):
    plots = TrainingPlots()
    qtbot.addWidget(plots)
    plots.resize(900, 600)
    # train split: 0.5 bits per byte per nat; val split: 0.6
    curves = RunCurves.from_events([started(), *[step(i, 2.0) for i in range(10)]])
    curves.add_eval(Eval(0, 2.0, 2.5, 2.5, None, 1.0, 1.5))
    curves.add_eval(Eval(10, 1.0, 2.0, 2.0, None, 0.5, 1.2))
    plots.show_curves(curves, "Loss: r")
    assert plots.unit() == "loss" and plots.valEvalCurve.yData.tolist() == [2.5, 2.0]
    old = RunCurves.from_events([step(i, 3.0) for i in range(10)])  # logged before bits per byte existed
    plots.set_overlays({"old": old})
    units = []
    plots.sig_unit_changed.connect(units.append)
    plots.set_unit("bpb")
    assert units == ["bpb"] and plots.lossPlot.getPlotItem().getAxis("left").labelText == "bits per byte of text"
    assert plots.valEvalCurve.yData.tolist() == [1.5, 1.2]
    np.testing.assert_allclose(plots.rawCurve.yData, 2.0 * 0.5)
    np.testing.assert_allclose(plots.trainEvalCurve.yData, [1.0, 0.5])
    assert plots.bestMarker.yData.tolist() == [1.2]
    assert plots.lrCurve.yData.tolist() == [1e-3] * 10  # not a loss: never scaled
    assert plots.missing_bpb() == ["old"] and "No bits per byte for old" in plots.missingLabel.text()
    overlay_lines = [i for i in plots.lossPlot.getPlotItem().listDataItems() if i.name() == "old (smoothed)"]
    assert len(overlay_lines[0].xData or []) == 0  # not drawn in a unit it has no figures for
    plots.set_unit("loss")
    assert plots.valEvalCurve.yData.tolist() == [2.5, 2.0] and plots.missingLabel.text() == ""
