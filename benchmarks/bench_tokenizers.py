"""Tokenizers compared on the demo text, and the speed of learning a BPE vocabulary (issue 16).

Part 1, the bundled demo text (Tiny Shakespeare, 1.1 MB): for char, gpt2 and bpe (2,048 learned
tokens), prepare the text, then train the same model shape (nanoGPT's CPU example: 4 layers, 4 heads,
128 wide, block 64, batch 12, constant learning rate 1e-3 after 100 warm-up iterations) for the same
budget, and evaluate once at the end (eval_iters=50). The budget is counted from the first step in
the process's CPU seconds by default (--clock cpu): on a shared machine wall-clock seconds give each
tokenizer whatever the other jobs leave, CPU seconds give each the same compute; training uses one
torch thread by default (--threads), since threads waiting for a busy core burn CPU seconds. The
table gives tokens per byte, the vocabulary and embedding size, the iterations done, CPU and wall
seconds, and val loss in nats per token (not comparable across tokenizers) and in bits per byte
(comparable): the lowest val bpb wins.

Part 2, a text of --size-mb MB (the demo text repeated): `prepare --tokenizer bpe --vocab-size 2048`
in a fresh process, with the time of learning the vocabulary (first pass) and of the whole prepare
(both passes), in MB/s of input (wall) and CPU seconds, and the process's peak RSS; and the Dataset
tab's tokenizer comparison (char, gpt2, bpe on a sample) on the same file, which must take under 2 s.

    python benchmarks/bench_tokenizers.py                 # 180 CPU seconds per tokenizer, 100 MB
    python benchmarks/bench_tokenizers.py --budget 90 --clock wall
    python benchmarks/bench_tokenizers.py --quick         # a smoke test of this script (about a minute)

The table prints the load average seen by each row: on a loaded machine say so with the figures.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench_train import NANOGPT_CPU

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

# nanoGPT's CPU example, as bench_train.py runs it, with a constant learning rate: the run length is a
# time budget, so no schedule tied to max_iters; evaluated once, after the budget (below)
SHAPE = {
    **NANOGPT_CPU,
    "decay_lr": False,
    "max_iters": 10_000_000,
    "eval_interval": 10_000_000,
    "eval_iters": 50,
    "compile": False,
}
CASES = [("char", None), ("gpt2", None), ("bpe", 2048)]


CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}


def train_for(home: Path, dataset: str, budget_s: float, clock: str) -> dict:
    """Train for `budget_s` seconds of `clock` from the first step (start-up is not training), then
    evaluate the saved model once."""
    from gptstudio.core.config import TrainConfig
    from gptstudio.core.events import Eval, Step
    from gptstudio.core.trainer import resume_config, train

    cancel = threading.Event()
    steps: list[Step] = []
    start: dict[str, float] = {}

    def report(event):
        if isinstance(event, Step):
            if not steps:
                start.update({name: now() for name, now in CLOCKS.items()})
            steps.append(event)
            if CLOCKS[clock]() - start[clock] >= budget_s:
                cancel.set()

    train(TrainConfig(**SHAPE, dataset=dataset, run_name=dataset), home=home, report=report, cancel=cancel)
    spent = {f"{name}_s": now() - start[name] for name, now in CLOCKS.items()}
    evals = []
    train(resume_config(dataset, {"eval_only": True}, home=home), home=home, report=evals.append)
    final = next(e for e in evals if isinstance(e, Eval))
    return {"iters": steps[-1].iter + 1, "val_loss": final.val_loss, "val_bpb": final.val_bpb, **spent}


def part1(budget_s: float, clock: str) -> list[dict]:
    from gptstudio.core import dataset as ds
    from gptstudio.core.tokenizer import padded_vocab_size

    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-tokenizers-") as tmp:
        home = Path(tmp)
        for kind, vocab in CASES:
            t0 = time.perf_counter()
            meta = ds.prepare_dataset([ds.demo_text_path()], kind, kind, vocab_size=vocab, home=home)
            prep_s = time.perf_counter() - t0
            tokens = meta["train_tokens"] + meta["val_tokens"]
            text_bytes = meta["train_bytes"] + meta["val_bytes"]
            row = {
                "tokenizer": f"{kind}-{vocab}" if vocab else kind,
                "vocab": meta["vocab_size"],
                "embedding": padded_vocab_size(meta["vocab_size"]) * SHAPE["n_embd"],
                "tokens_per_byte": tokens / text_bytes,
                "prepare_s": prep_s,
                "load": os.getloadavg()[0],
            }
            row.update(train_for(home, kind, budget_s, clock))
            rows.append(row)
            print(f"  {row['tokenizer']}: {row}", file=sys.stderr, flush=True)
    return rows


CHILD = """
import json, resource, sys, time
from gptstudio.core import dataset as ds

def peak_rss():
    # VmHWM: this process's own peak (ru_maxrss keeps the forking parent's peak across exec on Linux)
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:"))
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (1 if sys.platform == "darwin" else 1024)

