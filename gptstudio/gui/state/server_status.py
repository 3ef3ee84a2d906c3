"""What the Playground's local server is doing, as text for its panel (Qt-free).

Fed with the `serve` job's events (core/server.py: `ServerStarted`, `RequestFinished`) and its end;
the panel shows `headline()` and `url`.
"""

from __future__ import annotations

from dataclasses import dataclass

from gptstudio.core.server import RequestFinished, ServerStarted


@dataclass
class ServerStatus:
    state: str = "stopped"  # "stopped", "starting", "serving" or "failed"
    model: str = ""
    url: str = ""
    requests: int = 0
    tokens: int = 0
    last: str = ""  # the last request, described
    error: str = ""

    def starting(self, model: str) -> None:
        self.state, self.model, self.url, self.error = "starting", model, "", ""
        self.requests = self.tokens = 0
        self.last = ""

    def on_event(self, event) -> None:
        if isinstance(event, ServerStarted):
            self.state, self.url, self.model = "serving", event.url, event.model
        elif isinstance(event, RequestFinished):
            self.requests += 1
            self.tokens += event.completion_tokens
            self.last = event.describe()

    def stopped(self) -> None:
        self.state, self.url = "stopped", ""

    def failed(self, message: str) -> None:
        self.state, self.url, self.error = "failed", "", message

    @property
    def running(self) -> bool:
        return self.state in ("starting", "serving")

    def headline(self) -> str:
        if self.state == "starting":
            return f"Starting the server for {self.model}…"
        if self.state == "failed":
            return f"The server could not run: {self.error}"
        if self.state == "stopped":
            return "Any OpenAI client (editors, Open WebUI, scripts) can talk to the chosen model."
        served = f"Serving {self.model} with the OpenAI API"
        if not self.requests:
            return f"{served}; no requests yet."
        plural = "s" if self.requests != 1 else ""
        return f"{served}: {self.requests} request{plural}, {self.tokens} tokens. Last: {self.last}"
