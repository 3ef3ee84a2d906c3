"""Bits per byte: every eval in bits per byte of text, for every tokenizer, checked against hand computations."""

from __future__ import annotations

import json
import math
import pickle

import numpy as np
import pytest

from gptstudio.cli import main
from gptstudio.core import dataset as ds
from gptstudio.core.events import Eval, Finished, event_from_dict
from gptstudio.core.runs import bits_per_byte, read_metrics, read_status
from gptstudio.core.tokenizer import tokenizer_from_meta
from gptstudio.core.trainer import train

from .training_helpers import tiny_config

# multi-byte characters (2, 3 and 4 bytes in UTF-8), so bytes and characters differ
TEXT = "Héllo wörld, ça va? Ωμέγα 中文 🙂 fin.\n" * 40


def test_bits_per_byte_formula():
    # 2 nats per token, 1 token per 2 bytes -> 1 nat per byte -> 1/ln2 bits per byte
    assert bits_per_byte(2.0, 10, 20) == pytest.approx(1 / math.log(2))
    assert bits_per_byte(math.log(2) * 3, 4, 4) == pytest.approx(3.0)
    assert bits_per_byte(None, 1, 1) is None and bits_per_byte(1.0, 1, 0) is None
    assert bits_per_byte(math.nan, 1, 1) is None


@pytest.mark.parametrize("kind", ["char", "gpt2", "bpe"])
def test_split_bytes_and_eval_bpb_equal_a_hand_computation(home, tmp_path, kind):
    src = tmp_path / "text.txt"
    src.write_text(TEXT, encoding="utf-8")
    meta = ds.prepare_dataset([src], "d", kind, vocab_size=300 if kind == "bpe" else None, home=home)
    # by hand: the UTF-8 bytes of the text each split's tokens decode to
    tok = tokenizer_from_meta(meta)
    split_ids = {s: ds.dataset_tokens("d", s, 0, 10**9, home=home) for s in ("train", "val")}
    by_hand = {s: len(tok.decode_bytes(ids)) for s, ids in split_ids.items()}
    assert by_hand["train"] + by_hand["val"] == len(TEXT.encode("utf-8"))
    assert (meta["train_bytes"], meta["val_bytes"]) == (by_hand["train"], by_hand["val"])
    if kind == "char":  # one token per character: the val split is the text's last characters
        assert by_hand["val"] == len(TEXT[-meta["val_tokens"] :].encode("utf-8"))

    events = []
    train(tiny_config(dataset="d", max_iters=4, eval_interval=2), home=home, report=events.append)
    evals = [e for e in events if isinstance(e, Eval)]
    assert len(evals) == 3
    for e in evals:
        for split, loss, bpb in (("train", e.train_loss, e.train_bpb), ("val", e.val_loss, e.val_bpb)):
            tokens = len(split_ids[split])
            assert bpb == pytest.approx(loss * tokens / by_hand[split] / math.log(2), rel=1e-9)
    finished = next(e for e in events if isinstance(e, Finished))
    best = min(e.val_loss for e in evals)
    assert finished.best_val_bpb == pytest.approx(best * len(split_ids["val"]) / by_hand["val"] / math.log(2))
    # the run's files hold them too
    logged = [m for m in read_metrics(home / "runs" / "r") if m["type"] == "eval"]
    assert [m["val_bpb"] for m in logged] == pytest.approx([e.val_bpb for e in evals])
    assert read_status(home / "runs" / "r")["best_val_bpb"] == pytest.approx(finished.best_val_bpb)


def test_older_datasets_get_their_byte_counts_computed(home, tmp_path):
    """A dataset prepared before train_bytes/val_bytes existed: counted from its token files."""
    src = tmp_path / "text.txt"
    src.write_text(TEXT, encoding="utf-8")
    meta = ds.prepare_dataset([src], "old", "gpt2", home=home)
    meta_path = home / "datasets" / "old" / "meta.json"
    on_disk = json.loads(meta_path.read_text())
    del on_disk["train_bytes"], on_disk["val_bytes"]
    meta_path.write_text(json.dumps(on_disk))
    assert ds.dataset_split_sizes("old", home=home) == {
        "train": (meta["train_tokens"], meta["train_bytes"]),
        "val": (meta["val_tokens"], meta["val_bytes"]),
    }
    events = []
    train(tiny_config(dataset="old", max_iters=2, eval_interval=2), home=home, report=events.append)
    e = next(e for e in events if isinstance(e, Eval))
    assert e.val_bpb == pytest.approx(bits_per_byte(e.val_loss, meta["val_tokens"], meta["val_bytes"]))


def test_imported_nanogpt_data_has_byte_counts(home, tmp_path):
    chars = sorted(set(TEXT))
    ids = np.array([chars.index(c) for c in TEXT], dtype=np.uint16)
    folder = tmp_path / "nano"
    folder.mkdir()
    ids[:-100].tofile(folder / "train.bin")
    ids[-100:].tofile(folder / "val.bin")
    (folder / "meta.pkl").write_bytes(
        pickle.dumps({"vocab_size": len(chars), "itos": dict(enumerate(chars)), "stoi": {}})
    )
    meta = ds.import_nanogpt_data(folder, "nano", home=home)
    assert meta["val_bytes"] == len(TEXT[-100:].encode()) and meta["train_bytes"] == len(TEXT[:-100].encode())


def test_eval_events_round_trip_old_and_new():
    new = Eval(10, 2.0, 2.1, 2.1, None, 1.1, 1.2)
    assert event_from_dict(new.to_dict()) == new
    old = event_from_dict({"type": "eval", "iter": 10, "train_loss": 2.0, "val_loss": 2.1, "best_val_loss": 2.1})
    assert old.train_bpb is None and old.val_bpb is None
    assert event_from_dict({"type": "finished", "status": "completed", "iter": 3}).best_val_bpb is None


def test_cli_prints_bits_per_byte(home, tmp_path, capsys):
    src = tmp_path / "text.txt"
    src.write_text(TEXT, encoding="utf-8")
    ds.prepare_dataset([src], "d", "char", home=home)
    rc = main(["train", "--dataset", "d", "--name", "r", *[f"--{k}={v}" for k, v in _cli_settings().items()]])
    out = capsys.readouterr().out
    assert rc == 0
    assert "bpb train " in out and "bits per byte" in out


def _cli_settings() -> dict:
    cfg = tiny_config(max_iters=2, eval_interval=2).to_dict()
    keys = ("n_layer", "n_head", "n_embd", "block_size", "batch_size", "max_iters", "eval_interval", "eval_iters")
    return {k: cfg[k] for k in keys} | {"device": "cpu", "compile": False, "eval_sample_tokens": 0}
