"""Generation speed: KV-cached sampling vs full recomputation (nanoGPT's GPT.generate).

A randomly initialised model of the shakespeare_char size (block_size 256, 6 layers, 6 heads, 384
wide, vocabulary 65) generates --tokens new tokens from an empty prompt (a newline, as nanoGPT's
sample.py starts) with nanoGPT's defaults (temperature 0.8, top_k 200, seed 1337), three ways:

  uncached          the last block_size tokens recomputed for every token (nanoGPT)
  cached, exact     KV cache; past block_size each token recomputes the window (same tokens as nanoGPT)
  cached, fast      KV cache; past block_size re-feed half a window, then cached again

Printed per way: tokens/s over the whole run, time to the first token, tokens/s once the context
is full (tokens past block_size), and the speed-up over uncached. Targets (issue 4): cached >= 5x
the uncached tokens/s, first token < 100 ms.

    python benchmarks/bench_sample.py                # 500 tokens, the full-size check
    python benchmarks/bench_sample.py --tokens 20    # (or --quick) a quick check that it runs
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch

from gptstudio.core.model import GPT, GPTConfig
from gptstudio.core.sampler import Sampler, SampleSettings
from gptstudio.core.tokenizer import CharTokenizer

WAYS = [
    ("uncached (nanoGPT)", False, "exact"),
    ("cached, slide=exact", True, "exact"),
    ("cached, slide=fast", True, "fast"),
]
TARGET_SPEEDUP = 5.0
TARGET_FIRST_MS = 100.0


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tokens", type=int, default=500, help="new tokens per run (default 500)")
    p.add_argument("--quick", action="store_true", help="same as --tokens 20")
    p.add_argument("--block-size", type=int, default=256)
    p.add_argument("--n-layer", type=int, default=6)
    p.add_argument("--n-head", type=int, default=6)
    p.add_argument("--n-embd", type=int, default=384)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's choice)")
    args = p.parse_args(argv)
    if args.quick:
        args.tokens = 20
    return args


def timed_run(sampler: Sampler, settings: SampleSettings, use_cache: bool, prompt: str = ""):
    """(token ids, seconds to each token from the start)."""
    ids, stamps = [], []
    start = time.perf_counter()
    for piece in sampler.stream(prompt, settings, use_cache=use_cache):
        stamps.append(time.perf_counter() - start)
        ids.append(piece.token_id)
    return ids, stamps


def rate_past_block(stamps: list[float], block_size: int) -> float | None:
    """tokens/s for the tokens generated once the context was full (the window slides every token)."""
    first = block_size  # the context (1 start token + generated) passes block_size at this index
    if len(stamps) <= first + 1:
        return None
    return (len(stamps) - 1 - first) / (stamps[-1] - stamps[first])


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    chars = ["\n"] + [chr(c) for c in range(32, 96)]  # 65 characters, like shakespeare_char
    config = GPTConfig(
        block_size=args.block_size,
        vocab_size=len(chars),
        n_layer=args.n_layer,
        n_head=args.n_head,
        n_embd=args.n_embd,
        dropout=0.0,
        bias=False,
    )
    sampler = Sampler(GPT(config).to(args.device), CharTokenizer(chars), device=args.device)
    n_params = sum(p.numel() for p in sampler.model.parameters())
    print(
        f"model: {n_params / 1e6:.2f}M params, block_size {config.block_size}, {config.n_layer} layers, "
        f"{config.n_head} heads, {config.n_embd} wide, vocab {config.vocab_size}; device {args.device}, "
        f"{torch.get_num_threads()} threads; {args.tokens} new tokens from an empty prompt"
    )

    results = {}
    for name, use_cache, slide in WAYS:
        settings = SampleSettings(max_new_tokens=args.tokens, temperature=0.8, top_k=200, seed=1337, slide=slide)
        timed_run(sampler, SampleSettings(max_new_tokens=3, seed=0, slide=slide), use_cache)  # warm-up
        ids, stamps = timed_run(sampler, settings, use_cache)
        results[name] = (ids, stamps)

    base_rate = args.tokens / results[WAYS[0][0]][1][-1]
    print()
    print(f"{'way':<22}{'tokens/s':>10}{'first token':>14}{'full-context tok/s':>20}{'vs uncached':>13}")
    for name, _, _ in WAYS:
        ids, stamps = results[name]
        rate = args.tokens / stamps[-1]
        full = rate_past_block(stamps, config.block_size)
        full_s = f"{full:.1f}" if full is not None else "n/a"
        print(f"{name:<22}{rate:>10.1f}{stamps[0] * 1000:>11.1f} ms{full_s:>20}{rate / base_rate:>12.2f}x")

    exact_same = results[WAYS[1][0]][0] == results[WAYS[0][0]][0]
    fast, exact = results[WAYS[2][0]], results[WAYS[1][0]]
    best = max(args.tokens / results[name][1][-1] for name, cached, _ in WAYS if cached) / base_rate
    first_ms = max(results[name][1][0] * 1000 for name, cached, _ in WAYS if cached)
    print()
    print(f"cached exact gives the same tokens as uncached (same seed): {'yes' if exact_same else 'NO'}")
    print(
        f"cached fast equals exact before the first slide: "
        f"{'yes' if fast[0][: config.block_size] == exact[0][: config.block_size] else 'NO'}"
    )
    print(
        f"target speed-up >= {TARGET_SPEEDUP:g}x: best cached way {best:.2f}x "
        f"({'met' if best >= TARGET_SPEEDUP else 'not met'}); "
        f"first token < {TARGET_FIRST_MS:g} ms: {first_ms:.1f} ms "
        f"({'met' if first_ms < TARGET_FIRST_MS else 'not met'})"
    )
    if args.tokens < 2 * config.block_size:
        print(
            f"note: with {args.tokens} tokens the context never or barely passes block_size "
            f"{config.block_size}; the full check is --tokens 500."
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
