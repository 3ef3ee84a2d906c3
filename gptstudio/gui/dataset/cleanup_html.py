"""The cleanup preview as HTML (Qt-free): the sample with its changes marked, or as it was, or as it
becomes; and a sentence saying what each step removed from it.

Removed text is red and struck through, added text green and underlined; a removed or added line
break shows as ↵ and a removed space as · so that whitespace changes are visible too. Only the
marks carry colours (with their own backgrounds), so the rest follows the light or dark theme.
"""

from __future__ import annotations

import html

from gptstudio.core.cleanup import CleanupPreview

MODES = ("changes", "before", "after")
DELETED = "background-color:#ffd7d5; color:#82071e; text-decoration:line-through"
INSERTED = "background-color:#ccffd8; color:#055d20; text-decoration:underline"


def _plain(text: str) -> str:
    return html.escape(text).replace("\n", "<br>")


def _marked(text: str, style: str) -> str:
    shown = html.escape(text).replace(" ", "·").replace("\t", "⇥").replace("\n", "↵<br>")
    return f'<span style="{style}">{shown}</span>'


def preview_html(preview: CleanupPreview, mode: str = "changes") -> str:
    """The sample in one of MODES, as HTML in a monospace, wrapping paragraph."""
    if mode == "before":
        body = _plain(preview.before)
    elif mode == "after":
        body = _plain(preview.after)
    else:
        body = "".join(
            _plain(text) if op == "equal" else _marked(text, DELETED if op == "delete" else INSERTED)
            for op, text in preview.spans
        )
    return f'<p style="white-space:pre-wrap; font-family:monospace">{body}</p>'


def removed_text(preview: CleanupPreview) -> str:
    """What the cleanup does to this sample, in a sentence."""
    if preview.note == "plain_text":
        return "Plain text is used exactly as it is. Tick “Clean .txt files too” to clean it too."
    return preview.stats.describe("this sample")
