"""Reading a page the way a person reads it: its text, without the markup."""

from __future__ import annotations

import html
import re
from typing import Any

# A day or an instant in words inside a sentence (round 57: `|dated`, `|timed`) reads
# as its words, with no space before the punctuation after it.
# A name isolated for right-to-left text (round 61, bidi61: `|isolated`, `<bdi>`)
# reads as its words too.
_TIME_TAG = re.compile(r"</?(?:time|bdi)\b[^>]*>")
# A line-break opportunity inside a word (round 58: the CSV panel's columns,
# "line,<wbr>customer_id,...") is no space: the word reads as one.
_WORD_BREAK = re.compile(r"<wbr\s*/?>")


def without_time_tags(html: str) -> str:
    """`html` with its `<time>` elements (round 57) and isolated names' `<bdi>`
    (round 61) read as their words."""
    return _TIME_TAG.sub("", html)


def text_of(response: Any) -> str:
    """The page's text, tags dropped and spaces squeezed, for sentences."""
    page = _WORD_BREAK.sub("", _TIME_TAG.sub("", response.get_data(as_text=True)))
    without_tags = re.sub(r"<[^>]+>", " ", page)
    return re.sub(r"\s+", " ", html.unescape(without_tags))


def term_shown(page: str) -> tuple[str, str]:
    """The term a form proposes: its `term_start` and `term_end` fields' values."""
    start = re.search(r'name="term_start"[^>]*value="([^"]*)"', page)
    end = re.search(r'name="term_end"[^>]*value="([^"]*)"', page)
    assert start, page
    assert end, page
    return start.group(1), end.group(1)


def next_link(page: str, noun: str | None = None, rel: str = "next") -> str | None:
    """Where a list page's pager's *Next* (or, `rel="prev"`, *Previous*) leads
    (`templates/layout/pager.html`), if anywhere; on a page with several pagers,
    that of the list of `noun` ("Pages of invitations")."""
    if noun is not None:
        nav = re.search(
            rf'<nav class="pager actions" aria-label="Pages of {noun}">(.*?)</nav>', page, re.S
        )
        if nav is None:
            return None
        page = nav.group(1)
    found = re.search(rf'<a href="([^"]+)" rel="{rel}">', page)
    return html.unescape(found.group(1)) if found else None


def walk_pages(
    client: Any, url: str, row: str, noun: str | None = None
) -> tuple[list[str], list[str]]:
    """What a list's rows show from `url` on (`row`: a pattern whose group is read
    from each page, in order), following *Next* (of the pager of `noun`, on a page
    with several) to the last page; and the URL of each page walked."""
    seen: list[str] = []
    urls: list[str] = []
    following: str | None = url
    while following is not None:
        urls.append(following)
        answer = client.get(following)
        assert answer.status_code == 200, following
        page = answer.get_data(as_text=True)
        seen += re.findall(row, page)
        following = next_link(page, noun)
    return seen, urls


def confirmation_carried(response: Any) -> str:
    """The signed `confirmation` a confirmation page's form posts back (round 55:
    every console confirmation carries one, `licensing.confirmations`)."""
    found = re.search(r'name="confirmation" value="([^"]*)"', response.get_data(as_text=True))
    assert found, "the page carries no confirmation"
    return html.unescape(found.group(1))
