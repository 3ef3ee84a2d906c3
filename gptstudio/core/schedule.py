"""The learning-rate schedule, shared by the trainer and the Config tab's plot.

nanoGPT's schedule: linear warmup for `warmup_iters` steps, then cosine decay down to `min_lr` at
`lr_decay_iters`, then constant `min_lr`. With `decay_lr` off the rate is constant `learning_rate`.
"""

from __future__ import annotations

import math


def get_lr(it: int, cfg) -> float:
    """Learning rate at optimizer step `it` (0-based) for a TrainConfig-like object."""
    if not cfg.decay_lr:
        return cfg.learning_rate
    if it < cfg.warmup_iters:
        return cfg.learning_rate * (it + 1) / (cfg.warmup_iters + 1)
    if it > cfg.lr_decay_iters or cfg.lr_decay_iters <= cfg.warmup_iters:
        # past the decay, or a zero-length decay (nanoGPT would divide by zero there)
        return cfg.min_lr
    decay_ratio = (it - cfg.warmup_iters) / (cfg.lr_decay_iters - cfg.warmup_iters)
    coeff = 0.5 * (1.0 + math.cos(math.pi * decay_ratio))  # 1 -> 0
    return cfg.min_lr + coeff * (cfg.learning_rate - cfg.min_lr)
