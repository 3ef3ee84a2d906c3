"""How imported documents are cleaned: a checkbox per step, and a preview of the selected file's start
before and after, with the changes marked and what each step removed from it (for plain text, which
is used as it is, the text itself).

The preview is core.text_import.preview_cleanup run on the panel's JobRunner whenever the file or the
choices change (after the clicks settle); the choices are remembered in the app's settings.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QRadioButton,
    QSpinBox,
    QTextBrowser,
    QVBoxLayout,
)

from gptstudio.core.cleanup import STEP_HELP, STEP_LABELS, STEPS, CleanupOptions, CleanupPreview
from gptstudio.core.text_import import preview_cleanup
from gptstudio.core.textfiles import TextFileInfo
from gptstudio.gui.dataset.cleanup_html import MODES, preview_html, removed_text
from gptstudio.gui.jobs import JobRunner
from gptstudio.gui.settings import AppSettings

OPTIONS_KEY = "dataset.cleanup"
SETTLE_MS = 200  # the preview waits until the clicks settle
MODE_LABELS = {"changes": "Changes", "before": "Before", "after": "After"}
COLUMNS = 3  # of checkboxes


class CleanupPanel(QGroupBox):
    """Signals out: `sig_options_changed(CleanupOptions)`. Methods in: preview_file(info, text_field),
    set_options(options); read: options(), preview(), is_previewing(), shutdown()."""

    sig_options_changed = Signal(object)

    def __init__(self, settings: AppSettings, parent=None):
        super().__init__("Preview and cleanup", parent)
        self.setObjectName("cleanupPanel")
        self.settings = settings
        self._file: TextFileInfo | None = None
        self._text_field: str | None = None
        self._preview: CleanupPreview | None = None
        self._job = JobRunner(self)
        self._job.succeeded.connect(self._on_preview)
        self._job.failed.connect(self._on_preview_failed)
        self._timer = QTimer(self, singleShot=True, interval=SETTLE_MS, timeout=self._start_preview)
        self._build()
        self.set_options(CleanupOptions.from_dict(settings.get(OPTIONS_KEY)))
        self._connect()

    def _build(self) -> None:
        self.checks: dict[str, QCheckBox] = {}
        grid = QGridLayout()
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setVerticalSpacing(2)
        for i, step in enumerate(STEPS):
            check = QCheckBox(STEP_LABELS[step], objectName=f"cleanup_{step}", toolTip=STEP_HELP[step])
            self.checks[step] = check
            if step != "short":
                grid.addWidget(check, i // COLUMNS, i % COLUMNS)
        self.min_chars = QSpinBox(objectName="cleanupMinChars", minimum=1, maximum=1_000_000, suffix=" characters")
        self.min_chars.setToolTip(STEP_HELP["short"])
        short = QHBoxLayout()
        short.setSpacing(4)
        short.addWidget(self.checks["short"])
        short.addWidget(self.min_chars)
        short.addStretch(1)
        last = len(STEPS) - 1
        grid.addLayout(short, last // COLUMNS, last % COLUMNS, 1, COLUMNS - last % COLUMNS)
        self.plain_text = QCheckBox("Clean .txt files too", objectName="cleanupPlainText")
        self.plain_text.setToolTip(
            "Off: plain text files are used exactly as they are, as nanoGPT uses them. On: they are cleaned like "
            "documents."
        )
        grid.addWidget(self.plain_text, last // COLUMNS + 1, 0)

        self.mode_buttons = QButtonGroup(self)
        modes = QHBoxLayout()
        modes.setSpacing(8)
        modes.addStretch(1)
        modes.addWidget(QLabel("Preview:"))
        for mode in MODES:
            button = QRadioButton(MODE_LABELS[mode], objectName=f"cleanupShow_{mode}")
            self.mode_buttons.addButton(button)
            modes.addWidget(button)
            if mode == "changes":
                button.setChecked(True)
        grid.addLayout(modes, (len(STEPS) - 1) // COLUMNS + 1, 1, 1, COLUMNS - 1)
        self.view = QTextBrowser(objectName="cleanupPreview")
        self.view.setMinimumHeight(48)
        self.view.setPlaceholderText("Select a file in the list to see its text, and what the cleanup changes in it.")
        self.removed_label = QLabel(objectName="cleanupRemoved", wordWrap=True)
        self.removed_label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        layout = QVBoxLayout(self)
        layout.addLayout(grid)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.removed_label)

    def _connect(self) -> None:
        for check in (*self.checks.values(), self.plain_text):
            check.toggled.connect(self._on_changed)
        self.min_chars.valueChanged.connect(self._on_changed)
        self.mode_buttons.buttonToggled.connect(lambda _b, on: on and self._render())

    # ---- methods in

    def options(self) -> CleanupOptions:
        return CleanupOptions(
            **{step: check.isChecked() for step, check in self.checks.items()},
            min_chars=self.min_chars.value(),
            plain_text=self.plain_text.isChecked(),
        )

    def set_options(self, options: CleanupOptions) -> None:
        for step, check in self.checks.items():
            check.setChecked(getattr(options, step))
        self.min_chars.setValue(max(1, options.min_chars))
        self.plain_text.setChecked(options.plain_text)
        self.min_chars.setEnabled(options.short)

    def preview_file(self, info: TextFileInfo | None, text_field: str | None = None) -> None:
        """Preview the cleanup of this file's start (None: nothing selected)."""
        self._file, self._text_field = info, text_field
        self._timer.start()

    def preview(self) -> CleanupPreview | None:
        """The preview on show (None while there is none)."""
        return self._preview

    def mode(self) -> str:
        checked = self.mode_buttons.checkedButton()
        return checked.objectName().removeprefix("cleanupShow_") if checked else "changes"

    def is_previewing(self) -> bool:
        return self._timer.isActive() or self._job.is_running()

    def shutdown(self, timeout_ms: int = 10_000) -> None:
        self._timer.stop()
        self._job.shutdown(timeout_ms)

    # ---- internals

    def _on_changed(self, *_args) -> None:
        options = self.options()
        self.min_chars.setEnabled(options.short)
        self.settings.set(OPTIONS_KEY, options.to_dict(), save=False)
        self.sig_options_changed.emit(options)
        self._timer.start()

    def _start_preview(self) -> None:
        if self._file is None:
            self._job.cancel()
            self._preview = None
            self.view.clear()
            self.removed_label.clear()
            return
        self.removed_label.setText(f"Reading {Path(self._file.path).name}…")
        self._job.start(preview_cleanup, Path(self._file.path), self.options(), text_field=self._text_field)

    def _on_preview(self, preview: CleanupPreview) -> None:
        self._preview = preview
        self._render()

    def _on_preview_failed(self, message: str) -> None:
        self._preview = None
        self.view.clear()
        self.removed_label.setText(message)

    def _render(self) -> None:
        if self._preview is None:
            return
        self.view.setHtml(preview_html(self._preview, self.mode()))
        self.removed_label.setText(removed_text(self._preview))
        self.view.setToolTip(
            "Red, struck through: removed. Green, underlined: added. ↵ is a line break, · a space."
            if self.mode() == "changes"
            else ""
        )
