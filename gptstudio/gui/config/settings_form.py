"""Every training setting in a form generated from TrainConfig's metadata, with problems marked on it."""

from __future__ import annotations

import re

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from gptstudio.core.config import FIELDS, GROUPS, INIT_CHOICES, TrainConfig, coerce, field_meta
from gptstudio.core.devices import available_devices, device_info, resolve_dtype
from gptstudio.core.errors import Problem
from gptstudio.gui.config.bindings import Binding, ComboBinding, make_binding
from gptstudio.gui.config.field_text import INIT_DESCRIPTIONS, field_label, field_tooltip
from gptstudio.gui.settings import AppSettings

SHOW_ADVANCED_KEY = "config.show_advanced"
NO_DATASET = ("— choose a dataset —", "")
INVALID_TINT = QColor(252, 215, 215)
INVALID_TEXT = QColor(198, 40, 40)


class SettingsForm(QScrollArea):
    """Signal out: `sig_edited()` after each edit by the person (not after set_config). Methods in:
    set_config, set_dataset_choices, set_run_choices, mark_problems, add_panel; read: config, invalid_fields,
    field_widget.
    `show_advanced_check` is its "Show advanced settings" box, for the tab to place."""

    sig_edited = Signal()

    def __init__(self, settings: AppSettings, parent=None):
        super().__init__(parent, widgetResizable=True, frameShape=QFrame.Shape.NoFrame)
        self.settings = settings
        self._bindings: dict[str, Binding] = {}
        self._rows: dict[str, tuple[QLabel, QWidget, QFormLayout]] = {}
        self._palettes: dict[str, tuple[QPalette, QPalette]] = {}  # each row's normal look, restored once valid
        self._loading = False
        self.show_advanced_check = QCheckBox("Show advanced settings", objectName="showAdvancedCheck")
        self.show_advanced_check.setChecked(bool(settings.get(SHOW_ADVANCED_KEY, False)))
        self.show_advanced_check.toggled.connect(self._on_show_advanced)
        self._build()
        self.set_config(TrainConfig())
        self._apply_advanced_visibility()

    def _build(self) -> None:
        columns = self._columns = [QVBoxLayout(), QVBoxLayout()]
        groups = field_groups()
        total = sum(len(names) for names in groups.values())
        rows_left = 0
        for group, names in groups.items():  # the first half of the rows left, the rest right
            column = columns[0] if rows_left < total / 2 else columns[1]
            rows_left += len(names) if column is columns[0] else 0
            column.addWidget(self._build_group(group, names))
        inner = QWidget(objectName="configForm")
        row = QHBoxLayout(inner)
        row.setContentsMargins(0, 0, 4, 0)
        for column in columns:
            column.addStretch(1)
            row.addLayout(column, 1)
        self.setWidget(inner)

    def _build_group(self, group: str, names: list[str]) -> QGroupBox:
        box = QGroupBox(group.replace("&", "&&"), objectName=f"group_{re.sub(r'[^A-Za-z]+', '_', group).strip('_')}")
        form = QFormLayout(box)
        form.setContentsMargins(8, 6, 8, 6)
        form.setVerticalSpacing(4)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        for name in names:
            binding = self._make_binding(name)
            binding.changed.connect(self._on_field_changed)
            label = QLabel(field_label(name).replace("&", "&&"), objectName=f"label_{name}")
            label.setBuddy(binding.widget)
            for w in (label, binding.widget):
                w.setToolTip(field_tooltip(name))
            form.addRow(label, binding.widget)
            self._bindings[name] = binding
            self._rows[name] = (label, binding.widget, form)
        return box

    @staticmethod
    def _make_binding(name: str) -> Binding:
        """The workspace- and machine-dependent fields get combos here; the rest come from metadata."""
        if name == "dataset":
            return ComboBinding(name, [NO_DATASET], describe_unknown=describe_missing_dataset)
        if name == "device":
            devices = available_devices()
            items = [(f"auto — {devices[0].label}", "auto")] + [(f"{d.id} — {d.label}", d.id) for d in devices]
            return ComboBinding(name, items, describe_unknown=describe_device)
        if name == "dtype":
            return ComboBinding(name, describe_unknown=lambda v: f"{v} — not supported by this device")
        if name == "init_from":
            return ComboBinding(name, [(INIT_DESCRIPTIONS.get(c, c), c) for c in INIT_CHOICES], editable=True)
        return make_binding(name)

    # ---- methods in

    def add_panel(self, widget: QWidget) -> None:
        """Show a panel under the settings of the second column, scrolling with them (the Config tab puts
        "Size it for my data" there)."""
        column = self._columns[1]
        column.insertWidget(column.count() - 1, widget)  # before the closing stretch

    def config(self) -> TrainConfig:
        """The settings as the form shows them now."""
        cfg = TrainConfig()
        for name, binding in self._bindings.items():
            value = binding.get()
            if value is None:
                continue
            try:
                setattr(cfg, name, coerce(name, value))
            except ValueError:
                pass  # keep the default; the form's widgets only produce well-typed values
        return cfg

    def set_config(self, cfg: TrainConfig) -> None:
        """Show these settings (values the machine or workspace lacks are kept, to be flagged)."""
        self._loading = True
        try:
            for name, binding in self._bindings.items():
                if name != "dtype":
                    binding.set(getattr(cfg, name))
            self._update_dtype_choices(keep_unsupported=True)
            self._bindings["dtype"].set(cfg.dtype)
        finally:
            self._loading = False

    def set_dataset_choices(self, choices: list[tuple[str, str]]) -> None:
        """The workspace's usable datasets as (text, name); the chosen one stays chosen."""
        self._combo("dataset").set_items([NO_DATASET, *choices])

    def set_run_choices(self, choices: list[tuple[str, str]]) -> None:
        """The person's runs a new run can start from, as (text, name), after the built-in starts."""
        self._combo("init_from").set_items([(INIT_DESCRIPTIONS.get(c, c), c) for c in INIT_CHOICES] + choices)

    def mark_problems(self, problems: list[Problem]) -> None:
        """Mark the fields each problem names (Problem.fields), with the problems in their tooltips."""
        marked = set().union(*(p.fields for p in problems)) if problems else set()
        for name, (_label, widget, _form) in self._rows.items():
            tip = "<br>".join(str(p) for p in problems if name in p.fields)
            widget.setToolTip(field_tooltip(name) + (f"<hr><span style='color:#c62828'>{tip}</span>" if tip else ""))
            if bool(widget.property("invalid")) != (name in marked):
                self._mark(name, name in marked)
        self._apply_advanced_visibility()

    # ---- read

    def invalid_fields(self) -> set[str]:
        """Settings currently marked invalid."""
        return {name for name, (_label, widget, _form) in self._rows.items() if widget.property("invalid")}

    def field_widget(self, name: str) -> QWidget:
        return self._bindings[name].widget

    # ---- internals

    def _combo(self, name: str) -> ComboBinding:
        binding = self._bindings[name]
        assert isinstance(binding, ComboBinding)
        return binding

    def _on_field_changed(self) -> None:
        if self._loading:
            return
        if self.sender() is self._bindings["device"]:
            self._update_dtype_choices(keep_unsupported=False)
        self.sig_edited.emit()

    def _update_dtype_choices(self, keep_unsupported: bool) -> None:
        """Offer only the dtypes the chosen device can train in (plus auto)."""
        dtype = self._combo("dtype")
        device = self._bindings["device"].get() or "auto"
        info = device_info(device)
        supported = info.dtypes if info else ("float32",)
        auto_text = f"auto — {resolve_dtype('auto', device) if info else 'float32'} here"
        current = dtype.get()
        dtype.set_items([(auto_text, "auto")] + [(d, d) for d in supported], keep_current=False)
        if current is None or (current not in dtype.values() and not keep_unsupported):
            current = "auto"  # the person switched device: fall back rather than keep an impossible choice
        dtype.set(current)

    def _mark(self, name: str, invalid: bool) -> None:
        """Red bold label and a red-tinted field: palettes, not a style sheet, so native widgets keep
        their look (a style sheet border redraws spin boxes without their arrows)."""
        label, widget, _form = self._rows[name]
        for w in (label, widget):
            w.setProperty("invalid", invalid)
        normal_label, normal_widget = self._palettes.setdefault(
            name, (QPalette(label.palette()), QPalette(widget.palette()))
        )
        label_palette, widget_palette = QPalette(normal_label), QPalette(normal_widget)
        if invalid:
            label_palette.setColor(QPalette.ColorRole.WindowText, INVALID_TEXT)
            for role in (QPalette.ColorRole.Base, QPalette.ColorRole.Button):
                widget_palette.setColor(role, INVALID_TINT)
        label.setPalette(label_palette)
        widget.setPalette(widget_palette)
        font = label.font()
        font.setBold(invalid)
        label.setFont(font)

    def _on_show_advanced(self, on: bool) -> None:
        self.settings.set(SHOW_ADVANCED_KEY, on)
        self._apply_advanced_visibility()

    def _apply_advanced_visibility(self) -> None:
        """Advanced rows show when asked for, and always while they have a problem."""
        on, invalid = self.show_advanced_check.isChecked(), self.invalid_fields()
        for name, (_label, widget, form) in self._rows.items():
            if field_meta(name).get("advanced"):
                form.setRowVisible(widget, on or name in invalid)


def field_groups() -> dict[str, list[str]]:
    """Field names by group: GROUPS' order first, then any group a new field brings."""
    groups: dict[str, list[str]] = {g: [] for g in GROUPS}
    for name, f in FIELDS.items():
        groups.setdefault(f.metadata.get("group") or "Other", []).append(name)
    return {g: names for g, names in groups.items() if names}


def describe_missing_dataset(value: str) -> str:
    return f"{value} — not in this workspace" if value else NO_DATASET[0]


def describe_device(value: str) -> str:
    info = device_info(value) if value else None
    return f"{value} — {info.label}" if info else f"{value} — not on this machine"
