"""The Config tab assembled: presets, the form, checks, estimates and files work together."""

import pytest
from PySide6.QtWidgets import QFileDialog, QMessageBox

from gptstudio.core.config import TrainConfig
from gptstudio.core.workspace import Workspace
from gptstudio.gui.config_tab import ConfigTab
from gptstudio.gui.settings import AppSettings

from .helpers import child, make_dataset, settle, widget


def choose_preset(tab, name):
    combo = child(tab, "presetCombo")
    index = combo.findText(name)
    combo.setCurrentIndex(index)
    combo.activated.emit(index)  # what choosing it with the mouse emits


def test_a_preset_fills_the_form_and_keeps_the_dataset(tab, qtbot):
    tab.set_dataset("tiny")
    choose_preset(tab, "Shakespeare char (nanoGPT baby GPT)")
    assert widget(tab, "n_layer").value() == 6 and widget(tab, "n_embd").value() == 384
    assert widget(tab, "block_size").value() == 256 and widget(tab, "dropout").value() == 0.2
    assert widget(tab, "beta2").value() == 0.99
    assert tab.config().dataset == "tiny"  # the dataset survives the preset
    tab.apply_preset("Fine-tune GPT-2 on my text")
    assert widget(tab, "learning_rate").text() == "3e-5"
    assert widget(tab, "init_from").currentData() == "gpt2" and not widget(tab, "decay_lr").isChecked()
    assert child(tab, "presetCombo").currentText() == "Fine-tune GPT-2 on my text"
    widget(tab, "max_iters").setValue(21)  # editing away from the preset stops showing its name
    settle(qtbot, tab)
    assert child(tab, "presetCombo").currentIndex() == 0


def test_an_invalid_combination_is_shown_marked_and_signalled(tab, qtbot):
    tab.apply_preset("Tiny (CPU, minutes)")
    tab.set_dataset("tiny")
    assert tab.is_valid(), tab.problems()
    validity = []
    tab.sig_validity_changed.connect(validity.append)
    with qtbot.waitSignal(tab.sig_validity_changed, timeout=3000) as blocker:
        widget(tab, "n_embd").setValue(100)
        widget(tab, "n_head").setValue(3)
    assert blocker.args == [False] and validity == [False]
    errors = child(tab, "configErrors")
    messages = [errors.item(i).text() for i in range(errors.count())]
    assert any("n_embd (100) must be divisible by n_head (3)" in m for m in messages)
    assert messages == [str(p) for p in tab.problems()] and not tab.is_valid()
    assert {"n_embd", "n_head"} <= tab.invalid_fields() and "n_layer" not in tab.invalid_fields()
    assert tab.estimates.texts()["iter_time"] == "—"
    with qtbot.waitSignal(tab.sig_validity_changed, timeout=3000) as blocker:
        widget(tab, "n_head").setValue(4)
    assert blocker.args == [True] and errors.count() == 0 and not tab.invalid_fields()


def test_every_problem_is_listed(tab):
    tab.set_config(TrainConfig(dataset="tiny", block_size=8000, learning_rate=1e-4, min_lr=1e-3, n_embd=100, n_head=3))
    errors = child(tab, "configErrors")
    messages = [errors.item(i).text() for i in range(errors.count())]
    assert len(messages) == 4, messages  # divisibility, min_lr, block_size vs train and vs val
    assert any("min_lr" in m for m in messages) and sum("block_size (8000)" in m for m in messages) == 2
    assert {"min_lr", "learning_rate", "block_size"} <= tab.invalid_fields()
    tab.set_config(TrainConfig(dataset="missing-one"))
    assert any("'missing-one' is not in this workspace" in str(p) for p in tab.problems())
    assert "missing-one" in widget(tab, "dataset").currentText() and "dataset" in tab.invalid_fields()


def test_a_damaged_dataset_says_why(tab, home):
    broken = make_dataset(home, "broken")
    (broken / "val.bin").unlink()
    tab.refresh_datasets()
    tab.set_dataset("broken")
    assert any("damaged" in str(p) and "val.bin is missing" in str(p) for p in tab.problems())
    assert "dataset" in tab.invalid_fields()
    tab.set_dataset("tiny")
    assert not any("damaged" in str(p) for p in tab.problems())


