"""Chat datasets: conversations as tokens plus a loss mask, and the batches chat fine-tuning trains on.

A chat dataset is a dataset folder (core/dataset.py) whose meta.json has a "chat" entry and whose
tokenizer records the chat template (core/chat_template.py). Beside train.bin / val.bin it holds, per split:
  SPLIT_mask.bin   uint8, one per token: 1 where the token is trained on (the assistant's content and
                   the end-of-turn closing it), 0 elsewhere
  SPLIT_index.bin  int64 pairs, one per conversation: (offset of its first token, offset of its first
                   trained token), offsets counted in tokens from the start of the split
Conversations are stored one after the other, each starting with end-of-text. The split is by whole
conversations: the last val_fraction of them validate (as nanoGPT's split takes the end of the text).

Preparing reads the sources twice, like char-level text: pass 1 checks every record (and collects the
characters), pass 2 encodes. Bad records refuse the whole input unless skip_bad; nothing is written
for a refused input (everything is built in a hidden folder and renamed into place at the end).

ChatBatches packs conversations into training rows: each row starts at a conversation's first token
and runs on through the following conversations; targets outside the mask are -1 (ignored by the
loss), so no loss crosses from one conversation into the next and user turns never train the model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gptstudio.core.chat_data import (
    BadRecord,
    ChatSource,
    Conversation,
    demo_source,
    file_sources,
    format_bad,
)
from gptstudio.core.chat_template import CHAT_TEMPLATE, ChatTemplate
from gptstudio.core.dataset import (
    FORMAT,
    TOKENIZER_FILE,
    _build_folder,
    _changed_error,
    _check_val_fraction,
    _exists_error,
    _now,
    _Progress,
    _publish,
    _split_sizes,
    _TokenFile,
    load_dataset_meta,
    token_dtype,
)
from gptstudio.core.errors import ChatDataError, DatasetError, UnknownCharacters
from gptstudio.core.special_tokens import END_OF_TEXT
from gptstudio.core.textfiles import check_text_head, collect_input_files
from gptstudio.core.tokenizer import CharTokenizer, GPT2Tokenizer, tokenizer_from_meta
from gptstudio.core.workspace import Workspace

SPLITS = ("train", "val")
SHOWN_CHARS = 20  # unknown characters named in a message


def mask_file(folder: Path, split: str) -> Path:
    return Path(folder) / f"{split}_mask.bin"


def index_file(folder: Path, split: str) -> Path:
    return Path(folder) / f"{split}_index.bin"


def is_chat_dataset(meta: dict | None) -> bool:
    return isinstance(meta, dict) and isinstance(meta.get("chat"), dict)


def chat_files_problem(meta: dict, folder: Path) -> str | None:
    """What is wrong with a chat dataset's mask and index files (None: nothing)."""
    if not meta.get("chat_template"):
        return "meta.json has chat data but its tokenizer has no chat template"
    for split in SPLITS:
        mask, index = mask_file(folder, split), index_file(folder, split)
        if not mask.is_file() or not index.is_file():
            return f"{mask.name} or {index.name} is missing"
        if mask.stat().st_size != meta[f"{split}_tokens"]:
            return f"{mask.name} has {mask.stat().st_size:,} bytes, meta.json expects {meta[f'{split}_tokens']:,}"
        count = (meta["chat"].get("conversations") or {}).get(split)
        if not isinstance(count, int) or index.stat().st_size != 16 * count:
            return f"{index.name} does not hold {count} conversations"
    return None


# ----- the tokenizer of a chat dataset -----


def tokenizer_of_run(run, home=None) -> tuple[Any, str]:
    """The tokenizer of a run (name in the workspace at `home`, run folder or checkpoint file), and how
    the run was named."""
    from gptstudio.core.catalog import describe_checkpoint
    from gptstudio.core.errors import CheckpointError
    from gptstudio.core.runs import resolve_checkpoint

    path = resolve_checkpoint(run, home=home)
    meta = describe_checkpoint(path).tokenizer_meta
    if not meta:
        raise CheckpointError(
            f"{path} does not say which tokenizer it was trained with (a plain nanoGPT checkpoint): "
            "import it first (gptstudio import-nanogpt-run)."
        )
    return tokenizer_from_meta(meta), str(run)


