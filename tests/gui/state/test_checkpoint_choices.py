"""Which checkpoints the Playground offers (runs, then opened files) and which answer (Qt-free)."""

import shutil

import pytest

from gptstudio.core.catalog import CheckpointInfo
from gptstudio.core.checkpoint import save_checkpoint
from gptstudio.core.errors import GPTStudioError
from gptstudio.core.model import GPT, GPTConfig
from gptstudio.core.workspace import Workspace
from gptstudio.gui.state.checkpoint_choices import CheckpointChoices, Pairing


def info(name, which="latest"):
    return CheckpointInfo(path=f"/runs/{name}/{which}.pt", run=name, which=which)


# ------------------------------------------------------------------------------------------ choices


def tiny_checkpoint(path):
    chars = list("\n abc")
    args = dict(n_layer=1, n_head=1, n_embd=8, block_size=8, vocab_size=len(chars), bias=False, dropout=0.0)
    payload = {"model": GPT(GPTConfig(**args)).state_dict(), "model_args": args, "iter_num": 1, "config": {}}
    save_checkpoint({**payload, "tokenizer": {"tokenizer": "char", "vocab_size": len(chars), "chars": chars}}, path)
    return path


@pytest.fixture
def tiny_run_source(tmp_path):
    folder = tmp_path / "source"
    tiny_checkpoint(folder / "ckpt.pt")
    tiny_checkpoint(folder / "best.pt")
    return folder


def test_choices_list_runs_then_opened_files(home, tiny_run_source):
    shutil.copytree(tiny_run_source, home / "runs" / "a")
    choices = CheckpointChoices()
    assert choices.refresh(Workspace.open(home)) == []
    assert [c.short_name for c in choices.all()] == ["a/latest", "a/best"]
    opened = choices.add_file(tiny_run_source / "ckpt.pt")
    assert choices.all()[-1] == opened and opened.short_name == "ckpt.pt"
    assert choices.find(opened.path) == opened and choices.file_paths() == [str(opened.path)]
    # a run's own file opened by hand is listed once, as a file
    run_file = choices.add_file(home / "runs" / "a" / "ckpt.pt")
    assert [c.short_name for c in choices.all()] == ["a/best", "ckpt.pt", "ckpt.pt"]
    assert run_file.run == ""
    with pytest.raises(GPTStudioError):
        choices.add_file(home / "missing.pt")


def test_choices_forget_files_that_moved_away(home, tmp_path, tiny_run_source):
    moved = shutil.copy(tiny_run_source / "ckpt.pt", tmp_path / "moved.pt")
    choices = CheckpointChoices()
    choices.restore_files([str(moved), str(tmp_path / "never.pt"), 42])
    assert choices.file_paths() == [str(moved)]
    (tmp_path / "moved.pt").unlink()
    choices.refresh(Workspace.open(home))
    assert choices.all() == []
    choices.restore_files("not a list")
    assert choices.all() == []


def test_pairing_answers_and_pane_titles():
    a, b = info("a"), info("b", "best")
    assert Pairing().answering() == []
    assert Pairing(a).answering() == [a]
    assert Pairing(a).pane_titles(1) == ["a/latest"]
    assert Pairing(a).pane_titles(2) == ["sample 1", "sample 2"]
    assert Pairing(a, b).answering() == [a, b]
    assert Pairing(a, b).pane_titles(1) == ["a/latest", "b/best"]
    assert Pairing(a, b).pane_titles(2) == [
        "a/latest · sample 1",
        "a/latest · sample 2",
        "b/best · sample 1",
        "b/best · sample 2",
    ]


def test_pretrained_models_are_offered_after_the_runs_and_restored(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "no-cache"))  # whatever this machine has cached
    choices = CheckpointChoices(runs=[info("a")])
    gpt2 = choices.add_pretrained("gpt2", tmp_path)  # not downloaded: offered by name, loads on demand
    assert gpt2.pretrained == "gpt2" and gpt2.tokenizer == "gpt2" and gpt2.short_name == "gpt2"
    assert gpt2.key == "pretrained:gpt2" and gpt2.model_id == "gpt2"
    assert choices.add_pretrained("gpt2", tmp_path) == gpt2 and len(choices.pretrained) == 1  # once
    assert [c.short_name for c in choices.all()] == ["a/latest", "gpt2"]
    with pytest.raises(GPTStudioError, match="Unknown pretrained model"):
        choices.add_pretrained("gpt5", tmp_path)
    again = CheckpointChoices()
    again.restore_pretrained([*choices.pretrained_names(), "gpt5", str(tmp_path / "gone")], tmp_path)
    assert again.pretrained_names() == ["gpt2"]
