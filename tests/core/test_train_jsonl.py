"""`gptstudio train --jsonl`, the torchrun child's side of the protocol: stdout carries only events,
every problem, warning and error included, and always ends with one Finished."""

import json
import warnings

from gptstudio.cli import main
from gptstudio.core import trainer
from gptstudio.core.events import Finished

from .training_helpers import tiny_cli_args, write_char_dataset


def events_of(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines()]  # every line is an event, or this raises


def test_settings_problems_are_events_then_a_failed_finish(home, capsys):
    rc = main(["train", *tiny_cli_args(), "--n_embd=100", "--n_head=3", "--n_layers=2", "--jsonl"])
    out, err = capsys.readouterr()
    events = events_of(out)
    problems = [e for e in events if e["type"] == "settings_problem"]
    assert rc == 2 and err == ""
    assert {"n_embd", "n_head"} <= {f for p in problems for f in p["fields"]}
    assert any(p["code"] == "unknown_key" and "n_layers" in p["message"] for p in problems)
    assert [e["type"] for e in events[-1:]] == ["finished"] and events[-1]["status"] == "failed"
    assert sum(e["type"] == "finished" for e in events) == 1


def test_a_missing_dataset_is_a_settings_problem(home, capsys):
    assert main(["train", *tiny_cli_args(), "--jsonl"]) == 2
    events = events_of(capsys.readouterr().out)
    assert events[0]["type"] == "settings_problem" and "'tiny'" in events[0]["message"]
    assert events[-1]["type"] == "finished" and events[-1]["status"] == "failed"


def test_python_warnings_are_events(home, capsys, monkeypatch):
    write_char_dataset(home)
    real = trainer.train

    def warns(*args, **kwargs):
        warnings.warn("this setting is deprecated", FutureWarning, stacklevel=1)
        return real(*args, **kwargs)

    monkeypatch.setattr(trainer, "train", warns)
    assert main(["train", *tiny_cli_args(max_iters=2), "--jsonl"]) == 0
    events = events_of(capsys.readouterr().out)
    assert {"type": "message", "text": "FutureWarning: this setting is deprecated", "level": "warning"} in events
    assert events[-1]["type"] == "finished" and events[-1]["status"] == "completed"


def test_an_unexpected_error_is_a_readable_failed_finish(home, capsys, monkeypatch):
    def crashes(*args, **kwargs):
        raise RuntimeError("something broke\nsecond line")

    monkeypatch.setattr(trainer, "train", crashes)
    assert main(["train", *tiny_cli_args(), "--jsonl"]) == 1
    out, err = capsys.readouterr()
    assert events_of(out) == [Finished("failed", -1, "Unexpected error: RuntimeError: something broke").to_dict()]
    assert "Traceback" in err  # for the log: the GUI shows stderr lines, never reads them


def test_other_ranks_report_only_their_own_failure(home, capsys, monkeypatch):
    """Every rank reads the same settings: only rank 0 reports their problems (not once per process)."""
    monkeypatch.setenv("RANK", "1")
    assert main(["train", *tiny_cli_args(), "--n_layers=2", "--jsonl"]) == 2
    assert capsys.readouterr().out == ""

    def crashes(*args, **kwargs):
        raise MemoryError()

    monkeypatch.setattr(trainer, "train", crashes)
    assert main(["train", *tiny_cli_args(), "--jsonl"]) == 1
    (end,) = events_of(capsys.readouterr().out)
    assert end["type"] == "finished" and end["reason"].startswith("Process 1: Out of memory")
