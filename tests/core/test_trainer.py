"""The training engine: events, files, checkpoints, resume, stopping, failures, nanoGPT interop."""

import json
import math
import os
import pickle
import sys
import threading

import numpy as np
import pytest
import torch

from gptstudio.core import trainer
from gptstudio.core.checkpoint import load_checkpoint
from gptstudio.core.config import TrainConfig
from gptstudio.core.errors import CheckpointError, ConfigError, DatasetError, WorkspaceError
from gptstudio.core.events import CheckpointSaved, Eval, RunStarted, Step, event_from_dict
from gptstudio.core.model import GPT, GPTConfig
from gptstudio.core.nanogpt import import_nanogpt_run
from gptstudio.core.runs import list_runs, read_metrics
from gptstudio.core.safe_pickle import MAX_PICKLE_BYTES
from gptstudio.core.sampler import Sampler, SampleSettings
from gptstudio.core.trainer import Batches, get_lr, measure_matmul_peak, resume_config, train

from .training_helpers import TEXT, tiny_config, write_char_dataset


@pytest.fixture
def dataset(home):
    return write_char_dataset(home)


def run(home, cfg, cancel=None, on_event=None):
    events = []

    def report(e):
        events.append(e)
        if on_event:
            on_event(e)

    finished = train(cfg, home=home, report=report, cancel=cancel)
    return finished, events


# ----- schedule and data -----


def test_lr_schedule_warmup_cosine_floor():
    cfg = TrainConfig(learning_rate=1.0, min_lr=0.1, warmup_iters=10, lr_decay_iters=110)
    assert get_lr(0, cfg) == pytest.approx(1 / 11)
    assert get_lr(9, cfg) == pytest.approx(10 / 11)
    assert get_lr(10, cfg) == pytest.approx(1.0)
    assert get_lr(60, cfg) == pytest.approx(0.55)  # half way down the cosine
    assert get_lr(110, cfg) == pytest.approx(0.1)
    assert get_lr(10_000, cfg) == 0.1
    cfg.decay_lr = False
    assert get_lr(0, cfg) == get_lr(500, cfg) == 1.0


def test_batches_are_shifted_contiguous_blocks(tmp_path):
    data = np.arange(1000, dtype=np.uint16)
    data.tofile(tmp_path / "train.bin")
    b = Batches(tmp_path / "train.bin", "uint16", 16, 5, "cpu", np.random.default_rng(0))
    x, y = b.next()
    assert x.shape == y.shape == (5, 16) and x.dtype == torch.int64
    assert torch.equal(y, x + 1)  # targets are the next tokens
    assert torch.equal(x[:, 1:], x[:, :-1] + 1)  # each row is a contiguous block
    x2, _ = Batches(tmp_path / "train.bin", "uint16", 16, 5, "cpu", np.random.default_rng(0)).next()
    assert torch.equal(x, x2)  # seeded


def test_matmul_peak_is_measured_once():
    peak = measure_matmul_peak()
    assert peak > 1e8 and measure_matmul_peak() == peak


# ----- a run and its files -----


