import json
from dataclasses import field, fields, make_dataclass

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QLineEdit, QSpinBox

from gptstudio.core import config as config_module
from gptstudio.core import estimates as est
from gptstudio.core import presets as presets_module
from gptstudio.core.config import FIELDS, TrainConfig, setting
from gptstudio.core.devices import available_devices
from gptstudio.core.model import GPT, GPTConfig
from gptstudio.core.units import format_count
from gptstudio.core.workspace import Workspace
from gptstudio.gui import config_tab as config_tab_module
from gptstudio.gui.config_tab import ConfigTab
from gptstudio.gui.config_widgets import SciSpinBox, format_float
from gptstudio.gui.settings import AppSettings


def make_dataset(home, name="tiny", vocab=40, train_tokens=5000, val_tokens=600, tokenizer="char"):
    """A prepared dataset folder as ARCHITECTURE.md describes it."""
    folder = home / "datasets" / name
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    rng.integers(0, vocab, train_tokens, dtype=np.uint16).tofile(folder / "train.bin")
    rng.integers(0, vocab, val_tokens, dtype=np.uint16).tofile(folder / "val.bin")
    meta = {
        "format": 1,
        "tokenizer": tokenizer,
        "vocab_size": vocab,
        "dtype": "uint16",
        "train_tokens": train_tokens,
        "val_tokens": val_tokens,
    }
    if tokenizer == "char":
        meta["chars"] = [chr(65 + i) for i in range(vocab)]
    (folder / "meta.json").write_text(json.dumps(meta))
    return folder


@pytest.fixture
def settings():
    s = AppSettings()
    s.set(config_tab_module.MEASURE_KEY, False)  # the speed benchmark only where a test asks for it
    return s


@pytest.fixture
def tab(qtbot, home, settings):
    make_dataset(home)
    t = ConfigTab(Workspace.open(home), settings)
    qtbot.addWidget(t)
    t.resize(1280, 800)
    return t


def widget(tab, name):
    return tab.findChild(object, f"cfg_{name}")


def settle(qtbot, tab):
    """Let the debounced validation run."""
    qtbot.waitUntil(lambda: not tab._refresh_timer.isActive(), timeout=3000)


def test_every_field_has_a_widget_with_its_object_name(tab):
    for name in FIELDS:
        assert widget(tab, name) is not None, name
    assert isinstance(widget(tab, "n_layer"), QSpinBox)
    assert isinstance(widget(tab, "learning_rate"), SciSpinBox)
    assert isinstance(widget(tab, "bias"), QCheckBox)
    assert isinstance(widget(tab, "wandb_project"), QLineEdit)
    for name in ("dataset", "device", "dtype", "init_from", "backend"):
        assert isinstance(widget(tab, name), QComboBox), name
    assert widget(tab, "init_from").isEditable()
    assert "Attention heads per block" in widget(tab, "n_head").toolTip()
    for name in (
        "presetCombo",
        "savePresetButton",
        "deletePresetButton",
        "configErrors",
        "paramCountLabel",
        "estimatesView",
        "lrSchedulePlot",
    ):
        assert tab.findChild(object, name) is not None, name


def test_a_new_dataclass_field_gets_a_widget_without_gui_code(qtbot, home, settings, monkeypatch):
    extra = [
        ("label_smoothing", float, setting(0.0, "Label smoothing of the loss.", "Optimizer", min=0.0, max=0.5)),
        ("use_flash", bool, setting(True, "Use flash attention.", "Model")),
    ]
    Extended = make_dataclass(
        "Extended",
        [
            (f.name, f.type, field(default=f.default, default_factory=f.default_factory, metadata=f.metadata))
            for f in fields(TrainConfig)
        ]
        + extra,
        bases=(TrainConfig,),
    )
    extended_fields = {f.name: f for f in fields(Extended)}
    for module in (config_module, config_tab_module, presets_module):
        monkeypatch.setattr(module, "FIELDS", extended_fields, raising=False)
        monkeypatch.setattr(module, "TrainConfig", Extended)
    t = ConfigTab(Workspace.open(home), settings)
    qtbot.addWidget(t)
    assert isinstance(widget(t, "label_smoothing"), SciSpinBox)
    assert isinstance(widget(t, "use_flash"), QCheckBox)
    assert widget(t, "label_smoothing").parentWidget().title() == "Optimizer"
    assert "Label smoothing of the loss." in widget(t, "label_smoothing").toolTip()
    widget(t, "label_smoothing").setValue(0.1)
    widget(t, "use_flash").setChecked(False)
    cfg = t.config()
    assert cfg.label_smoothing == 0.1 and cfg.use_flash is False
    widget(t, "label_smoothing").lineEdit().setText("0.7")  # above max 0.5: not accepted
    assert t.config().label_smoothing == 0.1


