"""Reading documents: the text of PDF, EPUB, DOCX, HTML, Markdown, JSON Lines/JSON and CSV/TSV files.

Each reader yields `Document`s: the text a person reads, in reading order, paragraphs separated by
blank lines; markup, scripts, navigation and tables of contents left out (core/html_text.py).

- PDF (pypdf): the text layer page by page; the pages are kept apart so that cleanup can find the
  lines repeated at their tops and bottoms, and lines stay hard-wrapped until cleanup rebuilds the
  paragraphs. No text at all means a scan ("OCR it first"); a password means it is refused.
- EPUB (zip + OPF): the chapters in the spine's order, without the navigation document; DRM refused.
- DOCX (zip + WordprocessingML, streamed): body paragraphs and tables in order; tracked deletions,
  field codes, alternate content and table-of-contents paragraphs are not text.
- HTML, Markdown (markdown-it-py renders it, then the HTML reader): front matter dropped.
- JSON Lines / JSON / CSV / TSV: one document per record, from a text field (named, or detected:
  `text`, `content`, ... or the longest string field). Files of conversations are chat data, not
  text, and are refused here.

Problems with one file raise `DocumentError` (its `code` says which kind) so the caller can skip it
and report why. `check` (when given) is called between pages and records; it raises Cancelled.
"""

from __future__ import annotations

import codecs
import csv
import itertools
import json
import logging
import posixpath
import re
import statistics
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote
from xml.etree import ElementTree

from gptstudio.core.chat_data import record_format
from gptstudio.core.errors import DatasetError, DocumentError
from gptstudio.core.html_text import HtmlText, html_to_text
from gptstudio.core.textfiles import (
    DOCUMENT_KINDS,
    HEAD_BYTES,
    PREVIEW_LINE_CHARS,
    PREVIEW_LINES,
    TextFileInfo,
    inspect_text_file,
    iter_text_chunks,
    sample_text,
    sniff_encoding,
    unsupported_reason,
)
from gptstudio.core.units import format_quantity

KIND_LABELS = {
    "text": "Text",
    "pdf": "PDF",
    "epub": "EPUB",
    "docx": "Word (DOCX)",
    "html": "HTML",
    "markdown": "Markdown",
    "jsonl": "JSON Lines",
    "json": "JSON",
    "csv": "CSV",
    "tsv": "TSV",
}
RECORD_KINDS = frozenset(["jsonl", "json", "csv", "tsv"])  # one document per record, from a text field
# field names that usually hold the text of a record, in order of preference
TEXT_FIELDS = (
    "text",
    "content",
    "body",
    "document",
    "article",
    "story",
    "passage",
    "paragraph",
    "abstract",
    "description",
    "summary",
    "review",
    "message",
)
DETECT_RECORDS = 200  # records looked at to detect the text field
MIN_FIELD_CHARS = 20  # a detected field holds at least this much text on average
MAX_DOCUMENT_BYTES = 256 << 20  # formats read whole (EPUB chapters, Markdown, JSON arrays, DOCX parts)
MAX_RECORD_CHARS = 16 << 20  # one record of a JSON Lines file or one CSV field
READ_BYTES = 1 << 20  # streaming block for HTML
PDF_PREVIEW_PAGES = 3

logging.getLogger("pypdf").setLevel(logging.ERROR)  # its warnings about odd PDFs are not the user's problem


@dataclass
class Document:
    """One document's text as its reader found it.

    `pages` (PDF): each page's text, lines as laid out; `wrapped`: lines are broken where the page
    ended them, so cleanup rebuilds the paragraphs; `more`: the same document continues in the next
    Document (a long plain text file read in chunks).
    """

    text: str = ""
    pages: list[str] | None = None
    wrapped: bool = False
    more: bool = False

    def raw_text(self) -> str:
        return "\n".join(self.pages) if self.pages is not None else self.text


@dataclass
class ReadNotes:
    """What a reader noticed on the way, for the per-file report."""

    text_field: str = ""  # the record field read (JSON/CSV)
    records: int = 0  # records read (JSON/CSV)
    bad_records: int = 0  # records without the field, or not valid JSON
    pages: int = 0  # PDF pages
    empty_pages: int = 0  # PDF pages without text

    def summary(self) -> str:
        parts = []
        if self.text_field:
            parts.append(f"field '{self.text_field}', {self.records:,} records")
        if self.bad_records:
            parts.append(f"{self.bad_records:,} records without it skipped")
        if self.empty_pages:
            parts.append(f"{self.empty_pages:,} of {self.pages:,} pages without text (scanned?)")
        return "; ".join(parts)


