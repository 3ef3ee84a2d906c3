"""The project's own error types.

Every problem a user can cause (bad input file, bad setting, broken checkpoint) is raised as a
`GPTStudioError` whose message is one plain sentence naming the problem and the fix. Front ends show
`str(error)` as is: the CLI prints it on one line and exits 2, the GUI shows it in a dialog.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


class GPTStudioError(Exception):
    """A problem the user can understand and fix; the message says what and how."""


class DatasetError(GPTStudioError):
    """Input text or a prepared dataset is unusable."""


class DocumentError(DatasetError):
    """One input document cannot be imported; `code` says why for callers that sort the reasons
    (never match the wording): "encrypted", "scan", "unsupported", "damaged", "empty", "too_large",
    "no_field", "chat", "binary", "encoding", "unreadable"."""

    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Problem:
    """One problem with some settings, as data: the sentence to show, the settings it concerns (form
    fields to mark), and a stable `code` for callers that must recognise a kind of problem (never
    match the sentence's wording)."""

    message: str
    fields: tuple[str, ...] = ()
    code: str = ""

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict:
        return {"message": self.message, "fields": list(self.fields), "code": self.code}

    @classmethod
    def of(cls, item: Problem | str) -> Problem:
        """A Problem as is; a plain sentence (from a file reader, say) as a Problem about no field."""
        return item if isinstance(item, Problem) else cls(str(item))


class ConfigError(GPTStudioError):
    """Training settings are invalid. `problems` lists every one of them (Problem objects)."""

    def __init__(self, problems: Problem | str | Iterable[Problem | str]):
        if isinstance(problems, (str, Problem)):
            problems = [problems]
        self.problems: list[Problem] = [Problem.of(p) for p in problems]
        super().__init__("; ".join(p.message for p in self.problems))


class CheckpointError(GPTStudioError):
    """A checkpoint is missing, truncated, of an unknown shape or unsafe to load."""


class WorkspaceError(GPTStudioError):
    """A name, folder or lock in the workspace is unusable."""


class TokenizerError(GPTStudioError):
    """Text cannot be encoded with this tokenizer (e.g. characters outside a char vocabulary)."""


class UnknownCharacters(TokenizerError):
    """Text has characters a char model's vocabulary lacks; `chars` lists them (sorted), `count` says how
    many characters of the text they are. The user chooses: drop them, or cancel."""

    def __init__(self, message: str, chars=(), count: int = 0):
        self.chars, self.count = list(chars), count
        super().__init__(message)


class ChatDataError(DatasetError):
    """Conversation files have records that cannot be used. `bad` lists every one found (BadRecord
    objects of core/chat_data.py: file, line, reason), so a front end can show them and offer to skip."""

    def __init__(self, message: str, bad=()):
        self.bad = list(bad)
        super().__init__(message)


class ChatError(GPTStudioError):
    """A conversation cannot be sent to a chat model (e.g. it does not fit its context)."""


class Cancelled(GPTStudioError):
    """The user asked the job to stop; nothing half-written was left behind."""

    def __init__(self, message: str = "Cancelled by the user."):
        super().__init__(message)
