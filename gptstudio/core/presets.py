"""Named sets of training settings: built-in recipes (nanoGPT's) and the user's own, saved as JSON.

A preset holds settings, not a dataset: applying one starts from the defaults, applies the preset,
and keeps the dataset and run name the user already chose.
User presets live in `<config dir>/presets/*.json` (the app's config folder, or $GPTSTUDIO_CONFIG_DIR).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from gptstudio.core.atomic import write_json_atomic
from gptstudio.core.config import FIELDS, TrainConfig
from gptstudio.core.errors import ConfigError
from gptstudio.core.workspace import config_dir

# Settings a preset never carries: they name this user's data, not a recipe
PERSONAL_KEYS = ("dataset", "run_name", "wandb_run_name")
CHAT_FINE_TUNE = "Chat fine-tune"  # a preset without init_from: it fine-tunes the run the form starts from

BUILTIN_PRESETS: dict[str, dict] = {
    # nanoGPT README, "I only have a MacBook": the Shakespeare baby GPT shrunk to train on a CPU
    "Tiny (CPU, minutes)": dict(
        n_layer=4,
        n_head=4,
        n_embd=128,
        block_size=64,
        batch_size=12,
        gradient_accumulation_steps=1,
        dropout=0.0,
        bias=False,
        max_iters=2000,
        lr_decay_iters=2000,
        warmup_iters=100,
        eval_interval=250,
        eval_iters=20,
        log_interval=10,
        learning_rate=1e-3,
        min_lr=1e-4,
        beta2=0.99,
        always_save_checkpoint=False,
        init_from="scratch",
        device="auto",
        compile=False,
    ),
    # nanoGPT config/train_shakespeare_char.py
    "Shakespeare char (nanoGPT baby GPT)": dict(
        n_layer=6,
        n_head=6,
        n_embd=384,
        block_size=256,
        batch_size=64,
        gradient_accumulation_steps=1,
        dropout=0.2,
        bias=False,
        max_iters=5000,
        lr_decay_iters=5000,
        warmup_iters=100,
        eval_interval=250,
        eval_iters=200,
        log_interval=10,
        learning_rate=1e-3,
        min_lr=1e-4,
        beta2=0.99,
        always_save_checkpoint=False,
        init_from="scratch",
    ),
    # nanoGPT train.py defaults + config/train_gpt2.py (OpenWebText, 8 GPUs in nanoGPT)
    "GPT-2 small 124M": dict(
        n_layer=12,
        n_head=12,
        n_embd=768,
        block_size=1024,
        batch_size=12,
        gradient_accumulation_steps=40,
        dropout=0.0,
        bias=False,
        max_iters=600_000,
        lr_decay_iters=600_000,
        warmup_iters=2000,
        eval_interval=1000,
        eval_iters=200,
        log_interval=10,
        learning_rate=6e-4,
        min_lr=6e-5,
        weight_decay=0.1,
        beta1=0.9,
        beta2=0.95,
        grad_clip=1.0,
        decay_lr=True,
        always_save_checkpoint=True,
        init_from="scratch",
    ),
    # nanoGPT config/finetune_shakespeare.py, from the 124M GPT-2 (nanoGPT uses gpt2-xl) at constant LR
    "Fine-tune GPT-2 on my text": dict(
        init_from="gpt2",
        n_layer=12,
        n_head=12,
        n_embd=768,
        bias=True,
        block_size=1024,
        dropout=0.1,
        batch_size=1,
        gradient_accumulation_steps=32,
        max_iters=20,
        learning_rate=3e-5,
        min_lr=3e-6,
        decay_lr=False,
        warmup_iters=0,
        lr_decay_iters=20,
        eval_interval=5,
        eval_iters=40,
        log_interval=1,
        always_save_checkpoint=False,
    ),
    # supervised fine-tuning of one of the user's runs on a chat dataset (init_from = that run, kept from
    # the form): its shape is the run's; a third of a small model's pretraining learning rate, so it learns
    # to answer without forgetting what it knew, a short schedule, some dropout against the small data set
    CHAT_FINE_TUNE: dict(
        dropout=0.1,
        batch_size=32,
        gradient_accumulation_steps=1,
        learning_rate=3e-4,
        min_lr=3e-5,
        decay_lr=True,
        warmup_iters=20,
        max_iters=600,
        lr_decay_iters=600,
        eval_interval=100,
        eval_iters=20,
        log_interval=10,
        early_stop_patience=3,
        always_save_checkpoint=False,
        compile=False,
    ),
}


def presets_dir() -> Path:
    env = os.environ.get("GPTSTUDIO_CONFIG_DIR")
    return (Path(env) if env else config_dir()) / "presets"


def preset_settings(cfg: TrainConfig) -> dict:
    """The settings of a config worth keeping in a preset (everything but the personal ones)."""
    return {k: v for k, v in cfg.to_dict().items() if k not in PERSONAL_KEYS}


def apply_preset(settings: dict, current: TrainConfig | None = None) -> TrainConfig:
    """Defaults + the preset's settings, keeping the current dataset and run name (and where the run
    starts from, when the preset does not say)."""
    cfg = TrainConfig()
    if current is not None:
        for key in PERSONAL_KEYS + (() if "init_from" in settings else ("init_from",)):
            setattr(cfg, key, getattr(current, key))
    return cfg.update({k: v for k, v in settings.items() if k not in PERSONAL_KEYS})


# ----- user presets -----


def _file_for(name: str, folder: Path) -> Path:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._-")[:60] or "preset"
    return folder / f"{slug}.json"


def user_presets(folder: Path | None = None) -> dict[str, dict]:
    """The user's saved presets, by name; unreadable files are skipped (they are only conveniences)."""
    folder = folder or presets_dir()
    found = {}
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and isinstance(data.get("name"), str) and isinstance(data.get("settings"), dict):
            found[data["name"]] = {k: v for k, v in data["settings"].items() if k in FIELDS}
    return found


def all_presets(folder: Path | None = None) -> dict[str, dict]:
    return {**BUILTIN_PRESETS, **user_presets(folder)}


def is_builtin(name: str) -> bool:
    return name in BUILTIN_PRESETS


def save_user_preset(name: str, cfg: TrainConfig, folder: Path | None = None) -> Path:
    """Save (or overwrite) a user preset; built-in names are refused."""
    name = (name or "").strip()
    if not name:
        raise ConfigError("A preset needs a name: type one, e.g. 'my small model'.")
    if is_builtin(name):
        raise ConfigError(f"'{name}' is a built-in preset: choose another name for yours.")
    folder = folder or presets_dir()
    path = _existing_file(name, folder) or _free_file(name, folder)
    write_json_atomic(path, {"name": name, "settings": preset_settings(cfg)})
    return path


def delete_user_preset(name: str, folder: Path | None = None) -> None:
    if is_builtin(name):
        raise ConfigError(f"'{name}' is a built-in preset and cannot be deleted.")
    path = _existing_file(name, folder or presets_dir())
    if path is None:
        raise ConfigError(f"There is no saved preset named '{name}'.")
    path.unlink()


def _existing_file(name: str, folder: Path) -> Path | None:
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            if json.loads(path.read_text(encoding="utf-8")).get("name") == name:
                return path
        except (OSError, ValueError, AttributeError):
            continue
    return None


def _free_file(name: str, folder: Path) -> Path:
    """A file name for a new preset that does not clobber another preset's (two names, same slug)."""
    path = _file_for(name, folder)
    i = 2
    while path.exists():
        path = path.with_name(f"{_file_for(name, folder).stem}-{i}.json")
        i += 1
    return path