def test_device_and_dtype_lists_follow_this_machine(tab, qtbot):
    device = widget(tab, "device")
    ids = [device.itemData(i) for i in range(device.count())]
    assert ids == ["auto"] + [d.id for d in available_devices()]
    assert all(d.label in device.itemText(i + 1) for i, d in enumerate(available_devices()))
    cpu = next(d for d in available_devices() if d.id == "cpu")
    device.setCurrentIndex(ids.index("cpu"))
    dtype = widget(tab, "dtype")
    assert [dtype.itemData(i) for i in range(dtype.count())] == ["auto", *cpu.dtypes]
    assert tab.config().device == "cpu"


def test_dtype_the_device_lacks_is_flagged_when_loaded(tab, qtbot):
    cpu = next(d for d in available_devices() if d.id == "cpu")
    if "float16" in cpu.dtypes:
        pytest.skip("this CPU trains in float16")
    tab.set_config(TrainConfig(dataset="tiny", device="cpu", dtype="float16"))
    assert tab.config().dtype == "float16"
    assert any("dtype float16 is not supported" in str(p) for p in tab.problems())
    assert "dtype" in tab.invalid_fields()
    # choosing another device drops the impossible dtype rather than keeping it
    device = widget(tab, "device")
    device.setCurrentIndex(0)
    qtbot.waitUntil(lambda: tab.config().dtype == "auto", timeout=2000)


def test_preset_fills_the_form(tab, qtbot):
    tab.set_dataset("tiny")
    combo = tab.presetCombo
    index = combo.findText("Shakespeare char (nanoGPT baby GPT)")
    assert index > 0 and combo.findText("Tiny (CPU, minutes)") > 0
    assert combo.findText("GPT-2 small 124M") > 0 and combo.findText("Fine-tune GPT-2 on my text") > 0
    combo.setCurrentIndex(index)
    combo.activated.emit(index)
    assert widget(tab, "n_layer").value() == 6 and widget(tab, "n_embd").value() == 384
    assert widget(tab, "block_size").value() == 256 and widget(tab, "dropout").value() == 0.2
    assert widget(tab, "beta2").value() == 0.99
    assert tab.config().dataset == "tiny"  # the dataset survives the preset
    tab.apply_preset("Fine-tune GPT-2 on my text")
    assert widget(tab, "learning_rate").text() == "3e-5"
    assert widget(tab, "init_from").currentData() == "gpt2" and not widget(tab, "decay_lr").isChecked()
    assert tab.presetCombo.currentText() == "Fine-tune GPT-2 on my text"
    # editing away from the preset stops showing its name
    widget(tab, "max_iters").setValue(21)
    settle(qtbot, tab)
    assert tab.presetCombo.currentIndex() == 0


def test_invalid_combination_is_shown_and_signalled(tab, qtbot):
    tab.apply_preset("Tiny (CPU, minutes)")
    tab.set_dataset("tiny")
    tab._refresh_now()
    assert tab.is_valid(), tab.problems()
    validity = []
    tab.sig_validity_changed.connect(validity.append)
    with qtbot.waitSignal(tab.sig_validity_changed, timeout=3000) as blocker:
        widget(tab, "n_embd").setValue(100)
        widget(tab, "n_head").setValue(3)
    assert blocker.args == [False] and validity == [False]
    messages = [tab.configErrors.item(i).text() for i in range(tab.configErrors.count())]
    assert any("n_embd (100) must be divisible by n_head (3)" in m for m in messages)
    assert messages == [str(p) for p in tab.problems()] and not tab.is_valid()
    assert {"n_embd", "n_head"} <= tab.invalid_fields()
    assert widget(tab, "n_embd").property("invalid") is True
    assert widget(tab, "n_layer").property("invalid") is not True
    with qtbot.waitSignal(tab.sig_validity_changed, timeout=3000) as blocker:
        widget(tab, "n_head").setValue(4)
    assert blocker.args == [True] and tab.configErrors.count() == 0 and not tab.invalid_fields()