def document_kind(path) -> str:
    """'pdf', 'epub', ..., or 'text' for anything else (read as plain text)."""
    return DOCUMENT_KINDS.get(Path(path).suffix.lower(), "text")


def read_document(
    path, *, text_field: str | None = None, notes: ReadNotes | None = None, check: Callable[[], None] | None = None
) -> Iterator[Document]:
    """The documents in a file. `text_field` names the field of JSON/CSV records (None: detected);
    `notes` collects what the report should say; `check` is called between pages and records."""
    path = Path(path)
    kind = document_kind(path)
    notes = notes if notes is not None else ReadNotes()
    check = check or (lambda: None)
    reason = unsupported_reason(path)
    if reason:
        raise DocumentError(reason, "unsupported")
    try:
        if kind == "pdf":
            yield from _read_pdf(path, notes, check)
        elif kind == "epub":
            yield from _read_epub(path, check)
        elif kind == "docx":
            yield from _read_docx(path, check)
        elif kind == "html":
            yield _read_html(path, check)
        elif kind == "markdown":
            yield Document(markdown_to_text(_read_text(path)))
        elif kind in RECORD_KINDS:
            yield from _read_records(path, kind, text_field, notes, check)
        else:
            yield from _read_plain(path)
    except zipfile.BadZipFile:
        raise DocumentError(
            f"{path.name} is damaged: it is not a valid {KIND_LABELS[kind]} file (a ZIP archive inside).", "damaged"
        ) from None
    except ElementTree.ParseError as e:
        raise DocumentError(f"{path.name} is damaged: its XML cannot be read ({e}).", "damaged") from None


# ----- plain text and the text of markup files


def _read_plain(path: Path, chunk_bytes: int = 8 << 20) -> Iterator[Document]:
    """A text file in chunks cut at paragraph ends (where cleanup can cut too), as one document."""
    carry = ""
    for chunk in iter_text_chunks(path, chunk_bytes):
        text = carry + chunk.text
        cut = text.rfind("\n\n")
        if cut < 0:
            carry = text
            if len(carry) > 4 * chunk_bytes:  # no paragraph break for a long way: cut anyway
                yield Document(carry, more=True)
                carry = ""
            continue
        carry = text[cut + 2 :]
        yield Document(text[: cut + 2], more=True)
    yield Document(carry)


def _read_text(path: Path) -> str:
    """A whole text file (Markdown), size-capped, decoded like every text file here."""
    _check_size(path)
    return "".join(chunk.text for chunk in iter_text_chunks(path))


def _check_size(path: Path, size: int | None = None) -> None:
    size = path.stat().st_size if size is None else size
    if size > MAX_DOCUMENT_BYTES:
        raise DocumentError(
            f"{path.name} is too large to convert ({size / 1e6:,.0f} MB; at most "
            f"{MAX_DOCUMENT_BYTES / 1e6:,.0f} MB): split it, or save it as plain text.",
            "too_large",
        )


_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-:.]+)""", re.IGNORECASE)
_XML_ENCODING = re.compile(rb"""<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9_\-.]+)["']""")


def html_encoding(head: bytes) -> str:
    """The encoding of an HTML or XHTML file: its BOM, its declaration, UTF-8 if its start is valid
    UTF-8, else Windows-1252 (what browsers assume for an unlabelled Western page)."""
    encoding, bom = sniff_encoding(head)
    if bom:
        return encoding
    declared = _META_CHARSET.search(head[:4096]) or _XML_ENCODING.search(head[:1024])
    if declared:
        name = declared.group(1).decode("ascii", "replace")
        try:
            return codecs.lookup(name).name
        except LookupError:
            pass
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        return "cp1252"


def _read_html(path: Path, check: Callable[[], None]) -> Document:
    """An HTML file, streamed through the HTML reader in blocks (bad bytes become U+FFFD)."""
    parser, parts = HtmlText(), []
    with open(path, "rb") as f:
        head = f.read(READ_BYTES)
        encoding = html_encoding(head)
        decoder = codecs.getincrementaldecoder(encoding)("replace")
        block = head
        while block:
            parser.feed(decoder.decode(block).lstrip("\ufeff") if block is head else decoder.decode(block))
            parts.append(parser.take())
            check()
            block = f.read(READ_BYTES)
    parser.feed(decoder.decode(b"", final=True))
    parser.close()
    parts.append(parser.take())
    return Document("".join(parts))


