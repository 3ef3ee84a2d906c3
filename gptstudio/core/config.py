"""Training settings: one dataclass that is the single source of truth.

Each field carries its default, allowed range, unit, group and one-line help in its metadata. The CLI
flags (`--key=value`), the GUI's Config form and `validate()` are all generated from it. Names are
nanoGPT's, so nanoGPT command lines and `config/*.py` files work unchanged.
"""

from __future__ import annotations

import ast
import json
import math
import os
import sys
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from gptstudio.core.atomic import write_text_atomic
from gptstudio.core.errors import ConfigError, GPTStudioError, Problem

GROUPS = ("Data", "Model", "Optimizer", "Schedule", "Evaluation & checkpoints", "System", "Logging")
PRETRAINED = ("gpt2", "gpt2-medium", "gpt2-large", "gpt2-xl")
INIT_CHOICES = ("scratch", "resume") + PRETRAINED
NO_DATASET = "no_dataset"  # Problem.code of "no dataset chosen" (the trainer resolves the dataset itself)


def _compile_default() -> bool:
    # devices.py loads torch (1-2 s): only once a config is built, so the CLI's other commands start at once
    from gptstudio.core.devices import compile_default

    return compile_default()


def setting(
    default,
    help: str,
    group: str,
    *,
    min=None,
    max=None,
    unit: str = "",
    choices=None,
    step=None,
    log: bool = False,
    advanced: bool = False,
    factory=None,
):
    """A dataclass field with the metadata the form, the CLI and the validator read."""
    meta = dict(
        help=help, group=group, min=min, max=max, unit=unit, choices=choices, step=step, log=log, advanced=advanced
    )
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class TrainConfig:
    # Data
    dataset: str = setting("", "Prepared dataset to train on (a folder under datasets/).", "Data")
    run_name: str = setting("", "Name of this run: its folder under runs/ (nanoGPT: out_dir).", "Data")
    init_from: str = setting(
        "scratch",
        "Start from random weights (scratch), continue this run (resume), from pretrained GPT-2 "
        "weights (a name or a local folder), or from one of your runs (its name or a checkpoint file).",
        "Data",
        choices=INIT_CHOICES,
    )
    # Model
    n_layer: int = setting(6, "Number of transformer blocks.", "Model", min=1, max=96)
    n_head: int = setting(6, "Attention heads per block; must divide n_embd.", "Model", min=1, max=128)
    n_embd: int = setting(384, "Embedding width (model dimension).", "Model", min=8, max=16384, step=32)
    block_size: int = setting(
        256, "Context length: how many tokens the model sees at once.", "Model", min=8, max=8192, unit="tokens", step=64
    )
    bias: bool = setting(
        False, "Bias in Linear and LayerNorm layers (GPT-2 has them; without is a bit better and faster).", "Model"
    )
    dropout: float = setting(
        0.2,
        "Dropout rate: 0 for pretraining, 0.1-0.2 against overfitting small data.",
        "Model",
        min=0.0,
        max=0.9,
        step=0.05,
    )
    # Optimizer
    batch_size: int = setting(
        64,
        "Sequences per micro-batch (lower it if you run out of memory).",
        "Optimizer",
        min=1,
        max=4096,
        unit="sequences",
    )
    gradient_accumulation_steps: int = setting(
        1,
        "Micro-batches summed before each optimizer step (a bigger effective batch without more memory).",
        "Optimizer",
        min=1,
        max=1024,
    )
    learning_rate: float = setting(1e-3, "Peak learning rate.", "Optimizer", min=1e-7, max=1.0, log=True)
    weight_decay: float = setting(
        0.1, "AdamW weight decay (matrices and embeddings only).", "Optimizer", min=0.0, max=1.0, step=0.01
    )
    beta1: float = setting(0.9, "AdamW beta1.", "Optimizer", min=0.0, max=0.9999, step=0.01, advanced=True)
    beta2: float = setting(
        0.99,
        "AdamW beta2 (0.95 for big models, 0.99 for small data).",
        "Optimizer",
        min=0.0,
        max=0.9999,
        step=0.001,
        advanced=True,
    )
    grad_clip: float = setting(1.0, "Clip gradients to this norm; 0 = off.", "Optimizer", min=0.0, max=100.0)
    # Schedule
    max_iters: int = setting(5000, "Total optimizer steps.", "Schedule", min=0, max=10_000_000, unit="iters")
    decay_lr: bool = setting(True, "Cosine learning-rate decay after warmup.", "Schedule")
    warmup_iters: int = setting(100, "Linear warmup steps.", "Schedule", min=0, max=10_000_000, unit="iters")
    lr_decay_iters: int = setting(
        5000,
        "Step at which the cosine decay reaches min_lr (usually max_iters).",
        "Schedule",
        min=1,
        max=10_000_000,
        unit="iters",
    )
    min_lr: float = setting(
        1e-4,
        "Learning rate at the end of the decay (about learning_rate / 10).",
        "Schedule",
        min=0.0,
        max=1.0,
        log=True,
    )
    # Evaluation & checkpoints
    eval_interval: int = setting(
        250,
        "Evaluate train/val loss (and maybe save) every this many steps.",
        "Evaluation & checkpoints",
        min=1,
        max=10_000_000,
        unit="iters",
    )
    eval_iters: int = setting(
        200, "Batches averaged per loss estimate.", "Evaluation & checkpoints", min=1, max=100_000, unit="batches"
    )
    log_interval: int = setting(
        10,
        "Report the training loss every this many steps.",
        "Evaluation & checkpoints",
        min=1,
        max=100_000,
        unit="iters",
    )
    eval_only: bool = setting(
        False, "Only evaluate once and exit (no training).", "Evaluation & checkpoints", advanced=True
    )
    always_save_checkpoint: bool = setting(
        False, "Save at every eval, not only when val loss improves.", "Evaluation & checkpoints"
    )
    early_stop_patience: int = setting(
        0,
        "Stop after this many evals without val improvement; 0 = off.",
        "Evaluation & checkpoints",
        min=0,
        max=10_000,
        unit="evals",
    )
    eval_sample_tokens: int = setting(
        200,
        "Length of the short sample generated at each eval; 0 = off.",
        "Evaluation & checkpoints",
        min=0,
        max=2000,
        unit="tokens",
    )
    # System
    device: str = setting("auto", "Where to train: auto, cpu, cuda, cuda:N or mps.", "System")
    dtype: str = setting(
        "auto",
        "Number format: auto (bf16/fp16 on GPU, fp32 on CPU), float32, bfloat16, float16.",
        "System",
        choices=("auto", "float32", "bfloat16", "float16"),
    )
    compile: bool = setting(
        None,
        "torch.compile the model (faster on GPUs after a minute of compiling; not on Windows, MPS or in the bundle).",
        "System",
        factory=_compile_default,
    )
    seed: int = setting(1337, "Random seed: same seed and settings give the same run.", "System", min=0, max=2**31 - 1)
    backend: str = setting(
        "nccl",
        "DDP backend under torchrun (nccl on CUDA; gloo is used on CPU).",
        "System",
        choices=("nccl", "gloo"),
        advanced=True,
    )
    # Logging
    wandb_log: bool = setting(False, "Log to Weights & Biases (needs the wandb package).", "Logging")
    wandb_project: str = setting("gptstudio", "W&B project.", "Logging")
    wandb_run_name: str = setting("", "W&B run name (default: the run name).", "Logging")
    tensorboard_log: bool = setting(
        False, "Write TensorBoard events into the run folder (needs the tensorboard package).", "Logging"
    )

    # ----- conversions -----
    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict, strict: bool = True) -> TrainConfig:
        """Build from a dict of settings (values may be strings, as from a CLI or a form)."""
        cfg = cls()
        cfg.update(d, strict=strict)
        return cfg

    def update(self, d: dict, strict: bool = True) -> TrainConfig:
        """Set the given settings (ours or nanoGPT's names); strict: a name we do not have is a problem."""
        known, unknown = known_settings(d)
        problems = [Problem(unknown_key_message(key), (), "unknown_key") for key in unknown] if strict else []
        for key, value in known.items():
            try:
                setattr(self, key, coerce(key, value))
            except ValueError as e:
                problems.append(Problem(str(e), (key,), "value"))
        if problems:
            raise ConfigError(problems)
        return self

    def model_args(self, vocab_size: int) -> dict:
        return dict(
            n_layer=self.n_layer,
            n_head=self.n_head,
            n_embd=self.n_embd,
            block_size=self.block_size,
            bias=self.bias,
            vocab_size=vocab_size,
            dropout=self.dropout,
        )

    def tokens_per_iter(self, world_size: int = 1) -> int:
        return self.gradient_accumulation_steps * self.batch_size * self.block_size * max(1, world_size)

    def validate(self, dataset_info: dict | None = None) -> list[Problem]:
        return validate(self, dataset_info)


