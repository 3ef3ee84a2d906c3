"""The first-run guide: four steps from a text file to a chat, each with its button."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QGroupBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout

from gptstudio.gui.settings import AppSettings

HIDDEN_KEY = "guide_hidden"


class GuidedStart(QGroupBox):
    """Signals out: `sig_demo_requested()`, `sig_show_tab(title)`. Method in: update_visibility(has_runs).
    Shown until the workspace has a training run, or until the person hides it (remembered)."""

    sig_demo_requested = Signal()
    sig_show_tab = Signal(str)

    def __init__(self, settings: AppSettings, parent=None):
        super().__init__("Get started in four steps", parent, objectName="guidedStart")
        self.settings = settings
        self._has_runs = False
        steps = [
            ("Drop a text file on the left, or use the bundled demo text.", "Use demo text", "guideDemoButton", ""),
            ("Pick a preset (Tiny is quickest) on the Config tab.", "Open Config", "guideConfigButton", "Config"),
            (
                "Press Start on the Training tab and watch the loss fall.",
                "Open Training",
                "guideTrainingButton",
                "Training",
            ),
            ("Chat with your model in the Playground.", "Open Playground", "guidePlaygroundButton", "Playground"),
        ]
        layout = QVBoxLayout(self)
        for n, (text, label, name, tab) in enumerate(steps, 1):
            row = QHBoxLayout()
            row.addWidget(QLabel(f"<b>{n}</b>&nbsp;&nbsp;{html.escape(text)}", wordWrap=True), 1)
            button = QPushButton(label, objectName=name)
            if tab:
                button.clicked.connect(lambda _=False, t=tab: self.sig_show_tab.emit(t))
            else:
                button.clicked.connect(self.sig_demo_requested)
            row.addWidget(button)
            layout.addLayout(row)
        hide = QPushButton("Hide this guide", objectName="guideHideButton", flat=True)
        hide.clicked.connect(self.hide_for_good)
        layout.addWidget(hide, alignment=Qt.AlignmentFlag.AlignRight)

    def update_visibility(self, has_runs: bool) -> None:
        self._has_runs = has_runs
        self.setVisible(not self.settings.get(HIDDEN_KEY, False) and not has_runs)

    def hide_for_good(self) -> None:
        self.settings.set(HIDDEN_KEY, True, save=False)
        self.update_visibility(self._has_runs)