_FRONT_MATTER = re.compile(r"\A(?:---|\+\+\+)[ \t]*\n.*?\n(?:---|\.\.\.|\+\+\+)[ \t]*(?:\n|\Z)", re.DOTALL)


def markdown_to_text(markdown: str) -> str:
    """Markdown as the text a reader sees: rendered by markdown-it-py (CommonMark with tables), then
    read like HTML; YAML/TOML front matter is not text."""
    from markdown_it import MarkdownIt

    body = _FRONT_MATTER.sub("", markdown.lstrip("\ufeff"), count=1)
    return html_to_text(MarkdownIt("commonmark").enable("table").render(body))


# ----- PDF


def _open_pdf(path: Path, f):
    import pypdf
    from pypdf.errors import PyPdfError

    try:
        reader = pypdf.PdfReader(f)
        if reader.is_encrypted:
            try:  # many PDFs are encrypted with an empty password (owner limits only)
                opened = bool(reader.decrypt(""))
            except Exception:
                opened = False
            if not opened:
                raise DocumentError(
                    f"{path.name} is an encrypted PDF that needs a password: open it with the password and "
                    "save a copy without one (e.g. print it to PDF), then add the copy.",
                    "encrypted",
                )
        return reader, len(reader.pages)
    except DocumentError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, IndexError, OSError, RecursionError) as e:
        raise DocumentError(f"{path.name} is damaged: it cannot be read as a PDF ({e}).", "damaged") from None


@dataclass
class _Line:
    text: str
    x: float
    y: float
    size: float


_BULLET = re.compile(r"^\s*(?:[•·▪◦\-–—*]|\d{1,3}[.)])\s")


def _page_lines(page) -> list[_Line]:
    """The page's lines as pypdf reads them (its reading order), each with where it starts."""
    lines: list[_Line] = []
    current: _Line | None = None

    def visit(text: str, cm, tm, _font, size) -> None:
        nonlocal current
        if not text:
            return
        if current is None:  # where the line starts: the text matrix in page space
            x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
            y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
            current = _Line("", x, y, abs(size * cm[3]) or 10.0)
        current.text += text
        if text.endswith("\n"):
            lines.extend(_Line(t, current.x, current.y, current.size) for t in current.text[:-1].split("\n"))
            current = None

    page.extract_text(visitor_text=visit)
    if current is not None:
        lines.extend(_Line(t, current.x, current.y, current.size) for t in current.text.split("\n"))
    return lines


def _paragraph_starts(lines: list[_Line]) -> set[int]:
    """Lines that begin a paragraph: after a gap wider than the usual line spacing, or indented a
    little on their own (the first line of a book paragraph) where their neighbours are not."""
    steps = [a.y - b.y for a, b in itertools.pairwise(lines) if 0 < a.y - b.y < 3 * max(a.size, b.size)]
    if not steps:
        return set()
    spacing = statistics.median(steps)
    lefts = [round(line.x) for line in lines if line.text.strip()]
    left = statistics.mode(lefts) if lefts else 0
    starts = set()
    for i in range(1, len(lines)):
        prev, line = lines[i - 1], lines[i]
        gap = prev.y - line.y
        if gap > 1.45 * spacing and gap < 8 * spacing:
            starts.add(i)
            continue
        indent = line.x - left
        next_left = i + 1 >= len(lines) or abs(lines[i + 1].x - left) < 1.5
        if (
            0.8 * line.size < indent < 4 * line.size
            and abs(prev.x - left) < 1.5
            and next_left
            and not _BULLET.match(prev.text)
        ):
            starts.add(i)
    return starts


def _page_text(page) -> str:
    """A page's text, lines as laid out, a blank line where a paragraph begins (from the layout)."""
    try:
        lines = _page_lines(page)
    except Exception:  # one unreadable page (a broken font or stream) must not lose the others
        return ""
    starts = _paragraph_starts(lines)
    return "".join(("\n\n" if i in starts else "\n" if i else "") + line.text.rstrip() for i, line in enumerate(lines))


