"""The import report's rows and summary (Qt-free), from meta.json."""

from gptstudio.gui.state.import_report import report_rows, report_summary

META = {
    "total_chars": 12_345,
    "sources": [
        {"path": "/d/a.txt", "size": 10, "sha256": "x", "chars": 12_000, "format": "text"},
        {"path": "/d/b.jsonl", "size": 10, "sha256": "y", "chars": 345, "format": "jsonl", "note": "field 'body'"},
    ],
    "skipped": [{"path": "/d/scan.pdf", "kind": "pdf", "reason": "scan.pdf: no text found", "code": "scan"}],
    "cleanup": {"options": {}, "stats": {"removed": {"whitespace": 30}, "duplicate_paragraphs": 2, "unknown": 1}},
}


def test_rows_put_skipped_files_first():
    rows = report_rows(META)
    assert [(r.status, r.name, r.kind, r.chars) for r in rows] == [
        ("skipped", "scan.pdf", "PDF", None),
        ("included", "a.txt", "Text", 12_000),
        ("included", "b.jsonl", "JSON Lines", 345),
    ]
    assert rows[0].detail == "scan.pdf: no text found" and rows[2].detail == "field 'body'"


def test_summary_counts_and_cleanup():
    assert report_summary(META) == (
        "2 files included (12,345 characters), 1 skipped. Removed from the documents: 30 characters of extra "
        "spaces and blank lines."
    )
    older = {"total_chars": 5, "sources": [{"path": "/x.txt", "size": 5, "sha256": "z"}]}  # before reports existed
    assert report_summary(older) == "1 file included (5 characters)."
    assert report_rows(older)[0].chars is None and report_rows(older)[0].kind == "Text"
