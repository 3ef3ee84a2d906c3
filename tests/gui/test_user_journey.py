"""The whole first-time user journey, in the real window, by clicking:
demo text -> preset Tiny -> Start -> an eval point -> Stop -> Playground -> send a prompt -> a reply."""

import torch
from PySide6.QtCore import QObject, Qt

from gptstudio.gui import create_main_window


def child(window, name):
    widget = window.findChild(QObject, name)
    assert widget is not None, name
    return widget


def test_demo_to_chat(qtbot, home, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the test machine's cores are shared
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    window = create_main_window(home)
    qtbot.addWidget(window)
    window.show()
    try:
        # 1. Dataset: "Use demo text" prepares the bundled Shakespeare
        data_tab = window.tab("Dataset")
        qtbot.mouseClick(child(window, "demoButton"), Qt.LeftButton)
        qtbot.waitUntil(
            lambda: not data_tab.is_preparing() and child(window, "datasetList").topLevelItemCount() == 1,
            timeout=120_000,
        )
        # 2. Config: the dataset was handed over; choose the Tiny preset, keep it short
        config_tab = window.tab("Config")
        qtbot.waitUntil(lambda: config_tab.config().dataset == "shakespeare_demo", timeout=10_000)
        combo = child(window, "presetCombo")
        index = next(i for i in range(combo.count()) if combo.itemText(i).startswith("Tiny"))
        combo.setCurrentIndex(index)
        combo.activated.emit(index)  # what choosing it with the mouse emits
        assert config_tab.config().n_layer == 4 and config_tab.config().n_embd == 128
        child(window, "cfg_eval_interval").setValue(20)
        child(window, "cfg_eval_iters").setValue(2)
        child(window, "cfg_eval_sample_tokens").setValue(20)
        qtbot.waitUntil(config_tab.is_valid, timeout=10_000)
        # 3. Training: Start, wait for an eval point, Stop
        training = window.tab("Training")
        training.ask_run_name = lambda suggestion: "journey"
        start = child(window, "startButton")
        qtbot.waitUntil(start.isEnabled, timeout=10_000)
        qtbot.mouseClick(start, Qt.LeftButton)
        qtbot.waitUntil(lambda: training.plots.curves.val_eval.n >= 2, timeout=180_000)
        qtbot.mouseClick(child(window, "stopButton"), Qt.LeftButton)
        qtbot.waitUntil(lambda: not training.is_running(), timeout=60_000)
        assert (home / "runs" / "journey" / "ckpt.pt").is_file()
        # 4. Playground: the new checkpoint is there; send a prompt, a reply streams in
        window.show_tab("Playground")
        playground = window.tab("Playground")
        qtbot.waitUntil(lambda: "journey" in child(window, "checkpointCombo").currentText(), timeout=30_000)
        qtbot.waitUntil(playground.models_ready, timeout=60_000)
        child(window, "maxTokensSpin").setValue(40)
        child(window, "promptInput").setPlainText("ROMEO:")
        send = child(window, "sendButton")
        qtbot.waitUntil(send.isEnabled, timeout=10_000)
        qtbot.mouseClick(send, Qt.LeftButton)
        qtbot.waitUntil(lambda: not playground.generating(), timeout=60_000)
        replies = [m for m in playground.conversation.messages if m.role != "user"]
        assert replies and replies[-1].text.strip()
        window.grab().save(str(home.parent / "journey.png"))
    finally:
        for tab in ("Training", "Playground", "Dataset", "Config"):
            shutdown = getattr(window.tab(tab), "shutdown", None)
            if shutdown:
                shutdown()
        torch.set_num_threads(before)
