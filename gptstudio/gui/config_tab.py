"""The Config tab: every training setting in a form generated from TrainConfig, with presets, live
validation, a suggested size for the dataset and the time at hand (with the fit check of the settings),
size/cost estimates, a measured speed and the learning-rate schedule.

An assembler of the panels in gptstudio/gui/config/; it keeps the workspace's datasets
(gui/state/config_checks.py) and, after each edit settles, validates the settings and hands them to
the panels that show them.

Where the run starts (init_from) is shown in one sentence (gui/state/start_point.py): starting from one
of the person's runs (pretrain on text, then fine-tune on conversations) takes that run's shape, and a
chat dataset made for a run selects that run as the start.

Public API for the window and the other tabs: `config()`, `set_config(cfg)`, `is_valid()`,
`problems()`, `set_dataset(name)`, `refresh_datasets()`, `apply_suggestion(s)`, `start_point()`,
`shutdown()`, and the signals `sig_config_changed(TrainConfig)` and `sig_validity_changed(bool)`.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QMessageBox, QVBoxLayout, QWidget

from gptstudio.core import presets
from gptstudio.core.config import (
    TrainConfig,
    known_settings,
    load_config,
    read_config_file,
    save_config,
)
from gptstudio.core.errors import ConfigError, GPTStudioError, Problem
from gptstudio.core.sizing import Suggestion
from gptstudio.core.workspace import Workspace
from gptstudio.gui.config.estimates_panel import EstimatesPanel
from gptstudio.gui.config.file_buttons import ConfigFileButtons
from gptstudio.gui.config.lr_plot import LrSchedulePlot
from gptstudio.gui.config.presets_bar import PresetsBar
from gptstudio.gui.config.problems_panel import ProblemsPanel
from gptstudio.gui.config.settings_form import SettingsForm
from gptstudio.gui.config.sizing_panel import SizingPanel
from gptstudio.gui.config.start_point_label import StartPointLabel
from gptstudio.gui.settings import AppSettings
from gptstudio.gui.state import last_config
from gptstudio.gui.state.config_checks import WorkspaceDatasets
from gptstudio.gui.state.start_point import StartPoint, StartPoints

REFRESH_MS = 150  # validation and estimates, after the person stops typing
SIDE_WIDTH = 400


class ConfigTab(QWidget):
    sig_config_changed = Signal(object)  # TrainConfig, after edits settle
    sig_validity_changed = Signal(bool)

    def __init__(self, workspace: Workspace, settings: AppSettings, parent=None):
        super().__init__(parent)
        self.setObjectName("configTab")
        self.workspace, self.settings = workspace, settings
        self.prefs = settings.for_workspace(workspace.home)
        self.datasets = WorkspaceDatasets(workspace)
        self.start_points = StartPoints(workspace)
        self._valid: bool | None = None
        self._last_emitted: TrainConfig | None = None
        self._refresh_timer = QTimer(self, singleShot=True, interval=REFRESH_MS, timeout=self.refresh_now)
        self.presets_bar = PresetsBar()
        self.file_buttons = ConfigFileButtons(settings)
        self.form = SettingsForm(settings)
        self.start_label = StartPointLabel()
        self.problems_panel = ProblemsPanel()
        self.sizing = SizingPanel(settings)
        self.estimates = EstimatesPanel(settings)
        self.lr_plot = LrSchedulePlot()
        self._lay_out()
        self.presets_bar.sig_preset_chosen.connect(self.apply_preset)
        for signal, title, action in (
            (self.presets_bar.sig_save_requested, "Cannot save the preset", self.save_preset),
            (self.file_buttons.sig_open, "Cannot open the config", self.open_config_file),
            (self.file_buttons.sig_save, "Cannot save the config", self.save_config_file),
            (self.file_buttons.sig_import, "Cannot import the nanoGPT config", self.import_nanogpt_file),
        ):
            signal.connect(lambda arg, title=title, action=action: self._reporting(title, action, arg))
        self.file_buttons.sig_defaults.connect(self.reset_to_defaults)
        self.sizing.sig_apply.connect(self.apply_suggestion)
        self.form.sig_edited.connect(self._refresh_timer.start)
        self.refresh_datasets()
        self.set_config(last_config.restored_config(self.prefs.get(last_config.KEY), settings.get(last_config.KEY)))

    def _lay_out(self) -> None:
        bar = QHBoxLayout()
        bar.addWidget(self.presets_bar)
        bar.addSpacing(12)
        bar.addWidget(self.form.show_advanced_check)
        bar.addStretch(1)
        bar.addWidget(self.file_buttons)
        side = QWidget(objectName="configSidePanel")
        side.setFixedWidth(SIDE_WIDTH)
        column = QVBoxLayout(side)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.start_label)
        column.addWidget(self.problems_panel)
        column.addWidget(self.estimates)
        column.addWidget(self.lr_plot, 1)
        self.form.add_panel(self.sizing)
        body = QHBoxLayout()
        body.addWidget(self.form, 1)
        body.addWidget(side, 0)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addLayout(body, 1)

    # ---- the settings

    def config(self) -> TrainConfig:
        """The settings as the form shows them now."""
        return self.form.config()

    def set_config(self, cfg: TrainConfig) -> None:
        """Show these settings (values the machine or workspace lacks are kept and flagged)."""
        self.form.set_config(cfg)
        self.refresh_now()

    def reset_to_defaults(self) -> None:
        current = self.config()
        self.set_config(TrainConfig(dataset=current.dataset, run_name=current.run_name))
        self.presets_bar.clear_choice()

    def problems(self) -> list[Problem]:
        """Every problem with the current settings, each with the fields it concerns (empty = ready)."""
        return self._problems(self.config())

    def _problems(self, cfg: TrainConfig, start: StartPoint | None = None) -> list[Problem]:
        return self.datasets.problems(cfg) + self.start_points.problems(cfg, self.datasets.meta(cfg.dataset), start)

    def start_point(self):
        """Where the current settings start (StartPoint: kind, text, the run's checkpoint)."""
        return self.start_points.of(self.config().init_from)

    def is_valid(self) -> bool:
        return not self.problems()

    def invalid_fields(self) -> set[str]:
        return self.form.invalid_fields()

    def is_refresh_pending(self) -> bool:
        """An edit has not been validated yet (it is, REFRESH_MS after the typing stops)."""
        return self._refresh_timer.isActive()

    def refresh_now(self) -> None:
        """Validate, mark, estimate, plot, remember, signal: everything that follows an edit."""
        self._refresh_timer.stop()
        cfg = self.config()
        start = self.start_points.of(cfg.init_from)
        built = self.start_points.apply(cfg, start)  # a run to fine-tune fixes the shape
        if built != cfg:
            self.form.set_config(built)
            cfg = built
        self.start_label.show_start(start)
        problems = self._problems(cfg, start)
        self.problems_panel.show_problems(problems)
        self.form.mark_problems(problems)
        self.estimates.show_estimates(cfg, self.datasets.meta(cfg.dataset))
        self.sizing.show_config(cfg, self.datasets.meta(cfg.dataset))
        self.lr_plot.show_schedule(cfg)
        self.presets_bar.follow(cfg)
        self.file_buttons.suggest_save_name(cfg.run_name or cfg.dataset)
        own, shared = last_config.to_remember(cfg)
        self.prefs.set(last_config.KEY, own, save=False)
        self.settings.set(last_config.KEY, shared)
        if self._valid is not (not problems):
            self._valid = not problems
            self.sig_validity_changed.emit(self._valid)
        if cfg != self._last_emitted:
            self._last_emitted = cfg
            self.sig_config_changed.emit(cfg)

    # ---- the workspace's datasets

    def refresh_datasets(self) -> None:
        """Re-read the workspace's datasets into the dataset combo (keeping the selection)."""
        self.datasets.reload()
        self.form.set_dataset_choices(self.datasets.choices())
        self.form.set_run_choices(self.start_points.choices())
        self._refresh_timer.start()

    def set_dataset(self, name: str) -> None:
        if name and name not in self.datasets.usable:
            self.refresh_datasets()
        cfg = self.config()
        cfg.dataset = name or ""
        made_for = (self.datasets.meta(cfg.dataset) or {}).get("tokenizer_from")
        if made_for and cfg.init_from == "scratch":
            cfg.init_from = made_for  # chat data made for a run: fine-tune that run
        self.set_config(cfg)

    def dataset_meta(self, cfg: TrainConfig | None = None) -> dict | None:
        return self.datasets.meta((cfg or self.config()).dataset)

    def apply_suggestion(self, suggestion: Suggestion) -> None:
        """Fill the form with a suggested size (the dataset, run name, device and the rest stay)."""
        self.set_config(suggestion.apply(self.config()))
        self.presets_bar.clear_choice()

    # ---- presets

    def apply_preset(self, name: str) -> None:
        """Fill the form with a preset (built-in or the person's), keeping the dataset and run name."""
        settings = presets.all_presets().get(name)
        if settings is None:
            raise ConfigError(f"There is no preset named '{name}'.")
        self.set_config(presets.apply_preset(settings, self.config()))
        self.presets_bar.reload(select=name)

    def save_preset(self, name: str) -> None:
        presets.save_user_preset(name, self.config())
        self.presets_bar.reload(select=name.strip())

    # ---- files

    def open_config_file(self, path) -> None:
        """Load a .json/.toml (or nanoGPT .py) config; unknown settings are an error (the file is ours)."""
        self.set_config(load_config(path, base=TrainConfig(dataset=self.config().dataset)))
        self.problems_panel.show_file_status(f"Loaded {Path(path).name}.")

    def save_config_file(self, path) -> Path:
        path = Path(path)
        if path.suffix.lower() not in (".json", ".toml"):
            path = path.with_name(path.name + ".json")
        save_config(self.config(), path)
        self.problems_panel.show_file_status(f"Saved {path.name}.")
        return path

    def import_nanogpt_file(self, path) -> list[str]:
        """Read a nanoGPT config/*.py without running it: train.py's defaults + the file's settings.
        Settings GPT Studio does not have are skipped and returned (and listed under the form)."""
        known, skipped = known_settings(read_config_file(path))
        self.set_config(TrainConfig(dataset=self.config().dataset).update(known))
        note = f"Imported {Path(path).name}."
        if skipped:
            note += f" Skipped settings GPT Studio does not have: {', '.join(skipped)}."
        self.problems_panel.show_file_status(note)
        return skipped

    def _reporting(self, title: str, fn, *args):
        """Run a file or preset action; a problem the person can fix becomes a dialog with its message."""
        try:
            return fn(*args)
        except (GPTStudioError, OSError) as e:
            QMessageBox.warning(self, title, str(e))
            return None

    # ---- shutdown

    def shutdown(self) -> None:
        """Stop the benchmark thread before the widget goes away (the window calls this on close)."""
        self._refresh_timer.stop()
        self.estimates.shutdown()
        self.sizing.shutdown()

    def closeEvent(self, event) -> None:
        self.shutdown()
        super().closeEvent(event)
