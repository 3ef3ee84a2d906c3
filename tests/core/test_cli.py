"""The `gptstudio` command as a whole: one-line errors, and an instant start for the commands without torch."""

import json
import os
import subprocess
import sys

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


def imported_modules(args: list[str], env: dict) -> set[str]:
    """Every module a whole `python -m gptstudio ARGS` process imports (from -X importtime)."""
    res = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "gptstudio", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    lines = [line.split("|")[-1] for line in res.stderr.splitlines() if line.startswith("import time:")]
    return {name.strip() for name in lines}


def test_quick_commands_never_import_torch(home, tmp_path):
    """`--version`, `--help`, `prepare`, `datasets` and `runs` start in a fraction of a second: torch
    alone takes 1-2 s to import. Each runs as a whole process, on a workspace holding a run."""
    text = tmp_path / "poem.txt"
    text.write_text("Shall I compare thee to a summer's day?\n" * 40, encoding="utf-8")
    run_dir = home / "runs" / "old"
    run_dir.mkdir(parents=True)
    (run_dir / "ckpt.pt").write_bytes(b"not read by `runs`")
    (run_dir / "status.json").write_text(json.dumps({"status": "stopped", "iter": 5, "max_iters": 9}))
    env = {**os.environ, "GPTSTUDIO_HOME": str(home)}
    for args in (
        ["--version"],
        ["--help"],
        ["prepare", str(text), "--name", "poem"],
        ["datasets"],
        ["runs"],
        ["runs", "--json"],
        ["sample", "--help"],
        ["export", "--help"],
        ["train", "--help"],
        ["serve", "--help"],
        ["suggest", "--help"],
        ["chat", "--help"],
    ):
        modules = imported_modules(args, env)
        assert "gptstudio.cli" in modules, args  # the probe sees the imports
        assert "torch" not in modules, f"`gptstudio {' '.join(args)}` imported torch"
    assert (home / "datasets" / "poem" / "train.bin").is_file()
