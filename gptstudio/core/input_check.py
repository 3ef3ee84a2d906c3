"""Check what a person dropped before preparing it: expand folders, keep the text files and documents,
say why not the rest, and recognise conversations (chat data) among them.

A plain job (run by the GUI's job runner; the CLI may call it too): reading the heads of thousands of
files takes a while, so it reports its progress and stops when cancelled.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from threading import Event

from gptstudio.core.chat_data import detect_chat_format, looks_like_transcript
from gptstudio.core.documents import inspect_document
from gptstudio.core.errors import Cancelled, GPTStudioError
from gptstudio.core.textfiles import Skipped, TextFileInfo, collect_input_files, inspect_text_file

REPORT_EVERY_S = 0.1  # progress reports at most this often: a GUI needs no more


@dataclass(frozen=True)
class InputProgress:
    """`done` of `total` files checked so far."""

    done: int
    total: int


@dataclass
class InputCheck:
    """The outcome of one check: the files accepted, one sentence per thing refused, and the files a
    folder walk passed over (binary, empty, unsupported; they are not refused one by one)."""

    paths: list[Path]  # what was given, in order (files and folders)
    accepted: list[TextFileInfo] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    passed_over: list[Skipped] = field(default_factory=list)
    # accepted files that hold conversations: their chat format (core/chat_data.py), by path; a text file
    # that starts like a User:/Assistant: transcript is "transcript" (a hint: only --chat reads it so)
    chat_formats: dict[Path, str] = field(default_factory=dict)


def _chat_format(path: Path) -> str | None:
    try:
        return detect_chat_format(path) or ("transcript" if looks_like_transcript(path) else None)
    except GPTStudioError:
        return None  # the reader reports it when the file is prepared


def check_inputs(
    paths, *, report: Callable[[InputProgress], None] | None = None, cancel: Event | None = None
) -> InputCheck:
    """Expand folders into their text files and documents and check each one: a text file's head
    (encoding, binary, empty), a document's start (password, damage, scan, chat data, text field).

    Never raises for a bad input: a missing path, an empty folder or a binary file becomes a sentence
    in `refused`, so one bad item does not reject the good ones.
    """
    result = InputCheck([Path(p) for p in paths])
    files: list[Path] = []
    for path in result.paths:  # one at a time, so one bad folder does not reject the good files
        try:
            files += collect_input_files([path], result.passed_over)
        except GPTStudioError as e:
            result.refused.append(f"Not added: {e}")
    last_report = time.monotonic()
    for done, path in enumerate(files):
        if cancel is not None and cancel.is_set():
            raise Cancelled()
        if report is not None and time.monotonic() - last_report >= REPORT_EVERY_S:
            report(InputProgress(done, len(files)))
            last_report = time.monotonic()
        fmt = _chat_format(path)
        # never raises: a problem comes back as `reason`; conversations are text (documents refuse them)
        info = inspect_text_file(path) if fmt and fmt != "transcript" else inspect_document(path)
        if info.is_text:
            result.accepted.append(info)
            if fmt:
                result.chat_formats[Path(info.path)] = fmt
        else:
            result.refused.append(f"Not added: {info.reason}")
    return result
