"""Round 36: the monthly statement run reads only the organizations with something
to state in the month. Each run read every organization ever invoiced in the
currency and not yet sent the month's statement, those with nothing to send
included (a statement's queries each, every day of the month)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Connection, event, insert, select

from licensing import db
from licensing.accounts.models import Organization
from licensing.billing import services
from licensing.billing.models import CreditNote, Payment
from licensing.billing.states import MANUAL
from tests.support.billing import credited, refunded_offline, reversed_offline
from tests.support.copies import copy_invoice, copy_row
from tests.support.monthly_statements import (
    IN_DECEMBER,
    IN_JANUARY,
    JANUARY,
    RUN,
    invoice,
    organization,
    paid,
    statement_emails,
)


@contextmanager
def _statements_counted() -> Iterator[list[str]]:
    """Every SQL statement the database is sent meanwhile."""
    seen: list[str] = []
    engine = db.session().get_bind()

    def note(*args: object) -> None:
        seen.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)


def _quiet(count: int, start: int) -> None:
    """Organizations invoiced and paid in December: nothing to state in January. The
    first through the services; the others copies of its rows (the organization, the
    invoice and its lines, the payment), which is all the run reads of them: making
    each through the services was most of the test's time (97 of them)."""
    first = organization(f"Quiet Labs {start}")
    billed = invoice(first.id, "100.00", IN_DECEMBER)
    paid(billed, date(2026, 12, 5))
    session = db.session()
    organizations = Organization.__table__
    template = dict(
        session.execute(select(organizations).where(organizations.c.id == first.id)).one()._mapping
    )
    for key in ("id", "legal_name_key", "legal_name_sort_key"):  # the name's keys its own
        template.pop(key)
    [payment_id] = session.scalars(select(Payment.id).where(Payment.invoice_id == billed.id))
    for number in range(start + 1, start + count):
        organization_id = session.execute(
            insert(organizations)
            .values({**template, "legal_name": f"Quiet Labs {number}"})
            .returning(organizations.c.id)
        ).scalar_one()
        invoice_id = copy_invoice(
            billed.id,
            organization_id=organization_id,
            number=f"INV-2026-Q{number:04d}",
            source_type=MANUAL,  # one invoice an agreement: the copy is the agreement's none
            source_id=None,
        )
        copy_row(
            Payment.__table__,  # type: ignore[arg-type]
            Payment.__table__.c.id == payment_id,  # type: ignore[attr-defined]
            invoice_id=invoice_id,
            reference=f"W-Q{number}",
        )
    session.commit()


def _active(names: tuple[str, ...]) -> None:
    """Organizations with a movement in January: one owes, one pays, one is credited."""
    owes, pays, credit = (organization(name) for name in names)
    invoice(owes.id, "300.00", IN_JANUARY)
    paid(invoice(pays.id, "200.00", IN_DECEMBER), date(2027, 1, 10))
    billed = invoice(credit.id, "150.00", IN_DECEMBER)
    paid(billed, date(2026, 12, 6))
    credited(billed.id, "50.00", "Seat count lowered", now=datetime(2027, 1, 20, 16, tzinfo=UTC))


def _run_counted() -> tuple[int, services.StatementRun]:
    with _statements_counted() as seen:
        run = services.send_monthly_statements(JANUARY, now=RUN)
    return len(seen), run


def test_the_run_reads_as_much_for_100_organizations_as_for_10_when_3_have_something_to_state(
    app: Flask,
) -> None:
    _active(("Owes Ten", "Pays Ten", "Credited Ten"))
    _quiet(7, 1)
    with_10, run = _run_counted()
    assert len(run.sent) == 3, run.sent
    assert run.nothing_to_send == 7  # counted, not read
    # 90 more with nothing to state, and 3 more with a movement (the first 3 are sent).
    _active(("Owes Hundred", "Pays Hundred", "Credited Hundred"))
    _quiet(90, 8)
    with_100, run = _run_counted()
    assert [line.split(" (")[0] for line in run.sent] == [
        "Owes Hundred",
        "Pays Hundred",
        "Credited Hundred",
    ]
    assert run.nothing_to_send == 97
    # Before round 36 each quiet organization cost its statement's queries (about 15):
    # 97 of them made the run about ten times longer.
    assert with_100 == with_10, (with_10, with_100)
    assert len(statement_emails()) == 6


def test_an_organization_whose_only_movement_is_a_refund_or_a_returned_payment_still_gets_it(
    app: Flask,
) -> None:
    """Paid in full before the month, so no invoice may owe from its own record:
    the refund sent and the payment the bank returned in January are what it states."""
    refunded = organization("Refunded Labs")
    billed = invoice(refunded.id, "100.00", IN_DECEMBER)
    paid(billed, date(2026, 12, 5))
    note = credited(billed.id, "40.00", "Overcharged", now=datetime(2026, 12, 8, 16, tzinfo=UTC))
    refunded_offline(
        note.id,
        "40.00",
        "R-1",
        sent_on=date(2027, 1, 12),
        now=datetime(2027, 1, 12, 18, tzinfo=UTC),
    )
    returned = organization("Returned Labs")
    cheque = invoice(returned.id, "120.00", IN_DECEMBER)
    paid(cheque, date(2026, 12, 5))
    [payment] = cheque.payments
    reversed_offline(
        payment.id,
        "Cheque bounced",
        returned_on=date(2027, 1, 8),
        now=datetime(2027, 1, 8, 18, tzinfo=UTC),
    )
    quiet = organization("Quiet Labs")
    paid(invoice(quiet.id, "100.00", IN_DECEMBER), date(2026, 12, 5))
    db.session().commit()

    due = services.statements_due(db.session(), JANUARY)
    assert due.to_read == [(refunded.id, "USD"), (returned.id, "USD")]
    assert due.quiet == 1
    run = services.send_monthly_statements(JANUARY, now=RUN)
    assert [line.split(" (")[0] for line in run.sent] == ["Refunded Labs", "Returned Labs"]
    assert run.nothing_to_send == 1


