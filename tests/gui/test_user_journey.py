"""The whole first-time user journey, in the real window, by clicking:
demo text -> preset Tiny -> Start -> an eval point -> Stop -> Playground -> send a prompt -> a reply."""

import torch
from PySide6.QtCore import Qt

from gptstudio.gui import create_main_window

from .journey import child, press_start, send_in_playground, shut_down


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
        training = press_start(qtbot, window, "journey")
        qtbot.waitUntil(lambda: training.plots.curves.val_eval.n >= 2, timeout=180_000)
        qtbot.mouseClick(child(window, "stopButton"), Qt.LeftButton)
        qtbot.waitUntil(lambda: not training.is_running(), timeout=60_000)
        assert (home / "runs" / "journey" / "ckpt.pt").is_file()
        # 4. Playground: the new checkpoint is there; send a prompt, a reply streams in
        window.show_tab("Playground")
        playground = window.tab("Playground")
        qtbot.waitUntil(lambda: "journey" in child(window, "checkpointCombo").currentText(), timeout=30_000)
        send_in_playground(qtbot, window, "ROMEO:", max_tokens=40)
        replies = [m for m in playground.conversation.messages if m.role != "user"]
        assert replies and replies[-1].text.strip()
        window.grab().save(str(home.parent / "journey.png"))
    finally:
        shut_down(window)
        torch.set_num_threads(before)
