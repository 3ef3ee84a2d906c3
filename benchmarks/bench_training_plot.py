"""How long the Training tab takes to redraw its loss/lr plots as a run grows.

Prints one row per curve length: the first full redraw, then a redraw after appending a batch of
steps (what happens ~10 times a second during training), both including the paint.

    python benchmarks/bench_training_plot.py           # 10k, 100k, 1M points
    python benchmarks/bench_training_plot.py --quick   # 1k, 10k points
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
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


def measure(tab, n: int, batch: int = 50, repeats: int = 10) -> tuple[float, float]:
    tab._show_primary(None)
    t0 = time.perf_counter()
    tab._on_steps(steps(0, n))
    tab._redraw(force=True)
    tab.lossPlot.grab()
    first = time.perf_counter() - t0
    times = []
    for r in range(repeats):
        t0 = time.perf_counter()
        tab._on_steps(steps(n + r * batch, batch))
        tab._redraw(force=True)
        tab.lossPlot.grab()
        tab.lrPlot.grab()
        times.append(time.perf_counter() - t0)
    return first, sorted(times)[len(times) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke test)")
    args = parser.parse_args()
    sizes = [1_000, 10_000] if args.quick else [10_000, 100_000, 1_000_000]

    from PySide6.QtWidgets import QApplication

    from gptstudio.gui.settings import AppSettings
    from gptstudio.gui.training_tab import TrainingTab

    app = QApplication.instance() or QApplication([])
    home = Path(tempfile.mkdtemp(prefix="gptstudio-bench-"))
    tab = TrainingTab(home, AppSettings(home / "settings.json"))
    tab.resize(1300, 820)
    tab.show()
    app.processEvents()
    print(f"{'points':>10} | {'first redraw (ms)':>17} | {'update + paint (ms, median)':>27}")
    print(f"{'-' * 10}-+-{'-' * 17}-+-{'-' * 27}")
    for n in sizes:
        first, update = measure(tab, n)
        print(f"{n:>10,} | {first * 1000:>17.1f} | {update * 1000:>27.1f}")
    tab.close()


if __name__ == "__main__":
    main()
