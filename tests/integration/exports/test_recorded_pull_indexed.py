"""Round 52: the invoices' nightly pull (`invoices?by=recorded`) finds the day's
reversals and credit notes through an index on the time each was recorded
(billing_0020), as it finds the day's payments (billing_0016): since round 51 it also
brings back an invoice whose amounts changed, and until round 52 its sub-selects read
every payment reversal and every credit note ever recorded to find the day's. Which
invoices each night brings, and as what, is pinned over a month with each kind of
change (docs/exports.md).

Round 58 (plans58b): on PostgreSQL the plans are priced on rows that decide them
(`_crowd`: 2,000 payments, reversals and credit notes recorded on other days than the
one pulled, ANALYZEd in the test's transaction), not on the counts earlier tests left
in `pg_class`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from licensing import db
from licensing.accounts.models import User
from licensing.billing.models import CreditNote, Payment, PaymentReversal
from tests.integration.exports.conftest import read_jsonl
from tests.integration.finance.conftest import at, issue
from tests.support import factories
from tests.support.billing import credited, paid_offline, reversed_offline
from tests.support.plans import analyzed, copied, plan_of, sent_with_values

NOVEMBER = [date(2026, 11, 1) + timedelta(days=n) for n in range(30)]
SHOWN = ("invoice_number", "state", "amount_paid", "amount_credited", "balance_due")


def _puller(client: FlaskClient, staff: User) -> Callable[..., list[dict[str, Any]]]:
    """`pull(**days)`: the invoices `by=recorded`, as the finance system pulls them."""
    headers = factories.bearer(staff)

    def pull(**days: str) -> list[dict[str, Any]]:
        response = client.get(
            "/api/v1/exports/invoices",
            query_string={"format": "jsonl", "by": "recorded", **days},
            headers=headers,
        )
        assert response.status_code == 200, response.get_data(as_text=True)
        return read_jsonl(response.get_data())[1]

    return pull


def _month() -> tuple[dict[str, str], dict[date, Callable[[], Any]]]:
    """Two invoices issued on 2 November, and what happens to them later, each on a
    night of its own: a part paid by check (3rd), a part paid by wire (5th), the check
    returned (9th, the invoice open throughout) and a credit note (12th); none but
    the issue is a step of the invoice's own. (Their numbers by name, each later
    day's step.)"""
    organization = factories.make_organization(db.session()).id
    wired = issue(organization, "1000.00", date(2026, 11, 2))
    checked = issue(organization, "300.00", date(2026, 11, 2))
    assert wired.number is not None
    assert checked.number is not None
    made: dict[str, Any] = {}

    def check() -> None:
        made["check"] = paid_offline(
            checked.id,
            "100.00",
            "CHK-1",
            "check",
            received_on=date(2026, 11, 3),
            now=at(date(2026, 11, 3)),
        )

    steps: dict[date, Callable[[], Any]] = {
        date(2026, 11, 3): check,
        date(2026, 11, 5): lambda: paid_offline(
            wired.id, "400.00", "W-1", received_on=date(2026, 11, 5), now=at(date(2026, 11, 5))
        ),
        date(2026, 11, 9): lambda: reversed_offline(
            made["check"].id,
            "Check returned.",
            returned_on=date(2026, 11, 9),
            now=at(date(2026, 11, 9)),
        ),
        date(2026, 11, 12): lambda: credited(
            wired.id, "50.00", "Seat removed", now=at(date(2026, 11, 12))
        ),
    }
    return {"wired": wired.number, "checked": checked.number}, steps


