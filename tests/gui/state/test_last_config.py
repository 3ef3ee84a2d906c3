"""The Config tab's settings between launches (Qt-free): per workspace, model settings shared."""

from gptstudio.core.config import TrainConfig
from gptstudio.gui.state.last_config import restored_config, to_remember


def test_own_config_wins_shared_one_without_personal_settings():
    cfg = TrainConfig(dataset="poems", run_name="mine", wandb_run_name="w", n_layer=5, learning_rate=2e-4)
    own, shared = to_remember(cfg)
    assert restored_config(own, shared) == cfg
    assert "dataset" not in shared and "run_name" not in shared and shared["n_layer"] == 5
    fresh = restored_config(None, shared)  # a workspace opened for the first time
    assert (fresh.dataset, fresh.run_name, fresh.wandb_run_name) == ("", "", TrainConfig().wandb_run_name)
    assert (fresh.n_layer, fresh.learning_rate) == (5, 2e-4)
    legacy = restored_config(None, own)  # an older settings file kept the dataset in the shared value
    assert legacy.dataset == "" and legacy.n_layer == 5
    assert restored_config(None, None) == TrainConfig() == restored_config("damaged", ["also"])


def test_damaged_values_are_dropped_one_by_one():
    cfg = restored_config({"n_layer": "many", "n_embd": 64, "nonsense": 1, "dropout": None}, None)
    assert cfg.n_layer == TrainConfig().n_layer and cfg.n_embd == 64 and cfg.dropout == TrainConfig().dropout
