"""A licensee's statement of account: its closing balance is what the receivables
export says the organization owed that day, to the cent, whatever moved in between
(partial payments, credit notes, a refund, a bounced cheque, a card dispute, a void)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from flask.testing import FlaskClient

from licensing import db
from licensing.accounts.models import Organization, User
from licensing.billing import services, statements
from licensing.billing.models import Invoice
from licensing.billing.statements import Statement
from licensing.errors import InvalidInput
from licensing.finance import queries as finance_queries
from tests.support import settings
from tests.support.exports import receivables
from tests.support.factories import billing_clerk
from tests.support.servers import LocalStripe

from .dispute_support import REINSTATED, WITHDRAWN, charge_of, dispute_event
from .refund_support import deliver, paid_by_card
from .stripe_support import signed, stripe_config

STANDING_DAYS = 30
ISSUED = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
LATER = datetime(2027, 5, 1, 15, 0, tzinfo=UTC)
# The day the card payments settle ("today"): after the invoices (ISSUED) and their
# first wires, before the credits of January. At the real time they settled after the
# statements' last day, and the statement no longer equalled the export, from 2 May
# 2027 (the statement is read as of LATER).
SETTLED = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _on_the_day_the_cards_settle() -> Iterator[None]:
    with time_machine.travel(SETTLED, tick=True):
        yield


@pytest.fixture
def config_changes(localstripe: LocalStripe) -> dict[str, Any]:
    return stripe_config(localstripe)


def _at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 16, 0, tzinfo=UTC)


def _paid(invoice: Invoice, amount: str, day: date, reference: str) -> int:
    payment = services.record_offline_payment(
        invoice.id,
        method="wire",
        amount=Decimal(amount),
        reference=reference,
        received_on=day,
        now=_at(day),
        actor=billing_clerk(),
    )
    return payment.id


def _receivables_owed(client: FlaskClient, staff: User, organization_id: int, as_of: date) -> str:
    rows = receivables(
        client, staff, as_of.isoformat(), organization=organization_id, currency="USD"
    )
    return str(sum((Decimal(row["balance"]) for row in rows), Decimal("0.00")))


def _statement(organization_id: int, start: date, end: date, currency: str = "USD") -> Statement:
    session = db.session()
    organization = session.get(Organization, organization_id)
    assert organization is not None
    asked = services.Asked(start.isoformat(), end.isoformat(), currency)
    return services.statement_for(session, organization, asked, now=LATER)


def _a_year_of_business(
    client: FlaskClient, vendor: User, localstripe: LocalStripe, invoice_for: Callable[..., Invoice]
) -> dict[str, Invoice]:
    """Invoices, partial payments, a credit with its refund, a bounced wire, a card
    payment disputed in part and a void, on days from November 2026 to March 2027."""
    clerk = billing_clerk()
    carded = invoice_for(vendor, ("250.00",), at=ISSUED)
    payment = paid_by_card(client, vendor, localstripe, carded)  # settled today
    partial = invoice_for(vendor, ("1200.00", "350.50"), at=ISSUED)
    _paid(partial, "500.00", date(2026, 11, 25), "W-1")
    services.issue_credit_note(
        partial.id,
        amount=Decimal("50.25"),
        reason="Overbilled",
        now=_at(date(2027, 1, 5)),
        actor=clerk,
    )
    refunded = invoice_for(vendor, ("300.00",), at=ISSUED)
    _paid(refunded, "300.00", date(2026, 11, 28), "W-2")
    credit = services.issue_credit_note(
        refunded.id,
        amount=Decimal("80.00"),
        reason="Seat count",
        now=_at(date(2027, 1, 10)),
        actor=clerk,
    )
    services.record_offline_refund(
        credit.id,
        method="wire",
        amount=Decimal("80.00"),
        reference="R-1",
        sent_on=date(2027, 1, 12),
        now=_at(date(2027, 1, 12)),
        actor=clerk,
    )
    bounced = invoice_for(vendor, ("400.00",), at=ISSUED)
    wire = _paid(bounced, "400.00", date(2026, 11, 30), "W-3")
    services.reverse_offline_payment(
        wire,
        reason="Wire recalled by the sender's bank.",
        returned_on=date(2027, 2, 5),
        standing_days=STANDING_DAYS,
        now=_at(date(2027, 2, 6)),
        actor=clerk,
    )
    voided = invoice_for(vendor, ("75.00",), at=ISSUED)
    services.void_invoice(
        voided.id, reason="Issued twice in error.", now=_at(date(2027, 1, 20)), actor=clerk
    )
    # The bank disputes 100.00 of the card payment, withdrawn on 2027-03-02.
    opened = dispute_event(
        "charge.dispute.created",
        payment,
        charge_of(localstripe, payment),
        amount=10000,
        moved=(WITHDRAWN,),
    )
    assert "withdrawal of 100.00 booked" in deliver(client, opened)["outcome"]
    # Another card payment disputed whole, withdrawn 2027-03-02 and won 2027-04-20.
    won = invoice_for(vendor, ("120.00",), at=ISSUED)
    second = paid_by_card(client, vendor, localstripe, won)
    closed = dispute_event(
        "charge.dispute.closed",
        second,
        charge_of(localstripe, second),
        status="won",
        amount=12000,
        moved=(WITHDRAWN, REINSTATED),
        dispute_id="du_2Harborlight",
    )
    assert "reinstatement of 120.00 booked" in deliver(client, closed)["outcome"]
    return {
        "carded": carded,
        "partial": partial,
        "refunded": refunded,
        "bounced": bounced,
        "voided": voided,
        "won": won,
    }


def test_the_closing_balance_equals_the_receivables_export_on_every_day_asked(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    _a_year_of_business(client, vendor, localstripe, invoice_for)
    organization_id = vendor.organization_id
    assert organization_id is not None
    start = date(2026, 11, 1)
    for end in (
        date(2026, 11, 20),
        date(2026, 11, 30),
        date(2027, 1, 10),  # credited beyond the balance, refund not yet sent
        date(2027, 1, 20),
        date(2027, 2, 5),
        date(2027, 3, 2),
        date(2027, 4, 30),
    ):
        statement = _statement(organization_id, start, end)
        owed = _receivables_owed(client, billing_staff, organization_id, end)
        assert str(statement.closing.quantize(Decimal("0.01"))) == owed, end
        # The running balance ends where the export does.
        last = statement.lines[-1].balance if statement.lines else statement.opening
        assert last == statement.closing
    # A statement opening later opens with what the export said the day before.
    later = _statement(organization_id, date(2027, 1, 11), date(2027, 3, 31))
    owed_before = _receivables_owed(client, billing_staff, organization_id, date(2027, 1, 10))
    assert str(later.opening.quantize(Decimal("0.01"))) == owed_before


def test_each_movement_is_dated_its_office_day_and_names_its_document(
    client: FlaskClient,
    vendor: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    made = _a_year_of_business(client, vendor, localstripe, invoice_for)
    assert vendor.organization_id is not None
    statement = _statement(vendor.organization_id, date(2026, 11, 1), date(2027, 3, 31))
    seen = [
        (line.movement.day, line.movement.kind, line.movement.document, line.movement.amount)
        for line in statement.lines
    ]
    partial, refunded, bounced = made["partial"], made["refunded"], made["bounced"]
    assert (date(2026, 11, 25), "paid", partial.number, Decimal("-500.00")) in seen
    assert (date(2027, 2, 5), "reversed", bounced.number, Decimal("400.00")) in seen
    assert (date(2027, 1, 20), "voided", made["voided"].number, Decimal("-75.00")) in seen
    assert (date(2027, 3, 2), "withdrawn", made["carded"].number, Decimal("100.00")) in seen
    credits = [line for line in statement.lines if line.movement.kind == "credited"]
    assert {line.movement.document[:3] for line in credits} == {"CN-"}
    # Credited 80.00 on a paid invoice: all of it a refund due, so what is owed does
    # not move; nor does the refund sent on it (the export counts neither).
    (beyond,) = [line for line in credits if line.movement.amount == Decimal("-80.00")]
    assert beyond.change == 0
    assert refunded.number in beyond.movement.description
    (refund,) = [line for line in statement.lines if line.movement.kind == "refunded"]
    assert (refund.movement.day, refund.change) == (date(2027, 1, 12), 0)
    assert statement.opening == 0
    won = made["won"].number
    assert (date(2027, 3, 2), "withdrawn", won, Decimal("120.00")) in seen
    # Owed again from the withdrawal: 1,000.25 + 400.00 + 100.00 + 120.00.
    assert statement.closing == Decimal("1620.25")
    # The dispute won gives the money back on the day Stripe reinstated it.
    april = _statement(vendor.organization_id, date(2027, 4, 1), date(2027, 4, 30))
    (reinstated,) = april.lines
    assert (reinstated.movement.kind, reinstated.movement.document) == ("reinstated", won)
    assert (reinstated.movement.day, reinstated.change) == (date(2027, 4, 20), Decimal("-120.00"))
    assert "du_2Harborlight" in reinstated.movement.description
    assert april.closing == Decimal("1500.25")


def test_an_organization_billed_in_two_currencies_gets_a_statement_for_each(
    vendor: User, invoice_for: Callable[..., Invoice]
) -> None:
    dollars_invoice = invoice_for(vendor, ("250.00",), at=ISSUED)
    euros_invoice = invoice_for(vendor, ("90.00",), at=ISSUED, currency="EUR")
    assert vendor.organization_id is not None
    november = (vendor.organization_id, date(2026, 11, 1), date(2026, 11, 30))
    dollars = _statement(*november)
    euros = _statement(*november, currency="EUR")
    assert dollars.currencies == euros.currencies == ("EUR", "USD")
    assert [line.movement.document for line in dollars.lines] == [dollars_invoice.number]
    assert [line.movement.document for line in euros.lines] == [euros_invoice.number]
    assert (dollars.closing, euros.closing) == (Decimal("250.00"), Decimal("90.00"))


def test_a_currency_the_organization_was_not_invoiced_in_is_refused_by_name(
    vendor: User, invoice_for: Callable[..., Invoice]
) -> None:
    invoice_for(vendor, ("250.00",), at=ISSUED)
    assert vendor.organization_id is not None
    with pytest.raises(InvalidInput) as refused:
        _statement(vendor.organization_id, date(2026, 11, 1), date(2026, 11, 30), "EUR")
    assert refused.value.errors["currency"] == [
        f"{vendor.organization.legal_name} was not invoiced in EUR (it was in USD)."
    ]


def test_a_late_fee_is_listed_as_the_invoice_it_is_on_the_day_it_was_charged(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    invoice_for: Callable[..., Invoice],
) -> None:
    invoice = invoice_for(vendor, ("1000.00",), at=ISSUED)  # due 2026-12-20
    services.process_overdue(standing_days=STANDING_DAYS, now=_at(date(2027, 1, 21)))
    assert vendor.organization_id is not None
    statement = _statement(vendor.organization_id, date(2026, 11, 1), date(2027, 1, 31))
    (fee,) = [
        line
        for line in statement.lines
        if line.movement.kind == "issued" and line.movement.document != invoice.number
    ]
    assert fee.movement.day == date(2027, 1, 21)
    assert f"Late fee {invoice.number}" in fee.movement.description
    assert fee.movement.amount == Decimal("15.00")  # 1.5% of 1,000.00
    owed = _receivables_owed(client, billing_staff, vendor.organization_id, date(2027, 1, 31))
    assert owed == "1015.00"
    assert str(statement.closing.quantize(Decimal("0.01"))) == owed


def test_a_dispute_lost_and_told_late_leaves_the_statement_equal_to_the_export(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    """Round 26: a lost dispute is closed, and owed again, from when Stripe closed it;
    its `closed` event applied nine days late changes neither figure's day."""
    invoice = invoice_for(vendor, ("90.00",), at=ISSUED)
    payment = paid_by_card(client, vendor, localstripe, invoice)
    closed_by_stripe = datetime(2027, 4, 5, 15, 0, tzinfo=UTC)
    lost = dispute_event(
        "charge.dispute.closed",
        payment,
        charge_of(localstripe, payment),
        status="lost",
        amount=9000,
        moved=(WITHDRAWN,),
        told=closed_by_stripe,
    )
    payload, headers = signed(lost)
    services.handle_stripe_webhook(
        payload,
        headers["Stripe-Signature"],
        gateway=settings.gateway(),
        now=datetime(2027, 4, 14, 9, 0, tzinfo=UTC),
    )
    organization_id = vendor.organization_id
    assert organization_id is not None
    for end in (date(2027, 3, 1), date(2027, 3, 2), date(2027, 4, 5), date(2027, 4, 30)):
        statement = _statement(organization_id, date(2026, 11, 1), end)
        owed = _receivables_owed(client, billing_staff, organization_id, end)
        assert str(statement.closing.quantize(Decimal("0.01"))) == owed, end
    withdrawn = [line.movement for line in statement.lines if line.movement.kind == "withdrawn"]
    assert [(moved.day, moved.amount) for moved in withdrawn] == [
        (date(2027, 3, 2), Decimal("90.00"))
    ]
    assert statement.closing == Decimal("90.00")