def test_a_new_dataset_is_offered_and_its_numbers_used(tab, home):
    make_dataset(home, "bigger", vocab=60, train_tokens=50_000)
    tab.set_dataset("bigger")  # not known yet: the tab reads the workspace again
    assert tab.config().dataset == "bigger" and tab.dataset_meta()["vocab_size"] == 60
    assert "vocabulary 60" in child(tab, "paramDetailLabel").text()


def test_save_then_open_round_trips(tab, tmp_path, monkeypatch):
    cfg = TrainConfig(dataset="tiny", n_layer=3, n_head=4, n_embd=64, learning_rate=6e-5, min_lr=6e-6)
    cfg.decay_lr, cfg.device, cfg.run_name, cfg.init_from = False, "cpu", "my-run", "gpt2"
    tab.set_config(cfg)
    saved = tab.config()
    asked = []

    def save_dialog(parent, caption, suggestion, filters):
        asked.append(suggestion)
        return str(tmp_path / "cfg.toml"), ""

    monkeypatch.setattr(QFileDialog, "getSaveFileName", save_dialog)
    child(tab, "saveConfigButton").click()
    assert asked[0].endswith("my-run.json") and (tmp_path / "cfg.toml").exists()
    assert tab.problems_panel.file_status() == "Saved cfg.toml."
    child(tab, "resetDefaultsButton").click()
    assert tab.config() != saved and tab.config().dataset == "tiny"
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(tmp_path / "cfg.toml"), ""))
    child(tab, "openConfigButton").click()
    assert tab.config() == saved and tab.problems_panel.file_status() == "Loaded cfg.toml."
    assert tab.save_config_file(tmp_path / "plain").name == "plain.json"


def test_a_bad_config_file_shows_a_dialog_and_changes_nothing(tab, tmp_path, monkeypatch):
    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a: shown.append(a[1:]))
    bad = tmp_path / "bad.json"
    bad.write_text('{"n_layr": 4}')
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(bad), ""))
    before = tab.config()
    child(tab, "openConfigButton").click()
    assert shown and "Unknown setting 'n_layr'. Did you mean 'n_layer'?" in shown[0][1]
    assert tab.config() == before


NANOGPT_CONFIG = '''"""nanoGPT config/train_shakespeare_char.py"""
out_dir = 'out-shakespeare-char'
eval_interval = 250 # keep frequent because we'll overfit
eval_iters = 200
log_interval = 10
always_save_checkpoint = False
wandb_log = False
wandb_project = 'shakespeare-char'
wandb_run_name = 'mini-gpt'
dataset = 'tiny'
gradient_accumulation_steps = 1
batch_size = 64
block_size = 256
n_layer = 6
n_head = 6
n_embd = 384
dropout = 0.2
learning_rate = 1e-3
max_iters = 5000
lr_decay_iters = 5000
min_lr = 1e-4
beta2 = 0.99
warmup_iters = 100
init_from = 'scratch'
vocab = 'char'
'''


def test_import_a_nanogpt_config(tab, tmp_path, monkeypatch):
    path = tmp_path / "train_shakespeare_char.py"
    path.write_text(NANOGPT_CONFIG)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(path), ""))
    child(tab, "importNanoGPTButton").click()
    cfg = tab.config()
    assert (cfg.n_layer, cfg.n_embd, cfg.block_size, cfg.batch_size, cfg.dropout) == (6, 384, 256, 64, 0.2)
    assert cfg.run_name == "out-shakespeare-char" and cfg.dataset == "tiny" and cfg.wandb_project == "shakespeare-char"
    assert widget(tab, "learning_rate").text() == "1e-3" and widget(tab, "min_lr").text() == "1e-4"
    assert "Skipped settings GPT Studio does not have: vocab." in tab.problems_panel.file_status()


