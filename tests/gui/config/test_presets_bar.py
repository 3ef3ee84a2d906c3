"""The presets bar: built-in recipes, the person's own saved and deleted, the name dropped once edited away."""

import pytest
from PySide6.QtWidgets import QInputDialog, QMessageBox

from gptstudio.core import presets
from gptstudio.core.config import TrainConfig
from gptstudio.gui.config.presets_bar import CHOOSE, PresetsBar

from .helpers import child


@pytest.fixture
def bar(qtbot):
    b = PresetsBar()
    qtbot.addWidget(b)
    b.show()
    return b


def test_built_in_presets_are_offered_and_chosen_by_signal(qtbot, bar):
    combo = child(bar, "presetCombo")
    assert combo.currentText() == CHOOSE and bar.chosen() is None
    assert bar.names() == list(presets.BUILTIN_PRESETS)
    for name in ("Tiny (CPU, minutes)", "Shakespeare char (nanoGPT baby GPT)", "GPT-2 small 124M"):
        assert combo.findText(name) > 0
    index = combo.findText("Fine-tune GPT-2 on my text")
    with qtbot.waitSignal(bar.sig_preset_chosen) as chosen:
        combo.setCurrentIndex(index)
        combo.activated.emit(index)  # what choosing it with the mouse emits
    assert chosen.args == ["Fine-tune GPT-2 on my text"]
    assert not child(bar, "deletePresetButton").isEnabled()  # built-in: not deletable


def test_follow_drops_the_name_once_the_settings_differ(bar):
    name = "Tiny (CPU, minutes)"
    cfg = presets.apply_preset(presets.BUILTIN_PRESETS[name], TrainConfig(dataset="mine"))
    bar.select(name)
    bar.follow(cfg)  # the dataset is personal: still the preset
    assert bar.chosen() == name
    cfg.max_iters += 1
    bar.follow(cfg)
    assert bar.chosen() is None


def test_save_asks_a_name_and_delete_asks_first(qtbot, bar, monkeypatch):
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("  my three layers ", True))
    with qtbot.waitSignal(bar.sig_save_requested) as requested:
        child(bar, "savePresetButton").click()
    assert requested.args == ["my three layers"]
    presets.save_user_preset("my three layers", TrainConfig(n_layer=3))  # what the tab does with it
    bar.reload(select="my three layers")
    assert "my three layers" in bar.names() and child(bar, "presetCombo").currentText() == "my three layers  (yours)"
    assert child(bar, "deletePresetButton").isEnabled()

    answers = [QMessageBox.StandardButton.No, QMessageBox.StandardButton.No, QMessageBox.StandardButton.Yes]
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: answers.pop(0))
    with qtbot.assertNotEmitted(bar.sig_save_requested):
        child(bar, "savePresetButton").click()  # the name exists: "Replace?" No
    child(bar, "deletePresetButton").click()  # "Delete?" No
    assert "my three layers" in bar.names()
    child(bar, "deletePresetButton").click()  # "Delete?" Yes
    assert "my three layers" not in bar.names() and presets.user_presets() == {}
    assert bar.chosen() is None


def test_a_cancelled_or_empty_name_saves_nothing(qtbot, bar, monkeypatch):
    for answer in (("mine", False), ("   ", True)):
        monkeypatch.setattr(QInputDialog, "getText", lambda *a, answer=answer, **k: answer)
        with qtbot.assertNotEmitted(bar.sig_save_requested):
            child(bar, "savePresetButton").click()