def test_run_reports_events_and_writes_its_folder(home, dataset):
    finished, events = run(home, tiny_config(eval_sample_tokens=12, max_iters=10, eval_interval=5))
    assert finished.status == "completed" and finished.iter == 10
    assert isinstance(events[0], RunStarted) and events[-1] is finished
    started = events[0]
    assert started.start_iter == 0 and started.max_iters == 10 and started.tokens_per_iter == 4 * 16
    assert started.n_params > 0 and started.flops_per_iter > 0 and started.device == "cpu"
    steps = [e for e in events if isinstance(e, Step)]
    assert [s.iter for s in steps] == list(range(10))
    assert all(s.loss > 0 and s.tokens_per_sec > 0 and s.ms_per_iter > 0 and 0 < s.mfu < 1 for s in steps)
    assert steps[0].lr == pytest.approx(3e-3 / 3)  # warmup_iters=2
    evals = [e for e in events if isinstance(e, Eval)]
    assert [e.iter for e in evals] == [0, 5, 10]
    assert all(len(e.sample) == 12 and set(e.sample) <= set(TEXT) for e in evals)
    # the eval sample is the Playground's sampler on the weights of that moment, seeded by the iteration
    settings = SampleSettings(max_new_tokens=12, seed=tiny_config().seed + 10, slide="fast")
    assert Sampler.from_run("r", home=home, device="cpu").generate("", settings) == [evals[-1].sample]
    run_dir = home / "runs" / "r"
    assert sorted(p.name for p in run_dir.iterdir()) == [
        "best.pt",
        "ckpt.pt",
        "config.json",
        "metrics.jsonl",
        "status.json",
    ]
    status = json.loads((run_dir / "status.json").read_text())
    assert status["status"] == "completed" and status["iter"] == 10 and status["dataset"] == "tiny"
    assert status["best_val_loss"] == pytest.approx(finished.best_val_loss) and status["pid"] == os.getpid()
    assert json.loads((run_dir / "config.json").read_text())["n_embd"] == 16
    ckpt = load_checkpoint(run_dir / "ckpt.pt")
    assert ckpt["iter_num"] == 10 and ckpt["tokenizer"]["chars"] == sorted(set(TEXT)) and ckpt["dataset"] == "tiny"
    assert set(ckpt["rng"]) == {"torch", "numpy"} and ckpt["config"]["max_iters"] == 10
    records = read_metrics(run_dir)
    assert [r["type"] for r in records] == [e.type for e in events]
    assert all(isinstance(r["time"], float) for r in records)
    assert event_from_dict(records[-1]) == finished


def test_checkpoints_follow_val_improvement(home, dataset):
    finished, events = run(home, tiny_config(max_iters=10, eval_interval=5))
    saved = [(e.iter, e.best) for e in events if isinstance(e, CheckpointSaved)]
    best_iters = {e.iter for e in events if isinstance(e, Eval) and e.val_loss == e.best_val_loss and e.iter > 0}
    assert {it for it, best in saved if best} == best_iters  # best.pt at each improvement
    assert {it for it, best in saved if not best} >= best_iters  # ckpt.pt too
    best = load_checkpoint(home / "runs" / "r" / "best.pt")
    assert best["best_val_loss"] == pytest.approx(finished.best_val_loss)


def test_invalid_settings_list_every_problem_and_write_nothing(home, dataset):
    with pytest.raises(ConfigError) as e:
        train(tiny_config(n_embd=30, n_head=4, min_lr=1.0, block_size=4096, dataset="tiny"), home=home)
    problems = [str(p) for p in e.value.problems]
    assert len(problems) == 4  # n_embd/n_head, min_lr, block_size vs train and val split
    assert any("divisible" in p for p in problems) and any("min_lr" in p for p in problems)
    assert os.listdir(home / "runs") == []


def test_missing_dataset_is_refused(home):
    with pytest.raises(ConfigError, match="does not exist"):
        train(tiny_config(dataset="nope"), home=home)


def test_existing_run_is_not_overwritten(home, dataset):
    run(home, tiny_config(max_iters=2))
    with pytest.raises(ConfigError, match="already exists.*--resume r"):
        train(tiny_config(max_iters=2), home=home)


def test_missing_logger_packages_are_named(home, dataset, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name in ("wandb", "tensorboard") else real(name, *a)
    )
    with pytest.raises(ConfigError) as e:
        train(tiny_config(wandb_log=True, tensorboard_log=True), home=home)
    assert [(p.fields, p.code) for p in e.value.problems] == [
        (("wandb_log",), "missing_package"),
        (("tensorboard_log",), "missing_package"),
    ]
    assert "pip install wandb" in str(e.value.problems[0]) and "pip install tensorboard" in str(e.value.problems[1])
    # the desktop bundle cannot pip install: it says where these integrations are
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    with pytest.raises(ConfigError) as e:
        train(tiny_config(wandb_log=True), home=home)
    assert "the desktop bundle leaves out: install GPT Studio with pip" in str(e.value)


def test_eval_only_writes_nothing(home, dataset):
    finished, events = run(home, tiny_config(eval_only=True))
    assert finished.status == "completed" and [e.type for e in events] == ["run_started", "eval", "finished"]
    assert os.listdir(home / "runs") == []


