import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np

from gptstudio.cli import main
from gptstudio.core import dataset as ds

REPO = Path(__file__).resolve().parents[2]


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("gptstudio: error: ") and "Traceback" not in err
    return lines[0]


def test_prepare_char_file(home, tmp_path, capsys):
    src = tmp_path / "story.txt"
    src.write_text("Once upon a time, ünïcödé 中文.\n" * 30, encoding="utf-8")
    assert main(["prepare", str(src), "--name", "story", "--val-fraction", "0.2"]) == 0
    out = capsys.readouterr().out
    assert "Prepared dataset 'story': char tokenizer, vocab" in out and "MB/s" in out
    meta = ds.load_dataset_meta(home / "datasets" / "story")
    assert meta["val_fraction"] == 0.2 and meta["train_tokens"] == int(meta["total_chars"] * 0.8)


def test_prepare_gpt2_default_name_and_home_option(home, tmp_path, capsys):
    # (`home` so that the GPTSTUDIO_HOME which --home sets is restored after the test)
    src = tmp_path / "My Notes.txt"
    src.write_text("Hello world. " * 20, encoding="utf-8")
    other = tmp_path / "elsewhere"
    assert main(["--home", str(other), "prepare", str(src), "--tokenizer", "gpt2"]) == 0
    assert "'My_Notes': gpt2 tokenizer, vocab 50,257" in capsys.readouterr().out
    assert ds.load_dataset_meta(other / "datasets" / "My_Notes")["train_tokens"] > 0


def test_prepare_demo(home, capsys):
    assert main(["prepare", "--demo"]) == 0
    assert "'shakespeare_char': char tokenizer, vocab 65, 1,003,854 train + 111,540 val" in capsys.readouterr().out


def test_bad_input_is_one_line_and_exit_2(home, tmp_path, capsys):
    assert main(["prepare", str(tmp_path / "missing.txt"), "--name", "x"]) == 2
    assert "missing.txt" in one_error_line(capsys.readouterr().err)

    binary = tmp_path / "weights.bin"
    binary.write_bytes(b"\x00\x01\x02")
    assert main(["prepare", str(binary), "--name", "x"]) == 2
    assert "not a text file" in one_error_line(capsys.readouterr().err)

    assert main(["prepare", "--name", "x"]) == 2
    assert "No input" in one_error_line(capsys.readouterr().err)

    src = tmp_path / "ok.txt"
    src.write_text("enough text here", encoding="utf-8")
    assert main(["prepare", str(src), "--name", "bad name"]) == 2
    assert "Invalid dataset name" in one_error_line(capsys.readouterr().err)


def test_existing_dataset_needs_force(home, tmp_path, capsys):
    src = tmp_path / "a.txt"
    src.write_text("some text to prepare", encoding="utf-8")
    assert main(["prepare", str(src), "--name", "a"]) == 0
    assert main(["prepare", str(src), "--name", "a"]) == 2
    assert "already exists" in one_error_line(capsys.readouterr().err)
    assert main(["prepare", str(src), "--name", "a", "--force"]) == 0


def test_import_nanogpt_and_list(home, tmp_path, capsys):
    folder = tmp_path / "shakespeare_char"
    folder.mkdir()
    np.array([0, 1, 2, 1] * 9, np.uint16).tofile(folder / "train.bin")
    np.array([2, 0, 1, 2], np.uint16).tofile(folder / "val.bin")
    with open(folder / "meta.pkl", "wb") as f:
        pickle.dump({"vocab_size": 3, "itos": {0: "a", 1: "b", 2: "\n"}, "stoi": {"a": 0, "b": 1, "\n": 2}}, f)
    assert main(["import-nanogpt-data", str(folder)]) == 0
    assert "Imported dataset 'shakespeare_char': char tokenizer, vocab 3, 36 train + 4 val" in capsys.readouterr().out

    (home / "datasets" / "broken").mkdir()
    assert main(["datasets"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["NAME", "TOKENIZER", "VOCAB", "TRAIN", "VAL", "SIZE", "CREATED"]
    assert lines[1].split()[:2] == ["broken", "damaged"]
    assert lines[2].split()[:5] == ["shakespeare_char", "char", "3", "36", "4"]

    (folder / "meta.pkl").write_bytes(b"cos\nsystem\n(S'echo hi'\ntR.")  # protocol-0 os.system call
    assert main(["import-nanogpt-data", str(folder), "--name", "evil"]) == 2
    assert "refused" in one_error_line(capsys.readouterr().err)


def test_datasets_empty_workspace(home, capsys):
    assert main(["datasets"]) == 0
    assert "No datasets in" in capsys.readouterr().out


def test_module_run_prints_no_traceback(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO), "GPTSTUDIO_HOME": str(tmp_path / "home")}
    proc = subprocess.run(
        [sys.executable, "-m", "gptstudio", "prepare", str(tmp_path / "nope.txt"), "--name", "x"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "nope.txt" in one_error_line(proc.stderr)
    assert proc.stdout == ""
