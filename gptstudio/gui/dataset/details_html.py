"""The Dataset details as HTML (Qt-free): stats, a coloured token sample, the vocabulary, the import report.

Only token spans carry fixed colours (each with its own background), so the rest follows the theme.
"""

from __future__ import annotations

import html

from gptstudio.core.chat_data import FORMAT_LABELS
from gptstudio.core.chat_dataset import chat_summary
from gptstudio.core.dataset_sample import DatasetSample
from gptstudio.core.units import format_bytes
from gptstudio.gui.state.import_report import report_rows, report_summary

# Token view backgrounds: light pastels with black text, readable on light and dark themes alike.
TOKEN_COLOURS = ("#fde68a", "#a7f3d0", "#bfdbfe", "#fbcfe8", "#ddd6fe", "#fed7aa")
TRAINED_COLOUR = "#a7f3d0"  # the part of a conversation the model is trained on (its replies)
SPECIAL_COLOUR = "#e5e7eb"  # a special token (turn markers), shown by name
MAX_SOURCES = 20


def visible_char(c: str) -> str:
    """Whitespace and control characters drawn as visible symbols (for vocabularies and tokens)."""
    return {" ": "␣", "\n": "↵", "\t": "⇥", "\r": "␍"}.get(c, c if c.isprintable() else f"\\x{ord(c):02x}")


def token_view_html(tokens: list[tuple[int, str]]) -> str:
    """Tokens as alternating coloured spans; each is a `tok:ID` link so hovering shows its id."""
    spans = []
    for n, (tid, text) in enumerate(tokens):
        shown = html.escape(text).replace("\n", "↵<br>")  # newlines visible, and still line breaks
        colour = TOKEN_COLOURS[n % len(TOKEN_COLOURS)]
        spans.append(
            f'<a href="tok:{tid}" style="background-color:{colour}; color:#000000; text-decoration:none">{shown}</a>'
        )
    return f'<p style="white-space:pre-wrap; font-family:monospace">{"".join(spans)}</p>'


def conversation_html(segments: list[tuple[str, bool, bool]]) -> str:
    """A conversation through the chat template: special tokens as grey tags (by name), a new line before
    each turn, the trained-on part (replies and their end-of-turn) on green; a legend says so."""
    spans = []
    for text, trained, special in segments:
        shown = html.escape(text).replace("\n", "<br>")
        if special:
            if text.startswith("<|") and text not in ("<|end|>", "<|endoftext|>"):
                spans.append("<br>")  # each turn on its own line
            colour = TRAINED_COLOUR if trained else SPECIAL_COLOUR
            spans.append(f'<span style="background-color:{colour}; color:#374151; font-size:small">{shown}</span>')
        elif trained:
            spans.append(f'<span style="background-color:{TRAINED_COLOUR}; color:#000000">{shown}</span>')
        else:
            spans.append(shown)
    legend = (
        f'<p><span style="background-color:{TRAINED_COLOUR}; color:#000000">&nbsp;green&nbsp;</span> is what the '
        "model learns to write (the replies and their end-of-turn token); the rest it only reads.</p>"
    )
    return f'<p style="font-family:monospace">{"".join(spans)}</p>{legend}'


def _chat_rows(meta: dict) -> list[tuple[str, str]]:
    counts = chat_summary(meta)
    convs = meta["chat"].get("conversations") or {}
    rows = [
        (
            "Conversations",
            f"{counts['conversations']:,} = {convs.get('train', 0):,} train + {convs.get('val', 0):,} validation",
        ),
        ("Turns", f"{counts['turns']:,}"),
        ("Replies", f"{counts['reply_share']:.0%} of the tokens ({counts['reply_tokens']:,}): the part trained on"),
        ("Chat template", str(meta.get("chat_template", "?"))),
    ]
    if counts["formats"]:
        rows.append(("Read from", ", ".join(FORMAT_LABELS.get(f, f) for f in counts["formats"])))
    if meta.get("tokenizer_from"):
        rows.append(("Made for", f"run {meta['tokenizer_from']} (its tokenizer)"))
    if counts["skipped"]:
        n = counts["skipped"]
        rows.append(("Skipped", f"{n:,} bad record{'' if n == 1 else 's'}"))
    if counts["dropped_chars"]:
        rows.append(("Dropped", " ".join(visible_char(c) for c in counts["dropped_chars"])))
    return rows


