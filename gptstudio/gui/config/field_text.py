"""The words of the settings form: row labels and tooltips, from TrainConfig's metadata (Qt-free)."""

from __future__ import annotations

from gptstudio.core.config import field_meta
from gptstudio.gui.config.bindings import format_float

# Friendlier row labels; a field missing here is labelled from its name, so none is required.
LABELS = {
    "dataset": "Dataset",
    "run_name": "Run name",
    "init_from": "Start from",
    "n_layer": "Layers",
    "n_head": "Attention heads",
    "n_embd": "Embedding size",
    "block_size": "Context length",
    "bias": "Bias terms",
    "dropout": "Dropout",
    "batch_size": "Batch size",
    "gradient_accumulation_steps": "Gradient accumulation",
    "learning_rate": "Learning rate",
    "weight_decay": "Weight decay",
    "beta1": "Adam β1",
    "beta2": "Adam β2",
    "grad_clip": "Gradient clipping",
    "max_iters": "Iterations",
    "decay_lr": "Cosine decay",
    "warmup_iters": "Warmup",
    "lr_decay_iters": "Decay until",
    "min_lr": "Final learning rate",
    "eval_interval": "Evaluate every",
    "eval_iters": "Evaluation batches",
    "log_interval": "Log every",
    "eval_only": "Evaluate only",
    "always_save_checkpoint": "Save at every eval",
    "early_stop_patience": "Early stopping",
    "eval_sample_tokens": "Sample length",
    "device": "Device",
    "dtype": "Precision",
    "compile": "torch.compile",
    "seed": "Random seed",
    "backend": "DDP backend",
    "wandb_log": "Weights & Biases",
    "wandb_project": "W&B project",
    "wandb_run_name": "W&B run name",
    "tensorboard_log": "TensorBoard",
}
INIT_DESCRIPTIONS = {
    "scratch": "scratch — random weights",
    "resume": "resume — continue this run",
    "gpt2": "gpt2 — GPT-2 124M",
    "gpt2-medium": "gpt2-medium — GPT-2 350M",
    "gpt2-large": "gpt2-large — GPT-2 774M",
    "gpt2-xl": "gpt2-xl — GPT-2 1.5B",
}


def field_label(name: str) -> str:
    return LABELS.get(name) or name.replace("_", " ").capitalize()


def field_tooltip(name: str) -> str:
    meta = field_meta(name)
    lines = [f"<b>{field_label(name)}</b> <code>{name}</code>", meta.get("help", "")]
    lo, hi, unit = meta.get("min"), meta.get("max"), meta.get("unit") or ""
    if lo is not None and hi is not None:
        fmt = format_float if isinstance(lo, float) or isinstance(hi, float) else "{:,}".format
        lines.append(f"Range: {fmt(lo)} – {fmt(hi)} {unit}".rstrip())
    elif unit:
        lines.append(f"Unit: {unit}")
    return "<br>".join(lines)
