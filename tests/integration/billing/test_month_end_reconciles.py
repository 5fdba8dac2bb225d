"""A finance month-end walked (round 30): a month of records made with the real
services (card payments through localstripe, a dispute lost and one won, a flagged
payment accepted short through the API, offline payments, a bounced check, a credit
note refunded, a void, a second currency), then every figure of the Finance page
tied to the exports, and the exports to the invoices' and payments' own totals, to
the cent, per currency.

    V (the vendor, cards)  250.00 paid, disputed, lost; 250.00 paid, disputed, won;
                           300.00 paid 299.99 (flagged), accepted short by API
    B (offline, USD)       1000.00 by check, the bank returns it; 500.00 by wire,
                           a 100.00 credit note refunded by wire; 80.00 voided
    C (offline, EUR)       999.00, 400.00 received by wire
"""

from __future__ import annotations

import copy
import csv
import io
import itertools
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.accounts.models import Organization, User
from licensing.billing import services
from licensing.billing.models import Invoice, Payment
from licensing.calendar import office_date
from licensing.db import utcnow
from licensing.finance import queries as finance
from licensing.finance.queries import Filters
from tests.integration.exports.conftest import read_jsonl, total
from tests.integration.finance.conftest import at, issue
from tests.support import factories, settings
from tests.support.billing import credited, paid_offline, refunded_offline, reversed_offline
from tests.support.factories import bearer, billing_clerk
from tests.support.servers import LocalStripe

from .dispute_support import REINSTATED, WITHDRAWN, dispute_event, paid_with_charge
from .refund_support import LostAnswer, card_paid_and_credited, deliver, stripe_through
from .stripe_support import (
    _call,
    charge_refunded_event,
    declined_card_payment,
    deliver_event,
    flagged_card_payment,
    pay_by_card,
    refund_failed_event,
    stripe_config,
    succeeded_event,
)

ZERO = Decimal(0)
FIRST, LAST = date(2026, 1, 1), date(2028, 12, 1)  # round 39's statements: 2026 to 2028
DAY = re.compile(r"\d{4}-\d\d-\d\d")
# The page's aging rows by the receivables export's `aging_bucket`.
BUCKETS = {"1_30": "1-30", "31_60": "31-60", "61_90": "61-90", "disputed": "not_chased"}


@pytest.fixture
def config_changes(localstripe: LocalStripe) -> dict[str, Any]:
    return stripe_config(localstripe)


def _month(day: str | None) -> str | None:
    return day[:7] if day else None


def _sums(rows: Iterable[dict[str, Any]], day: str, amount: str = "amount") -> dict[str, Decimal]:
    """Sum of `amount` by (currency, month of `day`)."""
    found: dict[str, Decimal] = defaultdict(Decimal)
    for row in rows:
        if row[day]:
            found[f"{row['currency']} {_month(row[day])}"] += Decimal(row[amount])
    return dict(found)


def _nonzero(figures: dict[str, Decimal]) -> dict[str, Decimal]:
    return {key: value for key, value in figures.items() if value}


def _exporter(client: FlaskClient, staff: User) -> Callable[..., list[dict[str, Any]]]:
    """`export(dataset, **filters)`: its rows, as a finance system pulls them (JSON Lines)."""
    headers = bearer(staff)

    def export(dataset: str, **filters: Any) -> list[dict[str, Any]]:
        response = client.get(
            f"/api/v1/exports/{dataset}",
            query_string={"format": "jsonl", **filters},
            headers=headers,
        )
        assert response.status_code == 200, response.get_data(as_text=True)
        return read_jsonl(response.get_data())[1]

    return export


