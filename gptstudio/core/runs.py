"""Run folders: what a run leaves on disk, and how front ends read it back.

runs/NAME/
  ckpt.pt        latest checkpoint (resume from here)
  best.pt        checkpoint with the best validation loss
  config.json    the run's settings
  metrics.jsonl  every event of every session, one JSON object per line, append-only
  status.json    running | stopped | completed | failed, iteration, best val loss, ... (atomic)
  STOP           present = please stop (the GUI writes it for torchrun children; the trainer deletes it)

Everything here tolerates damaged or missing files: a run folder made by hand, copied from nanoGPT or
left by a killed process still lists. Also here: the inputs of a run (its dataset's meta, the settings
saved in a checkpoint). No torch here (checkpoints are read and written by core/checkpoint.py), so
`gptstudio runs` starts at once.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from gptstudio.core.atomic import write_json_atomic
from gptstudio.core.config import TrainConfig, coerce, known_settings
from gptstudio.core.errors import Cancelled, CheckpointError, DatasetError, WorkspaceError
from gptstudio.core.workspace import Workspace

LATEST = "ckpt.pt"
BEST = "best.pt"
CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.jsonl"
STATUS_FILE = "status.json"
STOP_FILE = "STOP"
STATUSES = ("running", "stopped", "completed", "failed")


def checkpoint_paths(run_dir: str | os.PathLike) -> dict[str, Path]:
    """The checkpoints a run folder holds: {'latest': ..., 'best': ...} for those that exist."""
    run_dir = Path(run_dir)
    found = {}
    for key, name in (("latest", LATEST), ("best", BEST)):
        if (run_dir / name).is_file():
            found[key] = run_dir / name
    return found


def resolve_checkpoint(run: str | os.PathLike, which: str = "latest", home=None) -> Path:
    """A run name (in the workspace), a run folder or a checkpoint file -> the checkpoint path."""
    p = Path(run).expanduser()
    if p.is_file():
        return p
    folder = p if p.is_dir() else Workspace.open(home).run_dir(str(run))
    found = checkpoint_paths(folder)
    if which not in found:
        have = ", ".join(found) or "none"
        raise CheckpointError(f"Run {str(run)!r} has no {which} checkpoint (found: {have}). Train it first.")
    return found[which]


def now_iso() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


def json_number(x):
    """JSON has no inf/nan: store them as None."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


# ----- writing (used by the trainer, on rank 0 only) -----


class MetricsLog:
    """Append-only metrics.jsonl: one event dict plus a "time" field per line, flushed at once.

    A process killed mid-line leaves a torn last line; before appending we end it with a newline so
    the new lines stay readable (readers skip the torn one).
    """

    def __init__(self, run_dir: Path):
        path = Path(run_dir) / METRICS_FILE
        needs_newline = path.exists() and path.stat().st_size > 0 and not _ends_with_newline(path)
        self._file = open(path, "a", encoding="utf-8")
        if needs_newline:
            self._file.write("\n")

    def write(self, event_dict: dict) -> None:
        record = {k: json_number(v) for k, v in event_dict.items()}
        record["time"] = round(time.time(), 3)
        self._file.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as f:
        f.seek(-1, os.SEEK_END)
        return f.read(1) == b"\n"


def write_status(run_dir: Path, **fields) -> None:
    """Replace status.json atomically (readers never see half a file)."""
    data = {k: json_number(v) for k, v in fields.items()}
    data.setdefault("updated", now_iso())
    data.setdefault("pid", os.getpid())
    write_json_atomic(Path(run_dir) / STATUS_FILE, data)


