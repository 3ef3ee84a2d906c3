"""The chat template: how a conversation becomes tokens, the same for every tokenizer.

A chat model is a base model fine-tuned on conversations written like this (each name is ONE special
token of core/special_tokens.py, never text; the content is ordinary tokens):

    <|endoftext|><|system|>You are terse.<|end|><|user|>Hi!<|end|><|assistant|>Hello.<|end|>

The conversation starts with end-of-text (the token that separates documents, so a model fine-tuned
from a base model knows something new begins); each turn is its role's start token, the content, and
the end-of-turn token. Training learns only the assistant's part: its content and its end-of-turn
(the mask), so the model learns to answer and to stop, not to imitate the user. To get a reply, the
prompt is the conversation so far plus `<|assistant|>`, and generation stops at the first special
token (normally `<|end|>`): a special token is never shown as text.

Everything that formats conversations for a model uses this module: dataset preparation (render with
the mask), the Playground and `gptstudio chat` (prompt, stop ids, trimming to the context window), the
local server, and the Hugging Face export (`hf_chat_template`, the same template in Jinja).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gptstudio.core.errors import ChatError, TokenizerError
from gptstudio.core.special_tokens import CHAT_ROLES, END_OF_TEXT, END_OF_TURN, SPECIAL_TOKENS, START_OF_TURN

CHAT_TEMPLATE = "gptstudio-chat-1"  # the name a chat model's tokenizer meta records
TEMPLATES = (CHAT_TEMPLATE,)
SYSTEM, USER, ASSISTANT = CHAT_ROLES


@dataclass(frozen=True)
class ChatMessage:
    role: str  # "system", "user" or "assistant"
    content: str

    def __post_init__(self):
        if self.role not in CHAT_ROLES:
            raise ChatError(f"Unknown chat role {self.role!r}: use system, user or assistant.")


@dataclass
class RenderedChat:
    """A conversation as tokens; mask[i] is 1 where token i is trained on (assistant content and the
    end-of-turn that closes it), 0 elsewhere."""

    ids: list[int]
    mask: list[int]

    @property
    def first_trained(self) -> int:
        """The index of the first trained token (len(ids) if none)."""
        return next((i for i, m in enumerate(self.mask) if m), len(self.ids))


@dataclass
class FittedPrompt:
    """A prompt that fits the context: its ids (ending with the assistant's start token), the messages
    kept, and how many of the oldest messages were left out (the system prompt never is)."""

    ids: list[int]
    messages: list[ChatMessage]
    dropped: int


def is_chat_tokenizer(tokenizer) -> bool:
    """Whether the tokenizer belongs to a chat model (its meta records a chat template)."""
    return bool(getattr(tokenizer, "chat_template", None))


def is_chat_meta(meta: dict | None) -> bool:
    """Whether a tokenizer meta (a dataset's meta.json, a checkpoint's 'tokenizer') is a chat model's."""
    return isinstance(meta, dict) and bool(meta.get("chat_template"))


class ChatTemplate:
    """The template bound to a chat model's tokenizer."""

    def __init__(self, tokenizer):
        name = getattr(tokenizer, "chat_template", None)
        if not name:
            raise TokenizerError("This model is not a chat model (its tokenizer has no chat template).")
        if name not in TEMPLATES:
            raise TokenizerError(f"Unknown chat template {name!r}: the model was made by a newer GPT Studio.")
        missing = [t for t in SPECIAL_TOKENS if tokenizer.special_id(t) is None]
        if missing:
            raise TokenizerError(f"The chat model's tokenizer lacks the special tokens {', '.join(missing)}.")
        self.tokenizer = tokenizer
        self.name = name
        self.begin = tokenizer.special_id(END_OF_TEXT)
        self.start = {role: tokenizer.special_id(START_OF_TURN[role]) for role in CHAT_ROLES}
        self.end = tokenizer.special_id(END_OF_TURN)
        # a reply ends at any special token: normally end-of-turn, but a model that starts another turn
        # or a new document has finished its reply too, and a special token is never shown as text
        self.stop_ids = frozenset(tokenizer.special_id(t) for t in SPECIAL_TOKENS)

    # ----- encoding -----

    def encode_turn(self, message: ChatMessage, drop_unknown: bool = False) -> list[int]:
        """One turn: its role's start token, the content, the end-of-turn token."""
        content = self.tokenizer.encode(message.content, drop_unknown=drop_unknown) if message.content else []
        return [self.start[message.role], *content, self.end]

    def render(self, messages: Sequence[ChatMessage], drop_unknown: bool = False) -> RenderedChat:
        """A whole conversation for training, with its loss mask."""
        ids, mask = [self.begin], [0]
        for message in messages:
            turn = self.encode_turn(message, drop_unknown)
            ids += turn
            trained = 1 if message.role == ASSISTANT else 0
            mask += [0] + [trained] * (len(turn) - 1)  # never the start token: the prompt gives it
        return RenderedChat(ids, mask)

    def prompt(self, messages: Sequence[ChatMessage], drop_unknown: bool = False) -> list[int]:
        """The conversation so far plus the assistant's start token: what the model continues."""
        return self.render(messages, drop_unknown).ids + [self.start[ASSISTANT]]

    def fit(self, messages: Sequence[ChatMessage], max_tokens: int, drop_unknown: bool = False) -> FittedPrompt:
        """The prompt for the next reply, within max_tokens: the oldest turns go first (whole exchanges,
        so the kept part starts with a user turn); a leading system prompt always stays.

        Raises ChatError when even the system prompt and the last message do not fit."""
        system = [m for m in messages[:1] if m.role == SYSTEM]
        rest = list(messages[len(system) :])
        turns = [self.encode_turn(m, drop_unknown) for m in rest]
        fixed = 1 + sum(len(self.encode_turn(m, drop_unknown)) for m in system) + 1  # begin, system, assistant
        total = fixed + sum(len(t) for t in turns)
        first = 0
        while total > max_tokens and first < len(rest) - 1:
            total -= len(turns[first])
            first += 1
            while first < len(rest) - 1 and rest[first].role != USER:  # keep exchanges whole
                total -= len(turns[first])
                first += 1
        if total > max_tokens:
            what, it = ("The system prompt and your message are", "them") if system else ("Your message is", "it")
            raise ChatError(
                f"{what} {total - 2:,} tokens long, but this model reads at most {max_tokens - 2:,} "
                f"tokens before its reply: shorten {it}."
            )
        kept = system + rest[first:]
        ids = [self.begin] + [i for m in system for i in self.encode_turn(m, drop_unknown)]
        ids += [i for t in turns[first:] for i in t] + [self.start[ASSISTANT]]
        return FittedPrompt(ids, kept, first)

    # ----- showing rendered conversations -----

    def segments(self, ids: Sequence[int], mask: Sequence[int]) -> list[tuple[str, bool, bool]]:
        """Rendered tokens as (text, trained, special) runs, for a preview that highlights what is
        trained on and shows special tokens by name."""
        out: list[tuple[str, bool, bool]] = []
        run: list[int] = []
        run_trained = False

        def flush():
            if run:
                out.append((self.tokenizer.decode(run), run_trained, False))
                run.clear()

        for token, m in zip(ids, mask):
            trained = bool(m)
            if self.tokenizer.is_special(token):
                flush()
                out.append((self.tokenizer.decode([token]), trained, True))
                continue
            if trained != run_trained:
                flush()
                run_trained = trained
            run.append(int(token))
        flush()
        return out


def hf_chat_template() -> str:
    """The template in Jinja, for a Hugging Face tokenizer_config.json: `apply_chat_template` then gives
    the same tokens as ChatTemplate.prompt (with add_generation_prompt) or .render (without)."""
    start = {role: START_OF_TURN[role] for role in CHAT_ROLES}
    return (
        f"{{{{ '{END_OF_TEXT}' }}}}"
        "{% for message in messages %}"
        "{{ '<|' + message['role'] + '|>' + message['content'] + '" + END_OF_TURN + "' }}"
        "{% endfor %}"
        f"{{% if add_generation_prompt %}}{{{{ '{start[ASSISTANT]}' }}}}{{% endif %}}"
    )
