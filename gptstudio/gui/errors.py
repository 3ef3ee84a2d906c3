"""Unexpected exceptions in the GUI: log them to a file and show a dialog; the app keeps running."""

from __future__ import annotations

import datetime
import traceback

from gptstudio.core.workspace import log_dir


def log_file():
    return log_dir() / "gptstudio.log"


def log_exception(exc_type, exc, tb) -> str:
    """Append the traceback to the log file; return the text."""
    text = "".join(traceback.format_exception(exc_type, exc, tb))
    try:
        path = log_file()
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as f:
            f.write(f"--- {datetime.datetime.now().isoformat(timespec='seconds')}\n{text}\n")
    except OSError:
        pass
    return text


def install_excepthook(parent_widget_getter) -> None:
    """Route uncaught exceptions in slots to the log file and a dialog instead of killing the app."""
    import sys

    def hook(exc_type, exc, tb):
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc, tb)
            return
        log_exception(exc_type, exc, tb)
        try:
            from PySide6.QtWidgets import QMessageBox

            QMessageBox.critical(
                parent_widget_getter(),
                "Unexpected error",
                f"{exc_type.__name__}: {exc}\n\nDetails were written to {log_file()}.",
            )
        except Exception:
            pass

    sys.excepthook = hook
