"""Page parts made once per app and kept (a menu, a fixed URL, a drawn select):
each is a pure function of its key, and building it again on every page costs
more than the page's own work."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TypeVar

from flask import current_app

T = TypeVar("T")


def per_app(store: str, key: Hashable, make: Callable[[], T], *, most: int) -> T:
    """`make()` for `key`, made once and kept in `current_app.extensions[store]`.
    A store that reaches `most` values is emptied first: the bound only stops
    growth (a handful of keys in practice)."""
    kept: dict[Hashable, T] = current_app.extensions.setdefault(store, {})
    value = kept.get(key)
    if value is None:
        if len(kept) >= most:
            kept.clear()
        value = kept[key] = make()
    return value
