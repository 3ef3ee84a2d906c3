"""Preparing a dataset from documents (core.dataset + core.text_import) and `gptstudio prepare` on them:
a mixed folder becomes one dataset, every file is reported (included with its characters and hash,
skipped with the reason), memory stays flat, and cancelling leaves nothing."""

import csv
import hashlib
import json
import shutil
import threading
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from gptstudio.cli import main
from gptstudio.core import dataset as ds
from gptstudio.core.cleanup import CleanupOptions
from gptstudio.core.errors import Cancelled, DatasetError
from gptstudio.core.tokenizer import CharTokenizer

from .test_documents import BOOK, FIXTURES, MARKUP, PAPER_KNOWN, write_jsonl


def dataset_text(meta: dict) -> str:
    folder = Path(meta["path"])
    ids = np.concatenate([np.fromfile(folder / f"{s}.bin", dtype=meta["dtype"]) for s in ("train", "val")])
    return CharTokenizer(meta["chars"]).decode(ids)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def mixed(tmp_path, shakespeare_text):
    """A folder as people have them: documents of every kind, plain text, and files that cannot be used."""
    folder = tmp_path / "mixed"
    (folder / "books").mkdir(parents=True)
    for name in ("book.epub", "book.docx", "book.html", "paper.pdf", "scan.pdf", "locked.pdf"):
        shutil.copy(FIXTURES / name, folder / ("books" if name.startswith("book") else ".") / name)
    (folder / "play.txt").write_text(shakespeare_text[:3000], encoding="utf-8")
    (folder / "notes.md").write_text("# Notes\n\nThe **keeper** kept [notes](x.html) of the weather and the tides.\n")
    write_jsonl(folder / "logs.jsonl", [{"id": i, "body": f"Log entry {i}: {BOOK[i % 4]}"} for i in range(8)])
    with open(folder / "reviews.csv", "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["stars", "review"])
        writer.writerows(
            [[5, f"Review {i}: a fine lighthouse, the light was bright all night long."] for i in range(5)]
        )
    write_jsonl(folder / "chat.jsonl", [{"messages": [{"role": "user", "content": "Hi"}]}] * 3)
    (folder / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(300))
    (folder / "letter.doc").write_bytes(b"\xd0\xcf\x11\xe0" + bytes(100))
    (folder / "empty.txt").write_bytes(b"")
    (folder / ".hidden.txt").write_text("never read", encoding="utf-8")
    return folder


def test_mixed_folder_becomes_one_dataset_with_a_report(home, mixed, shakespeare_text):
    meta = ds.prepare_dataset([mixed], "mixed", home=home)
    text = dataset_text(meta)
    for sentence in [*BOOK, PAPER_KNOWN, "The keeper kept notes of the weather and the tides.", shakespeare_text[:200]]:
        assert sentence in text
    assert "Review 3: a fine lighthouse" in text and "Log entry 7: " + BOOK[3] in text
    assert not MARKUP.search(text) and "never read" not in text
    assert "Proceedings of the Lighthouse Society" not in text  # the cleanup ran on the PDF
    # the EPUB, DOCX and HTML hold the same paragraphs: the duplicates went, the log's two entries stay
    assert text.count(BOOK[0]) == 1 + 2
    included = {Path(s["path"]).name: s for s in meta["sources"]}
    assert sorted(included) == sorted(
        ["book.docx", "book.epub", "book.html", "paper.pdf", "play.txt", "notes.md", "logs.jsonl", "reviews.csv"]
    )
    assert included["paper.pdf"]["sha256"] == sha256(mixed / "paper.pdf")  # the original file's hash
    assert included["paper.pdf"]["size"] == (mixed / "paper.pdf").stat().st_size
    assert included["play.txt"]["chars"] == 3000 and included["play.txt"]["format"] == "text"
    assert included["logs.jsonl"]["note"] == "field 'body', 8 records" and included["book.epub"]["format"] == "epub"
    assert sum(s["chars"] for s in meta["sources"]) == meta["total_chars"] == len(text)
    skipped = {Path(s["path"]).name: s["code"] for s in meta["skipped"]}
    assert skipped == {
        "scan.pdf": "scan",
        "locked.pdf": "encrypted",
        "chat.jsonl": "chat",
        "photo.png": "binary",
        "letter.doc": "unsupported",
        "empty.txt": "empty",
    }
    cleanup = meta["cleanup"]
    assert cleanup["options"] == CleanupOptions().to_dict()
    assert cleanup["stats"]["removed"]["page_furniture"] > 0 and cleanup["stats"]["duplicate_paragraphs"] > 0
    on_disk = json.loads((home / "datasets" / "mixed" / "meta.json").read_text(encoding="utf-8"))
    assert on_disk["skipped"] == meta["skipped"] and on_disk["sources"] == meta["sources"]
    assert sorted(p.name for p in (home / "datasets" / "mixed").iterdir()) == ["meta.json", "train.bin", "val.bin"]


def test_plain_text_is_used_as_it_is_unless_asked(home, tmp_path):
    messy = "CafÃ©  au lait.\n\n\n\nThe end of a text file that is long enough to keep.\n"
    src = tmp_path / "messy.txt"
    src.write_text(messy, encoding="utf-8")
    assert dataset_text(ds.prepare_dataset([src], "as_is", home=home)) == messy  # nanoGPT's tokens exactly
    meta = ds.prepare_dataset([src], "cleaned", home=home, cleanup=CleanupOptions(plain_text=True))
    assert dataset_text(meta) == "Café au lait.\n\nThe end of a text file that is long enough to keep."
    removed = meta["cleanup"]["stats"]["removed"]
    assert removed["whitespace"] == 4 and removed["mojibake"] == 1 and meta["sources"][0]["sha256"] == sha256(src)


def test_text_field_is_chosen_for_every_record_file(home, tmp_path):
    rows = write_jsonl(
        tmp_path / "r.jsonl", [{"title": f"Title number {i} of the set", "text": "x" * 80} for i in range(4)]
    )
    meta = ds.prepare_dataset([rows], "titles", home=home, text_field="title", cleanup=CleanupOptions(min_chars=5))
    assert dataset_text(meta) == "\n\n".join(f"Title number {i} of the set" for i in range(4))
    with pytest.raises(DatasetError, match="No usable text in the input: r.jsonl has no text field 'nope'"):
        ds.prepare_dataset([rows], "x", home=home, text_field="nope")


def test_nothing_usable_says_why(home):
    with pytest.raises(DatasetError, match=r"No usable text in the input: scan\.pdf: no text found.*; locked\.pdf"):
        ds.prepare_dataset([FIXTURES / "scan.pdf", FIXTURES / "locked.pdf"], "x", home=home)
    assert not (home / "datasets" / "x").exists()


def test_progress_names_each_document_and_cancel_leaves_nothing(home, tmp_path):
    folder = tmp_path / "pages"
    folder.mkdir()
    for i in range(6):
        (folder / f"page{i}.html").write_text(f"<p>Page {i}: {BOOK[i % 4]}</p>" * 20, encoding="utf-8")
    ds.prepare_dataset([FIXTURES / "book.md"], "same", home=home)
    before = sorted((home / "datasets" / "same").iterdir())
    seen = []
    ds.prepare_dataset([folder], "p", home=home, report=seen.append)
    reading = {p.file_index: p for p in seen if p.phase == "reading"}  # each file is named as it is read
    assert [Path(p.file).name for p in reading.values()] == [f"page{i}.html" for i in range(6)]
    assert list(reading) == list(range(6)) and {p.file_count for p in reading.values()} == {6}
    assert [p.done for p in seen] == sorted(p.done for p in seen) and seen[-1].done == seen[-1].total

    cancel = threading.Event()

    def report(p):
        if p.phase == "reading" and p.file_index == 3:
            cancel.set()

    with pytest.raises(Cancelled):
        ds.prepare_dataset([folder], "same", home=home, force=True, report=report, cancel=cancel)
    assert sorted((home / "datasets" / "same").iterdir()) == before
    assert [p.name for p in (home / "datasets").iterdir() if p.name.startswith(".")] == []
    deadline = time.monotonic() + 60  # the unfinished build is deleted in the background, and goes too
    while (home / ds.TRASH).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not (home / ds.TRASH).exists()


def test_memory_stays_flat_over_many_documents(home, tmp_path, shakespeare_text):
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(150):  # 150 pages of 60 KB: 9 MB of HTML
        start = (i * 7919) % (len(shakespeare_text) - 60_000)
        paragraphs = shakespeare_text[start : start + 60_000].split("\n\n")
        (folder / f"{i:03d}.html").write_text("<p>" + "</p>\n<p>".join(paragraphs) + "</p>", encoding="utf-8")
    tracemalloc.start()
    try:
        meta = ds.prepare_dataset([folder], "many", home=home, chunk_bytes=256 << 10)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(meta["sources"]) == 150
    assert peak < 12 << 20, f"peak {peak / 1e6:.1f} MB for 150 documents (9 MB)"


# ----- the command line


def test_cli_prepares_documents_and_lists_what_it_skipped(home, mixed, capsys):
    assert main(["prepare", str(mixed), "--name", "docs", "--text-field", "body", "--cleanup", "nfc,whitespace"]) == 0
    out, err = capsys.readouterr()
    assert "Prepared dataset 'docs'" in out
    assert "Skipped 7 files:" in err and "locked.pdf is an encrypted PDF" in err and "photo.png" in err
    assert "reviews.csv has no text field 'body'" in err  # the field named applies to every record file
    assert "Cleanup: Removed from the documents: " in err or "Cleanup: Nothing to clean" in err
    meta = {**ds.load_dataset_meta(home / "datasets" / "docs"), "path": home / "datasets" / "docs"}
    assert meta["cleanup"]["options"]["page_furniture"] is False and meta["cleanup"]["options"]["nfc"] is True
    assert "Proceedings of the Lighthouse Society" in dataset_text(meta)  # page furniture kept, as asked


def test_cli_preview_shows_the_changes_and_prepares_nothing(home, tmp_path, capsys):
    src = tmp_path / "w.txt"
    src.write_text("Some  words   with a hyphen-\nated break.\n\n\n\nAnd more text after it.\n", encoding="utf-8")
    assert main(["prepare", str(src), "--preview"]) == 0
    assert "w.txt (Text): plain text is used as it is" in capsys.readouterr().out
    assert main(["prepare", str(src), str(FIXTURES / "scan.pdf"), "--preview", "--clean-text-files"]) == 0
    out = capsys.readouterr().out
    assert "with a hyphen[--↵\n-]ated" in out
    assert "-- Removed from this sample: 2 characters of hyphenated line ends, 6 characters of extra spaces" in out
    assert "scan.pdf (PDF): skipped: scan.pdf: no text found" in out
    assert not (home / "datasets").exists() or not any((home / "datasets").iterdir())


def test_cli_refuses_unknown_cleanup_steps(home, tmp_path, capsys):
    src = tmp_path / "a.txt"
    src.write_text("hello there", encoding="utf-8")
    assert main(["prepare", str(src), "--cleanup", "nfc,sparkle"]) == 2
    assert "Unknown cleanup step 'sparkle'" in capsys.readouterr().err
    assert main(["prepare", str(src), "--min-chars", "-3"]) == 2