def _unknown_error(chars: list[str], count: int, source: str) -> UnknownCharacters:
    shown = ", ".join(repr(c) for c in chars[:SHOWN_CHARS]) + (" …" if len(chars) > SHOWN_CHARS else "")
    return UnknownCharacters(
        f"The conversations have {len(chars)} character(s) that {source} never saw ({count:,} in all): "
        f"{shown}. Drop them (--drop-unknown), or cancel and clean the data.",
        chars,
        count,
    )


# ----- pass 1: check every record -----


@dataclass
class ChatSurvey:
    """What checking conversation inputs finds before anything is written (pass 1 of preparing): the
    usable conversations and turns, every bad record, the formats, and the characters a char model
    (--tokenizer-from) lacks."""

    conversations: int = 0
    turns: int = 0
    chars_total: int = 0
    bad: list[BadRecord] = field(default_factory=list)
    formats: list[str] = field(default_factory=list)
    unknown_chars: list[str] = field(default_factory=list)
    unknown_count: int = 0  # how many characters of the conversations those are
    chars: set[str] = field(default_factory=set, repr=False)

    @property
    def unreadable(self) -> list[BadRecord]:
        """Bad records that cannot be skipped (nothing of their file can be read)."""
        return [b for b in self.bad if not b.skippable]

    def add(self, item: Conversation | BadRecord, known: set[str] | None) -> None:
        if isinstance(item, BadRecord):
            self.bad.append(item)
            return
        self.conversations += 1
        self.turns += item.turns
        for m in item.messages:
            self.chars_total += len(m.content)
            new = set(m.content)
            self.chars |= new
            if known is not None and not new <= known:
                self.unknown_count += sum(1 for c in m.content if c not in known)


def _survey(sources: list[ChatSource], base, progress: _Progress) -> ChatSurvey:
    survey = ChatSurvey(formats=sorted({s.fmt for s in sources}))
    known = set(base.chars) if isinstance(base, CharTokenizer) else None
    for source in sources:
        for n, item in enumerate(source.conversations(lambda b: progress.advance(b, "checking"))):
            survey.add(item, known)
            if n % 256 == 0:
                progress.check()
    if known is not None:
        survey.unknown_chars = sorted(survey.chars - known)
    return survey


def _sources(inputs, forced: bool, demo: bool, progress: _Progress) -> list[ChatSource]:
    files = collect_input_files(inputs) if inputs else []
    for path in files:
        check_text_head(path)
        progress.check()
    sources = file_sources(files, forced) + ([demo_source()] if demo else [])
    if not sources:
        raise DatasetError("No conversations given: name chat files or folders, or use the demo chat data.")
    return sources


def survey_chat_inputs(
    inputs,
    tokenizer: str = "char",
    *,
    forced: bool = False,
    tokenizer_from=None,
    demo: bool = False,
    home=None,
    report=None,
    cancel=None,
) -> ChatSurvey:
    """Check conversation inputs as preparing them would (same arguments), without writing anything:
    a front end shows the bad records and unknown characters and lets the person choose."""
    progress = _Progress(report, cancel)
    progress.emit("scanning")
    base, _ = _base_tokenizer(tokenizer, tokenizer_from, home)
    sources = _sources(inputs, forced, demo, progress)
    progress.total = sum(s.size for s in sources)
    return _survey(sources, base, progress)


def _refuse_bad(survey: ChatSurvey, skip_bad: bool) -> None:
    if survey.unreadable:
        raise ChatDataError(f"The conversations cannot be read: {format_bad(survey.unreadable, 'file')}.", survey.bad)
    if survey.bad and not skip_bad:
        raise ChatDataError(
            f"The conversations have {format_bad(survey.bad)}. Fix them, or skip them (--skip-bad).", survey.bad
        )


# ----- pass 2: encode -----


