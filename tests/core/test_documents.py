"""Reading documents (core.documents): real files made by real tools arrive as their text, in order,
with no markup, navigation or table of contents; what cannot be read is refused with the reason."""

import csv
import json
import re
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pypdf import PdfWriter

from gptstudio.core.cleanup import Cleaner, CleanupOptions
from gptstudio.core.documents import (
    ReadNotes,
    detect_text_field,
    document_kind,
    inspect_document,
    read_document,
    read_sample,
    text_field_choices,
)
from gptstudio.core.errors import DocumentError
from gptstudio.core.html_text import html_to_text

FIXTURES = Path(__file__).parent.parent / "fixtures" / "documents"  # see the README there
BOOK = [
    "The lighthouse keeper climbed the hundred and twelve steps every evening at dusk.",
    "He polished the great lens until it shone like a second moon over the harbour.",
    "When the storm came in November, the ships steered by his light and none was lost.",
    "The keeper wrote every name in his logbook, and the logbook is still kept in the village.",
]
PAPER_KNOWN = (
    "The lighthouse keeper climbed the hundred and twelve steps every evening at dusk, and from the gallery "
    "he could see the fishing boats returning to the harbour."
)
MARKUP = re.compile(r"<[a-zA-Z/!?]|&[a-z]+;|xmlns|\{|\}|w:t\b|stylesheet|\.xhtml|\.css")


def text_of(path, **kwargs) -> str:
    return "\n\n".join(doc.raw_text() for doc in read_document(path, **kwargs))


def cleaned(path, **kwargs) -> str:
    cleaner = Cleaner(CleanupOptions())
    return "\n\n".join(cleaner.clean(doc) for doc in read_document(path, **kwargs))


def paragraphs(text: str) -> list[str]:
    return [p.strip() for p in text.split("\n\n") if p.strip()]


def assert_book(text: str) -> None:
    """The four known sentences, each a paragraph of its own, in the book's order; no markup."""
    paras = paragraphs(text)
    at = [paras.index(sentence) for sentence in BOOK]
    assert at == sorted(at)
    assert not MARKUP.search(text), MARKUP.search(text)
    assert paras.count("Chapter One") == 1  # the table of contents did not repeat it
    assert "Table of Contents" not in text and "Contents" not in paras


# ----- the formats


def test_epub_chapters_in_spine_order_without_navigation():
    text = text_of(FIXTURES / "book.epub")
    assert_book(text)
    assert paragraphs(text)[:2] == ["The Lighthouse Keeper", "A. Tester"]  # pandoc's title page comes first
    assert "Ship\tCrew\nMarigold\t12\nOsprey\t9" in text  # a table: rows of tab-separated cells


def test_docx_paragraphs_and_tables_without_the_table_of_contents_field():
    text = text_of(FIXTURES / "book.docx")
    assert_book(text)
    assert "Ship\tCrew\nMarigold\t12\nOsprey\t9" in text


def test_html_page_without_navigation_scripts_or_styles():
    text = text_of(FIXTURES / "book.html")
    assert_book(text)
    assert "Injected" not in text and "analytics" not in text  # the <script> of header.html


def test_html_of_a_website_keeps_the_article_only(tmp_path):
    page = tmp_path / "post.html"
    page.write_text(
        """<!DOCTYPE html><html><head><title>Blog</title><style>body { color: red }</style></head><body>
        <header class="site"><a href="/">My Blog</a> · <a href="/about">About</a></header>
        <nav aria-label="breadcrumbs"><ol><li>Home</li><li>Posts</li></ol></nav>
        <main><article><header><h1>On Keeping Lights</h1></header>
        <p>A light   must be <em>kept</em>, not merely lit;<br>that is the whole of the craft.</p>
        <div class="ad" hidden>Buy now</div><span style="display:none">invisible</span>
        <p>Caf&eacute; &amp; harbour &mdash; both open at dawn.</p>
        <footer>Posted in Lights · 3 comments</footer></article></main>
        <aside><h2>Related</h2><p>Other posts</p></aside>
        <footer role="contentinfo">© 2024 My Blog</footer>
        <script>window.track = "pageview";</script></body></html>""",
        encoding="utf-8",
    )
    assert text_of(page) == (
        "On Keeping Lights\n\nA light must be kept, not merely lit;\nthat is the whole of the craft.\n\n"
        "Café & harbour — both open at dawn."
    )


