"""Serve this model (start, the URL, requests with the openai client, stop) and a pretrained GPT-2 in
the Playground (opened without training, compared side by side with a run, remembered)."""

import socket
import threading

import pytest
import torch
from PySide6.QtCore import Qt

from gptstudio.core.errors import Cancelled
from gptstudio.core.server import bind_socket
from gptstudio.gui.playground import model_loader
from gptstudio.gui.settings import AppSettings

openai = pytest.importorskip("openai")
transformers = pytest.importorskip("transformers")


def free_port() -> int:
    sock = bind_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    sock.close()
    return port


def answer_in_thread(qtbot, fn):
    """Run a blocking client call off the GUI thread while the GUI keeps handling events."""
    import threading

    result = {}
    thread = threading.Thread(target=lambda: result.update(value=fn()), daemon=True)
    thread.start()
    qtbot.waitUntil(lambda: not thread.is_alive(), timeout=60_000)
    return result["value"]


def test_serve_this_model_start_use_stop(qtbot, tab):
    panel = tab.serving
    assert panel.serve_button.text() == "Serve this model" and not panel.copy_button.isEnabled()
    panel.port_spin.setValue(free_port())
    qtbot.mouseClick(panel.serve_button, Qt.LeftButton)
    qtbot.waitUntil(panel.is_serving, timeout=30_000)
    url = panel.url_edit.text()
    assert url == f"http://127.0.0.1:{panel.port()}/v1" and panel.serve_button.text() == "Stop serving"
    assert "Serving tiny with the OpenAI API" in panel.message.text()
    assert not panel.port_spin.isEnabled()
    client = openai.OpenAI(base_url=url, api_key="none", max_retries=0, timeout=60)
    reply = answer_in_thread(qtbot, lambda: client.completions.create(model="tiny", prompt="ROMEO:", max_tokens=8))
    assert reply.choices[0].finish_reason in ("length", "stop")
    qtbot.waitUntil(lambda: "1 request, " in panel.message.text(), timeout=10_000)
    panel.copy_button.click()
    from PySide6.QtGui import QGuiApplication

    assert QGuiApplication.clipboard().text() == url
    qtbot.mouseClick(panel.serve_button, Qt.LeftButton)  # Stop
    assert not panel.is_serving() and panel.url_edit.text() == ""
    port = int(url.rsplit(":", 1)[1].split("/")[0])

    def closed():
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return False
        except OSError:
            return True

    qtbot.waitUntil(closed, timeout=15_000)


def test_serve_says_why_it_cannot_start(qtbot, tab, make_tab, monkeypatch):
    taken = bind_socket("127.0.0.1", 0)
    try:
        tab.serving.port_spin.setValue(taken.getsockname()[1])
        tab.serve()
        qtbot.waitUntil(lambda: tab.serving.status.state == "failed", timeout=30_000)
        assert "already in use" in tab.serving.message.text()
        assert tab.serving.serve_button.text() == "Serve this model"
    finally:
        taken.close()
    loads = threading.Event()  # the model of the next tab is still loading until this is set

    def still_loading(info, home, *, report, cancel):
        loads.wait(30)
        raise Cancelled()

    monkeypatch.setattr(model_loader, "load_sampler", still_loading)
    loading = make_tab()  # the same workspace: its model has only begun to load
    assert not loading.serve() and "not loaded yet" in loading.serving.message.text()
    loads.set()


def test_serve_without_a_model(make_tab):
    empty = make_tab()
    assert not empty.serve() and "Choose a model first" in empty.serving.message.text()


@pytest.fixture(scope="module")
def hf_gpt2(tmp_path_factory):
    torch.manual_seed(0)
    cfg = transformers.GPT2Config(vocab_size=50257, n_positions=64, n_embd=32, n_layer=2, n_head=2)
    folder = tmp_path_factory.mktemp("hf") / "tiny-gpt2"
    transformers.GPT2LMHeadModel(cfg).save_pretrained(folder)
    return folder


def test_pretrained_gpt2_talks_and_compares_with_a_run(qtbot, tab, hf_gpt2):
    menu = tab.models.picker.pretrained_button.menu()
    assert [a.text().split()[0] for a in menu.actions() if a.text()][:4] == [
        "gpt2",
        "gpt2-medium",
        "gpt2-large",
        "gpt2-xl",
    ]
    info = tab.models.add_pretrained(str(hf_gpt2))
    assert info is not None and tab.models.picker.current() == info
    assert tab.models.picker.combo.currentText() == "tiny-gpt2 · pretrained · gpt2 · 2L·2H·32"
    assert not tab.models.picker.export_button.isEnabled()  # a checkpoint exports, GPT-2 is already out there
    # the status line follows the load of the model just chosen, not an earlier one
    qtbot.waitUntil(lambda: tab.models_ready() and "tiny-gpt2: " in tab.models.status.text(), timeout=30_000)
    assert "gpt2 tokenizer" in tab.models.status.text()
    tab.mode_choice.combo.setCurrentIndex(tab.mode_choice.combo.findData("complete"))
    tab.models.compare.check.setChecked(True)
    tab.models.compare.combo.setCurrentIndex(0)  # the fine-tuned run beside GPT-2
    qtbot.waitUntil(tab.models_ready, timeout=30_000)
    tab.sampling.max_tokens.setValue(10)
    tab.composer.prompt_input.setPlainText("ROMEO:")
    with qtbot.waitSignal(tab.sig_reply_finished, timeout=60_000):
        qtbot.mouseClick(tab.composer.send_button, Qt.LeftButton)
    row = tab.chat_view.rows()[-1]
    assert [p.title for p in row.panes] == ["tiny-gpt2", "tiny/latest"]
    assert all(p.reply_text for p in row.panes)


def test_a_pretrained_choice_is_remembered(qtbot, home, install_run, make_tab, hf_gpt2):
    install_run()
    settings = AppSettings()
    first = make_tab(settings)
    first.models.add_pretrained(str(hf_gpt2))
    first.shutdown()
    second = make_tab(AppSettings(settings.path))
    assert second.models.picker.current().pretrained == str(hf_gpt2)


def test_an_unknown_pretrained_name_is_reported(qtbot, tab):
    with qtbot.waitSignal(tab.models.problem) as problem:
        assert tab.models.add_pretrained("gpt5") is None
    assert "Unknown pretrained model" in problem.args[0]
