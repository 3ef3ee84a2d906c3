"""Reading the user's text files: encoding sniffing, validation, streaming in whole-character chunks.

Text must be UTF-8, or carry a byte order mark (UTF-8, UTF-16 or UTF-32 BOM). `iter_text_chunks`
turns any accepted file into chunks of validated UTF-8 that never split a character, so the
encoders downstream handle one case only. Problems raise `DatasetError` with one line naming the file.
"""

from __future__ import annotations

import codecs
import hashlib
import itertools
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from gptstudio.core.errors import DatasetError, DocumentError

HEAD_BYTES = 64 * 1024  # what inspect_text_file reads
PREVIEW_LINES = 12
HASH_BLOCK = 1 << 20  # read per step when hashing a file
PREVIEW_LINE_CHARS = 200

# UTF-32 LE starts with the UTF-16 LE mark, so it is tested first
_BOMS = [
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
]

# skipped when walking folders (an explicitly named one still gets a clear error); documents that
# can be read (PDF, EPUB, DOCX, ...) are not here: core/documents.py reads them
BINARY_SUFFIXES = frozenset(
    [
        ".7z",
        ".a",
        ".avi",
        ".bin",
        ".bmp",
        ".bz2",
        ".class",
        ".dll",
        ".doc",
        ".dylib",
        ".exe",
        ".flac",
        ".gif",
        ".gz",
        ".ico",
        ".jar",
        ".jpeg",
        ".jpg",
        ".mkv",
        ".mov",
        ".mp3",
        ".mp4",
        ".npy",
        ".npz",
        ".o",
        ".odt",
        ".ogg",
        ".pickle",
        ".pkl",
        ".png",
        ".ppt",
        ".pptx",
        ".pt",
        ".pth",
        ".pyc",
        ".safetensors",
        ".so",
        ".sqlite",
        ".tar",
        ".tgz",
        ".tif",
        ".tiff",
        ".wav",
        ".webm",
        ".webp",
        ".xls",
        ".xlsx",
        ".xz",
        ".zip",
        ".zst",
    ]
)


# documents core/documents.py reads, by suffix (a file of any other suffix is read as plain text)
DOCUMENT_KINDS = {
    ".pdf": "pdf",
    ".epub": "epub",
    ".docx": "docx",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
    ".md": "markdown",
    ".markdown": "markdown",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".csv": "csv",
    ".tsv": "tsv",
}
# documents people have that cannot be read here: what to do instead
UNSUPPORTED = {
    ".doc": "save it as .docx or PDF",
    ".odt": "save it as .docx or PDF",
    ".rtf": "save it as .docx or plain text",
    ".pages": "export it as .docx or PDF",
    ".mobi": "convert it to EPUB (e.g. with Calibre)",
    ".azw": "convert it to EPUB (e.g. with Calibre)",
    ".azw3": "convert it to EPUB (e.g. with Calibre)",
    ".djvu": "convert it to PDF with a text layer",
    ".pptx": "export it as PDF",
    ".ppt": "export it as PDF",
    ".xlsx": "save the column of text as CSV",
    ".xls": "save the column of text as CSV",
    ".ods": "save the column of text as CSV",
}


def unsupported_reason(path) -> str | None:
    """The sentence for a document type we cannot read (None: we can, or it is no document at all)."""
    suffix = Path(path).suffix.lower()
    if suffix in UNSUPPORTED:
        return f"{Path(path).name}: {suffix} files cannot be read; {UNSUPPORTED[suffix]}."
    return None


def sniff_encoding(head: bytes) -> tuple[str, int]:
    """(codec name, BOM length) from a file's first bytes; no BOM means UTF-8."""
    for bom, name in _BOMS:
        if head.startswith(bom):
            return name, len(bom)
    return "utf-8", 0