phases = {}
t0, c0 = time.perf_counter(), time.process_time()
def report(p):
    phases.setdefault(p.phase, (time.perf_counter() - t0, time.process_time() - c0))
meta = ds.prepare_dataset([sys.argv[1]], "big", "bpe", vocab_size=2048, home=sys.argv[2], report=report)
total, total_cpu = time.perf_counter() - t0, time.process_time() - c0
learn, learn_cpu = phases["encoding"]
result = {"learn_s": learn, "learn_cpu": learn_cpu, "total_s": total, "total_cpu": total_cpu,
          "peak_rss": peak_rss(), "vocab": meta["vocab_size"]}
print(json.dumps(result))
"""


def part2(size_mb: int) -> dict:
    from gptstudio.core import dataset as ds
    from gptstudio.core.tokenizer_compare import compare_tokenizers

    demo = ds.demo_text_path().read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory(prefix="bench-bpe-") as tmp:
        src = Path(tmp) / "big.txt"
        with open(src, "w", encoding="utf-8") as f:
            while f.tell() < size_mb * 1_000_000:
                f.write(demo)
        nbytes = src.stat().st_size
        load = os.getloadavg()[0]
        out = subprocess.run(
            [sys.executable, "-c", CHILD, str(src), str(Path(tmp) / "home")],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        result = json.loads(out.stdout)
        t0 = time.perf_counter()
        compare_tokenizers([src], 2048)
        compare_s = time.perf_counter() - t0
    return {
        "mb": nbytes / 1e6,
        "learn_mb_s": nbytes / 1e6 / result["learn_s"],
        "learn_cpu": result["learn_cpu"],
        "prepare_mb_s": nbytes / 1e6 / result["total_s"],
        "prepare_cpu": result["total_cpu"],
        "peak_rss_mb": result["peak_rss"] / 2**20,
        "compare_s": compare_s,
        "load": load,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", type=float, default=180.0, help="seconds of training per tokenizer (180)")
    parser.add_argument(
        "--clock", choices=sorted(CLOCKS), default="cpu", help="what the budget counts: cpu (default) or wall seconds"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads for training (default 1: on a busy machine, threads waiting for a core burn CPU "
        "seconds without progress)",
    )
    parser.add_argument("--size-mb", type=int, default=100, help="size of the text for BPE throughput")
    parser.add_argument("--quick", action="store_true", help="10 s budget, 5 MB: checks that the script runs")
    args = parser.parse_args()
    if args.quick:
        args.budget, args.size_mb = 10.0, 5
    os.environ["OMP_NUM_THREADS"] = str(args.threads)  # the trainer then keeps torch at this many threads
    import torch

    torch.set_num_threads(args.threads)

    print(
        f"CPU, {torch.get_num_threads()} threads, budget {args.budget:.0f} {args.clock} seconds per tokenizer, "
        f"model {SHAPE['n_layer']}x{SHAPE['n_head']}x{SHAPE['n_embd']}, block {SHAPE['block_size']}, "
        f"batch {SHAPE['batch_size']}",
        flush=True,
    )
    rows = part1(args.budget, args.clock)
    print()
    print(
        f"{'tokenizer':<10} {'vocab':>7} {'embedding':>10} {'tokens/byte':>11} {'prepare':>8} {'iters':>7} "
        f"{'cpu s':>6} {'wall s':>6} {'val loss':>9} {'val bpb':>8} {'load':>5}"
    )
    for r in rows:
        print(
            f"{r['tokenizer']:<10} {r['vocab']:>7,} {r['embedding']:>10,} {r['tokens_per_byte']:>11.3f} "
            f"{r['prepare_s']:>7.1f}s {r['iters']:>7,} {r['cpu_s']:>6.0f} {r['wall_s']:>6.0f} "
            f"{r['val_loss']:>9.4f} {r['val_bpb']:>8.4f} {r['load']:>5.1f}"
        )
    best = min(rows, key=lambda r: r["val_bpb"] if r["val_bpb"] is not None else math.inf)
    print(
        f"\nLowest val bits per byte after {args.budget:.0f} {args.clock} seconds: {best['tokenizer']} "
        f"({best['val_bpb']:.4f})."
    )

    b = part2(args.size_mb)
    print()
    print(
        f"BPE (2,048) on {b['mb']:.0f} MB: learning the vocabulary {b['learn_mb_s']:.2f} MB/s "
        f"({b['learn_cpu']:.0f} CPU s), whole prepare (learn + encode) {b['prepare_mb_s']:.2f} MB/s "
        f"({b['prepare_cpu']:.0f} CPU s), peak RSS {b['peak_rss_mb']:.0f} MB (load {b['load']:.1f})"
    )
    verdict = "under" if b["compare_s"] < 2.0 else "OVER"
    print(f"Tokenizer comparison on the {b['mb']:.0f} MB file: {b['compare_s']:.2f} s ({verdict} the 2 s target)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