def test_every_problem_is_listed(tab, qtbot):
    tab.set_config(TrainConfig(dataset="tiny", block_size=8000, learning_rate=1e-4, min_lr=1e-3, n_embd=100, n_head=3))
    messages = [tab.configErrors.item(i).text() for i in range(tab.configErrors.count())]
    assert len(messages) == 4, messages  # divisibility, min_lr, block_size vs train and vs val
    assert any("min_lr" in m for m in messages) and sum("block_size (8000)" in m for m in messages) == 2
    assert {"min_lr", "learning_rate", "block_size"} <= tab.invalid_fields()
    tab.set_config(TrainConfig(dataset="missing-one"))
    assert any("'missing-one' is not in this workspace" in str(p) for p in tab.problems())
    assert "missing-one" in widget(tab, "dataset").currentText() and "dataset" in tab.invalid_fields()


def test_damaged_dataset_says_why(tab, home):
    broken = make_dataset(home, "broken")
    (broken / "val.bin").unlink()
    tab.refresh_datasets()
    tab.set_dataset("broken")
    assert any("damaged" in str(p) and "val.bin is missing" in str(p) for p in tab.problems())
    assert "dataset" in tab.invalid_fields()
    tab.set_dataset("tiny")
    assert not any("damaged" in str(p) for p in tab.problems())


@pytest.mark.parametrize("shape", [(2, 2, 32, 16, False), (3, 4, 64, 64, True), (6, 6, 384, 256, False)])
def test_param_count_matches_the_real_model(tab, shape):
    n_layer, n_head, n_embd, block, bias = shape
    tab.set_config(
        TrainConfig(dataset="tiny", n_layer=n_layer, n_head=n_head, n_embd=n_embd, block_size=block, bias=bias)
    )
    model = GPT(GPTConfig(n_layer=n_layer, n_head=n_head, n_embd=n_embd, block_size=block, bias=bias, vocab_size=40))
    assert tab.paramCountLabel.property("params_total") == sum(p.numel() for p in model.parameters())
    assert tab.paramCountLabel.property("params_non_embedding") == model.get_num_params()
    assert tab.paramCountLabel.text() == f"{format_count(model.get_num_params())} parameters"


def test_estimates_follow_the_fields(tab, qtbot):
    tab.set_config(
        TrainConfig(
            dataset="tiny",
            n_layer=2,
            n_head=2,
            n_embd=32,
            block_size=16,
            batch_size=10,
            gradient_accumulation_steps=2,
            max_iters=50,
            warmup_iters=10,
            lr_decay_iters=50,
        )
    )
    texts = tab.estimate_texts()
    assert texts["tokens"] == "320"
    assert texts["epochs"] == "3.20"  # 50 x 320 / 5000 train tokens
    assert texts["memory"].startswith("≈ ") and texts["fits"]
    assert texts["iter_time"] == "not measured"  # the benchmark is off in this test
    x, y = tab.lr_curve()
    assert x[0] == 0 and x[-1] == 50 and max(y) == pytest.approx(1e-3, rel=0.05)
    widget(tab, "decay_lr").setChecked(False)
    settle(qtbot, tab)
    assert set(tab.lr_curve()[1]) == {1e-3}
    widget(tab, "batch_size").setValue(20)
    settle(qtbot, tab)
    assert tab.estimate_texts()["tokens"] == "640"


