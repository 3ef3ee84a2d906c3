"""GGUF export against the real consumer: a run's model in GPT Studio vs llama.cpp (llama-cpp-python).

For the run's model (PyTorch, as `gptstudio sample` runs it) and its GGUF exports (f32, f16, q8_0),
one row each: file size, perplexity on the first --windows windows of the val split, how many greedy
tokens from each prompt equal GPT Studio's (of --tokens), and greedy generation speed in tokens/s
(one CPU thread each, so the numbers compare the engines, not the thread pools).

    python benchmarks/bench_gguf.py --run myrun            # a run of the workspace ($GPTSTUDIO_HOME)
    python benchmarks/bench_gguf.py --run myrun --home DIR --tokens 100 --windows 50

Needs llama-cpp-python: python3 -m pip install -e ".[llamacpp]" (built from source, ~20 min on 2 cores).
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import torch

from gptstudio.core.dataset import dataset_tokens
from gptstudio.core.export import export_gguf
from gptstudio.core.export_formats import QUANTS
from gptstudio.core.sampler import Sampler, SampleSettings
from gptstudio.core.units import format_bytes

PROMPTS = ("\n", "ROMEO:\n", "First Citizen:\n")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", required=True, help="a run of the workspace (trained, with a dataset)")
    p.add_argument("--home", default=None, help="workspace folder (default: $GPTSTUDIO_HOME or the user's)")
    p.add_argument("--tokens", type=int, default=50, help="greedy tokens per prompt (default 50)")
    p.add_argument("--windows", type=int, default=40, help="val windows of block_size for perplexity (default 40)")
    return p.parse_args(argv)


def ours_perplexity(sampler: Sampler, val: np.ndarray, block: int, windows: int) -> float:
    nll = 0.0
    with torch.no_grad():
        for w in range(windows):
            chunk = torch.tensor([[int(t) for t in val[w * block : (w + 1) * block + 1]]])
            _, loss = sampler.model(chunk[:, :-1], targets=chunk[:, 1:])
            nll += loss.item() * block
    return math.exp(nll / (block * windows))


def llama_perplexity(llm, val: np.ndarray, block: int, windows: int) -> float:
    nll = 0.0
    for w in range(windows):
        chunk = [int(t) for t in val[w * block : (w + 1) * block + 1]]
        llm.reset()
        llm.eval(chunk[:-1])
        logits = np.asarray(llm.scores[:block], dtype=np.float64)
        logp = logits - logits.max(-1, keepdims=True)
        logp -= np.log(np.exp(logp).sum(-1, keepdims=True))
        nll -= logp[np.arange(block), chunk[1:]].sum()
    return math.exp(nll / (block * windows))


def llama_greedy(llm, ids: list[int], n: int) -> list[int]:
    out: list[int] = []
    for token in llm.generate(ids, temp=0.0, top_k=1, top_p=1.0, min_p=0.0, repeat_penalty=1.0):
        out.append(token)
        if len(out) == n:
            break
    return out


def agreeing(a: list[int], b: list[int]) -> int:
    """How many tokens from the start are the same."""
    return next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        import llama_cpp
    except ImportError:
        print("llama-cpp-python is not installed: python3 -m pip install -e '.[llamacpp]'", file=sys.stderr)
        return 1
    torch.set_num_threads(1)
    sampler = Sampler.open(args.run, home=args.home, device="cpu")
    block = sampler.block_size
    tokens = min(args.tokens, block - max(len(sampler.encode_prompt(p)) for p in PROMPTS))
    val = dataset_tokens(sampler.dataset, "val", 0, args.windows * block + 1, home=args.home)
    windows = min(args.windows, (len(val) - 1) // block)
    print(f"{sampler.summary()}; {windows} val windows of {block} tokens; {tokens} greedy tokens per prompt")
    greedy = SampleSettings(max_new_tokens=tokens, temperature=0)
    ours = {p: [t.token_id for t in sampler.stream(p, greedy)] for p in PROMPTS}
    start = time.perf_counter()
    for p in PROMPTS:
        sampler.generate(p, greedy)
    rows = [("GPT Studio (PyTorch)", "", ours_perplexity(sampler, val, block, windows), tokens * len(PROMPTS))]
    rates = [tokens * len(PROMPTS) / (time.perf_counter() - start)]
    with tempfile.TemporaryDirectory() as tmp:
        for quant in QUANTS:
            done = export_gguf(args.run, Path(tmp) / f"m-{quant}.gguf", quant=quant, home=args.home)
            path = str(done.path)
            scorer = llama_cpp.Llama(model_path=path, n_ctx=block, n_threads=1, logits_all=True, verbose=False)
            ppl = llama_perplexity(scorer, val, block, windows)
            llm = llama_cpp.Llama(model_path=path, n_ctx=block, n_threads=1, verbose=False)
            same, start = 0, time.perf_counter()
            for p in PROMPTS:
                same += agreeing(llama_greedy(llm, sampler.encode_prompt(p), tokens), ours[p])
            rates.append(tokens * len(PROMPTS) / (time.perf_counter() - start))
            rows.append((f"llama.cpp {quant}", format_bytes(done.path.stat().st_size), ppl, same))
    print()
    print(f"{'model':<22}{'file':>11}{'val perplexity':>16}{'vs PyTorch':>12}{'greedy = ours':>15}{'tokens/s':>10}")
    for (name, size, ppl, same), rate in zip(rows, rates):
        change = f"{(ppl / rows[0][2] - 1) * 100:+.3f} %"
        total = tokens * len(PROMPTS)
        print(f"{name:<22}{size:>11}{ppl:>16.4f}{change:>12}{f'{same}/{total}':>15}{rate:>10.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
