"""The OpenAI-compatible server, tested with the official `openai` client against the real server on
loopback (127.0.0.1 only, ports chosen free at run time, every request loop bounded)."""

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch

from gptstudio.core.chat import chat_prompt, chat_stops, cut_reply
from gptstudio.core.checkpoint import save_checkpoint
from gptstudio.core.errors import Cancelled, GPTStudioError
from gptstudio.core.model import GPT, GPTConfig
from gptstudio.core.sampler import Sampler, SampleSettings
from gptstudio.core.server import RequestFinished, ServerStarted, bind_socket, serve
from gptstudio.core.tokenizer import CharTokenizer

openai = pytest.importorskip("openai")

CHARS = sorted(set("\n !',.:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"))
ARGS = dict(n_layer=2, n_head=2, n_embd=32, block_size=64, vocab_size=len(CHARS), bias=False, dropout=0.0)


def tiny_model() -> GPT:
    torch.manual_seed(0)
    return GPT(GPTConfig(**ARGS)).eval()


class Server:
    """`serve` on a free loopback port in a thread; `events` collects what it reports."""

    def __init__(self, api_key=None, sampler=None):
        self.sampler = sampler or Sampler(tiny_model(), CharTokenizer(CHARS))
        self.events, self.cancel, self.error = [], threading.Event(), None
        self.thread = threading.Thread(target=self._run, args=(api_key,), daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.started and time.monotonic() < deadline and self.error is None:
            time.sleep(0.02)
        assert self.started, self.error

    def _run(self, api_key):
        try:
            serve(self.sampler, model_id="tiny", port=0, api_key=api_key, report=self.events.append, cancel=self.cancel)
        except Cancelled:
            pass
        except BaseException as e:
            self.error = e

    @property
    def started(self) -> ServerStarted | None:
        return next((e for e in self.events if isinstance(e, ServerStarted)), None)

    def client(self, api_key="none", **kw):
        return openai.OpenAI(base_url=self.started.url, api_key=api_key, max_retries=0, timeout=60, **kw)

    def finished(self) -> list[RequestFinished]:
        return [e for e in self.events if isinstance(e, RequestFinished)]

    def wait_for(self, predicate, timeout=30.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.02)
        return False

    def stop(self):
        self.cancel.set()
        self.thread.join(30)
        assert not self.thread.is_alive()


@pytest.fixture(scope="module")
def server():
    s = Server()
    yield s
    s.stop()


def local(server, prompt, **settings):
    return server.sampler.generate(prompt, SampleSettings(**settings))


def test_models_and_greedy_completion_match_the_sampler(server):
    client = server.client()
    assert [m.id for m in client.models.list().data] == ["tiny"]
    assert server.started.url.startswith("http://127.0.0.1:") and not server.started.exposed
    got = client.completions.create(model="tiny", prompt="ROMEO:", max_tokens=30, temperature=0)
    want = local(server, "ROMEO:", max_new_tokens=30, temperature=0)[0]
    assert got.choices[0].text == want
    assert got.choices[0].finish_reason == "length"
    assert got.usage.prompt_tokens == 6 and got.usage.completion_tokens == 30 and got.usage.total_tokens == 36
    echoed = client.completions.create(model="tiny", prompt="ROMEO:", max_tokens=5, temperature=0, echo=True)
    assert echoed.choices[0].text == "ROMEO:" + want[:5]


def test_stop_sequence_ends_with_finish_reason_stop(server):
    want = local(server, "Hello", max_new_tokens=40, temperature=0)[0]
    stop = want[10:12]  # text the model certainly writes
    got = server.client().completions.create(model="tiny", prompt="Hello", max_tokens=40, temperature=0, stop=[stop])
    assert got.choices[0].text == want[: want.index(stop)]
    assert got.choices[0].finish_reason == "stop"


def test_streaming_completion_equals_the_whole_one(server):
    client = server.client()
    whole = client.completions.create(model="tiny", prompt="To be", max_tokens=25, temperature=0).choices[0].text
    chunks = list(
        client.completions.create(
            model="tiny",
            prompt="To be",
            max_tokens=25,
            temperature=0,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert "".join(c.choices[0].text for c in chunks if c.choices) == whole
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "length"
    assert chunks[-1].usage.completion_tokens == 25 and not chunks[-1].choices


def test_chat_base_model_uses_the_transcript(server):
    client = server.client()
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Who art thou?"},
        {"role": "assistant", "content": "A player."},
        {"role": "user", "content": [{"type": "text", "text": "What news?"}]},
    ]
    prompt = "Be brief.\n" + chat_prompt([("user", "Who art thou?"), ("model", "A player."), ("user", "What news?")])
    raw = local(server, prompt, max_new_tokens=40, temperature=0, stop=chat_stops())[0]
    got = client.chat.completions.create(model="tiny", messages=messages, max_tokens=40, temperature=0)
    assert got.choices[0].message.role == "assistant"
    assert got.choices[0].message.content == cut_reply(raw)
    streamed = client.chat.completions.create(
        model="tiny", messages=messages, max_tokens=40, temperature=0, stream=True
    )
    chunks = list(streamed)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text.strip() == cut_reply(raw) or text.rstrip().startswith(cut_reply(raw))
    assert chunks[-1].choices[0].finish_reason in ("stop", "length")


def test_chat_model_answers_in_its_template_and_stops_at_the_end_of_turn():
    from gptstudio.core.chat_template import CHAT_TEMPLATE, ChatMessage, ChatTemplate
    from gptstudio.core.special_tokens import END_OF_TURN
    from tests.core.sampling_helpers import forced

    tok = CharTokenizer(CHARS).with_chat_template(CHAT_TEMPLATE)
    model = forced(tok.vocab_size, [*tok.encode("Hi there!"), tok.special_id(END_OF_TURN), *tok.encode("LEAK")])
    s = Server(sampler=Sampler(model, tok, device="cpu"))
    try:
        messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello?"}]
        got = s.client().chat.completions.create(model="tiny", messages=messages, max_tokens=40, temperature=0)
        assert got.choices[0].message.content == "Hi there!" and got.choices[0].finish_reason == "stop"
        prompt = ChatTemplate(tok).prompt([ChatMessage("system", "Be brief."), ChatMessage("user", "Hello?")])
        assert model.calls[0][0].tolist() == prompt and got.usage.prompt_tokens == len(prompt)
        model.calls.clear()  # the script starts again
        chunks = list(
            s.client().chat.completions.create(
                model="tiny", messages=messages, max_tokens=40, temperature=0, stream=True
            )
        )
        assert "".join(c.choices[0].delta.content or "" for c in chunks) == "Hi there!"
        assert chunks[-1].choices[0].finish_reason == "stop"
    finally:
        s.stop()


def test_n_and_seed(server):
    client = server.client()
    a = client.completions.create(model="tiny", prompt="A", max_tokens=20, n=3, seed=7, temperature=1.0)
    b = client.completions.create(model="tiny", prompt="A", max_tokens=20, n=3, seed=7, temperature=1.0)
    c = client.completions.create(model="tiny", prompt="A", max_tokens=20, n=3, seed=8, temperature=1.0)
    texts = [ch.text for ch in a.choices]
    assert [ch.index for ch in a.choices] == [0, 1, 2] and len(set(texts)) == 3
    assert texts == [ch.text for ch in b.choices]
    assert texts != [ch.text for ch in c.choices]
    assert a.usage.completion_tokens == 60
    chat = client.chat.completions.create(
        model="tiny", messages=[{"role": "user", "content": "Hi"}], max_tokens=10, n=2, seed=1
    )
    assert [ch.index for ch in chat.choices] == [0, 1]


def test_sixteen_concurrent_clients_queue_on_one_model(server):
    want = local(server, "Now", max_new_tokens=20, temperature=0)[0]

    def ask(i):
        client = server.client()
        if i % 2:
            chunks = client.completions.create(model="tiny", prompt="Now", max_tokens=20, temperature=0, stream=True)
            return "".join(c.choices[0].text for c in chunks)
        return client.completions.create(model="tiny", prompt="Now", max_tokens=20, temperature=0).choices[0].text

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(ask, range(16), timeout=300))
    assert answers == [want] * 16
    assert server.thread.is_alive()


def _post(url, path, body, timeout=60):
    host, port = url.split("//")[1].split("/")[0].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    conn.request("POST", path, body=body if isinstance(body, bytes) else json.dumps(body).encode())
    return conn


def test_a_client_that_disconnects_cancels_its_generation(server):
    url = server.started.url
    for stream in (True, False):
        before = len([e for e in server.finished() if e.outcome == "cancelled"])
        conn = _post(url, "/v1/completions", {"prompt": "A", "max_tokens": 1_000_000, "stream": stream})
        if stream:
            response = conn.getresponse()
            assert response.status == 200
            assert response.read1(64)  # tokens are flowing
        else:
            time.sleep(1.0)  # the generation is running
        conn.sock.shutdown(socket.SHUT_RDWR)
        conn.close()
        assert server.wait_for(lambda b=before: len([e for e in server.finished() if e.outcome == "cancelled"]) > b), [
            e.describe() for e in server.finished()[-3:]
        ]
    # the model is free again at once
    started = time.perf_counter()
    server.client().completions.create(model="tiny", prompt="A", max_tokens=5)
    assert time.perf_counter() - started < 30


def test_openai_style_errors(server):
    client = server.client()
    with pytest.raises(openai.NotFoundError) as e:
        client.completions.create(model="gpt-4", prompt="Hi")
    assert e.value.status_code == 404 and e.value.body["code"] == "model_not_found"
    with pytest.raises(openai.BadRequestError) as e:
        client.completions.create(model="tiny", prompt="Hi", temperature=-1)
    assert "temperature" in e.value.body["message"]
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="tiny", messages=[{"role": "tool", "content": "x"}])
    url = server.started.url
    for body, status in [
        (b"{not json", 400),
        ({"prompt": "Hi", "max_tokens": "many"}, 422),
        ({"max_tokens": 3}, 422),  # no prompt
        ({"prompt": "Hi", "n": 0}, 400),
    ]:
        response = _post(url, "/v1/completions", body).getresponse()
        error = json.loads(response.read())["error"]
        assert response.status == status, (body, error)
        assert error["message"] and error["type"] == "invalid_request_error"
    response = _post(url, "/v1/nothing", {}).getresponse()
    assert response.status == 404 and "Unknown path" in json.loads(response.read())["error"]["message"]