FIELDS = {f.name: f for f in fields(TrainConfig)}
# nanoGPT names that map onto ours
ALIASES = {"out_dir": "run_name", "lr": "learning_rate"}
# nanoGPT settings we accept and ignore (they have no meaning here), so its files import cleanly
IGNORED_NANOGPT_KEYS = {"master_process", "ddp", "seed_offset"}


def known_settings(data: dict) -> tuple[dict, list[str]]:
    """Settings named as we or nanoGPT name them -> (the ones we have, under our names; the names we do
    not have). nanoGPT's bookkeeping names (IGNORED_NANOGPT_KEYS) are dropped without a word."""
    known, unknown = {}, []
    for key, value in data.items():
        if key in IGNORED_NANOGPT_KEYS:
            continue
        name = ALIASES.get(key, key)
        if name in FIELDS:
            known[name] = value
        else:
            unknown.append(key)
    return known, unknown


def field_meta(name: str) -> dict:
    return dict(FIELDS[name].metadata)


def field_default(name: str):
    f = FIELDS[name]
    return f.default_factory() if callable(f.default_factory) else f.default


_TYPE_NAMES: dict[str, type] = {"int": int, "float": float, "bool": bool, "str": str}


def field_type(name: str) -> type:
    t = FIELDS[name].type
    return _TYPE_NAMES[t] if isinstance(t, str) else t  # annotations are names (from __future__ import)


