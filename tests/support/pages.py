"""Reading a page the way a person reads it: its text, without the markup."""

from __future__ import annotations

import html
import re
from typing import Any


def text_of(response: Any) -> str:
    """The page's text, tags dropped and spaces squeezed, for sentences."""
    without_tags = re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))
    return re.sub(r"\s+", " ", html.unescape(without_tags))
