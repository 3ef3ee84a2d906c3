"""The cleanup panel: a checkbox per step (remembered), and a preview of the selected file before and after
with the changes marked, following the checkboxes."""

from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from gptstudio.core.cleanup import STEPS, CleanupOptions
from gptstudio.core.documents import inspect_document
from gptstudio.gui.dataset.cleanup_panel import OPTIONS_KEY, CleanupPanel
from gptstudio.gui.settings import AppSettings

from .helpers import WAIT_MS, find

FIXTURES = Path(__file__).parents[2] / "fixtures" / "documents"


@pytest.fixture
def panel(qtbot):
    p = CleanupPanel(AppSettings())
    qtbot.addWidget(p)
    p.resize(700, 500)
    p.show()
    yield p
    p.shutdown()


def previewed(qtbot, panel, path, text_field=None):
    panel.preview_file(inspect_document(path), text_field)
    qtbot.waitUntil(lambda: not panel.is_previewing(), timeout=WAIT_MS)
    return panel.preview()


def test_defaults_every_step_on_and_plain_text_untouched(panel):
    assert panel.options() == CleanupOptions()
    assert all(find(panel, f"cleanup_{step}").isChecked() for step in STEPS)
    assert not find(panel, "cleanupPlainText").isChecked() and find(panel, "cleanupMinChars").value() == 50


def test_the_pdf_preview_marks_the_page_furniture_and_the_joined_lines(qtbot, panel, tmp_path):
    preview = previewed(qtbot, panel, FIXTURES / "paper.pdf")
    assert "Proceedings of the Lighthouse Society" in preview.before
    assert "Proceedings of the Lighthouse Society" not in preview.after
    html = find(panel, "cleanupPreview").toHtml()
    assert "line-through" in html and "Proceedings·of·the·Lighthouse·Society" in html  # removed, marked
    removed = find(panel, "cleanupRemoved").text()
    assert removed.startswith("Removed from this sample: ") and "page headers, footers and numbers" in removed
    panel.grab().save(str(tmp_path / "cleanup_panel.png"))

    qtbot.mouseClick(find(panel, "cleanupShow_after"), Qt.MouseButton.LeftButton)
    assert "Proceedings" not in find(panel, "cleanupPreview").toPlainText()
    qtbot.mouseClick(find(panel, "cleanupShow_before"), Qt.MouseButton.LeftButton)
    assert "Proceedings of the Lighthouse Society" in find(panel, "cleanupPreview").toPlainText()


def test_unticking_a_step_previews_again_without_it(qtbot, panel):
    previewed(qtbot, panel, FIXTURES / "paper.pdf")
    with qtbot.waitSignal(panel.sig_options_changed) as changed:
        find(panel, "cleanup_page_furniture").click()
    assert changed.args[0].page_furniture is False
    qtbot.waitUntil(lambda: not panel.is_previewing(), timeout=WAIT_MS)
    assert "Proceedings of the Lighthouse Society" in panel.preview().after
    assert "page headers" not in find(panel, "cleanupRemoved").text()


def test_plain_text_is_shown_as_it_is_until_asked(qtbot, panel, tmp_path):
    messy = tmp_path / "messy.txt"
    messy.write_text(
        "Too   many   spaces here, and a hyphen-\nated word.\n\n\n\nThe end of the text.\n", encoding="utf-8"
    )
    preview = previewed(qtbot, panel, messy)
    assert preview.after == preview.before and "used exactly as it is" in find(panel, "cleanupRemoved").text()
    find(panel, "cleanupPlainText").click()
    qtbot.waitUntil(lambda: not panel.is_previewing(), timeout=WAIT_MS)
    assert panel.preview().after == "Too many spaces here, and a hyphenated\nword.\n\nThe end of the text."


def test_choices_are_remembered(qtbot):
    settings = AppSettings()
    first = CleanupPanel(settings)
    qtbot.addWidget(first)
    find(first, "cleanup_mojibake").click()
    find(first, "cleanupMinChars").setValue(120)
    assert settings.get(OPTIONS_KEY)["mojibake"] is False
    again = CleanupPanel(settings)
    qtbot.addWidget(again)
    assert again.options() == CleanupOptions(mojibake=False, min_chars=120)
    find(again, "cleanup_short").click()
    assert not find(again, "cleanupMinChars").isEnabled()


def test_a_refused_file_says_why(qtbot, panel):
    panel.preview_file(inspect_document(FIXTURES / "scan.pdf"))
    qtbot.waitUntil(lambda: not panel.is_previewing(), timeout=WAIT_MS)
    assert panel.preview() is None and "it may be a scan" in find(panel, "cleanupRemoved").text()
