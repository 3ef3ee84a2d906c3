"""Dataset commands: `prepare` (text and documents -> token files), `import-nanogpt-data`, `datasets` (list).

Progress goes to stderr (one self-rewriting line, only on a terminal); the result summary to stdout,
the files skipped and what the cleanup removed to stderr. `prepare --preview` shows the cleanup of
each input's start instead of preparing.
"""

from __future__ import annotations

import sys
import time

from gptstudio.core import bpe, chat_data
from gptstudio.core import dataset as ds
from gptstudio.core.chat_dataset import chat_summary, prepare_chat_dataset
from gptstudio.core.cleanup import STEPS, CleanupOptions, CleanupPreview, preview
from gptstudio.core.documents import KIND_LABELS, document_kind, read_sample
from gptstudio.core.errors import DatasetError
from gptstudio.core.special_tokens import SPECIAL_TOKENS
from gptstudio.core.textfiles import collect_input_files
from gptstudio.core.units import format_quantity
from gptstudio.core.workspace import suggest_name

PREVIEW_CHARS = 3000  # of each input's marked-up preview


def register(sub) -> None:
    p = sub.add_parser(
        "prepare",
        help="turn text files into a dataset (token files) for training",
        description="Tokenize text files, documents (PDF, EPUB, DOCX, HTML, Markdown, JSON Lines/JSON, "
        "CSV/TSV) or folders of them (recursively) into datasets/NAME/ of the workspace: train.bin, "
        "val.bin and meta.json. Documents are cleaned first (see --cleanup); plain text is used as it is. "
        "Files that cannot be used are skipped and listed, with the reason, on stderr and in meta.json.",
    )
    p.add_argument(
        "inputs",
        nargs="*",
        metavar="INPUT",
        help="text files (UTF-8, or with a BOM), documents, or folders of them",
    )
    p.add_argument("--name", help="dataset name (default: from the first input, e.g. 'input' for input.txt)")
    p.add_argument(
        "--tokenizer",
        choices=ds.TOKENIZERS,
        default="char",
        help="char: one token per character (small vocabulary); gpt2: GPT-2's BPE; bpe: a byte-level BPE "
        "vocabulary learned from your text (default %(default)s)",
    )
    p.add_argument(
        "--vocab-size",
        type=int,
        metavar="N",
        help=f"bpe only: ordinary tokens to learn, {bpe.VOCAB_MIN:,} to {bpe.VOCAB_MAX:,}, plus "
        f"{len(SPECIAL_TOKENS)} special tokens after them (default: from the size of the text, "
        "about one token per 512 bytes)",
    )
    p.add_argument(
        "--val-fraction",
        type=float,
        default=0.1,
        metavar="F",
        help="share of the tokens kept for validation, taken from the end (default %(default)s)",
    )
    p.add_argument("--force", action="store_true", help="replace an existing dataset of the same name")
    docs = p.add_argument_group("documents and cleanup")
    docs.add_argument(
        "--text-field",
        metavar="NAME",
        help="the field of JSON Lines/JSON records, or the column of CSV/TSV files, that holds the text "
        "(a.b reaches into nested objects; default: detected, e.g. text, content, body)",
    )
    docs.add_argument(
        "--cleanup",
        metavar="STEPS",
        default="all",
        help=f"cleanup steps to run on documents, comma-separated: {', '.join(STEPS)}; or all (the default) or none",
    )
    docs.add_argument(
        "--min-chars",
        type=int,
        default=CleanupOptions().min_chars,
        metavar="N",
        help="with the short step: drop documents (files, records) with fewer characters (default %(default)s)",
    )
    docs.add_argument(
        "--clean-text-files",
        action="store_true",
        help="clean plain text files too (by default they are used exactly as they are, as nanoGPT does)",
    )
    docs.add_argument(
        "--preview",
        action="store_true",
        help="show what the cleanup changes at the start of each input ([-removed-] {+added+}) and what each "
        "step removes, then stop without preparing",
    )
    p.add_argument(
        "--demo",
        action="store_true",
        help="use the bundled demo text (Shakespeare) as input; name shakespeare_char/_gpt2/_bpe",
    )
    chat = p.add_argument_group(
        "conversations",
        "Chat data (.jsonl/.json in the messages, Alpaca or ShareGPT format) is recognised from its content; "
        "it becomes a chat dataset for fine-tuning a model to answer (gptstudio train --init_from=RUN).",
    )
    chat.add_argument(
        "--chat",
        action="store_true",
        help="the inputs are conversations: also read other files as User:/Assistant: transcripts "
        "(conversations separated by a line holding ###)",
    )
    chat.add_argument(
        "--demo-chat",
        action="store_true",
        help="use conversations made from the demo text (one speech, then the next speaker's reply); "
        "name shakespeare_chat",
    )
    chat.add_argument(
        "--tokenizer-from",
        metavar="RUN",
        help="use this run's (or checkpoint's) tokenizer, so the data fits the model you will fine-tune",
    )
    chat.add_argument("--skip-bad", action="store_true", help="leave out bad records instead of refusing the input")
    chat.add_argument(
        "--drop-unknown",
        action="store_true",
        help="drop characters the --tokenizer-from model never saw instead of refusing",
    )
    p.set_defaults(func=run_prepare)

    p = sub.add_parser(
        "import-nanogpt-data",
        help="import a data folder made by nanoGPT's prepare.py",
        description="Copy a nanoGPT data folder (train.bin, val.bin, and meta.pkl for char-level; "
        "without meta.pkl it is GPT-2 BPE) into the workspace as a dataset. "
        "meta.pkl is read with a restricted unpickler that never runs code.",
    )
    p.add_argument("folder", metavar="DIR", help="the nanoGPT data folder, e.g. nanoGPT/data/shakespeare_char")
    p.add_argument("--name", help="dataset name (default: the folder's name)")
    p.add_argument("--force", action="store_true", help="replace an existing dataset of the same name")
    p.set_defaults(func=run_import)

    p = sub.add_parser(
        "datasets",
        help="list the workspace's datasets",
        description="List the datasets of the workspace with their size and token counts.",
    )
    p.set_defaults(func=run_list)


