"""Where a run starts (init_from), as the Config tab shows it: random weights, GPT-2, or one of the
person's runs, whose shape and tokenizer then fix the new run's (Qt-free).

A run's checkpoint is described without loading its weights (core.catalog), once per file version.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from gptstudio.core.catalog import CheckpointInfo, describe_checkpoint
from gptstudio.core.config import PRETRAINED, TrainConfig
from gptstudio.core.errors import GPTStudioError, Problem
from gptstudio.core.runs import ARCHITECTURE, init_checkpoint, list_runs, tokenizer_meta
from gptstudio.core.tokenizer import same_vocabulary
from gptstudio.core.workspace import Workspace

# OpenAI's GPT-2 sizes (as nanoGPT names them), shown wherever a pretrained model is offered
PRETRAINED_SIZES = {"gpt2": "124M", "gpt2-medium": "350M", "gpt2-large": "774M", "gpt2-xl": "1.5B"}


@dataclass
class StartPoint:
    """What init_from names. kind: "scratch", "resume", "pretrained", "run" (one of the person's runs or a
    checkpoint file), or "unknown" (then `problem` says why)."""

    kind: str
    text: str  # one sentence for the form
    info: CheckpointInfo | None = None  # the run's checkpoint (kind "run")
    model_args: dict = field(default_factory=dict)
    problem: Problem | None = None


class StartPoints:
    """The start points of a workspace: its runs offered to fine-tune, and what any init_from means."""

    def __init__(self, workspace: Workspace):
        self.workspace = workspace
        self._described: dict[tuple[str, int], CheckpointInfo] = {}

    def runs(self) -> list[dict]:
        """The runs with a checkpoint (list_runs() entries), newest first."""
        return [r for r in list_runs(self.workspace.home) if r.get("checkpoints")]

    def choices(self) -> list[tuple[str, str]]:
        """(text, init_from) for the runs: "shakespeare — your run (char, base model): fine-tune it"."""
        out = []
        for r in self.runs():
            kind = "chat model" if r.get("chat") else "base model"
            out.append((f"{r['name']} — your run ({r.get('tokenizer') or '?'}, {kind}): fine-tune it", r["name"]))
        return out

    def of(self, init_from: str) -> StartPoint:
        if init_from in ("", "scratch"):
            return StartPoint("scratch", "Starts from random weights: a new model of the shape below.")
        if init_from == "resume":
            return StartPoint("resume", "Continues a run from its last checkpoint (Resume on the Training tab).")
        if init_from in PRETRAINED:
            return StartPoint(
                "pretrained",
                f"Starts from OpenAI's {init_from} ({PRETRAINED_SIZES[init_from]} parameters): its shape is used; "
                "prepare the dataset with the gpt2 tokenizer.",
            )
        try:
            path = init_checkpoint(init_from, self.workspace.home)
            if path is None:
                if Path(init_from).expanduser().is_dir():
                    return StartPoint("pretrained", f"Starts from the GPT-2 weights in {init_from}.")
                raise GPTStudioError(
                    f"init_from is {init_from!r}: no run of that name in this workspace, no checkpoint file, "
                    "and no GPT-2 weights: choose one of your runs."
                )
            info = self._describe(path)
        except GPTStudioError as e:
            return StartPoint("unknown", str(e), problem=Problem(str(e), ("init_from",), "init_from"))
        args = dict(info.model_args)
        shape = f"{args.get('n_layer')} layers × {args.get('n_embd')}, context {args.get('block_size')}"
        state = f"iteration {info.iter_num}" if info.iter_num is not None else "no iteration count"
        if info.best_val_loss is not None:
            state += f", val loss {info.best_val_loss:.3f}"
        kind = "a chat model" if info.is_chat else "a base model"
        name = info.run or Path(info.path).name
        text = (
            f"Starts from your run '{name}' ({kind}, {info.tokenizer or '?'} tokenizer, {state}): a new run "
            f"fine-tunes its weights. Its shape is kept ({shape})."
        )
        return StartPoint("run", text, info, args)

    def apply(self, cfg: TrainConfig, start: StartPoint) -> TrainConfig:
        """The settings as they will really be built from this start point: a run's architecture, and a
        context at most its own (as the trainer does)."""
        if start.kind != "run":
            return cfg
        out = TrainConfig(**cfg.to_dict())
        block = cfg.block_size
        for key in ARCHITECTURE:
            if key in start.model_args:
                setattr(out, key, type(getattr(out, key))(start.model_args[key]))
        out.block_size = min(block, out.block_size)
        return out

    def problems(self, cfg: TrainConfig, dataset_meta: dict | None, start: StartPoint | None = None) -> list[Problem]:
        """The start point's own problem, or a dataset tokenized for another model (`start`: what
        cfg.init_from means, when the caller already looked it up)."""
        start = start or self.of(cfg.init_from)
        if start.problem is not None:
            return [start.problem]
        if start.kind == "run" and dataset_meta is not None and start.info is not None:
            base = start.info.tokenizer_meta
            if base and not same_vocabulary(base, tokenizer_meta(dataset_meta)):
                return [
                    Problem(
                        f"Dataset '{cfg.dataset}' was tokenized for another model than {cfg.init_from}: "
                        f"prepare it for that run (Dataset tab: Chat data, For the model: {cfg.init_from}).",
                        ("dataset", "init_from"),
                        "tokenizer",
                    )
                ]
        return []

    def _describe(self, path: Path) -> CheckpointInfo:
        key = (str(path), path.stat().st_mtime_ns)
        if key not in self._described:
            run = path.parent.name if path.parent.parent == self.workspace.runs_dir else ""
            self._described[key] = describe_checkpoint(path, run, "latest" if run else "")
        return self._described[key]
