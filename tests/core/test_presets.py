import json

import pytest

from gptstudio.core import presets as P
from gptstudio.core.config import FIELDS, TrainConfig
from gptstudio.core.errors import ConfigError

REQUIRED = [
    "Tiny (CPU, minutes)",
    "Shakespeare char (nanoGPT baby GPT)",
    "GPT-2 small 124M",
    "Fine-tune GPT-2 on my text",
]


def test_builtin_presets_exist_and_are_valid_settings():
    assert all(name in P.BUILTIN_PRESETS for name in REQUIRED)
    for name, settings in P.BUILTIN_PRESETS.items():
        assert set(settings) <= set(FIELDS), name
        cfg = P.apply_preset(settings, TrainConfig(dataset="d"))
        # every problem left is about this machine or the dataset, never the recipe itself
        assert [p for p in cfg.validate() if "device" not in p and "compile" not in p] == [], name


def test_builtin_values_are_nanogpts():
    baby = P.apply_preset(P.BUILTIN_PRESETS["Shakespeare char (nanoGPT baby GPT)"])
    assert (baby.n_layer, baby.n_head, baby.n_embd, baby.block_size, baby.batch_size) == (6, 6, 384, 256, 64)
    assert (baby.dropout, baby.learning_rate, baby.max_iters, baby.min_lr, baby.beta2) == (0.2, 1e-3, 5000, 1e-4, 0.99)
    gpt2 = P.apply_preset(P.BUILTIN_PRESETS["GPT-2 small 124M"])
    assert gpt2.tokens_per_iter() == 491_520  # 12 x 1024 x 40, nanoGPT's ~0.5M tokens per step
    assert (gpt2.learning_rate, gpt2.min_lr, gpt2.beta2, gpt2.max_iters) == (6e-4, 6e-5, 0.95, 600_000)
    ft = P.apply_preset(P.BUILTIN_PRESETS["Fine-tune GPT-2 on my text"])
    assert (ft.init_from, ft.batch_size, ft.gradient_accumulation_steps, ft.max_iters) == ("gpt2", 1, 32, 20)
    assert (ft.learning_rate, ft.decay_lr, ft.eval_interval, ft.eval_iters) == (3e-5, False, 5, 40)
    tiny = P.apply_preset(P.BUILTIN_PRESETS["Tiny (CPU, minutes)"])
    assert (tiny.n_layer, tiny.n_embd, tiny.block_size, tiny.compile, tiny.eval_iters) == (4, 128, 64, False, 20)


def test_apply_keeps_dataset_and_resets_the_rest():
    current = TrainConfig(dataset="mine", run_name="r1", n_layer=30, weight_decay=0.5)
    cfg = P.apply_preset(P.BUILTIN_PRESETS["Tiny (CPU, minutes)"], current)
    assert cfg.dataset == "mine" and cfg.run_name == "r1"
    assert cfg.n_layer == 4 and cfg.weight_decay == TrainConfig().weight_decay


def test_user_preset_save_list_delete(tmp_path):
    folder = tmp_path / "presets"
    cfg = TrainConfig(dataset="secret", n_layer=3, learning_rate=6e-5)
    path = P.save_user_preset("my small / model", cfg, folder)
    assert path.parent == folder and path.suffix == ".json"
    saved = P.user_presets(folder)
    assert list(saved) == ["my small / model"]
    assert saved["my small / model"]["n_layer"] == 3 and "dataset" not in saved["my small / model"]
    assert P.apply_preset(saved["my small / model"]).learning_rate == 6e-5
    # overwrite in place, and a second name with the same file slug gets its own file
    P.save_user_preset("my small / model", TrainConfig(n_layer=5), folder)
    P.save_user_preset("my small _ model", TrainConfig(n_layer=7), folder)
    assert len(list(folder.glob("*.json"))) == 2
    assert P.user_presets(folder)["my small / model"]["n_layer"] == 5
    assert set(P.all_presets(folder)) >= set(REQUIRED) | {"my small / model", "my small _ model"}
    P.delete_user_preset("my small / model", folder)
    assert list(P.user_presets(folder)) == ["my small _ model"]
    assert not list(folder.glob(".*.tmp"))  # atomic writes leave no temp files


def test_user_preset_errors(tmp_path):
    folder = tmp_path / "presets"
    with pytest.raises(ConfigError, match="built-in"):
        P.save_user_preset("GPT-2 small 124M", TrainConfig(), folder)
    with pytest.raises(ConfigError, match="name"):
        P.save_user_preset("  ", TrainConfig(), folder)
    with pytest.raises(ConfigError, match="no saved preset"):
        P.delete_user_preset("nope", folder)
    with pytest.raises(ConfigError, match="built-in"):
        P.delete_user_preset("Tiny (CPU, minutes)", folder)


def test_damaged_preset_files_are_skipped(tmp_path):
    folder = tmp_path / "presets"
    folder.mkdir()
    (folder / "bad.json").write_text("{not json")
    (folder / "odd.json").write_text(json.dumps([1, 2]))
    (folder / "ok.json").write_text(json.dumps({"name": "ok", "settings": {"n_layer": 2, "bogus": 1}}))
    assert P.user_presets(folder) == {"ok": {"n_layer": 2}}


def test_presets_dir_follows_config_dir_env(tmp_path, monkeypatch):
    monkeypatch.setenv("GPTSTUDIO_CONFIG_DIR", str(tmp_path / "cfg"))
    assert P.presets_dir() == tmp_path / "cfg" / "presets"
    P.save_user_preset("x", TrainConfig())
    assert "x" in P.user_presets()