# Of each table, rows in other months than January 2027 (the test's month), copied from
# the test's own: enough for PostgreSQL, on the statistics ANALYZE then takes, to
# prefer each month's index over reading the table (round 42).
OTHER_MONTHS = 400


def _in_other_months(connection: Connection) -> None:
    """A statement sent to each of the test's organizations for each of the 400 months
    up to November 2026; each payment and credit note copied 400 times, a day apart
    going back from 30 November 2026 (so none in January; the payments keep their
    state, which does not narrow them). By SQL, in the test's transaction: rolled back
    with it, and fast (about 0.3 s)."""
    connection.exec_driver_sql(
        "INSERT INTO sent_statements (organization_id, currency, month, opening, closing,"  # noqa: S608 - constants
        " last_opening, last_closing, closes_on, sent_to, last_sent_to, sent_at, resends)"
        " SELECT organization_id, currency, month, 0, 0, 0, 0,"
        " month + interval '1 month' - interval '1 day', 'billing@example.com',"
        " 'billing@example.com', month + interval '1 month', 0"
        " FROM (SELECT DISTINCT organization_id, currency FROM invoices) AS invoiced"
        " CROSS JOIN (SELECT (date '2026-11-01' - make_interval(months => shift))::date"
        f" AS month FROM generate_series(0, {OTHER_MONTHS - 1}) AS shift) AS months"
    )
    day = "(date '2026-11-30' - shift)"
    _copied(
        connection,
        Payment.__table__,
        received_on=day,
        settled_at=f"CASE WHEN settled_at IS NULL THEN NULL ELSE {day} + time '18:00' END",
        created_at=f"{day} + time '18:00'",
        reference="reference || '-' || shift",
        idempotency_key="NULL",
        stripe_payment_intent_id="NULL",
    )
    _copied(
        connection,
        CreditNote.__table__,
        issue_date=day,
        issued_at=f"{day} + time '16:00'",
        number="number || '-' || shift",
    )


def _copied(connection: Connection, table: Any, **changed: str) -> None:
    """Each row of `table` copied OTHER_MONTHS times, `changed` columns set by SQL
    expressions of the row's own columns and `shift` (1 to OTHER_MONTHS)."""
    columns = [column.name for column in table.columns if column.name != "id"]
    values = ", ".join(changed.get(name, name) for name in columns)
    connection.exec_driver_sql(
        f"INSERT INTO {table.name} ({', '.join(columns)}) SELECT {values}"  # noqa: S608 - the test's own SQL
        f" FROM {table.name} CROSS JOIN generate_series(1, {OTHER_MONTHS}) AS shift"
    )


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)  # PostgreSQL's plan
def test_the_runs_query_finds_the_months_rows_by_their_indexes_on_postgresql(app: Flask) -> None:
    """Round 40: EXPLAINed on a large PostgreSQL database (docs/operations.md, "The
    statements' query at size"), the run read every statement ever sent to find the
    month's, and on its first run of a month every payment and credit note ever
    recorded. billing_0016's indexes let it go to the month's rows. Round 42: the plan
    of a handful of rows depended on whatever statistics the server held for the
    tables, so the tables get rows in other months (`_in_other_months`) and are
    ANALYZEd in the test's transaction: on those statistics, with sequential scans
    allowed, the plan reaches each table's month through its index."""
    _active(("Owes", "Pays", "Credited"))
    _quiet(3, 1)
    db.session().commit()
    engine = db.session().get_bind()
    sent: list[tuple[str, object]] = []

    def note(*args: object) -> None:
        sent.append((str(args[2]), args[3]))

    event.listen(engine, "before_cursor_execute", note)
    try:
        services.statements_due(db.session(), JANUARY)
    finally:
        event.remove(engine, "before_cursor_execute", note)
    [(query, parameters)] = [(sql, values) for sql, values in sent if "sent_statements" in sql]
    connection = db.session().connection()
    _in_other_months(connection)
    connection.exec_driver_sql("ANALYZE invoices, sent_statements, payments, credit_notes")
    explained = connection.exec_driver_sql(f"EXPLAIN {query}", parameters)  # type: ignore[arg-type]
    plan = "\n".join(row[0] for row in explained)
    # `ix_payments_settled_at` serves card payments (no `received_on`): with none
    # here the planner takes `received_on IS NULL` instead; the large database's
    # plan used it (docs/operations.md).
    for index in (
        "ix_sent_statements_month",
        "ix_payments_received_on",
        "ix_credit_notes_issue_date",
    ):
        assert index in plan, plan
