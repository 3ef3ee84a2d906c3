"""What to generate and how: `SampleSettings`, checked as it is built, and the limits of each setting.

Kept apart from core/sampler.py (which uses them) so that the CLI can show these choices and defaults
without loading torch; everything here is importable from core/sampler.py too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

from gptstudio.core.errors import GPTStudioError

SLIDES = ("exact", "fast")
CHECKPOINT_CHOICES = ("latest", "best")
MAX_TEMPERATURE = 10.0
MAX_NEW_TOKENS = 1_000_000
MAX_SAMPLES = 256
MAX_SEED = 2**63 - 1


class SamplerError(GPTStudioError):
    """Generation settings, a prompt or a device choice are unusable."""


def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _is_number(x) -> bool:
    return (isinstance(x, (int, float)) and not isinstance(x, bool)) and math.isfinite(x)


@dataclass
class SampleSettings:
    """What to generate and how. Defaults are nanoGPT's sample.py (temperature 0.8, top_k 200)."""

    max_new_tokens: int = 500
    temperature: float = 0.8  # 0 = greedy (always the most likely token)
    top_k: int | None = 200  # None or 0 = off
    top_p: float = 1.0  # 1 = off
    repetition_penalty: float = 1.0  # 1 = off; 1.1-1.3 discourages repeating tokens of the context
    seed: int | None = None  # None = a fresh random seed (see Sampler.last_seed)
    stop: tuple[str, ...] = ()  # stop sequences: a sample ends when its text contains one
    num_samples: int = 1  # generated together in one batch
    drop_unknown: bool = False  # char models: drop prompt characters outside the vocabulary
    slide: str = "exact"  # past block_size: "exact" (as nanoGPT) or "fast" (see core/sampler.py)

    def __post_init__(self):
        if isinstance(self.stop, str):
            self.stop = (self.stop,)
        if isinstance(self.stop, (list, tuple)):
            self.stop = tuple(self.stop)
        problems = self.problems()
        if problems:
            raise SamplerError("Invalid sampling settings: " + "; ".join(problems) + ".")

    def problems(self) -> list[str]:
        """Every invalid setting, each as a phrase naming the allowed range."""
        out = []
        if not _is_int(self.max_new_tokens) or not 1 <= self.max_new_tokens <= MAX_NEW_TOKENS:
            out.append(
                f"max_new_tokens must be a whole number from 1 to {MAX_NEW_TOKENS} (got {self.max_new_tokens!r})"
            )
        if not _is_number(self.temperature) or not 0 <= self.temperature <= MAX_TEMPERATURE:
            out.append(f"temperature must be from 0 (greedy) to {MAX_TEMPERATURE:g} (got {self.temperature!r})")
        if self.top_k is not None and (not _is_int(self.top_k) or self.top_k < 0):
            out.append(f"top_k must be a whole number >= 0, 0 meaning off (got {self.top_k!r})")
        if not _is_number(self.top_p) or not 0 < self.top_p <= 1:
            out.append(f"top_p must be above 0 and at most 1, 1 meaning off (got {self.top_p!r})")
        if not _is_number(self.repetition_penalty) or not 0 < self.repetition_penalty <= 10:
            out.append(
                f"repetition_penalty must be above 0 and at most 10, 1 meaning off (got {self.repetition_penalty!r})"
            )
        if self.seed is not None and (not _is_int(self.seed) or not 0 <= self.seed <= MAX_SEED):
            out.append(f"seed must be a whole number from 0 to 2**63-1, or empty for random (got {self.seed!r})")
        if not isinstance(self.stop, tuple) or not all(isinstance(s, str) and s for s in self.stop):
            out.append("stop sequences must be non-empty texts")
        if not _is_int(self.num_samples) or not 1 <= self.num_samples <= MAX_SAMPLES:
            out.append(f"num_samples must be a whole number from 1 to {MAX_SAMPLES} (got {self.num_samples!r})")
        if self.slide not in SLIDES:
            out.append(f"slide must be one of {', '.join(SLIDES)} (got {self.slide!r})")
        return out

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in fields(cls)]
