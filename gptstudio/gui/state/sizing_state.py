"""The Config tab's "Size it for my data" as data (Qt-free): the suggestion on show, what it was made for,
and its words."""

from __future__ import annotations

from gptstudio.core.config import TrainConfig
from gptstudio.core.errors import Problem
from gptstudio.core.sizing import Suggestion
from gptstudio.core.units import format_time

DEFAULT_MINUTES = 30


def sizing_key(cfg: TrainConfig, meta: dict | None, minutes: float) -> tuple:
    """What a suggestion depends on: the dataset (and its size), the device, the time given."""
    meta = meta or {}
    return (cfg.dataset, meta.get("train_tokens"), meta.get("vocab_size"), cfg.device, float(minutes))


class SizingState:
    """The last suggestion and the key it was made for; it is current while the key stays the same."""

    def __init__(self) -> None:
        self.suggestion: Suggestion | None = None
        self.made_for: tuple | None = None

    def take(self, suggestion: Suggestion, key: tuple) -> None:
        self.suggestion, self.made_for = suggestion, key

    def current(self, key: tuple) -> Suggestion | None:
        """The suggestion if it was made for this key (None: there is none, or it is stale)."""
        return self.suggestion if self.made_for == key else None


def suggestion_summary(s: Suggestion) -> str:
    """'6 layers × 384 wide, 6 heads · context 256 · batch 32 × 2 · 2,441 iterations · about 12 min'"""
    v = s.settings
    batch = f"batch {v['batch_size']}" + (
        f" × {v['gradient_accumulation_steps']}" if v["gradient_accumulation_steps"] > 1 else ""
    )
    return (
        f"{v['n_layer']} layers × {v['n_embd']} wide, {v['n_head']} heads · context {v['block_size']} · {batch} · "
        f"{v['max_iters']:,} iterations · dropout {v['dropout']:g} · about {format_time(s.seconds)}"
    )


def fit_summary(problems: list[Problem]) -> str:
    """The fit check of the settings on show, in a line or two ('' when they look balanced)."""
    return "\n".join(p.message for p in problems)
