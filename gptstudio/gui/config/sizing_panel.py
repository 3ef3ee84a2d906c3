"""Size it for my data: "I have … minutes", Suggest (core.sizing.suggest_config, which times the candidate
model on the device, run on the panel's JobRunner), the suggestion in a sentence or two with its
warnings, and Apply. Below, the fit check of the settings on show (overfitting, underfitting)."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QGroupBox, QHBoxLayout, QLabel, QPushButton, QSpinBox, QVBoxLayout

from gptstudio.core.config import TrainConfig
from gptstudio.core.sizing import Suggestion, fit_warnings, suggest_config
from gptstudio.gui.jobs import JobRunner
from gptstudio.gui.settings import AppSettings
from gptstudio.gui.state.sizing_state import DEFAULT_MINUTES, SizingState, fit_summary, sizing_key, suggestion_summary

MINUTES_KEY = "config.sizing_minutes"
WARNING_COLOUR = "#b26a00"


class SizingPanel(QGroupBox):
    """Signals out: `sig_apply(Suggestion)` (Apply pressed). Methods in: show_config(cfg, meta), suggest(),
    apply(), set_minutes(m); read: minutes(), suggestion(), is_suggesting(), shutdown()."""

    sig_apply = Signal(object)

    def __init__(self, settings: AppSettings, parent=None):
        super().__init__("Size it for my data", parent)
        self.setObjectName("sizingPanel")
        self.settings = settings
        self.state = SizingState()
        self._cfg: TrainConfig | None = None
        self._meta: dict | None = None
        self._pending_key: tuple | None = None  # what the suggestion being made is for
        self._job = JobRunner(self)
        self._job.progressed.connect(lambda message: self._say(html.escape(str(message))))
        self._job.succeeded.connect(self._on_suggested)
        self._job.failed.connect(self._on_failed)
        self._job.finished.connect(self._update_controls)
        self._build()

    def _build(self) -> None:
        self.minutes_spin = QSpinBox(objectName="sizingMinutes", minimum=1, maximum=100_000, suffix=" minutes")
        self.minutes_spin.setToolTip("How long you want to train for. The suggestion fills this time, or says why not.")
        try:
            self.minutes_spin.setValue(int(self.settings.get(MINUTES_KEY, DEFAULT_MINUTES)))
        except (TypeError, ValueError):
            self.minutes_spin.setValue(DEFAULT_MINUTES)
        self.minutes_spin.valueChanged.connect(self._on_minutes)
        self.suggest_button = QPushButton("Suggest", objectName="sizingSuggestButton")
        self.suggest_button.setToolTip(
            "Time a few training steps on the device, then suggest a model shape, batch, context and iterations "
            "for this dataset, the device's memory and your time (from published scaling results)."
        )
        self.suggest_button.clicked.connect(self.suggest)
        self.apply_button = QPushButton("Apply", objectName="sizingApplyButton", enabled=False)
        self.apply_button.setToolTip("Put the suggested settings in the form (the dataset and run name stay).")
        self.apply_button.clicked.connect(self.apply)
        row = QHBoxLayout()
        row.addWidget(QLabel("I have"))
        row.addWidget(self.minutes_spin, 1)
        row.addWidget(self.suggest_button)
        row.addWidget(self.apply_button)
        self.result_label = QLabel(objectName="sizingResult", wordWrap=True, textFormat=Qt.TextFormat.RichText)
        self.result_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.fit_label = QLabel(objectName="fitWarnings", wordWrap=True)
        self.fit_label.setStyleSheet(f"color: {WARNING_COLOUR};")
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.result_label)
        layout.addWidget(self.fit_label)
        self.result_label.hide()  # until there is something to say
        self._update_controls()

    # ---- methods in

    def show_config(self, cfg: TrainConfig, meta: dict | None) -> None:
        """The settings on show and their dataset's meta: the fit check follows them at once."""
        self._cfg, self._meta = cfg, meta
        if self.state.suggestion is not None and self.suggestion() is None:
            self.state = SizingState()
            self._say("The dataset, device or time changed: press Suggest for new settings.")
        self.fit_label.setText(fit_summary(fit_warnings(cfg, meta)))
        self.fit_label.setVisible(bool(self.fit_label.text()))
        self._update_controls()

    def minutes(self) -> int:
        return self.minutes_spin.value()

    def set_minutes(self, minutes: int) -> None:
        self.minutes_spin.setValue(int(minutes))

    def suggest(self) -> None:
        """Time the device and suggest settings for the dataset on show, in the background."""
        if self._cfg is None or not self._meta:
            self._say("Choose a dataset first: the suggestion is sized for its tokens.")
            return
        self._say("Timing the device…")
        self._job.start(suggest_config, self._meta, float(self.minutes()), self._cfg)
        self._pending_key = self._key()
        self._update_controls()

    def suggestion(self) -> Suggestion | None:
        """The suggestion for the settings on show (None when there is none or it was made for others)."""
        return self.state.current(self._key()) if self._cfg is not None else None

    def apply(self) -> None:
        suggestion = self.suggestion()
        if suggestion is not None:
            self.sig_apply.emit(suggestion)

    def is_suggesting(self) -> bool:
        return self._job.is_running()

    def shutdown(self, timeout_ms: int = 30_000) -> None:
        self._job.shutdown(timeout_ms)

    # ---- internals

    def _key(self) -> tuple:
        assert self._cfg is not None
        return sizing_key(self._cfg, self._meta, self.minutes())

    def _on_minutes(self, minutes: int) -> None:
        self.settings.set(MINUTES_KEY, minutes, save=False)
        if self._cfg is not None:
            self.show_config(self._cfg, self._meta)

    def _on_suggested(self, suggestion: Suggestion) -> None:
        if self._pending_key != self._key():
            self._say("The dataset, device or time changed meanwhile: press Suggest again.")
            return
        self.state.take(suggestion, self._pending_key)
        warnings = "".join(
            f'<p style="color:{WARNING_COLOUR}">⚠ {html.escape(w.message)}</p>' for w in suggestion.warnings
        )
        self._say(
            f"<p>{html.escape(suggestion.explanation)}</p><p><b>{html.escape(suggestion_summary(suggestion))}</b>"
            f"</p>{warnings}"
        )

    def _on_failed(self, message: str) -> None:
        self._say(html.escape(message))

    def _say(self, text: str) -> None:
        self.result_label.setText(text)
        self.result_label.setVisible(bool(text))

    def _update_controls(self) -> None:
        busy = self._job.is_running()
        self.suggest_button.setEnabled(not busy and bool(self._meta))
        self.apply_button.setEnabled(not busy and self.suggestion() is not None)
