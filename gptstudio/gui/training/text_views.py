"""The two text panes under the plots, each under a title: the latest sample the model wrote, and
the training log."""

from __future__ import annotations

import time

from PySide6.QtGui import QFont
from PySide6.QtWidgets import QLabel, QPlainTextEdit, QVBoxLayout, QWidget

from gptstudio.core.events import CheckpointSaved, Eval, Event, Message, RunStarted, SettingsProblem


class SamplePreview(QPlainTextEdit):
    """The short text the model wrote at the latest eval (when eval_sample_tokens > 0)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("samplePreview")
        self.setReadOnly(True)
        mono = QFont("monospace")
        mono.setStyleHint(QFont.StyleHint.TypeWriter)
        self.setFont(mono)
        self.setPlaceholderText("At every evaluation, a short text from the model appears here.")

    def show_eval(self, ev: Eval) -> None:
        if ev.sample:
            self.setPlainText(f"iteration {ev.iter}, val loss {ev.val_loss:.4f}\n\n{ev.sample}")


class TrainingLog(QPlainTextEdit):
    """Timestamped messages from the engine and the tab (the last 5,000 lines)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("trainLog")
        self.setReadOnly(True)
        self.setMaximumBlockCount(5000)
        self.setPlaceholderText("Messages from the training engine.")

    def log(self, text: str, level: str = "info") -> None:
        prefix = {"error": "Error: "}.get(level, "")
        self.appendPlainText(f"[{time.strftime('%H:%M:%S')}] {prefix}{text}")

    def show_event(self, ev: Event) -> None:
        """The line an event is worth (steps and the end are shown elsewhere)."""
        if isinstance(ev, RunStarted):
            procs = f", {ev.world_size} processes" if ev.world_size > 1 else ""
            self.log(
                f"Run '{ev.run}' on {ev.device} ({ev.dtype}{procs}): {ev.n_params / 1e6:.2f}M parameters, "
                f"iterations {ev.start_iter}→{ev.max_iters}, {ev.tokens_per_iter:,} tokens per iteration."
            )
        elif isinstance(ev, Eval):
            self.log(f"iteration {ev.iter}: train loss {ev.train_loss:.4f}, val loss {ev.val_loss:.4f}")
        elif isinstance(ev, CheckpointSaved):
            self.log(f"Saved {'best checkpoint' if ev.best else 'checkpoint'} at iteration {ev.iter}: {ev.path}")
        elif isinstance(ev, SettingsProblem):
            self.log(f"Settings problem: {ev.message}", "error")
        elif isinstance(ev, Message):
            self.log(ev.text, ev.level)


def titled(title: str, widget: QWidget) -> QWidget:
    """The widget under a bold title."""
    box = QWidget()
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addWidget(QLabel(f"<b>{title}</b>"))
    layout.addWidget(widget)
    return box
