"""Chatting with a base model, honestly: the model continues a dialogue transcript.

The models trained here are base models. Nobody tuned them to follow instructions or to answer
questions, so a "chat" is a transcript that the model keeps writing:

    User: Good morrow, who art thou?
    Model: A poor player, sir.
    User: What news?
    Model:

The reply is what the model writes after the last "Model:", cut where it starts the next turn
("\\nUser:"). How well this works depends on the training text: a model trained on plays
will answer in character and often ignore the question, because it is only continuing the text.

Use `chat_prompt` for the prompt, `chat_stops` as the stop sequences (so generation ends at the next
turn), and `cut_reply` to clean a reply that ran out of tokens.
"""

from __future__ import annotations

from gptstudio.core.sample_settings import SamplerError

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