def _month_end(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> dict[str, Any]:
    """The month's records (the docstring)."""
    made: dict[str, Any] = {}
    # Card: a dispute lost, one won.
    lost, paid_lost, charge = paid_with_charge(client, vendor, localstripe, invoice_for)
    deliver(
        client,
        dispute_event(
            "charge.dispute.created", paid_lost, charge, moved=(WITHDRAWN,), dispute_id="du_lost"
        ),
    )
    deliver(
        client,
        dispute_event(
            "charge.dispute.closed",
            paid_lost,
            charge,
            status="lost",
            moved=(WITHDRAWN,),
            dispute_id="du_lost",
        ),
    )
    won, paid_won, charge = paid_with_charge(client, vendor, localstripe, invoice_for)
    deliver(
        client,
        dispute_event(
            "charge.dispute.closed",
            paid_won,
            charge,
            status="won",
            moved=(WITHDRAWN, REINSTATED),
            dispute_id="du_won",
        ),
    )
    # A flagged payment (299.99 received of 300.00) accepted short by a finance script.
    short, flagged = flagged_card_payment(client, vendor, localstripe, invoice_for, received=29999)
    accepted = client.post(
        f"/api/v1/payments/{flagged.id}/accept",
        json={"reason": "The licensee's bank kept a cent; accepted."},
        headers=bearer(billing_staff),
    )
    assert accepted.status_code == 200, accepted.get_json()
    assert accepted.get_json()["invoice_balance_due"] == "0.01"
    made["card"] = (lost, won, short)

    session = db.session()
    b = factories.make_organization(session).id
    c = factories.make_organization(session).id
    checked = issue(b, "1000.00", date(2026, 10, 20))
    check = paid_offline(
        checked.id,
        "1000.00",
        "CHK 77",
        method="check",
        received_on=date(2026, 11, 3),
        now=at(date(2026, 11, 3)),
    )
    reversed_offline(
        check.id,
        "Check returned: insufficient funds.",
        returned_on=date(2026, 11, 17),
        now=at(date(2026, 11, 18)),
    )
    wired = issue(b, "500.00", date(2026, 11, 2))
    paid_offline(
        wired.id, "500.00", "WIRE-11", received_on=date(2026, 11, 9), now=at(date(2026, 11, 9))
    )
    credit = credited(wired.id, "100.00", "One seat fewer", now=at(date(2026, 11, 12)))
    refunded_offline(
        credit.id, "100.00", "RF-11", sent_on=date(2026, 11, 20), now=at(date(2026, 11, 20))
    )
    voided = issue(b, "80.00", date(2026, 11, 5))
    services.void_invoice(
        voided.id, reason="Issued in error", now=at(date(2026, 11, 6)), actor=billing_clerk()
    )
    euro = issue(c, "999.00", date(2026, 11, 10), currency="EUR")
    paid_offline(
        euro.id, "400.00", "WIRE-EU", received_on=date(2026, 11, 25), now=at(date(2026, 11, 25))
    )
    return made


def _next_month(day: date) -> date:
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1)


def _months_dated(*exports: list[dict[str, Any]]) -> tuple[date, date]:
    """The first month any row of `exports` names a day in (dated, stamped or due),
    and the month after the last: the months the page's figures and the receivables
    can differ in, and one quiet month after them."""
    days = [
        date.fromisoformat(value[:10])
        for rows in exports
        for row in rows
        for value in row.values()
        if isinstance(value, str) and DAY.match(value)
    ]
    return min(days).replace(day=1), _next_month(max(days))


