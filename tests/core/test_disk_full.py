"""A full disk during prepare, checkpoint and export: a clear error, and the previous files intact."""

import errno

import pytest
import torch

from gptstudio.core import dataset as dataset_mod
from gptstudio.core.checkpoint import load_checkpoint
from gptstudio.core.dataset import load_dataset_meta, prepare_dataset
from gptstudio.core.errors import GPTStudioError
from gptstudio.core.export import export_run
from gptstudio.core.trainer import resume_config, train
from tests.core.training_helpers import tiny_config, write_char_dataset


def enospc(*_a, **_k):
    raise OSError(errno.ENOSPC, "No space left on device")


def snapshot(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_prepare_on_full_disk_keeps_existing_dataset(home, tmp_path, monkeypatch):
    src = tmp_path / "in.txt"
    src.write_text("hello world, this is some text to tokenize.\n" * 200)
    prepare_dataset([src], "d", "char", home=home)
    before = snapshot(home / "datasets" / "d")
    src.write_text("different text entirely!\n" * 300)
    monkeypatch.setattr(dataset_mod._TokenFile, "_write_now", enospc)
    with pytest.raises(GPTStudioError, match="(?i)disk is full"):
        prepare_dataset([src], "d", "char", home=home, force=True)
    assert snapshot(home / "datasets" / "d") == before
    load_dataset_meta(home / "datasets" / "d")
    assert sorted(p.name for p in (home / "datasets").iterdir() if not p.name.startswith(".d.lock")) == ["d"]


def test_checkpoint_on_full_disk_fails_readably_and_keeps_the_last_one(home, monkeypatch):
    write_char_dataset(home)
    assert train(tiny_config(max_iters=10, eval_interval=5), home=home).status == "completed"
    ckpt_path = home / "runs" / "r" / "ckpt.pt"
    good = ckpt_path.read_bytes()
    real_save = torch.save

    def half_written(obj, f, *a, **k):  # writes part of the file, then the disk fills up
        real_save(obj, f, *a, **k)
        with open(f, "r+b") as fh:
            fh.truncate(100)
        enospc()

    monkeypatch.setattr(torch, "save", half_written)
    done = train(resume_config("r", {"max_iters": 20, "lr_decay_iters": 20}, home=home), home=home)
    assert done.status == "failed" and "disk is full" in done.reason.lower()
    assert ckpt_path.read_bytes() == good
    assert load_checkpoint(ckpt_path)["iter_num"] == 10
    assert not list(ckpt_path.parent.glob(".*.tmp"))


def test_export_on_full_disk_leaves_nothing(home, tmp_path, monkeypatch):
    write_char_dataset(home)
    train(tiny_config(max_iters=4, eval_interval=2), home=home)
    import safetensors.torch

    monkeypatch.setattr(safetensors.torch, "save_file", enospc)
    with pytest.raises(GPTStudioError, match="No space left"):
        export_run("r", "hf", tmp_path / "out", home=home)
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-export")]