def read_status(run_dir: Path) -> dict:
    try:
        data = json.loads((Path(run_dir) / STATUS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def is_running_elsewhere(status: dict) -> bool:
    """True when status.json says 'running' and its process is still alive (and is not us)."""
    pid = status.get("pid")
    if status.get("status") != "running" or not isinstance(pid, int) or pid == os.getpid():
        return False
    return _process_alive(pid)


# ----- reading (used by the GUI and `gptstudio runs`) -----


def iter_metrics(run_dir: str | os.PathLike) -> Iterator[dict]:
    """Every event dict of a run's metrics.jsonl, oldest first, read a line at a time (a long run's
    file is never held whole, and a reading thread never holds the GIL for long). Unreadable lines
    (a torn last line after a kill) are skipped; later sessions' repeats are not (see read_metrics)."""
    try:
        f = open(Path(run_dir) / METRICS_FILE, encoding="utf-8", errors="replace")
    except OSError:
        return
    with f:
        for line in f:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                yield record


def read_metrics(run_dir: str | os.PathLike) -> list[dict]:
    """All events of a run, oldest first, as dicts.

    Unreadable lines (a torn last line after a kill) are skipped. When a session resumed from an
    earlier checkpoint, the steps and evals the previous session logged past that checkpoint are
    dropped, so curves never double back.
    """
    events: list[dict] = []
    for record in iter_metrics(run_dir):
        if record.get("type") == "run_started" and isinstance(record.get("start_iter"), int):
            start = record["start_iter"]
            events = [e for e in events if not _superseded(e, start)]
        events.append(record)
    return events


def _superseded(event: dict, start_iter: int) -> bool:
    it = event.get("iter")
    if not isinstance(it, int):
        return False
    # a step's iter is the 0-based index of the step; an eval's is the number of steps done
    return it >= start_iter if event.get("type") == "step" else (event.get("type") == "eval" and it > start_iter)


def list_runs(home=None, *, report=None, cancel=None) -> list[dict]:
    """Every run in the workspace, newest first: status.json content plus name, path, checkpoints.

    Works for runs made by the CLI, the GUI, an import, or a folder copied by hand. A run whose
    status says 'running' but whose process is gone is shown as 'stopped' with interrupted=True
    (it resumes from its last checkpoint). Also a job (the GUI lists hundreds of runs off its
    thread): raises Cancelled when `cancel` is set.
    """
    ws = Workspace.open(home)
    runs = []
    for name in ws.run_names():
        if cancel is not None and cancel.is_set():
            raise Cancelled()
        run_dir = ws.runs_dir / name
        info = read_status(run_dir)
        ckpts = checkpoint_paths(run_dir)
        info.update(name=name, path=str(run_dir), checkpoints=sorted(p.name for p in ckpts.values()))
        if info.get("status") not in STATUSES:
            info["status"] = "stopped" if LATEST in info["checkpoints"] else "empty"
        if info["status"] == "running" and not _process_alive(info.get("pid")):
            info.update(status="stopped", interrupted=True)
        info.setdefault("updated", _mtime_iso(run_dir))
        runs.append(info)
    runs.sort(key=lambda r: str(r.get("updated", "")), reverse=True)
    return runs


def _process_alive(pid) -> bool:
    if not isinstance(pid, int):
        return False
    if pid == os.getpid():
        return True
    import psutil

    try:
        # a killed rank whose parent has not reaped it yet is a zombie: it will never write again
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except (psutil.NoSuchProcess, psutil.AccessDenied, ValueError):
        return False


def _mtime_iso(path: Path) -> str:
    try:
        return datetime.fromtimestamp(path.stat().st_mtime).astimezone().isoformat(timespec="seconds")
    except OSError:
        return ""


# ----- a run's inputs: its dataset, the settings saved in its checkpoint -----


def read_dataset_meta(dataset_dir: str | os.PathLike) -> dict:
    """A dataset's validated meta.json (train_tokens/val_tokens match the .bin files)."""
    from gptstudio.core.dataset import load_dataset_meta

    dataset_dir = Path(dataset_dir)
    if not dataset_dir.is_dir():
        raise DatasetError(
            f"Dataset '{dataset_dir.name}' does not exist: prepare it first (Dataset tab or `gptstudio prepare`)."
        )
    return load_dataset_meta(dataset_dir)


TOKENIZER_KEYS = ("tokenizer", "vocab_size", "chars", "eot_token", "special_tokens", "chat_template", "tokenizer_json")


def tokenizer_meta(meta: dict) -> dict:
    """The part of a dataset's meta that defines its tokenizer (what checkpoints store: for an own-BPE
    dataset this includes the whole tokenizer.json, so a checkpoint alone can sample and export)."""
    return {k: meta[k] for k in TOKENIZER_KEYS if k in meta}


def bits_per_byte(loss: float | None, tokens: int, nbytes: int) -> float | None:
    """A loss in nats per token as bits per byte of text: loss × tokens/bytes ÷ ln 2, where tokens/bytes
    is the split's (its token count over the UTF-8 bytes of text they stand for). Unlike the loss, it
    compares runs with different tokenizers. None when unknown."""
    if loss is None or not nbytes or not math.isfinite(loss):
        return None
    return loss * tokens / nbytes / math.log(2)


def init_checkpoint(init_from: str, home=None) -> Path | None:
    """The checkpoint a new run starts from when init_from names one of the user's runs (its latest
    checkpoint), a run folder or a checkpoint file: pretrain on text, then fine-tune on conversations.
    None for scratch, resume and GPT-2 weights (a name, or a Hugging Face folder or file). GPT-2's names
    come first, then run names, then paths. Raises CheckpointError for a run without a checkpoint."""
    from gptstudio.core.config import PRETRAINED

    if init_from in ("scratch", "resume", "") or init_from in PRETRAINED:
        return None
    ws = Workspace.open(home)
    try:
        run_dir = ws.run_dir(init_from)
    except WorkspaceError:
        run_dir = None
    if run_dir is None or not run_dir.is_dir():
        path = Path(init_from).expanduser()
        if path.is_file():
            return path if path.suffix.lower() in (".pt", ".pth") else None  # else a Hugging Face file
        if not path.is_dir() or not (path / LATEST).is_file():
            return None  # not found, or a Hugging Face folder
        run_dir = path
    found = checkpoint_paths(run_dir)
    if "latest" not in found:
        raise CheckpointError(f"Run '{run_dir.name}' has no checkpoint yet: train it before fine-tuning from it.")
    return found["latest"]


ARCHITECTURE = ("n_layer", "n_head", "n_embd", "block_size", "bias")
# settings that describe the machine or the launch, not the run: never carried into a resume
NOT_CARRIED = {"device", "dtype", "compile", "backend", "init_from", "run_name", "eval_only"}


def apply_architecture(cfg: TrainConfig, ckpt: dict) -> TrainConfig:
    """Force the model shape of a checkpoint onto cfg (a checkpoint's weights fix it)."""
    args = ckpt["model_args"]
    for key in ARCHITECTURE:
        if key in args:
            setattr(cfg, key, type(getattr(cfg, key))(args[key]))
    return cfg


def config_from_checkpoint(ckpt: dict) -> TrainConfig:
    """The settings a checkpoint (ours or nanoGPT's) was trained with, as far as we know them."""
    cfg = TrainConfig()
    saved, _ = known_settings(ckpt["config"] if isinstance(ckpt.get("config"), dict) else {})
    for key, value in saved.items():
        if key not in NOT_CARRIED:
            try:
                setattr(cfg, key, coerce(key, value))
            except ValueError:
                pass  # a value we cannot read keeps our default
    if isinstance(ckpt.get("dataset"), str) and ckpt["dataset"]:
        cfg.dataset = ckpt["dataset"]
    return apply_architecture(cfg, ckpt)


__all__ = [
    "BEST",
    "CONFIG_FILE",
    "LATEST",
    "METRICS_FILE",
    "STATUS_FILE",
    "STOP_FILE",
    "MetricsLog",
    "apply_architecture",
    "bits_per_byte",
    "checkpoint_paths",
    "config_from_checkpoint",
    "init_checkpoint",
    "is_running_elsewhere",
    "iter_metrics",
    "list_runs",
    "read_dataset_meta",
    "read_metrics",
    "read_status",
    "tokenizer_meta",
    "write_status",
]
