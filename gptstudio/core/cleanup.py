"""Cleaning imported text before it is tokenized: each step a choice, each counted, previewable.

The steps, in the order they run (each can be turned off in CleanupOptions):

- mojibake: text decoded with the wrong encoding somewhere before it reached us ("donâ€™t",
  "CafÃ©") is repaired with ftfy. ftfy looks only at paragraphs that show a sign of it (a
  character of UTF-8 read as Latin-1/Windows-1252), which keeps clean text at full speed.
- nfc: Unicode NFC, so "é" is one character whether it was typed as one or as e + accent.
- page_furniture (PDF): lines repeated at the top or bottom of the pages (running heads, footers)
  and lone page numbers there. A line counts as repeated when it comes back at a page edge on
  every page or every other page (digits ignored, so "Page 3 of 9" repeats), three times at least.
- hyphens: a word cut at a line end ("exam-" / "ple") is joined; soft hyphens are removed.
- (PDF only, always) the page's hard-wrapped lines become paragraphs again: a line much shorter
  than the document's usual line ends its paragraph, the others join with a space.
- whitespace: runs of spaces between words become one, trailing spaces go, and runs of blank lines
  become one blank line (indentation at the start of a line is kept: it means something in code).
- duplicates: a paragraph of DUPLICATE_MIN_CHARS or more seen before anywhere in the import is
  dropped (boilerplate, repeated disclaimers); short ones ("Yes.") repeat naturally and stay.
- short: a document shorter than `min_chars` after cleaning is dropped (a record, or a whole file).

`Cleaner` runs them over a stream of Documents and keeps `CleanupStats` (characters each step
removed, duplicates and short documents dropped); `preview` runs them on a sample and returns the
before/after with the changed spans, for the Dataset tab and `gptstudio prepare --preview`.
"""

from __future__ import annotations

import difflib
import hashlib
import itertools
import re
import statistics
import unicodedata
from dataclasses import asdict, dataclass, field, fields

import numpy as np

from gptstudio.core.documents import Document
from gptstudio.core.units import format_quantity

STEPS = ("mojibake", "nfc", "page_furniture", "hyphens", "whitespace", "duplicates", "short")
STEP_LABELS = {  # short, for checkboxes (STEP_HELP says more)
    "mojibake": "Repair mojibake",
    "nfc": "Unicode NFC",
    "page_furniture": "Page headers, footers (PDF)",
    "hyphens": "Join hyphenated words",
    "whitespace": "Collapse whitespace",
    "duplicates": "Drop duplicate paragraphs",
    "short": "Drop documents under",
}
STEP_HELP = {
    "mojibake": "Fixes text that was decoded with the wrong encoding before it reached you, e.g. "
    "'donâ€™t' → 'don’t', 'CafÃ©' → 'Café' (ftfy).",
    "nfc": "Writes each accented letter one way (é as one character, not e + accent), so the same word is "
    "always the same tokens.",
    "page_furniture": "PDF pages repeat running heads, footers and page numbers at their edges; they are not "
    "part of the text.",
    "hyphens": "'exam-' at the end of a line followed by 'ple' becomes 'example'.",
    "whitespace": "Several spaces between words become one, spaces at line ends go, and several blank lines "
    "become one.",
    "duplicates": "A paragraph of 40 or more characters seen before in this import is left out (boilerplate, "
    "repeated notices). The count is reported.",
    "short": "Documents (a file, or a record of a JSON/CSV file) with less text than this after cleaning are left out.",
}
# what each step removes, in a sentence ("212 characters of ...")
STEP_NAMES = {
    "mojibake": "mis-decoded text",
    "nfc": "Unicode normalisation",
    "page_furniture": "page headers, footers and numbers",
    "hyphens": "hyphenated line ends",
    "whitespace": "extra spaces and blank lines",
    "duplicates": "duplicate paragraphs",
    "short": "short documents",
}
DUPLICATE_MIN_CHARS = 40
MIN_CHARS_DEFAULT = 50
EDGE_LINES = 2  # lines at the top and at the bottom of a page where headers and footers live
SHORT_LINE = 0.6  # a wrapped line shorter than this share of the usual line ends its paragraph