def _scan_error(path: Path) -> DocumentError:
    return DocumentError(
        f"{path.name}: no text found: it may be a scan; OCR it first (e.g. with ocrmypdf) and add the result.",
        "scan",
    )


def _read_pdf(path: Path, notes: ReadNotes, check: Callable[[], None]) -> Iterator[Document]:
    with open(path, "rb") as f:
        reader, n_pages = _open_pdf(path, f)
        pages = []
        for page in reader.pages:
            check()
            pages.append(_page_text(page))
    notes.pages = n_pages
    notes.empty_pages = sum(1 for p in pages if not p.strip())
    if notes.empty_pages == n_pages:
        raise _scan_error(path)
    yield Document(pages=pages, wrapped=True)


# ----- EPUB and DOCX (ZIP archives of XML)

_CONTAINER = "{urn:oasis:names:tc:opendocument:xmlns:container}"
_OPF = "{http://www.idpf.org/2007/opf}"
_XMLENC = "{http://www.w3.org/2001/04/xmlenc#}"
_FONT_OBFUSCATION = ("http://www.idpf.org/2008/embedding", "http://ns.adobe.com/pdf/enc#RC")


def _member(z: zipfile.ZipFile, name: str) -> bytes:
    """One member of an archive, refusing one that unpacks to more than MAX_DOCUMENT_BYTES."""
    try:
        info = z.getinfo(name)
    except KeyError:
        raise DocumentError(f"{Path(z.filename or '?').name} is damaged: it has no {name}.", "damaged") from None
    _check_size(Path(z.filename or name), info.file_size)
    with z.open(info) as f:
        data = f.read(MAX_DOCUMENT_BYTES + 1)
    _check_size(Path(z.filename or name), len(data))  # the header may lie
    return data


def _xml(data: bytes) -> ElementTree.Element:
    if b"<!ENTITY" in data[:65536]:  # no office file or e-book needs entity definitions: refuse expansion tricks
        raise ElementTree.ParseError("entity definitions are not allowed")
    return ElementTree.fromstring(data)


def _decode_markup(data: bytes) -> str:
    return data.decode(html_encoding(data[:4096]), errors="replace").lstrip("\ufeff")


def _epub_spine(z: zipfile.ZipFile) -> list[str]:
    """The archive names of the chapters in reading order, without the navigation document."""
    container = _xml(_member(z, "META-INF/container.xml"))
    rootfile = container.find(f".//{_CONTAINER}rootfile")
    if rootfile is None or not rootfile.get("full-path"):
        raise DocumentError(f"{Path(z.filename or '?').name} is damaged: it names no package file.", "damaged")
    opf_path = rootfile.get("full-path", "")
    opf = _xml(_member(z, opf_path))
    base = posixpath.dirname(opf_path)
    manifest = {item.get("id"): item for item in opf.iter(f"{_OPF}item")}
    chapters = []
    for ref in opf.iter(f"{_OPF}itemref"):
        item = manifest.get(ref.get("idref"))
        if item is None or ref.get("linear") == "no" or "nav" in (item.get("properties") or "").split():
            continue
        if item.get("media-type") not in ("application/xhtml+xml", "text/html"):
            continue
        chapters.append(posixpath.normpath(posixpath.join(base, unquote(item.get("href") or ""))))
    return chapters


def _epub_drm(z: zipfile.ZipFile, chapters: list[str]) -> bool:
    """Whether chapters are encrypted (DRM); obfuscated fonts alone are fine."""
    if "META-INF/encryption.xml" not in z.namelist():
        return False
    root = _xml(_member(z, "META-INF/encryption.xml"))
    for data in root.iter(f"{_XMLENC}EncryptedData"):
        method = data.find(f"{_XMLENC}EncryptionMethod")
        ref = data.find(f".//{_XMLENC}CipherReference")
        if method is not None and method.get("Algorithm") in _FONT_OBFUSCATION:
            continue
        if ref is not None and unquote(ref.get("URI") or "") in chapters:
            return True
    return False


def _read_epub(path: Path, check: Callable[[], None]) -> Iterator[Document]:
    with zipfile.ZipFile(path) as z:
        chapters = _epub_spine(z)
        if _epub_drm(z, chapters):
            raise DocumentError(
                f"{path.name} is protected by DRM: its chapters are encrypted. Use an e-book without DRM.",
                "encrypted",
            )
        texts = []
        for name in chapters:
            check()
            if name in z.namelist():
                text = html_to_text(_decode_markup(_member(z, name)))
                if text.strip():
                    texts.append(text)
    yield Document("\n\n".join(texts))


