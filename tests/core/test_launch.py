"""core/launch.py: training as a job, here or as a torchrun child whose events come back as data."""

import sys
import threading

import pytest

from gptstudio.core import launch, trainer
from gptstudio.core.events import Finished, Message, RunStarted, SettingsProblem, Step
from gptstudio.core.launch import multinode_commands, torchrun_command, train_here, train_with_torchrun

from .training_helpers import tiny_config, write_char_dataset


def test_torchrun_command_lines():
    one = torchrun_command("c.json", "r", 4)
    assert one[1:4] == ["-m", "torch.distributed.run", "--standalone"] and "--nproc_per_node=4" in one
    assert one[-6:] == ["train", "--config", "c.json", "--name", "r", "--jsonl"]
    again = torchrun_command("overrides.json", "r", 2, resume=True)
    assert again[-6:] == ["train", "--config", "overrides.json", "--resume", "r", "--jsonl"]
    lines = multinode_commands(2, 8, "10.0.0.1", 29500, "train.json", "big")
    assert len(lines) == 2 and all(line.startswith("torchrun --nnodes=2 --node_rank=") for line in lines)
    assert "--node_rank=1" in lines[1] and "--master_addr=10.0.0.1" in lines[1] and "--nproc_per_node=8" in lines[1]
    assert "--jsonl" not in lines[0]


# ----- in this process


def test_train_here_reports_a_run_and_returns_its_finished(home):
    write_char_dataset(home)
    events = []
    end = train_here(tiny_config(max_iters=4), home=home, report=events.append)
    assert isinstance(events[0], RunStarted) and events[-1] is end and end.status == "completed"
    assert sum(isinstance(e, Finished) for e in events) == 1


def test_train_here_resumes_with_overrides(home):
    write_char_dataset(home)
    train_here(tiny_config(max_iters=4), home=home)
    events = []
    end = train_here(
        tiny_config(init_from="resume", run_name="r"), home=home, overrides={"max_iters": 6}, report=events.append
    )
    assert events[0].start_iter == 4 and end.status == "completed" and end.iter == 6


def test_settings_that_cannot_start_become_problem_events(home):
    events = []
    end = train_here(tiny_config(dataset="missing"), home=home, report=events.append)
    problems = [e for e in events if isinstance(e, SettingsProblem)]
    assert problems and "missing" in problems[0].message and problems[0].fields
    assert events[-1] is end and end.status == "failed" and end.reason.startswith(launch.NOT_STARTED)


def test_a_bug_ends_the_run_readably_then_surfaces(home, monkeypatch):
    def broken(*args, **kwargs):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(trainer, "train", broken)
    events = []
    with pytest.raises(ZeroDivisionError):  # the caller logs the traceback
        train_here(tiny_config(), home=home, report=events.append)
    assert events == [Finished("failed", -1, "Unexpected error: ZeroDivisionError: division by zero")]


def test_out_of_memory_is_a_readable_failure_not_a_bug(home, monkeypatch):
    def oom(*args, **kwargs):
        raise MemoryError()

    monkeypatch.setattr(trainer, "train", oom)
    end = train_here(tiny_config(), home=home)
    assert end.status == "failed" and end.reason.startswith("Out of memory: lower batch_size")


# ----- a child process (torchrun's stand-in: a script, or the real CLI)

CHILD = """
import json, os, sys, time
stop = os.path.join(os.environ["GPTSTUDIO_HOME"], "runs", "fake", "STOP")
print(json.dumps(dict(type='run_started', run='fake', config={}, n_params=10, device='cpu', dtype='float32',
                      start_iter=0, max_iters=10, tokens_per_iter=8, flops_per_iter=1.0, world_size=2)))
print(json.dumps(dict(type='step', iter=0, loss=4.0, lr=1e-3, tokens_per_sec=1.0, ms_per_iter=1.0, mfu=-1,
                      elapsed=0.1)))
print('a library says hello')
print('rank 1: a warning', file=sys.stderr)
sys.stdout.flush(); sys.stderr.flush()
MODE
"""
OBEYS_STOP = """
while not os.path.exists(stop):
    time.sleep(0.05)
print(json.dumps(dict(type='finished', status='stopped', iter=1, reason='Stopped by request at iteration 1.')))
"""