def test_html_in_windows_1252_is_decoded_by_its_declaration(tmp_path):
    page = tmp_path / "old.htm"
    page.write_bytes(
        b'<html><head><meta charset="windows-1252"></head><body><p>Caf\xe9 \x93quoted\x94</p></body></html>'
    )
    assert text_of(page) == "Café “quoted”"


def test_markdown_without_markup_or_front_matter(tmp_path):
    md = tmp_path / "notes.md"
    md.write_text(
        "---\ntitle: Notes\ntags: [sea, light]\n---\n\n# Keeping lights\n\nA **bold** claim with a "
        "[link](https://example.com) and `code`.\n\n![a lamp](lamp.png)\n\n- first item\n- second item\n\n"
        "```python\nprint('lamp')\n```\n",
        encoding="utf-8",
    )
    assert text_of(md) == (
        "Keeping lights\n\nA bold claim with a link and code.\n\nfirst item\nsecond item\n\nprint('lamp')"
    )


def test_pdf_text_layer_paragraphs_without_page_furniture():
    text = cleaned(FIXTURES / "paper.pdf")
    paras = paragraphs(text)
    assert paras[0] == PAPER_KNOWN  # wrapped over three lines on the page, one paragraph again
    assert "The committee deliberated for an extraordinarily long time about the keeper's pension." in paras
    for i in (1, 3, 10, 23):  # every paragraph whole, one on the next page's top included
        assert any(
            p.startswith(f"In the year {1850 + 3 * i} ") and p.endswith(f"winter of {1851 + 3 * i} began.")
            for p in paras
        ), i
    assert "Proceedings of the Lighthouse Society" not in text and not re.search(r"^Page \d", text, re.M)
    raw = text_of(FIXTURES / "paper.pdf")  # without cleanup they are there: the cleanup removed them
    assert raw.count("Proceedings of the Lighthouse Society") == 4


def test_scanned_pdf_is_reported_as_a_scan():
    with pytest.raises(DocumentError, match="no text found: it may be a scan; OCR it first") as e:
        list(read_document(FIXTURES / "scan.pdf"))
    assert e.value.code == "scan"


def test_pdf_with_a_password_is_refused_and_one_without_a_user_password_opens(tmp_path):
    with pytest.raises(DocumentError, match="encrypted PDF that needs a password") as e:
        list(read_document(FIXTURES / "locked.pdf"))
    assert e.value.code == "encrypted"
    writer = PdfWriter(clone_from=FIXTURES / "paper.pdf")
    writer.encrypt(user_password="", owner_password="owner", algorithm="AES-256")  # print/copy limits only
    limited = tmp_path / "limited.pdf"
    with open(limited, "wb") as f:
        writer.write(f)
    assert PAPER_KNOWN in paragraphs(cleaned(limited))


# ----- records: JSON Lines, JSON, CSV


def write_jsonl(path: Path, records) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_jsonl_text_field_detected_or_chosen(tmp_path):
    records = [{"id": i, "title": f"Log {i}", "text": BOOK[i % 4], "summary": "short"} for i in range(6)]
    path = write_jsonl(tmp_path / "logs.jsonl", records)
    notes = ReadNotes()
    docs = list(read_document(path, notes=notes))
    assert [d.text for d in docs] == [BOOK[i % 4] for i in range(6)]
    assert notes.text_field == "text" and notes.records == 6
    assert [d.text for d in read_document(path, text_field="title")] == [f"Log {i}" for i in range(6)]
    assert text_field_choices(path) == (["title", "text", "summary"], "text")
    with pytest.raises(DocumentError, match="no text field 'body'.*title, text, summary") as e:
        list(read_document(path, text_field="body"))
    assert e.value.code == "no_field"