def test_gradient_accumulation_runs_all_micro_batches(home, dataset, monkeypatch):
    calls = []
    real_next = Batches.next
    monkeypatch.setattr(Batches, "next", lambda self: calls.append(1) or real_next(self))
    _finished, events = run(
        home, tiny_config(max_iters=3, eval_interval=100, eval_iters=1, gradient_accumulation_steps=3)
    )
    assert events[0].tokens_per_iter == 3 * 4 * 16
    assert len(calls) == 3 * 3 + 2 * 1 * 2  # 3 steps x 3 micro-batches + 2 evals x 1 batch x 2 splits


# ----- stopping -----


def test_cancel_stops_within_one_iteration_with_a_checkpoint(home, dataset):
    cancel = threading.Event()

    def on_event(e):
        if isinstance(e, Step) and e.iter == 3:
            cancel.set()

    finished, events = run(
        home, tiny_config(max_iters=1000, lr_decay_iters=1000, eval_interval=1000), cancel=cancel, on_event=on_event
    )
    assert finished.status == "stopped" and finished.iter == 4 and "Stopped" in finished.reason
    assert max(e.iter for e in events if isinstance(e, Step)) == 3
    assert load_checkpoint(home / "runs" / "r" / "ckpt.pt")["iter_num"] == 4
    assert json.loads((home / "runs" / "r" / "status.json").read_text())["status"] == "stopped"


def test_warm_up_leaves_the_random_state_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    trainer.warm_up()
    assert torch.equal(torch.rand(3), expected)


def test_stop_file_stops_the_run_and_is_removed(home, dataset):
    stop = home / "runs" / "r" / "STOP"

    def on_event(e):
        if isinstance(e, Step) and e.iter == 2:
            stop.write_text("")

    finished, _ = run(home, tiny_config(max_iters=1000, lr_decay_iters=1000, eval_interval=1000), on_event=on_event)
    assert finished.status == "stopped" and finished.iter == 3 and not stop.exists()


def test_stale_stop_file_is_ignored(home, dataset):
    (home / "runs" / "r").mkdir(parents=True)
    (home / "runs" / "r" / "STOP").write_text("")
    finished, _ = run(home, tiny_config(max_iters=3))
    assert finished.status == "completed"


def test_early_stopping_after_patience_evals(home, dataset, monkeypatch):
    losses = iter([3.0, 2.0, 2.5, 2.4, 1.0])
    monkeypatch.setattr(trainer.Session, "estimate_loss", lambda self: dict.fromkeys(("train", "val"), next(losses)))
    finished, events = run(home, tiny_config(max_iters=100, lr_decay_iters=100, eval_interval=2, early_stop_patience=2))
    assert [e.val_loss for e in events if isinstance(e, Eval)] == [3.0, 2.0, 2.5, 2.4]
    assert finished.status == "completed" and finished.iter == 6 and "did not improve for 2 evals" in finished.reason
    assert finished.best_val_loss == 2.0


# ----- failures -----


def test_nan_loss_fails_readably_and_keeps_the_good_checkpoint(home, dataset, monkeypatch):
    real_forward = GPT.forward
    poisoned = {"on": False}

    def forward(self, idx, targets=None, cache=None):
        logits, loss = real_forward(self, idx, targets, cache)
        return logits, (loss * float("nan") if poisoned["on"] and self.training and loss is not None else loss)

    monkeypatch.setattr(GPT, "forward", forward)

    def on_event(e):
        if isinstance(e, CheckpointSaved) and e.iter == 4:
            poisoned["on"] = True  # from iteration 4 on, the loss is NaN

    finished, _events = run(
        home,
        tiny_config(max_iters=20, lr_decay_iters=20, eval_interval=4, always_save_checkpoint=True),
        on_event=on_event,
    )
    assert finished.status == "failed" and finished.iter == 5
    assert "NaN" in finished.reason and "learning_rate" in finished.reason
    ckpt = load_checkpoint(home / "runs" / "r" / "ckpt.pt")
    assert ckpt["iter_num"] == 4 and all(torch.isfinite(v).all() for v in ckpt["model"].values())
    assert json.loads((home / "runs" / "r" / "status.json").read_text())["status"] == "failed"


