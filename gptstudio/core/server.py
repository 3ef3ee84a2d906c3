"""A local OpenAI-compatible server for one model: what editors, Open WebUI and scripts already speak.

`serve` is the job the CLI (`gptstudio serve`) and the GUI run: it binds the socket (127.0.0.1
unless told otherwise; `ServerStarted.warning` says when the server is reachable from other
machines), serves the HTTP API of core/openai_api.py with uvicorn, reports `ServerStarted` once it
accepts connections and a `RequestFinished` per request, and runs until `cancel` is set. Requests
queue on the one model (core/generation_queue.py).

This module is light (no torch, no web framework until `serve` runs), so front ends can show its
defaults and events without loading either.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gptstudio.core.errors import Cancelled, GPTStudioError

if TYPE_CHECKING:
    from gptstudio.core.sampler import Sampler

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


# ---------------------------------------------------------------------------------------------
# what the server reports (to the CLI's output, the GUI's log)


@dataclass(frozen=True)
class ServerStarted:
    url: str  # the base URL clients use, e.g. http://127.0.0.1:8000/v1
    model: str
    host: str
    port: int
    api_key: bool  # whether requests need the key

    @property
    def exposed(self) -> bool:
        """Reachable from other machines (not bound to a loopback address)."""
        return not _is_loopback(self.host)

    @property
    def warning(self) -> str | None:
        if not self.exposed:
            return None
        key = "" if self.api_key else " Set an API key (--api-key) so that only your clients can use it."
        return (
            f"The server listens on {self.host}: other machines on your network can use this model at "
            f"http://<this machine's address>:{self.port}/v1.{key}"
        )


@dataclass(frozen=True)
class RequestFinished:
    method: str
    path: str
    status: int
    seconds: float
    completion_tokens: int = 0
    outcome: str = "done"  # "done", "cancelled" (the client went away) or "failed"

    def describe(self) -> str:
        text = f"{self.method} {self.path} {self.status}"
        if self.completion_tokens:
            text += f", {self.completion_tokens} tokens"
        text += f" in {self.seconds:.2f} s"
        return text + (f" ({self.outcome})" if self.outcome != "done" else "")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# ---------------------------------------------------------------------------------------------
# the job


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port (port 0: a free port). GPTStudioError if impossible."""
    if not isinstance(port, int) or not 0 <= port <= 65535:
        raise GPTStudioError(f"Invalid port {port!r}: use a number from 1 to 65535 (e.g. 8000).")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)  # the port is ours from now on (uvicorn serves on this very socket)
    except OSError as e:
        sock.close()
        if e.errno == errno.EADDRINUSE:
            raise GPTStudioError(
                f"Port {port} on {host} is already in use: stop the program using it, or choose another port (--port)."
            ) from None
        if e.errno in (errno.EACCES, errno.EPERM):
            raise GPTStudioError(f"Port {port} needs administrator rights: choose a port above 1023.") from None
        raise GPTStudioError(
            f"Cannot listen on {host}:{port} ({e.strerror or e}): use an address of this machine, e.g. {DEFAULT_HOST}."
        ) from None
    except UnicodeError:  # an impossible host name
        sock.close()
        raise GPTStudioError(f"{host!r} is not a host name or address: use e.g. {DEFAULT_HOST}.") from None
    sock.set_inheritable(True)
    return sock


def serve(
    sampler: Sampler,
    *,
    model_id: str,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    api_key: str | None = None,
    report: Callable[[Any], None] | None = None,
    cancel=None,
) -> None:
    """Serve the model until `cancel` is set (then raise Cancelled) or the process is interrupted.

    report gets ServerStarted once the server accepts connections, then a RequestFinished per request."""
    import uvicorn

    from gptstudio.core.generation_queue import GenerationQueue
    from gptstudio.core.openai_api import create_app

    sock = bind_socket(host, port)
    port = sock.getsockname()[1]
    queue = GenerationQueue()
    app = create_app(sampler, model_id, queue=queue, api_key=api_key or None, report=report)
    config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="off", timeout_graceful_shutdown=3)
    server = uvicorn.Server(config)
    url_host = DEFAULT_HOST if host in ("0.0.0.0", "") else (f"[{host}]" if ":" in host else host)
    started = ServerStarted(f"http://{url_host}:{port}/v1", model_id, host, port, bool(api_key))

    async def watch() -> None:
        while not server.started and not server.should_exit:
            await asyncio.sleep(0.02)
        if server.started and report is not None:
            report(started)
        while not server.should_exit:
            if cancel is not None and cancel.is_set():
                server.should_exit = True
            await asyncio.sleep(0.1)
        queue.close()  # running generations end, so that their connections can close

    async def run() -> None:
        watcher = asyncio.create_task(watch())
        try:
            await server.serve(sockets=[sock])
        finally:
            watcher.cancel()
            queue.close()

    try:
        asyncio.run(run())
    finally:
        sock.close()
    if cancel is not None and cancel.is_set():
        raise Cancelled("The server stopped.")
