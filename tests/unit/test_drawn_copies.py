"""Round 55: drawn documents kept by a digest of what they show, within a bound
(`licensing.drawn`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from licensing.drawn import DrawnCopies, digest


@dataclass(frozen=True)
class _Shown:
    day: date
    amount: Decimal
    lines: tuple[str, ...]


def test_the_digest_reads_every_value_and_its_type() -> None:
    shown = _Shown(date(2027, 3, 1), Decimal("1.00"), ("INV-2027-000001",))
    assert digest("statement", shown) == digest("statement", _Shown(*vars(shown).values()))
    assert digest("statement", shown) != digest("report", shown)
    others = (
        _Shown(date(2027, 3, 2), Decimal("1.00"), ("INV-2027-000001",)),
        # Another value (round 56: an amount's scale alone is not what is printed).
        _Shown(date(2027, 3, 1), Decimal("1.01"), ("INV-2027-000001",)),
        _Shown(date(2027, 3, 1), Decimal("1.00"), ("INV-2027-000001", "")),
    )
    assert len({digest("statement", each) for each in (shown, *others)}) == 4
    assert digest("x", (1,)) != digest("x", ("1",))
    moment = datetime(2027, 3, 1, 15, 0, tzinfo=UTC)
    assert digest("x", moment) != digest("x", moment.replace(second=1))


def test_a_value_the_digest_cannot_read_whole_is_refused_rather_than_guessed() -> None:
    # An object's default text names its address, which a later object may reuse
    # with other content: a copy kept under it could be served for other data.
    with pytest.raises(TypeError, match="dataclasses, tuples and plain values"):
        digest("statement", (object(),))
    with pytest.raises(TypeError):
        digest("statement", {"closing": Decimal("1.00")})


def test_the_same_data_is_drawn_once_and_other_data_drawn_anew() -> None:
    copies = DrawnCopies()
    draws: list[str] = []

    def draw(text: str) -> bytes:
        draws.append(text)
        return text.encode()

    assert copies.drawn("statement", ("a",), lambda: draw("a")) == b"a"
    assert copies.drawn("statement", ("a",), lambda: draw("again")) == b"a"
    assert copies.drawn("statement", ("b",), lambda: draw("b")) == b"b"
    assert draws == ["a", "b"]


def test_the_copies_stay_within_their_bound_the_least_recently_used_out_first() -> None:
    copies = DrawnCopies(limit=10, largest=6)
    for name in ("a", "b"):
        copies.drawn("doc", (name,), lambda: b"1234")
    copies.drawn("doc", ("a",), lambda: b"drawn again")  # a used: b is now the oldest
    copies.drawn("doc", ("c",), lambda: b"1234")
    assert (len(copies), copies.size) == (2, 8)
    assert copies.drawn("doc", ("a",), lambda: b"drawn again") == b"1234"
    assert copies.drawn("doc", ("b",), lambda: b"4321") == b"4321"  # dropped, drawn anew
    # One larger than the largest kept is drawn each time and never kept.
    assert copies.drawn("doc", ("big",), lambda: b"1234567") == b"1234567"
    assert copies.drawn("doc", ("big",), lambda: b"7654321") == b"7654321"
    assert copies.size <= 10


def test_an_amount_is_read_by_its_value_not_the_scale_the_database_gave_it() -> None:
    """Round 56: a statement drawn from a total set in Python (1200.00) and again from
    the same total read back from SQLite (1200.0000) drew twice; what is printed is the
    value to the currency's digits, so the two share a key, and another value does not."""
    day = date(2027, 3, 1)
    numbers = ("INV-2027-000001",)
    assert digest("statement", _Shown(day, Decimal("1200.00"), numbers)) == digest(
        "statement", _Shown(day, Decimal("1200.0000"), numbers)
    )
    assert digest("statement", _Shown(day, Decimal("0.00"), numbers)) == digest(
        "statement", _Shown(day, Decimal("-0"), numbers)
    )
    assert digest("statement", _Shown(day, Decimal("1200.00"), numbers)) != digest(
        "statement", _Shown(day, Decimal("1200.01"), numbers)
    )
    assert digest("x", (Decimal("1"),)) != digest("x", (1,))