def test_out_of_memory_fails_with_a_suggestion(home, dataset, monkeypatch):
    def oom(self, it):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(trainer.Session, "_step", oom)
    finished, _ = run(home, tiny_config())
    assert finished.status == "failed" and "lower batch_size or block_size" in finished.reason
    assert json.loads((home / "runs" / "r" / "status.json").read_text())["status"] == "failed"


def test_unexpected_errors_are_recorded_then_raised(home, dataset, monkeypatch):
    monkeypatch.setattr(trainer.Session, "_step", lambda self, it: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        run(home, tiny_config())
    status = json.loads((home / "runs" / "r" / "status.json").read_text())
    assert status["status"] == "failed" and "ZeroDivisionError" in status["reason"]


# ----- resume -----


def final_state(home, name):
    ckpt = load_checkpoint(home / "runs" / name / "ckpt.pt")
    return ckpt["model"], ckpt["optimizer"]["state"], ckpt["iter_num"]


def test_resume_continues_exactly_where_it_stopped(home, dataset):
    settings = dict(max_iters=12, lr_decay_iters=12, eval_interval=6, dropout=0.1)
    _, straight = run(home, tiny_config(run_name="straight", **settings))
    _, first = run(home, tiny_config(run_name="split", **{**settings, "max_iters": 6}))
    losses = {e.iter: e.loss for e in straight if isinstance(e, Step)}
    assert {e.iter: e.loss for e in first if isinstance(e, Step)} == {i: losses[i] for i in range(6)}  # seeded
    cfg = resume_config("split", {"max_iters": 12}, home=home)
    assert (cfg.init_from, cfg.max_iters, cfg.dropout, cfg.n_embd) == ("resume", 12, 0.1, 16)
    finished, resumed = run(home, cfg)
    assert resumed[0].start_iter == 6 and finished.iter == 12
    steps = {e.iter: e for e in straight if isinstance(e, Step)}
    for e in resumed:
        if isinstance(e, Step):  # same LR schedule and same batches, so the same losses
            assert e.lr == steps[e.iter].lr and e.loss == pytest.approx(steps[e.iter].loss, abs=1e-5)
    (m1, o1, i1), (m2, o2, i2) = final_state(home, "straight"), final_state(home, "split")
    assert i1 == i2 == 12
    for k in m1:
        assert torch.allclose(m1[k], m2[k], atol=1e-5), k
    for p in o1:
        for k in ("exp_avg", "exp_avg_sq", "step"):
            assert torch.allclose(o1[p][k], o2[p][k], atol=1e-6)


def test_metrics_continue_on_resume(home, dataset):
    cancel = threading.Event()
    run(
        home,
        tiny_config(max_iters=100, lr_decay_iters=100, eval_interval=4),
        cancel=cancel,
        on_event=lambda e: isinstance(e, Step) and e.iter == 5 and cancel.set(),
    )
    run(home, resume_config("r", {"max_iters": 10}, home=home))
    records = read_metrics(home / "runs" / "r")
    assert [r["start_iter"] for r in records if r["type"] == "run_started"] == [0, 6]
    assert [r["iter"] for r in records if r["type"] == "step"] == list(range(10))
    assert [r["iter"] for r in records if r["type"] == "eval"] == [0, 4, 8, 10]
    assert records[-1]["type"] == "finished" and records[-1]["status"] == "completed"


def test_resume_overrides_and_keeps_architecture(home, dataset):
    run(home, tiny_config(max_iters=2))
    cfg = resume_config("r", {"max_iters": 4, "learning_rate": 1e-3, "n_embd": 64, "device": "cpu"}, home=home)
    assert cfg.n_embd == 16 and cfg.learning_rate == 1e-3 and cfg.max_iters == 4
    with pytest.raises(CheckpointError):
        resume_config("nope", home=home)


def test_resume_on_a_differently_tokenized_dataset_is_refused(home, dataset):
    run(home, tiny_config(max_iters=2))
    write_char_dataset(home, "other", "abcdefgh" * 300)
    with pytest.raises(ConfigError, match="tokenized differently"):
        train(resume_config("r", {"dataset": "other"}, home=home), home=home)


def nanogpt_checkpoint(iter_num=4) -> dict:
    """A ckpt.pt as nanoGPT's train.py writes it for a compiled model (keys, prefixes, tensor loss)."""
    chars = sorted(set(TEXT))
    args = dict(n_layer=1, n_head=2, n_embd=16, block_size=16, bias=False, vocab_size=len(chars), dropout=0.0)
    torch.manual_seed(0)
    model = GPT(GPTConfig(**args))
    opt = model.configure_optimizers(0.1, 1e-3, (0.9, 0.99), "cpu")
    x = torch.randint(0, len(chars), (2, 16))
    model(x, x)[1].backward()
    opt.step()
    config = dict(
        out_dir="out-shakespeare-char",
        eval_interval=250,
        dataset="shakespeare_char",
        batch_size=4,
        block_size=16,
        n_layer=1,
        n_head=2,
        n_embd=16,
        learning_rate=1e-3,
        max_iters=6,
        lr_decay_iters=6,
        warmup_iters=1,
        min_lr=1e-4,
        device="cuda",
        dtype="bfloat16",
        compile=True,
        backend="nccl",
        wandb_log=False,
        eval_iters=2,
        log_interval=1,
    )
    return {
        "model": {f"_orig_mod.{k}": v for k, v in model.state_dict().items()},
        "optimizer": opt.state_dict(),
        "model_args": args,
        "iter_num": iter_num,
        "best_val_loss": torch.tensor(3.9),
        "config": config,
    }


def test_nanogpt_checkpoint_resumes(home, dataset):
    (home / "runs" / "nano").mkdir(parents=True)
    torch.save(nanogpt_checkpoint(), home / "runs" / "nano" / "ckpt.pt")
    cfg = resume_config("nano", {"dataset": "tiny"}, home=home)
    assert (cfg.device, cfg.compile, cfg.max_iters, cfg.eval_interval) == ("auto", cfg.compile, 6, 250)
    cfg.device, cfg.compile, cfg.eval_sample_tokens = "cpu", False, 5
    finished, events = run(home, cfg)
    assert events[0].start_iter == 4 and finished.status == "completed" and finished.iter == 6
    ckpt = load_checkpoint(home / "runs" / "nano" / "ckpt.pt")
    assert ckpt["tokenizer"]["chars"] == sorted(set(TEXT)) and ckpt["iter_num"] == 6
    assert not any(k.startswith("_orig_mod.") for k in ckpt["model"])
    assert [e.iter for e in events if isinstance(e, Step)] == [4, 5]


def test_import_nanogpt_run_with_meta_pkl(home, dataset, tmp_path):
    out_dir = tmp_path / "out-shakespeare-char"
    out_dir.mkdir()
    torch.save(nanogpt_checkpoint(iter_num=4), out_dir / "ckpt.pt")
    chars = sorted(set(TEXT))
    with open(out_dir / "meta.pkl", "wb") as f:
        pickle.dump(
            {"vocab_size": len(chars), "itos": dict(enumerate(chars)), "stoi": {c: i for i, c in enumerate(chars)}}, f
        )
    run_dir = import_nanogpt_run(out_dir, "imported", home=home)
    ckpt = load_checkpoint(run_dir / "ckpt.pt")
    assert ckpt["tokenizer"] == {"tokenizer": "char", "vocab_size": len(chars), "chars": chars}
    assert ckpt["config"]["run_name"] == "imported" and ckpt["iter_num"] == 4
    [info] = [r for r in list_runs(home) if r["name"] == "imported"]
    assert info["status"] == "stopped" and info["iter"] == 4 and info["checkpoints"] == ["ckpt.pt"]
    assert info["best_val_loss"] == pytest.approx(3.9)
    cfg = resume_config("imported", {"dataset": "tiny", "device": "cpu", "compile": False}, home=home)
    finished, _ = run(home, cfg)
    assert finished.status == "completed" and finished.iter == 6
    with pytest.raises(WorkspaceError, match="already exists"):
        import_nanogpt_run(out_dir, "imported", home=home)


def test_import_refuses_a_meta_pkl_with_code(home, tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    out_dir = tmp_path / "out"
    out_dir.mkdir()
    torch.save(nanogpt_checkpoint(), out_dir / "ckpt.pt")
    with open(out_dir / "meta.pkl", "wb") as f:
        pickle.dump({"itos": Evil()}, f)
    with pytest.raises(DatasetError, match="meta.pkl"):
        import_nanogpt_run(out_dir, "x", home=home)
    assert not marker.exists() and not (home / "runs" / "x").exists()


def test_import_refuses_an_oversized_meta_pkl(home, tmp_path):
    torch.save(nanogpt_checkpoint(), tmp_path / "ckpt.pt")
    with open(tmp_path / "meta.pkl", "wb") as f:
        f.truncate(MAX_PICKLE_BYTES + 1)
    with pytest.raises(DatasetError, match="too large"):
        import_nanogpt_run(tmp_path, "x", home=home)
    assert not (home / "runs" / "x").exists()


def test_import_without_any_vocabulary_says_what_to_give(home, tmp_path):
    torch.save(nanogpt_checkpoint(), tmp_path / "ckpt.pt")
    with pytest.raises(CheckpointError, match="--dataset NAME"):
        import_nanogpt_run(tmp_path, "x", home=home)


# ----- reading runs back -----


def test_list_runs_survives_damaged_folders(home, dataset):
    run(home, tiny_config(max_iters=2))
    runs = home / "runs"
    (runs / "empty").mkdir()
    (runs / "damaged").mkdir()
    (runs / "damaged" / "status.json").write_text("{not json")
    (runs / "dead").mkdir()
    (runs / "dead" / "status.json").write_text(json.dumps({"status": "running", "pid": 2**22 + 12345, "iter": 7}))
    by_name = {r["name"]: r for r in list_runs(home)}
    assert by_name["r"]["status"] == "completed" and by_name["r"]["checkpoints"] == ["best.pt", "ckpt.pt"]
    assert by_name["empty"]["status"] == by_name["damaged"]["status"] == "empty"
    assert by_name["dead"]["status"] == "stopped" and by_name["dead"]["interrupted"] is True
    assert all(r["path"] == str(runs / r["name"]) for r in by_name.values())


def test_read_metrics_skips_a_torn_last_line(home, dataset):
    run(home, tiny_config(max_iters=2))
    path = home / "runs" / "r" / "metrics.jsonl"
    n = len(read_metrics(path.parent))
    with open(path, "a") as f:
        f.write('{"type": "step", "iter": 2, "lo')  # killed mid-write
    assert len(read_metrics(path.parent)) == n
    # a later session appends on a fresh line
    run(home, resume_config("r", {"max_iters": 3}, home=home))
    records = read_metrics(path.parent)
    assert records[-1]["type"] == "finished" and records[-1]["iter"] == 3


# ----- end to end -----


@pytest.mark.usefixtures("one_torch_thread")
def test_learns_tiny_shakespeare(home, shakespeare_text):
    """A tiny char model on CPU gets well below the unigram entropy (~3.3 nats): ~10 s on 2 idle cores."""
    write_char_dataset(home, "shakespeare_char", shakespeare_text)
    cfg = TrainConfig(
        dataset="shakespeare_char",
        run_name="e2e",
        n_layer=2,
        n_head=4,
        n_embd=64,
        block_size=64,
        batch_size=32,
        dropout=0.0,
        learning_rate=3e-3,
        min_lr=3e-4,
        warmup_iters=20,
        max_iters=300,
        lr_decay_iters=300,
        eval_interval=300,
        eval_iters=20,
        log_interval=50,
        eval_sample_tokens=0,
        device="cpu",
        dtype="float32",
        compile=False,
    )
    finished, events = run(home, cfg)
    evals = [e for e in events if isinstance(e, Eval)]
    assert finished.status == "completed" and evals[-1].iter == 300
    assert evals[-1].val_loss < 2.5, evals[-1]
    assert math.isclose(finished.best_val_loss, evals[-1].val_loss)