def _older_business(invoice_for: Callable[..., Invoice], vendor: User) -> dict[str, Invoice]:
    """Invoices of 2025, before the year of business: one paid, one never paid, one
    void, one credited whole, one whose wire the bank returned (owed again), and one
    whose wire the bank returned after its credit's refund was sent (owed again)."""
    clerk = billing_clerk()

    def issued(amount: str, day: date) -> Invoice:
        return invoice_for(vendor, (amount,), at=_at(day))

    paid = issued("90.00", date(2025, 3, 3))
    _paid(paid, "90.00", date(2025, 3, 20), "W-old-1")
    owing = issued("60.00", date(2025, 4, 1))
    voided = issued("45.00", date(2025, 5, 1))
    services.void_invoice(
        voided.id, reason="Issued in error.", now=_at(date(2025, 5, 10)), actor=clerk
    )
    credited = issued("40.00", date(2025, 6, 2))
    services.issue_credit_note(
        credited.id,
        amount=Decimal("40.00"),
        reason="Not owed",
        now=_at(date(2025, 6, 10)),
        actor=clerk,
    )
    bounced = issued("30.00", date(2025, 7, 1))
    wire = _paid(bounced, "30.00", date(2025, 7, 5), "W-old-2")
    services.reverse_offline_payment(
        wire,
        reason="Cheque bounced.",
        returned_on=date(2025, 8, 1),
        standing_days=STANDING_DAYS,
        now=_at(date(2025, 8, 2)),
        actor=clerk,
    )
    # Paid in two wires, credited 50.00 and that refund sent, then the bank returns the
    # smaller wire: owed again (round 53, an invoice's balance counts refunds sent),
    # though its payments and credit, less what the bank returned, still cover its total.
    refunded = issued("100.00", date(2025, 9, 1))
    _paid(refunded, "70.00", date(2025, 9, 5), "W-old-3")
    smaller = _paid(refunded, "30.00", date(2025, 9, 6), "W-old-4")
    credit = services.issue_credit_note(
        refunded.id,
        amount=Decimal("50.00"),
        reason="Seat count",
        now=_at(date(2025, 9, 10)),
        actor=clerk,
    )
    services.record_offline_refund(
        credit.id,
        method="wire",
        amount=Decimal("50.00"),
        reference="R-old-1",
        sent_on=date(2025, 9, 12),
        now=_at(date(2025, 9, 12)),
        actor=clerk,
    )
    services.reverse_offline_payment(
        smaller,
        reason="Wire recalled by the sender's bank.",
        returned_on=date(2025, 10, 1),
        standing_days=STANDING_DAYS,
        now=_at(date(2025, 10, 2)),
        actor=clerk,
    )
    return {
        "paid": paid,
        "owing": owing,
        "voided": voided,
        "credited": credited,
        "bounced": bounced,
        "refunded": refunded,
    }