def unknown_key_message(key: str) -> str:
    import difflib

    close = difflib.get_close_matches(key, list(FIELDS) + list(ALIASES), n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    return f"Unknown setting '{key}'.{hint}"


def coerce(key: str, value: Any):
    """Convert a value (maybe a string from the CLI or a form) to the field's type, or raise ValueError."""
    typ = field_type(key)
    if typ is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, (int, float)) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in {"true", "1", "yes", "on"}:
            return True
        if isinstance(value, str) and value.strip().lower() in {"false", "0", "no", "off"}:
            return False
        raise ValueError(f"{key} must be True or False, not {value!r}.")
    if typ is int:
        if isinstance(value, bool):
            raise ValueError(f"{key} must be a whole number, not {value!r}.")
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, int):
            return value
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                try:
                    f = float(value)
                    if f.is_integer():
                        return int(f)
                except ValueError:
                    pass
        raise ValueError(f"{key} must be a whole number, not {value!r}.")
    if typ is float:
        if isinstance(value, bool):
            raise ValueError(f"{key} must be a number, not {value!r}.")
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{key} must be a number, not {value!r}.") from None
        if math.isnan(v) or math.isinf(v):
            raise ValueError(f"{key} must be a finite number, not {value!r}.")
        return v
    if value is None:
        raise ValueError(f"{key} must be text, not None.")
    return str(value)


