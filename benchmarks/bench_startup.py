"""Start-up to the first window, side by side: the desktop bundle vs the installed package.

What a person waits for after a double click: each run is a fresh process of `--self-test` (offscreen),
stopped as soon as it prints its "first window" line, which gives the seconds since the process started
(its launcher, Python, torch and Qt included). The CPU seconds the process used until then are read from
/proc: on a busy machine the wall time grows with the load, the CPU time hardly does.

Runs alternate (installed, bundle, installed, ...) --repeat times after one warm-up run each (so both read
their files from the page cache, as on a second start); the table shows every run, then the best and the
median. Target (issue 21): the Linux bundle's first window under 5 s.

    python benchmarks/bench_startup.py --bundle dist/GPTStudio/GPTStudio       # 5 runs each
    python benchmarks/bench_startup.py --bundle dist/GPTStudio/GPTStudio --repeat 1
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

TARGET_S = 5.0
FIRST_WINDOW = re.compile(r"^\[ *([\d.]+)s\] first window")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a live process (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def first_window(command: list[str]) -> tuple[float, float]:
    """(seconds since start, CPU seconds) when `command --self-test` shows its first window."""
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as home:
        env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "GPTSTUDIO_HOME": home}
        proc = subprocess.Popen(
            [*command, "--self-test"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
        )
        try:
            for line in proc.stdout:
                found = FIRST_WINDOW.match(line)
                if found:
                    return float(found[1]), cpu_seconds(proc.pid)
            raise SystemExit(f"{' '.join(command)} --self-test showed no window (exit code {proc.wait()})")
        finally:
            proc.kill()
            proc.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", required=True, help="the bundle's program, e.g. dist/GPTStudio/GPTStudio")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    installed = shutil.which("gptstudio")
    sides = {
        "installed": [installed] if installed else [sys.executable, "-m", "gptstudio"],
        "bundle": [str(Path(args.bundle).resolve())],
    }
    for command in sides.values():  # warm-up: files into the page cache
        first_window(command)
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in sides}
    print(f"{'run':>4}  {'side':<10} {'first window':>13} {'CPU time':>9}")
    for i in range(args.repeat):
        for name, command in sides.items():
            wall, cpu = first_window(command)
            times[name].append((wall, cpu))
            print(f"{i + 1:>4}  {name:<10} {wall:>11.2f} s {cpu:>7.2f} s", flush=True)
    print(f"\n{'':<10} {'best':>8} {'median':>8} {'median CPU':>11}")
    for name, runs in times.items():
        walls = [w for w, _c in runs]
        cpus = [c for _w, c in runs]
        print(f"{name:<10} {min(walls):>6.2f} s {statistics.median(walls):>6.2f} s {statistics.median(cpus):>9.2f} s")
    best = min(w for w, _c in times["bundle"])
    verdict = "meets" if best < TARGET_S else "misses"
    print(f"\nbundle: first window after {best:.2f} s at best, {verdict} the {TARGET_S:.0f} s target")
    print(f"load average during the runs: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
