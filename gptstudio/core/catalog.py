"""What checkpoints the workspace holds, described without loading their weights.

The Playground lists every run's latest and best checkpoint with its dataset, tokenizer, iteration and
validation loss. Those live inside the checkpoint; a memory-mapped, weights-only load reads just the small pickled
part and maps the tensors lazily, so describing even a GPT-2-sized file takes milliseconds, and each
description is kept until its file changes: listing a workspace again reads only the new checkpoints.
It can also offer a pretrained GPT-2 (`describe_pretrained`: a name or a Hugging Face folder), so a
user talks to GPT-2 before training, and compares it with the fine-tuned run.
"""

from __future__ import annotations

import json
import os
import pickle
import stat
import threading
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import torch

from gptstudio.core.chat_template import is_chat_meta
from gptstudio.core.errors import Cancelled, CheckpointError, GPTStudioError
from gptstudio.core.runs import checkpoint_paths
from gptstudio.core.workspace import Workspace


@dataclass(frozen=True)
class CheckpointInfo:
    path: Path
    run: str = ""  # run name; "" for a file opened from elsewhere
    which: str = ""  # "latest" or "best"; "" for a file opened from elsewhere
    dataset: str = ""
    tokenizer: str = ""  # "char", "gpt2", or "" when the checkpoint does not say (plain nanoGPT)
    iter_num: int | None = None
    best_val_loss: float | None = None
    n_params_hint: str = ""  # e.g. "6L·6H·384" from model_args
    mtime_ns: int = 0  # a rewritten file (training went on) is a different model
    pretrained: str = ""  # a pretrained GPT-2: its name (gpt2, ...) or Hugging Face folder, as init_from takes
    tokenizer_meta: dict = field(default_factory=dict, compare=False)  # the checkpoint's "tokenizer" entry
    model_args: dict = field(default_factory=dict, compare=False)  # its shape (n_layer, n_embd, block_size...)

    @property
    def is_chat(self) -> bool:
        """A chat model (fine-tuned on conversations with the chat template), not a base model."""
        return is_chat_meta(self.tokenizer_meta)

    @property
    def key(self) -> str:
        """Identity for caching a loaded model: the resolved file path and its modification time."""
        if self.pretrained:
            return f"pretrained:{self.pretrained}"  # the same model before and after its download
        return f"{Path(self.path).resolve()}@{self.mtime_ns}"

    @property
    def short_name(self) -> str:
        if self.pretrained:
            return Path(self.pretrained).name
        return f"{self.run}/{self.which}" if self.run else Path(self.path).name

    @property
    def model_id(self) -> str:
        """The model's name for other programs (the local server's model id): run, pretrained name or file."""
        return self.run or Path(self.pretrained).name or Path(self.path).stem

    def describe(self) -> str:
        """One line for a list: name, dataset, tokenizer, iteration, validation loss."""
        bits = [self.short_name] + (["pretrained"] if self.pretrained else [])
        if self.is_chat:
            bits.append("chat")  # first, so a narrow list still shows it
        if self.dataset:
            bits.append(self.dataset)
        if self.tokenizer:
            bits.append(self.tokenizer)
        if self.n_params_hint:
            bits.append(self.n_params_hint)
        if self.iter_num is not None:
            bits.append(f"iter {self.iter_num}")
        if self.best_val_loss is not None:
            bits.append(f"val {self.best_val_loss:.3f}")
        return " · ".join(bits)


def _plain_number(value):
    """nanoGPT stores best_val_loss as a 0-d tensor; ours as a float."""
    if torch.is_tensor(value):
        return value.item() if value.numel() == 1 else None
    return value if isinstance(value, (int, float)) else None


# Descriptions read so far, by file, size and modification time: listing a workspace again (after
# every checkpoint a run saves, each time the Playground is shown) reads only the files that changed.
_described: dict[tuple, CheckpointInfo] = {}
_described_lock = threading.Lock()
DESCRIBED_MAX = 4096  # entries kept (the cache starts over beyond)