def validate(cfg: TrainConfig, dataset_info: dict | None = None) -> list[Problem]:
    """Every problem with these settings (empty list = valid), each naming the fields it concerns.

    dataset_info, when given, is the dataset's meta.json (train_tokens, val_tokens, vocab_size, ...).
    """
    problems = []
    for name, f in FIELDS.items():
        m = f.metadata
        v = getattr(cfg, name)
        typ = field_type(name)
        ok = isinstance(v, (int, float) if typ is float else typ) and not (typ in (int, float) and isinstance(v, bool))
        if not ok:
            problems.append(Problem(f"{name} has the wrong type ({type(v).__name__}).", (name,), "type"))
            continue
        if m.get("min") is not None and v < m["min"]:
            problems.append(Problem(f"{name} is {v}; it must be at least {m['min']}.", (name,), "range"))
        if m.get("max") is not None and v > m["max"]:
            problems.append(Problem(f"{name} is {v}; it must be at most {m['max']}.", (name,), "range"))
        if m.get("choices") and name not in ("init_from",) and v not in m["choices"]:
            problems.append(Problem(f"{name} is {v!r}; choose one of: {', '.join(m['choices'])}.", (name,), "choice"))
    if problems:
        return problems
    if cfg.n_embd % cfg.n_head:
        problems.append(
            Problem(
                f"n_embd ({cfg.n_embd}) must be divisible by n_head ({cfg.n_head}); "
                f"try n_head={_divisor_near(cfg.n_embd, cfg.n_head)}.",
                ("n_embd", "n_head"),
                "heads",
            )
        )
    if cfg.min_lr > cfg.learning_rate:
        problems.append(
            Problem(
                f"min_lr ({cfg.min_lr:g}) is larger than learning_rate ({cfg.learning_rate:g}); "
                "it should be about a tenth of it.",
                ("min_lr", "learning_rate"),
                "min_lr",
            )
        )
    # warmup_iters > lr_decay_iters is allowed, as nanoGPT allows it (e.g. --max_iters=20
    # --lr_decay_iters=20 with the usual warmup of 100): the rate warms up, then stays at min_lr.
    init = cfg.init_from
    if init not in INIT_CHOICES and not os.path.exists(init) and not _is_name(init):
        problems.append(
            Problem(
                f"init_from is {init!r}: use scratch, resume, one of {', '.join(PRETRAINED)}, "
                "one of your runs, a checkpoint file, or an existing folder with GPT-2 weights.",
                ("init_from",),
                "init_from",
            )
        )
    if not cfg.dataset and not cfg.eval_only and init != "resume":
        problems.append(
            Problem(
                "No dataset chosen: prepare one on the Dataset tab (or `gptstudio prepare`) and select it.",
                ("dataset",),
                NO_DATASET,
            )
        )
    problems += _validate_device(cfg)
    if dataset_info and "chat" not in dataset_info:  # chat rows are padded at a split's end
        for split in ("train", "val"):
            n = int(dataset_info.get(f"{split}_tokens", 0))
            if n <= cfg.block_size:
                problems.append(
                    Problem(
                        f"block_size ({cfg.block_size}) must be smaller than the {split} split "
                        f"({n} tokens): lower block_size or add more text.",
                        ("block_size",),
                        "block_size",
                    )
                )
    return problems


def _is_name(text: str) -> bool:
    """Could be a run name (the trainer checks that the run exists: settings do not know the workspace)."""
    from gptstudio.core.workspace import validate_name

    try:
        validate_name(text)
        return True
    except GPTStudioError:
        return False


def _divisor_near(n: int, k: int) -> int:
    divisors = [d for d in range(1, n + 1) if n % d == 0]
    return min(divisors, key=lambda d: (abs(d - k), d))


def _validate_device(cfg: TrainConfig) -> list[Problem]:
    from gptstudio.core.devices import compile_unsupported_reason, device_info

    spec = cfg.device.strip().lower()
    valid_form = spec in ("auto", "cpu", "cuda", "mps") or (spec.startswith("cuda:") and spec[5:].isdigit())
    if not valid_form:
        return [
            Problem(
                f"device {cfg.device!r} is not a device name: use auto, cpu, cuda, cuda:N or mps.",
                ("device",),
                "device",
            )
        ]
    info = device_info(spec)
    if info is None:
        return [
            Problem(f"device {cfg.device!r} is not available on this machine; use auto or cpu.", ("device",), "device")
        ]
    problems = []
    if cfg.dtype != "auto" and cfg.dtype not in info.dtypes:
        problems.append(
            Problem(
                f"dtype {cfg.dtype} is not supported on {info.label}; use {' or '.join(info.dtypes)} (or auto).",
                ("dtype", "device"),
                "dtype",
            )
        )
    reason = compile_unsupported_reason(spec) if cfg.compile else None
    if reason:
        problems.append(
            Problem(
                f"compile=True does not work {reason}; set compile=False.",
                ("compile", "device"),
                "compile",
            )
        )
    return problems


