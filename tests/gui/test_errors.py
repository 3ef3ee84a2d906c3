"""An exception in a slot or worker is logged to a file and shown in a dialog; the app keeps running."""

import sys

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QMessageBox, QPushButton

from gptstudio.gui.errors import install_excepthook, log_file
from gptstudio.gui.jobs import JobRunner


def test_exception_in_slot_is_logged_and_shown(qtbot, monkeypatch):
    shown = []
    monkeypatch.setattr(QMessageBox, "critical", lambda *a, **k: shown.append(a[2]))
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # restored after the test
    button = QPushButton("boom")
    qtbot.addWidget(button)
    install_excepthook(lambda: button)

    def broken_slot():
        raise ValueError("a bug in a slot")

    button.clicked.connect(broken_slot)
    button.click()
    qtbot.waitUntil(lambda: bool(shown), timeout=3000)
    assert "ValueError: a bug in a slot" in shown[0] and str(log_file()) in shown[0]
    assert "a bug in a slot" in log_file().read_text()
    # still alive: the event loop keeps running timers
    ticks = []
    QTimer.singleShot(10, lambda: ticks.append(1))
    qtbot.waitUntil(lambda: bool(ticks), timeout=2000)


def test_exception_in_a_job_becomes_failed_signal_and_log(qtbot):
    def job(*, report, cancel):
        raise KeyError("unexpected in a worker")

    runner = JobRunner()
    failures = []
    runner.failed.connect(failures.append)
    with qtbot.waitSignal(runner.finished, timeout=5000):
        runner.start(job)
    assert failures and "KeyError" in failures[0]
    assert "unexpected in a worker" in log_file().read_text()
    assert runner.shutdown(5000)
