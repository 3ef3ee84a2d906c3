"""Dataset preparation speed and memory: GPT Studio's prepare vs the naive/raw references.

A text of --size-mb MB is built by repeating tiny Shakespeare (benchmarks/corpus.py) in a temporary
folder. Each case runs in its own fresh Python process (--repeat times; the best time counts), which
reports its wall time (after imports) and its peak RSS (ru_maxrss), so cases share no memory:

  naive char (nanoGPT)   read all, sorted(set(text)), [stoi[c] for c in text], np.array, split, tofile
                         (what nanoGPT's data/shakespeare_char/prepare.py does)
  char prepare           gptstudio.core.dataset.prepare_dataset(tokenizer="char")
  tiktoken raw           GPT-2 encode_ordinary_batch over the text in ~1 MB pieces, 2 threads, text
                         already in memory (only the encode call is timed)
  gpt2 prepare           prepare_dataset(tokenizer="gpt2", num_threads=2): reading, validation, sha256,
                         encoding, writing and the split all included
  char prepare @ 1/4     the same char prepare on a quarter of the text: peak RSS must not grow with size

In both GPT-2 cases the BPE tables are loaded before the clock starts. Targets (issue 2): char
prepare >= 20x the naive encoder's MB/s; gpt2 prepare >= 80% of raw tiktoken; peak RSS flat in size
(meaningful from --size-mb 40 up, where even the quarter-size input spans several 8 MB chunks).

    python benchmarks/bench_prepare.py               # 100 MB, the full check (a few minutes)
    python benchmarks/bench_prepare.py --size-mb 5   # (or --quick) a quick check that it runs
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from corpus import shakespeare_path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

TARGET_CHAR_SPEEDUP = 20.0
TARGET_GPT2_RATIO = 0.8
TARGET_RSS_GROWTH = 1.25  # peak RSS at full size / at a quarter: "flat" allows 25% noise
THREADS = 2


# ------------------------------------------------------------------------------ the cases (in a child)


def case_naive(src: Path, work: Path) -> None:
    import numpy as np

    text = src.read_text(encoding="utf-8")
    chars = sorted(set(text))
    stoi = {c: i for i, c in enumerate(chars)}
    n = len(text)
    train, val = text[: int(n * 0.9)], text[int(n * 0.9) :]
    np.array([stoi[c] for c in train], dtype=np.uint16).tofile(work / "train.bin")
    np.array([stoi[c] for c in val], dtype=np.uint16).tofile(work / "val.bin")


def case_char(src: Path, work: Path) -> None:
    from gptstudio.core.dataset import prepare_dataset

    prepare_dataset([src], "bench", "char", home=work)


def case_tiktoken(src: Path, work: Path, enc=None, pieces=None) -> None:
    enc.encode_ordinary_batch(pieces, num_threads=THREADS)


def case_gpt2(src: Path, work: Path, enc=None) -> None:
    from gptstudio.core.dataset import prepare_dataset

    prepare_dataset([src], "bench", "gpt2", home=work, num_threads=THREADS)


def child(case: str, src: Path, work: Path) -> dict:
    """Run one case in this (fresh) process, timed after the imports and setup; report peak RSS."""
    import numpy  # noqa: F401  (imports are not what is measured)

    from gptstudio.core.dataset import bpe_pieces
    from gptstudio.core.tokenizer import gpt2_encoding

    kwargs = {}
    if case in ("tiktoken", "gpt2"):
        kwargs["enc"] = gpt2_encoding()  # cached: prepare_dataset reuses it
    if case == "tiktoken":
        pieces, rest = bpe_pieces(src.read_text(encoding="utf-8"), 1 << 20)
        kwargs["pieces"] = pieces + [rest]
    fn = {"naive": case_naive, "char": case_char, "tiktoken": case_tiktoken, "gpt2": case_gpt2}[case]
    start = time.perf_counter()
    fn(src, work, **kwargs)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "peak_rss": peak_rss()}


def peak_rss() -> int:
    """Peak resident memory of this process in bytes."""
    try:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024  # bytes on macOS, KiB on Linux
    except ImportError:  # Windows
        import psutil

        return psutil.Process().memory_info().peak_wset


# ------------------------------------------------------------------------------------- the driver


def build_text(folder: Path, size_mb: float, name: str) -> Path:
    base = shakespeare_path().read_bytes()
    reps = max(1, math.ceil(size_mb * 1e6 / len(base)))
    path = folder / name
    with open(path, "wb") as f:
        for _ in range(reps):
            f.write(base)
    return path


def run_case(case: str, src: Path, tmp: Path, repeat: int) -> dict:
    """The best time and the largest peak RSS of `repeat` fresh processes."""
    runs = []
    for _ in range(repeat):
        work = Path(tempfile.mkdtemp(dir=tmp, prefix=f"{case}-"))
        proc = subprocess.run(
            [sys.executable, __file__, "--child", case, str(src), str(work)], capture_output=True, text=True
        )
        if proc.returncode != 0:
            sys.exit(f"case {case} failed:\n{proc.stderr}")
        runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        shutil.rmtree(work)
    result = {"seconds": min(r["seconds"] for r in runs), "peak_rss": max(r["peak_rss"] for r in runs)}
    result["mb"] = src.stat().st_size / 1e6
    result["mb_s"] = result["mb"] / result["seconds"]
    return result


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size-mb", type=float, default=100.0, help="size of the test text (default 100)")
    p.add_argument("--quick", action="store_true", help="same as --size-mb 5")
    p.add_argument("--repeat", type=int, default=3, help="runs per case; the best time counts (default 3)")
    p.add_argument("--child", nargs=3, metavar=("CASE", "SRC", "WORK"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        case, src, work = args.child
        print(json.dumps(child(case, Path(src), Path(work))))
        return 0
    size = 5.0 if args.quick else args.size_mb
    with tempfile.TemporaryDirectory(prefix="bench-prepare-") as d:
        tmp = Path(d)
        full, quarter = build_text(tmp, size, "full.txt"), build_text(tmp, size / 4, "quarter.txt")
        print(
            f"input: {full.stat().st_size / 1e6:.1f} MB (and {quarter.stat().st_size / 1e6:.1f} MB), "
            f"{THREADS} BPE threads, best of {args.repeat} runs, python {sys.version.split()[0]}, "
            f"{os.cpu_count()} CPUs",
            flush=True,
        )
        rows = {}
        for key, case, src in [
            ("naive", "naive", full),
            ("char", "char", full),
            ("tiktoken", "tiktoken", full),
            ("gpt2", "gpt2", full),
            ("char_quarter", "char", quarter),
        ]:
            rows[key] = run_case(case, src, tmp, max(1, args.repeat))
            print(f"  done: {key} ({rows[key]['seconds']:.1f} s)", file=sys.stderr, flush=True)
    print_table(rows)
    return 0


def print_table(rows: dict) -> None:
    char_x = rows["char"]["mb_s"] / rows["naive"]["mb_s"]
    gpt2_r = rows["gpt2"]["mb_s"] / rows["tiktoken"]["mb_s"]
    rss_g = rows["char"]["peak_rss"] / rows["char_quarter"]["peak_rss"]
    table = [
        ("naive char (nanoGPT)", rows["naive"], "reference", ""),
        ("char prepare", rows["char"], f"{char_x:.1f}x naive", _verdict(char_x >= TARGET_CHAR_SPEEDUP, ">= 20x")),
        ("tiktoken raw batch", rows["tiktoken"], "reference", ""),
        ("gpt2 prepare", rows["gpt2"], f"{100 * gpt2_r:.0f}% of raw", _verdict(gpt2_r >= TARGET_GPT2_RATIO, ">= 80%")),
        (
            "char prepare @ 1/4 size",
            rows["char_quarter"],
            f"RSS x{rss_g:.2f} at 4x size",
            _verdict(rss_g <= TARGET_RSS_GROWTH, "flat"),
        ),
    ]
    print(f"\n{'case':<24}{'MB':>8}{'seconds':>9}{'MB/s':>9}{'peak RSS MB':>13}  {'ratio':<22}target")
    for label, r, ratio, target in table:
        print(
            f"{label:<24}{r['mb']:>8.1f}{r['seconds']:>9.2f}{r['mb_s']:>9.1f}{r['peak_rss'] / 1e6:>13.0f}"
            f"  {ratio:<22}{target}"
        )


def _verdict(ok: bool, target: str) -> str:
    return f"{target}: {'PASS' if ok else 'MISS'}"


if __name__ == "__main__":
    sys.exit(main())