# ----- files: JSON, TOML, nanoGPT config/*.py -----


def save_config(cfg: TrainConfig, path: str | os.PathLike) -> None:
    path = Path(path)
    if path.suffix.lower() == ".toml":
        write_text_atomic(path, to_toml(cfg.to_dict()))
    else:
        write_text_atomic(path, json.dumps(cfg.to_dict(), indent=2) + "\n")


def to_toml(d: dict) -> str:
    lines = ["# GPT Studio training config"]
    for k, v in d.items():
        if isinstance(v, bool):
            lines.append(f"{k} = {'true' if v else 'false'}")
        elif isinstance(v, (int, float)):
            lines.append(f"{k} = {v!r}")
        else:
            lines.append(f"{k} = {json.dumps(str(v))}")
    return "\n".join(lines) + "\n"


def read_config_file(path: str | os.PathLike) -> dict:
    """Settings from a .json, .toml or nanoGPT .py file, as a dict (not yet validated)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"Config file {path} does not exist.") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"Cannot read config file {path}: {e}") from None
    suffix = path.suffix.lower()
    if suffix == ".py":
        return parse_nanogpt_config(text, str(path))
    if suffix == ".toml":
        if sys.version_info >= (3, 11):
            import tomllib
        else:  # pragma: no cover
            import tomli as tomllib
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{path} is not valid TOML: {e}") from None
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise ConfigError(f"{path} is not valid JSON: {e.msg} at line {e.lineno}.") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a table of settings (key = value).")
    return data


def load_config(path: str | os.PathLike, base: TrainConfig | None = None) -> TrainConfig:
    return (base or TrainConfig()).update(read_config_file(path))


def parse_nanogpt_config(text: str, filename: str = "config.py") -> dict:
    """Read a nanoGPT config/*.py WITHOUT running it: only `name = literal` lines are allowed.

    Literals are numbers, strings, booleans, None, and simple arithmetic on numbers (e.g. 5 * 8,
    6e-4 / 10). Imports, calls and anything else are refused with the line number.
    """
    try:
        tree = ast.parse(text, filename=filename)
    except SyntaxError as e:
        raise ConfigError(f"{filename} line {e.lineno}: not valid Python ({e.msg}).") from None
    out: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            continue  # docstring
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
            raise ConfigError(
                f"{filename} line {node.lineno}: only simple 'name = value' settings are allowed "
                "(this file does something else; it was not run)."
            )
        try:
            out[node.targets[0].id] = _literal(node.value, out)
        except ValueError:
            raise ConfigError(
                f"{filename} line {node.lineno}: the value of '{node.targets[0].id}' is not a "
                "plain number, string or boolean (the file was not run)."
            ) from None
    return out


_BINOPS = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.FloorDiv: lambda a, b: a // b,
    ast.Pow: lambda a, b: a**b,
}


def _literal(node, names: dict):
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str, bool, type(None))):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        v = _literal(node.operand, names)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return -v if isinstance(node.op, ast.USub) else v
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        a, b = _literal(node.left, names), _literal(node.right, names)
        if all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in (a, b)):
            if isinstance(node.op, ast.Pow) and abs(b) > 64:
                raise ValueError("exponent too large")
            return _BINOPS[type(node.op)](a, b)
    if isinstance(node, ast.Name) and node.id in names:  # e.g. lr_decay_iters = max_iters
        return names[node.id]
    raise ValueError("not a literal")
