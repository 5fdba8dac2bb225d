"""Round 56: the overdue run's sweep for late fees no email has named
(`overdue._with_unnamed_late_fees`) read every late fee's entry of
`ix_invoices_late_fees` each run (round 55: grouped by organization, 20,000 entries
at 20,000 late fees), though only the fees after each organization's last email can
still be unnamed. It now walks the index an organization at a time, two entries
each: the organizations it finds are the same, and what it reads does not grow with
the late fees an organization has been charged.

What it reads is counted by the database: on SQLite the virtual machine's steps (a
progress handler called at every step), on PostgreSQL the rows each scan of the late
fees' index returned (`EXPLAIN ANALYZE`), priced on 2,000 manual invoices beside the
late fees, ANALYZEd in the test's transaction (round 58, plans58b), not on the counts
earlier tests left in `pg_class`."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Select, func, select

from licensing import db
from licensing.actors import Actor
from licensing.billing.models import LATE_FEES, Invoice, LateFeeEmail
from licensing.billing.services.invoices import Charge, create_invoice
from licensing.billing.states import LATE_FEE, MANUAL
from tests.support import factories
from tests.support.plans import analyzed, copied, sent

overdue = sys.modules["licensing.billing.services.overdue"]

ISSUED = datetime(2027, 3, 17, 18, 0, tzinfo=UTC)


def _invoice(organization_id: int, source_type: str, **fields: Any) -> int:
    """A draft invoice of the organization's (the sweep reads the source, not the
    state): its id."""
    with db.transaction() as session:
        return create_invoice(
            session,
            organization_id=organization_id,
            currency="USD",
            charges=[Charge("Late fee, month 1 overdue", Decimal("15.00"), "1.5% x 1000.00")],
            source_type=source_type,
            payment_terms_days=30,
            late_fee_monthly_percent=Decimal(0),
            finalize=False,
            email=False,
            now=ISSUED,
            actor=Actor.SYSTEM,
            **fields,
        ).id


def _late_fees(organization_id: int, count: int) -> list[int]:
    parent = _invoice(organization_id, MANUAL)
    return [
        _invoice(
            organization_id,
            LATE_FEE,
            source_id=parent,
            parent_invoice_id=parent,
            late_fee_through_month=1,
        )
        for _ in range(count)
    ]


def _emailed(organization_id: int, through: int, day: date = date(2027, 3, 17)) -> None:
    with db.transaction() as session:
        session.add(
            LateFeeEmail(organization_id=organization_id, day=day, through_invoice_id=through)
        )


def _organization() -> int:
    organization_id = factories.make_vendor(db.session()).organization_id
    db.session().commit()
    return organization_id


def _grouped() -> Select[Any]:
    """Round 55's reading: every late fee's entry, grouped by organization."""
    last_named = (
        select(func.max(LateFeeEmail.through_invoice_id))
        .where(LateFeeEmail.organization_id == Invoice.organization_id)
        .correlate(Invoice)
        .scalar_subquery()
    )
    return (
        select(Invoice.organization_id)
        .where(LATE_FEES)
        .group_by(Invoice.organization_id)
        .having(func.max(Invoice.id) > func.coalesce(last_named, 0))
        .order_by(Invoice.organization_id)
    )


def _found() -> list[int]:
    return list(db.session().scalars(overdue._with_unnamed_late_fees()))


def test_the_sweep_finds_the_organizations_with_late_fees_after_their_last_email(
    app: Flask,
) -> None:
    named = _organization()
    _emailed(named, _late_fees(named, 3)[-1])
    partly = _organization()
    fees = _late_fees(partly, 3)
    _emailed(partly, fees[0], date(2027, 2, 17))
    _emailed(partly, fees[1])
    never_emailed = _organization()
    _late_fees(never_emailed, 2)
    # An email that named fees another organization's ids follow, and one with none.
    emailed_without_fees = _organization()
    _emailed(emailed_without_fees, fees[-1] + 1000)
    _invoice(_organization(), MANUAL)

    assert _found() == [partly, never_emailed]
    assert _found() == list(db.session().scalars(_grouped()))

    _emailed(partly, fees[-1], date(2027, 4, 17))
    assert _found() == [never_emailed]


def test_the_sweep_finds_nothing_without_late_fees(app: Flask) -> None:
    _invoice(_organization(), MANUAL)
    assert _found() == []


def _sqlite_steps(statement: Select[Any]) -> int:
    raw = db.session().connection().connection.driver_connection
    steps = [0]

    def step() -> int:
        steps[0] += 1
        return 0

    raw.set_progress_handler(step, 1)
    try:
        db.session().execute(statement).all()
    finally:
        raw.set_progress_handler(None, 1)
    return steps[0]


def _rows_from_the_late_fees_index(statement: Select[Any]) -> int:
    """The rows every scan of `ix_invoices_late_fees` returned, over all its loops."""
    sql, values = sent(statement, containing="late_fee")
    connection = db.session().connection()
    analyzed("invoices", "late_fee_emails")
    connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
    lines = [str(row[0]) for row in connection.exec_driver_sql(f"EXPLAIN ANALYZE {sql}", values)]
    total = 0
    for line in lines:
        if "ix_invoices_late_fees" in line and "Scan" in line:
            found = re.search(r"actual time=\S+ rows=(\d+) loops=(\d+)", line)
            assert found, "\n".join(lines)
            total += int(found[1]) * int(found[2])
    assert total, "\n".join(lines)
    return total


def _work(statement: Select[Any]) -> int:
    if db.session().connection().dialect.name == "sqlite":
        return _sqlite_steps(statement)
    return _rows_from_the_late_fees_index(statement)


@pytest.mark.parametrize(
    ("sweep", "grows"),
    [(lambda: overdue._with_unnamed_late_fees(), False), (_grouped, True)],
    ids=["the sweep", "round 55's grouped reading"],
)
def test_what_the_sweep_reads_does_not_grow_with_the_late_fees_already_named(
    app: Flask, sweep: Callable[[], Select[Any]], grows: bool
) -> None:
    organizations = [_organization() for _ in range(3)]
    for organization_id in organizations:
        _emailed(organization_id, _late_fees(organization_id, 4)[-1])
    _late_fees(organizations[1], 1)  # one unnamed
    # Invoices that are not late fees, copies of a parent: reading every invoice is
    # then priced as at size beside the late fees' index (analyzed in `_work`).
    parent = db.session().scalars(select(func.min(Invoice.id))).one()
    copied(Invoice.__table__, parent, 2000, lambda n: {})
    before = _work(sweep())
    for organization_id in organizations:
        _emailed(organization_id, _late_fees(organization_id, 20)[-1], date(2027, 4, 17))
    _late_fees(organizations[1], 1)
    after = _work(sweep())

    assert list(db.session().scalars(sweep())) == [organizations[1]]
    # Sixty more late fees, named: the grouped reading reads each of them.
    assert (after > before + 50) is grows, (before, after)
