"""What the serve panel says, from the server's events (Qt-free)."""

from gptstudio.core.server import RequestFinished, ServerStarted
from gptstudio.gui.state.server_status import ServerStatus


def test_a_server_life():
    status = ServerStatus()
    assert not status.running and "OpenAI client" in status.headline()
    status.starting("tiny")
    assert status.running and status.headline() == "Starting the server for tiny…" and status.url == ""
    status.on_event(ServerStarted("http://127.0.0.1:8000/v1", "tiny", "127.0.0.1", 8000, False))
    assert status.state == "serving" and status.url == "http://127.0.0.1:8000/v1"
    assert status.headline().endswith("no requests yet.")
    status.on_event(RequestFinished("POST", "/v1/completions", 200, 0.5, 12))
    status.on_event(RequestFinished("GET", "/v1/models", 200, 0.0))
    assert status.requests == 2 and status.tokens == 12
    assert "2 requests, 12 tokens" in status.headline() and "GET /v1/models 200" in status.headline()
    status.stopped()
    assert not status.running and status.url == ""
    status.starting("tiny")
    assert status.requests == 0  # a new server counts afresh


def test_a_server_that_cannot_start_says_why():
    status = ServerStatus()
    status.starting("tiny")
    status.failed("Port 8000 on 127.0.0.1 is already in use: stop the program using it, or choose another port.")
    assert not status.running and status.headline().startswith("The server could not run: Port 8000")
