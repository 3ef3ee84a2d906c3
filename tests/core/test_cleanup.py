"""Cleanup (core.cleanup): each step changes the text that needs it and leaves alone the text that does
not; the stats count what each step removed; the preview shows exactly the changes."""

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gptstudio.core.cleanup import (
    STEPS,
    Cleaner,
    CleanupOptions,
    CleanupStats,
    ParagraphSet,
    collapse_whitespace,
    diff_spans,
    drop_duplicates,
    fix_mojibake,
    join_hyphens,
    normalize_nfc,
    preview,
    reflow,
    strip_page_furniture,
)
from gptstudio.core.documents import Document

CLEAN = (
    "Crème brûlée, naïve façade — Ångström. “Quoted” and ‘single’ marks, 中文, emoji 😀.\n\n"
    "Plain ASCII text with a well-known dash - here, and 1990-2000.\n\n    indented code line\n"
)


def only(step: str, **extra) -> CleanupOptions:
    """Options with one step on (and the others off), to test that step alone."""
    return CleanupOptions(**{**{s: s == step for s in STEPS}, **extra})


# ----- each step: an input that needs it, one that must not change


def test_mojibake_is_repaired_where_there_is_some():
    assert fix_mojibake("The Mona Lisa doesnâ€™t have eyebrows. CafÃ© au lait, naÃ¯ve.") == (
        "The Mona Lisa doesn’t have eyebrows. Café au lait, naïve."
    )
    assert fix_mojibake("ÐŸÑ€Ð¸Ð²ÐµÑ‚") == "Привет"  # UTF-8 Cyrillic read as Windows-1252


def test_mojibake_leaves_correct_text_alone():
    assert fix_mojibake(CLEAN) == CLEAN
    assert fix_mojibake("Ã€ la carte: Ã is a letter in Portuguese (São Paulo, maçã).") != ""
    assert (
        fix_mojibake("São Paulo, maçã, coração, Ñandú, Øresund, Ærø.")
        == "São Paulo, maçã, coração, Ñandú, Øresund, Ærø."
    )


def test_nfc_composes_and_leaves_composed_text_alone():
    decomposed = unicodedata.normalize("NFD", "Crème brûlée, Ångström")
    assert decomposed != "Crème brûlée, Ångström"
    assert normalize_nfc(decomposed) == "Crème brûlée, Ångström"
    assert normalize_nfc(CLEAN) == CLEAN


def page(head: str, body: list[str], foot: str) -> str:
    return "\n".join([head, *body, foot])


WORDS = ["gull", "tern", "rock", "pier", "lamp", "oil", "wick", "rope", "boat"]
WORDS += ["sail", "mast", "keel", "tide", "wave", "reef", "cove", "bay", "cliff"]


def body(n: int) -> list[str]:
    """A page's worth of lines of its own (no two pages alike, as in a real document)."""
    return [f"The {WORDS[(n * 6 + k) % 18]} and the {WORDS[(n * 5 + 2 * k) % 17]} at dawn." for k in range(6)]


def test_page_furniture_removed_from_the_page_edges():
    pages = [page("The Annals of Testing", body(i), f"Page {i + 1} of 6") for i in range(6)]
    pages[2] = page("- 3 -", body(2), "The Annals of Testing")  # numbered the other way, head at the foot
    cleaned = strip_page_furniture(pages)
    assert cleaned == ["\n".join(body(i)) for i in range(6)]


def test_page_furniture_leaves_body_text_and_short_documents_alone():
    two = [page(f"Chapter {n}", body(n), f"{n * 7} ships were lost.") for n in (1, 2)]
    assert strip_page_furniture(two) == two  # two pages: nothing can repeat enough
    chapters = [page(f"Chapter {n // 5}" if n % 5 == 0 else body(n + 1)[0], body(n), "Amen.") for n in range(20)]
    kept = strip_page_furniture(chapters)
    assert [p.split("\n")[0] for p in kept] == [
        p.split("\n")[0] for p in chapters
    ]  # chapter starts are no running head
    assert all(not p.endswith("Amen.") for p in kept)  # a line closing every page is a footer


def test_hyphenated_line_ends_are_joined():
    assert join_hyphens("an exam-\nple of it") == "an example\nof it"
    assert join_hyphens("co\u00adop-\n  eration is") == "cooperation\nis"
    assert join_hyphens("trans-\nformation") == "transformation"


def test_hyphens_that_belong_there_stay():
    for text in ("well-\nKnown names", "1990-\n2000", "a dash - \nthen", "end-\n\nnew paragraph", CLEAN):
        assert join_hyphens(text) == text


def test_wrapped_lines_become_paragraphs_and_paragraph_text_stays():
    wrapped = (
        "The first paragraph runs over two lines of the\npage and ends here.\n"
        "A heading\nThe second paragraph also runs over more than\none line, like the first one did before\n"
        "it ended.\nShort end."
    )
    assert reflow(wrapped) == (
        "The first paragraph runs over two lines of the page and ends here.\n\nA heading\n\n"
        "The second paragraph also runs over more than one line, like the first one did before it ended.\n\n"
        "Short end."
    )
    assert reflow("One line only.") == "One line only."


def test_whitespace_runs_collapse():
    assert collapse_whitespace("\n\na  b\t\tc   \n\n\n\n  d  e\n\n") == "a b c\n\n  d e"


def test_whitespace_that_means_something_stays():
    for text in ("one space\n\none blank line", "    indented code\n\ttab indented", "a\tb\tc"):
        assert collapse_whitespace(text) == text