def fake_child(monkeypatch, mode: str) -> None:
    script = CHILD.replace("MODE", mode)
    monkeypatch.setattr(launch, "torchrun_command", lambda *a, **k: [sys.executable, "-c", script])


def run_child(home, stop_at_first_step=True, **kwargs):
    events, cancel = [], threading.Event()

    def report(event):
        events.append(event)
        if isinstance(event, Step) and stop_at_first_step:
            cancel.set()  # as the Stop button does, from another thread

    end = train_with_torchrun(tiny_config(run_name="fake"), home=home, nproc=2, report=report, cancel=cancel, **kwargs)
    return events, end


def test_child_events_come_back_and_stop_writes_the_stop_file(home, monkeypatch):
    fake_child(monkeypatch, OBEYS_STOP)
    events, end = run_child(home)
    assert events[0].text.startswith("Starting: ")
    from_stdout = [e for e in events if not (isinstance(e, Message) and e.level == "warning")]  # (stderr: any time)
    assert isinstance(from_stdout[1], RunStarted) and from_stdout[1].world_size == 2
    assert any(isinstance(e, Step) and e.loss == 4.0 for e in events)
    messages = {e.text: e.level for e in events if isinstance(e, Message)}
    assert messages["a library says hello"] == "info" and messages["rank 1: a warning"] == "warning"
    assert end == Finished("stopped", 1, "Stopped by request at iteration 1.") and events[-1] is end


def test_a_child_that_ignores_stop_is_ended_after_the_grace_period(home, monkeypatch):
    fake_child(monkeypatch, "time.sleep(60)")
    events, end = run_child(home, grace_s=0.5)
    assert (home / "runs" / "fake" / "STOP").exists()
    assert end.status == "stopped" and "processes were ended" in end.reason
    assert any(isinstance(e, Message) and "did not stop within 0.5 s" in e.text for e in events)


def test_a_killed_child_is_a_failure_with_its_exit_code(home, monkeypatch):
    fake_child(monkeypatch, "os.kill(os.getpid(), 9)")
    events, end = run_child(home, stop_at_first_step=False)
    assert end.status == "failed" and "exited with code -9 before finishing" in end.reason
    assert sum(isinstance(e, Finished) for e in events) == 1 and events[-1] is end


def test_a_child_that_cannot_start_is_a_failure(home, monkeypatch):
    monkeypatch.setattr(launch, "torchrun_command", lambda *a, **k: [str(home / "no-such-python")])
    events, end = run_child(home)
    assert end.status == "failed" and end.reason.startswith("Could not start torchrun") and events[-1] is end


def test_the_real_cli_child_reports_settings_problems_as_events(home, monkeypatch):
    """`gptstudio train --jsonl` as the child (what torchrun runs on every rank): a missing dataset
    arrives as SettingsProblem events and a Finished, never as text to parse."""
    real = torchrun_command

    def cli_only(*args, **kwargs):
        cmd = real(*args, **kwargs)  # [python, -m, torch.distributed.run, ..., -m, gptstudio, ...]
        return [sys.executable, *cmd[cmd.index("gptstudio") - 1 :]]

    monkeypatch.setattr(launch, "torchrun_command", cli_only)
    events, end = run_child(home)
    problems = [e for e in events if isinstance(e, SettingsProblem)]
    assert problems and "'tiny'" in problems[0].message
    assert end.status == "failed" and end.reason.startswith(launch.NOT_STARTED)
    assert not any(isinstance(e, Message) and e.level == "error" for e in events)  # no "crashed" guess
