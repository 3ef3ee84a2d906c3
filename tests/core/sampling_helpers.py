"""Tiny models and checkpoints for the sampler and `gptstudio sample` tests."""

from __future__ import annotations

import functools
from pathlib import Path

import torch
import torch.nn as nn

from gptstudio.core.checkpoint import save_checkpoint
from gptstudio.core.model import GPT, GPTConfig
from gptstudio.core.tokenizer import CharTokenizer

TINY = dict(block_size=16, n_layer=2, n_head=2, n_embd=32, dropout=0.0, bias=False)


@functools.lru_cache(maxsize=2)
def shared_tiny_char_model(text: str):
    """train_tiny_char_model, trained once per test session (callers must not change the model)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: one thread is fastest, and the test machine is shared
    try:
        return train_tiny_char_model(text)
    finally:
        torch.set_num_threads(before)


def train_tiny_char_model(text: str, steps: int = 80, seed: int = 0, **overrides):
    """A ~25k-parameter char model trained briefly, so greedy outputs are not near-ties."""
    torch.manual_seed(seed)
    tok = CharTokenizer(sorted(set(text)))
    args = {**TINY, **overrides, "vocab_size": tok.vocab_size}
    model = GPT(GPTConfig(**args))
    data = torch.tensor(tok.encode(text), dtype=torch.long)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    bs = args["block_size"]
    for _ in range(steps):
        ix = torch.randint(len(data) - bs - 1, (32,))
        x = torch.stack([data[i : i + bs] for i in ix])
        y = torch.stack([data[i + 1 : i + bs + 1] for i in ix])
        _, loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return model.eval(), tok, args


def sharp_random_model(vocab_size: int, seed: int = 0, scale: float = 10.0, **overrides):
    """A random model whose weight matrices are scaled up: its next token depends strongly on the whole
    context (a briefly trained tiny model is nearly a bigram model), so any mix-up of the context shows."""
    torch.manual_seed(seed)
    model = GPT(GPTConfig(**{**TINY, **overrides, "vocab_size": vocab_size}))
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() == 2:
                p.mul_(scale)
    return model.eval()


def checkpoint_dict(
    model, args: dict, tokenizer=None, iter_num: int = 80, best_val_loss=2.5, dataset="shakespeare_char"
) -> dict:
    ckpt = {
        "model": model.state_dict(),
        "model_args": dict(args),
        "iter_num": iter_num,
        "best_val_loss": best_val_loss,
        "config": {"dataset": dataset},
        "optimizer": {},
    }
    if tokenizer is not None:
        ckpt["tokenizer"] = tokenizer.to_meta()
        ckpt["dataset"] = dataset
    return ckpt


def save_run(home: Path, name: str, model, tokenizer, args: dict, best: bool = True) -> Path:
    """home/runs/NAME/ckpt.pt (iter 80) and, if best, best.pt (iter 60, a lower loss)."""
    run = Path(home) / "runs" / name
    save_checkpoint(checkpoint_dict(model, args, tokenizer, 80, 2.5), run / "ckpt.pt")
    if best:
        save_checkpoint(checkpoint_dict(model, args, tokenizer, 60, 2.25), run / "best.pt")
    return run


class ScriptedModel(nn.Module):
    """Stands in for GPT with logits we choose: `logits_for(call, idx)` -> (B, V) for each forward.

    Records every input it is given, keeps the KV-cache position right, and has one parameter so
    the sampler can tell its device and dtype.
    """

    def __init__(self, vocab_size: int, logits_for, block_size: int = 1024):
        super().__init__()
        self.config = GPTConfig(block_size=block_size, vocab_size=vocab_size, n_layer=1, n_head=1, n_embd=4)
        self.anchor = nn.Parameter(torch.zeros(1))
        self.logits_for = logits_for
        self.calls: list[torch.Tensor] = []

    def forward(self, idx, targets=None, cache=None):
        if cache is not None:
            cache.pos += idx.size(1)
        logits = self.logits_for(len(self.calls), idx)
        self.calls.append(idx.clone())
        return logits[:, None, :].float(), None


def forced(vocab_size: int, scripts, block_size: int = 1024) -> ScriptedModel:
    """A model that makes scripts[row][call] the certain next token (the last one repeats).

    scripts: one token list for every batch row, or a single list for all rows.
    """
    if scripts and isinstance(scripts[0], int):
        scripts = [scripts]

    def logits_for(call, idx):
        out = torch.full((idx.size(0), vocab_size), -30.0)
        for row in range(idx.size(0)):
            script = scripts[min(row, len(scripts) - 1)]
            out[row, script[min(call, len(script) - 1)]] = 30.0
        return out

    return ScriptedModel(vocab_size, logits_for, block_size)


def fixed(logits: torch.Tensor, block_size: int = 1024) -> ScriptedModel:
    """A model that returns the same logits (V,) at every step, for every row."""
    return ScriptedModel(logits.numel(), lambda call, idx: logits.expand(idx.size(0), -1).clone(), block_size)


def nanogpt_generate(
    model, idx: torch.Tensor, max_new_tokens: int, temperature: float = 1.0, top_k=None, slide: str = "exact"
):
    """nanoGPT's GPT.generate, verbatim in spirit: recompute the cropped context for every token.
    temperature 0 takes the argmax (nanoGPT itself would divide by zero).
    slide="fast": the context the sampler's fast slide gives instead (the window restarts from the
    last block_size // 2 tokens whenever it would pass block_size), still recomputed every token."""
    block, start = model.config.block_size, 0
    for _ in range(max_new_tokens):
        if slide == "fast":
            if idx.size(1) - start > block:
                start = idx.size(1) - block // 2
            idx_cond = idx[:, start:]
        else:
            idx_cond = idx if idx.size(1) <= block else idx[:, -block:]
        logits, _ = model(idx_cond)
        logits = logits[:, -1, :]
        if temperature == 0:
            idx_next = logits.argmax(dim=-1, keepdim=True)
        else:
            logits = logits / temperature
            if top_k is not None:
                v, _ = torch.topk(logits, min(top_k, logits.size(-1)))
                logits[logits < v[:, [-1]]] = -float("Inf")
            probs = torch.nn.functional.softmax(logits, dim=-1)
            idx_next = torch.multinomial(probs, num_samples=1)
        idx = torch.cat((idx, idx_next), dim=1)
    return idx
