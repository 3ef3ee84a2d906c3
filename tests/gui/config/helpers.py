"""Helpers of the Config panels' tests: a prepared dataset folder, widgets by objectName, settling."""

import json

import numpy as np


def make_dataset(home, name="tiny", vocab=40, train_tokens=5000, val_tokens=600, tokenizer="char"):
    """A prepared dataset folder as ARCHITECTURE.md describes it."""
    folder = home / "datasets" / name
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    rng.integers(0, vocab, train_tokens, dtype=np.uint16).tofile(folder / "train.bin")
    rng.integers(0, vocab, val_tokens, dtype=np.uint16).tofile(folder / "val.bin")
    meta = {
        "format": 1,
        "tokenizer": tokenizer,
        "vocab_size": vocab,
        "dtype": "uint16",
        "train_tokens": train_tokens,
        "val_tokens": val_tokens,
    }
    if tokenizer == "char":
        meta["chars"] = [chr(65 + i) for i in range(vocab)]
    (folder / "meta.json").write_text(json.dumps(meta))
    return folder


def widget(parent, name):
    """A setting's widget by its objectName, cfg_<name>."""
    found = parent.findChild(object, f"cfg_{name}")
    assert found is not None, name
    return found


def child(parent, name):
    found = parent.findChild(object, name)
    assert found is not None, name
    return found


def settle(qtbot, tab):
    """Let the debounced validation run."""
    qtbot.waitUntil(lambda: not tab.is_refresh_pending(), timeout=3000)
