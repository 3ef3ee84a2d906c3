"""`gptstudio chat RUN`: talk to a model in the terminal, or script a conversation.

    gptstudio chat RUN                                  interactive: type a message, Enter; the reply
                                                        streams; /reset, /system TEXT, /help; Ctrl+D quits
    gptstudio chat RUN --message "Hi" --message "And?"  each reply printed in order, history kept
    gptstudio chat RUN --message "Hi" --json            one JSON object per reply

RUN is a run name, run folder or checkpoint file; `--init_from=gpt2` talks to a pretrained GPT-2
(commands/model_choice.py). A chat model (fine-tuned with `--init_from=RUN` on a chat dataset)
answers through its chat template and stops by itself at the end of its reply; a base model continues
a "User:/Model:" transcript (said on stderr). Messages that do not fit the context push the oldest
exchanges out (never the system prompt); stderr says so. Sampling flags are `sample`'s:
--temperature 0 is greedy, --seed S makes the replies repeatable (reply i uses seed S + i).
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from typing import TYPE_CHECKING

from gptstudio.commands.model_choice import add_model_arguments, open_model
from gptstudio.commands.sample import add_sampling_arguments, settings_from_args
from gptstudio.core.chat_template import ASSISTANT, SYSTEM, USER, ChatMessage
from gptstudio.core.sample_settings import SampleSettings

if TYPE_CHECKING:
    from gptstudio.core.sampler import Sampler

HELP = "Commands: /reset (forget the conversation), /system TEXT (set the system prompt; /system alone clears it), "
HELP += "/help. Ctrl+D quits; Ctrl+C stops a reply."


def register(sub) -> None:
    p = sub.add_parser(
        "chat",
        help="chat with a model in the terminal (or script a conversation)",
        description="Talk to a run's model. Without --message: an interactive chat (messages from "
        "stdin, one per line). With --message (repeatable): print each reply in order, keeping the "
        "history. Chat models (fine-tuned on conversations) use their chat template; base models "
        "continue a User:/Model: transcript.",
    )
    add_model_arguments(p)
    p.add_argument("--message", "-m", action="append", default=[], metavar="TEXT", help="a user message (repeatable)")
    p.add_argument("--system", default="", metavar="TEXT", help="system prompt (kept however long the chat)")
    p.add_argument("--json", action="store_true", help="print one JSON object per reply")
    add_sampling_arguments(p, SampleSettings(max_new_tokens=256))
    p.set_defaults(func=run)


class Chat:
    """The conversation and how replies are made: shared by the scripted and the interactive form."""

    def __init__(self, sampler: Sampler, name: str, args):
        self.sampler, self.name, self.args = sampler, name, args
        self.system = args.system
        self.history: list[ChatMessage] = []
        self.base_seed = args.seed if args.seed is not None else secrets.randbits(62)
        self.count = 0

    def messages(self, text: str) -> list[ChatMessage]:
        head = [ChatMessage(SYSTEM, self.system)] if self.system.strip() else []
        return head + self.history + [ChatMessage(USER, text)]

    def reply(self, text: str, out) -> dict:
        """Generate the reply to `text`, streaming its visible text to `out` (None: silent)."""
        from gptstudio.core.chat import prepare_reply  # torch: loaded once the command runs, not at start-up

        settings = settings_from_args(self.args, seed=self.base_seed + self.count)
        prepared = prepare_reply(self.sampler, self.messages(text), settings)
        if prepared.dropped:
            print(
                f"[{prepared.dropped} earlier message(s) left out to fit the model's context]",
                file=sys.stderr,
                flush=True,
            )
        pieces, last, interrupted = [], None, False
        try:
            for piece in prepared.stream(self.sampler):
                pieces.append(piece.text)
                last = piece
                if out is not None and piece.text:
                    out.write(piece.text)
                    out.flush()
        except KeyboardInterrupt:
            interrupted = True
        reply = prepared.reply_text("".join(pieces))
        self.history += [ChatMessage(USER, text), ChatMessage(ASSISTANT, reply)]
        self.count += 1
        if last is not None and last.token_id in prepared.stop_ids:
            ended = "end_of_turn"
        elif interrupted:
            ended = "interrupted"
        elif last is not None and last.index + 1 >= settings.max_new_tokens:
            ended = "max_new_tokens"
        else:
            ended = "stop_sequence"
        return {
            "message": text,
            "reply": reply,
            "mode": prepared.mode,
            "tokens": len(pieces),
            "ended": ended,
            "dropped_messages": prepared.dropped,
            "seed": settings.seed,
        }


def run(args) -> int:
    sampler, name = open_model(args)
    if not sampler.is_chat:
        print(
            f"{name} is a base model: it continues a User:/Model: transcript rather than answering. "
            f"Fine-tune it on conversations to make it chat (gptstudio train --init_from={name} ...).",
            file=sys.stderr,
            flush=True,
        )
    chat = Chat(sampler, name, args)
    try:
        if args.message:
            for text in args.message:
                _answer(chat, text, args.json)
            return 0
        return _interactive(chat, args.json)
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _answer(chat: Chat, text: str, as_json: bool) -> None:
    result = chat.reply(text, None if as_json else sys.stdout)
    if as_json:
        print(json.dumps(result, ensure_ascii=False), flush=True)
    else:
        print(flush=True)


def _interactive(chat: Chat, as_json: bool) -> int:
    tty = sys.stdin.isatty()
    if tty:
        kind = "chat model" if chat.sampler.is_chat else "base model"
        print(f"Chatting with {chat.name} ({kind}). {HELP}", file=sys.stderr)
    while True:
        if tty:
            print("> ", end="", file=sys.stderr, flush=True)
        line = sys.stdin.readline()
        if not line:  # Ctrl+D / end of input
            if tty:
                print(file=sys.stderr)
            return 0
        text = line.rstrip("\n")
        if not text.strip():
            continue
        if text.strip() == "/reset":
            chat.history = []
            print("[conversation forgotten]", file=sys.stderr)
        elif text.strip() == "/help":
            print(HELP, file=sys.stderr)
        elif text.strip() == "/system" or text.startswith("/system "):
            chat.system = text[len("/system") :].strip()
            print(f"[system prompt {'set' if chat.system else 'cleared'}]", file=sys.stderr)
        else:
            _answer(chat, text, as_json)
