"""`gptstudio train`, `gptstudio runs` and `gptstudio import-nanogpt-run` from the command line."""

import json
import os
import signal
import subprocess
import sys

import pytest

from gptstudio.cli import main
from gptstudio.core.checkpoint import load_checkpoint

from .training_helpers import tiny_cli_args, write_char_dataset

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def dataset(home):
    return write_char_dataset(home)


def test_invalid_settings_exit_2_listing_every_problem(home, dataset, capsys):
    rc = main(
        [
            "train",
            *tiny_cli_args(),
            "--n_embd=100",
            "--n_head=3",
            "--min_lr=1",
            "--n_layers=2",
            "--dropout=lots",
            "stray",
        ]
    )
    out, err = capsys.readouterr()
    assert rc == 2 and out == ""
    lines = [line for line in err.splitlines() if line.startswith("  - ")]
    assert len(lines) == 5, err
    # the problems are data (Problem objects); the CLI prints their sentences as it always did
    assert err.splitlines() == ["gptstudio: error: the settings have problems; nothing was started:", *lines]
    for text in (
        "stray does not exist",
        "Unknown setting 'n_layers'. Did you mean 'n_layer'?",
        "dropout must be a number, not 'lots'",
        "must be divisible by n_head (3)",
        "min_lr (1) is larger",
    ):
        assert text in err
    assert "Traceback" not in err
    assert os.listdir(home / "runs") == []


def test_settings_that_are_not_key_value_are_refused(home, dataset, capsys):
    assert main(["train", *tiny_cli_args(), "--max_iters", "5"]) == 2
    assert "write settings as --key=value" in capsys.readouterr().err
    assert os.listdir(home / "runs") == []


def test_progress_lines(home, dataset, capsys):
    rc = main(["train", *tiny_cli_args(max_iters=6, eval_interval=3, eval_sample_tokens=10)])
    out, _ = capsys.readouterr()
    assert rc == 0
    lines = out.splitlines()
    assert "parameters (1 layers, 2 heads, 16 wide, context 16)" in lines[0]
    assert "FLOP/iter, 64 tokens/iter | cpu float32" in lines[1]
    steps = [line for line in lines if line.startswith("iter ")]
    assert len(steps) == 6 and steps[-1].startswith("iter 5/6 (100.0%) | loss ")
    for part in ("ms/it", "tok/s", "MFU", "ETA"):
        assert part in steps[0]
    assert sum(line.startswith("eval ") for line in lines) == 3
    assert lines[-1].startswith("completed at iter 6")


def test_jsonl_prints_only_events(home, dataset, capsys):
    rc = main(["train", *tiny_cli_args(max_iters=4, eval_interval=2), "--jsonl"])
    out, _ = capsys.readouterr()
    assert rc == 0
    events = [json.loads(line) for line in out.splitlines()]
    assert events[0]["type"] == "run_started" and events[-1]["type"] == "finished"
    assert {e["type"] for e in events} == {"run_started", "step", "eval", "checkpoint", "finished"}
    assert events[-1]["status"] == "completed" and events[-1]["iter"] == 4


def test_nanogpt_style_config_file_and_overrides(home, dataset, tmp_path, capsys):
    config = tmp_path / "train_tiny_char.py"
    config.write_text(
        "out_dir = 'out-tiny'\ndataset = 'tiny'\nn_layer = 1\nn_head = 2\nn_embd = 16\n"
        "block_size = 16\nbatch_size = 4\nmax_iters = 100\nlr_decay_iters = max_iters\n"
        "eval_iters = 2\neval_interval = 250\nlog_interval = 1\nwandb_log = False\n"
    )
    rc = main(
        [
            "train",
            str(config),
            "--device=cpu",
            "--compile=False",
            "--max_iters=3",
            "--lr_decay_iters=3",
            "--eval_sample_tokens=0",
            "--dropout=0.0",
        ]
    )
    assert rc == 0, capsys.readouterr().err
    ckpt = load_checkpoint(home / "runs" / "out-tiny" / "ckpt.pt")
    assert ckpt["iter_num"] == 3 and ckpt["config"]["max_iters"] == 3 and ckpt["config"]["n_embd"] == 16


