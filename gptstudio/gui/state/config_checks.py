"""Whether the Config tab's settings can train in this workspace: the datasets it offers, every problem."""

from __future__ import annotations

from gptstudio.core.config import TrainConfig, validate
from gptstudio.core.dataset import list_datasets
from gptstudio.core.errors import Problem
from gptstudio.core.units import format_count
from gptstudio.core.workspace import Workspace


class WorkspaceDatasets:
    """The workspace's datasets as the Config tab sees them: usable ones (their meta) and damaged ones
    (the reason), by name. `reload()` reads the workspace again."""

    def __init__(self, workspace: Workspace):
        self.workspace = workspace
        self.usable: dict[str, dict] = {}
        self.damaged: dict[str, str] = {}

    def reload(self) -> None:
        self.usable, self.damaged = {}, {}
        for entry in list_datasets(self.workspace.home):
            if entry.get("error"):
                self.damaged[entry["name"]] = entry["error"]
            else:
                self.usable[entry["name"]] = entry

    def meta(self, name: str) -> dict | None:
        return self.usable.get(name)

    def choices(self) -> list[tuple[str, str]]:
        """(text, name) for the dataset combo: 'tiny — 5.60 k tokens, char (40)'."""
        return [(describe_dataset(name, meta), name) for name, meta in self.usable.items()]

    def problems(self, cfg: TrainConfig) -> list[Problem]:
        """Every problem with these settings on this workspace's data, each with the fields it concerns."""
        found = validate(cfg, self.meta(cfg.dataset))
        if cfg.dataset in self.damaged:
            found.append(Problem(self.damaged[cfg.dataset], ("dataset",), "dataset"))
        elif cfg.dataset and cfg.dataset not in self.usable:
            found.append(
                Problem(
                    f"The dataset '{cfg.dataset}' is not in this workspace: prepare it on the Dataset tab "
                    "or choose another.",
                    ("dataset",),
                    "dataset",
                )
            )
        return found


def describe_dataset(name: str, meta: dict) -> str:
    tokens = int(meta.get("train_tokens", 0)) + int(meta.get("val_tokens", 0))
    return f"{name} — {format_count(tokens)} tokens, {meta.get('tokenizer', '?')} ({meta.get('vocab_size', '?')})"