def test_speed_is_measured_in_the_background(qtbot, home, settings):
    make_dataset(home)
    settings.set(config_tab_module.MEASURE_KEY, True)
    est._cache.clear()
    t = ConfigTab(Workspace.open(home), settings)
    qtbot.addWidget(t)
    t.set_config(
        TrainConfig(
            dataset="tiny",
            n_layer=1,
            n_head=2,
            n_embd=16,
            block_size=16,
            batch_size=4,
            device="cpu",
            max_iters=40,
            eval_interval=20,
            eval_iters=2,
        )
    )
    assert t.estimate_texts()["iter_time"] == "measuring…"
    qtbot.waitUntil(lambda: t.estimate_texts()["iter_time"] not in ("measuring…", ""), timeout=30_000)
    qtbot.waitUntil(lambda: not t.is_measuring(), timeout=30_000)
    assert t.estimate_texts()["iter_time"].endswith(("ms", "s", "µs")), t.estimate_texts()
    assert t.estimate_texts()["run_time"].startswith("≈ ")
    # a longer run of the same shape is answered from the cache at once
    widget(t, "max_iters").setValue(400)
    t._refresh_now()
    assert t.estimate_texts()["iter_time"] != "measuring…" and not t.is_measuring()
    t.shutdown()


def test_learning_rate_shows_and_edits_scientific(tab, qtbot):
    lr = widget(tab, "learning_rate")
    lr.setValue(6e-5)
    assert lr.text() == "6e-5" and tab.config().learning_rate == 6e-5
    lr.lineEdit().selectAll()
    qtbot.keyClicks(lr.lineEdit(), "2.5e-4")
    assert tab.config().learning_rate == 2.5e-4
    qtbot.keyClick(lr.lineEdit(), Qt.Key.Key_Up)
    assert tab.config().learning_rate == 5e-4
    assert format_float(1e-3) == "1e-3" and format_float(0.95) == "0.95" and format_float(1.0) == "1.0"


@pytest.mark.parametrize("suffix", [".json", ".toml"])
def test_save_then_open_round_trips(tab, tmp_path, suffix):
    tab.set_config(
        TrainConfig(
            dataset="tiny",
            n_layer=3,
            n_head=4,
            n_embd=64,
            learning_rate=6e-5,
            min_lr=6e-6,
            decay_lr=False,
            device="cpu",
            run_name="my-run",
            init_from="gpt2",
        )
    )
    saved = tab.config()
    path = tab.save_config_file(tmp_path / f"cfg{suffix}")
    assert path.suffix == suffix and path.exists()
    tab.reset_to_defaults()
    assert tab.config() != saved
    tab.open_config_file(path)
    assert tab.config() == saved


def test_bad_config_file_shows_a_dialog(tab, tmp_path, monkeypatch):
    shown = []
    monkeypatch.setattr(config_tab_module.QMessageBox, "warning", lambda *a: shown.append(a[1:]))
    bad = tmp_path / "bad.json"
    bad.write_text('{"n_layr": 4}')
    monkeypatch.setattr(config_tab_module.QFileDialog, "getOpenFileName", lambda *a, **k: (str(bad), ""))
    before = tab.config()
    tab.findChild(object, "openConfigButton").click()
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


def test_import_nanogpt_config(tab, tmp_path, monkeypatch):
    path = tmp_path / "train_shakespeare_char.py"
    path.write_text(NANOGPT_CONFIG)
    monkeypatch.setattr(config_tab_module.QFileDialog, "getOpenFileName", lambda *a, **k: (str(path), ""))
    tab.findChild(object, "importNanoGPTButton").click()
    cfg = tab.config()
    assert (cfg.n_layer, cfg.n_embd, cfg.block_size, cfg.batch_size, cfg.dropout) == (6, 384, 256, 64, 0.2)
    assert cfg.run_name == "out-shakespeare-char" and cfg.dataset == "tiny" and cfg.wandb_project == "shakespeare-char"
    assert widget(tab, "learning_rate").text() == "1e-3" and widget(tab, "min_lr").text() == "1e-4"
    assert "vocab" in tab.fileStatusLabel.text()


def test_nanogpt_config_with_code_is_refused(tab, tmp_path, monkeypatch):
    path = tmp_path / "finetune.py"
    path.write_text("import os\nn_layer = 2\nos.system('echo pwned')\n")
    shown = []
    monkeypatch.setattr(config_tab_module.QMessageBox, "warning", lambda *a: shown.append(a[1:]))
    monkeypatch.setattr(config_tab_module.QFileDialog, "getOpenFileName", lambda *a, **k: (str(path), ""))
    before = tab.config()
    tab.findChild(object, "importNanoGPTButton").click()
    assert shown and shown[0][0] == "Cannot import the nanoGPT config"
    assert "line 1" in shown[0][1] and "not run" in shown[0][1]
    assert tab.config() == before


