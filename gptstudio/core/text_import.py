"""The text of every input file, ready to tokenize, and a report line for each file.

Plain text files are read by the tokenizers as they are (nanoGPT's way, at full speed) unless the
cleanup options say to clean them too. Documents (PDF, EPUB, DOCX, HTML, Markdown, JSON/CSV records)
are read one at a time, cleaned (core/cleanup.py) and written as UTF-8 text into a staging folder
inside the dataset's build folder, one file per input; the tokenizers then read those. So memory
holds one document (or one PDF's pages) at a time whatever the number of files, and cancelling
removes the staging folder with the rest of the build.

A file that cannot be used is skipped with its reason (a password, a scan, a damaged archive, chat
data, no text...) and the import goes on; `FileReport`s say what happened to every file, and end up
in meta.json: `sources` (with each file's format and characters) and `skipped`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

from gptstudio.core.cleanup import Cleaner, CleanupOptions, CleanupPreview, CleanupStats, preview
from gptstudio.core.documents import ReadNotes, document_kind, read_document, read_sample
from gptstudio.core.errors import DocumentError
from gptstudio.core.textfiles import Skipped, check_text_head, file_sha256, unsupported_reason

DOCUMENT_SEPARATOR = "\n\n"  # between the records of a file, and between the pieces of a document


class StageProgress(Protocol):
    """What staging tells the preparation's progress (dataset._Progress implements it)."""

    def check(self) -> None: ...

    def advance(self, nbytes: int, phase: str) -> None: ...

    def at_file(self, index: int, count: int, path: Path) -> None: ...


@dataclass
class FileReport:
    """What happened to one input file. status: "included" or "skipped" (with `reason`, and `code`
    from DocumentError/Skipped for callers that group the reasons)."""

    path: str
    kind: str
    size: int
    status: str
    reason: str = ""
    code: str = ""
    chars: int = 0  # characters it gives the dataset (after cleanup); filled in after tokenizing
    note: str = ""  # e.g. the JSON field read, pages without text
    sha256: str = ""
    staged: str = ""  # the staging file the tokenizers read instead of the file itself

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k != "staged"}


@dataclass
class StagedInputs:
    """The files the tokenizers read (in order), a report for every input, and the cleanup stats."""

    read_paths: list[Path] = field(default_factory=list)
    reports: list[FileReport] = field(default_factory=list)
    stats: CleanupStats = field(default_factory=CleanupStats)
    cleaned: bool = False  # some text went through the cleanup

    @property
    def included(self) -> list[FileReport]:
        return [r for r in self.reports if r.status == "included"]

    @property
    def skipped(self) -> list[FileReport]:
        return [r for r in self.reports if r.status == "skipped"]

    def sources(self, read_sources: list[dict]) -> list[dict]:
        """meta.json's sources: the tokenizers' entries (one per read path, with its characters) told
        about the original files (path, size, sha256, format) instead of the staging copies."""
        by_read = {str(p): r for p, r in zip(self.read_paths, self.included)}
        merged = []
        for entry in read_sources:
            report = by_read.get(str(entry["path"]))
            if report is None:
                merged.append(entry)
                continue
            report.chars = int(entry.get("chars", 0))
            if report.staged:
                entry = {"path": report.path, "size": report.size, "sha256": report.sha256, "chars": report.chars}
            entry["format"] = report.kind
            if report.note:
                entry["note"] = report.note
            merged.append(entry)
        return merged

    def nothing_message(self) -> str:
        """Why there is nothing to prepare: the reasons of the first few skipped files."""
        reasons = "; ".join(r.reason.rstrip(".") for r in self.skipped[:3])
        more = f"; and {len(self.skipped) - 3:,} more" if len(self.skipped) > 3 else ""
        return f"No usable text in the input: {reasons}{more}."