def test_jsonl_without_a_usual_name_takes_the_longest_field_and_counts_bad_lines(tmp_path):
    path = tmp_path / "posts.jsonl"
    lines = [json.dumps({"lang": "en", "post": s, "meta": {"likes": 3}}) for s in BOOK]
    path.write_text("\n".join(lines[:2] + ["{not json", json.dumps({"lang": "en"})] + lines[2:]) + "\n")
    notes = ReadNotes()
    assert [d.text for d in read_document(path, notes=notes)] == BOOK
    assert notes.text_field == "post" and notes.bad_records == 2
    assert "2 records without it skipped" in notes.summary()


def test_nested_field_and_json_arrays(tmp_path):
    nested = write_jsonl(tmp_path / "n.jsonl", [{"doc": {"body": s}} for s in BOOK])
    assert [d.text for d in read_document(nested, text_field="doc.body")] == BOOK
    array = tmp_path / "a.json"
    array.write_text(json.dumps({"version": 2, "data": [{"content": s} for s in BOOK]}), encoding="utf-8")
    assert [d.text for d in read_document(array)] == BOOK
    strings = tmp_path / "s.json"
    strings.write_text(json.dumps(BOOK), encoding="utf-8")
    assert [d.text for d in read_document(strings)] == BOOK


def test_conversations_are_chat_data_not_text(tmp_path):
    chat = write_jsonl(
        tmp_path / "chat.jsonl",
        [{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]}] * 3,
    )
    alpaca = write_jsonl(tmp_path / "alpaca.jsonl", [{"instruction": "Say hi", "input": "", "output": "Hi"}] * 3)
    for path in (chat, alpaca):
        with pytest.raises(DocumentError, match="holds conversations \\(chat data\\)") as e:
            list(read_document(path))
        assert e.value.code == "chat"
        assert not inspect_document(path).is_text


def test_no_text_field_names_the_fields(tmp_path):
    path = write_jsonl(tmp_path / "nums.jsonl", [{"id": i, "code": "AB"} for i in range(5)])
    with pytest.raises(DocumentError, match="has no field that holds text \\(string fields: code\\)"):
        list(read_document(path))
    with pytest.raises(DocumentError, match="no records"):
        detect_text_field([], "x.jsonl")


@pytest.mark.parametrize("name,delimiter", [("rows.csv", ","), ("semi.csv", ";"), ("rows.tsv", "\t")])
def test_csv_and_tsv_column_with_quoted_newlines(tmp_path, name, delimiter):
    path = tmp_path / name
    with open(path, "w", encoding="utf-8-sig", newline="") as f:  # Excel's UTF-8 with a BOM
        writer = csv.writer(f, delimiter=delimiter)
        writer.writerow(["id", "Review", "stars"])
        for i, sentence in enumerate(BOOK):
            writer.writerow([i, sentence.replace(", ", ",\n"), 5])
    notes = ReadNotes()
    docs = list(read_document(path, notes=notes))
    assert [d.text for d in docs] == [s.replace(", ", ",\n") for s in BOOK]
    assert notes.text_field == "Review"  # found by its usual name, whatever its case
    assert [d.text for d in read_document(path, text_field="stars")] == ["5"] * 4


# ----- refusals and the drop-time check


def test_inspect_document_kinds_previews_and_refusals(tmp_path):
    pdf = inspect_document(FIXTURES / "paper.pdf")
    assert pdf.is_text and pdf.encoding == "PDF, 4 pages" and pdf.kind == "pdf"
    assert pdf.preview_lines[0] == "Proceedings of the Lighthouse Society"
    epub = inspect_document(FIXTURES / "book.epub")
    assert epub.is_text and epub.encoding == "EPUB" and "The Lighthouse Keeper" in epub.preview_lines
    scan = inspect_document(FIXTURES / "scan.pdf")
    assert scan.is_text and "scan" in scan.preview_lines[0]  # refused when imported, not on a first look
    locked = inspect_document(FIXTURES / "locked.pdf")
    assert not locked.is_text and "needs a password" in locked.reason
    old = tmp_path / "letter.doc"
    old.write_bytes(b"\xd0\xcf\x11\xe0" + bytes(100))
    assert "save it as .docx or PDF" in inspect_document(old).reason
    rows = write_jsonl(tmp_path / "r.jsonl", [{"text": s} for s in BOOK])
    info = inspect_document(rows)
    assert info.is_text and info.text_field == "text" and info.preview_lines == BOOK
    assert inspect_document(FIXTURES / "book.md").kind == "markdown"


