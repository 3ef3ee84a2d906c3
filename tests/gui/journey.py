"""Steps the end-to-end journeys share, done as a person does them in the real window."""

from PySide6.QtCore import QObject, Qt


def child(window, name):
    widget = window.findChild(QObject, name)
    assert widget is not None, name
    return widget


def press_start(qtbot, window, run_name: str):
    """Training tab: Start a run of this name (the name dialog answered); returns the tab."""
    training = window.tab("Training")
    training.ask_run_name = lambda suggestion: run_name
    start = child(window, "startButton")
    qtbot.waitUntil(start.isEnabled, timeout=10_000)
    qtbot.mouseClick(start, Qt.LeftButton)
    return training


def send_in_playground(qtbot, window, text: str, max_tokens: int):
    """Playground: send a message once the model is loaded and wait for the reply; returns the tab."""
    playground = window.tab("Playground")
    qtbot.waitUntil(playground.models_ready, timeout=60_000)
    child(window, "maxTokensSpin").setValue(max_tokens)
    child(window, "promptInput").setPlainText(text)
    send = child(window, "sendButton")
    qtbot.waitUntil(send.isEnabled, timeout=10_000)
    qtbot.mouseClick(send, Qt.LeftButton)
    qtbot.waitUntil(lambda: not playground.generating(), timeout=60_000)
    return playground


def shut_down(window) -> None:
    for tab in ("Training", "Playground", "Dataset", "Config"):
        shutdown = getattr(window.tab(tab), "shutdown", None)
        if shutdown:
            shutdown()
