"""torchrun on CPU (gloo): 2-process runs, 2 "nodes" on loopback, stop propagation, a dying rank, resume."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import psutil
import pytest

from gptstudio.core.checkpoint import load_checkpoint
from tests.core.training_helpers import tiny_cli_args, write_char_dataset

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="gloo torchrun tests need a POSIX launcher")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun_env(home):
    env = {**os.environ, "GPTSTUDIO_HOME": str(home), "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    env.pop("RANK", None)
    return env


def launch(home, launcher_args, **overrides):
    # nanoGPT's rule: the accumulation steps are shared out between the processes
    overrides.setdefault("gradient_accumulation_steps", 2)
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        *launcher_args,
        "-m",
        "gptstudio",
        "train",
        *tiny_cli_args(**overrides),
        "--jsonl",
    ]
    return subprocess.Popen(cmd, env=torchrun_env(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def communicate_all(procs, timeout):
    """Wait for every process, reading all their pipes at once; past the timeout kill them all."""
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(len(procs)) as pool:
        futures = [pool.submit(p.communicate) for p in procs]
        _done, pending = concurrent.futures.wait(futures, timeout=timeout)
        for p in procs if pending else ():
            p.kill()
        return [f.result() for f in futures]


def events_of(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def metrics(home, run="r") -> list[dict]:
    return [json.loads(line) for line in (home / "runs" / run / "metrics.jsonl").read_text().splitlines() if line]


@pytest.fixture
def dataset(home):
    return write_char_dataset(home)


def test_two_processes_train_checkpoint_and_resume_with_one(home, dataset):
    proc = launch(
        home, ["--standalone", "--nproc_per_node=2"], max_iters=40, lr_decay_iters=40, eval_interval=20, batch_size=4
    )
    out, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, err[-2000:]
    events = events_of(out)
    started = [e for e in events if e["type"] == "run_started"]
    assert len(started) == 1 and started[0]["world_size"] == 2  # only rank 0 reports
    steps = [e for e in events if e["type"] == "step"]
    assert [s["iter"] for s in steps] == sorted({s["iter"] for s in steps})  # no duplicate from rank 1
    evals = [e for e in events if e["type"] == "eval"]
    assert evals[-1]["val_loss"] < evals[0]["val_loss"] - 0.3  # it learns
    assert events[-1]["type"] == "finished" and events[-1]["status"] == "completed"
    assert sum(1 for m in metrics(home) if m["type"] == "run_started") == 1
    ckpt = load_checkpoint(home / "runs" / "r" / "ckpt.pt")
    assert ckpt["iter_num"] == 40
    # resume the 2-process run with a single process: it continues, it does not restart
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "gptstudio",
            "train",
            "--resume",
            "r",
            "--max_iters=50",
            "--lr_decay_iters=50",
            "--jsonl",
        ],
        env=torchrun_env(home),
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    resumed = events_of(res.stdout)
    assert resumed[0]["type"] == "run_started" and resumed[0]["start_iter"] == 40
    assert load_checkpoint(home / "runs" / "r" / "ckpt.pt")["iter_num"] == 50


def test_two_nodes_on_loopback(home, dataset):
    port = free_port()
    nodes = [
        launch(
            home,
            [
                "--nnodes=2",
                f"--node_rank={rank}",
                "--nproc_per_node=1",
                "--rdzv-backend=static",
                f"--rdzv-endpoint=127.0.0.1:{port}",
            ],
            max_iters=20,
            lr_decay_iters=20,
            eval_interval=10,
        )
        for rank in (0, 1)
    ]
    results = communicate_all(nodes, timeout=180)
    for node, (_out, _err) in zip(nodes, results):
        assert node.returncode == 0, "\n".join(f"node {i}: {e[-1500:]}" for i, (_o, e) in enumerate(results))
    master, worker = events_of(results[0][0]), events_of(results[1][0])
    assert master[0]["world_size"] == 2 and master[-1]["status"] == "completed"
    assert worker == []  # only global rank 0 reports events
    assert load_checkpoint(home / "runs" / "r" / "ckpt.pt")["iter_num"] == 20


def wait_for_step(proc, timeout=120) -> list[str]:
    """Read stdout lines until the first step event; return them."""
    lines, deadline = [], time.time() + timeout
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if '"type": "step"' in line:
            return lines
    pytest.fail("no step event from the torchrun job:\n" + "".join(lines) + proc.stderr.read()[-2000:])


@pytest.mark.parametrize("how", ["sigterm", "stop_file"])
def test_stop_request_reaches_every_rank(home, dataset, how):
    proc = launch(
        home, ["--standalone", "--nproc_per_node=2"], max_iters=100000, lr_decay_iters=100000, eval_interval=100000
    )
    head = wait_for_step(proc)
    if how == "sigterm":
        proc.send_signal(signal.SIGTERM)
    else:
        (home / "runs" / "r" / "STOP").write_text("")
    out, err = proc.communicate(timeout=120)
    if how == "stop_file":
        assert proc.returncode == 0, err[-2000:]
    else:
        # torchrun turns a signal into its own SignalException (exit 1) after forwarding it to the
        # ranks; what matters is that every rank stopped cleanly: none is reported as failed
        assert "ChildFailedError" not in err and "exitcode" not in err, err[-2000:]
    events = events_of("".join(head) + out)
    assert events[-1]["type"] == "finished" and events[-1]["status"] == "stopped"
    saved = [e for e in events if e["type"] == "checkpoint"]
    assert saved and load_checkpoint(home / "runs" / "r" / "ckpt.pt")["iter_num"] == events[-1]["iter"]
    assert not (home / "runs" / "r" / "STOP").exists()


def test_a_dying_rank_takes_the_job_down_and_keeps_the_checkpoint(home, dataset):
    proc = launch(
        home, ["--standalone", "--nproc_per_node=2"], max_iters=100000, lr_decay_iters=100000, eval_interval=20
    )
    wait_for_step(proc)
    ckpt_path = home / "runs" / "r" / "ckpt.pt"
    deadline = time.time() + 120
    while not ckpt_path.exists() and time.time() < deadline:
        time.sleep(0.2)
    assert ckpt_path.exists()
    ranks = [p for p in psutil.Process(proc.pid).children(recursive=True) if "gptstudio" in " ".join(p.cmdline())]
    victim = next(p for p in ranks if p.environ().get("RANK") == "1")
    victim.kill()
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode != 0
    assert "rank" in err.lower() or "failed" in err.lower()
    assert load_checkpoint(ckpt_path)["iter_num"] >= 20  # the last checkpoint is intact
    for p in ranks:
        assert not p.is_running() or p.status() == psutil.STATUS_ZOMBIE