_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"
_DOCX_CHARS = {f"{_W}tab": "\t", f"{_W}br": "\n", f"{_W}cr": "\n", f"{_W}noBreakHyphen": "-"}


class _DocxBody:
    """Streams WordprocessingML events into paragraphs; tables become rows of tab-separated cells."""

    def __init__(self) -> None:
        self.paragraphs: list[str] = []
        self._runs: list[str] = []
        self._style = ""
        self._skip = 0  # inside alternate content's fallback, or a table-of-contents block
        self._sdt: list[bool] = []  # open content controls: is each a table of contents?
        self._cells: list[list[list[str]]] = []  # open tables: rows of cells
        self._cell: list[list[str]] = []  # open cells: their paragraphs

    def start(self, tag: str) -> None:
        if tag == _MC_FALLBACK:
            self._skip += 1
        elif tag == f"{_W}sdt":
            self._sdt.append(False)
        elif tag == f"{_W}tbl":
            self._cells.append([])
        elif tag == f"{_W}tr" and self._cells:
            self._cells[-1].append([])
        elif tag == f"{_W}tc":
            self._cell.append([])
        elif tag == f"{_W}p":
            self._runs, self._style = [], ""

    def end(self, elem: ElementTree.Element) -> None:
        tag = elem.tag
        if tag == _MC_FALLBACK:
            self._skip -= 1
        elif self._skip:
            pass
        elif tag == f"{_W}t":
            self._runs.append(elem.text or "")
        elif tag in _DOCX_CHARS:
            self._runs.append(_DOCX_CHARS[tag])
        elif tag == f"{_W}pStyle":
            self._style = elem.get(f"{_W}val") or ""
        elif tag == f"{_W}docPartGallery" and "table of contents" in (elem.get(f"{_W}val") or "").lower():
            if self._sdt:
                self._sdt[-1] = True
        elif tag == f"{_W}p":
            self._paragraph("".join(self._runs))
        elif tag == f"{_W}tc" and self._cell:
            cell = " ".join(p for p in self._cell.pop() if p)
            if self._cells and self._cells[-1]:
                self._cells[-1][-1].append(cell)
        elif tag == f"{_W}tbl" and self._cells:
            rows = self._cells.pop()
            self._paragraph("\n".join("\t".join(cells) for cells in rows if any(cells)))
        elif tag == f"{_W}sdt" and self._sdt:
            self._sdt.pop()

    def _paragraph(self, text: str) -> None:
        if any(self._sdt) or self._style.upper().startswith("TOC"):
            return  # a table of contents is not text
        if self._cell:
            self._cell[-1].append(text)
        elif text.strip():
            self.paragraphs.append(text)


def _read_docx(path: Path, check: Callable[[], None]) -> Iterator[Document]:
    with zipfile.ZipFile(path) as z:
        try:
            info = z.getinfo("word/document.xml")
        except KeyError:
            raise DocumentError(f"{path.name} is damaged: it has no word/document.xml.", "damaged") from None
        _check_size(path, info.file_size)
        body = _DocxBody()
        with z.open(info) as f:
            head = f.peek(65536) if hasattr(f, "peek") else b""
            if b"<!ENTITY" in head:
                raise ElementTree.ParseError("entity definitions are not allowed")
            for n, (event, elem) in enumerate(ElementTree.iterparse(f, events=("start", "end"))):
                if event == "start":
                    body.start(elem.tag)
                    continue
                body.end(elem)
                if elem.tag in (f"{_W}p", f"{_W}tbl") and not body._cell:
                    elem.clear()  # streamed: finished paragraphs leave the tree
                if n % 10_000 == 0:
                    check()
    yield Document("\n\n".join(body.paragraphs))


# ----- records: JSON Lines, JSON, CSV, TSV


def _chat_format(record) -> bool:
    """A record of conversations (a chat format of core/chat_data.py: messages, ShareGPT, Alpaca)."""
    return record_format(record) is not None


