"""A finance system's nightly pull by `by=recorded`, written from docs/exports.md
alone (round 32): the office day's edge against UTC, the first night's backfill, and
the key each dataset's rows are booked by."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import time_machine
from flask import Flask
from flask.testing import FlaskClient

from licensing import db
from licensing.accounts.models import User
from licensing.actors import Actor
from licensing.billing import services as billing
from licensing.billing.models import Invoice, Refund
from licensing.billing.states import REFUND
from tests.integration.exports.conftest import read_jsonl
from tests.integration.finance.conftest import at, issue
from tests.support import factories
from tests.support.billing import credited, paid_offline, refunded_offline, reversed_offline
from tests.support.factories import billing_clerk
from tests.support.statements import sent_by

# 23:30 on 3 November at the office (Chicago, UTC-06:00 since 1 November): the
# next UTC day. 00:30 on 4 November at the office.
LATE_EVENING = datetime(2026, 11, 4, 5, 30, tzinfo=UTC)
JUST_AFTER_MIDNIGHT = datetime(2026, 11, 4, 6, 30, tzinfo=UTC)
NIGHTS = [date(2026, 11, 1) + timedelta(days=n) for n in range(6)]
# The key docs/exports.md books each dataset's rows by, once.
KEYS = {
    "payments": ("payment_id",),
    "refunds": ("refund_id",),
    "invoices": ("invoice_id",),
    "royalty_report_lines": ("report_id", "line"),
    "revenue_recognition": ("document_type", "document_number", "line_position", "period"),
}


Pull = Callable[..., list[dict[str, Any]]]


def _puller(client: FlaskClient, staff: User) -> Pull:
    """`pull(dataset, **days)`: its rows `by=recorded`, as the finance system pulls them."""
    headers = factories.bearer(staff)

    def pull(dataset: str, **days: str) -> list[dict[str, Any]]:
        response = client.get(
            f"/api/v1/exports/{dataset}",
            query_string={"format": "jsonl", "by": "recorded", **days},
            headers=headers,
        )
        assert response.status_code == 200, response.get_data(as_text=True)
        return read_jsonl(response.get_data())[1]

    return pull


def _night(day: date) -> dict[str, str]:
    return {"from": day.isoformat(), "to": day.isoformat()}


def _keyed(dataset: str, rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [tuple(row[name] for name in KEYS[dataset]) for row in rows]


def _records() -> dict[str, Any]:
    """A week's records, two of them either side of the office's midnight."""
    organization = factories.make_organization(db.session()).id
    first = issue(organization, "1000.00", date(2026, 11, 2))
    made: dict[str, Any] = {"first": first}
    made["evening_wire"] = paid_offline(
        first.id, "400.00", "W-EVENING", received_on=date(2026, 11, 3), now=LATE_EVENING
    )
    made["morning_wire"] = paid_offline(
        first.id, "600.00", "W-MORNING", received_on=date(2026, 11, 4), now=JUST_AFTER_MIDNIGHT
    )
    with db.transaction() as session:
        made["evening_invoice"] = billing.create_invoice(
            session,
            organization_id=organization,
            currency="USD",
            charges=[billing.Charge("Annual development fee", Decimal("300.00"))],
            source_type="manual",
            payment_terms_days=30,
            late_fee_monthly_percent=Decimal("1.5"),
            now=LATE_EVENING,
            actor=Actor.SYSTEM,
        )
    note = credited(first.id, "50.00", "Seat removed", now=at(date(2026, 11, 5)))
    refunded_offline(note.id, "50.00", "RF-1", sent_on=date(2026, 11, 5), now=at(date(2026, 11, 6)))
    return made


def test_recorded_is_the_office_day_so_an_evening_entry_is_that_nights_whatever_its_utc_day(
    client: FlaskClient, billing_staff: User
) -> None:
    made = _records()
    pull = _puller(client, billing_staff)
    evening = pull("payments", **_night(date(2026, 11, 3)))
    morning = pull("payments", **_night(date(2026, 11, 4)))
    assert [row["reference"] for row in evening] == ["W-EVENING"]
    assert [row["reference"] for row in morning] == ["W-MORNING"]
    # Its time stamp is UTC, the next calendar day: the ledger keys by the office day
    # it pulled, never by the stamp's date.
    assert evening[0]["created_at"].startswith("2026-11-04T05:30")
    invoices = pull("invoices", **_night(date(2026, 11, 3)))
    number = made["evening_invoice"].number
    assert [row["issue_date"] for row in invoices if row["invoice_number"] == number] == [
        "2026-11-03"
    ]
    schedule = {
        day: [row["document_number"] for row in pull("revenue_recognition", **_night(day))]
        for day in (date(2026, 11, 3), date(2026, 11, 4))
    }
    assert schedule == {date(2026, 11, 3): [number], date(2026, 11, 4): []}


def test_the_first_nights_backfill_is_every_night_before_it_and_each_key_is_booked_once(
    client: FlaskClient, billing_staff: User
) -> None:
    _records()
    pull = _puller(client, billing_staff)
    last = NIGHTS[-1]
    for dataset, key in KEYS.items():
        backfill = pull(dataset, to=last.isoformat())
        assert backfill == pull(dataset)  # nothing after `last`
        nightly = [row for night in NIGHTS for row in pull(dataset, **_night(night))]
        # One row a key in a pull; a key seen again on a later night is the record
        # changed, and the last seen is the record as it stands.
        assert [k for k, n in Counter(_keyed(dataset, backfill)).items() if n > 1] == [], dataset
        latest = dict(zip(_keyed(dataset, nightly), nightly, strict=True))
        assert latest == dict(zip(_keyed(dataset, backfill), backfill, strict=True)), (dataset, key)
        # A night pulled twice (a retried job) gives the same rows.
        again = pull(dataset, **_night(date(2026, 11, 3)))
        assert again == pull(dataset, **_night(date(2026, 11, 3)))
    assert {row["reference"] for row in pull("payments")} == {
        "W-EVENING",
        "W-MORNING",
    }


def test_an_invoice_written_off_or_reopened_comes_again_the_night_it_changed(
    client: FlaskClient, billing_staff: User
) -> None:
    """Round 32: `invoices?by=recorded` brought an invoice issued, paid or voided on
    the days; one written off as uncollectible, or reopened when the payment that
    paid it was reversed, stamps no time and never came again: a ledger mirroring
    invoices kept them `open` and `paid`."""
    organization = factories.make_organization(db.session()).id
    written_off = issue(organization, "300.00", date(2026, 11, 2))
    reopened = issue(organization, "200.00", date(2026, 11, 2))
    wire = paid_offline(
        reopened.id, "200.00", "W-1", received_on=date(2026, 11, 2), now=at(date(2026, 11, 2))
    )
    fifth = date(2026, 11, 5)
    with time_machine.travel(at(fifth), tick=False):
        billing.mark_uncollectible(
            written_off.id, reason="The licensee closed.", now=at(fifth), actor=billing_clerk()
        )
        reversed_offline(wire.id, "Wire recalled.", returned_on=fifth, now=at(fifth))
    pull = _puller(client, billing_staff)
    states = {row["invoice_number"]: row["state"] for row in pull("invoices", **_night(fifth))}
    assert states == {written_off.number: "uncollectible", reopened.number: "open"}
    assert pull("invoices", **_night(date(2026, 11, 4))) == []


def test_a_write_off_a_reopening_and_a_refunds_failure_stamp_their_time_and_the_pull_reads_it(
    app: Flask, client: FlaskClient, billing_staff: User
) -> None:
    """Round 33: each step a nightly pull sees stamps its time on the record
    (`written_off_at`, `reopened_at`, `failed_at`, billing_0014), and `by=recorded`
    reads those columns: round 32 found the steps in the audit log, one correlated
    search of it per row of the table."""
    organization = factories.make_organization(db.session()).id
    written_off = issue(organization, "300.00", date(2026, 11, 2))
    reopened = issue(organization, "200.00", date(2026, 11, 2))
    wire = paid_offline(
        reopened.id, "200.00", "W-1", received_on=date(2026, 11, 2), now=at(date(2026, 11, 2))
    )
    credited_on = issue(organization, "100.00", date(2026, 11, 2))
    paid_offline(
        credited_on.id, "100.00", "W-2", received_on=date(2026, 11, 2), now=at(date(2026, 11, 2))
    )
    note = credited(credited_on.id, "20.00", "Seat removed", now=at(date(2026, 11, 3)))
    refund = refunded_offline(
        note.id, "20.00", "RF-1", sent_on=date(2026, 11, 3), now=at(date(2026, 11, 3))
    )
    fifth = date(2026, 11, 5)
    with time_machine.travel(at(fifth), tick=False):
        billing.mark_uncollectible(
            written_off.id, reason="The licensee closed.", now=at(fifth), actor=billing_clerk()
        )
        reversed_offline(wire.id, "Wire recalled.", returned_on=fifth, now=at(fifth))
        with db.transaction() as session:
            stored = session.get(Refund, refund.id)
            assert stored is not None
            REFUND.apply(session, stored, "fail", actor=Actor.SYSTEM, note="The bank returned it.")
    session = db.session()
    session.expire_all()
    assert session.get(Invoice, written_off.id).written_off_at == at(fifth)  # type: ignore[union-attr]
    assert session.get(Invoice, reopened.id).reopened_at == at(fifth)  # type: ignore[union-attr]
    assert session.get(Refund, refund.id).failed_at == at(fifth)  # type: ignore[union-attr]
    credited_number = session.get(Invoice, credited_on.id).number  # type: ignore[union-attr]
    pull, night = _puller(client, billing_staff), _night(fifth)
    with sent_by(app) as statements:
        invoices = {row["invoice_number"]: row["state"] for row in pull("invoices", **night)}
        refunds = {row["refund_id"]: row["state"] for row in pull("refunds", **night)}
    # Round 53: the refund's failure changes its invoice's `amount_refunded`, so the
    # invoice comes again that night too (still paid: it owes the 20.00 back again).
    assert invoices == {
        written_off.number: "uncollectible",
        reopened.number: "open",
        credited_number: "paid",
    }
    assert refunds == {refund.id: "failed"}
    refunded_again = db.session().get(Invoice, credited_on.id)
    assert refunded_again is not None
    assert (refunded_again.amount_refunded, refunded_again.refund_outstanding) == (
        Decimal(0),
        Decimal("20.00"),
    )
    assert [sql for sql in statements if "audit_events.entity_id" in sql] == []
