"""Checking dropped files and folders (core.input_check): text files accepted, the rest refused with a reason."""

import threading

import pytest

from gptstudio.core import input_check
from gptstudio.core.errors import Cancelled
from gptstudio.core.input_check import InputProgress, check_inputs


def test_text_accepted_binary_and_missing_refused(tmp_path):
    poem = tmp_path / "poem.txt"
    poem.write_text("Shall I compare thee to a summer's day?\n", encoding="utf-8")
    photo = tmp_path / "photo.png"
    photo.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    result = check_inputs([photo, poem, tmp_path / "gone.txt"])
    assert [info.path.name for info in result.accepted] == ["poem.txt"]
    assert result.accepted[0].preview_lines == ["Shall I compare thee to a summer's day?"]
    gone, photo_refused = result.refused  # paths that are not there are found out first
    assert "gone.txt" in gone and "not found" in gone
    assert "photo.png" in photo_refused and "not a text file" in photo_refused
    assert result.paths == [photo, poem, tmp_path / "gone.txt"]


def test_folder_expanded_in_order_and_empty_folder_refused(tmp_path):
    folder = tmp_path / "letters"
    folder.mkdir()
    for name in ("b.txt", "a.txt", "c.md"):
        (folder / name).write_text(f"letter {name}\n", encoding="utf-8")
    empty = tmp_path / "empty"
    empty.mkdir()
    result = check_inputs([folder, empty])
    assert [info.path.name for info in result.accepted] == ["a.txt", "b.txt", "c.md"]
    assert result.refused == [
        f"Not added: The folder {empty} has no text files or documents: put .txt, .md, .pdf, .epub, .docx, .html, "
        ".jsonl or .csv files in it, or give files."
    ]


def test_progress_is_reported_and_cancel_stops(tmp_path, monkeypatch):
    for i in range(30):
        (tmp_path / f"n{i:02d}.txt").write_text("note\n", encoding="utf-8")
    monkeypatch.setattr(input_check, "REPORT_EVERY_S", 0.0)  # report at every file
    seen = []
    result = check_inputs([tmp_path], report=seen.append)
    assert len(result.accepted) == 30
    assert seen[0] == InputProgress(0, 30) and seen[-1] == InputProgress(29, 30)

    cancel = threading.Event()

    def cancel_midway(p):
        if p.done == 10:
            cancel.set()

    with pytest.raises(Cancelled):
        check_inputs([tmp_path], report=cancel_midway, cancel=cancel)
