"""A look inside a prepared dataset: its meta and its first tokens decoded, for the Dataset tab's details.

A plain job: building the GPT-2 tokenizer takes a moment, so the GUI runs it in the background.
A dataset that cannot be read gives a sample with `error` set rather than raising.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from threading import Event

from gptstudio.core.chat_dataset import conversation_preview, is_chat_dataset
from gptstudio.core.dataset import dataset_tokens, load_dataset_meta
from gptstudio.core.errors import Cancelled, GPTStudioError
from gptstudio.core.tokenizer import tokenizer_from_meta

SAMPLE_TOKENS = 200


@dataclass
class DatasetSample:
    name: str
    meta: dict = field(default_factory=dict)
    split: str = "val"  # "val", or "train" when the dataset has no validation tokens
    tokens: list[tuple[int, str]] = field(default_factory=list)  # (id, text) of the first tokens
    error: str = ""  # why the dataset could not be read (then the rest is empty)
    # a chat dataset: its first training conversation through the template, as (text, trained, special) runs
    conversation: list[tuple[str, bool, bool]] = field(default_factory=list)


def dataset_sample(
    path,
    name: str,
    count: int = SAMPLE_TOKENS,
    *,
    report: Callable[[object], None] | None = None,
    cancel: Event | None = None,
) -> DatasetSample:
    """The meta of the dataset folder `path` and its first `count` tokens (validation split first)."""
    try:
        meta = load_dataset_meta(Path(path))
        split = "val" if meta.get("val_tokens") else "train"
        ids = dataset_tokens(Path(path), split=split, start=0, count=count)
        tok = tokenizer_from_meta(meta)
        conversation = conversation_preview(Path(path), "train", 0) if is_chat_dataset(meta) else []
    except GPTStudioError as e:
        return DatasetSample(name, error=str(e))
    if cancel is not None and cancel.is_set():  # the person already looks at another dataset
        raise Cancelled()
    tokens = [(int(i), tok.token_text(int(i))) for i in ids]
    return DatasetSample(name, meta, split, tokens, conversation=conversation)
