"""The Config tab: every training setting in a form generated from TrainConfig, with presets, live
validation, size/cost estimates, a measured speed and the learning-rate schedule.

Public API for the window and the other tabs: `config()`, `set_config(cfg)`, `is_valid()`,
`problems()`, `set_dataset(name)`, `refresh_datasets()`, `shutdown()`, and the signals
`sig_config_changed(TrainConfig)` and `sig_validity_changed(bool)`.
"""

from __future__ import annotations

import re
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import QEvent, QRect, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QStyle,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gptstudio.core import estimates as est
from gptstudio.core import presets
from gptstudio.core.config import (
    ALIASES,
    FIELDS,
    GROUPS,
    IGNORED_NANOGPT_KEYS,
    INIT_CHOICES,
    TrainConfig,
    coerce,
    field_meta,
    load_config,
    read_config_file,
    save_config,
    validate,
)
from gptstudio.core.dataset import list_datasets
from gptstudio.core.devices import available_devices, device_info, free_memory_bytes, resolve_dtype
from gptstudio.core.errors import ConfigError, GPTStudioError, Problem
from gptstudio.core.units import format_bytes, format_count, format_flops, format_time
from gptstudio.core.workspace import Workspace
from gptstudio.gui.config_widgets import Binding, ComboBinding, format_float, make_binding
from gptstudio.gui.settings import AppSettings
from gptstudio.gui.workers import JobWorker, start_worker

LAST_CONFIG_KEY = "last_config"
SHOW_ADVANCED_KEY = "config.show_advanced"
MEASURE_KEY = "config.measure_speed"
REFRESH_MS = 150  # validation and estimates, after the user stops typing
MEASURE_MS = 800  # the speed benchmark waits a bit longer: it costs seconds of compute

# Friendlier row labels; a field missing here is labelled from its name, so none is required.
LABELS = {
    "dataset": "Dataset",
    "run_name": "Run name",
    "init_from": "Start from",
    "n_layer": "Layers",
    "n_head": "Attention heads",
    "n_embd": "Embedding size",
    "block_size": "Context length",
    "bias": "Bias terms",
    "dropout": "Dropout",
    "batch_size": "Batch size",
    "gradient_accumulation_steps": "Gradient accumulation",
    "learning_rate": "Learning rate",
    "weight_decay": "Weight decay",
    "beta1": "Adam β1",
    "beta2": "Adam β2",
    "grad_clip": "Gradient clipping",
    "max_iters": "Iterations",
    "decay_lr": "Cosine decay",
    "warmup_iters": "Warmup",
    "lr_decay_iters": "Decay until",
    "min_lr": "Final learning rate",
    "eval_interval": "Evaluate every",
    "eval_iters": "Evaluation batches",
    "log_interval": "Log every",
    "eval_only": "Evaluate only",
    "always_save_checkpoint": "Save at every eval",
    "early_stop_patience": "Early stopping",
    "eval_sample_tokens": "Sample length",
    "device": "Device",
    "dtype": "Precision",
    "compile": "torch.compile",
    "seed": "Random seed",
    "backend": "DDP backend",
    "wandb_log": "Weights & Biases",
    "wandb_project": "W&B project",
    "wandb_run_name": "W&B run name",
    "tensorboard_log": "TensorBoard",
}
INIT_DESCRIPTIONS = {
    "scratch": "scratch — random weights",
    "resume": "resume — continue this run",
    "gpt2": "gpt2 — GPT-2 124M",
    "gpt2-medium": "gpt2-medium — GPT-2 350M",
    "gpt2-large": "gpt2-large — GPT-2 774M",
    "gpt2-xl": "gpt2-xl — GPT-2 1.5B",
}


INVALID_TINT = QColor(252, 215, 215)
INVALID_TEXT = QColor(198, 40, 40)


def field_label(name: str) -> str:
    return LABELS.get(name) or name.replace("_", " ").capitalize()


def field_tooltip(name: str) -> str:
    meta = field_meta(name)
    lines = [f"<b>{field_label(name)}</b> <code>{name}</code>", meta.get("help", "")]
    lo, hi, unit = meta.get("min"), meta.get("max"), meta.get("unit") or ""
    if lo is not None and hi is not None:
        fmt = format_float if isinstance(lo, float) or isinstance(hi, float) else "{:,}".format
        lines.append(f"Range: {fmt(lo)} – {fmt(hi)} {unit}".rstrip())
    elif unit:
        lines.append(f"Unit: {unit}")
    return "<br>".join(lines)


def problem_fields(problem) -> set[str]:
    """The settings a problem concerns: validate() says so in each Problem (never read from the text)."""
    return set(getattr(problem, "fields", ()))


def workspace_datasets(workspace: Workspace) -> tuple[dict[str, dict], dict[str, str]]:
    """The usable datasets' metas by name, and the damaged ones' reasons by name."""
    usable, damaged = {}, {}
    for entry in list_datasets(workspace.home):
        if entry.get("error"):
            damaged[entry["name"]] = entry["error"]
        else:
            usable[entry["name"]] = entry
    return usable, damaged


