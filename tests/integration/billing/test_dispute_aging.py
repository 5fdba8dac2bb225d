"""A disputed balance counted by finance as the service treats it: dated by when
the bank's dispute reached Stripe, and after a dispute lost aged from the day it is
owed again (round 25), counted from when Stripe closed the dispute, however late
its event is applied (round 26)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.accounts.models import User
from licensing.billing import services
from licensing.billing.models import Invoice, PaymentDispute
from licensing.billing.queries import disputed_on
from licensing.finance import queries as finance
from tests.support import settings
from tests.support.exports import receivables
from tests.support.factories import bearer
from tests.support.servers import LocalStripe

from .dispute_support import REINSTATED, WITHDRAWN, dispute_event, paid_with_charge
from .stripe_support import signed, stripe_config

# A fixed day before the disputes dated in March 2027: passed only before 3 March 2027.
pytestmark = pytest.mark.usefixtures("before_the_disputes")

CLOSED_AT = datetime(2027, 6, 1, 15, 0, tzinfo=UTC)  # long past the invoice's due date


@pytest.fixture
def config_changes(localstripe: LocalStripe) -> dict[str, Any]:
    return stripe_config(localstripe)


def _lost_on(event: dict[str, Any], now: datetime) -> PaymentDispute:
    payload, headers = signed(event)
    services.handle_stripe_webhook(
        payload, headers["Stripe-Signature"], gateway=settings.gateway(), now=now
    )
    return db.session().scalars(select(PaymentDispute)).one()


def _aged(client: FlaskClient, staff: User, as_of: date) -> tuple[dict[str, Decimal], dict]:
    """The Finance page's aging on `as_of` (row: amount) and the receivables
    export's rows on that day, by invoice number."""
    rows = {row.key: row.amount for row in finance.aging(db.session(), "USD", as_of)}
    exported = receivables(client, staff, as_of.isoformat())
    return rows, {row["invoice_number"]: row for row in exported}


def _page_from_export(exported: dict[str, dict[str, str]]) -> dict[str, Decimal]:
    """Each aging row as the export sums it: `balance` by `aging_bucket`."""
    sums: dict[str, Decimal] = {}
    for row in exported.values():
        key = {"not_chased": "disputed", "1-30": "1_30", "31-60": "31_60", "61-90": "61_90"}
        bucket = key.get(row["aging_bucket"], row["aging_bucket"])
        sums[bucket] = sums.get(bucket, Decimal(0)) + Decimal(row["balance"])
    return sums