class _ProgressLine:
    """'encoding  42%  120.3/286.0 MB  310 MB/s' rewritten in place on a terminal; silent otherwise."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self.enabled = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.start = time.monotonic()
        self._last = 0.0
        self._width = 0

    def __call__(self, p: ds.PrepareProgress) -> None:
        now = time.monotonic()
        if not self.enabled or (now - self._last < 0.1 and p.done < p.total) or not p.total:
            return
        self._last = now
        rate = p.done / max(now - self.start, 1e-6) / 1e6
        line = f"{p.phase:<10} {100 * p.fraction:3.0f}%  {p.done / 1e6:,.1f}/{p.total / 1e6:,.1f} MB  {rate:,.0f} MB/s"
        self._width = max(self._width, len(line))
        self.stream.write("\r" + line.ljust(self._width))
        self.stream.flush()

    def clear(self) -> None:
        if self.enabled and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()


def cleanup_options(args) -> CleanupOptions:
    """The --cleanup, --min-chars and --clean-text-files flags as CleanupOptions."""
    wanted = {s.strip().replace("-", "_") for s in args.cleanup.split(",") if s.strip()}
    if wanted in ({"all"}, set()):
        steps = set(STEPS)
    elif wanted == {"none"}:
        steps = set()
    else:
        unknown = sorted(wanted - set(STEPS))
        if unknown:
            raise DatasetError(f"Unknown cleanup step {unknown[0]!r}: choose from {', '.join(STEPS)}, or all, or none.")
        steps = wanted
    if args.min_chars < 0:
        raise DatasetError(f"--min-chars is {args.min_chars}: give 0 or more characters.")
    return CleanupOptions(
        **{step: step in steps for step in STEPS}, min_chars=args.min_chars, plain_text=args.clean_text_files
    )


def run_prepare(args) -> int:
    inputs = list(args.inputs)
    chat = args.chat or args.demo_chat or bool(args.tokenizer_from)
    if not chat and inputs and not args.demo:
        chat = chat_data.inputs_are_chat(ds.collect_input_files(inputs))
    if chat:
        return _prepare_chat(args, inputs)
    if args.skip_bad or args.drop_unknown:
        raise DatasetError("--skip-bad and --drop-unknown apply to conversations: add --chat if these are chat data.")
    if args.demo:
        inputs.append(ds.demo_text_path())
    if not inputs:
        raise DatasetError("No input given: name text files or folders, or use --demo for the bundled text.")
    options = cleanup_options(args)
    if args.preview:
        return run_preview(inputs, options, args.text_field)
    name = args.name or (
        f"shakespeare_{args.tokenizer}" if args.demo and not args.inputs else suggest_name(str(inputs[0]))
    )
    if args.vocab_size is not None and args.tokenizer != "bpe":
        raise DatasetError("--vocab-size only applies to --tokenizer bpe (char and gpt2 have fixed vocabularies).")
    vocab_size = args.vocab_size
    if args.tokenizer == "bpe" and vocab_size is None:
        files = ds.collect_input_files(inputs)
        vocab_size, reason = bpe.default_vocab_size(sum(f.stat().st_size for f in files))
        print(f"BPE vocabulary: {reason} Choose another size with --vocab-size N.", file=sys.stderr)
    progress = _ProgressLine()
    try:
        meta = ds.prepare_dataset(
            inputs,
            name,
            args.tokenizer,
            args.val_fraction,
            force=args.force,
            report=progress,
            vocab_size=vocab_size,
            cleanup=options,
            text_field=args.text_field,
        )
    finally:
        progress.clear()
    elapsed = time.monotonic() - progress.start
    rate = meta["total_bytes"] / max(elapsed, 1e-6) / 1e6
    print(
        f"Prepared dataset '{name}': {meta['tokenizer']} tokenizer, vocab {meta['vocab_size']:,}, "
        f"{meta['train_tokens']:,} train + {meta['val_tokens']:,} val tokens ({meta['dtype']}) from "
        f"{meta['total_bytes'] / 1e6:,.1f} MB in {elapsed:.1f} s ({rate:,.1f} MB/s) -> {meta['path']}"
    )
    print_import_report(meta)
    return 0


def print_import_report(meta: dict, stream=None) -> None:
    """On stderr: the files skipped with their reasons, and what the cleanup removed."""
    stream = stream or sys.stderr
    skipped = meta.get("skipped") or []
    if skipped:
        print(f"Skipped {format_quantity(len(skipped), 'file')}:", file=stream)
        for entry in skipped:
            print(f"  {entry['path']}: {entry['reason']}", file=stream)
    cleanup = meta.get("cleanup")
    if cleanup:
        from gptstudio.core.cleanup import CleanupStats

        print(f"Cleanup: {CleanupStats.from_dict(cleanup['stats']).describe('the documents')}", file=stream)


def mark_changes(p: CleanupPreview, max_chars: int = PREVIEW_CHARS) -> str:
    """The preview as one text: [-removed-] and {+added+} (wdiff's marks), removed line breaks shown as ↵;
    cut after about max_chars characters."""
    parts, length = [], 0
    for op, text in p.spans:
        if op == "equal":
            parts.append(text)
        else:
            shown = text.replace("\n", "↵\n")
            parts.append(f"[-{shown}-]" if op == "delete" else f"{{+{shown}+}}")
        length += len(parts[-1])
        if length > max_chars:
            return "".join(parts)[:max_chars] + " …"
    return "".join(parts)


def run_preview(inputs: list, options: CleanupOptions, text_field: str | None) -> int:
    """Print the cleanup of the start of each input (documents; plain text only with --clean-text-files)."""
    for path in collect_input_files(inputs):
        kind = document_kind(path)
        title = f"== {path} ({KIND_LABELS.get(kind, kind)})"
        if kind == "text" and not options.plain_text:
            print(f"{title}: plain text is used as it is (--clean-text-files cleans it too)\n")
            continue
        try:
            p = preview(read_sample(path, text_field=text_field), options)
        except DatasetError as e:
            print(f"{title}: skipped: {e}\n")
            continue
        print(f"{title}\n{mark_changes(p)}\n-- {p.stats.describe('this sample')}\n")
    return 0


def _prepare_chat(args, inputs: list) -> int:
    if args.demo:
        raise DatasetError("--demo is text for pretraining; for demo conversations use --demo-chat.")
    if not inputs and not args.demo_chat:
        raise DatasetError("No conversations given: name chat files or folders, or use --demo-chat.")
    name = args.name or ("shakespeare_chat" if args.demo_chat and not inputs else suggest_name(str(inputs[0])))
    progress = _ProgressLine()
    try:
        meta = prepare_chat_dataset(
            inputs,
            name,
            args.tokenizer,
            args.val_fraction,
            force=args.force,
            report=progress,
            forced=args.chat,
            skip_bad=args.skip_bad,
            tokenizer_from=args.tokenizer_from,
            drop_unknown=args.drop_unknown,
            demo=args.demo_chat,
        )
    finally:
        progress.clear()
    counts = chat_summary(meta)
    extra = []
    if counts["skipped"]:
        extra.append(f"{format_quantity(counts['skipped'], 'bad record')} skipped")
    if counts["dropped_chars"]:
        extra.append(f"{len(counts['dropped_chars'])} unknown characters dropped")
    if meta.get("tokenizer_from"):
        extra.append(f"tokenizer of {meta['tokenizer_from']}")
    print(
        f"Prepared chat dataset '{name}': {counts['conversations']:,} conversations "
        f"({meta['chat']['conversations']['train']:,} train + {meta['chat']['conversations']['val']:,} val), "
        f"{counts['turns']:,} turns, {counts['tokens']:,} tokens, {counts['reply_share']:.0%} of them replies; "
        f"{meta['tokenizer']} tokenizer with the chat template, vocab {meta['vocab_size']:,}"
        + (f"; {', '.join(extra)}" if extra else "")
        + f" -> {meta['path']}"
    )
    return 0


def run_import(args) -> int:
    name = args.name or suggest_name(args.folder.rstrip("/\\"))
    meta = ds.import_nanogpt_data(args.folder, name, force=args.force)
    print(
        f"Imported dataset '{name}': {meta['tokenizer']} tokenizer, vocab {meta['vocab_size']:,}, "
        f"{meta['train_tokens']:,} train + {meta['val_tokens']:,} val tokens -> {meta['path']}"
    )
    return 0


def _table(rows: list[list[str]], right: set[int]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip()
        for r in rows
    )


def run_list(args) -> int:
    from gptstudio.core.workspace import Workspace

    entries = ds.list_datasets()
    if not entries:
        print(
            f"No datasets in {Workspace.open().datasets_dir}. Make one with: "
            "gptstudio prepare FILE --name NAME (or --demo)"
        )
        return 0
    rows = [["NAME", "TOKENIZER", "VOCAB", "TRAIN", "VAL", "SIZE", "CREATED"]]
    for e in entries:
        size = f"{e['size_on_disk'] / 1e6:,.1f} MB"
        if e.get("error"):
            rows.append([e["name"], "damaged", "", "", "", size, e["error"]])
            continue
        rows.append(
            [
                e["name"],
                e["tokenizer"],
                f"{e['vocab_size']:,}",
                f"{e['train_tokens']:,}",
                f"{e['val_tokens']:,}",
                size,
                str(e.get("created", ""))[:19].replace("T", " "),
            ]
        )
    print(_table(rows, right={2, 3, 4, 5}))
    return 0
