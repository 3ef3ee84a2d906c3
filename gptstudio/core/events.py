"""Typed events that long jobs report through one callback.

The same events travel in-process (the GUI's QThread worker turns them into Qt signals) or as JSON
lines from a torchrun child (`gptstudio train --jsonl`), so they convert to and from plain dicts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar


@dataclass
class Event:
    type: ClassVar[str] = "event"

    def to_dict(self) -> dict:
        return {"type": self.type, **asdict(self)}


@dataclass
class RunStarted(Event):
    type: ClassVar[str] = "run_started"
    run: str
    config: dict
    n_params: int
    device: str
    dtype: str
    start_iter: int
    max_iters: int
    tokens_per_iter: int
    flops_per_iter: float
    world_size: int = 1


@dataclass
class Step(Event):
    type: ClassVar[str] = "step"
    iter: int
    loss: float
    lr: float
    tokens_per_sec: float
    ms_per_iter: float
    mfu: float  # fraction of peak FLOP/s, -1 when unknown
    elapsed: float  # seconds since the run (or resume) started


@dataclass
class Eval(Event):
    type: ClassVar[str] = "eval"
    iter: int
    train_loss: float
    val_loss: float
    best_val_loss: float
    sample: str | None = None  # a short text from the model, when eval_sample_tokens > 0
    # the losses in bits per byte of text (comparable across tokenizers); None when unknown
    train_bpb: float | None = None
    val_bpb: float | None = None


@dataclass
class CheckpointSaved(Event):
    type: ClassVar[str] = "checkpoint"
    iter: int
    path: str
    best: bool = False
    val_loss: float | None = None


@dataclass
class Message(Event):
    type: ClassVar[str] = "message"
    text: str
    level: str = "info"  # info | warning | error


@dataclass
class SettingsProblem(Event):
    """One problem that kept a run from starting (as errors.Problem: the sentence, the settings it
    concerns, a stable code). Every one of them comes before the run's Finished(status="failed")."""

    type: ClassVar[str] = "settings_problem"
    message: str
    fields: list[str] = field(default_factory=list)
    code: str = ""


@dataclass
class Finished(Event):
    type: ClassVar[str] = "finished"
    status: str  # completed | stopped | failed
    iter: int
    reason: str = ""
    best_val_loss: float | None = None
    best_val_bpb: float | None = None


EVENT_TYPES: dict[str, type] = {
    cls.type: cls for cls in (RunStarted, Step, Eval, CheckpointSaved, Message, SettingsProblem, Finished)
}

_FIELDS = {name: frozenset(f.name for f in fields(cls)) for name, cls in EVENT_TYPES.items()}

EventCallback = Callable[[Event], None]


def event_from_dict(d: dict) -> Event:
    """Inverse of Event.to_dict (unknown keys are ignored so old/new versions interoperate)."""
    kind = str(d.get("type"))
    cls = EVENT_TYPES.get(kind)
    if cls is None:
        raise ValueError(f"Unknown event type {d.get('type')!r}")
    names = _FIELDS[kind]
    return cls(**{k: v for k, v in d.items() if k in names})


def ignore_event(_event: Any) -> None:
    """Default callback: drop events."""