class _SplitWriter:
    """Tokens, mask and index of one split; conversations are gathered and written in blocks."""

    BLOCK_TOKENS = 1 << 16

    def __init__(self, folder: Path, split: str, dtype, byte_lengths: np.ndarray):
        self.tokens = _TokenFile(folder / f"{split}.bin", dtype)
        self.mask = _TokenFile(mask_file(folder, split), np.uint8)
        self.index: list[tuple[int, int]] = []
        self.byte_lengths = byte_lengths  # UTF-8 bytes of text per token id (0 for special tokens)
        self.reply_tokens = self.bytes = self.reply_bytes = 0  # for bits per byte
        self.index_path = index_file(folder, split)
        self._ids: list[int] = []
        self._mask: list[int] = []
        self.count = 0  # tokens so far, written or gathered

    def add(self, ids: list[int], mask: list[int]) -> None:
        first = next((i for i, m in enumerate(mask) if m), len(mask))
        self.index.append((self.count, self.count + first))
        self._ids += ids
        self._mask += mask
        self.count += len(ids)
        if len(self._ids) >= self.BLOCK_TOKENS:
            self._flush()

    def _flush(self) -> None:
        if not self._ids:
            return
        ids, mask = np.asarray(self._ids, dtype=np.int64), np.asarray(self._mask, dtype=np.uint8)
        self._ids, self._mask = [], []
        self.tokens.write(ids)
        self.mask.write(mask)
        nbytes = self.byte_lengths[ids]
        self.reply_tokens += int(mask.sum())
        self.bytes += int(nbytes.sum())
        self.reply_bytes += int(nbytes[mask == 1].sum())

    def close(self) -> None:
        try:
            self._flush()
        finally:
            self.tokens.close()
            self.mask.close()
        np.asarray(self.index, dtype=np.int64).reshape(-1, 2).tofile(self.index_path)


def _encode(sources, template: ChatTemplate, tmp: Path, n_train: int, progress: _Progress, drop_unknown: bool):
    dtype = token_dtype(template.tokenizer.vocab_size)
    lengths = template.tokenizer.token_byte_lengths()
    writers = {split: _SplitWriter(tmp, split, dtype, lengths) for split in SPLITS}
    n = 0
    try:
        for source in sources:
            for item in source.conversations(lambda b: progress.advance(b, "encoding")):
                if isinstance(item, BadRecord):
                    continue
                rendered = template.render(item.messages, drop_unknown=drop_unknown)
                writers["train" if n < n_train else "val"].add(rendered.ids, rendered.mask)
                n += 1
                if n % 256 == 0:
                    progress.check()
    finally:
        for w in writers.values():
            w.close()
    return writers, n


# ----- prepare -----


def prepare_chat_dataset(
    inputs,
    name: str,
    tokenizer: str = "char",
    val_fraction: float = 0.1,
    *,
    home=None,
    force: bool = False,
    report=None,
    cancel=None,
    forced: bool = False,
    skip_bad: bool = False,
    tokenizer_from=None,
    drop_unknown: bool = False,
    demo: bool = False,
) -> dict:
    """Turn conversation files (and/or the demo conversations) into a chat dataset `datasets/NAME/`.

    inputs: files/folders in the formats of core/chat_data.py (forced: read any non-JSON file as a
    transcript). tokenizer: "char" (the conversations' characters) or "gpt2"; tokenizer_from: a run
    (name, folder or checkpoint) whose tokenizer to use instead, so the data fits that model.
    Bad records raise ChatDataError (with every one in .bad) unless skip_bad; characters a char model
    lacks raise UnknownCharacters unless drop_unknown. Returns the meta plus "name" and "path".
    """
    ws = Workspace.open(home)
    final = ws.dataset_dir(name)
    vf = _check_val_fraction(val_fraction)
    progress = _Progress(report, cancel)
    progress.emit("scanning")
    base, base_from = _base_tokenizer(tokenizer, tokenizer_from, ws.home)
    sources = _sources(inputs, forced, demo, progress)
    if final.exists() and not force:
        raise _exists_error(name)
    total_bytes = sum(s.size for s in sources)
    progress.total = 2 * total_bytes

    survey = _survey(sources, base, progress)
    _refuse_bad(survey, skip_bad)
    if survey.conversations < 2:
        raise DatasetError(
            f"Too few conversations: {survey.conversations} usable, and a training and a validation split "
            "need at least 2. Add conversations."
        )
    n_val = max(1, min(survey.conversations - 1, _split_sizes(survey.conversations, vf)[1]))
    n_train = survey.conversations - n_val
    if base is None:  # a char vocabulary of these conversations
        base = CharTokenizer(sorted(survey.chars))
    if survey.unknown_chars and not drop_unknown:
        raise _unknown_error(survey.unknown_chars, survey.unknown_count, f"the model of {base_from}")
    dropped = survey.unknown_chars
    template = ChatTemplate(base.with_chat_template(CHAT_TEMPLATE))

    with _build_folder(ws, name, 8 * total_bytes) as tmp:
        writers, n = _encode(sources, template, tmp, n_train, progress, bool(dropped))
        if n != survey.conversations:
            raise _changed_error(", ".join(str(s.path) for s in sources))
        progress.emit("finishing")
        counts = {split: writers[split].tokens.count for split in SPLITS}
        meta = {
            "format": FORMAT,
            **template.tokenizer.to_meta(),
            "dtype": writers["train"].tokens.dtype.name,
            "train_tokens": counts["train"],
            "val_tokens": counts["val"],
            "train_bytes": writers["train"].bytes,
            "val_bytes": writers["val"].bytes,
            "total_chars": survey.chars_total,
            "total_bytes": total_bytes,
            "sources": [s.to_meta() for s in sources],
            "created": _now(),
            "val_fraction": vf,
            "chat": {
                "template": CHAT_TEMPLATE,
                "formats": survey.formats,
                "conversations": {"train": n_train, "val": n_val},
                "turns": survey.turns,
                "reply_tokens": {split: writers[split].reply_tokens for split in SPLITS},
                "reply_bytes": {split: writers[split].reply_bytes for split in SPLITS},
                "skipped": len(survey.bad),
                "dropped_chars": dropped,
            },
        }
        if base_from:
            meta["tokenizer_from"] = base_from
        tokenizer_json = meta.pop("tokenizer_json", None)  # an own BPE: beside meta.json, as prepare does
        if tokenizer_json is not None:
            (tmp / TOKENIZER_FILE).write_text(tokenizer_json, encoding="utf-8")
        _publish(tmp, final, force, meta)
        progress.done = progress.total
        progress.emit("finishing", cancellable=False)
    extra = {"tokenizer_json": tokenizer_json} if tokenizer_json is not None else {}
    return {**meta, **extra, "name": name, "path": str(final)}


