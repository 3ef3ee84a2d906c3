"""Where datasets and runs live.

Layout under the home folder:  datasets/<name>/  and  runs/<name>/.
The home is, in order: an explicit path (`--home`), `$GPTSTUDIO_HOME`, or the user data directory
given by platformdirs (e.g. ~/.local/share/GPTStudio on Linux).
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from platformdirs import user_config_dir, user_data_dir, user_log_dir

from gptstudio.core.errors import WorkspaceError

APP_NAME = "GPTStudio"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def default_home() -> Path:
    env = os.environ.get("GPTSTUDIO_HOME")
    if env:
        return Path(env).expanduser()
    return Path(user_data_dir(APP_NAME, appauthor=False))


def log_dir() -> Path:
    if os.environ.get("GPTSTUDIO_LOG_DIR"):
        return Path(os.environ["GPTSTUDIO_LOG_DIR"])
    return Path(user_log_dir(APP_NAME, appauthor=False))


def config_dir() -> Path:
    return Path(user_config_dir(APP_NAME, appauthor=False))


def validate_name(name: str, what: str = "name") -> str:
    """Return the name if it can be a folder name on every OS, else raise WorkspaceError."""
    if not isinstance(name, str) or not _NAME_RE.match(name) or name in {".", ".."}:
        raise WorkspaceError(
            f"Invalid {what} {name!r}: use 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit (e.g. 'shakespeare_char')."
        )
    return name


def suggest_name(text: str, fallback: str = "dataset") -> str:
    """Turn a file name or free text into a valid dataset/run name."""
    stem = Path(text).stem if text else ""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._-")[:64]
    return name or fallback


@dataclass(frozen=True)
class Workspace:
    home: Path

    @classmethod
    def open(cls, home: str | os.PathLike | None = None) -> Workspace:
        ws = cls(Path(home).expanduser() if home else default_home())
        ws.datasets_dir.mkdir(parents=True, exist_ok=True)
        ws.runs_dir.mkdir(parents=True, exist_ok=True)
        return ws

    @property
    def datasets_dir(self) -> Path:
        return self.home / "datasets"

    @property
    def runs_dir(self) -> Path:
        return self.home / "runs"

    def dataset_dir(self, name: str) -> Path:
        return self.datasets_dir / validate_name(name, "dataset name")

    def run_dir(self, name: str) -> Path:
        return self.runs_dir / validate_name(name, "run name")

    def dataset_names(self) -> list[str]:
        return (
            sorted(p.name for p in self.datasets_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
            if self.datasets_dir.exists()
            else []
        )

    def run_names(self) -> list[str]:
        return (
            sorted(p.name for p in self.runs_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
            if self.runs_dir.exists()
            else []
        )

    def unique_run_name(self, base: str) -> str:
        return _unique_in(self.runs_dir, suggest_name(base, "run"))

    def unique_dataset_name(self, base: str) -> str:
        """A valid dataset name from a file name or text, with -2, -3... appended if taken."""
        return _unique_in(self.datasets_dir, suggest_name(base, "dataset"))

    def delete(self, path: Path) -> None:
        """Delete a dataset or run folder (only inside this workspace)."""
        path = Path(path).resolve()
        if self.home.resolve() not in path.parents:
            raise WorkspaceError(f"Refusing to delete {path}: it is not inside the workspace {self.home}.")
        shutil.rmtree(path)


def _unique_in(folder: Path, base: str) -> str:
    if not (folder / base).exists():
        return base
    base = base[:60]  # room for a "-N" suffix within the 64-character limit
    i = 2
    while (folder / f"{base}-{i}").exists():
        i += 1
    return f"{base}-{i}"