@pytest.mark.parametrize("suffix", [".pdf", ".epub", ".docx"])
def test_damaged_documents_are_refused_with_a_reason(tmp_path, suffix):
    path = tmp_path / f"broken{suffix}"
    path.write_bytes(b"PK\x03\x04 this is not what it claims to be" * 10)
    with pytest.raises(DocumentError, match="is damaged") as e:
        list(read_document(path))
    assert e.value.code == "damaged"
    assert not inspect_document(path).is_text


def test_archive_without_its_parts_and_entity_tricks_are_refused(tmp_path):
    empty_zip = tmp_path / "empty.docx"
    with zipfile.ZipFile(empty_zip, "w") as z:
        z.writestr("readme.txt", "hello")
    with pytest.raises(DocumentError, match="has no word/document.xml"):
        list(read_document(empty_zip))
    bomb = tmp_path / "bomb.docx"
    with zipfile.ZipFile(bomb, "w") as z:
        z.writestr(
            "word/document.xml",
            '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]><d>&b;</d>',
        )
    with pytest.raises(DocumentError, match="damaged"):
        list(read_document(bomb))


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.binary(max_size=400), suffix=st.sampled_from([".pdf", ".epub", ".docx", ".html", ".jsonl", ".csv"]))
def test_random_bytes_read_or_refuse(tmp_path_factory, data, suffix):
    path = tmp_path_factory.mktemp("f") / f"x{suffix}"
    path.write_bytes(data)
    try:
        texts = [d.raw_text() for d in read_document(path)]
    except DocumentError:
        texts = []
    assert all(isinstance(t, str) for t in texts)
    assert isinstance(inspect_document(path).is_text, bool)  # the drop-time check never raises


def test_kinds_and_samples():
    assert [document_kind(n) for n in ("a.PDF", "b.htm", "c.markdown", "d.ndjson", "e.tsv", "f.txt", "g.py")] == [
        "pdf",
        "html",
        "markdown",
        "jsonl",
        "tsv",
        "text",
        "text",
    ]
    sample = read_sample(FIXTURES / "paper.pdf", max_pages=2)
    assert sample.wrapped and len(sample.pages) == 2
    assert read_sample(FIXTURES / "book.docx", max_chars=30).text == text_of(FIXTURES / "book.docx")[:30]


def test_html_to_text_streams_without_splitting_paragraphs():
    from gptstudio.core.html_text import HtmlText

    page = "<p>" + "</p><p>".join(BOOK) + "</p>"
    parser, parts = HtmlText(), []
    for i in range(0, len(page), 7):  # fed in small pieces
        parser.feed(page[i : i + 7])
        parts.append(parser.take())
    parser.close()
    parts.append(parser.take())
    assert "".join(parts) == html_to_text(page) == "\n\n".join(BOOK)


def test_tokenizers_are_compared_on_the_text_of_documents(tmp_path):
    from gptstudio.core.documents import sample_input_text
    from gptstudio.core.tokenizer_compare import compare_tokenizers

    notes = tmp_path / "notes.txt"
    notes.write_text("Plain notes about the lamp.\n" * 50, encoding="utf-8")
    pieces = sample_input_text([FIXTURES / "paper.pdf", FIXTURES / "book.epub", notes], 8192)
    text = "".join(pieces)
    assert "Plain notes about the lamp." in text and "The lighthouse keeper climbed" in text
    assert not MARKUP.search(text) and "%PDF" not in text and "PK" not in text
    stats = compare_tokenizers([FIXTURES / "paper.pdf", FIXTURES / "book.epub"], 300).by_kind()
    assert stats["char"].vocab_size < 80  # letters and punctuation, not the bytes of compressed files
    assert 0.15 < stats["gpt2"].tokens_per_byte < 0.4  # English prose: about 4 bytes a token
