"""Tiny char datasets and configs for the trainer and `gptstudio train` tests."""

from __future__ import annotations

import json

import numpy as np

from gptstudio.core.config import TrainConfig

TEXT = (
    "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n\n"
    "First Citizen:\nYou are all resolved rather to die than to famish?\n\n"
) * 30


def write_char_dataset(home, name: str = "tiny", text: str = TEXT, val_fraction: float = 0.1) -> str:
    """A char dataset in the documented layout (docs/ARCHITECTURE.md), written directly with numpy."""
    chars = sorted(set(text))
    stoi = {c: i for i, c in enumerate(chars)}
    ids = np.array([stoi[c] for c in text], dtype=np.uint16)
    n_val = max(1, int(len(ids) * val_fraction))
    folder = home / "datasets" / name
    folder.mkdir(parents=True)
    ids[:-n_val].tofile(folder / "train.bin")
    ids[-n_val:].tofile(folder / "val.bin")
    meta = {
        "format": 1,
        "tokenizer": "char",
        "vocab_size": len(chars),
        "chars": chars,
        "dtype": "uint16",
        "train_tokens": len(ids) - n_val,
        "val_tokens": n_val,
        "total_chars": len(text),
        "total_bytes": len(text.encode()),
        "sources": [],
        "created": "2026-01-01T00:00:00+00:00",
        "val_fraction": val_fraction,
    }
    (folder / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    return name


TINY_SETTINGS = dict(
    dataset="tiny",
    run_name="r",
    n_layer=1,
    n_head=2,
    n_embd=16,
    block_size=16,
    batch_size=4,
    dropout=0.0,
    max_iters=10,
    lr_decay_iters=10,
    warmup_iters=2,
    learning_rate=3e-3,
    min_lr=3e-4,
    eval_interval=5,
    eval_iters=2,
    eval_sample_tokens=0,
    log_interval=1,
    compile=False,
    device="cpu",
    dtype="float32",
)


def tiny_config(**overrides) -> TrainConfig:
    return TrainConfig(**{**TINY_SETTINGS, **overrides})


def tiny_cli_args(**overrides) -> list[str]:
    settings = {**TINY_SETTINGS, **overrides}
    dataset, run = settings.pop("dataset"), settings.pop("run_name")
    return ["--dataset", dataset, "--name", run] + [f"--{k}={v}" for k, v in settings.items()]