def _field_value(record, name: str):
    """A record's field by name, dots reaching into nested objects ('meta.text'); None if absent."""
    if name in ("", "."):
        return record
    value = record
    for part in name.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _string_fields(record, prefix: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(record, dict):
        for key, value in record.items():
            name = f"{prefix}{key}"
            if isinstance(value, str):
                yield name, value
            elif isinstance(value, dict) and not prefix:  # one level of nesting
                yield from _string_fields(value, f"{name}.")


def record_fields(records: Iterable) -> list[str]:
    """The fields holding text in these records (strings in at least half of them), most common first."""
    records = list(records)
    counts: dict[str, int] = {}
    for record in records:
        if isinstance(record, str):
            counts["."] = counts.get(".", 0) + 1
        for name, _ in _string_fields(record):
            counts[name] = counts.get(name, 0) + 1
    return [name for name, n in sorted(counts.items(), key=lambda kv: -kv[1]) if n * 2 >= len(records)]


def detect_text_field(records: list, file_name: str) -> str:
    """The field to read: a usual name (text, content, ...) or the string field with the most text.

    Raises DocumentError for conversations (chat data) and for records without a text field."""
    if not records:
        raise DocumentError(f"{file_name} has no records.", "empty")
    if sum(_chat_format(r) for r in records) * 2 > len(records):
        raise DocumentError(
            f"{file_name} holds conversations (chat data), not text to pretrain on: prepare it on its own as "
            "a chat dataset.",
            "chat",
        )
    fields = record_fields(records)
    if "." in fields:
        return "."  # records that are strings themselves
    by_name = {f.lower(): f for f in fields}
    for name in TEXT_FIELDS:
        if name in by_name:
            return by_name[name]
    lengths = {
        f: statistics.fmean(len(v) if isinstance(v := _field_value(r, f), str) else 0 for r in records) for f in fields
    }
    best = max(lengths, key=lambda f: lengths[f], default=None)
    if best is None or lengths[best] < MIN_FIELD_CHARS:
        shown = ", ".join(fields[:8]) or "none"
        raise DocumentError(
            f"{file_name} has no field that holds text (string fields: {shown}): name the one to use "
            "(--text-field NAME, or the Text field choice).",
            "no_field",
        )
    return best


def _resolve_field(records: list, wanted: str | None, file_name: str) -> str:
    if not wanted:
        return detect_text_field(records, file_name)
    present = record_fields(records)
    if wanted in present:
        return wanted
    lower = {f.lower(): f for f in present}
    if wanted.lower() in lower:
        return lower[wanted.lower()]
    detect_text_field(records, file_name)  # conversations are refused as such, whatever field was named
    shown = ", ".join(f for f in present if f != ".") or "none"
    raise DocumentError(
        f"{file_name} has no text field '{wanted}' (its string fields: {shown}): choose one of those.", "no_field"
    )


def _text_stream(path: Path):
    """The file as text: UTF-8 (a BOM skipped), or UTF-16/32 by its BOM; bad bytes raise."""
    with open(path, "rb") as f:
        encoding, _bom = sniff_encoding(f.read(4))
    codec = "utf-8-sig" if encoding.startswith("utf-8") else encoding[:6]  # utf-16 / utf-32 read their BOM
    return open(path, encoding=codec, errors="strict", newline="")


def _json_lines(path: Path, notes: ReadNotes) -> Iterator[tuple[int, object]]:
    """(line number, record) for each line of a JSON Lines file; bad lines counted, not fatal."""
    with _text_stream(path) as f:
        for number in itertools.count(1):
            line = f.readline(MAX_RECORD_CHARS)
            if not line:
                return
            if len(line) >= MAX_RECORD_CHARS and not line.endswith("\n"):
                while (rest := f.readline(MAX_RECORD_CHARS)) and not rest.endswith("\n"):
                    pass  # skip the rest of an overlong record without holding it
                notes.bad_records += 1
                continue
            if not line.strip():
                continue
            try:
                yield number, json.loads(line)
            except ValueError:
                notes.bad_records += 1


def _json_array(path: Path) -> Iterator[tuple[int, object]]:
    """The records of a .json file: a list, an object holding a list of records, or one object."""
    _check_size(path)
    try:
        with _text_stream(path) as f:
            data = json.load(f)
    except ValueError as e:
        raise DocumentError(f"{path.name} is not valid JSON ({e}).", "damaged") from None
    if isinstance(data, dict):
        lists = [v for v in data.values() if isinstance(v, list) and v and isinstance(v[0], (dict, str))]
        data = lists[0] if len(lists) == 1 and not _chat_format(data) else [data]
    if not isinstance(data, list):
        raise DocumentError(f"{path.name} holds no records: give a list of objects or strings.", "no_field")
    yield from enumerate(data, start=1)


def _csv_rows(path: Path, kind: str) -> Iterator[tuple[int, object]]:
    """Each data row of a CSV/TSV file as {column: value}; the first row names the columns."""
    csv.field_size_limit(max(csv.field_size_limit(), MAX_RECORD_CHARS))
    with _text_stream(path) as f:
        if kind == "tsv":
            delimiter = "\t"
        else:
            sample = f.read(HEAD_BYTES)
            f.seek(0)
            try:
                delimiter = csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
            except csv.Error:
                delimiter = ","
        reader = csv.reader(f, delimiter=delimiter)
        header = next(reader, None)
        if not header:
            return
        header = [h.strip().lstrip("\ufeff") for h in header]
        for row in reader:
            if any(cell.strip() for cell in row):
                yield reader.line_num, dict(zip(header, row))


def _records(path: Path, kind: str, notes: ReadNotes) -> Iterator[tuple[int, object]]:
    if kind == "jsonl":
        return _json_lines(path, notes)
    if kind == "json":
        return _json_array(path)
    return _csv_rows(path, kind)


def _read_records(
    path: Path, kind: str, text_field: str | None, notes: ReadNotes, check: Callable[[], None]
) -> Iterator[Document]:
    try:
        records = _records(path, kind, notes)
        head = list(itertools.islice(records, DETECT_RECORDS))
        field = _resolve_field([r for _, r in head], text_field, path.name)
        notes.text_field = "(each record)" if field == "." else field
        for _number, record in itertools.chain(head, records):
            value = _field_value(record, field)
            if not isinstance(value, str):
                notes.bad_records += 1
                continue
            notes.records += 1
            if notes.records % 1000 == 0:
                check()
            yield Document(value)
    except UnicodeDecodeError as e:
        raise DocumentError(
            f"{path.name} is not valid UTF-8 text (a byte at offset {e.start:,} of a block cannot be decoded): "
            "save it as UTF-8.",
            "encoding",
        ) from None
    except csv.Error as e:
        raise DocumentError(f"{path.name} is not a readable CSV file ({e}).", "damaged") from None
    if notes.records == 0:
        raise DocumentError(f"{path.name} has no record with text in its field '{notes.text_field}'.", "empty")


def text_field_choices(path) -> tuple[list[str], str | None]:
    """(the fields of a JSON/CSV file that hold text, the one detected or None) from its first records."""
    path = Path(path)
    notes = ReadNotes()
    records = [r for _, r in itertools.islice(_records(path, document_kind(path), notes), DETECT_RECORDS)]
    fields = [f for f in record_fields(records) if f != "."]
    try:
        detected: str | None = detect_text_field(records, path.name)
    except DocumentError:
        detected = None
    return fields, detected


# ----- the quick look at a dropped file


def inspect_document(path, text_field: str | None = None) -> TextFileInfo:
    """The drop-time check of any input file: readable? what kind? its first lines of text.

    Plain text gets textfiles' check; documents are opened and their start read (a PDF's first
    pages, a JSON/CSV file's first records), so a password, a damaged archive or chat data is
    refused at once. Never raises: a problem comes back as `reason`.
    """
    p = Path(path).expanduser().absolute()
    kind = document_kind(p)
    reason = unsupported_reason(p)
    if reason:
        return TextFileInfo(p, _size(p), None, False, reason)
    if kind == "text":
        return inspect_text_file(p)
    size = _size(p)
    if not p.is_file():
        return inspect_text_file(p)  # the same words for a folder or a missing file
    if size == 0:
        return TextFileInfo(p, 0, KIND_LABELS[kind], False, f"{p.name} is empty.", kind=kind)
    notes = ReadNotes()
    try:
        text = _document_start(p, kind, text_field, notes)
    except (DatasetError, OSError, RecursionError, ValueError) as e:
        message = str(e) if isinstance(e, DatasetError) else f"{p.name} cannot be read: {e}."
        return TextFileInfo(p, size, KIND_LABELS[kind], False, message, kind=kind)
    label = KIND_LABELS[kind]
    if notes.pages:
        label += f", {format_quantity(notes.pages, 'page')}"
    lines = [line[:PREVIEW_LINE_CHARS] for line in text.splitlines() if line.strip()][:PREVIEW_LINES]
    if kind == "pdf" and not lines:
        lines = ["(no text on its first pages: if it is a scan, OCR it first)"]
    fields = text_field_choices(p)[0] if kind in RECORD_KINDS else []
    return TextFileInfo(p, size, label, True, "", lines, kind=kind, text_field=notes.text_field, fields=fields)


def _size(p: Path) -> int:
    try:
        return p.stat().st_size
    except OSError:
        return 0


def _document_start(p: Path, kind: str, text_field: str | None, notes: ReadNotes) -> str:
    """The first text of a document, read as cheaply as the format allows."""
    if kind == "pdf":
        with open(p, "rb") as f:
            reader, notes.pages = _open_pdf(p, f)
            return "\n".join(_page_text(reader.pages[i]) for i in range(min(PDF_PREVIEW_PAGES, notes.pages)))
    if kind in RECORD_KINDS:
        docs = itertools.islice(read_document(p, text_field=text_field, notes=notes), PREVIEW_LINES)
        return "\n".join(d.text.replace("\n", " ") for d in docs)
    if kind == "html":
        with open(p, "rb") as f:
            head = f.read(HEAD_BYTES)
        return html_to_text(head.decode(html_encoding(head), errors="replace"))
    if kind == "markdown":
        with open(p, "rb") as f:
            head = f.read(HEAD_BYTES)
        return markdown_to_text(head.decode(sniff_encoding(head)[0], errors="replace"))
    for doc in read_document(p, notes=notes):  # EPUB, DOCX: small enough to read whole
        return doc.text[: PREVIEW_LINES * PREVIEW_LINE_CHARS * 2]
    return ""


def read_sample(path, *, text_field: str | None = None, max_chars: int = 6000, max_pages: int = 8) -> Document:
    """The start of a document for the cleanup preview: a PDF's first pages, a file's first records
    (joined as separate paragraphs), or the first `max_chars` of any other text."""
    path = Path(path)
    kind = document_kind(path)
    if kind == "pdf":
        with open(path, "rb") as f:
            reader, n = _open_pdf(path, f)
            pages, total = [], 0
            for i in range(min(n, max_pages)):
                pages.append(_page_text(reader.pages[i]))
                total += len(pages[-1])
                if total >= max_chars and len(pages) >= 3:
                    break
        if not any(page.strip() for page in pages) and len(pages) == n:
            raise _scan_error(path)
        return Document(pages=pages, wrapped=True)
    texts, total = [], 0
    for doc in read_document(path, text_field=text_field):
        texts.append(doc.text)
        total += len(doc.text)
        if total >= max_chars:
            break
    text = "\n\n".join(texts) if kind in RECORD_KINDS else "".join(texts)
    return Document(text[:max_chars])


def sample_input_text(files, max_bytes: int, windows: int = 32) -> list[str]:
    """Pieces of the inputs' text for quick estimates (the tokenizer comparison), about `max_bytes` in all:
    windows spread over the plain text files (textfiles.sample_text), and the start of up to `windows`
    documents spread over the list, as their readers give it (no markup, no PDF internals). Their share
    of `max_bytes` follows their share of the input's size; a document that cannot be read is left out."""
    files = [Path(f) for f in files]
    plain = [f for f in files if document_kind(f) == "text"]
    docs = [f for f in files if document_kind(f) != "text"]
    sizes = {f: f.stat().st_size if f.exists() else 0 for f in files}
    total = sum(sizes.values()) or 1
    doc_budget = int(max_bytes * sum(sizes[f] for f in docs) / total)
    pieces = sample_text(plain, max_bytes - doc_budget, windows) if plain else []
    if docs:
        picked = [docs[round(i * (len(docs) - 1) / max(1, windows - 1))] for i in range(min(windows, len(docs)))]
        picked = list(dict.fromkeys(picked))
        for path in picked:
            try:
                text = read_sample(path, max_chars=max(256, doc_budget // len(picked))).raw_text()
            except (DatasetError, OSError, ValueError, RecursionError):
                continue
            if text.strip():
                pieces.append(text)
    return pieces