def test_api_key_is_required_when_set():
    s = Server(api_key="s3cret")
    try:
        with pytest.raises(openai.AuthenticationError) as e:
            s.client(api_key="wrong").models.list()
        assert e.value.status_code == 401
        assert s.client(api_key="s3cret").completions.create(model="tiny", prompt="A", max_tokens=3).choices
        assert s.started.api_key
    finally:
        s.stop()


def test_exposure_warning_and_bind_errors():
    assert ServerStarted("http://127.0.0.1:1/v1", "m", "127.0.0.1", 1, False).warning is None
    wide = ServerStarted("http://127.0.0.1:1/v1", "m", "0.0.0.0", 1, False)  # described, never bound here
    assert wide.exposed and "other machines" in wide.warning and "--api-key" in wide.warning
    taken = bind_socket("127.0.0.1", 0)  # listening, as a running server's is
    try:
        with pytest.raises(GPTStudioError, match="already in use"):
            bind_socket("127.0.0.1", taken.getsockname()[1])
    finally:
        taken.close()


def test_cli_serve_answers_and_stops_on_ctrl_c(home, tmp_path):
    save_checkpoint(
        {
            "model": tiny_model().state_dict(),
            "model_args": ARGS,
            "iter_num": 1,
            "config": {},
            "tokenizer": CharTokenizer(CHARS).to_meta(),
        },
        home / "runs" / "srv" / "ckpt.pt",
    )
    env = {**os.environ, "GPTSTUDIO_HOME": str(home), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gptstudio", "serve", "srv", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        line = ""
        deadline = time.monotonic() + 120
        while "Serving srv" not in line and time.monotonic() < deadline:
            line = proc.stdout.readline()
            assert line or proc.poll() is None, proc.stderr.read()
        url = line.split(" at ")[1].split()[0]
        client = openai.OpenAI(base_url=url, api_key="none", max_retries=0, timeout=60)
        assert client.completions.create(model="srv", prompt="A", max_tokens=3).choices[0].finish_reason
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        assert "POST /v1/completions 200, 3 tokens" in out and "Server stopped." in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
