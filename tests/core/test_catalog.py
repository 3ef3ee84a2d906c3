import datetime
import os

import pytest
import torch

from gptstudio.core.catalog import describe_checkpoint, list_checkpoints
from gptstudio.core.checkpoint import save_checkpoint
from gptstudio.core.errors import CheckpointError
from gptstudio.core.model import GPT, GPTConfig
from gptstudio.core.workspace import Workspace

ARGS = dict(n_layer=1, n_head=2, n_embd=8, block_size=8, vocab_size=5, bias=False, dropout=0.0)


def payload(**extra):
    model = GPT(GPTConfig(**ARGS))
    return {"model": model.state_dict(), "model_args": ARGS, "optimizer": {}, **extra}


def test_lists_latest_and_best_of_every_run(home):
    ws = Workspace.open(home)
    meta = {"tokenizer": "char", "vocab_size": 5, "chars": list("abcde")}
    save_checkpoint(
        payload(iter_num=200, best_val_loss=1.25, tokenizer=meta, dataset="poems"), ws.runs_dir / "alpha" / "ckpt.pt"
    )
    save_checkpoint(
        payload(iter_num=150, best_val_loss=1.2, tokenizer=meta, dataset="poems"), ws.runs_dir / "alpha" / "best.pt"
    )
    (ws.runs_dir / "empty").mkdir()
    (ws.runs_dir / "broken").mkdir()
    (ws.runs_dir / "broken" / "ckpt.pt").write_bytes(b"PK\x03\x04 truncated")
    found, problems = list_checkpoints(ws)
    assert [(c.run, c.which, c.iter_num) for c in found] == [("alpha", "latest", 200), ("alpha", "best", 150)]
    assert found[0].describe() == "alpha/latest · poems · char · 1L·2H·8 · iter 200 · val 1.250"
    assert len(problems) == 1 and problems[0].startswith("broken/latest:")


def test_plain_nanogpt_checkpoint(tmp_path):
    """nanoGPT stores best_val_loss as a tensor (1e9 before the first eval) and no tokenizer."""
    path = tmp_path / "ckpt.pt"
    torch.save(payload(iter_num=0, best_val_loss=torch.tensor(1e9), config={"dataset": "shakespeare_char"}), path)
    info = describe_checkpoint(path)
    assert (info.run, info.dataset, info.tokenizer, info.iter_num, info.best_val_loss) == (
        "",
        "shakespeare_char",
        "",
        0,
        None,
    )
    assert info.describe() == "ckpt.pt · shakespeare_char · 1L·2H·8 · iter 0"
    torch.save(payload(best_val_loss=torch.tensor(2.5)), path)
    assert describe_checkpoint(path).best_val_loss == 2.5


def test_a_rewritten_file_is_a_new_key(tmp_path):
    path = tmp_path / "ckpt.pt"
    save_checkpoint(payload(iter_num=1), path)
    first = describe_checkpoint(path)
    os.utime(path, ns=(first.mtime_ns + 10**9, first.mtime_ns + 10**9))
    assert describe_checkpoint(path).key != first.key


def test_unusable_files_raise_checkpoint_errors(tmp_path):
    with pytest.raises(CheckpointError, match="No checkpoint"):
        describe_checkpoint(tmp_path / "missing.pt")
    junk = tmp_path / "junk.pt"
    junk.write_text("hello")
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        describe_checkpoint(junk)
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not a GPT checkpoint"):
        describe_checkpoint(tmp_path / "other.pt")
    torch.save({"model_args": {}, "when": datetime.date(2024, 1, 1)}, tmp_path / "code.pt")
    with pytest.raises(CheckpointError, match="Refused"):
        describe_checkpoint(tmp_path / "code.pt")


def test_descriptions_are_read_once_per_file_version(tmp_path, monkeypatch):
    """Listing a workspace again reads only the checkpoints that changed (training rewrites ckpt.pt)."""
    from gptstudio.core import catalog

    path = tmp_path / "ckpt.pt"
    save_checkpoint(payload(iter_num=1), path)
    loads = []
    real_load = torch.load
    monkeypatch.setattr(torch, "load", lambda *a, **k: loads.append(a) or real_load(*a, **k))
    first = describe_checkpoint(path)
    assert describe_checkpoint(path) is first and len(loads) == 1
    save_checkpoint(payload(iter_num=2), path)  # a new file in its place
    assert describe_checkpoint(path).iter_num == 2 and len(loads) == 2
    assert catalog.describe_checkpoint(path, "r", "latest").run == "r"  # described as asked