@dataclass(frozen=True)
class CleanupOptions:
    """Which steps run (see the module docstring). Plain text files are used exactly as they are
    unless `plain_text` is set, as nanoGPT uses them; documents (PDF, EPUB, ...) are always cleaned
    with the steps chosen."""

    mojibake: bool = True
    nfc: bool = True
    page_furniture: bool = True
    hyphens: bool = True
    whitespace: bool = True
    duplicates: bool = True
    short: bool = True
    min_chars: int = MIN_CHARS_DEFAULT
    plain_text: bool = False

    @classmethod
    def none(cls) -> CleanupOptions:
        """Every step off: the text as the readers give it."""
        return cls(**{step: False for step in STEPS})

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict | None) -> CleanupOptions:
        """Options from a dict (a settings file); unknown keys and wrong types are ignored."""
        base, known = cls(), {}
        for f in fields(cls):
            value = (data or {}).get(f.name)
            if isinstance(value, type(getattr(base, f.name))) and not (f.type == "int" and isinstance(value, bool)):
                known[f.name] = value
        return cls(**{**asdict(base), **known})

    def enabled(self) -> list[str]:
        return [step for step in STEPS if getattr(self, step)]


@dataclass
class CleanupStats:
    """What cleaning did: characters removed by each step, paragraphs and documents dropped."""

    removed: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STEPS, 0))
    duplicate_paragraphs: int = 0
    short_documents: int = 0
    documents: int = 0  # documents kept
    chars_in: int = 0
    chars_out: int = 0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> CleanupStats:
        """Stats as meta.json keeps them (unknown keys ignored)."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def describe(self, what: str) -> str:
        """'Removed from WHAT: 212 characters of page headers, footers and numbers, 3 duplicate paragraphs
        (240 characters).' or 'Nothing to clean in WHAT.'"""
        parts = []
        for step, n in self.removed.items():
            chars = format_quantity(n, "character")
            if step == "duplicates" and self.duplicate_paragraphs:
                parts.append(f"{format_quantity(self.duplicate_paragraphs, 'duplicate paragraph')} ({chars})")
            elif step == "short" and self.short_documents:
                parts.append(f"{format_quantity(self.short_documents, 'short document')} ({chars})")
            elif n > 0 and step not in ("duplicates", "short"):
                parts.append(f"{chars} of {STEP_NAMES[step]}")
        if not parts:
            return f"Nothing to clean in {what}."
        return f"Removed from {what}: " + ", ".join(parts) + "."


# ----- the steps, each a plain function of text

# UTF-8 read as Latin-1 or Windows-1252: a lead byte's character (Â-ô) then a continuation byte's
_MOJIBAKE_SIGN = re.compile(
    "[\u00c2-\u00f4][\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc"
    "\u2013\u2014\u2018-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122]"
)


def fix_mojibake(text: str) -> str:
    """Repair mis-decoded text with ftfy, paragraph by paragraph, only where there is a sign of it."""
    if not _MOJIBAKE_SIGN.search(text):
        return text
    import ftfy

    parts = re.split(r"(\n\s*\n)", text)
    return "".join(ftfy.fix_encoding(p) if _MOJIBAKE_SIGN.search(p) else p for p in parts)


def normalize_nfc(text: str) -> str:
    return text if unicodedata.is_normalized("NFC", text) else unicodedata.normalize("NFC", text)


_DIGITS = re.compile(r"\d+")
_PAGE_NUMBER = re.compile(
    r"^[\s\-–—\[\(|]*(?:page|p\.|seite|página|pagina)?\s*"
    r"(?:\d{1,5}|(?=[ivxlcdm])m{0,3}(?:cm|cd|d?c{0,3})(?:xc|xl|l?x{0,3})(?:ix|iv|v?i{0,3}))"
    r"(?:\s*(?:of|/|sur|von|de)\s*\d{1,5})?[\s\-–—\]\)|]*$",
    re.IGNORECASE,
)


def _edge_key(line: str) -> str:
    return " ".join(_DIGITS.sub("#", line.lower()).split())


def _edges(lines: list[str]) -> list[int]:
    """Indices of the first and last EDGE_LINES non-empty lines of a page."""
    filled = [i for i, line in enumerate(lines) if line.strip()]
    return sorted(set(filled[:EDGE_LINES] + filled[-EDGE_LINES:]))


def _runs_on_most_pages(pages: list[int]) -> bool:
    """Seen on at least 3 pages, mostly on every page or every other page (a running head or footer)."""
    if len(pages) < 3:
        return False
    gaps = [b - a for a, b in itertools.pairwise(pages)]
    return statistics.median(gaps) <= 2