def file_sha256(path, check: Callable[[], None] | None = None) -> str:
    """The sha256 of a file's bytes (meta.json's sources); `check` is called after each block (a cancel poll)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(HASH_BLOCK):
            h.update(block)
            if check is not None:
                check()
    return h.hexdigest()


def _binary_error(path, offset: int | None = None) -> DocumentError:
    where = f" (the first at offset {offset:,})" if offset is not None else ""
    return DocumentError(
        f"{path} is not a text file: it contains NUL bytes{where}. Give plain text "
        "(.txt); a UTF-16 text file needs a byte order mark, or save it as UTF-8.",
        "binary",
    )


def _line_of(path, offset: int) -> int:
    """1-based line number of a byte offset (only computed when reporting an error)."""
    lines, pos = 1, 0
    with open(path, "rb") as f:
        while pos < offset:
            block = f.read(min(1 << 20, offset - pos))
            if not block:
                break
            lines += block.count(b"\n")
            pos += len(block)
    return lines


def _decode_error(name, encoding: str, offset: int, bad: bytes, line: int | None) -> DocumentError:
    label = "UTF-8" if encoding.startswith("utf-8") else encoding.upper()
    shown = f"the byte 0x{bad[0]:02X}" if bad else "the text"
    where = f" (line {line:,})" if line is not None else ""
    return DocumentError(
        f"{name} is not valid {label} text: {shown} at offset {offset:,}{where} cannot be "
        "decoded. Save the file as UTF-8 and try again.",
        "encoding",
    )


@dataclass
class TextChunk:
    """Validated UTF-8 holding whole characters; `nread` = file bytes consumed for it (for progress)."""

    data: bytes
    is_ascii: bool
    nread: int
    _text: str | None = field(default=None, repr=False)

    @property
    def text(self) -> str:
        if self._text is None:
            self._text = self.data.decode("ascii" if self.is_ascii else "utf-8")
        return self._text


def _utf8_boundary(buf: bytes) -> int:
    """Length of the longest prefix of `buf` that does not end inside a multi-byte character."""
    n = len(buf)
    for back in range(1, min(4, n) + 1):
        b = buf[n - back]
        if b < 0x80:
            return n  # ASCII before any lead byte: nothing is cut (stray bytes are the decoder's to report)
        if b >= 0xC0:  # the lead byte of the last character: is its sequence complete?
            need = 2 if b < 0xE0 else 3 if b < 0xF0 else 4
            return n if back >= need else n - back
    return n


def _open(path):
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise DocumentError(f"Input file not found: {path}. Check the path.", "unreadable") from None
    except OSError as e:
        raise DocumentError(
            f"Cannot read {path}: {e.strerror or e}. Check the file's permissions.", "unreadable"
        ) from None


def iter_text_chunks(
    path, chunk_bytes: int = 8 << 20, on_raw: Callable[[bytes], None] | None = None
) -> Iterator[TextChunk]:
    """Stream a text file as validated UTF-8 chunks of about `chunk_bytes`.

    `on_raw` sees every raw byte of the file in order (BOM included), e.g. to hash it.
    Raises DatasetError for binary data or undecodable bytes, naming the file and the byte offset.
    """
    chunk_bytes = max(16, int(chunk_bytes))
    with _open(path) as f:
        first = f.read(chunk_bytes)
        encoding, bom = sniff_encoding(first[:4])
        blocks = _raw_blocks(f, first, chunk_bytes, on_raw)
        if encoding.startswith("utf-8"):
            yield from _utf8_chunks(path, blocks, bom)
        else:
            yield from _wide_chunks(path, blocks, bom, encoding)


def _raw_blocks(f, first: bytes, chunk_bytes: int, on_raw) -> Iterator[bytes]:
    block = first
    while block:
        if on_raw:
            on_raw(block)
        yield block
        block = f.read(chunk_bytes)


def _utf8_chunks(path, blocks: Iterator[bytes], bom: int) -> Iterator[TextChunk]:
    """UTF-8: cut each block at a character boundary, carry the partial character to the next."""
    offset, nread, pending, skip = bom, 0, b"", bom
    for block in blocks:
        nread += len(block)
        if skip:  # the BOM (the first block always holds it: blocks are >= 16 bytes)
            block, skip = block[skip:], 0
        buf = pending + block if pending else block
        cut = _utf8_boundary(buf)
        data, pending = (buf, b"") if cut == len(buf) else (buf[:cut], buf[cut:])
        if data:
            yield _checked_utf8(path, data, offset, nread)
            offset, nread = offset + len(data), 0
    if pending:  # the file ends inside a character: the decoder names the offset
        yield _checked_utf8(path, pending, offset, nread)


def _checked_utf8(path, data: bytes, offset: int, nread: int) -> TextChunk:
    nul = data.find(b"\0")
    if nul >= 0:
        raise _binary_error(path, offset + nul)
    if data.isascii():
        return TextChunk(data, True, nread)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        offset += e.start
        raise _decode_error(path, "utf-8", offset, data[e.start : e.start + 1], _line_of(path, offset)) from None
    return TextChunk(data, False, nread, text)


def _wide_chunks(path, blocks: Iterator[bytes], bom: int, encoding: str) -> Iterator[TextChunk]:
    """UTF-16/32 (with BOM): decode incrementally, re-encode each piece as UTF-8."""
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    fed, nread, skip = bom, 0, bom  # fed: file offset of the next byte given to the decoder
    for item in itertools.chain(blocks, [None]):  # None: the end of the file
        final = item is None
        block = b"" if item is None else item
        if not final:
            nread += len(block)
            if skip:
                block, skip = block[skip:], 0
        buffered = len(decoder.getstate()[0])  # bytes of a character cut by the previous block
        try:
            text = decoder.decode(block, final)
        except UnicodeDecodeError as e:
            raise _decode_error(path, encoding, fed - buffered + e.start, b"", None) from None
        fed += len(block)
        if "\0" in text:
            raise _binary_error(path)
        if text:
            data = text.encode("utf-8")
            yield TextChunk(data, data.isascii(), nread, text)
            nread = 0


@dataclass
class TextFileInfo:
    """What the GUI shows when a file is dropped: is it usable text, and a peek at it. For a document,
    `encoding` says what kind of file it is ("PDF, 12 pages") and the preview is its text."""

    path: Path
    size: int
    encoding: str | None
    is_text: bool
    reason: str = ""  # why it is not usable (empty when is_text)
    preview_lines: list[str] = field(default_factory=list)
    kind: str = "text"  # or a document kind of core/documents.py: "pdf", "epub", "csv", ...
    text_field: str = ""  # the field read from a JSON/CSV file's records
    fields: list[str] = field(default_factory=list)  # the fields of its records that hold text


def inspect_text_file(path) -> TextFileInfo:
    """Check a file's first 64 KB: encoding (BOM), binary (NUL bytes), UTF-8 validity; preview lines."""
    p = Path(path).expanduser().absolute()
    try:
        size = p.stat().st_size
        if p.is_dir():
            return TextFileInfo(p, 0, None, False, f"{p.name} is a folder; its text files are added one by one.")
        with open(p, "rb") as f:
            head = f.read(HEAD_BYTES)
    except FileNotFoundError:
        return TextFileInfo(p, 0, None, False, f"{p} does not exist.")
    except OSError as e:
        return TextFileInfo(p, 0, None, False, f"{p.name} cannot be read: {e.strerror or e}.")
    complete = len(head) >= size
    encoding, bom = sniff_encoding(head)
    try:
        text = _decode_head(p.name, head, encoding, bom, complete)
    except DatasetError as e:
        return TextFileInfo(p, size, None, False, str(e))
    if not text:
        return TextFileInfo(p, size, encoding, False, f"{p.name} is empty.")
    lines = text.splitlines()
    if not complete and len(lines) > 1:
        lines = lines[:-1]  # the last line was cut by the 64 KB window
    preview = [line[:PREVIEW_LINE_CHARS] for line in lines[:PREVIEW_LINES]]
    return TextFileInfo(p, size, encoding, True, "", preview)


