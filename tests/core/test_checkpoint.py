"""Checkpoints: atomic writes, weights_only loading that refuses code, nanoGPT key compatibility."""

import builtins
import os

import pytest
import torch

from gptstudio.core import checkpoint as ckpt_module
from gptstudio.core.checkpoint import load_checkpoint, model_from_checkpoint, save_checkpoint
from gptstudio.core.errors import CheckpointError
from gptstudio.core.model import GPT, GPTConfig
from gptstudio.core.runs import checkpoint_paths

ARGS = dict(block_size=8, vocab_size=7, n_layer=1, n_head=2, n_embd=8, dropout=0.0, bias=False)


def payload(seed=0, iter_num=5) -> dict:
    torch.manual_seed(seed)
    model = GPT(GPTConfig(**ARGS))
    opt = model.configure_optimizers(0.1, 1e-3, (0.9, 0.99), "cpu")
    return {
        "model": model.state_dict(),
        "optimizer": opt.state_dict(),
        "model_args": dict(ARGS),
        "iter_num": iter_num,
        "best_val_loss": 2.5,
        "config": {"n_layer": 1},
        "tokenizer": {"tokenizer": "char"},
    }


class CreatesFileWhenUnpickled:
    """Unpickling this calls open(marker, "w"): a stand-in for code a malicious checkpoint would run."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (builtins.open, (self.marker, "w"))


def test_round_trip_rebuilds_the_same_model(tmp_path):
    p = payload()
    save_checkpoint(p, tmp_path / "ckpt.pt")
    loaded = load_checkpoint(tmp_path / "ckpt.pt")
    assert loaded["iter_num"] == 5 and loaded["format"] == ckpt_module.FORMAT
    model = model_from_checkpoint(loaded)
    x = torch.randint(0, 7, (2, 8))
    ref = GPT(GPTConfig(**ARGS))
    ref.load_state_dict(p["model"])
    assert torch.equal(model(x, x)[0], ref(x, x)[0])


def test_crash_mid_write_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.pt"
    save_checkpoint(payload(iter_num=1), path)

    def dying_save(obj, f, *a, **k):
        with open(f, "wb") as out:
            out.write(b"PK\x03\x04 half a zip")  # what a killed process leaves behind
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", dying_save)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(payload(iter_num=2), path)
    assert load_checkpoint(path)["iter_num"] == 1
    assert os.listdir(tmp_path) == ["ckpt.pt"]  # no temp file left over


def test_code_in_a_checkpoint_is_refused_and_never_run(tmp_path):
    marker = tmp_path / "pwned"
    evil = {**payload(), "extra": CreatesFileWhenUnpickled(marker)}
    torch.save(evil, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match="Refused to load evil.pt"):
        load_checkpoint(tmp_path / "evil.pt")
    assert not marker.exists()
    # the payload is real: an unsafe load would have run it
    torch.load(tmp_path / "evil.pt", weights_only=False)
    assert marker.exists()


def test_truncated_and_foreign_files_are_refused(tmp_path):
    save_checkpoint(payload(), tmp_path / "ckpt.pt")
    data = (tmp_path / "ckpt.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load_checkpoint(tmp_path / "cut.pt")
    torch.save({"weights": torch.zeros(3)}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not a GPT checkpoint"):
        load_checkpoint(tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="No checkpoint"):
        load_checkpoint(tmp_path / "missing.pt")


def test_nanogpt_checkpoint_with_compile_prefix_loads(tmp_path):
    p = payload()
    nano = {
        "model": {f"_orig_mod.{k}": v for k, v in p["model"].items()},
        "optimizer": p["optimizer"],
        "model_args": p["model_args"],
        "iter_num": 250,
        "best_val_loss": torch.tensor(1.5),
        "config": {"out_dir": "out", "dataset": "shakespeare_char"},
    }
    torch.save(nano, tmp_path / "ckpt.pt")  # exactly as nanoGPT's train.py writes it
    model = model_from_checkpoint(load_checkpoint(tmp_path / "ckpt.pt"))
    for k, v in p["model"].items():
        assert torch.equal(model.state_dict()[k], v)


def test_weights_that_do_not_fit_the_model_args(tmp_path):
    p = payload()
    p["model_args"] = {**ARGS, "n_embd": 16}
    with pytest.raises(CheckpointError, match="do not fit"):
        model_from_checkpoint(p)


def test_checkpoint_paths_lists_what_exists(tmp_path):
    assert checkpoint_paths(tmp_path) == {}
    save_checkpoint(payload(), tmp_path / "ckpt.pt")
    assert checkpoint_paths(tmp_path) == {"latest": tmp_path / "ckpt.pt"}
