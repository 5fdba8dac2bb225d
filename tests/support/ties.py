"""Rows that tie on a list's leading key, stored out of their id order.

A list whose ORDER BY ties returns the tied rows in the order the database
meets them. SQLite meets a table's rows in id order (the id is its rowid) even
with `reverse_unordered_selects` on (it reverses only a SELECT without an ORDER
BY), so there a tie always looks broken by the id. PostgreSQL meets them as they
lie in the table or in the index it reads, and an UPDATE writes a row's new
version after the others: a row rewritten here comes after the rows made later,
unless the ORDER BY ends in the id. The tests that use this show the tie on
PostgreSQL (run them with `CI=true`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import inspect, update
from sqlalchemy.orm import Session


def rewritten(session: Session, record: Any, through: dict[str, Any] | None = None) -> None:
    """`record`'s row written again, unchanged in the end: on PostgreSQL after every
    other row of its table.

    A list read through an index needs `through`: values of indexed columns the row
    is written with first, then written back. PostgreSQL keeps the index entries of
    a row whose indexed columns did not change where they were (a HOT update), and
    an index scan would still meet the row first."""
    session.flush()
    table = type(record).__table__
    row = table.c.id == record.id
    if through:
        kept = {name: getattr(record, name) for name in through}
        session.execute(update(table).where(row).values(through))
        session.execute(update(table).where(row).values(kept))
    else:
        session.execute(update(table).where(row).values(id=table.c.id))
    session.expire(record)
    assert inspect(record).persistent
