"""What the Playground remembers between sessions, read defensively (Qt-free)."""

from gptstudio.gui.state.playground_prefs import SETTINGS_KEY, PlaygroundPrefs


class FakeSettings(dict):
    def set(self, key, value):
        self[key] = value


def test_prefs_round_trip_and_defaults_for_bad_values():
    settings = FakeSettings()
    assert PlaygroundPrefs.from_settings(settings) == PlaygroundPrefs()
    prefs = PlaygroundPrefs(
        sampling={"temperature": 0.5},
        mode="complete",
        token_view=True,
        drop_unknown=True,
        checkpoint="/r/a.pt",
        compare_checkpoint="/r/b.pt",
        external_checkpoints=["/x.pt"],
        pretrained_models=["gpt2", "/models/tiny-gpt2"],
        serve_port=8123,
        system_prompt="Be brief.",
    )
    prefs.save(settings)
    assert set(settings[SETTINGS_KEY]) == {
        "sampling",
        "mode",
        "token_view",
        "drop_unknown",
        "checkpoint",
        "compare_checkpoint",
        "external_checkpoints",
        "pretrained_models",
        "serve_port",
        "system_prompt",
    }
    assert PlaygroundPrefs.from_settings(settings) == prefs
    settings[SETTINGS_KEY] = {"sampling": [1], "token_view": "yes", "checkpoint": 3, "external_checkpoints": [1, "/y"]}
    assert PlaygroundPrefs.from_settings(settings) == PlaygroundPrefs(external_checkpoints=["/y"])
    for port in (0, 70000, True, "8000"):
        settings[SETTINGS_KEY] = {"serve_port": port, "pretrained_models": ["gpt2", 5]}
        assert PlaygroundPrefs.from_settings(settings) == PlaygroundPrefs(pretrained_models=["gpt2"])
    settings[SETTINGS_KEY] = "garbage"
    assert PlaygroundPrefs.from_settings(settings) == PlaygroundPrefs()


def test_checkpoints_belong_to_their_workspace(tmp_path):
    from gptstudio.gui.settings import AppSettings

    settings = AppSettings(tmp_path / "settings.json")
    a, b = tmp_path / "a", tmp_path / "b"
    chosen = PlaygroundPrefs(sampling={"temperature": 0.5}, checkpoint=str(a / "runs/r/ckpt.pt"), mode="complete")
    chosen.save_for_workspace(settings, a)
    # another workspace starts from the last preferences used, without the other workspace's checkpoints
    in_b = PlaygroundPrefs.for_workspace(settings, b)
    assert in_b.checkpoint is None and in_b.sampling == {"temperature": 0.5} and in_b.mode == "complete"
    PlaygroundPrefs(checkpoint=str(b / "runs/s/ckpt.pt")).save_for_workspace(settings, b)
    assert PlaygroundPrefs.for_workspace(settings, a) == chosen  # back in A, A's choice comes back