def _base_tokenizer(kind: str, tokenizer_from, home=None) -> tuple[Any, str]:
    """The ordinary vocabulary to extend with the chat tokens: a run's, GPT-2's, or None (char: from the
    data)."""
    if tokenizer_from:
        return tokenizer_of_run(tokenizer_from, home)
    if kind == "gpt2":
        return GPT2Tokenizer(), ""
    if kind == "char":
        return None, ""
    raise DatasetError(
        f"Chat data with the {kind!r} tokenizer needs the model's tokenizer: train the model on your text "
        "first, then pass --tokenizer-from RUN (or choose 'char' or 'gpt2')."
    )


# ----- reading a chat dataset back -----


def chat_summary(meta: dict) -> dict:
    """Counts for display: conversations, turns, tokens, and the share of tokens that are replies."""
    chat = meta.get("chat") or {}
    convs = chat.get("conversations") or {}
    replies = chat.get("reply_tokens") or {}
    tokens = int(meta.get("train_tokens", 0)) + int(meta.get("val_tokens", 0))
    reply = int(replies.get("train", 0)) + int(replies.get("val", 0))
    return {
        "conversations": int(convs.get("train", 0)) + int(convs.get("val", 0)),
        "turns": int(chat.get("turns", 0)),
        "tokens": tokens,
        "reply_tokens": reply,
        "reply_share": reply / tokens if tokens else 0.0,
        "skipped": int(chat.get("skipped", 0)),
        "dropped_chars": list(chat.get("dropped_chars") or []),
        "formats": list(chat.get("formats") or []),
    }


