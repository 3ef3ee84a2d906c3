"""Playground conversations: the messages of a chat or completion session, saved as JSON or Markdown.

A conversation is a list of messages. A user message holds the prompt; a model message one reply.
Replies that answer the same prompt side by side (several samples, or two checkpoints compared)
share a `group` number. JSON is the exact format; Markdown is for reading and sharing, and opens
back into the same messages thanks to a small HTML comment before each one (invisible when rendered).
"""

from __future__ import annotations

import datetime
import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from gptstudio.core.atomic import write_json_atomic, write_text_atomic
from gptstudio.core.errors import GPTStudioError

FORMAT = "gptstudio-conversation-1"
ROLES = ("user", "model")
MODES = ("chat", "complete")

_MD_MESSAGE = "<!-- gptstudio-message "
_MD_HEADER = "<!-- gptstudio-conversation "
# a message line that would read as one of our markers gets one more leading backslash (undone on open)
_MARKER_LINE = re.compile(r"^(\\*)(<!-- gptstudio-)", re.MULTILINE)
_ESCAPED_MARKER_LINE = re.compile(r"^\\(\\*)(<!-- gptstudio-)", re.MULTILINE)


class ConversationError(GPTStudioError):
    """A conversation file cannot be read or written."""


@dataclass
class Message:
    role: str  # "user" or "model"
    text: str
    label: str = ""  # who answered: a checkpoint name, "sample 2", ...
    group: int = 0  # replies sharing a group answer the same prompt side by side
    meta: dict = field(default_factory=dict)  # seed, token count, tokens/s, stop reason...

    def __post_init__(self):
        if self.role not in ROLES:
            raise ConversationError(f"Unknown message role {self.role!r}: use 'user' or 'model'.")


@dataclass
class Conversation:
    messages: list[Message] = field(default_factory=list)
    mode: str = "chat"
    checkpoint: str = ""  # the checkpoint the conversation was held with
    settings: dict = field(default_factory=dict)  # sampling settings of the last reply
    created: str = field(default_factory=lambda: datetime.datetime.now().isoformat(timespec="seconds"))

    def add(self, role: str, text: str, **kwargs) -> Message:
        msg = Message(role, text, **kwargs)
        self.messages.append(msg)
        return msg

    def next_group(self) -> int:
        return max((m.group for m in self.messages), default=0) + 1

    def turns(self, primary_only: bool = True) -> list[tuple[str, str]]:
        """(role, text) pairs for the chat prompt: of side-by-side replies only the first one counts."""
        out, seen = [], set()
        for m in self.messages:
            if m.role == "model" and primary_only and m.group in seen:
                continue
            if m.role == "model":
                seen.add(m.group)
            out.append((m.role, m.text))
        return out

    def to_dict(self) -> dict:
        return {
            "format": FORMAT,
            "mode": self.mode,
            "checkpoint": self.checkpoint,
            "settings": dict(self.settings),
            "created": self.created,
            "messages": [asdict(m) for m in self.messages],
        }

    @classmethod
    def from_dict(cls, d: dict, source: str = "the file") -> Conversation:
        if not isinstance(d, dict) or not isinstance(d.get("messages"), list):
            raise ConversationError(f"{source} is not a GPT Studio conversation: it has no list of messages.")
        messages = []
        for i, m in enumerate(d["messages"]):
            if not isinstance(m, dict) or not isinstance(m.get("text"), str) or m.get("role") not in ROLES:
                raise ConversationError(
                    f"Message {i + 1} of {source} is damaged: each message needs a 'role' (user or model) and a 'text'."
                )
            messages.append(
                Message(
                    m["role"],
                    m["text"],
                    label=str(m.get("label", "")),
                    group=_int(m.get("group", 0)),
                    meta=m["meta"] if isinstance(m.get("meta"), dict) else {},
                )
            )
        mode = str(d["mode"]) if d.get("mode") in MODES else "chat"
        settings = d["settings"] if isinstance(d.get("settings"), dict) else {}
        return cls(
            messages,
            mode=mode,
            checkpoint=str(d.get("checkpoint", "")),
            settings=settings,
            created=str(d.get("created", "")),
        )


