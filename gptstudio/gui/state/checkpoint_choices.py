"""Which checkpoints the Playground offers, and which of them answer a prompt (Qt-free).

The offer is every run's latest and best checkpoint (core.catalog describes them without loading the
weights) plus checkpoint files the user opened from elsewhere and pretrained GPT-2 models (a name or a
Hugging Face folder) the user added, both remembered between sessions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from gptstudio.core.catalog import CheckpointInfo, describe_checkpoint, describe_pretrained, list_checkpoints
from gptstudio.core.errors import GPTStudioError


@dataclass
class CheckpointChoices:
    runs: list[CheckpointInfo] = field(default_factory=list)  # the workspace's, as last read
    files: list[CheckpointInfo] = field(default_factory=list)  # opened from anywhere on disk
    pretrained: list[CheckpointInfo] = field(default_factory=list)  # GPT-2 models, by name or folder

    def all(self) -> list[CheckpointInfo]:
        """Runs first, then opened files, then pretrained models; a file that is also a run's checkpoint
        is listed once, as a file."""
        opened = {str(c.path) for c in self.files}
        return [c for c in self.runs if str(c.path) not in opened] + self.files + self.pretrained

    def refresh(self, workspace) -> list[str]:
        """Re-read the workspace's runs; forget opened files that are gone. Returns what could not be read."""
        found, problems = list_checkpoints(workspace)
        self.set_runs(found)
        return problems

    def set_runs(self, found: list[CheckpointInfo]) -> None:
        """The workspace's checkpoints as just listed (core.catalog.list_checkpoints, maybe in a job);
        opened files that are gone are forgotten."""
        self.runs = list(found)
        self.files = [c for c in self.files if Path(c.path).is_file()]

    def add_file(self, path) -> CheckpointInfo:
        """Describe a checkpoint file and offer it (raises GPTStudioError when it is not one)."""
        info = describe_checkpoint(path)
        self.files = [c for c in self.files if c.path != info.path] + [info]
        return info

    def restore_files(self, paths) -> None:
        """Offer again the files opened last session; one that moved away is simply no longer offered."""
        for path in paths if isinstance(paths, list) else []:
            try:
                self.add_file(path)
            except (GPTStudioError, TypeError):
                continue

    def file_paths(self) -> list[str]:
        return [str(c.path) for c in self.files]

    def add_pretrained(self, init_from: str, home=None) -> CheckpointInfo:
        """Offer a pretrained GPT-2 (raises GPTStudioError for an unknown name or a folder without weights)."""
        info = describe_pretrained(init_from, home)
        self.pretrained = [c for c in self.pretrained if c.key != info.key] + [info]
        return info

    def restore_pretrained(self, names, home=None) -> None:
        """Offer again the pretrained models of last session (a folder that moved away is dropped)."""
        for name in names if isinstance(names, list) else []:
            try:
                self.add_pretrained(name, home)
            except (GPTStudioError, TypeError):
                continue

    def pretrained_names(self) -> list[str]:
        return [c.pretrained for c in self.pretrained]

    def find(self, path) -> CheckpointInfo | None:
        return next((c for c in self.all() if str(c.path) == str(path)), None)


@dataclass(frozen=True)
class Pairing:
    """Who answers: the chosen checkpoint, and in compare mode a second one with the same seed and settings."""

    primary: CheckpointInfo | None = None
    compare: CheckpointInfo | None = None  # None unless comparing

    def answering(self) -> list[CheckpointInfo]:
        return [c for c in (self.primary, self.compare) if c is not None]

    def pane_titles(self, num_samples: int) -> list[str]:
        """One title per answer, in answer order: checkpoint name when it tells answers apart, sample number."""
        sources = self.answering()
        titles = []
        for info in sources:
            name = info.short_name if len(sources) > 1 or num_samples == 1 else ""
            for j in range(num_samples):
                sample = f"sample {j + 1}" if num_samples > 1 else ""
                titles.append(" · ".join(t for t in (name, sample) if t))
        return titles
