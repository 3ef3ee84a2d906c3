"""Fixtures of the Dataset panels' tests: text files to drop."""

import pytest


@pytest.fixture
def poem(tmp_path, shakespeare_text):
    path = tmp_path / "my poem.txt"
    path.write_text(shakespeare_text[:40_000], encoding="utf-8")
    return path


@pytest.fixture
def letters(tmp_path, shakespeare_text):
    """A folder of three text files of 5,000 characters each."""
    folder = tmp_path / "letters"
    folder.mkdir()
    for i in range(3):
        (folder / f"part{i}.txt").write_text(shakespeare_text[i * 5000 : (i + 1) * 5000], encoding="utf-8")
    return folder
