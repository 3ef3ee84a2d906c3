"""The settings form: a widget per TrainConfig field from its metadata, problems marked from Problem.fields."""

from dataclasses import field, fields, make_dataclass

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QLineEdit, QSpinBox

from gptstudio.core import config as config_module
from gptstudio.core import presets as presets_module
from gptstudio.core.config import FIELDS, TrainConfig, setting
from gptstudio.core.devices import available_devices
from gptstudio.core.errors import Problem
from gptstudio.gui import config_tab as config_tab_module
from gptstudio.gui.config import settings_form as settings_form_module
from gptstudio.gui.config.bindings import SciSpinBox, format_float
from gptstudio.gui.config.settings_form import SHOW_ADVANCED_KEY, SettingsForm

from .helpers import widget


@pytest.fixture
def form(qtbot, settings):
    f = SettingsForm(settings)
    qtbot.addWidget(f)
    f.resize(900, 800)
    f.show()
    return f


def test_every_field_has_a_widget_with_its_object_name(form):
    for name in FIELDS:
        assert form.field_widget(name) is widget(form, name), name
    assert isinstance(widget(form, "n_layer"), QSpinBox)
    assert isinstance(widget(form, "learning_rate"), SciSpinBox)
    assert isinstance(widget(form, "bias"), QCheckBox)
    assert isinstance(widget(form, "wandb_project"), QLineEdit)
    for name in ("dataset", "device", "dtype", "init_from", "backend"):
        assert isinstance(widget(form, name), QComboBox), name
    assert widget(form, "init_from").isEditable()
    assert "Attention heads per block" in widget(form, "n_head").toolTip()
    assert form.config() == TrainConfig()


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
    for module in (config_module, settings_form_module, config_tab_module, presets_module):
        monkeypatch.setattr(module, "FIELDS", extended_fields, raising=False)
        monkeypatch.setattr(module, "TrainConfig", Extended)
    form = SettingsForm(settings)
    qtbot.addWidget(form)
    assert isinstance(widget(form, "label_smoothing"), SciSpinBox)
    assert isinstance(widget(form, "use_flash"), QCheckBox)
    assert widget(form, "label_smoothing").parentWidget().title() == "Optimizer"
    assert "Label smoothing of the loss." in widget(form, "label_smoothing").toolTip()
    widget(form, "label_smoothing").setValue(0.1)
    widget(form, "use_flash").setChecked(False)
    cfg = form.config()
    assert cfg.label_smoothing == 0.1 and cfg.use_flash is False
    widget(form, "label_smoothing").lineEdit().setText("0.7")  # above max 0.5: not accepted
    assert form.config().label_smoothing == 0.1


def test_edits_are_signalled_but_loading_is_not(qtbot, form):
    with qtbot.assertNotEmitted(form.sig_edited):
        form.set_config(TrainConfig(n_layer=3, learning_rate=6e-5))
    assert form.config().n_layer == 3 and form.config().learning_rate == 6e-5
    with qtbot.waitSignal(form.sig_edited):
        widget(form, "n_layer").setValue(5)


def test_device_and_dtype_lists_follow_this_machine(form):
    device = widget(form, "device")
    ids = [device.itemData(i) for i in range(device.count())]
    assert ids == ["auto"] + [d.id for d in available_devices()]
    assert all(d.label in device.itemText(i + 1) for i, d in enumerate(available_devices()))
    cpu = next(d for d in available_devices() if d.id == "cpu")
    device.setCurrentIndex(ids.index("cpu"))
    dtype = widget(form, "dtype")
    assert [dtype.itemData(i) for i in range(dtype.count())] == ["auto", *cpu.dtypes]
    assert form.config().device == "cpu"


def test_a_dtype_the_device_lacks_is_kept_when_loaded_and_dropped_when_the_device_changes(form):
    cpu = next(d for d in available_devices() if d.id == "cpu")
    if "float16" in cpu.dtypes:
        pytest.skip("this CPU trains in float16")
    form.set_config(TrainConfig(device="cpu", dtype="float16"))
    assert form.config().dtype == "float16"
    assert "not supported" in widget(form, "dtype").currentText()
    widget(form, "device").setCurrentIndex(0)  # another device: an impossible dtype is not kept
    assert form.config().dtype == "auto"


def test_unknown_values_are_kept_and_described(form):
    form.set_dataset_choices([("tiny — 5.60 k tokens, char (40)", "tiny")])
    form.set_config(TrainConfig(dataset="elsewhere", device="cuda:7"))
    assert form.config().dataset == "elsewhere" and "not in this workspace" in widget(form, "dataset").currentText()
    assert form.config().device == "cuda:7" and "not on this machine" in widget(form, "device").currentText()
    form.set_dataset_choices([("tiny — 5.60 k tokens, char (40)", "tiny")])
    assert form.config().dataset == "elsewhere"  # new choices keep the chosen one


def test_problems_mark_their_fields_and_only_theirs(form):
    clash = Problem("n_embd (100) must be divisible by n_head (3); try n_head=4.", ("n_embd", "n_head"), "divisible")
    form.mark_problems([clash, Problem("A problem about no field.")])
    assert form.invalid_fields() == {"n_embd", "n_head"}
    assert (
        widget(form, "n_embd").property("invalid") is True and widget(form, "n_layer").property("invalid") is not True
    )
    assert "must be divisible" in widget(form, "n_head").toolTip()
    label = form.findChild(object, "label_n_head")
    assert label.font().bold() and not form.findChild(object, "label_n_layer").font().bold()
    form.mark_problems([])
    assert form.invalid_fields() == set() and not label.font().bold()
    assert "must be divisible" not in widget(form, "n_head").toolTip()


def test_advanced_fields_toggle_and_show_while_invalid(form, settings):
    form.show_advanced_check.setChecked(False)
    assert widget(form, "beta1").isHidden() and not widget(form, "n_layer").isHidden()
    form.mark_problems([Problem("beta1 is odd.", ("beta1",))])
    assert not widget(form, "beta1").isHidden()  # a problem shows its row
    form.mark_problems([])
    assert widget(form, "beta1").isHidden()
    form.show_advanced_check.setChecked(True)
    assert not widget(form, "beta1").isHidden() and settings.get(SHOW_ADVANCED_KEY) is True


def test_learning_rate_shows_and_edits_scientific(qtbot, form):
    lr = widget(form, "learning_rate")
    lr.setValue(6e-5)
    assert lr.text() == "6e-5" and form.config().learning_rate == 6e-5
    lr.lineEdit().selectAll()
    qtbot.keyClicks(lr.lineEdit(), "2.5e-4")
    assert form.config().learning_rate == 2.5e-4
    qtbot.keyClick(lr.lineEdit(), Qt.Key.Key_Up)
    assert form.config().learning_rate == 5e-4
    assert format_float(1e-3) == "1e-3" and format_float(0.95) == "0.95" and format_float(1.0) == "1.0"
