"""The details of a dataset: numbers at once, a coloured token sample from a worker, readable in dark themes."""

import json
import re

import pytest
from PySide6.QtCore import QUrl
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QToolTip

from gptstudio.core import dataset as ds
from gptstudio.core.dataset_sample import SAMPLE_TOKENS, dataset_sample
from gptstudio.gui.dataset import details_html
from gptstudio.gui.dataset.details_panel import DatasetDetails

from .helpers import WAIT_MS, find


@pytest.fixture
def details(qtbot):
    d = DatasetDetails()
    qtbot.addWidget(d)
    d.resize(700, 600)
    d.show()
    yield d
    d.shutdown()


def entry(home, name):
    return next(e for e in ds.list_datasets(home) if e["name"] == name)


def show_and_wait(qtbot, details, e):
    details.show_dataset(e)
    qtbot.waitUntil(lambda: not details.is_loading(), timeout=WAIT_MS)
    return find(details, "datasetStatsView")


def test_a_char_dataset(qtbot, details, poem, home, tmp_path):
    ds.prepare_dataset([poem], "poems", home=home)
    stats = show_and_wait(qtbot, details, entry(home, "poems"))
    meta = json.loads((home / "datasets" / "poems" / "meta.json").read_text())
    text = stats.toPlainText()
    assert details.shown() == "poems"
    assert f"{meta['vocab_size']} tokens" in text and "Character vocabulary" in text
    assert f"{meta['train_tokens'] + meta['val_tokens']:,} = {meta['train_tokens']:,} train" in text
    assert "characters per token" not in text  # compression only means something for BPE
    assert len(re.findall(r'href="tok:\d+"', stats.toHtml())) == SAMPLE_TOKENS
    assert "my poem.txt" in text  # the sources
    details.grab().save(str(tmp_path / "details_char.png"))
    details.show_dataset(None)
    assert stats.toPlainText() == "" and details.shown() is None


def test_a_gpt2_dataset_shows_its_compression(qtbot, details, poem, home):
    ds.prepare_dataset([poem], "bpe", tokenizer="gpt2", home=home)
    stats = show_and_wait(qtbot, details, entry(home, "bpe"))
    meta = json.loads((home / "datasets" / "bpe" / "meta.json").read_text())
    ratio = meta["total_chars"] / (meta["train_tokens"] + meta["val_tokens"])
    assert f"{ratio:.2f} characters per token" in stats.toPlainText()
    assert 2.5 < ratio < 5  # English BPE: roughly 4 characters a token
    assert "Character vocabulary" not in stats.toPlainText() and "tok:" in stats.toHtml()


def test_a_damaged_dataset_says_it_cannot_be_used(qtbot, details, home):
    broken = home / "datasets" / "broken"
    broken.mkdir(parents=True)
    (broken / "meta.json").write_text("{not json")
    stats = show_and_wait(qtbot, details, entry(home, "broken"))
    assert "cannot be used" in stats.toPlainText() and not details.is_loading()


def test_hovering_a_token_shows_its_id(qtbot, details, poem, home):
    ds.prepare_dataset([poem], "hover", home=home)
    stats = show_and_wait(qtbot, details, entry(home, "hover"))
    stats.highlighted.emit(QUrl("tok:42"))
    assert QToolTip.text() == "token id 42"
    stats.highlighted.emit(QUrl())  # the mouse left the token
    qtbot.waitUntil(lambda: not QToolTip.isVisible(), timeout=5000)


def test_dark_theme_keeps_text_readable(qtbot, details, poem, home, tmp_path):
    """Only token spans carry fixed colours (each with its own background); the rest follows the palette."""
    ds.prepare_dataset([poem], "dark", home=home)
    app = QApplication.instance()
    old = app.palette()
    dark = QPalette(QColor("#303134"), QColor("#202124"))  # derives the other roles, as a desktop theme does
    for role, colour in (
        (QPalette.ColorRole.Base, "#292a2d"),
        (QPalette.ColorRole.Text, "#e8eaed"),
        (QPalette.ColorRole.WindowText, "#e8eaed"),
    ):
        for group in (QPalette.ColorGroup.Active, QPalette.ColorGroup.Inactive):
            dark.setColor(group, role, QColor(colour))
    app.setPalette(dark)
    try:
        show_and_wait(qtbot, details, entry(home, "dark"))
        details.grab().save(str(tmp_path / "details_dark.png"))
    finally:
        app.setPalette(old)
    source = details_html.stats_html(entry(home, "dark"), dataset_sample(home / "datasets" / "dark", "dark"))
    assert "color" not in re.sub(r"<a href=\"tok:[^>]*>", "", source)
    styles = re.findall(r'<a href="tok:\d+" style="([^"]*)"', source)
    assert len(styles) == SAMPLE_TOKENS
    assert all("background-color:#" in style and "color:#000000" in style for style in styles)


def test_token_view_alternates_and_escapes():
    html = details_html.token_view_html([(1, "<b>"), (2, " and"), (3, "\n\n"), (4, "x")])
    colours = re.findall(r"background-color:(#[0-9a-f]{6})", html)
    assert colours == list(details_html.TOKEN_COLOURS[:4])
    assert "&lt;b&gt;" in html and "<b>" not in html
    assert 'text-decoration:none">↵<br>↵<br></a>' in html  # one visible mark and break per newline
    assert details_html.visible_char("\n") == "↵" and details_html.visible_char(" ") == "␣"
    assert details_html.visible_char("\x01") == "\\x01" and details_html.visible_char("é") == "é"