def test_a_nanogpt_config_with_code_is_refused(tab, tmp_path, monkeypatch):
    path = tmp_path / "finetune.py"
    path.write_text("import os\nn_layer = 2\nos.system('echo pwned')\n")
    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a: shown.append(a[1:]))
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(path), ""))
    before = tab.config()
    child(tab, "importNanoGPTButton").click()
    assert shown and shown[0][0] == "Cannot import the nanoGPT config"
    assert "line 1" in shown[0][1] and "not run" in shown[0][1]
    assert tab.config() == before


def test_a_saved_preset_comes_back_and_built_in_names_are_refused(tab, qtbot, monkeypatch):
    from PySide6.QtWidgets import QInputDialog

    tab.set_config(TrainConfig(dataset="tiny", n_layer=3, n_head=4, n_embd=64))
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("my three layers", True))
    child(tab, "savePresetButton").click()
    assert child(tab, "presetCombo").currentData() == ("user", "my three layers")
    tab.reset_to_defaults()
    assert child(tab, "presetCombo").currentIndex() == 0 and not child(tab, "deletePresetButton").isEnabled()
    other = ConfigTab(tab.workspace, tab.settings)  # the preset is there for the next launch too
    qtbot.addWidget(other)
    other.apply_preset("my three layers")
    assert (other.config().n_layer, other.config().n_embd, other.config().dataset) == (3, 64, "tiny")
    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a: shown.append(a[1:]))
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("GPT-2 small 124M", True))
    child(tab, "savePresetButton").click()
    assert shown and "built-in" in shown[0][1]


def test_the_last_config_is_restored(tab, qtbot, home):
    tab.set_config(TrainConfig(dataset="tiny", n_layer=5, learning_rate=2e-4, device="cpu"))
    widget(tab, "n_embd").setValue(256)
    settle(qtbot, tab)
    again = ConfigTab(Workspace.open(home), AppSettings())
    qtbot.addWidget(again)
    cfg = again.config()
    assert (cfg.dataset, cfg.n_layer, cfg.n_embd, cfg.learning_rate, cfg.device) == ("tiny", 5, 256, 2e-4, "cpu")


def test_another_workspace_gets_the_model_settings_but_not_the_dataset(tab, qtbot, tmp_path):
    tab.set_config(TrainConfig(dataset="tiny", run_name="mine", n_layer=5))
    other_home = tmp_path / "other"
    other = ConfigTab(Workspace.open(other_home), tab.settings)
    qtbot.addWidget(other)
    assert other.config().n_layer == 5 and other.config().dataset == "" and other.config().run_name == ""
    assert not any(p.code == "dataset" for p in other.problems())  # nothing complains about A's dataset
    other.set_config(TrainConfig(n_layer=2))
    back = ConfigTab(tab.workspace, tab.settings)
    qtbot.addWidget(back)
    assert (back.config().dataset, back.config().run_name, back.config().n_layer) == ("tiny", "mine", 5)


def test_screenshot(tab, qtbot, tmp_path):
    tab.set_dataset("tiny")
    tab.apply_preset("Shakespeare char (nanoGPT baby GPT)")
    widget(tab, "n_head").setValue(5)
    tab.refresh_now()
    tab.show()
    qtbot.waitExposed(tab)
    qtbot.wait(200)  # let the layout settle
    path = tmp_path / "config_tab.png"
    assert tab.grab().save(str(path))
    assert path.stat().st_size > 10_000


@pytest.mark.parametrize("closing", ["window", "tab"])
def test_closing_stops_the_measurement(qtbot, home, settings, closing):
    from gptstudio.core import estimates as est
    from gptstudio.gui import create_main_window

    make_dataset(home)
    settings.set("config.measure_speed", True)
    est._cache.clear()
    window = create_main_window(home)
    qtbot.addWidget(window)
    tab = window.tab("Config")
    tab.set_config(TrainConfig(dataset="tiny", n_layer=1, n_head=2, n_embd=16, block_size=16, device="cpu"))
    qtbot.waitUntil(tab.estimates.is_measuring, timeout=10_000)
    (window if closing == "window" else tab).close()
    assert not tab.estimates.is_measuring()
