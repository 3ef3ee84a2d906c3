"""The cleanup preview's HTML (Qt-free): removed text struck through in red, added text green, whitespace
changes visible; before and after as they are."""

from gptstudio.core.cleanup import CleanupOptions, preview
from gptstudio.core.documents import Document
from gptstudio.gui.dataset.cleanup_html import DELETED, INSERTED, preview_html, removed_text


def test_changes_are_marked_and_whitespace_shows():
    p = preview(Document("CafÃ©  au <lait>.\n\n\n\nEnd of it, long enough."), CleanupOptions(min_chars=5))
    changes = preview_html(p, "changes")
    assert f'<span style="{DELETED}">' in changes and f'<span style="{INSERTED}">' in changes
    assert "↵" in changes and "&lt;lait&gt;" in changes  # removed blank lines visible; markup escaped
    assert "Ã" in preview_html(p, "before") and "Ã" not in preview_html(p, "after")
    assert removed_text(p).startswith("Removed from this sample: 1 character of mis-decoded text")


def test_plain_text_note():
    p = preview(Document("as it is"), CleanupOptions.none(), note="plain_text")
    assert "used exactly as it is" in removed_text(p) and "<span" not in preview_html(p)
