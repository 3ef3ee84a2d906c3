"""Helpers of the Dataset panels' tests: find a widget, real drops, an event-loop probe, a gate."""

import threading
import time
import warnings

from PySide6.QtCore import QMimeData, QPointF, Qt, QTimer, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QWidget

WAIT_MS = 60_000  # generous: the CI machine may be slow and shared


def find(parent, name):
    widget = parent.findChild(QWidget, name)
    assert widget is not None, name
    return widget


def send_drop(widget, urls):
    """A real drag-enter + drop of these URLs on `widget`, as a file manager sends them."""
    mime = QMimeData()
    mime.setUrls(urls)
    pos = QPointF(widget.rect().center())
    with warnings.catch_warnings():  # PySide marks the only (QPoint) constructor deprecated
        warnings.simplefilter("ignore", DeprecationWarning)
        enter = QDragEnterEvent(
            pos.toPoint(), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
        )
    QApplication.sendEvent(widget, enter)
    assert enter.isAccepted()
    event = QDropEvent(pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, event)
    assert event.isAccepted()


def drop_files(qtbot, tab, paths):
    """Drop files on a Dataset tab's drop area and wait for their check."""
    send_drop(find(tab, "datasetDropArea"), [QUrl.fromLocalFile(str(p)) for p in paths])
    qtbot.waitUntil(lambda: not tab.is_checking(), timeout=WAIT_MS)


class LoopProbe:
    """A 20 ms QTimer recording the time between its ticks: the event loop's longest stall."""

    def __init__(self, qtbot):
        self.qtbot, self.gaps, self.last = qtbot, [], None
        self.timer = QTimer()
        self.timer.setInterval(20)
        self.timer.timeout.connect(self._tick)

    def _tick(self):
        now = time.monotonic()
        if self.last is not None:
            self.gaps.append(now - self.last)
        self.last = now

    def __enter__(self):
        self.timer.start()
        self.qtbot.waitUntil(lambda: self.last is not None)  # measure from a first tick
        return self

    def __exit__(self, *exc):
        self.timer.stop()

    def worst(self) -> float:
        return max(self.gaps, default=0.0)


class Gate:
    """Holds a background job at a point of the test's choosing: `hold(fn)` wraps fn so that its first
    call waits (in the job's thread) until `open()`; `entered` tells that the job got there."""

    def __init__(self):
        self.entered, self._open = threading.Event(), threading.Event()

    def hold(self, fn):
        def held(*args, **kwargs):
            if not self.entered.is_set():
                self.entered.set()
                self._open.wait(30)  # bounded: a job run in the GUI thread by mistake still ends
            return fn(*args, **kwargs)

        return held

    def open(self):
        self._open.set()
