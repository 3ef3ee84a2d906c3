"""Form widgets generated from TrainConfig's field metadata, one binding per setting.

A binding wraps one widget and knows how to read and write the setting's value; `make_binding(name)`
picks the widget from the field's type and metadata (int -> spin box, float -> scientific spin box,
bool -> check box, choices -> combo box, other text -> line edit), so a new dataclass field gets a
widget without GUI code. The settings form adds the few fields that need the machine or the workspace
(dataset, device, dtype, init_from) by building a ComboBinding itself.
"""

from __future__ import annotations

import math
import re

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import QAbstractSpinBox, QCheckBox, QComboBox, QLineEdit, QSpinBox, QWidget

from gptstudio.core.config import field_default, field_meta, field_type

INT_LIMIT = 2**31 - 1  # QSpinBox holds a C int
_PARTIAL_FLOAT = re.compile(r"^[+-]?(\d+\.?\d*|\.\d*)?([eE][+-]?\d*)?$")


def format_float(v: float) -> str:
    """Short text for a float that reads back exactly: 1e-3, 6e-5, 2.5e-4, 0.2, 0.95, 1.0."""
    if v == 0 or 1e-2 <= abs(v) < 1e4:
        return repr(float(v))
    for digits in range(17):
        text = f"{v:.{digits}e}"
        if float(text) == v:
            break
    mantissa, exponent = text.split("e")
    return f"{mantissa}e{int(exponent)}"


def _nice_steps(v: float, up: bool) -> float:
    """The next 1-2-5 value above (or below) v: how log-scaled settings like learning rates step."""
    if v <= 0:
        return 1e-6 if up else 0.0
    exp = math.floor(math.log10(v))
    candidates = sorted(m * 10.0**e for e in (exp - 1, exp, exp + 1) for m in (1, 2, 5))
    candidates = [float(f"{c:.12g}") for c in candidates]
    if up:
        return next(c for c in candidates if c > v * (1 + 1e-9))
    return next(c for c in reversed(candidates) if c < v * (1 - 1e-9))


class SciSpinBox(QAbstractSpinBox):
    """A float spin box that shows and takes scientific notation (1e-3, 6e-5) and never rounds."""

    valueChanged = Signal(float)

    def __init__(self, minimum: float, maximum: float, step: float | None, log: bool, parent=None):
        super().__init__(parent)
        self._min, self._max = minimum, maximum
        self._step, self._log = step or 0.1, log
        self._value = minimum if minimum > -math.inf else 0.0
        self.setCorrectionMode(QAbstractSpinBox.CorrectionMode.CorrectToPreviousValue)
        self.lineEdit().textEdited.connect(self._on_text_edited)
        self.editingFinished.connect(self._show_value)
        self._show_value()

    def value(self) -> float:
        return self._value

    def setValue(self, v: float) -> None:
        v = min(max(float(v), self._min), self._max)
        changed = v != self._value
        self._value = v
        self._show_value()
        if changed:
            self.valueChanged.emit(v)

    def _show_value(self) -> None:
        self.lineEdit().setText(format_float(self._value))

    def _parse(self, text: str) -> float | None:
        try:
            v = float(text.strip())
        except ValueError:
            return None
        return v if math.isfinite(v) and self._min <= v <= self._max else None

    def _on_text_edited(self, text: str) -> None:
        v = self._parse(text)
        if v is not None and v != self._value:  # live as the user types, without reformatting the text
            self._value = v
            self.valueChanged.emit(v)

    def validate(self, text: str, pos: int):
        if self._parse(text) is not None:
            return QValidator.State.Acceptable
        if _PARTIAL_FLOAT.match(text.strip()):
            return QValidator.State.Intermediate
        return QValidator.State.Invalid

    def fixup(self, text: str) -> str:
        return format_float(self._value)

    def stepBy(self, steps: int) -> None:
        v = self._value
        for _ in range(abs(steps)):
            v = _nice_steps(v, steps > 0) if self._log else round(v + math.copysign(self._step, steps), 10)
        self.setValue(v)

    def stepEnabled(self):
        flags = QAbstractSpinBox.StepEnabledFlag.StepNone
        if self._value < self._max:
            flags |= QAbstractSpinBox.StepEnabledFlag.StepUpEnabled
        if self._value > self._min:
            flags |= QAbstractSpinBox.StepEnabledFlag.StepDownEnabled
        return flags


class Binding(QObject):
    """One setting's widget: get()/set() its value; `changed` fires on every edit."""

    changed = Signal()

    def __init__(self, name: str, widget: QWidget):
        super().__init__(widget)
        self.name, self.widget = name, widget
        widget.setObjectName(f"cfg_{name}")

    def get(self):
        raise NotImplementedError

    def set(self, value) -> None:
        raise NotImplementedError


