"""Replies from any model: a chat model answers through the chat template; a base model continues a
dialogue transcript, honestly labelled as such.

A chat model (fine-tuned on conversations, see core/chat_template.py) gets the conversation in its
template and stops at its end-of-turn token by itself. `prepare_reply` fits the conversation into the
model's context first: the oldest exchanges go (never the system prompt), and `PreparedReply.dropped`
says how many messages were left out, so a front end can show it.

A base model was never tuned to answer: a "chat" is a transcript that the model keeps writing:

    User: Good morrow, who art thou?
    Model: A poor player, sir.
    User: What news?
    Model:

The reply is what the model writes after the last "Model:", cut where it starts the next turn
("\\nUser:"). How well this works depends on the training text: a model trained on plays
will answer in character and often ignore the question, because it is only continuing the text.
`chat_prompt` builds the transcript, `chat_stops` are the stop sequences (so generation ends at the
next turn), and `cut_reply` cleans a reply that ran out of tokens.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

from gptstudio.core.chat_template import ASSISTANT, SYSTEM, ChatMessage
from gptstudio.core.chat_template import USER as CHAT_USER
from gptstudio.core.sample_settings import SamplerError
from gptstudio.core.sampler import Sampler, SampleSettings, TokenPiece

USER, MODEL = "user", "model"
_ROLE_ALIASES = {"user": USER, "human": USER, "model": MODEL, "assistant": MODEL, "bot": MODEL}


def _check_label(label: str) -> str:
    if not isinstance(label, str) or not label.strip() or "\n" in label or ":" in label:
        raise SamplerError(
            f"Invalid chat label {label!r}: use a short name without ':' or line breaks, like User or Model."
        )
    return label.strip()


def _role(role: str, user_label: str, model_label: str) -> str:
    key = str(role).strip().lower()
    if key in _ROLE_ALIASES:
        return _ROLE_ALIASES[key]
    if key == user_label.lower():
        return USER
    if key == model_label.lower():
        return MODEL
    raise SamplerError(f"Unknown chat role {role!r}: use 'user' or 'model'.")


def chat_prompt(turns: list[tuple[str, str]], user_label: str = "User", model_label: str = "Model") -> str:
    """The transcript "User: …\\nModel: …\\nUser: …\\nModel:" for the model to continue.

    turns: (role, text) pairs, role 'user' or 'model' (or the labels themselves). If the last turn is
    the user's (or there is none), the prompt ends with "Model:" so the model writes a new reply; if
    it is the model's, that reply is left open for the model to continue.
    """
    user_label, model_label = _check_label(user_label), _check_label(model_label)
    lines = []
    last = USER
    for role, text in turns:
        last = _role(role, user_label, model_label)
        label = user_label if last == USER else model_label
        text = str(text).strip()
        lines.append(f"{label}: {text}" if text else f"{label}:")
    if last == USER:
        lines.append(f"{model_label}:")
    return "\n".join(lines)


def chat_stops(user_label: str = "User", model_label: str = "Model") -> tuple[str, ...]:
    """Stop sequences that end a reply where the model starts the next turn."""
    return (f"\n{_check_label(user_label)}:", f"\n{_check_label(model_label)}:")


def cut_reply(text: str, labels: tuple[str, ...] = ("User", "Model")) -> str:
    """The model's reply: its text up to the next turn marker ("\\nUser:"), without surrounding spaces.

    A marker cut short by the token budget at the very end (e.g. "\\nUse") is removed as well.
    """
    markers = [f"\n{_check_label(label)}:" for label in labels]
    found = [i for i in (text.find(m) for m in markers) if i >= 0]
    reply = text[: min(found)] if found else text
    for marker in markers:
        for k in range(len(marker) - 1, 1, -1):
            if reply.endswith(marker[:k]):
                reply = reply[:-k]
                break
    return reply.strip()


# ----- a reply from any model -----

CHAT, TRANSCRIPT = "chat", "transcript"


@dataclass
class PreparedReply:
    """What to generate for the next reply, ready to stream.

    mode: "chat" (the chat template; stops at the end-of-turn token) or "transcript" (a base model
    continuing the dialogue; stops where it starts the next turn). dropped: how many of the oldest
    messages were left out so the conversation fits the model's context (the system prompt never is)."""

    mode: str
    ids: list[int]
    settings: SampleSettings
    stop_ids: frozenset[int]
    dropped: int

    def stream(self, sampler: Sampler, cancel=None) -> Iterator[TokenPiece]:
        return sampler.stream_ids(self.ids, self.settings, cancel, stop_ids=self.stop_ids)

    def reply_text(self, text: str) -> str:
        """The reply as the user should see it, from the streamed text."""
        return cut_reply(text) if self.mode == TRANSCRIPT else text.strip()


def reply_room(sampler: Sampler, settings: SampleSettings) -> int:
    """Tokens a chat model's context keeps free for the reply: what it may generate, at most a quarter
    of the context (a longer reply slides the window rather than leaving no room for the conversation)."""
    return max(1, min(settings.max_new_tokens, sampler.block_size // 4))


def prepare_reply(sampler: Sampler, messages: Sequence[ChatMessage], settings: SampleSettings) -> PreparedReply:
    """The prompt for the model's reply to `messages` (the last one normally the user's).

    A chat model's conversation is trimmed to its context by whole exchanges, oldest first (ChatError
    when even the system prompt and the last message do not fit); a base model's transcript is what it
    always was: the text, of which the model sees the last block_size tokens."""
    template = sampler.chat_template
    if template is not None:
        budget = sampler.block_size - reply_room(sampler, settings)
        fitted = template.fit(messages, budget, drop_unknown=settings.drop_unknown)
        return PreparedReply(CHAT, fitted.ids, settings, template.stop_ids, fitted.dropped)
    settings = replace(settings, stop=tuple(dict.fromkeys(settings.stop + chat_stops())))
    system = "\n".join(m.content.strip() for m in messages if m.role == SYSTEM and m.content.strip())
    turns = [(USER if m.role == CHAT_USER else MODEL, m.content) for m in messages if m.role != SYSTEM]
    text = f"{system}\n{chat_prompt(turns)}" if system else chat_prompt(turns)
    return PreparedReply(TRANSCRIPT, sampler.encode_prompt(text, settings.drop_unknown), settings, frozenset(), 0)


def chat_messages(turns: Sequence[tuple[str, str]], system: str = "") -> list[ChatMessage]:
    """(role, text) turns, roles 'user' and 'model' (or 'assistant'), as chat messages after an
    optional system prompt."""
    out = [ChatMessage(SYSTEM, system)] if system.strip() else []
    for role, text in turns:
        out.append(ChatMessage(ASSISTANT if _role(role, "User", "Model") == MODEL else CHAT_USER, str(text)))
    return out