def _report(path: Path, status: str, **extra) -> FileReport:
    try:
        size = path.stat().st_size
    except OSError:
        size = 0
    return FileReport(str(path), document_kind(path), size, status, **extra)


def stage_inputs(
    files: list[Path],
    folder: Path,
    progress: StageProgress,
    *,
    options: CleanupOptions | None = None,
    text_field: str | None = None,
    walked_past: list[Skipped] | None = None,
) -> StagedInputs:
    """Check every file; read, clean and write out the documents (and plain text when the options
    say so) into `folder`. Plain text passes through untouched otherwise. `walked_past` are the
    files a folder walk passed over (binary, empty, unsupported): reported as skipped too."""
    options = options or CleanupOptions()
    staged = StagedInputs()
    cleaner = Cleaner(options)
    for skip in walked_past or []:
        staged.reports.append(_report(skip.path, "skipped", reason=skip.reason, code=skip.code))
    for index, path in enumerate(files):
        progress.check()
        reason = unsupported_reason(path)
        if reason:
            staged.reports.append(_report(path, "skipped", reason=reason, code="unsupported"))
            continue
        kind = document_kind(path)
        if kind == "text" and not options.plain_text:
            try:
                check_text_head(path)  # the tokenizer reads it; its first bytes tell whether it can
            except DocumentError as e:
                staged.reports.append(_report(path, "skipped", reason=str(e), code=e.code))
                continue
            staged.read_paths.append(path)
            staged.reports.append(_report(path, "included"))
            continue
        progress.at_file(index, len(files), path)
        target = folder / f"{index:06d}.txt"
        folder.mkdir(parents=True, exist_ok=True)
        try:
            notes = _write_clean_text(path, target, cleaner, text_field, progress)
        except DocumentError as e:
            target.unlink(missing_ok=True)
            staged.reports.append(_report(path, "skipped", reason=str(e), code=e.code))
            continue
        except OSError as e:
            target.unlink(missing_ok=True)
            message = f"{path.name} cannot be read: {e.strerror or e}."
            staged.reports.append(_report(path, "skipped", reason=message, code="unreadable"))
            continue
        staged.cleaned = True
        if target.stat().st_size == 0:
            why = "all of its text was removed by the cleanup (too short, or duplicates)"
            staged.reports.append(_report(path, "skipped", reason=f"{path.name}: {why}.", code="cleaned_away"))
            target.unlink()
            continue
        report = _report(path, "included", note=notes.summary(), staged=str(target))
        report.sha256 = file_sha256(path, progress.check)
        staged.read_paths.append(target)
        staged.reports.append(report)
    staged.stats = cleaner.stats
    return staged


def _write_clean_text(
    path: Path, target: Path, cleaner: Cleaner, text_field: str | None, progress: StageProgress
) -> ReadNotes:
    """Read one file's documents, clean them and write their text to `target`; the reader's notes."""
    notes = ReadNotes()
    size = path.stat().st_size
    tail = None  # the end of what was written: documents are separated unless it ends a paragraph
    with open(target, "w", encoding="utf-8", newline="") as out:
        for doc in read_document(path, text_field=text_field, notes=notes, check=progress.check):
            text = cleaner.clean(doc)
            if not text:
                continue
            if tail is not None and not tail.endswith("\n\n"):
                out.write(DOCUMENT_SEPARATOR)
            out.write(text)
            tail = text[-2:]
    progress.advance(size, "reading")
    return notes


def preview_cleanup(
    path, options: CleanupOptions, *, text_field: str | None = None, report=None, cancel=None
) -> CleanupPreview:
    """The cleanup of the start of one input file (a job for the Dataset tab's preview). Plain text
    comes back unchanged, with a note, unless the options clean plain text too."""
    path = Path(path)
    if document_kind(path) == "text" and not options.plain_text:
        sample = read_sample(path)
        return preview(sample, CleanupOptions.none(), note="plain_text")
    return preview(read_sample(path, text_field=text_field), options)
