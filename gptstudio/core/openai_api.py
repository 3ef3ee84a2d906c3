"""The OpenAI HTTP API for one model (FastAPI): what core/server.py's `serve` runs.

    GET  /v1/models            the one model served (its id: the run name)
    POST /v1/completions       continue a prompt
    POST /v1/chat/completions  reply to a conversation

Both POST endpoints take OpenAI's `max_tokens` (chat: also `max_completion_tokens`), `temperature`,
`top_p`, `n`, `stop`, `seed`, `stream` (server-sent events ending with `data: [DONE]`,
`stream_options.include_usage` adds a usage chunk) and, like llama.cpp's server, `top_k` and
`repetition_penalty`; completions also `echo`. Other OpenAI fields (user, logit_bias, ...) are
accepted and ignored. Chat goes through core/chat.py's `prepare_reply`: a chat model answers in its
chat template (oldest exchanges left out when the conversation outgrows its context, never the
system prompt) and stops at its end-of-turn token; a base model continues the transcript form
("User: ... Model:"), its reply cut where it starts the next turn. A char-level model drops the characters it
never saw from prompts (a client cannot fix an emoji typed into a chat window), as the Playground
can.

Requests queue on the one model (core/generation_queue.py); a client that disconnects cancels its
generation. Errors have OpenAI's shape, `{"error": {"message", "type", "param", "code"}}`: 400 for a
bad value or unreadable JSON, 401 for a missing or wrong API key (`Authorization: Bearer KEY`, only
when the server has one), 404 for an unknown model or path, 422 for a request of the wrong shape.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import secrets
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Literal

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field, ValidationError
from starlette.exceptions import HTTPException

from gptstudio.core.chat import PreparedReply, prepare_reply
from gptstudio.core.chat_template import ChatMessage
from gptstudio.core.errors import Cancelled, GPTStudioError
from gptstudio.core.failures import readable_failure
from gptstudio.core.generation_queue import GenerationQueue
from gptstudio.core.sampler import Sampler, SampleSettings, TokenPiece
from gptstudio.core.server import RequestFinished

COMPLETION_MAX_TOKENS = 16  # OpenAI's default for /v1/completions
CHAT_MAX_TOKENS = 256


# ---------------------------------------------------------------------------------------------
# OpenAI's error shape


class APIError(Exception):
    """A request the server refuses, with OpenAI's error fields."""

    def __init__(self, status: int, message: str, *, param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code

    def body(self) -> dict:
        kind = {401: "authentication_error", 404: "invalid_request_error"}.get(self.status, "invalid_request_error")
        if self.status >= 500:
            kind = "server_error"
        return {"error": {"message": self.message, "type": kind, "param": self.param, "code": self.code}}


# ---------------------------------------------------------------------------------------------
# requests (pydantic models: FastAPI checks their shape and answers 422 for a wrong one)


class StreamOptions(BaseModel):
    include_usage: bool = False


class _Sampling(BaseModel):
    model: str | None = None
    max_tokens: int | None = None
    temperature: float | None = 1.0
    top_p: float | None = 1.0
    top_k: int | None = None  # an extension (llama.cpp's server has it too)
    repetition_penalty: float | None = None  # an extension
    n: int = 1
    stop: str | list[str] | None = None
    seed: int | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None


class CompletionRequest(_Sampling):
    prompt: str | list[str]
    echo: bool = False


class TextPart(BaseModel):
    type: Literal["text"]
    text: str


class Message(BaseModel):
    role: str
    content: str | list[TextPart] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(part.text for part in self.content)
        return self.content or ""


class ChatRequest(_Sampling):
    messages: list[Message] = Field(min_length=1)
    max_completion_tokens: int | None = None


# ---------------------------------------------------------------------------------------------
# the app


@dataclass
class _Choice:
    """One generated text (one of `n`) as it accumulates."""

    index: int
    text: str = ""
    tokens: int = 0
    finish_reason: str | None = None

    def add(self, piece: TokenPiece) -> None:
        self.text += piece.text
        self.tokens += 1
        if piece.done:
            self.finish_reason = "stop" if piece.stopped else "length"


def _settings(req: _Sampling, max_tokens: int, extra_stops: tuple[str, ...] = ()) -> SampleSettings:
    stops = (req.stop,) if isinstance(req.stop, str) else tuple(req.stop or ())
    try:
        return SampleSettings(
            max_new_tokens=max_tokens,
            temperature=1.0 if req.temperature is None else req.temperature,
            top_k=req.top_k or None,
            top_p=1.0 if req.top_p is None else req.top_p,
            repetition_penalty=1.0 if req.repetition_penalty is None else req.repetition_penalty,
            seed=req.seed,
            stop=tuple(s for s in stops if s) + extra_stops,
            num_samples=req.n,
            drop_unknown=True,
        )
    except GPTStudioError as e:
        raise APIError(400, str(e)) from None


def _chat_messages(messages: list[Message]) -> list[ChatMessage]:
    """The request's conversation for core/chat.py: the system (and developer) texts joined into one
    system prompt first, then the user and assistant turns in order."""
    system, turns = [], []
    for m in messages:
        if m.role in ("system", "developer"):
            system.append(m.text().strip())
        elif m.role in ("user", "assistant"):
            turns.append(ChatMessage(m.role, m.text()))
        else:
            raise APIError(400, f"Unknown message role {m.role!r}: use system, user or assistant.", param="messages")
    head = "\n".join(s for s in system if s)
    return ([ChatMessage("system", head)] if head else []) + turns


class _StartTime:
    """ASGI middleware noting when each request arrived (request.state.started). Plain ASGI, not
    Starlette's BaseHTTPMiddleware, which would hide a client's disconnect from the endpoints."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            scope.setdefault("state", {})["started"] = time.perf_counter()
        await self.app(scope, receive, send)


def create_app(
    sampler: Sampler,
    model_id: str,
    *,
    queue: GenerationQueue,
    api_key: str | None = None,
    report: Callable[[Any], None] | None = None,
):
    """The FastAPI application serving `sampler` as `model_id` (requests run one at a time on `queue`)."""
    created = int(time.time())

    def tell(request: Request, status: int, started: float, tokens: int = 0, outcome: str = "done") -> None:
        if report is not None:
            path = request.url.path
            report(RequestFinished(request.method, path, status, time.perf_counter() - started, tokens, outcome))

    def error_response(request: Request, error: APIError) -> JSONResponse:
        tell(request, error.status, getattr(request.state, "started", time.perf_counter()))
        return JSONResponse(error.body(), status_code=error.status)

    app = FastAPI(title="GPT Studio", docs_url=None, redoc_url=None, openapi_url=None)

    app.add_middleware(_StartTime)

    @app.exception_handler(APIError)
    async def _api_error(request: Request, e: APIError):
        return error_response(request, e)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, e: HTTPException):
        message = "Unknown path: use /v1/models, /v1/completions or /v1/chat/completions."
        if e.status_code != 404:
            message = f"{e.detail} ({request.method} {request.url.path})."
        return error_response(request, APIError(e.status_code, message))

    @app.exception_handler(Exception)
    async def _crash(request: Request, e: Exception):
        return error_response(request, APIError(500, readable_failure(e)))

    async def check_key(request: Request) -> None:
        if api_key is None:
            return
        given = request.headers.get("authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {api_key}".encode()):
            raise APIError(
                401, "Missing or wrong API key: send it as 'Authorization: Bearer KEY'.", code="invalid_api_key"
            )

    def check_model(requested: str | None) -> None:
        if requested is not None and requested != model_id:
            raise APIError(
                404,
                f"The model {requested!r} does not exist: this server serves {model_id!r}.",
                param="model",
                code="model_not_found",
            )

    async def parse(request: Request, kind: type[BaseModel]):
        """The JSON body as `kind`, whatever Content-Type the client sent (curl -d sends a form type)."""
        try:
            return kind.model_validate_json(await request.body())
        except ValidationError as e:
            errors = e.errors()
            first: dict = dict(errors[0]) if errors else {}
            if first.get("type") == "json_invalid":
                raise APIError(400, "The request body is not valid JSON.") from None
            where = ".".join(str(p) for p in first.get("loc", ()))
            raise APIError(
                422, f"Invalid request: {where or 'body'}: {first.get('msg', 'invalid')}.", param=where or None
            ) from None

    def encode(prompt: str) -> int:
        """Check the prompt before queueing (a char model refuses unknown characters); its token count."""
        try:
            return len(sampler.encode_prompt(prompt, drop_unknown=True))
        except GPTStudioError as e:
            raise APIError(400, str(e), param="prompt") from None

    async def pieces(
        request: Request, prompt: str | PreparedReply, settings: SampleSettings
    ) -> AsyncIterator[TokenPiece]:
        """The tokens of a text prompt (completions) or of a prepared chat reply."""

        def start(cancel):
            if isinstance(prompt, PreparedReply):
                return prompt.stream(sampler, cancel)
            return sampler.stream(prompt, settings, cancel)

        async for piece in queue.stream(start, request.is_disconnected):
            yield piece

    async def collect(request: Request, prompt: str | PreparedReply, settings: SampleSettings) -> list[_Choice]:
        choices = [_Choice(i) for i in range(settings.num_samples)]
        async for piece in pieces(request, prompt, settings):
            choices[piece.sample].add(piece)
        return choices

    def usage(prompt_tokens: int, completion_tokens: int) -> dict:
        return {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }

    def sse(obj) -> str:
        return f"data: {json.dumps(obj, ensure_ascii=False)}\n\n"

    def event_stream(
        request: Request,
        jobs: list[tuple[str | PreparedReply, SampleSettings, int]],
        chunk: Callable[[int, str | None, str | None], dict],
        prompt_tokens: int,
        include_usage: bool,
        head: Callable[[int], list[dict]] = lambda i: [],
    ) -> StreamingResponse:
        """Server-sent events for one or more prompts (each with n choices), then [DONE]."""

        async def events():
            started, tokens, outcome = time.perf_counter(), 0, "done"
            try:
                for prompt, settings, base in jobs:
                    for i in range(settings.num_samples):
                        for obj in head(base + i):
                            yield sse(obj)
                    async for piece in pieces(request, prompt, settings):
                        tokens += 1
                        index = base + piece.sample
                        if piece.text:
                            yield sse(chunk(index, piece.text, None))
                        if piece.done:
                            yield sse(chunk(index, None, "stop" if piece.stopped else "length"))
                if include_usage:
                    last = chunk(0, None, None)
                    last.update(choices=[], usage=usage(prompt_tokens, tokens))
                    yield sse(last)
                yield "data: [DONE]\n\n"
            except Cancelled:
                outcome = "cancelled"
            except asyncio.CancelledError:
                outcome = "cancelled"
                raise
            except Exception as e:  # the status is sent already: report the failure in the stream
                outcome = "failed"
                yield sse(APIError(500, readable_failure(e)).body())
            finally:
                tell(request, 200, started, tokens, outcome)

        return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    # -- routes ---------------------------------------------------------------------------------

    @app.get("/v1/models", dependencies=[Depends(check_key)])
    async def list_models(request: Request):
        tell(request, 200, request.state.started)
        return {
            "object": "list",
            "data": [{"id": model_id, "object": "model", "created": created, "owned_by": "gptstudio"}],
        }

    @app.get("/v1/models/{name}", dependencies=[Depends(check_key)])
    async def get_model(request: Request, name: str):
        check_model(name)
        tell(request, 200, request.state.started)
        return {"id": model_id, "object": "model", "created": created, "owned_by": "gptstudio"}

    @app.post("/v1/completions", dependencies=[Depends(check_key)])
    async def completions(request: Request):
        req = await parse(request, CompletionRequest)
        check_model(req.model)
        prompts = [req.prompt] if isinstance(req.prompt, str) else req.prompt
        if not prompts:
            raise APIError(400, "The prompt list is empty.", param="prompt")
        settings = _settings(req, COMPLETION_MAX_TOKENS if req.max_tokens is None else req.max_tokens)
        prompt_tokens = sum(encode(p) for p in prompts)
        rid, now = f"cmpl-{secrets.token_hex(12)}", int(time.time())
        jobs = [(p, settings, k * req.n) for k, p in enumerate(prompts)]

        def body(choices: list[dict], **extra) -> dict:
            return {
                "id": rid,
                "object": "text_completion",
                "created": now,
                "model": model_id,
                "choices": choices,
                **extra,
            }

        if req.stream:

            def chunk(index: int, text: str | None, finish: str | None) -> dict:
                return body([{"index": index, "text": text or "", "logprobs": None, "finish_reason": finish}])

            def echo(index: int) -> list[dict]:
                return [chunk(index, prompts[index // req.n], None)] if req.echo else []

            opts = req.stream_options
            return event_stream(request, jobs, chunk, prompt_tokens, bool(opts and opts.include_usage), echo)
        try:
            results = []
            for prompt, job_settings, _ in jobs:
                for c in await collect(request, prompt, job_settings):
                    results.append((prompt, c))
        except Cancelled:
            tell(request, 200, request.state.started, outcome="cancelled")
            return JSONResponse({}, status_code=200)
        choices = [
            {
                "index": i,
                "text": (prompt if req.echo else "") + c.text,
                "logprobs": None,
                "finish_reason": c.finish_reason,
            }
            for i, (prompt, c) in enumerate(results)
        ]
        tokens = sum(c.tokens for _, c in results)
        tell(request, 200, request.state.started, tokens)
        return body(choices, usage=usage(prompt_tokens, tokens))

    @app.post("/v1/chat/completions", dependencies=[Depends(check_key)])
    async def chat_completions(request: Request):
        req = await parse(request, ChatRequest)
        check_model(req.model)
        limit = req.max_completion_tokens if req.max_completion_tokens is not None else req.max_tokens
        settings = _settings(req, CHAT_MAX_TOKENS if limit is None else limit)
        try:
            prompt = prepare_reply(sampler, _chat_messages(req.messages), settings)
        except GPTStudioError as e:
            raise APIError(400, str(e), param="messages") from None
        settings, prompt_tokens = prompt.settings, len(prompt.ids)
        rid, now = f"chatcmpl-{secrets.token_hex(12)}", int(time.time())

        def body(choices: list[dict], **extra) -> dict:
            return {
                "id": rid,
                "object": "chat.completion",
                "created": now,
                "model": model_id,
                "choices": choices,
                **extra,
            }

        if req.stream:
            started_text: set[int] = set()

            def chunk(index: int, text: str | None, finish: str | None) -> dict:
                delta = {}
                if text is not None:
                    if index not in started_text:  # a transcript's reply starts after "Model:"'s space
                        text = text.lstrip()
                        if text:
                            started_text.add(index)
                    delta = {"content": text}
                obj = body([{"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}])
                obj["object"] = "chat.completion.chunk"
                return obj

            def role(index: int) -> list[dict]:
                first = chunk(index, None, None)
                first["choices"][0]["delta"] = {"role": "assistant", "content": ""}
                return [first]

            opts = req.stream_options
            return event_stream(
                request, [(prompt, settings, 0)], chunk, prompt_tokens, bool(opts and opts.include_usage), role
            )
        try:
            results = await collect(request, prompt, settings)
        except Cancelled:
            tell(request, 200, request.state.started, outcome="cancelled")
            return JSONResponse({}, status_code=200)
        choices = [
            {
                "index": c.index,
                "message": {"role": "assistant", "content": prompt.reply_text(c.text)},
                "logprobs": None,
                "finish_reason": c.finish_reason,
            }
            for c in results
        ]
        tokens = sum(c.tokens for c in results)
        tell(request, 200, request.state.started, tokens)
        return body(choices, usage=usage(prompt_tokens, tokens))

    return app
