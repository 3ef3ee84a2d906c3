"""Conversation files: read the chat formats people have, check every record, build the demo set.

Formats, detected from the content of `.jsonl`/`.json` files (a JSON array or one record per line):
  messages   {"messages": [{"role": "system"|"user"|"assistant", "content": "..."}]}  (OpenAI, Hugging Face)
  alpaca     {"instruction": "...", "input": "..." (optional), "output": "..."}
  sharegpt   {"conversations": [{"from": "system"|"human"|"gpt", "value": "..."}]}
and, when asked for (the file's content cannot tell it from prose), a plain-text transcript:
  transcript turns start with "User:", "Assistant:" (and "System:") at the start of a line; a turn runs
             until the next one; conversations are separated by a line holding only "###".

A conversation is usable when it has an optional system prompt first, then user and assistant turns
taking turns (user first, assistant last), none empty. Every other record becomes a BadRecord naming
the file, the line and the problem; the caller decides whether to refuse or to skip them.
Files are streamed line by line (a JSON array is parsed whole, up to MAX_JSON_BYTES); a single
record longer than MAX_RECORD_BYTES is a bad record, so one 50 MB line never fills the memory.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from gptstudio.core.chat_template import ASSISTANT, SYSTEM, USER, ChatMessage
from gptstudio.core.errors import ChatDataError, DatasetError
from gptstudio.core.textfiles import file_sha256, iter_text_chunks
from gptstudio.core.units import format_quantity

FORMATS = ("messages", "alpaca", "sharegpt", "transcript")
FORMAT_LABELS = {
    "messages": "messages (OpenAI / Hugging Face)",
    "alpaca": "Alpaca (instruction, input, output)",
    "sharegpt": "ShareGPT (conversations)",
    "transcript": "User:/Assistant: transcript",
}
JSON_SUFFIXES = (".jsonl", ".json")
MAX_RECORD_BYTES = 16 << 20  # one conversation; a longer line is reported, never held in memory
MAX_JSON_BYTES = 512 << 20  # a JSON array file is parsed whole: bigger ones must be JSON Lines
SHOWN_BAD = 5  # bad records named in an error message (the exception carries all of them)

_SHAREGPT_ROLES = {
    "system": SYSTEM,
    "human": USER,
    "user": USER,
    "gpt": ASSISTANT,
    "assistant": ASSISTANT,
    "model": ASSISTANT,
    "bot": ASSISTANT,
}
_TURN = re.compile(r"^(user|assistant|system):[ \t]?(.*)$", re.IGNORECASE)
_SEPARATOR = "###"
_SCHEMA_HINT = (
    "a record needs 'messages' (OpenAI / Hugging Face), 'conversations' (ShareGPT), "
    "or 'instruction' and 'output' (Alpaca)"
)


@dataclass(frozen=True)
class BadRecord:
    """A record that cannot be used. line: 1-based line where it starts (0: the whole file).
    skippable: False when nothing of the file can be read (broken JSON array, unknown format)."""

    path: Path
    line: int
    reason: str
    skippable: bool = True

    def describe(self) -> str:
        where = f"{self.path.name} line {self.line:,}" if self.line else self.path.name
        return f"{where}: {self.reason}"


@dataclass
class Conversation:
    messages: list[ChatMessage]
    path: Path | None = None
    line: int = 0

    @property
    def turns(self) -> int:
        return sum(1 for m in self.messages if m.role != SYSTEM)


def conversation_problem(messages: list[ChatMessage]) -> str | None:
    """Why a list of messages is not a usable training conversation (None: it is)."""
    if not messages:
        return "it has no messages"
    body = messages[1:] if messages[0].role == SYSTEM else messages
    for i, m in enumerate(body, start=1):
        if m.role == SYSTEM:
            return f"a system message comes after turn {i - 1}: only the first message may be one"
        expected = USER if i % 2 else ASSISTANT
        if m.role != expected:
            if i == 1:
                return "it starts with an assistant turn: a conversation starts with the user"
            return f"roles out of order: turn {i} is {m.role}, but {expected} should come after {body[i - 2].role}"
        if not m.content.strip():
            return f"turn {i} ({m.role}) is empty" if m.role == USER else f"the reply in turn {i} is empty"
    if not body:
        return "it has only a system message"
    if body[-1].role != ASSISTANT:
        return "it ends with a user turn that has no reply"
    return None


def format_bad(bad: list[BadRecord], what: str = "record") -> str:
    """'3 bad records: a.jsonl line 4: ...; ...' (the first few), for one-line error messages."""
    shown = "; ".join(b.describe() for b in bad[:SHOWN_BAD])
    more = f"; and {len(bad) - SHOWN_BAD:,} more" if len(bad) > SHOWN_BAD else ""
    return f"{format_quantity(len(bad), 'bad ' + what)}: {shown}{more}"


# ----- records of each JSON format -----


def _text(value, what: str) -> str:
    """A message content: a string, or a list of text parts (OpenAI's multi-part content)."""
    if isinstance(value, str):
        return value
    parts = value if isinstance(value, list) else None
    if parts is not None and all(isinstance(p, dict) and isinstance(p.get("text"), str) for p in parts):
        return "".join(p["text"] for p in parts)
    raise ValueError(f"{what} is not text")


def _from_messages(record: dict) -> list[ChatMessage]:
    items = record["messages"]
    if not isinstance(items, list):
        raise ValueError("'messages' is not a list")
    out = []
    for i, m in enumerate(items, start=1):
        if not isinstance(m, dict) or "role" not in m or "content" not in m:
            raise ValueError(f"message {i} needs 'role' and 'content'")
        role = m["role"]
        if role not in (SYSTEM, USER, ASSISTANT):
            raise ValueError(f"message {i} has the role {role!r}: use system, user or assistant")
        out.append(ChatMessage(role, _text(m["content"], f"message {i}'s content")))
    return out


def _from_alpaca(record: dict) -> list[ChatMessage]:
    def text(key: str, default: str | None = None) -> str:
        value = record.get(key, default)
        if not isinstance(value, str):
            raise ValueError(f"'{key}' is not text")
        return value

    instruction, extra, output, system = text("instruction"), text("input", ""), text("output"), text("system", "")
    prompt = f"{instruction}\n\n{extra}" if instruction.strip() and extra.strip() else instruction + extra
    head = [ChatMessage(SYSTEM, system)] if system.strip() else []
    return head + [ChatMessage(USER, prompt), ChatMessage(ASSISTANT, output)]


def _from_sharegpt(record: dict) -> list[ChatMessage]:
    items = record["conversations"]
    if not isinstance(items, list):
        raise ValueError("'conversations' is not a list")
    out = []
    system = record.get("system")
    if isinstance(system, str) and system.strip():
        out.append(ChatMessage(SYSTEM, system))
    for i, m in enumerate(items, start=1):
        if not isinstance(m, dict) or "from" not in m or "value" not in m:
            raise ValueError(f"turn {i} needs 'from' and 'value'")
        role = _SHAREGPT_ROLES.get(str(m["from"]).lower())
        if role is None:
            raise ValueError(f"turn {i} is from {m['from']!r}: use system, human or gpt")
        out.append(ChatMessage(role, _text(m["value"], f"turn {i}'s value")))
    return out


_READERS: dict[str, Callable[[dict], list[ChatMessage]]] = {
    "messages": _from_messages,
    "alpaca": _from_alpaca,
    "sharegpt": _from_sharegpt,
}


def record_format(record) -> str | None:
    """The JSON format a record is in, from its keys (None: none of ours)."""
    if not isinstance(record, dict):
        return None
    if "messages" in record:
        return "messages"
    if "conversations" in record:
        return "sharegpt"
    if "instruction" in record and "output" in record:
        return "alpaca"
    return None


# ----- reading files -----


def _iter_lines(path: Path, on_bytes=None) -> Iterator[tuple[int, str | None]]:
    """(line number, text without the line break) for each line; text is None for a line longer than
    MAX_RECORD_BYTES (skipped without holding it). on_bytes(n) is told how much of the file was read."""
    parts: list[str] = []
    size, too_long, lineno = 0, False, 1
    for chunk in iter_text_chunks(path):
        text = chunk.text
        start = 0
        while True:
            nl = text.find("\n", start)
            piece = text[start:] if nl < 0 else text[start:nl]
            if not too_long:
                size += len(piece)
                if size > MAX_RECORD_BYTES:
                    too_long, parts = True, []
                else:
                    parts.append(piece)
            if nl < 0:
                break
            yield lineno, None if too_long else "".join(parts).rstrip("\r")
            parts, size, too_long, lineno = [], 0, False, lineno + 1
            start = nl + 1
        if on_bytes is not None:
            on_bytes(chunk.nread)
    if parts or too_long:
        yield lineno, None if too_long else "".join(parts).rstrip("\r")


def _too_long(path: Path, line: int) -> BadRecord:
    return BadRecord(
        path,
        line,
        f"the line is longer than {MAX_RECORD_BYTES >> 20} MB: one conversation per line, each shorter than that",
    )


def _conversation(path: Path, line: int, messages: list[ChatMessage]) -> Conversation | BadRecord:
    problem = conversation_problem(messages)
    return BadRecord(path, line, problem) if problem else Conversation(messages, path, line)


def _json_record(path: Path, line: int, record, fmt: str | None) -> tuple[Conversation | BadRecord, str | None]:
    """One JSON record in the file's format (the first record fixes the format when none is given)."""
    found = record_format(record)
    if found is None:
        return BadRecord(path, line, f"unknown schema: {_SCHEMA_HINT}"), fmt
    if fmt is not None and found != fmt:
        return BadRecord(
            path, line, f"this record is in the {found} format, the file's first in {fmt}: use one per file"
        ), fmt
    try:
        messages = _READERS[found](record)
    except ValueError as e:
        return BadRecord(path, line, str(e)), found
    return _conversation(path, line, messages), found


def _first_char(path: Path) -> str:
    for chunk in iter_text_chunks(path, 1 << 16):
        stripped = chunk.text.lstrip()
        if stripped:
            return stripped[0]
    return ""


def _iter_json_lines(path: Path, fmt: str | None, on_bytes) -> Iterator[Conversation | BadRecord]:
    for lineno, text in _iter_lines(path, on_bytes):
        if text is None:
            yield _too_long(path, lineno)
            continue
        if not text.strip():
            continue
        try:
            record = json.loads(text)
        except ValueError as e:
            yield BadRecord(path, lineno, f"broken JSON ({getattr(e, 'msg', e)} at column {getattr(e, 'colno', '?')})")
            continue
        item, fmt = _json_record(path, lineno, record, fmt)
        yield item


def _iter_json_array(path: Path, fmt: str | None, on_bytes) -> Iterator[Conversation | BadRecord]:
    size = path.stat().st_size
    if size > MAX_JSON_BYTES:
        yield BadRecord(
            path,
            0,
            f"a JSON array of {size / 1e6:,.0f} MB is too big to read at once: write it as JSON Lines "
            "(.jsonl, one conversation per line)",
            skippable=False,
        )
        return
    text = "".join(c.text for c in iter_text_chunks(path))
    decoder = json.JSONDecoder()
    pos = text.index("[") + 1
    line, counted = 1, 0

    def line_at(i: int) -> int:
        nonlocal line, counted
        line += text.count("\n", counted, i)
        counted = i
        return line

    while True:
        while pos < len(text) and text[pos] in " \t\r\n,":
            pos += 1
        if pos < len(text) and text[pos] == "]":
            break
        try:
            record, end = decoder.raw_decode(text, pos)
        except ValueError as e:
            start = line_at(pos)
            where = f" at line {line_at(e.pos)}" if isinstance(e, json.JSONDecodeError) else ""
            yield BadRecord(
                path,
                start,
                f"broken JSON ({getattr(e, 'msg', e)}{where}): nothing from here on can be read",
                skippable=False,
            )
            break
        item, fmt = _json_record(path, line_at(pos), record, fmt)
        yield item
        pos = end
    if on_bytes is not None:
        on_bytes(size)


def _iter_transcript(path: Path, on_bytes) -> Iterator[Conversation | BadRecord]:
    messages: list[ChatMessage] = []
    lines: list[str] = []
    role, start, stray = None, 0, 0

    def close_turn():
        if role is not None:
            messages.append(ChatMessage(role, "\n".join(lines).strip()))

    def finish():
        close_turn()
        if stray:
            return BadRecord(path, stray, "text before the first 'User:' or 'System:' line of the conversation")
        return _conversation(path, start, list(messages)) if messages else None

    for lineno, text in _iter_lines(path, on_bytes):
        if text is None:
            yield _too_long(path, lineno)
            messages, lines, role, start, stray = [], [], None, 0, 0
            continue
        if text.strip() == _SEPARATOR:
            item = finish()
            if item is not None:
                yield item
            messages, lines, role, start, stray = [], [], None, 0, 0
            continue
        m = _TURN.match(text)
        if m:
            close_turn()
            role, lines = m.group(1).lower(), [m.group(2)]
            start = start or lineno
        elif role is not None:
            lines.append(text)
        elif text.strip() and not stray:
            stray, start = lineno, start or lineno
    item = finish()
    if item is not None:
        yield item


def detect_chat_format(path) -> str | None:
    """The chat format of a .json/.jsonl file from its first record, or None if it is not chat data.

    Raises DatasetError when the file cannot be read as text."""
    path = Path(path)
    if path.suffix.lower() not in JSON_SUFFIXES:
        return None
    first = _first_char(path)
    if first == "[":
        for chunk in iter_text_chunks(path, 1 << 16):  # the first element's keys, without parsing it all
            head = chunk.text[chunk.text.index("[") + 1 :] if "[" in chunk.text else ""
            keys = set(re.findall(r'"(messages|conversations|instruction|output)"\s*:', head[:65536]))
            if "messages" in keys:
                return "messages"
            if "conversations" in keys:
                return "sharegpt"
            if {"instruction", "output"} <= keys:
                return "alpaca"
            return None
    if first == "{":
        for _, text in _iter_lines(path):
            if text is None:
                return None
            if text.strip():
                try:
                    return record_format(json.loads(text))
                except ValueError:
                    return None
    return None


def looks_like_transcript(path) -> bool:
    """Whether a text file starts like a User:/Assistant: transcript (its first non-empty line)."""
    try:
        for chunk in iter_text_chunks(path, 1 << 16):
            for line in chunk.text.splitlines():
                if line.strip():
                    m = _TURN.match(line)
                    return m is not None and m.group(1).lower() in (USER, SYSTEM)
    except DatasetError:
        return False
    return False


def file_format(path, forced: bool = False) -> str | None:
    """The chat format to read a file with: its detected JSON format; with `forced` (--chat), any other
    file is a transcript. None: not chat data."""
    path = Path(path)
    fmt = detect_chat_format(path)
    if fmt is None and forced:
        if path.suffix.lower() in JSON_SUFFIXES:
            return "messages"  # its records are reported against the expected schema
        return "transcript"
    return fmt


def inputs_are_chat(files) -> bool:
    """Whether input files are conversations (every one a .json/.jsonl in a chat format) rather than
    text to pretrain on. In a mix, the text makes the dataset and the import report lists each
    conversation file as skipped ("chat"): a folder of documents often holds a chat export too."""
    formats = [detect_chat_format(f) for f in files]
    return bool(formats) and all(formats)


def iter_conversations(path, fmt: str, on_bytes=None) -> Iterator[Conversation | BadRecord]:
    """Every record of a file, as a Conversation or a BadRecord, in file order."""
    path = Path(path)
    if fmt not in FORMATS:
        raise DatasetError(f"Unknown chat format {fmt!r}: use one of {', '.join(FORMATS)}.")
    if fmt == "transcript":
        yield from _iter_transcript(path, on_bytes)
        return
    first = _first_char(path)
    if not first:
        yield BadRecord(path, 0, "the file is empty", skippable=False)
        return
    # the first usable record fixes the file's format: records in another schema are reported
    if first == "[":
        yield from _iter_json_array(path, None, on_bytes)
    else:
        yield from _iter_json_lines(path, None, on_bytes)


# ----- sources: files, or the demo conversations -----


@dataclass
class ChatSource:
    """Where conversations come from: a file in some format, or a generated set (the demo)."""

    path: Path
    fmt: str
    size: int
    generate: Callable[[], list[Conversation]] | None = None
    label: str = ""
    _sha256: str = field(default="", repr=False)

    def conversations(self, on_bytes=None) -> Iterator[Conversation | BadRecord]:
        if self.generate is not None:
            yield from self.generate()
            if on_bytes is not None:
                on_bytes(self.size)
            return
        yield from iter_conversations(self.path, self.fmt, on_bytes)

    def to_meta(self) -> dict:
        if not self._sha256:
            self._sha256 = file_sha256(self.path)
        out = {"path": str(self.path), "size": self.size, "sha256": self._sha256, "chat_format": self.fmt}
        if self.label:
            out["generated"] = self.label
        return out


def file_sources(files, forced: bool = False) -> list[ChatSource]:
    """One source per file, in its detected format; a file that is not chat data is an error."""
    out = []
    for path in files:
        path = Path(path)
        fmt = file_format(path, forced)
        if fmt is None:
            raise ChatDataError(
                f"{path.name} is not chat data: {_SCHEMA_HINT}; a User:/Assistant: transcript needs --chat "
                "(Conversations in the app).",
                [BadRecord(path, 0, "not chat data", skippable=False)],
            )
        out.append(ChatSource(path, fmt, path.stat().st_size))
    return out


# ----- the demo: conversations from the bundled play -----

DEMO_MAX_CHARS = 200  # speeches longer than this are left out: small models have short contexts


def demo_conversations(text: str | None = None, max_chars: int = DEMO_MAX_CHARS) -> list[Conversation]:
    """Exchanges from the demo play: one speech as the user's turn, the next speaker's answer as the
    assistant's reply (both at most max_chars), so a model pretrained on the play learns to answer."""
    if text is None:
        from gptstudio.core.dataset import demo_text_path

        text = demo_text_path().read_text(encoding="utf-8")
    speeches: list[tuple[str, str, int] | None] = []
    line = 1
    for block in text.split("\n\n"):
        lines = block.strip("\n").split("\n")
        if len(lines) > 1 and lines[0].endswith(":") and lines[0][:-1].strip():
            speeches.append((lines[0][:-1], "\n".join(lines[1:]).strip(), line))
        else:
            speeches.append(None)
        line += block.count("\n") + 2
    out = []
    for a, b in itertools.pairwise(speeches):
        if a and b and a[0] != b[0] and 0 < len(a[1]) <= max_chars and 0 < len(b[1]) <= max_chars:
            out.append(Conversation([ChatMessage(USER, a[1]), ChatMessage(ASSISTANT, b[1])], None, a[2]))
    return out


def demo_source() -> ChatSource:
    from gptstudio.core.dataset import demo_text_path

    path = demo_text_path()
    return ChatSource(path, "demo", path.stat().st_size, demo_conversations, "demo chat: speech and reply")