def test_resume_continues_and_runs_lists(home, dataset, capsys):
    assert main(["train", *tiny_cli_args(max_iters=3)]) == 0
    assert main(["train", "--resume", "r", "--max_iters=5", "--device=cpu", "--compile=False"]) == 0
    out = capsys.readouterr().out
    assert "resuming at iter 3 of 5" in out
    assert load_checkpoint(home / "runs" / "r" / "ckpt.pt")["iter_num"] == 5
    assert main(["runs"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["NAME", "MODEL", "STATUS", "ITER", "BEST", "VAL", "BEST", "BPB", "DATASET", "UPDATED"]
    assert table[1].split()[:4] == ["r", "base", "completed", "5/5"]
    assert main(["runs", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["name"] == "r"


def test_resume_of_a_missing_run(home, capsys):
    assert main(["train", "--resume", "nope"]) == 2
    assert "No checkpoint" in capsys.readouterr().err


def test_import_nanogpt_run_command(home, dataset, tmp_path, capsys):
    import torch

    from .test_trainer import nanogpt_checkpoint

    torch.save(nanogpt_checkpoint(), tmp_path / "ckpt.pt")
    assert main(["import-nanogpt-run", str(tmp_path), "--name", "nano", "--dataset", "tiny"]) == 0
    assert "gptstudio train --resume nano" in capsys.readouterr().out
    assert load_checkpoint(home / "runs" / "nano" / "ckpt.pt")["dataset"] == "tiny"
    assert main(["import-nanogpt-run", str(tmp_path), "--name", "nano"]) == 2
    assert "already exists" in capsys.readouterr().err


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("sig", [signal.SIGINT, pytest.param(signal.SIGTERM, marks=pytest.mark.slow)])
def test_signal_stops_cleanly_with_a_checkpoint(home, dataset, sig):
    env = {**os.environ, "PYTHONPATH": REPO, "GPTSTUDIO_HOME": str(home)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gptstudio",
            "train",
            *tiny_cli_args(max_iters=100_000, lr_decay_iters=100_000, eval_interval=100_000),
            "--jsonl",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        for line in proc.stdout:
            if json.loads(line)["type"] == "step" and json.loads(line)["iter"] >= 2:
                break
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    events = [json.loads(line) for line in out.splitlines()]
    assert proc.returncode == 0, err
    assert events[-1]["type"] == "finished" and events[-1]["status"] == "stopped"
    ckpt = load_checkpoint(home / "runs" / "r" / "ckpt.pt")
    assert ckpt["iter_num"] == events[-1]["iter"]
    assert json.loads((home / "runs" / "r" / "status.json").read_text())["status"] == "stopped"


def test_settings_lists_every_setting(capsys):
    from gptstudio.core.config import FIELDS

    assert main(["train", "--settings"]) == 0
    out = capsys.readouterr().out
    for name in FIELDS:
        assert f"  --{name}=" in out
    assert "--block_size=256" in out and "[tokens]" in out


def test_progress_loss_smoothing_does_not_lag_with_a_large_log_interval():
    import io

    from gptstudio.commands.train import ProgressPrinter
    from gptstudio.core.events import RunStarted, Step

    out = io.StringIO()
    printer = ProgressPrinter(out)
    printer(RunStarted("r", {"dataset": "d"}, 1000, "cpu", "float32", 0, 2000, 768, 1e9))
    for it, loss in ((0, 4.2), (500, 2.5), (1000, 2.0)):
        printer(Step(it, loss, 1e-3, 1000.0, 40.0, 0.5, 1.0))
    last = out.getvalue().strip().splitlines()[-1]
    assert "loss 2.0000" in last  # 500 iterations apart: the old losses have decayed away
