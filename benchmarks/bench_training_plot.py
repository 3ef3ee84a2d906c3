"""How long the Training tab takes to redraw its loss/lr plots as a run grows.

Prints one row per curve length: the first full redraw, then a redraw after appending a batch of
steps (what happens ~10 times a second during training), both including the paint, and how many
points the loss plot is given (a min/max envelope bounded by its width: core.curves.Series.view).

    python benchmarks/bench_training_plot.py           # 10k, 200k, 1M points
    python benchmarks/bench_training_plot.py --quick   # 1k, 10k points
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def steps(start: int, n: int):
    from gptstudio.core.events import Step

    return [
        Step(
            iter=i,
            loss=2 + math.sin(i / 300) + 1 / (1 + i / 1000),
            lr=1e-3,
            tokens_per_sec=1e5,
            ms_per_iter=1.0,
            mfu=-1,
            elapsed=float(i),
        )
        for i in range(start, start + n)
    ]


def measure(plots, n: int, batch: int = 50, repeats: int = 10) -> tuple[float, float, int]:
    from gptstudio.core.curves import RunCurves

    plots.show_curves(RunCurves())
    t0 = time.perf_counter()
    plots.add_steps(steps(0, n))
    plots.redraw(force=True)
    plots.lossPlot.grab()
    first = time.perf_counter() - t0
    times = []
    for r in range(repeats):
        t0 = time.perf_counter()
        plots.add_steps(steps(n + r * batch, batch))
        plots.redraw(force=True)
        plots.lossPlot.grab()
        plots.lrPlot.grab()
        times.append(time.perf_counter() - t0)
    return first, sorted(times)[len(times) // 2], len(plots.rawCurve.xData)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke test)")
    args = parser.parse_args()
    sizes = [1_000, 10_000] if args.quick else [10_000, 200_000, 1_000_000]

    from PySide6.QtWidgets import QApplication

    from gptstudio.gui.training.plots import TrainingPlots

    app = QApplication.instance() or QApplication([])
    plots = TrainingPlots()
    plots.resize(900, 700)
    plots.show()
    app.processEvents()
    print(f"{'points':>10} | {'first redraw (ms)':>17} | {'update + paint (ms, median)':>27} | {'points drawn':>12}")
    print(f"{'-' * 10}-+-{'-' * 17}-+-{'-' * 27}-+-{'-' * 12}")
    for n in sizes:
        first, update, drawn = measure(plots, n)
        print(f"{n:>10,} | {first * 1000:>17.1f} | {update * 1000:>27.1f} | {drawn:>12,}")
    plots.close()


if __name__ == "__main__":
    main()
