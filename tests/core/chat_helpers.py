"""Small conversation sets for the chat tests: files in each format, and a synthetic task whose replies
are a deterministic function of the message (so a fine-tuned model can be checked on held-out messages)."""

from __future__ import annotations

import itertools
import json
import random
from pathlib import Path

LETTERS = "abcdefgh"


def shifted(word: str, by: int = 3) -> str:
    """The task: every letter moved `by` places along LETTERS (wrapping round)."""
    return "".join(LETTERS[(LETTERS.index(c) + by) % len(LETTERS)] for c in word)


def shift_task(seed: int = 0, held_out: int = 60) -> tuple[list[str], list[str]]:
    """All three-letter words over LETTERS, shuffled: (training words, held-out words)."""
    words = ["".join(p) for p in itertools.product(LETTERS, repeat=3)]
    random.Random(seed).shuffle(words)
    return words[held_out:], words[:held_out]


def messages_record(user: str, reply: str, system: str = "") -> dict:
    messages = [{"role": "system", "content": system}] if system else []
    return {"messages": [*messages, {"role": "user", "content": user}, {"role": "assistant", "content": reply}]}


def write_jsonl(path: Path, records) -> Path:
    path = Path(path)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def shift_jsonl(path: Path, words) -> Path:
    return write_jsonl(path, (messages_record(w, shifted(w)) for w in words))


def small_chat_jsonl(path: Path, n: int = 40) -> Path:
    """n short two-turn conversations (every third with a system prompt)."""
    return write_jsonl(
        path,
        (messages_record(f"hello {i}", f"hi {i}!", "be nice" if i % 3 == 0 else "") for i in range(n)),
    )


def scripted_chat_run(home, name: str, chars: str, reply: str, block_size: int = 64):
    """A chat model that answers anything with `reply` (distinct characters) and its end-of-turn token,
    whatever came before: a bigram model made by hand. Its MLP maps each token to the one that follows it
    (<|assistant|> -> reply[0] -> ... -> reply[-1] -> <|end|>), attention and positions add nothing. So
    the GUI's chat can be tested without training. Returns the tokenizer."""
    import torch

    from gptstudio.core.chat_template import CHAT_TEMPLATE
    from gptstudio.core.model import GPT, GPTConfig
    from gptstudio.core.special_tokens import END_OF_TURN, START_OF_TURN
    from gptstudio.core.tokenizer import CharTokenizer
    from tests.core.sampling_helpers import save_run

    assert len(set(reply)) == len(reply)
    tok = CharTokenizer(sorted(set(chars) | set(reply))).with_chat_template(CHAT_TEMPLATE)
    width = (tok.vocab_size + 7) // 8 * 8
    args = dict(block_size=block_size, n_layer=1, n_head=1, n_embd=width, dropout=0.0, bias=True)
    args["vocab_size"] = tok.vocab_size
    model = GPT(GPTConfig(**args))
    end = tok.special_id(END_OF_TURN)
    chain = [tok.special_id(START_OF_TURN["assistant"]), *tok.encode(reply), end]
    follows = {t: end for t in range(tok.vocab_size)} | dict(itertools.pairwise(chain))
    mlp = model.transformer.h[0].mlp
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        for ln in (model.transformer.h[0].ln_1, model.transformer.h[0].ln_2, model.transformer.ln_f):
            ln.weight.fill_(1.0)
        model.transformer.wte.weight[:, : tok.vocab_size] = 10 * torch.eye(
            tok.vocab_size
        )  # token t: 10 e_t, sharp logits
        mlp.c_fc.bias.fill_(-5.0)
        for t, nxt in follows.items():
            mlp.c_fc.weight[t, t] = 10.0  # hidden unit t fires for token t only
            mlp.c_proj.weight[nxt, t] = 1.0  # and writes the token that follows it
    save_run(home, name, model, tok, args, best=False)
    return tok
