"""Reading a page's days as a person reads them (round 57): a day or a month in the
sentences and notices of a page is in words ("January 31, 2027", "March 2027"), as
emails and PDFs write them since round 56 (`tests/support/emails.py`).

What machines and tables read may keep ISO 8601, and is read apart: a table's cells,
a form's inputs (a field's value, a select's options, a textarea), and a `<time>`
element, whose `datetime` attribute carries the ISO day beside the words a person
reads. Attributes are never text. Scripts, styles and `<code>` are not sentences.
"""

from __future__ import annotations

import re
from datetime import date
from html.parser import HTMLParser

from licensing.calendar import day_text

# A day or a month as a machine writes it ("2027-05-02", "2027-03"); a reference's
# year ("INV-2027-000012", "CPT-2027-000001") is no day.
ISO_DAY = re.compile(r"(?<![\w-])\d{4}-\d{2}(?:-\d{2})?(?![\w-])")

# Elements whose text is not a sentence, or keeps ISO by design.
_APART = frozenset(
    {"table", "time", "input", "textarea", "select", "option", "script", "style", "code", "pre"}
)
# Elements with no end tag: never opened on the stack.
_VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
)


class _Sentences(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.texts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _VOID:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.open:
            # Close up to the last `tag` opened (an unclosed <p> or <li> closes with it).
            while self.open and self.open.pop() != tag:
                pass

    def handle_data(self, data: str) -> None:
        if not _APART.intersection(self.open):
            self.texts.append(data)


def sentence_text(html: str) -> str:
    """The page's text a person reads as sentences and notices, spaces squeezed."""
    reader = _Sentences()
    reader.feed(html)
    reader.close()
    return re.sub(r"\s+", " ", " ".join(reader.texts))


def iso_days(html: str) -> list[str]:
    """Each day or month written YYYY-MM-DD (or YYYY-MM) in the page's sentences, with
    the words around it, so a failure says where it is."""
    text = sentence_text(html)
    return [
        text[max(0, found.start() - 60) : found.end() + 30].strip()
        for found in ISO_DAY.finditer(text)
    ]


class _CellNotes(HTMLParser):
    """The notes under a table cell's value (`<span class="muted">` in a `<td>`): the
    queues' sentences ("The licensee is emailed on ... if it is still not renewed.",
    "Ends in 20 days. The requester is emailed on ... that it ends.", "use ... to
    ..."), read apart from the cells' days, which keep ISO."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.cells = 0
        self.depth = 0  # spans open inside the note being read, itself included
        self.notes: list[list[str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "td":
            self.cells += 1
        elif tag == "span" and self.depth:
            self.depth += 1
        elif tag == "span" and self.cells and "muted" in (dict(attrs).get("class") or "").split():
            self.depth = 1
            self.notes.append([])

    def handle_endtag(self, tag: str) -> None:
        if tag == "td":
            self.cells = max(0, self.cells - 1)
        elif tag == "span" and self.depth:
            self.depth -= 1

    def handle_data(self, data: str) -> None:
        if self.depth:
            self.notes[-1].append(data)


def cell_notes(html: str) -> list[str]:
    """The text of each note under a table cell's value (round 58), `<time>` elements
    read as their words: sentences, whose days are in words as a page's are."""
    reader = _CellNotes()
    reader.feed(html)
    reader.close()
    return [re.sub(r"\s+", " ", "".join(note)).strip() for note in reader.notes]


def in_words(message: str) -> str:
    """A service's message as a page says it (round 58, `web.filters.days_in_words`):
    each ISO day of it in words, and each instant at the office ("2026-12-06 10:52:37
    (US Central time)") as "December 6, 2026 at 10:52:37 AM (US Central time)", after
    "at" as "at 10:52:37 AM on December 6, 2026 (US Central time)" (round 59); the rest
    as written. For tests that hold the API and a page to one message."""
    message = re.sub(
        r"(?<![\w-])(\bat )?(\d{4}-\d{2}-\d{2}) (\d{2}):(\d{2})(:\d{2})? (\([^()]* time\))",
        _instant_in_words,
        message,
    )
    return re.sub(
        r"(?<![\w-])\d{4}-\d{2}-\d{2}(?![\w-])",
        lambda found: day_text(date.fromisoformat(found.group())),
        message,
    )


def _instant_in_words(found: re.Match[str]) -> str:
    at, day, hour, minute, seconds, zone = found.groups()
    noon = "PM" if int(hour) >= 12 else "AM"
    clock = f"{(int(hour) - 1) % 12 + 1}:{minute}{seconds or ''} {noon}"
    if at:  # round 59: "at 10:00 AM on March 15, 2027", not "at March 15, 2027 at 10:00 AM"
        return f"at {clock} on {day_text(date.fromisoformat(day))} {zone}"
    return f"{day_text(date.fromisoformat(day))} at {clock} {zone}"
