"""What features register with the shared pages below them (the console's
queues, the portal's waiting items and panels, the organization page's sections):
this toolkit imports no feature, so each feature adds its own when imported."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """Entries in the order they were added, each once (a feature module imported
    again adds nothing twice)."""

    def __init__(self) -> None:
        self._entries: list[T] = []

    def add(self, entry: T) -> T:
        if entry not in self._entries:
            self._entries.append(entry)
        return entry

    def __iter__(self) -> Iterator[T]:
        return iter(self._entries)