def _decode_head(name, head: bytes, encoding: str, bom: int, complete: bool) -> str:
    """Decode a file's first bytes with the checks of the full reader; `complete`: head is the whole file."""
    body = head[bom:]
    if encoding.startswith("utf-8"):
        nul = body.find(b"\0")
        if nul >= 0:
            raise _binary_error(name, bom + nul)
    try:
        text = codecs.getincrementaldecoder(encoding.replace("-sig", ""))("strict").decode(body, complete)
    except UnicodeDecodeError as e:
        offset = bom + e.start
        utf8 = encoding.startswith("utf-8")
        line = head.count(b"\n", 0, offset) + 1 if utf8 else None
        raise _decode_error(name, encoding, offset, body[e.start : e.start + 1] if utf8 else b"", line) from None
    if "\0" in text:
        raise _binary_error(name)
    return text


def _binary_reason(path: Path) -> str | None:
    """Cheap test for folder walking: why a file is not text (a known binary suffix, or NUL bytes in
    its first 8 KB), or None."""
    if path.suffix.lower() in BINARY_SUFFIXES:
        return f"{path.name} is not text (a {path.suffix.lower()} file)."
    if path.suffix.lower() in DOCUMENT_KINDS:
        return None  # a document: its reader decides
    try:
        with open(path, "rb") as f:
            head = f.read(8192)
    except OSError:
        return None  # let the reader report it with the real reason
    encoding, _ = sniff_encoding(head)
    if encoding.startswith("utf-8") and b"\0" in head:
        return f"{path.name} is not text: it contains NUL bytes (a binary file)."
    return None