def _ties_to_the_exports(export: Callable[..., list[dict[str, Any]]], short: Invoice) -> None:
    """Every figure of the Finance page equals the exports' sums, per currency and
    month, and the exports the ledger's own totals; the aging, its buckets. The months
    are those from the first day any export names to the month after the last (each
    month's outstanding is the receivables export as of its last day, pulled once for
    both currencies): before round 64 every month of 2026 to 2028, some 28 of them
    with nothing dated, each pulled once a currency; and a card paid at the real time
    after 2028 would have fallen outside them."""
    invoices = export("invoices")
    void = {row["invoice_number"] for row in invoices if row["state"] == "void"}
    every_payment, every_refund = export("payments"), export("refunds")
    payments = [row for row in every_payment if row["invoice_number"] not in void]
    credit_notes = export("credit_notes")
    refunds = [row for row in every_refund if row["state"] == "succeeded"]
    # Accepted short: the row's amount is what was applied, the rest owed on the invoice.
    (accepted,) = [row for row in payments if row["invoice_number"] == short.number]
    assert (accepted["state"], accepted["amount"], accepted["amount_received"]) == (
        "succeeded",
        "299.99",
        "299.99",
    )
    (owing,) = [row for row in invoices if row["invoice_number"] == short.number]
    assert (owing["state"], owing["amount_paid"], owing["balance_due"]) == (
        "open",
        "299.99",
        "0.01",
    )

    expected = {
        "invoiced": _sums((r for r in invoices if r["state"] != "void"), "issue_date", "total"),
        "collected": _sums(
            (r for r in payments if r["state"] in ("succeeded", "reversed")), "paid_date"
        ),
        "reversed": _sums(
            (r for r in payments if r["state"] == "reversed"), "reversed_on", "reversed_amount"
        ),
        "credited": _sums(credit_notes, "issue_date"),
        "refunded": _sums(refunds, "sent_date"),
    }
    figures: dict[str, dict[str, Decimal]] = defaultdict(dict)
    currencies = sorted({row["currency"] for row in invoices})
    assert currencies == ["EUR", "USD"]
    session = db.session()
    first, last = _months_dated(invoices, every_payment, credit_notes, every_refund)
    at_end: dict[date, list[dict[str, Any]]] = {}  # each month's, pulled once for both
    for currency in currencies:
        for row in finance.cash_flow(session, Filters(first, last, currency=currency)):
            for name in expected:
                figures[name][f"{currency} {row.period.key}"] = getattr(row, name)
            # Outstanding at the month's end: the receivables export as of that day.
            end = row.period.end
            if end not in at_end:
                at_end[end] = export("receivables", as_of=end.isoformat())
            balances = [r for r in at_end[end] if r["currency"] == currency]
            owed = sum(
                (Decimal(r["balance"]) for r in balances if r["invoice_number"] not in void), ZERO
            )
            assert owed == row.outstanding, (currency, row.period.key)
    for name, by_month in expected.items():
        assert _nonzero(figures[name]) == by_month, name

    # The exports tie to the invoices' and payments' own totals, per currency.
    lines = export("invoice_lines")
    for currency in currencies:
        mine = [r for r in invoices if r["currency"] == currency]
        assert sum((Decimal(r["total"]) for r in mine), ZERO) == sum(
            (Decimal(r["amount"]) for r in lines if r["currency"] == currency), ZERO
        )
        for row in mine:
            stored = session.scalar(
                db.select(Invoice).where(Invoice.number == row["invoice_number"])
            )
            assert stored is not None
            assert Decimal(row["total"]) == stored.total
            assert Decimal(row["balance_due"]) == stored.balance_due
            counted = [p for p in payments if p["invoice_number"] == row["invoice_number"]]
            kept = sum(
                (
                    Decimal(p["amount"]) - Decimal(p["reversed_amount"] or 0)
                    for p in counted
                    if p["state"] in ("succeeded", "reversed")
                ),
                ZERO,
            )
            if row["state"] != "void":
                assert Decimal(row["amount_paid"]) == kept, row["invoice_number"]
    for row in payments:
        stored_payment = session.get(Payment, row["payment_id"])
        assert stored_payment is not None
        assert Decimal(row["amount"]) == stored_payment.amount

    # Aging: each row of the page's aging is its bucket in the export, at the month's
    # end and once every card payment's dispute is closed.
    closed = _next_month(last) - timedelta(days=1)
    for as_of in (date(2026, 11, 30), closed):
        balances = [r for r in at_end[as_of] if r["currency"] == "USD"]  # pulled above
        for aged in finance.aging(session, "USD", as_of):
            bucket = BUCKETS.get(aged.key, aged.key)
            exported = [r for r in balances if r["aging_bucket"] == bucket]
            assert aged.amount == total(exported, "balance"), (as_of, aged.key)
            assert aged.invoices == len(exported), (as_of, aged.key)