def dataset_text(name: str, meta: dict) -> str:
    tokens = int(meta.get("train_tokens", 0)) + int(meta.get("val_tokens", 0))
    return f"{name} — {format_count(tokens)} tokens, {meta.get('tokenizer', '?')} ({meta.get('vocab_size', '?')})"


class LrAxis(pg.AxisItem):
    """Tick labels like 1e-3 and 6e-5 instead of 0.001 and 0.00006."""

    def tickStrings(self, values, scale, spacing):
        return [format_float(float(f"{v * scale:.6g}")) for v in values]


class ConfigTab(QWidget):
    sig_config_changed = Signal(object)  # TrainConfig, after edits settle
    sig_validity_changed = Signal(bool)

    def __init__(self, workspace: Workspace, settings: AppSettings, parent=None):
        super().__init__(parent)
        self.setObjectName("configTab")
        self.workspace, self.settings = workspace, settings
        self._bindings: dict[str, Binding] = {}
        self._rows: dict[str, tuple[QLabel, QWidget]] = {}
        self._datasets: dict[str, dict] = {}
        self._damaged: dict[str, str] = {}
        self._loading = False
        self._valid: bool | None = None
        self._last_emitted: TrainConfig | None = None
        self.memory_fits = True
        self._palettes: dict[str, tuple] = {}  # each row's normal palettes, restored once it is valid
        self._measure_worker: JobWorker | None = None
        self._measure_again = False
        self._watched_window = None

        self._refresh_timer = QTimer(self, singleShot=True, interval=REFRESH_MS, timeout=self._refresh_now)
        self._measure_timer = QTimer(self, singleShot=True, interval=MEASURE_MS, timeout=self._measure_now)
        self._build()
        self.refresh_datasets()
        self._fill_presets()
        self.set_config(self._restored_config())

    # ===== building the form =====

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        layout.addLayout(self._build_toolbar())
        body = QHBoxLayout()
        body.addWidget(self._build_form(), 1)
        body.addWidget(self._build_side_panel(), 0)
        layout.addLayout(body, 1)

    def _button(self, text: str, name: str, slot, tip: str) -> QPushButton:
        button = QPushButton(text, objectName=name, toolTip=tip)
        button.clicked.connect(slot)
        return button

    def _build_toolbar(self) -> QHBoxLayout:
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Preset:"))
        self.presetCombo = QComboBox(
            objectName="presetCombo",
            minimumContentsLength=26,
            toolTip="Fill the form with a recipe; your dataset stays selected.",
        )
        self.presetCombo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.presetCombo.activated.connect(self._on_preset_chosen)
        bar.addWidget(self.presetCombo)
        self.savePresetButton = self._button(
            "Save preset…",
            "savePresetButton",
            self._ask_save_preset,
            "Save the current settings as a preset of your own.",
        )
        self.deletePresetButton = self._button(
            "Delete preset", "deletePresetButton", self._ask_delete_preset, "Delete the selected preset of your own."
        )
        bar.addWidget(self.savePresetButton)
        bar.addWidget(self.deletePresetButton)
        bar.addSpacing(12)
        self.showAdvancedCheck = QCheckBox("Show advanced settings", objectName="showAdvancedCheck")
        self.showAdvancedCheck.setChecked(bool(self.settings.get(SHOW_ADVANCED_KEY, False)))
        self.showAdvancedCheck.toggled.connect(self._on_show_advanced)
        bar.addWidget(self.showAdvancedCheck)
        bar.addStretch(1)
        bar.addWidget(
            self._button(
                "Open…", "openConfigButton", self._ask_open_config, "Load settings from a .json or .toml file."
            )
        )
        bar.addWidget(
            self._button(
                "Save as…",
                "saveConfigButton",
                self._ask_save_config,
                "Save these settings as .json or .toml (chosen by the file name).",
            )
        )
        bar.addWidget(
            self._button(
                "Import nanoGPT config…",
                "importNanoGPTButton",
                self._ask_import_nanogpt,
                "Read a nanoGPT config/*.py file. It is parsed, never run: files with code in them are refused.",
            )
        )
        bar.addWidget(
            self._button(
                "Defaults",
                "resetDefaultsButton",
                self.reset_to_defaults,
                "Reset every setting to its default (the dataset stays).",
            )
        )
        return bar

    def _build_form(self) -> QScrollArea:
        columns = [QVBoxLayout(), QVBoxLayout()]
        groups = self._field_groups()
        total = sum(len(names) for names in groups.values())
        rows_left = 0
        for group, names in groups.items():
            column = columns[0] if rows_left < total / 2 else columns[1]
            rows_left += len(names) if column is columns[0] else 0
            column.addWidget(self._build_group(group, names))
        inner = QWidget(objectName="configForm")
        row = QHBoxLayout(inner)
        row.setContentsMargins(0, 0, 4, 0)
        for column in columns:
            column.addStretch(1)
            row.addLayout(column, 1)
        scroll = QScrollArea(widgetResizable=True, frameShape=QFrame.Shape.NoFrame)
        scroll.setWidget(inner)
        return scroll

    @staticmethod
    def _field_groups() -> dict[str, list[str]]:
        """Field names by group: GROUPS' order first, then any group a new field brings."""
        groups: dict[str, list[str]] = {g: [] for g in GROUPS}
        for name, f in FIELDS.items():
            groups.setdefault(f.metadata.get("group") or "Other", []).append(name)
        return {g: names for g, names in groups.items() if names}

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
            self._rows[name] = (label, binding.widget)
        box._form = form
        return box

    def _make_binding(self, name: str) -> Binding:
        """The workspace- and machine-dependent fields get combos here; the rest come from metadata."""
        if name == "dataset":
            return ComboBinding(
                name, describe_unknown=lambda v: f"{v} — not in this workspace" if v else "— choose a dataset —"
            )
        if name == "device":
            return ComboBinding(name, self._device_items(), describe_unknown=_describe_device)
        if name == "dtype":
            return ComboBinding(name, describe_unknown=lambda v: f"{v} — not supported by this device")
        if name == "init_from":
            return ComboBinding(name, [(INIT_DESCRIPTIONS.get(c, c), c) for c in INIT_CHOICES], editable=True)
        return make_binding(name)

    def _build_side_panel(self) -> QWidget:
        panel = QWidget(objectName="configSidePanel")
        panel.setFixedWidth(400)
        col = QVBoxLayout(panel)
        col.setContentsMargins(0, 0, 0, 0)
        col.addWidget(self._build_checks_box())
        col.addWidget(self._build_estimates_box())
        col.addWidget(self._build_lr_box(), 1)
        return panel

    def _build_checks_box(self) -> QGroupBox:
        box = QGroupBox("Checks")
        col = QVBoxLayout(box)
        self.configStatusLabel = QLabel(objectName="configStatusLabel", wordWrap=True)
        self.configErrors = QListWidget(objectName="configErrors", wordWrap=True)
        self.configErrors.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self.fileStatusLabel = QLabel(objectName="fileStatusLabel", wordWrap=True)
        self.fileStatusLabel.hide()
        col.addWidget(self.configStatusLabel)
        col.addWidget(self.configErrors)
        col.addWidget(self.fileStatusLabel)
        return box

    def _build_estimates_box(self) -> QGroupBox:
        box = QGroupBox("Size and cost")
        col = QVBoxLayout(box)
        self.paramCountLabel = QLabel(objectName="paramCountLabel")
        big = self.paramCountLabel.font()
        big.setPointSizeF(big.pointSizeF() * 1.7)
        big.setBold(True)
        self.paramCountLabel.setFont(big)
        self.paramCountLabel.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.paramDetailLabel = QLabel(objectName="paramDetailLabel", wordWrap=True)
        self.paramDetailLabel.setStyleSheet("color: palette(placeholder-text);")
        self.estimatesView = QTreeWidget(
            objectName="estimatesView", columnCount=2, headerHidden=True, rootIsDecorated=True, uniformRowHeights=True
        )
        self.estimatesView.setSelectionMode(QTreeWidget.SelectionMode.NoSelection)
        self.estimatesView.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self._est_items: dict[str, QTreeWidgetItem] = {}
        for key, title, parent in (
            ("memory", "Memory needed", None),
            ("weights", "Weights", "memory"),
            ("gradients", "Gradients", "memory"),
            ("optimizer", "AdamW state", "memory"),
            ("activations", "Activations", "memory"),
            ("fits", "Free memory", None),
            ("tokens", "Tokens per iteration", None),
            ("epochs", "Epochs", None),
            ("flops", "FLOPs per iteration", None),
            ("iter_time", "Time per iteration", None),
            ("run_time", "Whole run", None),
        ):
            item = QTreeWidgetItem([title, ""])
            if parent:
                self._est_items[parent].addChild(item)
            else:
                self.estimatesView.addTopLevelItem(item)
            self._est_items[key] = item
        self.estimatesView.setColumnWidth(0, 170)
        self.estimatesView.expandAll()
        rows = len(self._est_items)
        self.estimatesView.setFixedHeight(rows * self.estimatesView.sizeHintForRow(0) + 8)
        self.measureSpeedCheck = QCheckBox(
            "Measure speed on the device",
            objectName="measureSpeedCheck",
            toolTip="Time a few real training steps of this model (in the "
            "background, a few seconds, cached per model shape).",
        )
        self.measureSpeedCheck.setChecked(bool(self.settings.get(MEASURE_KEY, True)))
        self.measureSpeedCheck.toggled.connect(self._on_measure_toggled)
        col.addWidget(self.paramCountLabel)
        col.addWidget(self.paramDetailLabel)
        col.addWidget(self.estimatesView)
        col.addWidget(self.measureSpeedCheck)
        return box

    def _build_lr_box(self) -> QGroupBox:
        box = QGroupBox("Learning-rate schedule")
        col = QVBoxLayout(box)
        pal = self.palette()
        self.lrSchedulePlot = pg.PlotWidget(
            background=pal.color(QPalette.ColorRole.Base), axisItems={"left": LrAxis("left")}
        )
        self.lrSchedulePlot.setObjectName("lrSchedulePlot")
        self.lrSchedulePlot.setMinimumHeight(150)
        item = self.lrSchedulePlot.getPlotItem()
        item.hideButtons()
        item.setMenuEnabled(False)
        item.setMouseEnabled(x=False, y=False)
        item.showGrid(x=True, y=True, alpha=0.15)
        text = pal.color(QPalette.ColorRole.Text)
        for side in ("left", "bottom"):
            item.getAxis(side).setTextPen(text)
            item.getAxis(side).setPen(pg.mkPen(text.lighter(250)))
        item.getAxis("bottom").setLabel("iteration", color=text.name())
        self.lrCurve = item.plot(pen=pg.mkPen((33, 110, 200), width=2), fillLevel=0, brush=(33, 110, 200, 40))
        col.addWidget(self.lrSchedulePlot)
        return box

    # ===== the machine, the workspace =====

    @staticmethod
    def _device_items() -> list[tuple[str, str]]:
        devices = available_devices()
        return [(f"auto — {devices[0].label}", "auto")] + [(f"{d.id} — {d.label}", d.id) for d in devices]

    def _update_dtype_choices(self, keep_unsupported: bool) -> None:
        """Offer only the dtypes the chosen device can train in (plus auto)."""
        dtype = self._bindings["dtype"]
        device = self._bindings["device"].get() or "auto"
        info = device_info(device)
        supported = info.dtypes if info else ("float32",)
        auto_text = f"auto — {resolve_dtype('auto', device) if info else 'float32'} here"
        current = dtype.get()
        dtype.set_items([(auto_text, "auto")] + [(d, d) for d in supported], keep_current=False)
        if current is None or (current not in dtype.values() and not keep_unsupported):
            current = "auto"  # the user switched device: fall back rather than keep an impossible choice
        dtype.set(current)

    def refresh_datasets(self) -> None:
        """Re-read the workspace's datasets into the dataset combo (keeping the selection)."""
        self._datasets, self._damaged = workspace_datasets(self.workspace)
        items = [("— choose a dataset —", "")] + [(dataset_text(n, m), n) for n, m in self._datasets.items()]
        self._bindings["dataset"].set_items(items)
        self._schedule_refresh()

    def set_dataset(self, name: str) -> None:
        if name and name not in self._datasets:
            self.refresh_datasets()
        self._bindings["dataset"].set(name or "")
        self._refresh_now()

    def dataset_meta(self, cfg: TrainConfig | None = None) -> dict | None:
        cfg = cfg or self.config()
        return self._datasets.get(cfg.dataset)

    # ===== reading and writing the form =====

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
        """Show these settings (values the machine or workspace lacks are kept and flagged)."""
        self._loading = True
        try:
            for name, binding in self._bindings.items():
                if name != "dtype":
                    binding.set(getattr(cfg, name))
            self._update_dtype_choices(keep_unsupported=True)
            self._bindings["dtype"].set(cfg.dtype)
        finally:
            self._loading = False
        self._refresh_now()

    def reset_to_defaults(self) -> None:
        current = self.config()
        self.set_config(TrainConfig(dataset=current.dataset, run_name=current.run_name))
        self.presetCombo.setCurrentIndex(0)

    def problems(self) -> list[Problem]:
        """Every problem with the current settings, each with the fields it concerns (empty = ready)."""
        cfg = self.config()
        found = validate(cfg, self.dataset_meta(cfg))
        if cfg.dataset in self._damaged:
            found.append(Problem(self._damaged[cfg.dataset], ("dataset",), "dataset"))
        elif cfg.dataset and cfg.dataset not in self._datasets:
            found.append(
                Problem(
                    f"The dataset '{cfg.dataset}' is not in this workspace: prepare it on the Dataset tab "
                    "or choose another.",
                    ("dataset",),
                    "dataset",
                )
            )
        return found

    def is_valid(self) -> bool:
        return not self.problems()

    # ===== live updates =====

    def _on_field_changed(self) -> None:
        if self._loading:
            return
        if self.sender() is self._bindings["device"]:
            self._update_dtype_choices(keep_unsupported=False)
        self._schedule_refresh()

    def _schedule_refresh(self) -> None:
        if not self._loading:
            self._refresh_timer.start()

    def _refresh_now(self) -> None:
        """Validate, mark, estimate, plot, remember, signal: everything that follows an edit."""
        self._refresh_timer.stop()
        cfg = self.config()
        problems = self.problems()
        self._show_problems(problems)
        self._update_estimates(cfg, problems)
        self._update_lr_plot(cfg)
        self._sync_preset_combo(cfg)
        self.settings.set(LAST_CONFIG_KEY, cfg.to_dict())
        if self._valid is not (not problems):
            self._valid = not problems
            self.sig_validity_changed.emit(self._valid)
        if cfg != self._last_emitted:
            self._last_emitted = cfg
            self.sig_config_changed.emit(cfg)
        self._schedule_measure()

    def _show_problems(self, problems: list[Problem]) -> None:
        self.configErrors.clear()
        icon = self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)
        for p in problems:
            self.configErrors.addItem(QListWidgetItem(icon, str(p)))
        self.configErrors.setVisible(bool(problems))
        if problems:
            n = len(problems)
            self.configStatusLabel.setText(
                f"<b style='color:#c62828'>{n} problem{'s' if n > 1 else ''} to fix before training:</b>"
            )
        else:
            self.configStatusLabel.setText("<b style='color:#2e7d32'>✓ Ready to train.</b>")
        marked = set().union(*(problem_fields(p) for p in problems)) if problems else set()
        for name, (_label, widget) in self._rows.items():
            tip = "<br>".join(str(p) for p in problems if name in problem_fields(p))
            widget.setToolTip(field_tooltip(name) + (f"<hr><span style='color:#c62828'>{tip}</span>" if tip else ""))
            if bool(widget.property("invalid")) != (name in marked):
                self._mark(name, name in marked)
        self._resize_error_list()
        self._apply_advanced_visibility()

    def _mark(self, name: str, invalid: bool) -> None:
        """Red bold label and a red-tinted field: palettes, not a style sheet, so native widgets keep
        their look (a style sheet border redraws spin boxes without their arrows)."""
        label, widget = self._rows[name]
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

    def _resize_error_list(self) -> None:
        """As tall as its problems, up to a few lines (then it scrolls)."""
        errors = self.configErrors
        icon = errors.style().pixelMetric(QStyle.PixelMetric.PM_SmallIconSize)
        text_width = errors.viewport().width() - icon - 16
        metrics = errors.fontMetrics()
        height = 0
        for i in range(errors.count()):
            item = errors.item(i)
            text = metrics.boundingRect(QRect(0, 0, text_width, 10_000), Qt.TextFlag.TextWordWrap, item.text())
            item.setSizeHint(QSize(text_width, max(text.height(), icon) + 6))
            height += item.sizeHint().height()
        errors.setFixedHeight(min(max(height, 24) + 2 * errors.frameWidth() + 2, 170))

    def invalid_fields(self) -> set[str]:
        """Settings currently marked invalid in the form."""
        return {name for name, (_label, widget) in self._rows.items() if widget.property("invalid")}

    # ===== estimates =====

    def _vocab_size(self, cfg: TrainConfig) -> tuple[int, str]:
        meta = self.dataset_meta(cfg)
        if meta and int(meta.get("vocab_size", 0)) > 0:
            return int(meta["vocab_size"]), ""
        return est.DEFAULT_VOCAB, "GPT-2's vocabulary until a dataset is chosen"

    def _set_estimate(self, key: str, text: str, tip: str = "", color: str | None = None) -> None:
        item = self._est_items[key]
        item.setText(1, text)
        item.setToolTip(0, tip)
        item.setToolTip(1, tip or text)
        item.setForeground(1, pg.mkColor(color) if color else self.palette().color(QPalette.ColorRole.Text))

    def estimate_texts(self) -> dict[str, str]:
        """What the estimates view shows, by key (memory, fits, tokens, epochs, flops, iter_time, ...)."""
        return {key: item.text(1) for key, item in self._est_items.items()}

    def _update_estimates(self, cfg: TrainConfig, problems: list[Problem]) -> None:
        vocab, vocab_note = self._vocab_size(cfg)
        args = est.effective_model_args(cfg, vocab)
        total, non_emb = est.count_params(args), est.count_params(args, non_embedding=True)
        self.paramCountLabel.setText(f"{format_count(non_emb)} parameters")
        self.paramCountLabel.setProperty("params_total", total)
        self.paramCountLabel.setProperty("params_non_embedding", non_emb)
        shape = f"{args['n_layer']} layers × {args['n_embd']} wide, {args['n_head']} heads, vocabulary {vocab:,}"
        if cfg.init_from in est.PRETRAINED_SHAPES:
            shape = f"{cfg.init_from}'s shape: {args['n_layer']} layers × {args['n_embd']}, vocabulary 50,257"
            vocab_note = ""
        self.paramDetailLabel.setText(shape + (f" ({vocab_note})" if vocab_note else ""))
        self.paramCountLabel.setToolTip(
            f"{non_emb:,} parameters without the position embeddings (the number nanoGPT prints); {total:,} in all."
        )
        self._update_memory(cfg, vocab)
        tpi = est.tokens_per_iter(cfg)
        self._set_estimate(
            "tokens",
            f"{tpi:,}",
            f"{cfg.batch_size} sequences × {cfg.block_size} tokens × "
            f"{cfg.gradient_accumulation_steps} accumulation steps",
        )
        meta = self.dataset_meta(cfg)
        if meta and int(meta.get("train_tokens", 0)) > 0:
            n = int(meta["train_tokens"])
            self._set_estimate(
                "epochs",
                format_epochs(est.epochs(cfg, n)),
                f"{cfg.max_iters:,} iterations × {tpi:,} tokens over {n:,} training tokens",
            )
        else:
            self._set_estimate("epochs", "—", "Choose a dataset to see how many passes over it this run makes.")
        self._set_estimate(
            "flops",
            format_flops(est.flops_per_iter(cfg, vocab)),
            "Training FLOPs per optimizer step (6N + attention, as nanoGPT's MFU estimate)",
        )
        self._show_timing(cfg, vocab)

    def _update_memory(self, cfg: TrainConfig, vocab: int) -> None:
        m = est.memory_estimate(cfg, vocab)
        self._set_estimate(
            "memory",
            f"≈ {format_bytes(m['total'])}",
            f"Rough peak for training at micro-batch {cfg.batch_size} × {cfg.block_size} tokens "
            f"in {m['dtype']}, without torch.compile.",
        )
        self._set_estimate(
            "weights",
            format_bytes(m["weights"]),
            "float32 master weights" + (f" + a {m['dtype']} copy" if m["dtype"] != "float32" else ""),
        )
        self._set_estimate("gradients", format_bytes(m["gradients"]), "float32 gradients")
        self._set_estimate("optimizer", format_bytes(m["optimizer"]), "AdamW's two float32 moments")
        self._set_estimate(
            "activations",
            format_bytes(m["activations"]),
            f"Kept for the backward pass at batch {cfg.batch_size} × {cfg.block_size} tokens",
        )
        try:
            free = free_memory_bytes(cfg.device)
        except Exception:  # a device this machine lacks (validation already says so)
            free = None
        info = device_info(cfg.device) if cfg.device else None
        where = info.label if info else cfg.device
        if free is None or info is None:
            self._set_estimate("fits", "unknown", f"Cannot read the free memory of {where}.")
        elif m["total"] <= free:
            self._set_estimate("fits", f"{format_bytes(free)} — fits", f"Free now on {where}.", "#2e7d32")
        else:
            self._set_estimate(
                "fits",
                f"{format_bytes(free)} — too little",
                f"Free now on {where}: lower "
                "batch_size or block_size (raise gradient_accumulation_steps to compensate), "
                "or make the model smaller.",
                "#c62828",
            )
        self.memory_fits = free is None or m["total"] <= free

    def _show_timing(self, cfg: TrainConfig, vocab: int) -> None:
        timing = est.cached_iteration_time(cfg, vocab) if self._can_measure(cfg) else None
        if timing is not None:
            self._set_estimate("iter_time", format_time(timing.seconds_per_iter), timing.note)
            self._set_estimate(
                "run_time",
                f"≈ {format_time(timing.run_seconds)}",
                f"{cfg.max_iters:,} iterations and {est.evaluations(cfg)} evaluations of "
                f"{format_time(timing.eval_seconds)}; {timing.note}",
            )
        elif not self._can_measure(cfg):
            for key in ("iter_time", "run_time"):
                self._set_estimate(key, "—", "Fix the problems with the model shape or device first.")
        elif not self.measureSpeedCheck.isChecked():
            for key in ("iter_time", "run_time"):
                self._set_estimate(key, "not measured", "Tick 'Measure speed on the device' to time it.")
        else:
            for key in ("iter_time", "run_time"):
                self._set_estimate(key, "measuring…", "Timing a few training steps in the background.")

    def _can_measure(self, cfg: TrainConfig) -> bool:
        """A benchmark needs a buildable model on a device this machine has."""
        shape_ok = cfg.n_embd % cfg.n_head == 0 and not any(
            problem_fields(p) & {"n_layer", "n_head", "n_embd", "block_size", "batch_size", "device", "dtype"}
            for p in validate(cfg)
        )
        return shape_ok and device_info(cfg.device) is not None

    # ===== the speed benchmark (a worker thread) =====

    def _schedule_measure(self) -> None:
        if self.measureSpeedCheck.isChecked():
            self._measure_timer.start()

    def _measure_now(self) -> None:
        cfg = self.config()
        vocab, _note = self._vocab_size(cfg)
        if not (self.measureSpeedCheck.isChecked() and self._can_measure(cfg)):
            return
        if est.cached_iteration_time(cfg, vocab) is not None:
            self._show_timing(cfg, vocab)
            return
        if self._measure_worker is not None:  # one at a time: stop the stale one, measure again after it
            self._measure_again = True
            self._measure_worker.cancel()
            return
        worker = JobWorker(est.measure_iteration_time, cfg, vocab)
        worker.succeeded.connect(self._on_measured)  # a bound method: delivered in the GUI thread
        worker.failed.connect(self._on_measure_failed)
        worker.finished.connect(self._on_measure_finished)
        self._measure_worker = worker
        start_worker(worker, self)

    def _on_measured(self, _timing) -> None:
        cfg = self.config()
        self._show_timing(cfg, self._vocab_size(cfg)[0])  # from the cache, scaled to the settings now

    def _on_measure_failed(self, message: str) -> None:
        for key in ("iter_time", "run_time"):
            self._set_estimate(key, "not measured", message, "#c62828")

    def _on_measure_finished(self) -> None:
        self._measure_worker = None
        if self._measure_again:
            self._measure_again = False
            self._measure_now()

    def is_measuring(self) -> bool:
        return self._measure_worker is not None

    def _on_measure_toggled(self, on: bool) -> None:
        self.settings.set(MEASURE_KEY, on)
        if not on and self._measure_worker is not None:
            self._measure_worker.cancel()
        self._refresh_now()

    def shutdown(self) -> None:
        """Stop the benchmark thread before the widget goes away (the window calls this on close)."""
        self._measure_timer.stop()
        self._refresh_timer.stop()
        self._measure_again = False
        # start_worker keeps (worker, thread) in _live_jobs until the thread has really stopped, which is
        # later than the worker's finished signal
        for worker, thread in list(getattr(self, "_live_jobs", ())):
            try:
                worker.cancel()
                thread.quit()
                thread.wait(30_000)  # the step in progress finishes; a few seconds at most
            except RuntimeError:
                pass  # already finished and deleted by Qt

    def closeEvent(self, event) -> None:
        self.shutdown()
        super().closeEvent(event)

    def showEvent(self, event) -> None:
        QTimer.singleShot(0, self._resize_error_list)  # item heights need the list's real width
        # the window may be closed without this widget's closeEvent: watch the window too
        window = self.window()
        if window is not self and window is not self._watched_window:
            window.installEventFilter(self)
            self._watched_window = window
        super().showEvent(event)

    def eventFilter(self, obj, event) -> bool:
        if obj is self._watched_window and event.type() == QEvent.Type.Close:
            self.shutdown()
        return super().eventFilter(obj, event)

    # ===== the learning-rate plot =====

    def _update_lr_plot(self, cfg: TrainConfig) -> None:
        iters, lrs = est.lr_schedule(cfg)
        self.lrCurve.setData(iters, lrs)
        self.lrSchedulePlot.getPlotItem().setYRange(0, max(lrs) * 1.08 if max(lrs) > 0 else 1, padding=0)
        self.lrSchedulePlot.getPlotItem().setXRange(0, max(iters[-1], 1), padding=0.02)

    def lr_curve(self) -> tuple[list, list]:
        x, y = self.lrCurve.getData()
        return ([] if x is None else list(x)), ([] if y is None else list(y))

    # ===== presets =====

    def _fill_presets(self, select: str | None = None) -> None:
        combo = self.presetCombo
        combo.blockSignals(True)
        combo.clear()
        combo.addItem("Choose a preset…", None)
        for name in presets.BUILTIN_PRESETS:
            combo.addItem(name, ("builtin", name))
        mine = presets.user_presets()
        if mine:
            combo.insertSeparator(combo.count())
            for name in mine:
                combo.addItem(f"{name}  (yours)", ("user", name))
        index = next((i for i in range(combo.count()) if (combo.itemData(i) or (None, None))[1] == select), 0)
        combo.setCurrentIndex(index)
        combo.blockSignals(False)
        self._update_preset_buttons()

    def preset_names(self) -> list[str]:
        return [
            self.presetCombo.itemData(i)[1] for i in range(self.presetCombo.count()) if self.presetCombo.itemData(i)
        ]

    def _update_preset_buttons(self) -> None:
        data = self.presetCombo.currentData()
        self.deletePresetButton.setEnabled(bool(data) and data[0] == "user")

    def _on_preset_chosen(self, index: int) -> None:
        data = self.presetCombo.itemData(index)
        if data:
            self.apply_preset(data[1])
        self._update_preset_buttons()

    def apply_preset(self, name: str) -> None:
        """Fill the form with a preset (built-in or the user's), keeping the dataset and run name."""
        settings = presets.all_presets().get(name)
        if settings is None:
            raise ConfigError(f"There is no preset named '{name}'.")
        self.set_config(presets.apply_preset(settings, self.config()))
        self._fill_presets(select=name)
        self._sync_preset_combo(self.config())

    def _sync_preset_combo(self, cfg: TrainConfig) -> None:
        """Once the form no longer matches the chosen preset, stop showing its name."""
        data = self.presetCombo.currentData()
        if not data:
            return
        settings = presets.all_presets().get(data[1])
        if settings is None or presets.apply_preset(settings, cfg) != cfg:
            self.presetCombo.setCurrentIndex(0)
            self._update_preset_buttons()

    def save_preset(self, name: str) -> None:
        presets.save_user_preset(name, self.config())
        self._fill_presets(select=name.strip())

    def delete_preset(self, name: str) -> None:
        presets.delete_user_preset(name)
        self._fill_presets()

    def _ask_save_preset(self) -> None:
        current = self.presetCombo.currentData()
        default = current[1] if current and current[0] == "user" else ""
        name, ok = QInputDialog.getText(self, "Save preset", "Name of the preset:", text=default)
        if not ok or not name.strip():
            return
        if (
            name.strip() in presets.user_presets()
            and QMessageBox.question(self, "Save preset", f"Replace your preset '{name.strip()}'?")
            != QMessageBox.StandardButton.Yes
        ):
            return
        self._run_reporting_errors("Cannot save the preset", self.save_preset, name)

    def _ask_delete_preset(self) -> None:
        data = self.presetCombo.currentData()
        if not data or data[0] != "user":
            return
        if (
            QMessageBox.question(self, "Delete preset", f"Delete your preset '{data[1]}'?")
            == QMessageBox.StandardButton.Yes
        ):
            self._run_reporting_errors("Cannot delete the preset", self.delete_preset, data[1])

    # ===== files =====

    def open_config_file(self, path) -> None:
        """Load a .json/.toml (or nanoGPT .py) config; unknown settings are an error (the file is ours)."""
        current = self.config()
        cfg = load_config(path, base=TrainConfig(dataset=current.dataset))
        self.set_config(cfg)
        self._show_file_status(f"Loaded {Path(path).name}.")

    def save_config_file(self, path) -> Path:
        path = Path(path)
        if path.suffix.lower() not in (".json", ".toml"):
            path = path.with_name(path.name + ".json")
        save_config(self.config(), path)
        self._show_file_status(f"Saved {path.name}.")
        return path

    def import_nanogpt_file(self, path) -> list[str]:
        """Read a nanoGPT config/*.py without running it: train.py's defaults + the file's settings.

        Settings GPT Studio does not have are skipped and returned (and listed under the form).
        """
        data = read_config_file(path)
        known, skipped = {}, []
        for key, value in data.items():
            if key in IGNORED_NANOGPT_KEYS:
                continue
            if ALIASES.get(key, key) in FIELDS:
                known[key] = value
            else:
                skipped.append(key)
        current = self.config()
        self.set_config(TrainConfig(dataset=current.dataset).update(known))
        note = f"Imported {Path(path).name}."
        if skipped:
            note += f" Skipped settings GPT Studio does not have: {', '.join(skipped)}."
        self._show_file_status(note)
        return skipped

    def _show_file_status(self, text: str) -> None:
        self.fileStatusLabel.setText(text)
        self.fileStatusLabel.show()

    def _last_folder(self) -> str:
        return str(self.settings.get("config.last_folder") or Path.home())

    def _remember_folder(self, path: str) -> None:
        self.settings.set("config.last_folder", str(Path(path).parent))

    def _ask_open_config(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open config", self._last_folder(), "Configs (*.json *.toml *.py);;All files (*)"
        )
        if path:
            self._remember_folder(path)
            self._run_reporting_errors("Cannot open the config", self.open_config_file, path)

    def _ask_save_config(self) -> None:
        cfg = self.config()
        suggestion = str(Path(self._last_folder()) / f"{cfg.run_name or cfg.dataset or 'config'}.json")
        path, _ = QFileDialog.getSaveFileName(self, "Save config as", suggestion, "JSON (*.json);;TOML (*.toml)")
        if path:
            self._remember_folder(path)
            self._run_reporting_errors("Cannot save the config", self.save_config_file, path)

    def _ask_import_nanogpt(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Import nanoGPT config", self._last_folder(), "nanoGPT config (*.py);;All files (*)"
        )
        if path:
            self._remember_folder(path)
            self._run_reporting_errors("Cannot import the nanoGPT config", self.import_nanogpt_file, path)

    def _run_reporting_errors(self, title: str, fn, *args):
        """Run a file/preset action; a user-fixable problem becomes a dialog with its message."""
        try:
            return fn(*args)
        except (GPTStudioError, OSError) as e:
            QMessageBox.warning(self, title, str(e))
            return None

    # ===== remembered between launches =====

    def _restored_config(self) -> TrainConfig:
        """The last config from the settings; stored values that no longer fit are dropped one by one."""
        stored = self.settings.get(LAST_CONFIG_KEY)
        cfg = TrainConfig()
        if not isinstance(stored, dict):
            return cfg
        for key, value in stored.items():
            try:
                cfg.update({key: value})
            except ConfigError:
                continue  # an unknown or damaged setting: keep the default for it
        return cfg

    def _on_show_advanced(self, on: bool) -> None:
        self.settings.set(SHOW_ADVANCED_KEY, on)
        self._apply_advanced_visibility()

    def _apply_advanced_visibility(self) -> None:
        on = self.showAdvancedCheck.isChecked()
        for name, (_label, widget) in self._rows.items():
            if field_meta(name).get("advanced"):
                form = widget.parentWidget()._form
                form.setRowVisible(widget, on or name in self.invalid_fields())


def format_epochs(e: float) -> str:
    return f"{e:.2f}" if e < 10 else f"{e:.1f}" if e < 100 else f"{e:,.0f}"


def _describe_device(value: str) -> str:
    info = device_info(value) if value else None
    return f"{value} — {info.label}" if info else f"{value} — not on this machine"
