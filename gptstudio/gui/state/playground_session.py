"""The conversation being edited in the Playground, and what a message becomes for the model (Qt-free).

Chat mode: the conversation so far, after the system prompt, goes to each model as core.chat prepares
it: a chat model gets its chat template and stops at the end of its reply (the oldest exchanges left out
when the conversation outgrows its context, never the system prompt); a base model continues a
"User: … / Model:" transcript, its reply cut where it starts the next turn. Complete mode: the text is
continued as it is. The sampling form's values become the engine's
`SampleSettings`, whose defaults are the form's defaults (`sampling_defaults`), so they are said once.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from gptstudio.core.chat import chat_messages, chat_prompt
from gptstudio.core.chat_template import ChatMessage
from gptstudio.core.conversation import (
    Conversation,
    format_stop_sequences,
    load_conversation,
    parse_stop_sequences,
    save_conversation,
)
from gptstudio.core.sample_settings import SampleSettings

RANDOM_SEED = -1  # the form's "random": a new seed for every reply
MODES = ("chat", "complete")
# long replies must stay fast in an interactive window: past the context, slide by half a window
PLAYGROUND_SLIDE = "fast"


def sampling_defaults() -> dict:
    """The sampling form's values for the engine's defaults (nanoGPT's sample.py), seed random."""
    d = SampleSettings()
    return {
        "max_new_tokens": d.max_new_tokens,
        "temperature": d.temperature,
        "top_k": d.top_k or 0,
        "top_p": d.top_p,
        "repetition_penalty": d.repetition_penalty,
        "seed": RANDOM_SEED if d.seed is None else d.seed,
        "num_samples": d.num_samples,
        "stop_text": format_stop_sequences(d.stop),
    }


def draw_seed(form_seed: int) -> int:
    """The seed a reply uses: the form's, or a fresh one (shown under the reply, so it can be repeated)."""
    return random.randrange(2**31) if form_seed == RANDOM_SEED else form_seed


@dataclass(frozen=True)
class PromptCheck:
    """Characters of a new message that a (char-level) model never saw, and whether to send without them."""

    unknown: tuple[str, ...] = ()
    drop: bool = False

    @property
    def can_send(self) -> bool:
        return not self.unknown or self.drop

    @property
    def offer_drop(self) -> bool:
        """Show the "drop unknown characters" choice: there is something to drop, or it is on."""
        return bool(self.unknown) or self.drop

    def warning(self) -> str:
        if not self.unknown:
            return ""
        if self.drop:
            return f"These characters will be left out (the model never saw them): {_chars_list(self.unknown)}."
        return (
            f"The model never saw these characters: {_chars_list(self.unknown)}. "
            "Edit them out, or tick “Drop unknown characters” to send without them."
        )


def _chars_list(chars, limit: int = 12) -> str:
    shown = ", ".join(repr(c) for c in chars[:limit])
    return shown + (f" and {len(chars) - limit} more" if len(chars) > limit else "")


class PlaygroundSession:
    """The conversation and the mode it is held in; builds prompts and settings, records replies."""

    def __init__(self, mode: str = "chat"):
        self.mode = mode
        self.system_prompt = ""  # chat mode: kept at the start of the conversation however long it grows
        self.conversation = Conversation(mode=mode)

    # ------------------------------------------------------------------------------------ prompts
    def prompt(self, text: str, history: bool = True) -> str | list[ChatMessage]:
        """What goes to the models: the conversation with the new message (chat; core.chat makes each
        model's prompt of it) or the text itself (complete)."""
        if self.mode == "chat":
            turns = (self.conversation.turns() if history else []) + [("user", text)]
            return chat_messages(turns, self.system_prompt)
        return text

    @staticmethod
    def read_text(prompt) -> str:
        """Every character a prompt makes a model read (a conversation's messages and a transcript's labels)."""
        if isinstance(prompt, str):
            return prompt
        return "\n".join(m.content for m in prompt) + chat_prompt([("user", ""), ("model", "")])

    def check(self, text: str, samplers, drop: bool) -> PromptCheck:
        """Which characters of the new message and the system prompt (earlier turns were accepted
        already) the models cannot read; a base model also reads the transcript's labels."""
        unknown: set[str] = set()
        for sampler in samplers:
            if self.mode != "chat":
                seen = text
            elif sampler.is_chat:
                seen = f"{self.system_prompt}{text}"
            else:
                seen = f"{self.system_prompt}\n{chat_prompt([('user', text)])}"
            unknown.update(sampler.unknown_chars(seen))
        return PromptCheck(tuple(sorted(unknown)), drop)

    def sample_settings(self, form: dict, seed: int, drop_unknown: bool = False) -> SampleSettings:
        """The engine's settings for the next reply (raises SamplerError when a value is out of range)."""
        stops = parse_stop_sequences(form.get("stop_text", ""))  # a base model's turn stops come from core.chat
        return SampleSettings(
            max_new_tokens=form["max_new_tokens"],
            temperature=form["temperature"],
            top_k=form["top_k"] or None,
            top_p=form["top_p"],
            repetition_penalty=form["repetition_penalty"],
            seed=seed,
            stop=stops,
            num_samples=form["num_samples"] if self.mode == "complete" else 1,
            drop_unknown=drop_unknown,
            slide=PLAYGROUND_SLIDE,
        )

    # ------------------------------------------------------------------------------- the messages
    def add_user(self, text: str) -> int:
        """Record the user's message; returns the group number its answers will share."""
        self.conversation.add("user", text)
        return self.conversation.next_group()

    def add_reply(self, text: str, *, label: str, group: int, meta: dict) -> None:
        self.conversation.add("model", text, label=label, group=group, meta=meta)

    def has_user_message(self) -> bool:
        return any(m.role == "user" for m in self.conversation.messages)

    def rewind(self) -> str | None:
        """Remove the last user message and its answers, to ask again; returns its text (None if none)."""
        messages = self.conversation.messages
        last_user = max((i for i, m in enumerate(messages) if m.role == "user"), default=None)
        if last_user is None:
            return None
        text = messages[last_user].text
        del messages[last_user:]
        return text

    def clear(self) -> None:
        self.conversation = Conversation(mode=self.mode)

    # ---------------------------------------------------------------------------------- files
    def save(self, path, checkpoint: str, settings: dict) -> Path:
        """Write the conversation (JSON, or Markdown by extension); raises GPTStudioError."""
        conv = self.conversation
        conv.mode, conv.checkpoint, conv.settings = self.mode, checkpoint, dict(settings)
        if self.system_prompt:
            conv.settings["system_prompt"] = self.system_prompt
        return save_conversation(conv, path)

    def open(self, path) -> Conversation:
        """Replace the conversation by a saved one (raises GPTStudioError; nothing changes then)."""
        conv = load_conversation(path)
        self.conversation, self.mode = conv, conv.mode
        system = conv.settings.get("system_prompt")
        self.system_prompt = system if isinstance(system, str) else ""
        return conv


def displayed_rows(messages) -> list[list]:
    """The messages as the chat view shows them: a user message alone, answers of one group side by side."""
    rows: list[list] = []
    for m in messages:
        previous = rows[-1][0] if rows else None
        if m.role == "model" and previous is not None and previous.role == "model" and previous.group == m.group:
            rows[-1].append(m)
        else:
            rows.append([m])
    return rows
