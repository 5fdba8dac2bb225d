"""Reading a page the way a person reads it: its text, without the markup."""

from __future__ import annotations

import html
import re
from typing import Any


def text_of(response: Any) -> str:
    """The page's text, tags dropped and spaces squeezed, for sentences."""
    without_tags = re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))
    return re.sub(r"\s+", " ", html.unescape(without_tags))


def term_shown(page: str) -> tuple[str, str]:
    """The term a form proposes: its `term_start` and `term_end` fields' values."""
    start = re.search(r'name="term_start"[^>]*value="([^"]*)"', page)
    end = re.search(r'name="term_end"[^>]*value="([^"]*)"', page)
    assert start, page
    assert end, page
    return start.group(1), end.group(1)
