"""The sampling form: the engine's defaults, values as a dict, bad saved values ignored, Defaults button."""

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

from gptstudio.core.sample_settings import MAX_TEMPERATURE
from gptstudio.gui.playground.sampling_panel import SamplingPanel
from gptstudio.gui.state.playground_session import sampling_defaults


def make(qtbot):
    panel = SamplingPanel()
    qtbot.addWidget(panel)
    return panel


def test_starts_at_the_engines_defaults(qtbot):
    panel = make(qtbot)
    assert panel.values() == sampling_defaults()
    assert panel.temperature.maximum() == MAX_TEMPERATURE
    assert panel.seed.specialValueText() == "random" and panel.top_k.specialValueText() == "off"


def test_values_round_trip_and_bad_ones_keep_the_default(qtbot):
    panel = make(qtbot)
    wanted = {**sampling_defaults(), "temperature": 0.3, "top_k": 0, "seed": 12, "stop_text": r"\n\n"}
    with qtbot.waitSignal(panel.changed):
        panel.set_values(wanted)
    assert panel.values() == wanted
    panel.set_values({"temperature": "hot", "max_new_tokens": True, "stop_text": 5, "seed": 4})
    values = panel.values()
    assert values["temperature"] == sampling_defaults()["temperature"]
    assert values["max_new_tokens"] == sampling_defaults()["max_new_tokens"]
    assert values["stop_text"] == "" and values["seed"] == 4
    panel.set_values(None)
    assert panel.values() == sampling_defaults()


def test_defaults_button_and_mode(qtbot):
    panel = make(qtbot)
    panel.temperature.setValue(1.7)
    qtbot.mouseClick(panel.findChild(QWidget, "resetSamplingButton"), Qt.LeftButton)
    assert panel.values() == sampling_defaults()
    panel.set_mode("chat")
    assert not panel.num_samples.isEnabled()
    panel.set_mode("complete")
    assert panel.num_samples.isEnabled()
