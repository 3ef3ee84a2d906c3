"""The files chosen for a new dataset: what was dropped, what is still being checked, what was accepted."""

from __future__ import annotations

from pathlib import Path

from gptstudio.core.input_check import InputCheck
from gptstudio.core.textfiles import TextFileInfo
from gptstudio.core.units import format_bytes
from gptstudio.core.workspace import Workspace


class DatasetInputs:
    """The accepted text files, in the order they were added, each once.

    Drops are checked in the background; a drop made while a check runs is checked together with the
    ones still pending (`add_pending` returns them all), so no drop is lost when a check restarts.
    """

    def __init__(self) -> None:
        self.files: list[TextFileInfo] = []
        self.pending: list[Path] = []  # dropped, not checked yet
        self.chat_formats: dict[Path, str] = {}  # the accepted files that hold conversations

    def add_pending(self, paths) -> list[Path]:
        """Note a drop; returns every path still to check (this drop and earlier unchecked ones)."""
        for p in map(Path, paths):
            if p not in self.pending:
                self.pending.append(p)
        return list(self.pending)

    def accept(self, check: InputCheck) -> list[TextFileInfo]:
        """Take a finished check's text files (each file once); returns the ones new to the list."""
        self.pending = [p for p in self.pending if p not in check.paths]
        known = {str(info.path) for info in self.files}
        new = []
        for info in check.accepted:
            if str(info.path) not in known:
                known.add(str(info.path))
                new.append(info)
        self.files += new
        self.chat_formats.update(
            {Path(i.path): check.chat_formats[Path(i.path)] for i in new if Path(i.path) in check.chat_formats}
        )
        return new

    def set_files(self, files: list[TextFileInfo]) -> None:
        self.files = list(files)
        self.chat_formats = {}

    def clear(self) -> None:
        self.files, self.pending, self.chat_formats = [], [], {}

    def chat_kind(self) -> str:
        """What the files are: "chat" (every one is chat data in a JSON format), "transcript" (every one
        starts like a User:/Assistant: transcript), "text" (none is chat data), or "mixed"."""
        if not self.files:
            return "text"
        formats = [self.chat_formats.get(Path(info.path)) for info in self.files]
        if all(f and f != "transcript" for f in formats):
            return "chat"
        if all(f == "transcript" for f in formats):
            return "transcript"
        return "text" if not any(f and f != "transcript" for f in formats) else "mixed"

    def chat_format_names(self) -> list[str]:
        """The chat formats among the files, each once, in the order of the files."""
        return list(dict.fromkeys(f for f in (self.chat_formats.get(Path(i.path)) for i in self.files) if f))

    @property
    def paths(self) -> list[Path]:
        return [Path(info.path) for info in self.files]

    @property
    def total_bytes(self) -> int:
        return sum(info.size for info in self.files)

    def summary(self) -> str:
        """'3 files, 14.6 KiB'"""
        n = len(self.files)
        return f"{n} file{'s' if n != 1 else ''}, {format_bytes(self.total_bytes)}"

    def suggested_name(self, check: InputCheck, workspace: Workspace) -> str | None:
        """A free dataset name after a check: the folder's name when one folder was dropped, else the
        first file's (without its extension); None while no file is accepted."""
        if not self.files:
            return None
        given = check.paths
        first = given[0] if len(given) == 1 and given[0].is_dir() else Path(self.files[0].path)
        return workspace.unique_dataset_name(first.name)
