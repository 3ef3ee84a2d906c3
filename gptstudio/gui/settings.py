"""App preferences (window geometry, last tab, last config, recent choices) as one JSON file.

Stored in the platformdirs user config folder, or `$GPTSTUDIO_CONFIG_DIR` (tests point it at a temp
folder). Written atomically, so a crash never leaves a half-written settings file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from gptstudio.core.atomic import write_json_atomic
from gptstudio.core.workspace import config_dir


def settings_path() -> Path:
    env = os.environ.get("GPTSTUDIO_CONFIG_DIR")
    return (Path(env) if env else config_dir()) / "settings.json"


class AppSettings:
    def __init__(self, path: Path | None = None):
        self.path = Path(path) if path else settings_path()
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            self._data = data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            self._data = {}  # missing or damaged settings: start fresh, never crash

    def get(self, key: str, default: Any = None) -> Any:
        return self._data.get(key, default)

    def set(self, key: str, value: Any, save: bool = True) -> None:
        """Store a value; `save=False` keeps it in memory until the next save() (the window saves on
        close), so the GUI thread does no disk writes (fsync can stall behind a big job's I/O)."""
        self._data[key] = value
        if save:
            self.save()

    def save(self) -> None:
        try:
            write_json_atomic(self.path, self._data)
        except OSError:
            pass  # preferences are a convenience; an unwritable config folder must not break the app