def test_duplicate_paragraphs_are_removed_and_counted():
    seen = ParagraphSet()
    notice = "This notice is repeated at the end of every chapter of the book."
    text, dropped = drop_duplicates(f"First chapter.\n\n{notice}\n\nSecond.\n\n{notice}", seen)
    assert text == f"First chapter.\n\n{notice}\n\nSecond." and dropped == 1
    assert drop_duplicates(f"Another document.\n\n{notice}", seen) == ("Another document.", 1)  # across documents


def test_short_and_distinct_paragraphs_are_not_duplicates():
    seen = ParagraphSet()
    text = "Yes.\n\nNo.\n\nYes.\n\nThe first long paragraph of the text, long enough.\n\nThe second one, just as long."
    assert drop_duplicates(text, seen) == (text, 0)


def test_paragraph_set_grows_and_remembers():
    seen = ParagraphSet(capacity=8)
    assert all(seen.add(f"paragraph {i}") for i in range(5000))
    assert not any(seen.add(f"paragraph {i}") for i in range(5000))
    assert len(seen) == 5000


def test_short_documents_are_dropped_and_long_ones_kept():
    cleaner = Cleaner(CleanupOptions(min_chars=20))
    assert cleaner.clean(Document("Too short.")) == ""
    assert cleaner.clean(Document("This document is long enough to keep.")) == "This document is long enough to keep."
    assert cleaner.stats.short_documents == 1 and cleaner.stats.removed["short"] == len("Too short.")
    assert Cleaner(CleanupOptions(short=False)).clean(Document("Short.")) == "Short."


def test_a_long_document_in_pieces_is_judged_as_a_whole():
    cleaner = Cleaner(CleanupOptions(min_chars=20))
    pieces = [Document("Tiny.\n\n", more=True), Document("Also tiny.\n\n", more=True), Document("Third bit.")]
    written = "".join(cleaner.clean(d) for d in pieces)
    assert written == "Tiny.\n\nAlso tiny.\n\nThird bit."  # pieces joined, paragraph breaks kept
    assert cleaner.stats.short_documents == 0 and cleaner.stats.documents == 1
    cleaner = Cleaner(CleanupOptions(min_chars=100))
    assert "".join(cleaner.clean(d) for d in pieces) == "" and cleaner.stats.short_documents == 1


# ----- the cleaner as a whole


def test_stats_count_each_step_and_add_up():
    cleaner = Cleaner(CleanupOptions(min_chars=10))
    notice = "Printed by the Lighthouse Society, all rights reserved."
    docs = [
        Document(f"CafÃ©  au lait,   exam-\nple.\n\n\n\n{notice}"),
        Document(unicodedata.normalize("NFD", "Crème") + f" brûlée.\n\n{notice}"),
        Document("Tiny"),
    ]
    out = [cleaner.clean(d) for d in docs]
    assert out == [f"Café au lait, example.\n\n{notice}", "Crème brûlée.", ""]
    s = cleaner.stats
    assert s.removed["mojibake"] == 1 and s.removed["nfc"] == 1 and s.removed["hyphens"] == 2
    assert s.removed["whitespace"] == 5 and s.duplicate_paragraphs == 1 and s.short_documents == 1
    assert s.chars_in - sum(s.removed.values()) == s.chars_out == sum(map(len, out))
    assert s.describe("them") == (
        "Removed from them: 1 character of mis-decoded text, 1 character of Unicode normalisation, 2 characters "
        "of hyphenated line ends, 5 characters of extra spaces and blank lines, 1 duplicate paragraph (57 "
        "characters), 1 short document (4 characters)."
    )
    assert CleanupStats.from_dict(s.to_dict()) == s and CleanupStats().describe("it") == "Nothing to clean in it."


def test_every_step_off_leaves_text_as_it_is():
    cleaner = Cleaner(CleanupOptions.none())
    text = "CafÃ©  au lait,   exam-\nple.\n\n\n\nx"
    assert cleaner.clean(Document(text)) == text
    assert sum(cleaner.stats.removed.values()) == 0


@settings(max_examples=60, deadline=None)
@given(text=st.lists(st.sampled_from([*"ab é-\n\t\u00adÃ©â€™", "e\u0301"]), max_size=120).map("".join))
def test_stats_always_account_for_every_character(text):
    cleaner = Cleaner(CleanupOptions(min_chars=5))
    out = cleaner.clean(Document(text))
    s = cleaner.stats
    assert s.chars_in - sum(s.removed.values()) == s.chars_out == len(out)


def test_options_round_trip_and_ignore_junk():
    options = CleanupOptions(mojibake=False, min_chars=200, plain_text=True)
    assert CleanupOptions.from_dict(options.to_dict()) == options
    assert CleanupOptions.from_dict({"nfc": "yes", "min_chars": True, "unknown": 1}) == CleanupOptions()
    assert CleanupOptions.from_dict(None) == CleanupOptions()
    assert CleanupOptions.none().enabled() == [] and CleanupOptions().enabled() == list(STEPS)


# ----- preview


@pytest.mark.parametrize("step", ["mojibake", "hyphens", "whitespace"])
def test_preview_spans_rebuild_before_and_after(step):
    doc = Document("CafÃ©  au lait,   exam-\nple text.\n\n\n\nThe end of it all, really.")
    p = preview(doc, only(step))
    assert "".join(t for op, t in p.spans if op != "insert") == p.before == doc.text
    assert "".join(t for op, t in p.spans if op != "delete") == p.after
    assert any(op != "equal" for op, _ in p.spans)
    assert p.stats.removed[step] > 0 and sum(p.stats.removed.values()) == p.stats.removed[step]


def test_diff_of_unchanged_text_is_one_equal_span():
    assert diff_spans("same text", "same text") == [("equal", "same text")]
    assert diff_spans("ab", "b") == [("delete", "a"), ("equal", "b")]
