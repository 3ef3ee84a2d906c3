"""File → Add to Applications Menu (Linux): puts GPT Studio into the desktop's launcher, or takes it out.

Like IntelliJ's "Create Desktop Entry…": the way someone who unpacked the desktop bundle (or pip-installed
the app) gets a menu entry and icon without a terminal. The work is `core.desktop_entry`, run by a JobRunner.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction

from gptstudio.core import desktop_entry
from gptstudio.gui.jobs import JobRunner

ADD_TEXT = "Add to &Applications Menu"
REMOVE_TEXT = "Remove from &Applications Menu"


class DesktopEntryAction(QAction):
    """A menu action that adds the entry when there is none and removes it when there is one."""

    sig_status = Signal(str)  # what was done, for the status bar
    sig_failed = Signal(str)  # one readable sentence

    def __init__(self, parent: QObject, data_home: Path | None = None):
        super().__init__(parent)
        self.setObjectName("actionDesktopEntry")
        self.data_home = data_home  # None: $XDG_DATA_HOME or ~/.local/share, read when used
        self.runner = JobRunner(self)
        self.runner.succeeded.connect(self._on_done)
        self.runner.failed.connect(self.sig_failed)
        self.runner.finished.connect(self.refresh)
        self.triggered.connect(self.toggle)
        self.refresh()

    def is_installed(self) -> bool:
        return desktop_entry.is_installed(self.data_home)

    def refresh(self) -> None:
        installed = self.is_installed()
        self.setText(REMOVE_TEXT if installed else ADD_TEXT)
        self.setStatusTip(
            f"Remove GPT Studio's entry ({desktop_entry.desktop_file(self.data_home)}) from the launcher"
            if installed
            else "Show GPT Studio, with its icon, in the desktop's applications menu and launcher"
        )
        self.setEnabled(not self.runner.is_running())

    def toggle(self) -> None:
        job = desktop_entry.uninstall_desktop_entry if self.is_installed() else desktop_entry.install_desktop_entry
        self.setEnabled(False)
        self.runner.start(job, self.data_home)

    def _on_done(self, result: desktop_entry.DesktopEntryResult) -> None:
        if result.command:
            self.sig_status.emit(f"GPT Studio is in the applications menu now ({result.desktop_file}).")
        else:
            self.sig_status.emit("GPT Studio is no longer in the applications menu.")

    def shutdown(self, timeout_ms: int = 5000) -> None:
        self.runner.shutdown(timeout_ms)
