"""Serve this model: the chosen model behind an OpenAI-compatible API on this computer, with its URL.

The panel asks for a model with `serveRequested(port)`; its owner answers with `start(sampler, name,
port)`. The server (core/server.py's `serve`) runs on the panel's JobRunner until Stop (or the window
closes: `shutdown`). It listens on 127.0.0.1 only; `gptstudio serve --host` opens one to a network.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QGroupBox, QHBoxLayout, QLabel, QLineEdit, QPushButton, QSpinBox, QVBoxLayout

from gptstudio.core.server import DEFAULT_HOST, DEFAULT_PORT, serve
from gptstudio.gui.jobs import JobRunner
from gptstudio.gui.playground.style import ERROR_STYLE
from gptstudio.gui.state.server_status import ServerStatus


class ServePanel(QGroupBox):
    serveRequested = Signal(int)  # the user pressed Serve: the owner starts the chosen model on this port
    changed = Signal()  # started, stopped, failed, or a request was served

    def __init__(self, parent=None):
        super().__init__("Serve (OpenAI API)", parent)
        self.setObjectName("servePanel")
        self.status = ServerStatus()
        self.port_spin = QSpinBox(
            objectName="servePortSpin",
            minimum=1024,
            maximum=65535,
            value=DEFAULT_PORT,
            toolTip="The TCP port of the server on this computer (127.0.0.1).",
        )
        self.serve_button = QPushButton(
            "Serve this model",
            objectName="serveButton",
            toolTip="Let OpenAI-compatible programs on this computer talk to the chosen model "
            "(gptstudio serve --host opens a server to your network).",
        )
        self.url_edit = QLineEdit(objectName="serveUrlEdit", readOnly=True, placeholderText="not serving")
        self.copy_button = QPushButton("Copy", objectName="copyServeUrlButton", toolTip="Copy the base URL.")
        self.message = QLabel(objectName="serveStatus", wordWrap=True)
        top = QHBoxLayout()
        top.addWidget(QLabel("Port"))
        top.addWidget(self.port_spin)
        top.addWidget(self.serve_button, 1)
        url = QHBoxLayout()
        url.addWidget(self.url_edit, 1)
        url.addWidget(self.copy_button)
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addLayout(url)
        lay.addWidget(self.message)
        self.runner = JobRunner(self)
        self.runner.progressed.connect(self._on_event)
        self.runner.failed.connect(self._on_failed)
        self.runner.cancelled.connect(self._on_stopped)
        self.runner.succeeded.connect(self._on_stopped)
        self.serve_button.clicked.connect(self._on_button)
        self.copy_button.clicked.connect(self.copy_url)
        self._show()

    # ------------------------------------------------------------------------------ the owner's side
    def start(self, sampler, model_id: str, port: int | None = None) -> None:
        """Serve this model (a Sampler) as `model_id`; a server already running is stopped first."""
        self.stop()
        if port is not None:
            self.port_spin.setValue(port)
        self.status.starting(model_id)
        self.runner.start(serve, sampler, model_id=model_id, host=DEFAULT_HOST, port=self.port_spin.value())
        self._show()

    def stop(self) -> None:
        if self.runner.is_running():
            self.runner.cancel()
            self._on_stopped()

    def refuse(self, message: str) -> None:
        """Say why serving cannot start (no model chosen, or not loaded yet)."""
        self.status.failed(message)
        self._show()

    def is_serving(self) -> bool:
        return self.status.state == "serving"

    def url(self) -> str:
        return self.status.url

    def port(self) -> int:
        return self.port_spin.value()

    def copy_url(self) -> None:
        if self.status.url:
            QGuiApplication.clipboard().setText(self.status.url)

    def shutdown(self, timeout_ms: int = 15_000) -> bool:
        """Stop the server and wait for its thread (the window is closing)."""
        ended = self.runner.shutdown(timeout_ms)
        self.status.stopped()
        return ended

    # ------------------------------------------------------------------------------------ inside
    def _on_button(self) -> None:
        if self.status.running:
            self.stop()
        else:
            self.serveRequested.emit(self.port_spin.value())

    def _on_event(self, event) -> None:
        self.status.on_event(event)
        self._show()

    def _on_failed(self, message: str) -> None:
        self.status.failed(message)
        self._show()

    def _on_stopped(self, *_args) -> None:
        if self.status.state != "failed":
            self.status.stopped()
        self._show()

    def _show(self) -> None:
        running = self.status.running
        self.serve_button.setText("Stop serving" if running else "Serve this model")
        self.port_spin.setEnabled(not running)
        self.url_edit.setText(self.status.url)
        self.copy_button.setEnabled(bool(self.status.url))
        self.message.setText(self.status.headline())
        self.message.setStyleSheet(ERROR_STYLE if self.status.state == "failed" else "")
        self.changed.emit()