@dataclass(frozen=True)
class Skipped:
    """A file passed over while walking a folder, and why (for the import report)."""

    path: Path
    reason: str
    code: str  # "binary", "empty", "unsupported"

    def to_dict(self) -> dict:
        return {"path": str(self.path), "reason": self.reason, "code": self.code}


def _walk_text_files(folder: Path, skipped: list[Skipped] | None) -> list[Path]:
    found = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in names:
            p = Path(root, name)
            if name.startswith(".") or not p.is_file():
                continue
            unsupported = unsupported_reason(p)
            binary = None if unsupported else _binary_reason(p)
            if p.stat().st_size == 0:
                reason, code = f"{p.name} is empty.", "empty"
            elif unsupported:
                reason, code = unsupported, "unsupported"
            elif binary:
                reason, code = binary, "binary"
            else:
                found.append(p)
                continue
            if skipped is not None:
                skipped.append(Skipped(p, reason, code))
    return sorted(found, key=lambda q: q.relative_to(folder).parts)


def collect_input_files(inputs, skipped: list[Skipped] | None = None) -> list[Path]:
    """The files to read, in order: files as given, folders expanded to their text files and
    documents (sorted).

    Walking a folder skips hidden files, empty files, obviously binary ones and documents of a kind
    that cannot be read; `skipped`, when given, receives those (but hidden ones) with the reason. A
    file named explicitly is always kept (the reader then reports what is wrong with it).
    Duplicates are dropped.
    """
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    files: list[Path] = []
    seen: set[str] = set()
    for item in inputs:
        p = Path(item).expanduser().absolute()
        if p.is_dir():
            passed: list[Skipped] = []
            found = _walk_text_files(p, passed)
            if skipped is not None:
                skipped += passed
            if not found:
                raise DatasetError(
                    f"The folder {p} has no text files or documents: put .txt, .md, .pdf, .epub, .docx, "
                    ".html, .jsonl or .csv files in it, or give files."
                )
        elif p.is_file():
            found = [p]
        elif not p.exists():
            raise DatasetError(f"Input file not found: {p}. Check the path.")
        else:
            raise DatasetError(f"{p} is neither a file nor a folder: give text files or folders.")
        for f in found:
            key = os.path.realpath(f)
            if key not in seen:
                seen.add(key)
                files.append(f)
    if not files:
        raise DatasetError("No input given: name at least one text file or folder.")
    return files


def check_text_head(path: Path) -> None:
    """Fail fast, before any long work, on an empty, binary or non-UTF-8 start of a file (a
    DocumentError whose code says which: "empty", "binary", "encoding", "unreadable")."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(HEAD_BYTES)
    except OSError as e:
        raise DocumentError(
            f"Cannot read {path}: {e.strerror or e}. Check the file's permissions.", "unreadable"
        ) from None
    if size == 0:
        raise DocumentError(f"{path} is empty: give a file with some text in it.", "empty")
    encoding, bom = sniff_encoding(head)
    _decode_head(path, head, encoding, bom, len(head) >= size)


def sample_text(files, max_bytes: int, windows: int = 32) -> list[str]:
    """Pieces of the files' text from `windows` places spread evenly over all of them (by size), about
    `max_bytes` of file in all, without reading the rest: a quick look at a large input for estimates.

    Bytes that do not decode (a character cut at a window's edge) are dropped. Files that cannot be read
    are skipped; the reader of the full input reports them.
    """
    sizes = []
    for path in files:
        try:
            sizes.append(max(0, Path(path).stat().st_size))
        except OSError:
            sizes.append(0)
    total = sum(sizes)
    if total == 0:
        return []
    width = max(64, min(total, max_bytes) // max(1, windows))
    if total <= max_bytes:
        starts = list(range(0, total, width))
    else:
        starts = [round(i * (total - width) / max(1, windows - 1)) for i in range(windows)]
    pieces = []
    for start in starts:
        file_start = 0
        for path, size in zip(files, sizes):
            if start < file_start + size:
                text = _read_window(path, start - file_start, width)
                if text:
                    pieces.append(text)
                break
            file_start += size
    return pieces


def _read_window(path, offset: int, nbytes: int) -> str:
    try:
        with open(path, "rb") as f:
            encoding, bom = sniff_encoding(f.read(4))
            unit = 4 if "32" in encoding else 2 if "16" in encoding else 1
            offset = max(bom, offset - offset % unit + (bom % unit))
            f.seek(offset)
            data = f.read(nbytes)
    except OSError:
        return ""
    return codecs.decode(data, encoding.replace("-sig", ""), errors="ignore").replace("\0", "")