def strip_page_furniture(pages: list[str]) -> list[str]:
    """Pages without their running heads, footers and page numbers (lines at the page edges)."""
    split = [page.split("\n") for page in pages]
    seen: dict[str, list[int]] = {}
    for number, lines in enumerate(split):
        for key in {_edge_key(lines[i]) for i in _edges(lines)}:
            if key:
                seen.setdefault(key, []).append(number)
    repeated = {key for key, where in seen.items() if _runs_on_most_pages(where)}
    cleaned = []
    for lines in split:
        drop = {i for i in _edges(lines) if _edge_key(lines[i]) in repeated or _PAGE_NUMBER.match(lines[i])}
        cleaned.append("\n".join(line for i, line in enumerate(lines) if i not in drop))
    return cleaned


_HYPHEN_BREAK = re.compile(r"([^\W\d_])[-\u00ad][ \t]*\n[ \t]*([^\W\d_]\S*)([ \t]+(?=\S))?")


def _joined(m: re.Match) -> str:
    if not m.group(2)[0].islower():
        return m.group(0)
    # the rest of the word moves up; the line break stays after it, so the lines keep their lengths
    return m.group(1) + m.group(2) + ("\n" if m.group(3) else "")


def join_hyphens(text: str) -> str:
    """'exam-\\nple text' → 'example\\ntext' (a letter, a hyphen at the line end, a lowercase letter
    next); soft hyphens removed. 'well-\\nKnown', '1990-\\n2000' and a dash between spaces stay."""
    return _HYPHEN_BREAK.sub(_joined, text).replace("\u00ad", "")


def reflow(text: str) -> str:
    """Hard-wrapped lines (a PDF's) back into paragraphs: a line much shorter than the usual line, or
    a blank line, ends a paragraph; the other lines join the next one with a space."""
    lines = [line.strip() for line in text.split("\n")]
    lengths = sorted(len(line) for line in lines if line)
    if len(lengths) < 3:
        return text
    usual = lengths[int(0.8 * (len(lengths) - 1))]
    paragraphs: list[str] = []
    current: list[str] = []
    for line in lines:
        if not line:
            if current:
                paragraphs.append(" ".join(current))
                current = []
            continue
        current.append(line)
        if len(line) < SHORT_LINE * usual:
            paragraphs.append(" ".join(current))
            current = []
    if current:
        paragraphs.append(" ".join(current))
    return "\n\n".join(paragraphs)


_INNER_SPACES = re.compile(r"(?<=\S)[ \t]{2,}(?=\S)")
_TRAILING_SPACES = re.compile(r"[ \t]+$", re.MULTILINE)
_BLANK_RUNS = re.compile(r"\n(?:[ \t]*\n){2,}")


def collapse_whitespace(text: str) -> str:
    """Spaces between words to one, no spaces at line ends, at most one blank line in a row, no blank
    lines at the start or end."""
    text = _TRAILING_SPACES.sub("", _INNER_SPACES.sub(" ", text))
    return _BLANK_RUNS.sub("\n\n", text).strip("\n")


class ParagraphSet:
    """The paragraphs seen so far, as 64-bit hashes in an open-addressing table of numpy integers:
    8 bytes a paragraph (a Python set of them would take about 70), so a gigabyte of text stays small."""

    def __init__(self, capacity: int = 1 << 16):
        self._table = np.zeros(capacity, dtype=np.uint64)  # 0 = empty slot
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def add(self, paragraph: str) -> bool:
        """Remember a paragraph; False if it was seen before."""
        key = int.from_bytes(hashlib.blake2b(paragraph.encode("utf-8"), digest_size=8).digest(), "little") or 1
        if 2 * (self._count + 1) > len(self._table):
            self._grow()
        return self._insert(self._table, key)

    def _insert(self, table: np.ndarray, key: int) -> bool:
        mask = len(table) - 1
        slot = key & mask
        while True:
            current = int(table[slot])
            if current == key:
                return False
            if current == 0:
                table[slot] = key
                self._count += 1
                return True
            slot = (slot + 1) & mask

    def _grow(self) -> None:
        old = self._table[self._table != 0]
        self._table = np.zeros(2 * len(self._table), dtype=np.uint64)
        self._count = 0
        for key in old.tolist():
            self._insert(self._table, key)


def drop_duplicates(text: str, seen: ParagraphSet) -> tuple[str, int]:
    """The text without paragraphs (of DUPLICATE_MIN_CHARS or more) already in `seen`; how many went."""
    kept, dropped = [], 0
    for paragraph in text.split("\n\n"):
        body = paragraph.strip()
        if len(body) >= DUPLICATE_MIN_CHARS and not seen.add(body):
            dropped += 1
            continue
        kept.append(paragraph)
    return "\n\n".join(kept), dropped


