"""A dataset's import report as rows and words (Qt-free): every input file, included with the characters
it gave, or skipped with the reason; read from meta.json's "sources" and "skipped"."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath

from gptstudio.core.cleanup import CleanupStats
from gptstudio.core.documents import KIND_LABELS, document_kind


@dataclass(frozen=True)
class ReportRow:
    status: str  # "included" or "skipped"
    name: str
    path: str
    kind: str  # "PDF", "Text", ...
    chars: int | None  # characters given to the dataset (None for skipped files, or older datasets)
    detail: str  # the reason a file was skipped, or a note (the field read, pages without text)


def _kind(entry: dict) -> str:
    kind = entry.get("format") or entry.get("kind") or document_kind(entry.get("path", ""))
    return KIND_LABELS.get(kind, str(kind))


def report_rows(meta: dict) -> list[ReportRow]:
    """Skipped files first (they need a look), then the included ones, each in import order."""
    rows = [
        ReportRow("skipped", PurePath(e.get("path", "?")).name, e.get("path", "?"), _kind(e), None, e.get("reason", ""))
        for e in meta.get("skipped") or []
    ]
    for e in meta.get("sources") or []:
        chars = e.get("chars")
        rows.append(
            ReportRow(
                "included",
                PurePath(e.get("path", "?")).name,
                e.get("path", "?"),
                _kind(e),
                int(chars) if isinstance(chars, int) else None,
                e.get("note", ""),
            )
        )
    return rows


def report_summary(meta: dict) -> str:
    """'12 files included (1,204,311 characters), 3 skipped.' with what the cleanup removed."""
    included, skipped = len(meta.get("sources") or []), len(meta.get("skipped") or [])
    text = f"{included:,} file{'s' if included != 1 else ''} included ({int(meta.get('total_chars', 0)):,} characters)"
    text += f", {skipped:,} skipped." if skipped else "."
    cleanup = meta.get("cleanup")
    if isinstance(cleanup, dict) and isinstance(cleanup.get("stats"), dict):
        text += " " + CleanupStats.from_dict(cleanup["stats"]).describe("the documents")
    return text