def test_user_presets_save_and_delete(tab, qtbot, monkeypatch):
    tab.set_config(TrainConfig(dataset="tiny", n_layer=3, n_head=4, n_embd=64))
    monkeypatch.setattr(config_tab_module.QInputDialog, "getText", lambda *a, **k: ("my three layers", True))
    tab.savePresetButton.click()
    assert "my three layers" in tab.preset_names()
    assert tab.presetCombo.currentData() == ("user", "my three layers")
    assert tab.deletePresetButton.isEnabled()
    tab.reset_to_defaults()
    assert not tab.deletePresetButton.isEnabled()
    tab.apply_preset("my three layers")
    assert (tab.config().n_layer, tab.config().n_embd) == (3, 64)
    # the preset is there for the next launch too
    other = ConfigTab(tab.workspace, tab.settings)
    qtbot.addWidget(other)
    assert "my three layers" in other.preset_names()
    monkeypatch.setattr(
        config_tab_module.QMessageBox, "question", lambda *a, **k: config_tab_module.QMessageBox.StandardButton.Yes
    )
    tab.deletePresetButton.click()
    assert "my three layers" not in tab.preset_names()
    shown = []
    monkeypatch.setattr(config_tab_module.QMessageBox, "warning", lambda *a: shown.append(a[1:]))
    monkeypatch.setattr(config_tab_module.QInputDialog, "getText", lambda *a, **k: ("GPT-2 small 124M", True))
    tab.savePresetButton.click()
    assert shown and "built-in" in shown[0][1]


def test_last_config_is_restored(tab, qtbot, home):
    tab.set_config(TrainConfig(dataset="tiny", n_layer=5, learning_rate=2e-4, device="cpu"))
    widget(tab, "n_embd").setValue(256)
    settle(qtbot, tab)
    again = ConfigTab(Workspace.open(home), AppSettings())
    qtbot.addWidget(again)
    cfg = again.config()
    assert (cfg.dataset, cfg.n_layer, cfg.n_embd, cfg.learning_rate, cfg.device) == ("tiny", 5, 256, 2e-4, "cpu")


def test_damaged_stored_config_is_ignored_gracefully(qtbot, home, settings):
    settings.set(
        config_tab_module.LAST_CONFIG_KEY,
        {"n_layer": "many", "n_embd": 64, "n_head": 4, "nonsense": 1, "dropout": None},
    )
    t = ConfigTab(Workspace.open(home), settings)
    qtbot.addWidget(t)
    cfg = t.config()
    assert cfg.n_layer == TrainConfig().n_layer and cfg.n_embd == 64 and cfg.dropout == TrainConfig().dropout


def test_advanced_fields_toggle(tab):
    tab.showAdvancedCheck.setChecked(False)
    assert widget(tab, "beta1").isHidden() and not widget(tab, "n_layer").isHidden()
    tab.showAdvancedCheck.setChecked(True)
    assert not widget(tab, "beta1").isHidden()
    assert tab.settings.get(config_tab_module.SHOW_ADVANCED_KEY) is True


def test_screenshot(tab, qtbot, tmp_path):
    tab.set_dataset("tiny")
    tab.apply_preset("Shakespeare char (nanoGPT baby GPT)")
    widget(tab, "n_head").setValue(5)
    tab._refresh_now()
    tab.show()
    qtbot.waitExposed(tab)
    qtbot.wait(200)  # let the layout settle
    path = tmp_path / "config_tab.png"
    assert tab.grab().save(str(path))
    assert path.stat().st_size > 10_000


def test_inside_the_main_window(qtbot, home):
    pytest.importorskip("gptstudio.gui.main_window")
    from gptstudio.gui import create_main_window

    make_dataset(home, "tiny")
    AppSettings().set(config_tab_module.MEASURE_KEY, False)
    window = create_main_window(home)
    qtbot.addWidget(window)
    tab = window.tab("Config")
    assert isinstance(tab, ConfigTab)
    tab.set_dataset("tiny")
    assert tab.config().dataset == "tiny"
    window.close()
