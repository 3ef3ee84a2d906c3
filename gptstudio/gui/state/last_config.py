"""The Config tab's settings between launches: all of them per workspace, the model settings shared.

A workspace keeps its own last config (with its dataset and run name). A workspace opened for the
first time starts from the settings used last anywhere, without another workspace's dataset or run
name (presets.PERSONAL_KEYS), so nothing there names what it does not have.
"""

from __future__ import annotations

from gptstudio.core import presets
from gptstudio.core.config import TrainConfig
from gptstudio.core.errors import ConfigError

KEY = "last_config"  # the same key in the workspace's preferences and in the shared ones


def to_remember(cfg: TrainConfig) -> tuple[dict, dict]:
    """(what the workspace keeps, what every workspace may start from)."""
    return cfg.to_dict(), presets.preset_settings(cfg)


def restored_config(own, shared) -> TrainConfig:
    """The workspace's last config, else the shared settings; stored values that no longer fit (an
    unknown or damaged setting) are dropped one by one, keeping the default for each."""
    if isinstance(own, dict):
        stored = own
    elif isinstance(shared, dict):
        stored = {k: v for k, v in shared.items() if k not in presets.PERSONAL_KEYS}
    else:
        stored = {}
    cfg = TrainConfig()
    for key, value in stored.items():
        try:
            cfg.update({key: value})
        except ConfigError:
            continue
    return cfg