def conversation_tokens(folder, split: str = "train", index: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The token ids and mask of one stored conversation (index counts from 0 in the split)."""
    folder = Path(folder)
    meta = load_dataset_meta(folder)
    if not is_chat_dataset(meta):
        raise DatasetError(f"The dataset '{folder.name}' holds text, not conversations.")
    starts = np.fromfile(index_file(folder, split), dtype=np.int64).reshape(-1, 2)[:, 0]
    if not 0 <= index < len(starts):
        raise DatasetError(f"The {split} split has {len(starts)} conversations: there is no number {index + 1}.")
    start = int(starts[index])
    end = int(starts[index + 1]) if index + 1 < len(starts) else meta[f"{split}_tokens"]
    dtype = np.dtype(meta["dtype"])
    ids = np.fromfile(folder / f"{split}.bin", dtype=dtype, count=end - start, offset=start * dtype.itemsize)
    mask = np.fromfile(mask_file(folder, split), dtype=np.uint8, count=end - start, offset=start)
    return ids, mask


def conversation_preview(folder, split: str = "train", index: int = 0) -> list[tuple[str, bool, bool]]:
    """One stored conversation as (text, trained, special) runs: what the trainer sees, the trained part
    marked."""
    meta = load_dataset_meta(folder)
    ids, mask = conversation_tokens(folder, split, index)
    return ChatTemplate(tokenizer_from_meta(meta)).segments(ids.tolist(), mask.tolist())


# ----- training batches -----


class ChatBatches:
    """Rows of block_size + 1 tokens, each starting at a conversation start (packed: the row runs on
    into the following conversations); targets outside the loss mask are -1.

    Only conversations whose first trained token lies within the row are drawn, so no row is without
    a target. Past the end of the split, rows are padded (end-of-text, no target). Same interface as
    trainer.Batches: `next()` -> (x, y), `rng` (its state goes into checkpoints)."""

    def __init__(self, folder, split: str, dtype, block_size: int, batch_size: int, device: str, rng, pad_id: int):
        folder = Path(folder)
        self.path, self.mask_path = folder / f"{split}.bin", mask_file(folder, split)
        self.dtype = np.dtype(dtype)
        self.n_tokens = self.path.stat().st_size // self.dtype.itemsize
        index = np.fromfile(index_file(folder, split), dtype=np.int64).reshape(-1, 2)
        self.starts = index[index[:, 1] - index[:, 0] <= block_size, 0]
        if not len(self.starts):
            raise DatasetError(
                f"No conversation of the {split} split gets to its first reply within block_size "
                f"({block_size} tokens): raise block_size to at least {first_reply_reach(folder, split)}."
            )
        self.block_size, self.batch_size, self.device, self.rng = block_size, batch_size, device, rng
        self.pad_id = pad_id
        self.offsets = np.arange(block_size + 1)
        self.pin = device.startswith("cuda")

    def next(self):
        import torch  # here, not at the top: `gptstudio prepare` uses this module and starts without torch

        data = np.memmap(self.path, dtype=self.dtype, mode="r")
        mask = np.memmap(self.mask_path, dtype=np.uint8, mode="r")
        starts = self.starts[self.rng.integers(0, len(self.starts), size=self.batch_size)]
        idx = starts[:, None] + self.offsets
        inside = idx < self.n_tokens
        idx = np.minimum(idx, self.n_tokens - 1)
        tokens = np.where(inside, data[idx].astype(np.int64), self.pad_id)
        targets = np.where(inside[:, 1:] & (mask[idx[:, 1:]] == 1), tokens[:, 1:], -1)
        x, y = torch.from_numpy(tokens[:, :-1].copy()), torch.from_numpy(targets)
        if self.pin:
            x, y = (t.pin_memory().to(self.device, non_blocking=True) for t in (x, y))
        return x, y


def first_reply_reach(folder, split: str = "train") -> int:
    """The smallest block_size at which some conversation of the split reaches its first reply."""
    index = np.fromfile(index_file(Path(folder), split), dtype=np.int64).reshape(-1, 2)
    return int((index[:, 1] - index[:, 0]).min()) if len(index) else 0


def chat_block_problem(folder, block_size: int) -> str | None:
    """Why a chat dataset cannot train at this block_size (None: it can)."""
    for split in SPLITS:
        reach = first_reply_reach(folder, split)
        if reach > block_size:
            return (
                f"block_size ({block_size}) is too short for these conversations: none of the {split} split "
                f"gets to its first reply within it; raise block_size to at least {reach} or use shorter prompts."
            )
    return None


def pad_token(tokenizer_meta: dict) -> int:
    special = tokenizer_meta.get("special_tokens") or {}
    return int(special.get(END_OF_TEXT, tokenizer_meta.get("eot_token") or 0))


__all__ = [
    "ChatBatches",
    "ChatSurvey",
    "chat_block_problem",
    "chat_files_problem",
    "chat_summary",
    "conversation_preview",
    "conversation_tokens",
    "is_chat_dataset",
    "prepare_chat_dataset",
    "survey_chat_inputs",
    "tokenizer_of_run",
]
