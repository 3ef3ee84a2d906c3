"""`gptstudio serve RUN [--host 127.0.0.1] [--port 8000] [--api-key KEY]`: an OpenAI-compatible local server.

Any OpenAI client talks to the model at http://127.0.0.1:8000/v1 (core/server.py has the details).
The server's address and each request go to stdout; Ctrl+C stops it.
"""

from __future__ import annotations

import os
import sys

from gptstudio.commands.model_choice import add_model_arguments, open_model
from gptstudio.core.server import DEFAULT_HOST, DEFAULT_PORT, RequestFinished, ServerStarted, serve


def register(sub) -> None:
    p = sub.add_parser(
        "serve",
        help="serve a model with an OpenAI-compatible HTTP API (for editors, Open WebUI, scripts)",
        description="Serve a run's model (or a pretrained GPT-2) at http://HOST:PORT/v1 with the OpenAI API: "
        "GET /v1/models, POST /v1/completions and /v1/chat/completions, streaming included. "
        "Requests are answered one at a time.",
    )
    add_model_arguments(p)
    p.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help="address to listen on (default %(default)s: this machine only; 0.0.0.0 opens it to your network)",
    )
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help="TCP port (default %(default)s; 0 = any free port)")
    p.add_argument(
        "--api-key",
        default=os.environ.get("GPTSTUDIO_API_KEY"),
        metavar="KEY",
        help="require 'Authorization: Bearer KEY' on every request (default: $GPTSTUDIO_API_KEY, else none)",
    )
    p.set_defaults(func=run)


def _print(event) -> None:
    if isinstance(event, ServerStarted):
        key = event.api_key
        print(f"Serving {event.model} with the OpenAI API at {event.url}  (Ctrl+C stops)")
        print("Try it:")
        auth = ' -H "Authorization: Bearer $KEY"' if key else ""
        print(
            f"  curl {event.url}/chat/completions -H 'Content-Type: application/json'{auth} "
            f"""-d '{{"messages": [{{"role": "user", "content": "Hello"}}], "max_tokens": 50}}'"""
        )
        print(f'  python: OpenAI(base_url="{event.url}", api_key={"KEY" if key else repr("none")})')
        if event.warning:
            print(f"gptstudio: warning: {event.warning}", file=sys.stderr)
    elif isinstance(event, RequestFinished):
        print(event.describe())
    sys.stdout.flush()


def run(args) -> int:
    sampler, name = open_model(args)
    print(f"Loaded {sampler.summary()}", file=sys.stderr, flush=True)
    try:
        serve(sampler, model_id=name, host=args.host, port=args.port, api_key=args.api_key, report=_print)
    except KeyboardInterrupt:
        pass
    print("Server stopped.")
    return 0
