"""Gapless document numbers: `INV-2027-000001`, `CN-2027-000001`.

A number is taken inside the transaction that issues the document: the
sequence row of its series and year is locked (`SELECT ... FOR UPDATE` on
PostgreSQL; SQLite's single writer lock does the same), incremented and
released at commit. A transaction that rolls back gives its number back, so
there are no gaps; two transactions never read the same last number, so there
are no duplicates.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from licensing import references
from licensing.billing.models import NumberSequence

INVOICE_SERIES = references.INVOICE
CREDIT_NOTE_SERIES = references.CREDIT_NOTE


def next_number(session: Session, series: references.ByYear, year: int) -> str:
    """Take the next number of `series` in `year`, in the caller's transaction
    (its row is the series' prefix; the number is written as the kind writes it)."""
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    # The year's first document creates the row; concurrent first documents
    # both try, and one insert does nothing.
    session.execute(
        insert(NumberSequence)
        .values(series=series.prefix, year=year, last_number=0)
        .on_conflict_do_nothing(index_elements=["series", "year"])
    )
    sequence = session.execute(
        select(NumberSequence)
        .where(NumberSequence.series == series.prefix, NumberSequence.year == year)
        .with_for_update()
    ).scalar_one()
    sequence.last_number += 1
    session.flush()
    return series(year, sequence.last_number)
