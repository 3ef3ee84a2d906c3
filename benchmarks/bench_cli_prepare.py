"""Char-level prepare as whole processes, side by side: `gptstudio prepare` vs nanoGPT's prepare.py.

What a person waits for, start-up included: each side is a fresh `python` process on the same local
text (tiny Shakespeare repeated to --size-mb MB, benchmarks/corpus.py), timed from launch to exit, its
peak RSS read from the operating system when it exits (wait4's rusage of that one child).

  nanoGPT   data/shakespeare_char/prepare.py's logic, written out below as its own script: read the
            whole file, sorted set of characters, stoi, encode with a list comprehension, 90/10 split,
            np.uint16 tofile, pickle the meta (the download step aside: the file is local)
  GPT Studio  python -m gptstudio prepare FILE --name bench --tokenizer char (a fresh workspace)

Runs alternate (nanoGPT, GPT Studio, nanoGPT, ...) --repeat times; the table shows every run, then the
best time and the largest peak of each side, and checks that both wrote the same train.bin and
val.bin. Targets (issue 14): GPT Studio at least 5x faster and at most half nanoGPT's peak memory.

    python benchmarks/bench_cli_prepare.py              # 100 MB, 3 runs each
    python benchmarks/bench_cli_prepare.py --quick      # 5 MB, 1 run each: a check that it runs
"""

from __future__ import annotations

import argparse
import filecmp
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from corpus import shakespeare_path

REPO = Path(__file__).resolve().parent.parent
TARGET_SPEEDUP = 5.0
TARGET_MEMORY = 0.5

NANOGPT_PREPARE = '''
"""nanoGPT's data/shakespeare_char/prepare.py, reading a local file (argv[1]) into a folder (argv[2])."""
import os
import pickle
import sys

import numpy as np

input_file_path, out_dir = sys.argv[1], sys.argv[2]
with open(input_file_path, "r") as f:
    data = f.read()
print(f"length of dataset in characters: {len(data):,}")

# get all the unique characters that occur in this text
chars = sorted(list(set(data)))
vocab_size = len(chars)
print("all the unique characters:", "".join(chars))
print(f"vocab size: {vocab_size:,}")

# create a mapping from characters to integers
stoi = {ch: i for i, ch in enumerate(chars)}
itos = {i: ch for i, ch in enumerate(chars)}


def encode(s):
    return [stoi[c] for c in s]  # encoder: take a string, output a list of integers


# create the train and test splits
n = len(data)
train_data = data[: int(n * 0.9)]
val_data = data[int(n * 0.9) :]

# encode both to integers
train_ids = encode(train_data)
val_ids = encode(val_data)
print(f"train has {len(train_ids):,} tokens")
print(f"val has {len(val_ids):,} tokens")

# export to bin files
train_ids = np.array(train_ids, dtype=np.uint16)
val_ids = np.array(val_ids, dtype=np.uint16)
train_ids.tofile(os.path.join(out_dir, "train.bin"))
val_ids.tofile(os.path.join(out_dir, "val.bin"))

# save the meta information as well, to help us encode/decode later
meta = {"vocab_size": vocab_size, "itos": itos, "stoi": stoi}
with open(os.path.join(out_dir, "meta.pkl"), "wb") as f:
    pickle.dump(meta, f)
'''


def build_text(path: Path, size_mb: float) -> Path:
    base = shakespeare_path().read_bytes()
    with open(path, "wb") as f:
        for _ in range(max(1, math.ceil(size_mb * 1e6 / len(base)))):
            f.write(base)
    return path


def run_process(cmd: list[str], env: dict) -> tuple[float, int]:
    """Wall seconds from launch to exit, and the peak RSS in bytes of that process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if hasattr(os, "wait4"):
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        peak = usage.ru_maxrss * (1 if sys.platform == "darwin" else 1024)  # bytes on macOS, KiB on Linux
    else:  # Windows: sample the peak working set while it runs
        import psutil

        peak, child = 0, psutil.Process(proc.pid)
        while proc.poll() is None:
            try:
                peak = max(peak, child.memory_info().peak_wset)
            except psutil.Error:
                pass
            time.sleep(0.01)
        seconds = time.perf_counter() - start
    stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd[:4])} ... failed:\n{stderr[-2000:]}")
    return seconds, peak


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size-mb", type=float, default=100.0, help="size of the text (default 100)")
    p.add_argument("--repeat", type=int, default=3, help="runs of each side (default 3)")
    p.add_argument("--quick", action="store_true", help="5 MB, one run each")
    args = p.parse_args(argv)
    size, repeat = (5.0, 1) if args.quick else (args.size_mb, max(1, args.repeat))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    with tempfile.TemporaryDirectory(prefix="bench-cli-prepare-") as d:
        tmp = Path(d)
        text = build_text(tmp / "input.txt", size)
        (tmp / "nanogpt_prepare.py").write_text(NANOGPT_PREPARE, encoding="utf-8")
        mb = text.stat().st_size / 1e6
        print(f"input: {mb:.1f} MB, python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {repeat} run(s) each")
        runs: dict[str, list[tuple[float, int]]] = {"nanoGPT prepare.py": [], "gptstudio prepare": []}
        for i in range(repeat):
            out = tmp / f"nanogpt-{i}"
            out.mkdir()
            cmd = [sys.executable, str(tmp / "nanogpt_prepare.py"), str(text), str(out)]
            runs["nanoGPT prepare.py"].append(run_process(cmd, env))
            home = tmp / f"home-{i}"
            cmd = [sys.executable, "-m", "gptstudio", "--home", str(home), "prepare", str(text), "--name", "bench"]
            runs["gptstudio prepare"].append(run_process(cmd, env))
            # compared in small blocks: a child forked from a big parent would count the parent's pages
            same = all(
                filecmp.cmp(out / f"{split}.bin", home / "datasets" / "bench" / f"{split}.bin", shallow=False)
                for split in ("train", "val")
            )
            if not same:
                sys.exit("the two sides wrote different token files: the comparison is void")
            for folder in (out, home):
                for f in folder.rglob("*.bin"):
                    f.unlink()  # keep the disk use to one run's worth
    print_table(runs, mb)
    return 0


def print_table(runs: dict[str, list[tuple[float, int]]], mb: float) -> None:
    print(f"\n{'process':<22}{'run':>4}{'seconds':>9}{'MB/s':>8}{'peak RSS MB':>13}")
    for name, results in runs.items():
        for i, (seconds, peak) in enumerate(results, 1):
            print(f"{name:<22}{i:>4}{seconds:>9.2f}{mb / seconds:>8.1f}{peak / 1e6:>13.0f}")
    (base_s, base_m), (ours_s, ours_m) = [
        (min(s for s, _ in results), max(m for _, m in results)) for results in runs.values()
    ]
    speedup, memory = base_s / ours_s, ours_m / base_m
    print(
        f"\nbest wall time: nanoGPT {base_s:.2f} s, GPT Studio {ours_s:.2f} s -> {speedup:.1f}x faster "
        f"(target >= {TARGET_SPEEDUP:g}x: {'PASS' if speedup >= TARGET_SPEEDUP else 'MISS'})"
    )
    print(
        f"largest peak RSS: nanoGPT {base_m / 1e6:.0f} MB, GPT Studio {ours_m / 1e6:.0f} MB -> {memory:.2f} of it "
        f"(target <= {TARGET_MEMORY:g}: {'PASS' if memory <= TARGET_MEMORY else 'MISS'})"
    )
    print("same train.bin and val.bin on both sides: yes")


if __name__ == "__main__":
    sys.exit(main())
