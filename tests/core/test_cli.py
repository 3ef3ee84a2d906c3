"""The `gptstudio` command as a whole: one-line errors, and an instant start for the commands without torch."""

import pytest

from gptstudio.cli import main
from gptstudio.commands import runs as runs_command


def test_out_of_memory_is_one_line_and_exit_1(home, monkeypatch, capsys):
    def out_of_memory(args):
        raise MemoryError()

    monkeypatch.setattr(runs_command, "run_list", out_of_memory)
    assert main(["runs"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("gptstudio: error: Out of memory: lower batch_size or block_size") and err.count("\n") == 1


def test_a_bug_keeps_its_traceback(home, monkeypatch):
    monkeypatch.setattr(runs_command, "run_list", lambda args: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        main(["runs"])