def _stats_rows(info: dict, meta: dict) -> list[tuple[str, str]]:
    train, val = int(meta.get("train_tokens", 0)), int(meta.get("val_tokens", 0))
    chars = int(meta.get("total_chars", 0))
    rows = [
        ("Tokenizer", str(meta.get("tokenizer", "?"))),
        ("Vocabulary", f"{int(meta.get('vocab_size', 0)):,} tokens"),
        ("Characters", f"{chars:,} ({format_bytes(int(meta.get('total_bytes', 0)))} of text)"),
        ("Tokens", f"{train + val:,} = {train:,} train + {val:,} validation"),
    ]
    if meta.get("tokenizer") != "char" and train + val:
        rows.append(("Compression", f"{chars / (train + val):.2f} characters per token"))
    if "size_on_disk" in info:
        rows.append(("Size on disk", format_bytes(info["size_on_disk"])))
    if meta.get("created"):
        rows.append(("Created", str(meta["created"]).replace("T", " ")[:19]))
    if meta.get("imported_from"):
        rows.append(("Imported from", str(meta["imported_from"])))
    if isinstance(meta.get("chat"), dict):
        rows = _chat_rows(meta) + rows
    return rows


def stats_html(info: dict, sample: DatasetSample | None) -> str:
    """The details of one dataset: its list_datasets() entry, and its token sample once loaded."""
    name = html.escape(info.get("name", "?"))
    if info.get("error"):
        return (
            f"<h3>{name}</h3><p><b>This dataset cannot be used:</b> {html.escape(info['error'])}</p>"
            "<p>Delete it, or prepare it again from its text.</p>"
        )
    meta = sample.meta if sample is not None and sample.meta else info
    table = "".join(
        f"<tr><td><b>{html.escape(k)}</b>&nbsp;&nbsp;</td><td>{html.escape(v)}</td></tr>"
        for k, v in _stats_rows(info, meta)
    )
    parts = [f"<h3>{name}</h3><table cellspacing='2'>{table}</table>"]
    if meta.get("sources") or meta.get("skipped"):
        parts.append(
            f'<p><b>Import:</b> {html.escape(report_summary(meta))} <a href="report:">Show the import report…</a></p>'
        )
    if sample is None:
        parts.append("<p><i>Loading a token sample…</i></p>")
    elif sample.error:
        parts.append(f"<p><b>Could not read a token sample:</b> {html.escape(sample.error)}</p>")
    elif sample.conversation:
        parts.append("<h4>A conversation as the model sees it</h4>" + conversation_html(sample.conversation))
    elif sample.tokens:
        which = "validation" if sample.split == "val" else "training"
        parts.append(
            f"<h4>Token sample (first {len(sample.tokens)} {which} tokens; "
            "hover a token for its id)</h4>" + token_view_html(sample.tokens)
        )
    if meta.get("chars"):
        vocab = " ".join(html.escape(visible_char(c)) for c in meta["chars"])
        parts.append(
            f"<h4>Character vocabulary ({len(meta['chars'])})</h4><p style='font-family:monospace'>{vocab}</p>"
        )
    if meta.get("sources") or meta.get("skipped"):
        parts.append(report_html(meta))
    return "".join(parts)


def report_html(meta: dict) -> str:
    """The input files: the first few, included (✓, with their characters) or skipped (✗, with the reason)."""
    rows = report_rows(meta)
    lines = []
    for row in rows[:MAX_SOURCES]:
        mark = "✓" if row.status == "included" else "✗"
        what = f"{row.chars:,} characters" if row.chars is not None else ""
        detail = row.detail if row.status == "skipped" else ", ".join(x for x in (what, row.detail) if x)
        lines.append(
            f"<li>{mark} <span title='{html.escape(row.path)}'>{html.escape(row.name)}</span> "
            f"({html.escape(row.kind)}){': ' + html.escape(detail) if detail else ''}</li>"
        )
    more = f'<li>… and {len(rows) - MAX_SOURCES:,} more (<a href="report:">all of them</a>)</li>'
    return f"<h4>Files</h4><ul>{''.join(lines)}{more if len(rows) > MAX_SOURCES else ''}</ul>"