class SpinBinding(Binding):
    def __init__(self, name: str, meta: dict):
        box = QSpinBox()
        box.setRange(
            int(meta.get("min") if meta.get("min") is not None else -INT_LIMIT),
            int(min(meta.get("max") if meta.get("max") is not None else INT_LIMIT, INT_LIMIT)),
        )
        if meta.get("step"):
            box.setSingleStep(int(meta["step"]))
        elif box.maximum() > 1000:
            box.setStepType(QSpinBox.StepType.AdaptiveDecimalStepType)  # 5000 -> 5100, 600000 -> 610000
        if meta.get("unit"):
            box.setSuffix(f" {meta['unit']}")
        box.setGroupSeparatorShown(True)
        box.setAccelerated(True)
        super().__init__(name, box)
        box.valueChanged.connect(self.changed)

    def get(self) -> int:
        return self.widget.value()

    def set(self, value) -> None:
        self.widget.setValue(int(value))


class FloatBinding(Binding):
    def __init__(self, name: str, meta: dict):
        lo = meta.get("min") if meta.get("min") is not None else -math.inf
        hi = meta.get("max") if meta.get("max") is not None else math.inf
        box = SciSpinBox(lo, hi, meta.get("step"), bool(meta.get("log")))
        super().__init__(name, box)
        box.valueChanged.connect(self.changed)

    def get(self) -> float:
        return self.widget.value()

    def set(self, value) -> None:
        self.widget.setValue(float(value))


class CheckBinding(Binding):
    def __init__(self, name: str, text: str = ""):
        box = QCheckBox(text)
        super().__init__(name, box)
        box.toggled.connect(self.changed)

    def get(self) -> bool:
        return self.widget.isChecked()

    def set(self, value) -> None:
        self.widget.setChecked(bool(value))


class TextBinding(Binding):
    def __init__(self, name: str, placeholder: str = ""):
        edit = QLineEdit()
        edit.setPlaceholderText(placeholder)
        edit.setClearButtonEnabled(True)
        super().__init__(name, edit)
        edit.textChanged.connect(self.changed)

    def get(self) -> str:
        return self.widget.text().strip()

    def set(self, value) -> None:
        if self.widget.text() != str(value):
            self.widget.setText(str(value))


class ComboBinding(Binding):
    """A combo box whose items carry the setting's value as data (the text can describe it).

    Setting a value that is not among the items adds it, described by `describe_unknown`, so a loaded
    config keeps its value (and validation can say what is wrong with it) instead of losing it.
    Editable combos (init_from) also take typed text, e.g. a folder.
    """

    def __init__(self, name: str, items=(), editable: bool = False, describe_unknown=None):
        combo = QComboBox()
        combo.setEditable(editable)
        combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        combo.setMinimumContentsLength(14)
        super().__init__(name, combo)
        self._describe_unknown = describe_unknown or str
        self.set_items(items)
        combo.currentIndexChanged.connect(self.changed)
        if editable:
            combo.editTextChanged.connect(self.changed)

    def set_items(self, items, keep_current: bool = True) -> None:
        """Replace the items [(text, value), ...], keeping the current value selected (if asked)."""
        current = self.get() if self.widget.count() else None
        blocked = self.widget.blockSignals(True)
        self.widget.clear()
        for text, value in items:
            self.widget.addItem(text, value)
        if current is not None and keep_current:
            self.set(current)
        self.widget.blockSignals(blocked)

    def values(self) -> list:
        return [self.widget.itemData(i) for i in range(self.widget.count())]

    def get(self):
        combo = self.widget
        if combo.isEditable():
            text = combo.currentText().strip()
            i = combo.findText(text)
            return combo.itemData(i) if i >= 0 else text
        return combo.currentData()

    def set(self, value) -> None:
        i = self.values().index(value) if value in self.values() else -1
        if i < 0:
            self.widget.addItem(self._describe_unknown(value), value)
            i = self.widget.count() - 1
        self.widget.setCurrentIndex(i)
        if self.widget.isEditable():
            self.widget.setEditText(self.widget.itemText(i))


def make_binding(name: str) -> Binding:
    """The widget for a setting, from its type and metadata alone."""
    meta, typ = field_meta(name), field_type(name)
    if meta.get("choices"):
        return ComboBinding(name, [(str(c), c) for c in meta["choices"]])
    if typ is bool:
        return CheckBinding(name)
    if typ is int:
        return SpinBinding(name, meta)
    if typ is float:
        return FloatBinding(name, meta)
    return TextBinding(name, placeholder=str(field_default(name) or ""))
