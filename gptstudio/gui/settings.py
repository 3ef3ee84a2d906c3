"""App preferences (window geometry, last tab, last config, recent choices) as one JSON file.

Stored in the platformdirs user config folder, or `$GPTSTUDIO_CONFIG_DIR` (tests point it at a temp
folder). Written atomically, so a crash never leaves a half-written settings file.

Preferences that name something inside a workspace (the dataset chosen last, the last config with
its dataset, the checkpoint picked last) belong to that workspace: `settings.for_workspace(home)` is
a view of the same file whose keys live under the workspace's path. Opening another workspace
(GPTSTUDIO_HOME, --home) then simply finds none of them, quietly, and the first workspace finds its
own again. Everything else (layout, tokenizer, folders last used) is shared by all workspaces.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from gptstudio.core.atomic import write_json_atomic
from gptstudio.core.workspace import config_dir

WORKSPACES_KEY = "workspaces"  # {workspace path: {key: value}}
MAX_WORKSPACES = 50  # the preferences of the workspaces used longest ago are dropped beyond this


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

    def for_workspace(self, home) -> WorkspaceSettings:
        """The preferences of one workspace (see the module docstring)."""
        return WorkspaceSettings(self, home)

    def _workspace_values(self, key: str, create: bool = False) -> dict:
        spaces = self._data.get(WORKSPACES_KEY)
        if not isinstance(spaces, dict):
            spaces = {}
            if create:
                self._data[WORKSPACES_KEY] = spaces
        values = spaces.get(key)
        if not isinstance(values, dict):
            values = {}
        if create:
            spaces.pop(key, None)  # re-inserted last: the most recently used workspace
            spaces[key] = values
            for stale in list(spaces)[:-MAX_WORKSPACES]:
                del spaces[stale]
        return values


class WorkspaceSettings:
    """The same get/set/save as AppSettings, for the keys that belong to one workspace."""

    def __init__(self, app: AppSettings, home):
        self.app = app
        self.workspace = str(Path(home).expanduser().resolve())

    def get(self, key: str, default: Any = None) -> Any:
        return self.app._workspace_values(self.workspace).get(key, default)

    def set(self, key: str, value: Any, save: bool = True) -> None:
        self.app._workspace_values(self.workspace, create=True)[key] = value
        if save:
            self.app.save()

    def save(self) -> None:
        self.app.save()