@pytest.mark.usefixtures("before_the_disputes")  # its card payments, then March's disputes
def test_a_month_with_money_given_back_and_refunded_to_the_card_ties_and_counts_it_once(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    """Round 39: round 30's month, and a flagged payment (299.99 of 300.00) given back
    to the card, another (199.99) still flagged at the end, and an invoice of 90.00
    paid by card, credited 90.00 and refunded to the card through the credit note.
    Every figure ties to the exports as before; the money flagged or given back never
    counted (not collected, not refunded, owed on its invoice, not paid to the top
    licensees or the statements), while the card refunded counts once collected and
    once refunded; each licensee's statements close on its balances in the
    receivables export.

    Round 65: round 30's month alone is tied first, as its own test did (every figure
    of the month ties to the exports and the exports to the ledger): that test made
    the month again, cards, disputes and all, to check what this one checks of it
    before it adds round 39's records."""
    _lost, _won, short = _month_end(client, vendor, billing_staff, localstripe, invoice_for)["card"]
    _ties_to_the_exports(_exporter(client, billing_staff), short)
    owed, flagged = flagged_card_payment(client, vendor, localstripe, invoice_for, received=29999)
    _give_back(client, billing_staff, flagged)
    waiting, still_flagged = flagged_card_payment(
        client, vendor, localstripe, invoice_for, received=19999
    )
    credit, by_card = card_paid_and_credited(client, vendor, localstripe, invoice_for)
    refund = services.refund_card(credit.id, actor=billing_clerk(), gateway=settings.gateway())
    if refund.state == "pending":
        deliver(client, charge_refunded_event(localstripe, by_card))
    session = db.session()
    session.refresh(refund)
    assert refund.state == "succeeded"
    export = _exporter(client, billing_staff)
    _ties_to_the_exports(export, short)

    payments = {row["payment_id"]: row for row in export("payments")}
    given = payments[flagged.id]
    assert (given["state"], given["paid_date"], given["amount_received"]) == (
        "given_back",
        None,
        "299.99",
    )
    assert payments[by_card.id]["state"] == "succeeded"
    # Still flagged at the month's end: no paid date, owed whole, until accepted.
    held = payments[still_flagged.id]
    assert (held["state"], held["paid_date"], held["amount_received"]) == (
        "flagged",
        None,
        "199.99",
    )
    refunds = [r for r in export("refunds") if r["credit_note_number"] == credit.number]
    assert [(r["state"], r["amount"], r["method"]) for r in refunds] == [
        ("succeeded", "90.00", "card")
    ]
    # Nowhere counted as received: the page's Collected is the payments export's
    # succeeded and reversed rows, which the given-back one is not among.
    months = finance.cash_flow(session, Filters(FIRST, LAST))
    collected = sum((row.collected for row in months), ZERO)
    counted = [r for r in payments.values() if r["state"] in ("succeeded", "reversed")]
    assert collected == sum((Decimal(r["amount"]) for r in counted if r["currency"] == "USD"), ZERO)
    assert {flagged.id, still_flagged.id}.isdisjoint({r["payment_id"] for r in counted})
    assert sum((row.refunded for row in months), ZERO) == Decimal("190.00")  # B's wire, the card
    invoices = {r["invoice_number"]: r for r in export("invoices")}
    assert (invoices[owed.number]["amount_paid"], invoices[owed.number]["balance_due"]) == (
        "0.00",
        "300.00",
    )
    held_invoice = invoices[waiting.number]
    assert held_invoice["amount_paid"] == "0.00"
    assert held_invoice["balance_due"] == held_invoice["total"]
    # The top licensees' collected is the vendor's payments as known now.
    (top,) = [
        t
        for t in finance.top_licensees(session, Filters(FIRST, LAST))
        if t.organization_id == vendor.organization_id
    ]
    mine = [r for r in counted if r["organization_id"] == vendor.organization_id]
    assert top.collected == sum(
        (Decimal(r["amount"]) - Decimal(r["reversed_amount"] or 0) for r in mine), ZERO
    )
    # Each licensee's statement closes on its receivables, and says paid (and paid
    # again, a dispute won) what the payments export says was (the money given back
    # is no payment).
    end = date(2028, 12, 31)
    balances = export("receivables", as_of=end.isoformat(), currency="USD")
    for organization_id in {r["organization_id"] for r in balances}:
        organization = session.get(Organization, organization_id)
        assert organization is not None
        # A statement covers a year at most: one a year, each opening on the last's close.
        statements = [
            services.statement_for(
                session,
                organization,
                services.Asked(start=f"{year}-01-01", end=f"{year}-12-31", currency="USD"),
                now=datetime(2028, 12, 31, 18, tzinfo=UTC),
            )
            for year in (2026, 2027, 2028)
        ]
        for before, after in itertools.pairwise(statements):
            assert after.opening == before.closing
        assert statements[0].opening == ZERO
        mine_owed = [r for r in balances if r["organization_id"] == organization_id]
        assert statements[-1].closing == total(mine_owed, "balance"), organization_id
        paid = -sum(
            (
                line.movement.amount
                for statement in statements
                for line in statement.lines
                if line.movement.kind in ("paid", "reinstated")  # a dispute won: paid again
            ),
            ZERO,
        )
        theirs = [
            r for r in counted if r["organization_id"] == organization_id and r["currency"] == "USD"
        ]
        assert paid == sum((Decimal(r["amount"]) for r in theirs), ZERO), organization_id


def _nights() -> Iterable[date]:
    """The nights pulled: each day something below is recorded or dated on (the
    invoices of 11-02, the check, the wire and the credit of 11-03, the void of 11-05
    and 11-06, the check returned on 11-17 and recorded on 11-19, the refund sent on
    11-20 and recorded on 11-23, the wire received on 11-27 and recorded on 12-02),
    and quiet nights around them: before anything (11-01), after the check's first
    pull (11-04) and after the last entry (12-03). Every other night of the month is
    a quiet one, its pulls the same empty ones as these (each of the 33 was pulled,
    ten exports a night, before round 64). Were an entry recorded on a night not
    pulled, the ledger would miss it and not tie to the page: the test fails."""
    return [date(2026, 11, day) for day in (1, 2, 3, 4, 5, 6, 17, 19, 20, 23, 27)] + [
        date(2026, 12, 2),
        date(2026, 12, 3),
    ]


def test_a_nightly_pull_by_day_recorded_gets_the_late_entries_a_pull_by_day_paid_misses(
    client: FlaskClient, billing_staff: User
) -> None:
    # Entries recorded on a later day than the one they are dated (a statement's late
    # entries): a check returned on 11-17, recorded on 11-19; a wire received on 11-27,
    # recorded on 12-02; a refund sent on 11-20, recorded on 11-23; and an invoice
    # issued on 11-05 in error, voided on 11-06.
    export = _exporter(client, billing_staff)
    session = db.session()
    b = factories.make_organization(session).id
    first = issue(b, "1000.00", date(2026, 11, 2))
    second = issue(b, "500.00", date(2026, 11, 2))
    third = issue(b, "250.00", date(2026, 11, 2))
    made: dict[str, Any] = {}

    def record(day: date) -> None:
        """What billing staff record on `day`, dated whenever it happened."""
        if day == date(2026, 11, 3):
            made["check"] = paid_offline(
                first.id, "1000.00", "CHK 1", method="check", received_on=day, now=at(day)
            )
            made["wire"] = paid_offline(second.id, "500.00", "W-1", received_on=day, now=at(day))
            made["credit"] = credited(second.id, "120.00", "Seat removed", now=at(day))
        if day == date(2026, 11, 19):
            reversed_offline(
                made["check"].id, "Check returned.", returned_on=date(2026, 11, 17), now=at(day)
            )
        if day == date(2026, 11, 23):
            refunded_offline(
                made["credit"].id, "120.00", "RF-1", sent_on=date(2026, 11, 20), now=at(day)
            )
        if day == date(2026, 11, 5):
            made["wrong"] = issue(b, "80.00", day)
        if day == date(2026, 11, 6):
            services.void_invoice(
                made["wrong"].id, reason="Issued in error", now=at(day), actor=billing_clerk()
            )
        if day == date(2026, 12, 2):
            paid_offline(third.id, "250.00", "W-2", received_on=date(2026, 11, 27), now=at(day))

    by_paid: dict[str, Decimal] = defaultdict(Decimal)
    by_recorded: dict[str, Decimal] = defaultdict(Decimal)
    booked: set[tuple[int, str]] = set()  # (payment or refund id, movement): booked once
    seen: dict[int, int] = defaultdict(int)
    for night in _nights():
        record(night)
        days = {"from": night.isoformat(), "to": night.isoformat()}
        # The pull by the day money is dated: received, returned, sent.
        for row in export("payments", **days):
            if row["state"] in ("succeeded", "reversed"):
                by_paid[f"collected {_month(row['paid_date'])}"] += Decimal(row["amount"])
        for row in export("payments", by="reversed", **days):
            by_paid[f"reversed {_month(row['reversed_on'])}"] += Decimal(row["reversed_amount"])
        for row in export("refunds", state="succeeded", **days):
            by_paid[f"refunded {_month(row['sent_date'])}"] += Decimal(row["amount"])
        for row in export("invoices", **days):
            by_paid[f"invoiced {_month(row['issue_date'])}"] += Decimal(row["total"])
        for row in export("invoices", by="recorded", **days):
            key = f"invoiced {_month(row['issue_date'])}"
            if (row["invoice_id"], "issued") not in booked:
                booked.add((row["invoice_id"], "issued"))
                by_recorded[key] += Decimal(row["total"])
            if row["state"] == "void" and (row["invoice_id"], "void") not in booked:
                booked.add((row["invoice_id"], "void"))  # a void counts nowhere
                by_recorded[key] -= Decimal(row["total"])
        # The pull by the day recorded: each row is the payment as it stands; the
        # ledger books each movement once, keyed by the row's id, on its own day.
        for row in export("payments", by="recorded", **days):
            seen[row["payment_id"]] += 1
            movements = []
            if row["state"] in ("succeeded", "reversed"):
                movements.append(("collected", row["paid_date"], row["amount"]))
            if row["state"] == "reversed":
                movements.append(("reversed", row["reversed_on"], row["reversed_amount"]))
            for movement, day, amount in movements:
                if (row["payment_id"], movement) not in booked:
                    booked.add((row["payment_id"], movement))
                    by_recorded[f"{movement} {_month(day)}"] += Decimal(amount)
        for row in export("refunds", by="recorded", state="succeeded", **days):
            if (row["refund_id"], "refunded") not in booked:
                booked.add((row["refund_id"], "refunded"))
                by_recorded[f"refunded {_month(row['sent_date'])}"] += Decimal(row["amount"])

    page: dict[str, Decimal] = {}
    for row in finance.cash_flow(session, Filters(date(2026, 11, 1), date(2026, 12, 1))):
        for name in ("invoiced", "collected", "reversed", "refunded"):
            if getattr(row, name):
                page[f"{name} {row.period.key}"] = getattr(row, name)
    assert page == {
        "invoiced 2026-11": Decimal("1750.00"),
        "collected 2026-11": Decimal("1750.00"),
        "reversed 2026-11": Decimal("1000.00"),
        "refunded 2026-11": Decimal("120.00"),
    }
    assert dict(by_recorded) == page  # every late entry, each once
    assert seen[made["check"].id] == 2  # recorded, then its reversal recorded
    # By the day dated, the late entries were never in a night's pull.
    # and the invoice voided the day after it was issued stayed invoiced.
    assert dict(by_paid) == {
        "invoiced 2026-11": Decimal("1830.00"),
        "collected 2026-11": Decimal("1500.00"),
    }


def test_a_payment_whose_status_changed_comes_again_in_the_nightly_pull_of_that_day(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    """Round 33: `payments?by=recorded` brought a payment the night it was recorded,
    applied or reversed, never the night it was declined, flagged or cancelled (no
    money moved): a ledger mirroring every row kept a declined card `pending` and a
    cancelled attempt `failed`. Each step of the payment machine now stamps
    `status_changed_at`, and the row comes again the night it changed."""
    export = _exporter(client, billing_staff)
    earlier = datetime.now(UTC) - timedelta(days=3)
    today, before = office_date(utcnow()), office_date(earlier)
    # A card declined three days ago (its attempt `failed`), closed today when the
    # licensee pays with another card; a card payment started three days ago, its
    # charge reported today short (flagged for staff).
    declined_on = invoice_for(vendor, ("180.00",))
    declined = declined_card_payment(declined_on, vendor, localstripe)
    session = db.session()
    short_on = invoice_for(vendor, ("300.00",))
    started = pay_by_card(short_on, vendor, localstripe)
    for payment in (declined, started):
        payment.created_at = earlier
        payment.status_changed_at = earlier if payment.state == "failed" else None
    session.commit()
    night = {"from": before.isoformat(), "to": before.isoformat()}
    ledger = {row["payment_id"]: row["state"] for row in export("payments", by="recorded", **night)}
    assert ledger == {declined.id: "failed", started.id: "pending"}

    retried = pay_by_card(declined_on, vendor, localstripe)
    event = copy.deepcopy(succeeded_event(localstripe, started))
    event["data"]["object"]["amount_received"] = 29999
    assert deliver_event(client, event).get_json()["outcome"].startswith("flagged")
    night = {"from": today.isoformat(), "to": today.isoformat()}
    for row in export("payments", by="recorded", **night):
        ledger[row["payment_id"]] = row["state"]
    assert ledger == {declined.id: "canceled", started.id: "flagged", retried.id: "pending"}
    stored = {
        payment.id: payment.state
        for payment in session.scalars(select(Payment).where(Payment.id.in_(ledger)))
    }
    assert ledger == stored  # the ledger mirrors the service, row for row
    # Nothing collected: the Finance page and the pull by day paid count none of them.
    assert [row for row in export("payments", **night) if row["state"] == "succeeded"] == []


def test_a_flagged_payment_accepted_comes_again_the_night_accepted_alike_in_csv_and_json(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    """Round 34's walk: a clerk's nightly pull, a payment flagged three nights ago
    (299.99 of 300.00) accepted short today by billing staff. It comes again the
    night it was accepted, `succeeded` with its amount received, and the CSV a
    spreadsheet reads says what the JSON a script reads says."""
    export = _exporter(client, billing_staff)
    short, flagged = flagged_card_payment(client, vendor, localstripe, invoice_for, received=29999)
    earlier = datetime.now(UTC) - timedelta(days=3)
    flagged.created_at = flagged.status_changed_at = earlier
    db.session().commit()
    before, today = office_date(earlier), office_date(utcnow())
    night = {"from": before.isoformat(), "to": before.isoformat()}
    [row] = [r for r in export("payments", by="recorded", **night) if r["payment_id"] == flagged.id]
    assert row["state"] == "flagged"
    accepted = client.post(
        f"/api/v1/payments/{flagged.id}/accept",
        json={"reason": "The licensee's bank kept a cent; accepted."},
        headers=bearer(billing_staff),
    )
    assert accepted.status_code == 200, accepted.get_json()
    night = {"from": today.isoformat(), "to": today.isoformat()}
    rows = [r for r in export("payments", by="recorded", **night) if r["payment_id"] == flagged.id]
    assert [(r["state"], r["amount_received"]) for r in rows] == [("succeeded", "299.99")]
    csv_body = client.get(
        "/api/v1/exports/payments",
        query_string={"format": "csv", "by": "recorded", **night},
        headers=bearer(billing_staff),
    )
    assert csv_body.status_code == 200
    [csv_row] = [
        r
        for r in csv.DictReader(io.StringIO(csv_body.get_data(as_text=True)))
        if r["payment_id"] == str(flagged.id)
    ]
    assert {name: csv_row[name] for name in ("state", "amount", "amount_received")} == {
        "state": "succeeded",
        "amount": rows[0]["amount"],
        "amount_received": "299.99",
    }
    # The invoice it paid is not a royalty invoice: the three round-33 columns and
    # round 51's two (the reports' numbers) are empty in CSV and null in JSON.
    invoices = client.get(
        "/api/v1/exports/invoices",
        query_string={"format": "csv"},
        headers=bearer(billing_staff),
    ).get_data(as_text=True)
    reader = csv.reader(io.StringIO(invoices))
    header = next(row for row in reader if row and not row[0].startswith("#"))
    # Round 53 added `amount_refunded` after them: the refunds sent on the invoice.
    assert header[-6:] == [
        "royalty_report_id",
        "amends_report_id",
        "amends_invoice_number",
        "royalty_report_number",
        "amends_report_number",
        "amount_refunded",
    ]
    [line] = [r for r in reader if r and r[header.index("invoice_number")] == short.number]
    assert line[-6:] == [""] * 5 + ["0.00"]
    [as_json] = [r for r in export("invoices") if r["invoice_number"] == short.number]
    assert list(as_json)[-6:] == header[-6:]
    assert [as_json[name] for name in header[-6:-1]] == [None] * 5


def _give_back(client: FlaskClient, staff: User, payment: Payment) -> None:
    given = client.post(
        f"/api/v1/payments/{payment.id}/give-back",
        json={"reason": "Paid twice; given back."},
        headers=bearer(staff),
    )
    assert given.status_code == 200, given.get_json()


def test_a_give_back_that_failed_comes_again_flagged_the_night_stripe_said_so(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    """Round 37: a payment given back three nights ago whose refund Stripe reports
    failed today is flagged again; the nightly pull brings it again tonight,
    `flagged`, with no `paid_date` (it still counts nowhere), so a ledger that
    booked nothing for the give-back learns the money is back with us."""
    export = _exporter(client, billing_staff)
    _, payment = flagged_card_payment(client, vendor, localstripe, invoice_for, received=29999)
    _give_back(client, billing_staff, payment)
    earlier = datetime.now(UTC) - timedelta(days=3)
    db.session().refresh(payment)
    payment.created_at = payment.status_changed_at = earlier
    db.session().commit()
    before, today = office_date(earlier), office_date(utcnow())
    tonight = {"from": today.isoformat(), "to": today.isoformat()}
    assert [
        r for r in export("payments", by="recorded", **tonight) if r["payment_id"] == payment.id
    ] == []
    [refund] = _call(
        localstripe, "GET", f"/v1/refunds?payment_intent={payment.stripe_payment_intent_id}"
    )["data"]
    outcome = deliver_event(client, refund_failed_event(localstripe, refund["id"])).get_json()
    assert outcome["outcome"].startswith("flagged again")
    rows = [
        r for r in export("payments", by="recorded", **tonight) if r["payment_id"] == payment.id
    ]
    assert [(r["state"], r["paid_date"], r["amount_received"]) for r in rows] == [
        ("flagged", None, "299.99")
    ]
    days = {"from": before.isoformat(), "to": today.isoformat()}
    assert [r for r in export("payments", by="paid", **days) if r["payment_id"] == payment.id] == []


def test_a_flagged_payment_given_back_comes_again_the_night_given_back_and_counts_nowhere(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    """Round 36: a payment flagged three nights ago (299.99 of 300.00) given back to
    the card today. The nightly pull brings it again tonight, `given_back`, with no
    `paid_date`; it never counted, so the Finance page collects and refunds nothing
    for it, and the statement of account owes the invoice's whole total."""
    export = _exporter(client, billing_staff)
    invoice, flagged = flagged_card_payment(
        client, vendor, localstripe, invoice_for, received=29999
    )
    earlier = datetime.now(UTC) - timedelta(days=3)
    flagged.created_at = flagged.status_changed_at = earlier
    db.session().commit()
    _give_back(client, billing_staff, flagged)
    before, today = office_date(earlier), office_date(utcnow())
    tonight = {"from": today.isoformat(), "to": today.isoformat()}
    rows = [
        r for r in export("payments", by="recorded", **tonight) if r["payment_id"] == flagged.id
    ]
    assert [(r["state"], r["paid_date"], r["amount_received"]) for r in rows] == [
        ("given_back", None, "299.99")
    ]
    days = {"from": before.isoformat(), "to": today.isoformat()}
    assert [r for r in export("payments", by="paid", **days) if r["payment_id"] == flagged.id] == []
    _counted_nowhere(invoice, before, today)


def _counted_nowhere(invoice: Invoice, before: date, today: date) -> None:
    """The Finance page collects and refunds nothing from `before` to `today`, and the
    statement of account owes `invoice`'s whole 300.00: its card payment never counted."""
    session = db.session()
    months = finance.cash_flow(session, Filters(before.replace(day=1), today.replace(day=1)))
    assert sum((row.collected for row in months), ZERO) == ZERO
    assert sum((row.refunded for row in months), ZERO) == ZERO
    organization = session.get(Organization, invoice.organization_id)
    assert organization is not None
    assert invoice.issue_date is not None
    # The fixture issues its invoice on a day of its own (it may be after today).
    first, last = min(before, invoice.issue_date), max(today, invoice.issue_date)
    statement = services.statement_for(
        session,
        organization,
        services.Asked(start=first.isoformat(), end=last.isoformat(), currency="USD"),
        now=datetime(last.year, last.month, last.day, 18, tzinfo=UTC),  # the fixture's day
    )
    assert (statement.charges, statement.credits, statement.closing) == (
        Decimal("300.00"),
        ZERO,
        Decimal("300.00"),
    )


def test_a_payment_being_given_back_comes_again_the_night_it_was_asked_and_counts_nowhere(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    """Round 42: a give-back whose Stripe answer was lost is `giving_back` until Stripe
    answers. The nightly pull brings it again the night it was asked, `giving_back`,
    with no `paid_date`; like a flagged payment it counts nowhere: the Finance page
    collects nothing for it and the statement of account owes the invoice's total."""
    export = _exporter(client, billing_staff)
    invoice, payment = flagged_card_payment(
        client, vendor, localstripe, invoice_for, received=29999
    )
    earlier = datetime.now(UTC) - timedelta(days=3)
    payment.created_at = payment.status_changed_at = earlier
    db.session().commit()
    with stripe_through(LostAnswer):
        lost = client.post(
            f"/api/v1/payments/{payment.id}/give-back",
            json={"reason": "Paid twice; given back."},
            headers=bearer(billing_staff),
        )
    assert lost.status_code == 502
    before, today = office_date(earlier), office_date(utcnow())
    tonight = {"from": today.isoformat(), "to": today.isoformat()}
    rows = [
        r for r in export("payments", by="recorded", **tonight) if r["payment_id"] == payment.id
    ]
    assert [(r["state"], r["paid_date"], r["amount_received"]) for r in rows] == [
        ("giving_back", None, "299.99")
    ]
    days = {"from": before.isoformat(), "to": today.isoformat()}
    assert [r for r in export("payments", by="paid", **days) if r["payment_id"] == payment.id] == []
    _counted_nowhere(invoice, before, today)
