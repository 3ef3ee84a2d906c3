"""A tiny trained char-level checkpoint for the Playground tests (built once per session)."""

from __future__ import annotations

import shutil

import torch

from gptstudio.core.checkpoint import save_checkpoint
from gptstudio.core.model import GPT, GPTConfig
from gptstudio.core.tokenizer import CharTokenizer

MODEL_ARGS = dict(n_layer=2, n_head=2, n_embd=32, block_size=32, bias=False, dropout=0.0)


def train_tiny_char_model(text: str, steps: int, seed: int = 0):
    """~30k parameters trained for `steps` steps with a plain loop: letters and spaces, not yet words."""
    torch.manual_seed(seed)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: threads only add overhead on a shared machine
    try:
        return _train(text, steps)
    finally:
        torch.set_num_threads(threads)


def _train(text: str, steps: int):
    tok = CharTokenizer(sorted(set(text)))
    data = torch.tensor(tok.encode(text), dtype=torch.long)
    args = {**MODEL_ARGS, "vocab_size": tok.vocab_size}
    model = GPT(GPTConfig(**args))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    block = args["block_size"]
    for _ in range(steps):
        ix = torch.randint(len(data) - block - 1, (8,))
        x = torch.stack([data[i : i + block] for i in ix])
        y = torch.stack([data[i + 1 : i + block + 1] for i in ix])
        _, loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return model, tok, args, loss.item()


def checkpoint_payload(model, tok, args, iter_num, loss, dataset="tiny_shakespeare") -> dict:
    return {
        "model": model.state_dict(),
        "optimizer": {},
        "model_args": args,
        "iter_num": iter_num,
        "best_val_loss": loss,
        "config": {"dataset": dataset},
        "tokenizer": tok.to_meta(),
        "dataset": dataset,
    }


def make_checkpoints(folder, text: str):
    """latest (100 steps) and best (30 steps, different weights) checkpoints of one run, in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    model, tok, args, loss = train_tiny_char_model(text, 30)
    save_checkpoint(checkpoint_payload(model, tok, args, 30, loss), folder / "best.pt")
    model, tok, args, loss = train_tiny_char_model(text, 100)
    save_checkpoint(checkpoint_payload(model, tok, args, 100, loss + 0.01), folder / "ckpt.pt")
    return folder


def install_run(home, source_folder, name="tiny"):
    run = home / "runs" / name
    shutil.copytree(source_folder, run)
    return run
