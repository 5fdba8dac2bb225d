"""The one rule for a query argument given more than once.

`?state=open&state=paid` on a filter that takes one state used to take the
first value without a word. An argument that takes one value is refused when
repeated, with this message beside it (a 400 problem+json on the API, keyed
`query.NAME`; the page's form message on pages); an argument that takes a list
(the API's `List` fields, a page's checkboxes) takes every value given.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from werkzeug.datastructures import MultiDict


def repeated(
    args: Mapping[str, str], lists: Collection[str] = (), *, among: Collection[str] | None = None
) -> dict[str, list[str]]:
    """The message for each argument of `args` given more than once that takes
    one value (every name not in `lists`; of a page's form, only its fields,
    `among`); empty when there is none, or when `args` holds one value a name."""
    if not isinstance(args, MultiDict):
        return {}
    return {
        name: [message(name, count)]
        for name in args
        if name not in lists
        and (among is None or name in among)
        and (count := len(args.getlist(name))) > 1
    }


def message(name: str, count: int) -> str:
    return f"Give {name} once: it takes one value, and it was given {count} times."