def _int(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


# ---------------------------------------------------------------------------------------------- files


def save_conversation(conv: Conversation, path: str | os.PathLike) -> Path:
    """Write atomically; the format follows the extension (.md/.markdown = Markdown, else JSON)."""
    path = Path(path)
    try:
        if is_markdown(path):
            write_text_atomic(path, to_markdown(conv))
        else:
            write_json_atomic(path, conv.to_dict())
    except OSError as e:
        raise ConversationError(
            f"Could not save the conversation to {path}: {e.strerror or e}. Choose a folder you can write to."
        ) from None
    return path


def load_conversation(path: str | os.PathLike) -> Conversation:
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")  # bytes: keep any \r inside messages as written
    except FileNotFoundError:
        raise ConversationError(f"No conversation file at {path}.") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConversationError(
            f"Could not read {path.name}: {e}. Choose a JSON or Markdown conversation saved by GPT Studio."
        ) from None
    if is_markdown(path):
        return from_markdown(text, source=path.name)
    try:
        data = json.loads(text)
    except ValueError as e:
        raise ConversationError(
            f"{path.name} is not valid JSON ({e}). Open a conversation saved by GPT Studio."
        ) from None
    return Conversation.from_dict(data, source=path.name)


def is_markdown(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in (".md", ".markdown")


# ------------------------------------------------------------------------------------------ markdown


def _comment_json(obj) -> str:
    # '>' only occurs inside JSON strings, where \u003e is the same character: no '-->' can end the comment early
    return json.dumps(obj, ensure_ascii=False).replace(">", "\\u003e")


def _heading(m: Message) -> str:
    who = "User" if m.role == "user" else "Model"
    return f"### {who}" + (f" — {m.label}" if m.label else "")


def to_markdown(conv: Conversation) -> str:
    header = {k: v for k, v in conv.to_dict().items() if k != "messages"}
    parts = [f"# Conversation ({conv.mode})\n", f"{_MD_HEADER}{_comment_json(header)} -->\n"]
    if conv.checkpoint:
        parts.append(f"\nCheckpoint: `{conv.checkpoint}`\n")
    for m in conv.messages:
        meta = {"role": m.role, "label": m.label, "group": m.group, "meta": m.meta}
        body = _MARKER_LINE.sub(r"\\\1\2", m.text)
        parts.append(f"\n{_MD_MESSAGE}{_comment_json(meta)} -->\n{_heading(m)}\n\n{body}\n")
    return "".join(parts)


def from_markdown(text: str, source: str = "the file") -> Conversation:
    header_match = re.search("^" + re.escape(_MD_HEADER) + r"(.*?) -->$", text, flags=re.MULTILINE)
    if header_match is None:
        raise ConversationError(
            f"{source} is not a conversation saved by GPT Studio (its marker comments "
            "are missing). Open the .json or .md file GPT Studio wrote."
        )
    header = _parse_comment(header_match.group(1), source)
    pieces = re.split("^" + re.escape(_MD_MESSAGE) + r"(.*?) -->\n", text, flags=re.MULTILINE)
    # pieces = [preamble, meta1, block1, meta2, block2, ...]; a block is heading, blank line, text, "\n",
    # plus the blank line that opens the next message's block
    metas, blocks = pieces[1::2], pieces[2::2]
    messages = []
    for i, (meta_text, block) in enumerate(zip(metas, blocks)):
        meta = _parse_comment(meta_text, source)
        body = block.split("\n", 2)[2] if block.count("\n") >= 2 else ""
        trailer = "\n\n" if i < len(metas) - 1 else "\n"
        body = body[: -len(trailer)] if body.endswith(trailer) else body.rstrip("\n")
        meta["text"] = _ESCAPED_MARKER_LINE.sub(r"\1\2", body)
        messages.append(meta)
    return Conversation.from_dict({**header, "messages": messages}, source=source)


def _parse_comment(raw: str, source: str) -> dict:
    try:
        value = json.loads(raw)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise ConversationError(
            f"{source} has a damaged GPT Studio marker comment; open the JSON copy or fix the comment by hand."
        )
    return value


# ------------------------------------------------------------------------------------ stop sequences

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", ",": ","}


def parse_stop_sequences(text: str) -> tuple[str, ...]:
    r"""Stop sequences typed in one field: separated by commas or new lines; \n \t \r \\ and \, escapes."""
    items, current, i = [], [], 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text) and text[i + 1] in _ESCAPES:
            current.append(_ESCAPES[text[i + 1]])
            i += 2
            continue
        if ch in ",\n":
            items.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    items.append("".join(current))
    # spaces around the separators are layout; blank entries (", ," or a trailing comma) are leftovers
    stripped = (s.strip(" ") for s in items)
    return tuple(dict.fromkeys(s for s in stripped if s))


def format_stop_sequences(stops) -> str:
    """The inverse of parse_stop_sequences, for showing saved settings in the field."""

    def esc(s: str) -> str:
        return (
            s.replace("\\", "\\\\").replace(",", "\\,").replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")
        )

    return ", ".join(esc(s) for s in stops)
