"""The sampling controls: one form whose values are a plain dict, remembered between sessions.

The defaults are the engine's (`SampleSettings`, nanoGPT's sample.py) with a random seed, read through
`session.sampling_defaults()`, never restated here.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QDoubleSpinBox, QFormLayout, QGroupBox, QLineEdit, QPushButton, QSpinBox

from gptstudio.core.sample_settings import MAX_NEW_TOKENS, MAX_TEMPERATURE
from gptstudio.gui.state.playground_session import RANDOM_SEED, sampling_defaults

MAX_TOKENS_FIELD = min(100_000, MAX_NEW_TOKENS)
MAX_SAMPLES_FIELD = 8  # side by side, more would not be readable
MAX_SEED_FIELD = 2**31 - 1  # a spin box holds a 32-bit int


def _spin(name, lo, hi, tip, step=1, special=None) -> QSpinBox:
    box = QSpinBox(objectName=name, minimum=lo, maximum=hi, singleStep=step, toolTip=tip)
    if special:
        box.setSpecialValueText(special)  # shown instead of the minimum
    return box


def _dspin(name, lo, hi, step, decimals, tip) -> QDoubleSpinBox:
    return QDoubleSpinBox(objectName=name, minimum=lo, maximum=hi, singleStep=step, decimals=decimals, toolTip=tip)


class SamplingPanel(QGroupBox):
    changed = Signal()

    def __init__(self, parent=None):
        super().__init__("Sampling", parent)
        self.setObjectName("samplingPanel")
        self.defaults = sampling_defaults()
        self.max_tokens = _spin("maxTokensSpin", 1, MAX_TOKENS_FIELD, "Longest reply, in tokens.", 50)
        self.temperature = _dspin(
            "temperatureSpin",
            0.0,
            MAX_TEMPERATURE,
            0.05,
            2,
            "Randomness: 0 always picks the most likely token (greedy); higher values give more surprising text.",
        )
        self.top_k = _spin(
            "topKSpin", 0, 1_000_000, "Only the k most likely tokens can be chosen (0 = off).", 10, "off"
        )
        self.top_p = _dspin(
            "topPSpin",
            0.01,
            1.0,
            0.05,
            2,
            "Nucleus sampling: only the most likely tokens whose probabilities add up to p can be chosen (1 = off).",
        )
        self.repetition_penalty = _dspin(
            "repetitionPenaltySpin", 0.1, 10.0, 0.05, 2, "Above 1 discourages tokens already in the text (1 = off)."
        )
        self.seed = _spin(
            "seedSpin",
            RANDOM_SEED,
            MAX_SEED_FIELD,
            "The same seed and settings give the same reply; 'random' draws a new seed "
            "each time (shown under the reply).",
            1,
            "random",
        )
        self.num_samples = _spin(
            "numSamplesSpin", 1, MAX_SAMPLES_FIELD, "Complete mode: this many continuations side by side."
        )
        self.stop_edit = QLineEdit(objectName="stopSequencesEdit")
        self.stop_edit.setPlaceholderText(r"e.g. \n\n, THE END")
        self.stop_edit.setToolTip(
            "The reply ends when it produces one of these texts. Separate them with "
            r"commas; write \n for a new line, \t for a tab, \, for a comma."
        )
        reset = QPushButton(
            "Defaults", objectName="resetSamplingButton", toolTip="Back to the engine's defaults (nanoGPT's sample.py)."
        )
        reset.clicked.connect(self.reset)

        form = QFormLayout(self)
        for label, widget in (
            ("Max tokens", self.max_tokens),
            ("Temperature", self.temperature),
            ("Top-k", self.top_k),
            ("Top-p", self.top_p),
            ("Repetition penalty", self.repetition_penalty),
            ("Seed", self.seed),
            ("Samples", self.num_samples),
            ("Stop at", self.stop_edit),
        ):
            form.addRow(label, widget)
        form.addRow("", reset)
        self.reset()
        for box in self._boxes().values():
            box.valueChanged.connect(self.changed)
        self.stop_edit.textChanged.connect(self.changed)

    def _boxes(self) -> dict:
        return {
            "max_new_tokens": self.max_tokens,
            "temperature": self.temperature,
            "top_k": self.top_k,
            "top_p": self.top_p,
            "repetition_penalty": self.repetition_penalty,
            "seed": self.seed,
            "num_samples": self.num_samples,
        }

    def values(self) -> dict:
        """The form as SampleSettings-like values: seed RANDOM_SEED for random, stop_text as typed."""
        out = {key: box.value() for key, box in self._boxes().items()}
        out["stop_text"] = self.stop_edit.text()
        return out

    def set_values(self, values: dict) -> None:
        """Apply saved values; anything missing or of the wrong type keeps its default."""
        values = values if isinstance(values, dict) else {}
        for key, box in self._boxes().items():
            value = values.get(key, self.defaults[key])
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                value = self.defaults[key]
            box.setValue(int(value) if isinstance(box, QSpinBox) else float(value))
        stop = values.get("stop_text", self.defaults["stop_text"])
        self.stop_edit.setText(stop if isinstance(stop, str) else "")

    def reset(self) -> None:
        """Back to the engine's defaults."""
        self.set_values(self.defaults)

    def set_mode(self, mode: str) -> None:
        """Several samples side by side only make sense when completing a text."""
        self.num_samples.setEnabled(mode == "complete")