def describe_checkpoint(path: str | os.PathLike, run: str = "", which: str = "") -> CheckpointInfo:
    """Read a checkpoint's description; raise CheckpointError if the file is not a usable checkpoint."""
    path = Path(path)
    try:
        st = path.stat()
    except OSError:
        st = None
    if st is None or not stat.S_ISREG(st.st_mode):
        raise CheckpointError(f"No checkpoint at {path}.")
    key = (str(path), run, which, st.st_ino, st.st_size, st.st_mtime_ns)  # a saved checkpoint is a new file
    with _described_lock:
        info = _described.get(key)
    if info is None:
        info = _read_description(path, run, which, st.st_mtime_ns)
        with _described_lock:
            if len(_described) >= DESCRIBED_MAX:
                _described.clear()
            _described[key] = info
    return info


def _read_description(path: Path, run: str, which: str, mtime_ns: int) -> CheckpointInfo:
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except pickle.UnpicklingError:
        raise CheckpointError(
            f"Refused to read {path.name}: it contains Python objects that could run code. "
            "Only load checkpoints you trust, re-saved as plain weights."
        ) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError, KeyError, TypeError) as e:
        raise CheckpointError(
            f"{path.name} is not a readable checkpoint (truncated or damaged?): "
            f"{str(e).splitlines()[0][:160] if str(e) else type(e).__name__}"
        ) from None
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get("model_args"), dict):
        raise CheckpointError(f"{path.name} is not a GPT checkpoint: it lacks the 'model_args' entry.")
    args = ckpt["model_args"]
    config = ckpt["config"] if isinstance(ckpt.get("config"), dict) else {}
    meta = ckpt["tokenizer"] if isinstance(ckpt.get("tokenizer"), dict) else {}
    iter_num = _plain_number(ckpt.get("iter_num"))
    loss = _plain_number(ckpt.get("best_val_loss"))
    shape = ""
    if all(isinstance(args.get(k), int) for k in ("n_layer", "n_head", "n_embd")):
        shape = f"{args['n_layer']}L·{args['n_head']}H·{args['n_embd']}"
    return CheckpointInfo(
        path=path,
        run=run,
        which=which,
        dataset=str(ckpt.get("dataset") or config.get("dataset") or ""),
        tokenizer=str(meta.get("tokenizer", "")),
        iter_num=int(iter_num) if iter_num is not None else None,
        best_val_loss=float(loss) if loss is not None and loss == loss and abs(loss) < 1e8 else None,
        n_params_hint=shape,
        mtime_ns=mtime_ns,
        tokenizer_meta=dict(meta),
        model_args={k: v for k, v in args.items() if isinstance(v, (int, float, bool, str))},
    )


def describe_pretrained(init_from: str, home=None) -> CheckpointInfo:
    """A pretrained GPT-2 as a choice: a name (gpt2, gpt2-medium, ...) or a Hugging Face folder, looked up
    as training's init_from is. Described from its config.json when it is here; a name not downloaded
    yet is offered all the same (loading it downloads it, when online). PretrainedError for an unknown
    name or a folder without GPT-2 weights."""
    from gptstudio.core.pretrained import find_pretrained, hf_config_to_model_args

    folder = find_pretrained(init_from, home)
    if Path(init_from).expanduser().exists():
        init_from = str(Path(init_from).expanduser().resolve())
    if folder is None:
        return CheckpointInfo(path=Path(home or ".") / "pretrained" / init_from, tokenizer="gpt2", pretrained=init_from)
    shape = ""
    try:
        args = hf_config_to_model_args(json.loads((folder / "config.json").read_text(encoding="utf-8")))
        shape = f"{args['n_layer']}L·{args['n_head']}H·{args['n_embd']}"
    except (OSError, ValueError, GPTStudioError):
        pass  # described by name only; loading it says what is wrong
    tokenizer = "char" if (folder / "char_vocab.json").is_file() else "gpt2"
    return CheckpointInfo(path=folder, tokenizer=tokenizer, n_params_hint=shape, pretrained=init_from)


def list_checkpoints(workspace: Workspace, *, report=None, cancel=None) -> tuple[list[CheckpointInfo], list[str]]:
    """Every run's checkpoints (latest, then best), and a message for each one that could not be read.
    A job (the Playground lists them off the GUI thread): raises Cancelled when `cancel` is set."""
    found, problems = [], []
    for run in workspace.run_names():
        if cancel is not None and cancel.is_set():
            raise Cancelled()
        for which, path in checkpoint_paths(workspace.runs_dir / run).items():
            try:
                found.append(describe_checkpoint(path, run, which))
            except CheckpointError as e:
                problems.append(f"{run}/{which}: {e}")
    return found, problems
