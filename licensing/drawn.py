"""Documents drawn once (round 55): a drawn PDF kept by a digest of what it shows,
so that asking again for a document whose data has not changed is served without
drawing it again, and never a document whose data has.

The data is read on every request, as before; only the drawing is skipped. The key
is the SHA-256 of the document's kind and every value the renderer is given
(`digest`: frozen dataclasses, named tuples, tuples and plain values, and nothing
else, so that no value whose text leaves out its content can stand for it). Two
requests that read the same data get the same key and the same bytes (the renderers
are deterministic, reportlab's `invariant` mode); a payment, a credit note, a renamed
licensee or another minute on the document's "as of" changes the key.

The copies are the process's own (each server worker keeps its own), least recently
used first out, within `DRAWN_BYTES` in all; a document over `DRAWN_DOCUMENT_BYTES`
is drawn every time and not kept.
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal

# What the process keeps in all, and the largest document it keeps.
DRAWN_BYTES = 16 * 1024 * 1024
DRAWN_DOCUMENT_BYTES = 2 * 1024 * 1024

_PLAIN = (str, int, bool, Decimal, date, datetime, type(None))


def _parts(value: object, out: list[str]) -> None:
    """`value`'s canonical text, appended to `out`: its type named at each level, so
    that 1 and "1" never share a key. A Decimal by its value, not its scale (round
    56): the renderers print every amount to its currency's digits (`format_amount`),
    and an invoice's total read back from SQLite (1200.0000) drew the statement again
    beside the same total set in Python (1200.00). A renderer that prints a Decimal's
    own scale must not be drawn through here."""
    if isinstance(value, Decimal):
        out.append(f"Decimal:{value.normalize()!r}" if value else "Decimal:0")
        return
    if isinstance(value, _PLAIN):
        out.append(
            f"{type(value).__name__}:{value.isoformat() if isinstance(value, date) else value!r}"
        )
        return
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out.append(f"{type(value).__qualname__}(")
        for each in dataclasses.fields(value):
            out.append(f"{each.name}=")
            _parts(getattr(value, each.name), out)
        out.append(")")
        return
    if isinstance(value, tuple | list):
        out.append(f"{type(value).__qualname__}[{len(value)}](")
        for item in value:
            _parts(item, out)
        out.append(")")
        return
    raise TypeError(
        f"A drawn document's data holds a {type(value).__qualname__}, which digest() does "
        "not know how to read: give the renderer dataclasses, tuples and plain values."
    )


def digest(kind: str, shown: object) -> str:
    """The SHA-256 of `kind` and everything in `shown` (`TypeError` for a value it
    cannot read whole)."""
    out: list[str] = [kind]
    _parts(shown, out)
    return hashlib.sha256("\x1f".join(out).encode("utf-8")).hexdigest()


class DrawnCopies:
    """Drawn documents by key, least recently used first out, within `limit` bytes
    in all; one over `largest` bytes is never kept."""

    def __init__(self, limit: int = DRAWN_BYTES, largest: int = DRAWN_DOCUMENT_BYTES) -> None:
        self.limit, self.largest = limit, largest
        self._kept: OrderedDict[str, bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    @property
    def size(self) -> int:
        return self._size

    def __len__(self) -> int:
        return len(self._kept)

    def clear(self) -> None:
        with self._lock:
            self._kept.clear()
            self._size = 0

    def drawn(self, kind: str, shown: object, draw: Callable[[], bytes]) -> bytes:
        """The document of `kind` that shows `shown`: kept bytes when the same data
        was drawn before, else `draw()`'s, kept for the next time."""
        key = digest(kind, shown)
        with self._lock:
            found = self._kept.get(key)
            if found is not None:
                self._kept.move_to_end(key)
                return found
        content = draw()  # outside the lock: another request may draw meanwhile
        if len(content) <= self.largest:
            with self._lock:
                if key not in self._kept:
                    self._kept[key] = content
                    self._size += len(content)
                while self._size > self.limit:
                    _oldest, dropped = self._kept.popitem(last=False)
                    self._size -= len(dropped)
        return content


# The process's copies (each server worker its own).
COPIES = DrawnCopies()
