"""Make it chat, in the real window: a pretrained run -> "Use demo chat data" (made for that run) ->
the Config tab starts from the run with the Chat fine-tune preset -> Start -> a chat model in the
Playground that answers without showing special tokens."""

import torch
from PySide6.QtCore import Qt

from gptstudio.core.checkpoint import load_checkpoint
from gptstudio.core.config import TrainConfig
from gptstudio.core.dataset import demo_text_path, prepare_dataset
from gptstudio.core.presets import CHAT_FINE_TUNE
from gptstudio.core.trainer import train
from gptstudio.gui import create_main_window
from gptstudio.gui.settings import AppSettings
from gptstudio.gui.training.runs_list import MODEL_COLUMN

from .journey import child, press_start, send_in_playground, shut_down


def pretrain(home):
    """A small base model of the demo text (the 5-step walkthrough's result, made quickly)."""
    prepare_dataset([demo_text_path()], "shakespeare_demo", home=home)
    cfg = TrainConfig(
        dataset="shakespeare_demo", run_name="shakespeare", n_layer=2, n_head=2, n_embd=32, block_size=64,
        batch_size=8, max_iters=20, lr_decay_iters=20, warmup_iters=2, eval_interval=20, eval_iters=2,
        eval_sample_tokens=0, dropout=0.0, device="cpu", compile=False, dtype="float32",
    )  # fmt: skip
    assert train(cfg, home=home).status == "completed"


def test_pretrained_run_to_chat_model(qtbot, home, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the test machine's cores are shared
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    pretrain(home)
    AppSettings().set("config.measure_speed", False)
    window = create_main_window(home)
    qtbot.addWidget(window)
    window.show()
    try:
        # 1. Dataset: demo conversations, made for the run (the chat panel offers the newest run)
        data_tab = window.tab("Dataset")
        data_tab.refresh()
        assert child(window, "chatTokenizerFrom").currentData() == "shakespeare"
        qtbot.mouseClick(child(window, "demoChatButton"), Qt.LeftButton)
        qtbot.waitUntil(lambda: data_tab.selected_dataset() == "shakespeare_chat", timeout=120_000)
        # 2. Config: the chat data starts from its run; the Chat fine-tune preset, kept short
        config_tab = window.tab("Config")
        qtbot.waitUntil(lambda: config_tab.config().dataset == "shakespeare_chat", timeout=10_000)
        assert config_tab.config().init_from == "shakespeare"
        config_tab.apply_preset(CHAT_FINE_TUNE)
        assert config_tab.config().n_embd == 32  # the run's shape
        assert "Starts from your run 'shakespeare'" in child(window, "startPointLabel").text()
        for name, value in (("max_iters", 10), ("eval_interval", 5), ("eval_iters", 2), ("batch_size", 8)):
            child(window, f"cfg_{name}").setValue(value)
        child(window, "cfg_eval_sample_tokens").setValue(20)
        qtbot.waitUntil(config_tab.is_valid, timeout=10_000)
        # 3. Training: Start, until it completes
        training = press_start(qtbot, window, "chatty")
        qtbot.waitUntil(lambda: training.is_running(), timeout=30_000)
        qtbot.waitUntil(lambda: not training.is_running(), timeout=300_000)
        training.runs.refresh()
        rows = training.runs.runsList
        models = {
            rows.topLevelItem(i).text(0): rows.topLevelItem(i).text(MODEL_COLUMN)
            for i in range(rows.topLevelItemCount())
        }
        assert models == {"chatty": "chat", "shakespeare": "base"}  # the runs list marks the chat model
        ckpt = load_checkpoint(home / "runs" / "chatty" / "ckpt.pt")
        assert ckpt["iter_num"] == 10 and ckpt["config"]["init_from"] == "shakespeare"
        assert ckpt["tokenizer"]["chat_template"]
        # 4. Playground: the chat model is marked, and answers in Chat mode
        window.show_tab("Playground")
        playground = window.tab("Playground")
        combo = child(window, "checkpointCombo")
        qtbot.waitUntil(lambda: combo.findText("chatty/latest · chat", Qt.MatchStartsWith) >= 0, timeout=30_000)
        combo.setCurrentIndex(combo.findText("chatty/latest · chat", Qt.MatchStartsWith))
        send_in_playground(qtbot, window, "Good morrow, sir.", max_tokens=30)
        assert child(window, "modeHint").text() == "chat model: answers"
        replies = [m for m in playground.conversation.messages if m.role != "user"]
        assert replies and "<|" not in replies[-1].text
    finally:
        shut_down(window)
        torch.set_num_threads(before)
