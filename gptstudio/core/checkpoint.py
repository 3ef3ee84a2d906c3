"""Checkpoints: atomic save, safe load (never runs code from the file), nanoGPT compatible.

A checkpoint is a plain dict, a superset of nanoGPT's:
  model, optimizer, model_args, iter_num, best_val_loss, config          (nanoGPT's keys)
  tokenizer (meta: "char" + chars, or "gpt2"), dataset, rng, format      (ours)
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import torch

from gptstudio.core.atomic import atomic_path, describe_write_error
from gptstudio.core.errors import CheckpointError
from gptstudio.core.model import GPT, GPTConfig, strip_compile_prefix

FORMAT = "gptstudio-1"


def save_checkpoint(payload: dict, path: str | os.PathLike) -> Path:
    """Write atomically: a crash or kill at any moment leaves the previous checkpoint loadable."""
    path = Path(path)
    payload = {**payload, "format": FORMAT}
    try:
        with atomic_path(path) as tmp:
            torch.save(payload, tmp)
    except OSError as e:
        raise CheckpointError(describe_write_error(e, path)) from None
    except RuntimeError as e:  # torch's zip writer reports failed writes as RuntimeError
        if "write" not in str(e).lower():
            raise
        raise CheckpointError(describe_write_error(e, path)) from None
    return path


def load_checkpoint(path: str | os.PathLike, map_location="cpu") -> dict:
    """Load with weights_only=True: tensors and plain data only. Raise CheckpointError otherwise."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"No checkpoint at {path}.")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        raise CheckpointError(
            f"Refused to load {path.name}: it contains Python objects that could run code "
            f"({str(e).splitlines()[0][:160]}). Only load checkpoints you trust, "
            "re-saved as plain weights."
        ) from None
    except Exception as e:  # torch raises many types for damaged files (struct.error, BadZipFile, ...)
        raise CheckpointError(
            f"{path.name} is not a readable checkpoint (truncated or damaged?): "
            f"{str(e).splitlines()[0][:160] if str(e) else type(e).__name__}"
        ) from None
    if not isinstance(ckpt, dict) or "model" not in ckpt or "model_args" not in ckpt:
        raise CheckpointError(f"{path.name} is not a GPT checkpoint: it lacks the 'model' and 'model_args' entries.")
    if not isinstance(ckpt["model"], dict) or not isinstance(ckpt["model_args"], dict):
        raise CheckpointError(f"{path.name} is damaged: 'model' and 'model_args' must be tables.")
    return ckpt


def clean_state_dict(state_dict: dict) -> dict:
    """Plain parameter names: no compile/DDP prefixes, no causal-mask buffers of older nanoGPT."""
    sd = strip_compile_prefix(state_dict)
    return {
        k: v
        for k, v in sd.items()
        if not k.endswith((".attn.bias", ".attn.masked_bias")) or (torch.is_tensor(v) and v.dim() == 1)
    }


def model_from_checkpoint(ckpt: dict, device="cpu", dropout: float | None = None) -> GPT:
    """Rebuild the model a checkpoint describes and load its weights."""
    args = dict(ckpt["model_args"])
    if dropout is not None:
        args["dropout"] = dropout
    try:
        config = GPTConfig.from_dict(args)
    except TypeError as e:
        raise CheckpointError(f"The checkpoint's model settings are invalid: {e}") from None
    if config.problems():
        raise CheckpointError(f"The checkpoint's model settings are invalid: {'; '.join(config.problems())}.")
    model = GPT(config)
    sd = clean_state_dict(ckpt["model"])
    try:
        missing, unexpected = model.load_state_dict(sd, strict=False)
    except RuntimeError as e:
        raise CheckpointError(
            f"The checkpoint's weights do not fit its model settings: {str(e).splitlines()[0][:200]}"
        ) from None
    missing = [k for k in missing if k != "lm_head.weight" or "transformer.wte.weight" not in sd]
    if missing or unexpected:
        raise CheckpointError(
            f"The checkpoint's weights do not match a GPT model: missing {missing[:3]}, unexpected {unexpected[:3]}."
        )
    return model.to(device)