def test_a_lost_disputes_balance_is_not_chased_until_owed_again_then_ages_from_that_day(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    invoice, payment, charge = paid_with_charge(client, vendor, localstripe, invoice_for)
    assert invoice.due_date is not None
    lost = dispute_event(
        "charge.dispute.closed", payment, charge, status="lost", moved=(WITHDRAWN,), told=CLOSED_AT
    )
    owed_again_on = _lost_on(lost, CLOSED_AT).owed_again_on
    assert owed_again_on == date(2027, 7, 1)
    # The day after the close: over 90 days past the issued due date, but not chased.
    day_after = date(2027, 6, 2)
    assert (day_after - invoice.due_date).days > 90
    rows, exported = _aged(client, billing_staff, day_after)
    assert rows["disputed"] == Decimal("250.00")
    assert rows["over_90"] == Decimal(0)
    row = exported[invoice.number]
    # The columns of schema version 1 keep their meaning: days past the due date.
    assert (row["bucket"], row["over_90"], row["disputed"]) == ("over_90", "250.00", "0.00")
    assert (row["aging_bucket"], row["owed_since"]) == ("not_chased", "2027-07-01")
    assert _page_from_export(exported) == {"disputed": Decimal("250.00")}
    # Owed again: current that day, then aged from it, not from the issued due date.
    rows, exported = _aged(client, billing_staff, owed_again_on)
    assert (rows["disputed"], rows["current"]) == (Decimal(0), Decimal("250.00"))
    assert exported[invoice.number]["aging_bucket"] == "current"
    later = owed_again_on + timedelta(days=35)
    rows, exported = _aged(client, billing_staff, later)
    assert (rows["31_60"], rows["over_90"]) == (Decimal("250.00"), Decimal(0))
    row = exported[invoice.number]
    assert (row["aging_bucket"], row["days_past_owed"], row["bucket"]) == (
        "31-60",
        "35",
        "over_90",
    )
    assert _page_from_export(exported) == {"31_60": Decimal("250.00")}


def test_a_dispute_applied_a_day_late_is_dated_by_when_it_reached_stripe(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    invoice, payment, charge = paid_with_charge(client, vendor, localstripe, invoice_for)
    created = datetime(2027, 3, 2, 14, 0, tzinfo=UTC)
    opened = dispute_event(
        "charge.dispute.funds_withdrawn", payment, charge, moved=(WITHDRAWN,), created=created
    )
    # Kept unmatched while Stripe was unreachable, applied the next morning.
    payload, headers = signed(opened)
    services.handle_stripe_webhook(
        payload,
        headers["Stripe-Signature"],
        gateway=settings.gateway(),
        now=datetime(2027, 3, 3, 9, 0, tzinfo=UTC),
    )
    dispute = db.session().scalars(select(PaymentDispute)).one()
    assert dispute.disputed_at == created
    on_the_day = set(db.session().scalars(select(Invoice.id).where(disputed_on(date(2027, 3, 2)))))
    assert on_the_day == {invoice.id}
    _rows, exported = _aged(client, billing_staff, date(2027, 3, 2))
    assert exported[invoice.number]["disputed"] == "250.00"
    answer = client.get(f"/api/v1/disputes/{dispute.id}", headers=bearer(billing_staff))
    assert answer.get_json()["disputed_at"].startswith("2027-03-02T14:00")


def test_a_lost_dispute_told_late_is_owed_again_from_when_stripe_closed_it(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    invoice, payment, charge = paid_with_charge(client, vendor, localstripe, invoice_for)
    lost = dispute_event(
        "charge.dispute.closed", payment, charge, status="lost", moved=(WITHDRAWN,), told=CLOSED_AT
    )
    # Delivered (or matched by match-disputes) eight days after Stripe closed it.
    dispute = _lost_on(lost, CLOSED_AT + timedelta(days=8))
    assert dispute.closed_at == CLOSED_AT
    assert dispute.owed_again_on == date(2027, 7, 1)  # not 2027-07-09
    # The aging and the receivables export agree, from the day it is owed again.
    rows, exported = _aged(client, billing_staff, date(2027, 7, 1))
    assert (rows["disputed"], rows["current"]) == (Decimal(0), Decimal("250.00"))
    row = exported[invoice.number]
    assert (row["aging_bucket"], row["owed_since"]) == ("current", "2027-07-01")
    assert _page_from_export(exported) == {"current": Decimal("250.00")}
    rows, exported = _aged(client, billing_staff, date(2027, 8, 5))
    assert rows["31_60"] == Decimal("250.00")
    assert exported[invoice.number]["days_past_owed"] == "35"
    assert _page_from_export(exported) == {"31_60": Decimal("250.00")}


def test_a_won_dispute_told_late_is_closed_when_stripe_closed_it(
    client: FlaskClient,
    vendor: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    _invoice, payment, charge = paid_with_charge(client, vendor, localstripe, invoice_for)
    won = dispute_event(
        "charge.dispute.closed",
        payment,
        charge,
        status="won",
        moved=(WITHDRAWN, REINSTATED),
        told=REINSTATED,
    )
    dispute = _lost_on(won, REINSTATED + timedelta(days=3))
    assert (dispute.state, dispute.closed_at, dispute.owed_again_on) == ("won", REINSTATED, None)


def test_an_aging_rows_invoice_list_lists_a_disputed_balance_where_the_aging_counts_it(
    app: Any,
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
    signed_in: Callable[..., FlaskClient],
) -> None:
    """Round 58 (financelinks58): the Finance page's aging rows link the console's
    invoice list narrowed to the row on its day (`?owing_on=...&aging=...`). A lost
    dispute's balance is listed under *Disputed or lost, not yet owed again* until the
    day owed again, then aged from that day, as the aging counts it, and never under
    the rows its issued due date would give it (over 90 days)."""
    invoice, payment, charge = paid_with_charge(client, vendor, localstripe, invoice_for)
    lost = dispute_event(
        "charge.dispute.closed", payment, charge, status="lost", moved=(WITHDRAWN,), told=CLOSED_AT
    )
    owed_again_on = _lost_on(lost, CLOSED_AT).owed_again_on
    assert owed_again_on is not None
    staff = signed_in(app.test_client(), billing_staff)
    for day, row in (
        (date(2027, 6, 2), "disputed"),
        (owed_again_on, "current"),
        (owed_again_on + timedelta(days=35), "31_60"),
    ):
        aged = {each.key: each.amount for each in finance.aging(db.session(), "USD", day)}
        for key, amount in aged.items():
            answer = staff.get(
                "/console/invoices",
                query_string={"owing_on": day.isoformat(), "aging": key, "currency": "USD"},
            )
            assert answer.status_code == 200
            markup = answer.get_data(as_text=True)
            if key == row:
                assert amount == Decimal("250.00"), (day, key)
                assert invoice.number in markup, (day, key)
                words = " ".join(re.sub(r"<[^>]+>", " ", markup).split())
                assert "owed 250.00 USD at the end of" in words
            else:
                assert amount == Decimal(0), (day, key)
                assert "No invoice matches." in markup, (day, key)
