"""A list page's rows as text escaped once, in Python.

A staff queue prints dozens of rows of a dozen cells. Printed from the records
as read, every cell went through Jinja's attribute lookups, filters, URL
functions and autoescaping: a third of a queue page's time. A feature's
`queue_rows.py` turns each row into one tuple of text already escaped with
`escaped` (plus the flags the template branches on), and its template prints
the cells under `{% autoescape false %}` without a lookup, filter or call per
cell. The markup stays in the template. Each queue's tests put markup in every
free text a row shows (`tests/integration/*/test_queue_rows.py`).
"""

from __future__ import annotations

import re
from functools import lru_cache

from markupsafe import escape

from licensing.web.filters import state_words
from licensing.words import right_to_left

NO_VALUE = "—"  # what a cell without a value shows

# What HTML escaping changes; most of a row's text has none of it.
_SPECIAL = re.compile(r"[&<>\"']")


def escaped(value: str) -> str:
    """`value` escaped as Jinja escapes it (markupsafe); looking first is cheaper
    than escaping, which makes two new strings even when nothing changes."""
    return str(escape(value)) if _SPECIAL.search(value) else value


def isolated(value: str) -> str:
    """A name a person typed, escaped and inside `<bdi>`, as the `|isolated` filter
    prints it (round 62: the queues printed requesters', institutions', organizations'
    and products' names bare, so an Arabic or Hebrew name pulled the neighbouring
    punctuation into its own direction). `NO_VALUE` for no name; a name without a
    right-to-left letter as it is (`words.right_to_left`)."""
    if not value:
        return NO_VALUE
    return f"<bdi>{escaped(value)}</bdi>" if right_to_left(value) else escaped(value)


@lru_cache(maxsize=256)
def state_label(value: str, entity_type: str | None = None) -> str:
    """A state in words, escaped, as the `state_badge` macro prints it (there are a
    dozen states): in its machine's words for an `entity_type` whose histories
    register them (`filters.state_words`), else with spaces."""
    if entity_type is None:
        return escaped(value.replace("_", " "))
    return escaped(state_words(value, entity_type, label=True))