def test_each_night_of_a_month_brings_the_invoices_whose_amounts_changed_that_night(
    client: FlaskClient, billing_staff: User
) -> None:
    """Pulled each night as the month happens (not after it): every night a payment
    is counted, a check returned or a credit note issued brings its invoice as it
    then stands, and the month's backfill is the last row seen of each."""
    made, steps = _month()
    pull = _puller(client, billing_staff)
    wired, checked = made["wired"], made["checked"]

    nights: dict[date, list[tuple[str, ...]]] = {}
    for night in NOVEMBER:
        if night in steps:
            steps[night]()
        rows = pull(**{"from": str(night), "to": str(night)})
        if rows:
            nights[night] = [tuple(row[name] for name in SHOWN) for row in rows]
    backfill = pull(to=str(NOVEMBER[-1]))

    assert nights == {
        date(2026, 11, 2): [
            (wired, "open", "0.00", "0.00", "1000.00"),
            (checked, "open", "0.00", "0.00", "300.00"),
        ],
        date(2026, 11, 3): [(checked, "open", "100.00", "0.00", "200.00")],
        date(2026, 11, 5): [(wired, "open", "400.00", "0.00", "600.00")],
        date(2026, 11, 9): [(checked, "open", "0.00", "0.00", "300.00")],
        date(2026, 11, 12): [(wired, "open", "400.00", "50.00", "550.00")],
    }
    last_seen = {row[0]: row for rows in nights.values() for row in rows}
    assert {row["invoice_number"]: tuple(row[n] for n in SHOWN) for row in backfill} == last_seen


COPIES = 2000


def _crowd() -> None:
    """`COPIES` payments, reversals (each of a copied payment of its own) and credit
    notes, copies of the month's recorded on days before November, and the tables
    the pull reads analyzed (`analyzed`, PostgreSQL only): the day's few among many."""
    session = db.session()

    def before(recorded: datetime, n: int) -> datetime:
        return recorded - timedelta(days=40 + n % 300, minutes=n)

    payment = session.get(Payment, session.scalars(select(func.min(Payment.id))).one())
    reversal = session.scalars(select(PaymentReversal)).one()
    credit = session.scalars(select(CreditNote)).one()
    assert payment is not None
    assert payment.settled_at is not None
    settled = payment.settled_at
    last = session.scalars(select(func.max(Payment.id))).one()
    copied(Payment.__table__, payment.id, COPIES, lambda n: {"settled_at": before(settled, n)})
    copies = session.scalars(select(Payment.id).where(Payment.id > last)).all()
    copied(
        PaymentReversal.__table__,
        reversal.id,
        COPIES,
        lambda n: {"payment_id": copies[n], "created_at": before(reversal.created_at, n)},
    )
    copied(
        CreditNote.__table__,
        credit.id,
        COPIES,
        lambda n: {"number": f"COPY-{n}", "issued_at": before(credit.issued_at, n)},
    )
    analyzed("invoices", "payments", "payment_reversals", "credit_notes")


def test_the_pull_reads_the_days_payments_reversals_and_credit_notes_through_their_indexes(
    app: Flask, client: FlaskClient, billing_staff: User
) -> None:
    """Each statement of the pull that asks for the day's reversals and credit notes
    (its rows and its count), EXPLAINed with its own values: each sub-select is a
    range of its table's index on the time recorded, no table read whole. On
    PostgreSQL sequential scans are priced out, as at a size where they lose."""
    _made, steps = _month()
    for step in steps.values():
        step()
    _crowd()
    pull = _puller(client, billing_staff)

    with sent_with_values(app.extensions["licensing.db"].engine) as statements:
        assert pull(**{"from": "2026-11-09", "to": "2026-11-09"})
    asked = [(sql, values) for sql, values in statements if "payment_reversals" in sql]

    assert asked
    for sql, values in asked:
        plan = "\n".join(plan_of(sql, values))
        for index in (
            "ix_payments_settled_at",
            "ix_payment_reversals_created_at",
            "ix_credit_notes_issued_at",
        ):
            assert index in plan, plan
        for table in ("payments", "payment_reversals", "credit_notes"):
            assert f"SCAN {table}\n" not in plan + "\n", plan
            assert f"Seq Scan on {table} " not in plan, plan
