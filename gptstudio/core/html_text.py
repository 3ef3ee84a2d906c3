"""HTML to plain text: the words a reader sees, in reading order, with the paragraphs kept.

Used for .html/.htm files, the chapters of an EPUB and rendered Markdown. What is not text is left
out: the head, scripts, styles, navigation, site headers and footers, forms, hidden elements and
tables of contents (HTML roles and EPUB types say which). Block elements end a paragraph (a blank
line) or a line (list items, table rows, <br>); other whitespace collapses the way a browser
collapses it, and <pre> keeps its lines. Built on the standard library's HTMLParser and fed in
pieces, so a large page never needs a document tree in memory.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

# elements whose content is never text
SKIPPED = frozenset(
    [
        "head",
        "script",
        "style",
        "noscript",
        "template",
        "svg",
        "math",
        "canvas",
        "iframe",
        "object",
        "embed",
        "audio",
        "video",
        "nav",
        "aside",
        "form",
        "button",
        "select",
        "textarea",
        "datalist",
        "dialog",
        "menu",
    ]
)
# kept inside an article (its title, its own header) but skipped around it (the site's banner)
PAGE_FURNITURE = frozenset(["header", "footer"])
# roles and EPUB types of navigation and tables of contents
SKIPPED_ROLES = frozenset(
    [
        "navigation",
        "banner",
        "contentinfo",
        "complementary",
        "search",
        "menu",
        "menubar",
        "toolbar",
        "doc-toc",
        "doc-pagelist",
        "doc-index",
        "doc-pagebreak",
    ]
)
SKIPPED_EPUB_TYPES = frozenset(["toc", "landmarks", "page-list", "lot", "loi", "pagebreak", "index"])
VOID = frozenset(
    ["area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr"]
)
# a blank line before and after these; a line break around the others
PARAGRAPH = frozenset(
    [
        "p",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "blockquote",
        "pre",
        "table",
        "ul",
        "ol",
        "dl",
        "section",
        "article",
        "main",
        "figure",
        "address",
        "hr",
        "details",
        "summary",
        "caption",
    ]
)
LINE = frozenset(["div", "li", "tr", "dt", "dd", "figcaption", "br", "body", "html"])
CELLS = frozenset(["td", "th"])
_SPACES = re.compile(r"[ \t\n\r\f\v\u00a0\u200b]+")


def _skipped(tag: str, attrs: dict[str, str | None], in_article: bool) -> bool:
    if tag in SKIPPED or (tag in PAGE_FURNITURE and (tag == "footer" or not in_article)):
        return True
    if "hidden" in attrs or (attrs.get("aria-hidden") or "").lower() == "true":
        return True
    if (attrs.get("role") or "").lower() in SKIPPED_ROLES:
        return True
    epub_type = attrs.get("epub:type") or ""
    if any(t in SKIPPED_EPUB_TYPES for t in epub_type.lower().split()):
        return True
    style = (attrs.get("style") or "").replace(" ", "").lower()
    return "display:none" in style or "visibility:hidden" in style


class HtmlText(HTMLParser):
    """Feed HTML in pieces (`feed`), take the finished text as it comes (`take`), then `close`.

    `take()` returns the text of the paragraphs completed so far; the one still open stays until
    more HTML (or `close()`) ends it, so pieces never split a paragraph in the middle.
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._out: list[str] = []  # finished text
        self._line: list[str] = []  # the line being built
        self._break = 0  # line breaks owed before the next text: 1 = new line, 2 = new paragraph
        self._skip: list[str] = []  # open skipped elements (their content is ignored)
        self._pre = 0
        self._article = 0
        self._started = False  # some text was written (no breaks before the first text)

    # ---- the parser's callbacks

    def handle_starttag(self, tag: str, attrs) -> None:
        attributes = {k.lower(): v for k, v in attrs}
        if self._skip:
            if tag == self._skip[-1] and tag not in VOID:
                self._skip.append(tag)  # the same element nested: its end tag must not end the skip
            return
        if _skipped(tag, attributes, self._article > 0):
            if tag not in VOID:
                self._skip.append(tag)
            return
        if tag in ("article", "main"):
            self._article += 1
        if tag == "pre":
            self._pre += 1
        self._block(tag)
        if tag in CELLS and self._line:
            self._line[-1] = self._line[-1].rstrip(" ")  # the space between two cells' tags
            if not self._line[-1].endswith("\t"):
                self._line.append("\t")

    def handle_startendtag(self, tag: str, attrs) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if self._skip:
            if tag == self._skip[-1]:
                self._skip.pop()
            return
        if tag in ("article", "main") and self._article:
            self._article -= 1
        if tag == "pre" and self._pre:
            self._pre -= 1
        self._block(tag)

    def handle_data(self, data: str) -> None:
        if self._skip or not data:
            return
        if self._pre:
            lines = data.split("\n")
            for i, line in enumerate(lines):
                if i:
                    self._owe(1)
                if line:
                    self._write(line)
            return
        text = _SPACES.sub(" ", data)
        if text == " " and not self._line:
            return  # whitespace between blocks
        if not self._line or self._break:
            text = text.lstrip(" ")
        if text:
            self._write(text)

    # ---- output

    def _block(self, tag: str) -> None:
        if tag in PARAGRAPH:
            self._owe(2)
        elif tag in LINE:
            self._owe(1)

    def _owe(self, n: int) -> None:
        self._end_line()
        self._break = max(self._break, n)

    def _write(self, text: str) -> None:
        if self._break and self._started:
            self._out.append("\n" * self._break)
        self._break = 0
        self._started = True
        self._line.append(text)

    def _end_line(self) -> None:
        if self._line:
            line = "".join(self._line)
            self._out.append(line if self._pre else line.rstrip(" \t"))
            self._line = []

    def take(self) -> str:
        """The text finished so far (removed from the parser)."""
        text = "".join(self._out)
        self._out = []
        return text

    def close(self) -> None:
        super().close()
        self._end_line()


def html_to_text(markup: str) -> str:
    """The readable text of an HTML document or fragment (see the module's docstring)."""
    parser = HtmlText()
    parser.feed(markup)
    parser.close()
    return parser.take()
