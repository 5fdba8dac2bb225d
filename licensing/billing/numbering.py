"""Gapless document numbers: `INV-2027-000001`, `CN-2027-000001`.

A number is taken inside the transaction that issues the document: the
sequence row of its series and year is created or incremented by one upsert,
which locks it (a row lock on PostgreSQL; SQLite's single writer lock does the
same) until commit. A transaction that rolls back gives its number back, so
there are no gaps; two transactions never read the same last number, so there
are no duplicates.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from licensing import references
from licensing.billing.models import NumberSequence

INVOICE_SERIES = references.INVOICE
CREDIT_NOTE_SERIES = references.CREDIT_NOTE


def _taking(insert: Any) -> Any:
    """The statement that takes a series' next number in a year: the year's first
    document creates its row at 1, a later one adds 1 to it, in one statement that
    locks the row (round 67, suiteSvc67: an INSERT that did nothing, a SELECT ... FOR
    UPDATE and the UPDATE were three). Concurrent first documents both try; the second
    waits for the first's row and adds to it."""
    row = NumberSequence.__table__
    return (
        insert(row)
        .values(series=bindparam("series"), year=bindparam("year"), last_number=1)
        .on_conflict_do_update(
            index_elements=[row.c.series, row.c.year],
            set_={"last_number": row.c.last_number + 1},
        )
        .returning(row.c.last_number)
    )


_TAKE = {"postgresql": _taking(pg_insert), "sqlite": _taking(sqlite_insert)}


def next_number(session: Session, series: references.ByYear, year: int) -> str:
    """Take the next number of `series` in `year`, in the caller's transaction
    (its row is the series' prefix; the number is written as the kind writes it)."""
    connection = session.connection()
    taken = connection.execute(
        _TAKE[connection.dialect.name], {"series": series.prefix, "year": year}
    ).scalar_one()
    return series(year, taken)