def _from_the_whole_ledger(organization_id: int, start: date, end: date) -> tuple[Any, ...]:
    """The statement's figures summed over every invoice the organization was ever
    issued, as round 52 read them: the reference the bounded ledger must equal."""
    session = db.session()
    scope = statements._Scope(organization_id, "USD", start, end)
    ledger = finance_queries.receivables(
        session, "USD", None, end, organization_id=organization_id, voided_too=True
    )
    opening, lines = statements.running_lines(ledger, statements.movements(session, scope), start)
    closing = sum((receivable.balance_on(end) for receivable in ledger), Decimal(0))
    return opening, closing, tuple(lines)


def test_every_statement_equals_the_one_summed_over_every_invoice_ever_issued(
    client: FlaskClient,
    vendor: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    """Round 53: a statement reads only the invoices that move or may owe in its range
    (`statements.moving_or_owing`); its opening, closing and every line are still those
    of the whole ledger, whichever days it opens and closes on."""
    _older_business(invoice_for, vendor)
    _a_year_of_business(client, vendor, localstripe, invoice_for)
    organization_id = vendor.organization_id
    assert organization_id is not None
    starts = (
        date(2025, 1, 1),
        date(2025, 3, 21),
        date(2025, 8, 2),
        date(2025, 10, 2),
        date(2026, 11, 21),
        date(2027, 1, 11),
        date(2027, 2, 6),
        date(2027, 3, 3),
        date(2027, 4, 21),
    )
    for start in starts:
        for days in (0, 30, 120, 365):
            end = min(start + timedelta(days=days), LATER.date())
            statement = _statement(organization_id, start, end)
            found = (statement.opening, statement.closing, statement.lines)
            assert found == _from_the_whole_ledger(organization_id, start, end), (start, end)


def test_a_statement_reads_only_the_invoices_that_move_or_owe_in_its_range(
    client: FlaskClient,
    vendor: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A vendor with years of invoices paid long ago (2,000 agreements, round 53) had
    each of them read for every statement; those owing nothing before the range and
    moving in none of it are left out, those still owed kept."""
    older = _older_business(invoice_for, vendor)
    made = _a_year_of_business(client, vendor, localstripe, invoice_for)
    organization_id = vendor.organization_id
    assert organization_id is not None

    def ledger() -> list[Any]:
        found = finance_queries.receivables(
            db.session(),
            "USD",
            None,
            date(2027, 3, 31),
            organization_id=organization_id,
            voided_too=True,
            among=statements.moving_or_owing(date(2026, 11, 1)),
        )
        return sorted(found, key=lambda receivable: receivable.invoice_id)

    read = ledger()
    assert {receivable.invoice_id for receivable in read} == {
        older["owing"].id,
        older["bounced"].id,
        older["refunded"].id,
    } | {each.id for each in made.values()}
    # Past the ids it binds, the payments and credits are asked by the condition again:
    # the same ledger, settlements and returns alike.
    monkeypatch.setattr(finance_queries, "LEDGER_IDS_BOUND", 1)
    assert ledger() == read
