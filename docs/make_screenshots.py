"""Regenerate the README's screenshots from the real app, offscreen.

    QT_QPA_PLATFORM=offscreen python docs/make_screenshots.py          # writes docs/screenshots/*.png

It prepares the bundled demo text, trains a small model through the Training tab (Start, as a
user would), chats with it in the Playground, and grabs each of the four tabs. Then it makes the
model chat (step 6): demo conversations made for that run, the Chat fine-tune preset, Start, and a
chat with the chat model (chat_data.png, chat.png). Run it again whenever the GUI changes.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
OUT = Path(__file__).resolve().parent / "screenshots"


def wait(app, condition, timeout: float, what: str, progress=None) -> None:
    deadline = next_note = time.monotonic()
    deadline += timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        if progress and time.monotonic() > next_note:
            print(progress(), flush=True)
            next_note += 10
        app.processEvents()
        time.sleep(0.01)


def main() -> int:
    tmp = Path(tempfile.mkdtemp(prefix="gptstudio-shots-"))
    os.environ["GPTSTUDIO_CONFIG_DIR"] = str(tmp / "config")
    from PySide6.QtCore import QObject

    from gptstudio.gui import create_main_window
    from gptstudio.gui.app import make_application

    app = make_application()
    window = create_main_window(tmp / "home")
    window.resize(1360, 860)
    window.show()
    OUT.mkdir(parents=True, exist_ok=True)

    def shoot(title: str, name: str) -> None:
        window.show_tab(title)
        for _ in range(20):
            app.processEvents()
            time.sleep(0.02)
        window.grab().save(str(OUT / f"{name}.png"))
        print("wrote", OUT / f"{name}.png")

    # 1. Dataset: the demo text, prepared with the char tokenizer
    data_tab = window.tab("Dataset")
    data_tab.use_demo_text()
    wait(
        app,
        lambda: "shakespeare_demo" in [n for n in _dataset_names(tmp / "home")] and not data_tab.is_preparing(),
        300,
        "the demo dataset",
    )
    data_tab.select_dataset("shakespeare_demo")
    shoot("Dataset", "dataset")

    # 2. Config: the Tiny preset on that dataset
    cfg_tab = window.tab("Config")
    cfg_tab.apply_preset("Tiny (CPU, minutes)")  # what choosing it in presetCombo does
    cfg = cfg_tab.config()
    cfg.max_iters, cfg.lr_decay_iters, cfg.eval_interval, cfg.eval_iters = 600, 600, 100, 10
    cfg.dataset = "shakespeare_demo"
    cfg_tab.set_config(cfg)
    wait(app, cfg_tab.is_valid, 30, "a valid config")
    shoot("Config", "config")

    # 3. Training: Start, as a user would, and let it run to the end
    train_tab = window.tab("Training")
    train_tab.ask_run_name = lambda suggestion: "tiny-shakespeare"
    train_tab.start()
    status = train_tab.findChild(QObject, "trainStatus")
    wait(app, lambda: not train_tab.is_running(), 3600, "the training run", progress=lambda: status.text()[:120])
    wait(app, lambda: not train_tab.runs.is_listing(), 60, "the runs list")
    train_tab.select_runs(["tiny-shakespeare"])
    shoot("Training", "training")

    # 4. Playground: a chat with the new model
    play = window.tab("Playground")
    play.refresh_checkpoints()
    wait(app, play.models_ready, 120, "the model to load")
    play.findChild(QObject, "promptInput").setPlainText("ROMEO:")
    play.findChild(QObject, "maxTokensSpin").setValue(160)
    play.send()
    wait(app, lambda: not play.generating(), 120, "the reply")
    shoot("Playground", "playground")

    # 6. Make it chat: demo conversations for the run, the Chat fine-tune preset, Start, a chat
    data_tab.refresh()
    data_tab.chat_panel.set_model_run("tiny-shakespeare")
    data_tab.use_demo_chat()
    wait(app, lambda: data_tab.selected_dataset() == "shakespeare_chat", 300, "the demo chat data")
    shoot("Dataset", "chat_data")
    cfg_tab.set_dataset("shakespeare_chat")  # what selecting it on the Dataset tab does: starts from its run
    cfg_tab.apply_preset("Chat fine-tune")
    cfg = cfg_tab.config()
    cfg.max_iters, cfg.lr_decay_iters, cfg.learning_rate, cfg.min_lr = 400, 400, 5e-4, 5e-5
    cfg_tab.set_config(cfg)
    wait(app, cfg_tab.is_valid, 30, "a valid chat fine-tune config")
    train_tab.ask_run_name = lambda suggestion: "tiny-shakespeare-chat"
    train_tab.start()
    wait(app, lambda: not train_tab.is_running(), 3600, "the chat fine-tune", progress=lambda: status.text()[:120])
    play.refresh_checkpoints()
    picker = play.findChild(QObject, "checkpointCombo")
    picker.setCurrentIndex(
        next(i for i in range(picker.count()) if picker.itemText(i).startswith("tiny-shakespeare-chat/latest"))
    )
    wait(app, play.models_ready, 120, "the chat model to load")
    play.clear()
    play.system_prompt.set_text("You are Romeo.")
    play.findChild(QObject, "maxTokensSpin").setValue(120)
    for message in ("Good morrow, sweet friend.", "What news from Verona?"):
        play.findChild(QObject, "promptInput").setPlainText(message)
        play.send()
        wait(app, lambda: not play.generating(), 120, "the chat reply")
    shoot("Playground", "chat")
    window.close()
    return 0


def _dataset_names(home: Path) -> list[str]:
    d = home / "datasets"
    return [p.name for p in d.iterdir()] if d.exists() else []


if __name__ == "__main__":
    sys.exit(main())
