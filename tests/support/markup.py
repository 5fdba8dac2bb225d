"""Reading a page's HTML the way assistive technology relies on it: ids, labels,
ARIA references."""

from __future__ import annotations

import re
from collections import Counter
from html.parser import HTMLParser


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.attributes: list[tuple[str, str, str]] = []  # (tag, name, value)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name == "id" and value is not None:
                self.ids.append(value)
            self.attributes.append((tag, name, value or ""))


def _collect(html: str) -> _Collector:
    collector = _Collector()
    collector.feed(html)
    return collector


def duplicate_ids(html: str) -> list[str]:
    return sorted(name for name, count in Counter(_collect(html).ids).items() if count > 1)


def dangling_references(html: str) -> list[str]:
    """`for`, `aria-describedby` and `aria-labelledby` values naming no element."""
    found = _collect(html)
    ids = set(found.ids)
    dangling = []
    for tag, name, value in found.attributes:
        if name in {"for", "aria-describedby", "aria-labelledby"}:
            dangling += [f"<{tag} {name}={ref!r}>" for ref in value.split() if ref not in ids]
    return dangling


def none_attributes(html: str) -> list[str]:
    """Attributes rendered from a Python None (`aria-invalid="None"`)."""
    return [f"<{tag} {name}>" for tag, name, value in _collect(html).attributes if value == "None"]


def selectable_row(page: str, record_id: int) -> str:
    """A queue's table row (`<tr>` to `</tr>`) whose first cell's checkbox selects
    `record_id`, as the page wrote it."""
    found = re.search(rf"<tr[^>]*>\s*<td><input[^>]*value=\"{record_id}\".*?</tr>", page, re.DOTALL)
    assert found, f"no row selecting {record_id}"
    return found.group(0)
