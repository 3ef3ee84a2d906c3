"""kill -9 at random moments of a CPU training run (checkpoint writes included): nothing is lost.

After each kill the last complete checkpoint loads, metrics.jsonl stays parseable (a torn last line is
ignored and repaired on the next append), the dead trainer's lock is taken over, and the run resumes.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time

import pytest

from gptstudio.core.checkpoint import load_checkpoint
from gptstudio.core.runs import read_metrics
from tests.core.training_helpers import tiny_cli_args, write_char_dataset


def env_for(home):
    return {**os.environ, "GPTSTUDIO_HOME": str(home), "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def start_run(home, args):
    return subprocess.Popen(
        [sys.executable, "-m", "gptstudio", "train", *args, "--jsonl"],
        env=env_for(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_checkpoint(proc, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            pytest.fail("the run ended before its first checkpoint: " + proc.stderr.read()[-2000:])
        if '"type": "checkpoint"' in line:
            return
    pytest.fail("no checkpoint within the time limit")


def kill_and_resume(home, kills: int, seed: int):
    rnd = random.Random(seed)
    write_char_dataset(home)
    run = home / "runs" / "r"
    # a checkpoint every 2 iterations: many kills land in the middle of a checkpoint write
    settings = dict(max_iters=100000, lr_decay_iters=100000, eval_interval=2, eval_iters=1, always_save_checkpoint=True)
    proc = start_run(home, tiny_cli_args(**settings))
    last_iter = -1
    for _i in range(kills):
        wait_for_checkpoint(proc)
        time.sleep(rnd.uniform(0.0, 1.5))
        proc.kill()  # SIGKILL: no handler, no cleanup
        proc.communicate(timeout=60)
        ckpt = load_checkpoint(run / "ckpt.pt")  # the last complete checkpoint is always loadable
        assert ckpt["iter_num"] >= last_iter  # and never older than the one before
        last_iter = ckpt["iter_num"]
        events = read_metrics(run)
        assert events and all(isinstance(e, dict) for e in events)
        # resume: the dead process's lock is stale and taken over; the iteration continues
        proc = start_run(home, ["--resume", "r", "--max_iters=100000"])
        first = json.loads(proc.stdout.readline())
        assert first["type"] == "run_started" and first["start_iter"] == last_iter, first
    proc.kill()
    proc.communicate(timeout=60)
    # after the final kill: a clean resume runs to completion, and every metrics line parses again
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "gptstudio",
            "train",
            "--resume",
            "r",
            f"--max_iters={load_checkpoint(run / 'ckpt.pt')['iter_num'] + 4}",
        ],
        env=env_for(home),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = (run / "metrics.jsonl").read_text().splitlines()
    torn = [ln for ln in lines if ln.strip() and not _parses(ln)]
    assert len(torn) <= kills + 1  # only the lines a kill cut short, each ended by the repair newline
    assert _parses(lines[-1])
    assert not list(run.glob(".*.tmp")), "temporary checkpoint files were left behind"


def _parses(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


def test_three_random_kills(home):
    kill_and_resume(home, kills=3, seed=1)


@pytest.mark.slow
def test_twenty_random_kills(home):
    kill_and_resume(home, kills=20, seed=2)