# ----- running the steps


class Cleaner:
    """Cleans a stream of Documents with one set of options; duplicates are found across all of them
    and `stats` adds up what every step removed."""

    def __init__(self, options: CleanupOptions):
        self.options = options
        self.stats = CleanupStats()
        self._seen = ParagraphSet()
        self._held: list[str] = []  # pieces of a continuing document (Document.more), not min_chars long yet
        self._held_chars = 0
        self._passing = False  # the document going on is long enough: its next pieces pass

    def _step(self, name: str, before: str, after: str) -> str:
        self.stats.removed[name] += len(before) - len(after)
        return after

    def clean_text(self, doc: Document) -> str:
        """One document's text through every chosen step but the length check."""
        o = self.options
        pages = doc.pages
        if pages is not None:
            if o.mojibake:
                pages = [self._step("mojibake", p, fix_mojibake(p)) for p in pages]
            if o.nfc:
                pages = [self._step("nfc", p, normalize_nfc(p)) for p in pages]
            if o.page_furniture:
                pages = [self._step("page_furniture", a, b) for a, b in zip(pages, strip_page_furniture(pages))]
            text = "\n".join(pages)
        else:
            text = doc.text
            if o.mojibake:
                text = self._step("mojibake", text, fix_mojibake(text))
            if o.nfc:
                text = self._step("nfc", text, normalize_nfc(text))
        if o.hyphens:
            text = self._step("hyphens", text, join_hyphens(text))
        if doc.wrapped:
            text = reflow(text)
        if o.whitespace:
            collapsed = collapse_whitespace(text)
            if doc.more and collapsed:
                collapsed += "\n\n"  # the piece ended at a paragraph break: keep it (the next starts after it)
            text = self._step("whitespace", text, collapsed)
        if o.duplicates:
            before = text
            text, dropped = drop_duplicates(text, self._seen)
            self.stats.duplicate_paragraphs += dropped
            self._step("duplicates", before, text)
        return text

    def clean(self, doc: Document) -> str:
        """The cleaned text to write for this document ("" when it is dropped or held back).

        A document shorter than min_chars is dropped; one that continues (`more`) is held until it
        reaches min_chars or ends; pieces of one document are written one after the other as they are."""
        self.stats.chars_in += len(doc.raw_text())
        text = self.clean_text(doc)
        if self._passing or not (self.options.short and self.options.min_chars > 0):
            self._passing = doc.more
            return self._emit(text, doc.more)
        self._held.append(text)
        self._held_chars += len(text.strip())
        if doc.more and self._held_chars < self.options.min_chars:
            return ""
        text, long_enough = "".join(self._held), self._held_chars >= self.options.min_chars
        self._held, self._held_chars = [], 0
        if not long_enough:
            self.stats.removed["short"] += len(text)
            self.stats.short_documents += 1
            return ""
        self._passing = doc.more
        return self._emit(text, doc.more)

    def _emit(self, text: str, more: bool) -> str:
        if not more:
            self.stats.documents += 1
        self.stats.chars_out += len(text)
        return text


# ----- preview


@dataclass(frozen=True)
class CleanupPreview:
    """A sample before and after cleaning, the changed spans, and what each step removed from it."""

    before: str
    after: str
    spans: list[tuple[str, str]]  # ("equal" | "delete" | "insert", text), before and after interleaved
    stats: CleanupStats
    note: str = ""  # e.g. "plain text is used as it is"


def diff_spans(before: str, after: str) -> list[tuple[str, str]]:
    """The edit from `before` to `after` as ("equal"|"delete"|"insert", text) spans, character-wise."""
    matcher = difflib.SequenceMatcher(None, before, after, autojunk=False)
    spans: list[tuple[str, str]] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            spans.append(("equal", before[i1:i2]))
            continue
        if i2 > i1:
            spans.append(("delete", before[i1:i2]))
        if j2 > j1:
            spans.append(("insert", after[j1:j2]))
    return spans


def preview(doc: Document, options: CleanupOptions, note: str = "") -> CleanupPreview:
    """Clean one sample document with `options` (duplicates found within the sample only)."""
    cleaner = Cleaner(options)
    before = doc.raw_text()
    after = cleaner.clean(Document(doc.text, doc.pages, doc.wrapped))
    return CleanupPreview(before, after, diff_spans(before, after), cleaner.stats, note)
