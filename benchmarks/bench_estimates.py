"""How good are the Config tab's estimates? Formula vs. reality, per model shape.

For each shape it prints: parameters (formula, and whether it equals the built model's), estimated
training memory vs. the measured peak (CUDA only: torch.cuda.max_memory_allocated), and the
micro-benchmark's time per iteration (capped batch, scaled) vs. a real loop at the full batch.

    python benchmarks/bench_estimates.py --quick            # tiny shapes, CPU, seconds
    python benchmarks/bench_estimates.py --device cuda      # nanoGPT-sized shapes on a GPU
"""

from __future__ import annotations

import argparse
import time
from contextlib import nullcontext

import torch

from gptstudio.core import estimates as est
from gptstudio.core.config import TrainConfig
from gptstudio.core.devices import resolve_device, resolve_dtype
from gptstudio.core.model import GPT, GPTConfig
from gptstudio.core.units import format_bytes, format_count

QUICK = [  # (name, n_layer, n_head, n_embd, block_size, batch_size, vocab)
    ("tiny", 2, 2, 64, 32, 8, 65),
    ("small", 4, 4, 128, 64, 12, 65),
]
FULL = [
    ("baby GPT (char)", 6, 6, 384, 256, 64, 65),
    ("GPT-2 124M b12", 12, 12, 768, 1024, 12, 50304),
    ("GPT-2 124M b4", 12, 12, 768, 1024, 4, 50304),
    ("GPT-2 350M b4", 24, 16, 1024, 1024, 4, 50304),
]


def real_iteration(cfg: TrainConfig, vocab: int, dev: str, steps: int) -> tuple[float, int | None]:
    """Seconds per optimizer step of a real loop at the full batch, and the peak memory (CUDA)."""
    dtype = resolve_dtype(cfg.dtype, dev)
    kind = dev.split(":")[0]
    ctx = torch.autocast(kind, dtype=getattr(torch, dtype)) if dtype != "float32" else nullcontext()
    if kind == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(dev)
    model = GPT(GPTConfig(**cfg.model_args(vocab))).to(dev)
    opt = model.configure_optimizers(cfg.weight_decay, cfg.learning_rate, (cfg.beta1, cfg.beta2), kind)
    x = torch.randint(0, vocab, (cfg.batch_size, cfg.block_size), device=dev)
    times = []
    for step in range(steps + 1):  # the first step warms up
        t0 = time.perf_counter()
        with ctx:
            loss = model(x, x)[1]  # as the trainer: the logits are not kept through backward
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        if kind == "cuda":
            torch.cuda.synchronize(dev)
        if step:
            times.append(time.perf_counter() - t0)
    peak = torch.cuda.max_memory_allocated(dev) if kind == "cuda" else None
    del model, opt, x
    if kind == "cuda":
        torch.cuda.empty_cache()
    return sorted(times)[len(times) // 2], peak


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="tiny shapes only (a few seconds on a CPU)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--steps", type=int, default=5, help="real optimizer steps timed per shape")
    args = ap.parse_args()
    dev = resolve_device(args.device)
    rows = [
        (
            "shape",
            "params",
            "= model",
            "est. memory",
            "peak memory",
            "est/peak",
            "bench s/it",
            "real s/it",
            "bench/real",
            "measured at",
        )
    ]
    for name, L, H, C, T, B, V in QUICK if args.quick else FULL:
        cfg = TrainConfig(
            n_layer=L,
            n_head=H,
            n_embd=C,
            block_size=T,
            batch_size=B,
            dropout=0.0,
            device=dev,
            gradient_accumulation_steps=1,
        )
        n = est.count_params(cfg.model_args(V))
        same = n == GPT(GPTConfig(**cfg.model_args(V))).get_num_params(non_embedding=False) if L <= 12 else "-"
        mem = est.memory_estimate(cfg, V)["total"]
        bench = est.measure_iteration_time(cfg, V, dev, iters=3)
        real_s, peak = real_iteration(cfg, V, dev, args.steps)
        rows.append(
            (
                name,
                format_count(n),
                str(same),
                format_bytes(mem),
                format_bytes(peak) if peak else "n/a",
                f"{mem / peak:.2f}" if peak else "n/a",
                f"{bench.seconds_per_iter:.4f}",
                f"{real_s:.4f}",
                f"{bench.seconds_per_iter / real_s:.2f}",
                f"batch {bench.measured_batch}/{B}",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    print(f"device: {dev} ({resolve_dtype('auto', dev)}), torch {torch.__version__}")
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)))


if __name__ == "__main__":
    main()
