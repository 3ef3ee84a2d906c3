"""What the Playground remembers between sessions, read defensively (Qt-free).

Stored under the settings key "playground" as a plain dict (the keys below are a stable format), once in
the workspace's own preferences and once app-wide as "the last used anywhere". The chosen checkpoints are
paths inside one workspace: another workspace never sees them (a workspace opened for the first time starts
from the last preferences used anywhere, without their checkpoints). A value of the wrong type, from an
older version or a hand edit, falls back to its default.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from gptstudio.core.server import DEFAULT_PORT

SETTINGS_KEY = "playground"


@dataclass
class PlaygroundPrefs:
    sampling: dict = field(default_factory=dict)  # the sampling form's values (it checks them itself)
    mode: str = "chat"
    token_view: bool = False
    drop_unknown: bool = False
    checkpoint: str | None = None  # path of the chosen checkpoint
    compare_checkpoint: str | None = None
    external_checkpoints: list[str] = field(default_factory=list)  # files opened from elsewhere
    pretrained_models: list[str] = field(default_factory=list)  # GPT-2 names or Hugging Face folders added
    serve_port: int = DEFAULT_PORT  # the local server's port (Serve this model)
    system_prompt: str = ""  # Chat mode's system prompt

    @classmethod
    def from_settings(cls, settings) -> PlaygroundPrefs:
        saved = settings.get(SETTINGS_KEY, {})
        saved = saved if isinstance(saved, dict) else {}
        default = cls()

        def get(key, kind):
            value = saved.get(key)
            return value if isinstance(value, kind) else getattr(default, key)

        files = [p for p in get("external_checkpoints", list) if isinstance(p, str)]
        pretrained = [p for p in get("pretrained_models", list) if isinstance(p, str)]
        port = get("serve_port", int)
        return cls(
            sampling=get("sampling", dict),
            mode=get("mode", str),
            token_view=get("token_view", bool),
            drop_unknown=get("drop_unknown", bool),
            checkpoint=get("checkpoint", str),
            compare_checkpoint=get("compare_checkpoint", str),
            external_checkpoints=files,
            pretrained_models=pretrained,
            serve_port=port if 1 <= port <= 65535 and not isinstance(port, bool) else default.serve_port,
            system_prompt=get("system_prompt", str),
        )

    def save(self, settings) -> None:
        settings.set(SETTINGS_KEY, asdict(self))

    @classmethod
    def for_workspace(cls, settings, home) -> PlaygroundPrefs:
        """The preferences of the workspace at `home` (`settings` is the app's AppSettings)."""
        own = settings.for_workspace(home)
        if own.get(SETTINGS_KEY) is not None:
            return cls.from_settings(own)
        prefs = cls.from_settings(settings)
        prefs.checkpoint = prefs.compare_checkpoint = None
        return prefs

    def save_for_workspace(self, settings, home) -> None:
        self.save(settings.for_workspace(home))
        self.save(settings)
