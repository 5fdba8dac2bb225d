"""Round 53: an invoice's balance counts the refunds sent.

A refund sent is money out; a payment the bank returns (or a card payment disputed)
is money that never arrived. Neither may be counted twice: once the money a refund
went back from is returned, the licensee owes the invoice less its credit notes plus
the refund they were sent, and nothing is owed back. Every reading agrees to the cent:
the invoice (page, API), the organization's statement, the Finance page's
*Outstanding* and *Refunds owed at end*, and the receivables and invoices exports.

    offline  INV 1000.00 issued 2027-03-02; wire 1000.00 received 03-05; credit note
             150.00 on 03-10 (all owed back); refund sent 03-12 (all of it, or 100.00);
             the bank returns the wire on 04-06
    parts    INV 1000.00 paid by two wires, 940.00 and 60.00; credit note 150.00; 50.00
             of it sent back; the bank returns the 60.00 wire: 40.00 is still owed back
    card     INV 250.00 paid by card; credit note 50.00 refunded to the card; the bank
             disputes the other 200.00 and Stripe withdraws it (lost)
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from flask.testing import FlaskClient

from licensing import db
from licensing.accounts.models import Organization, User
from licensing.billing import queries as billing_queries
from licensing.billing import services
from licensing.billing.models import Invoice
from licensing.billing.statements import statement_of_account
from licensing.errors import Conflict
from licensing.finance import queries as finance
from licensing.finance.queries import Filters, PeriodFigures
from tests.integration.finance.conftest import at, issue
from tests.support import factories, settings
from tests.support.billing import credited, paid_offline, refunded_offline, reversed_offline
from tests.support.exports import exporter, receivables
from tests.support.factories import bearer, billing_clerk
from tests.support.servers import LocalStripe

from .dispute_support import WITHDRAWN, charge_of, lost
from .refund_support import paid_by_card
from .stripe_support import stripe_config

ZERO = Decimal(0)
MARCH, APRIL = date(2027, 3, 1), date(2027, 4, 1)
RETURNED = date(2027, 4, 6)  # the day the bank returns a wire


def _invoice(invoice_id: int) -> Invoice:
    invoice = db.session().get(Invoice, invoice_id)
    assert invoice is not None
    db.session().refresh(invoice)
    return invoice


def _change(row: PeriodFigures) -> Decimal:
    return row.invoiced - row.collected + row.reversed - row.credited + row.refunded


def _reconciles(figures: list[PeriodFigures]) -> None:
    """Outstanding less refunds owed changes each period by the period's figures, and
    no refund owed is below zero."""
    for previous, row in itertools.pairwise(figures):
        moved = (row.outstanding - row.refunds_owed) - (
            previous.outstanding - previous.refunds_owed
        )
        assert moved == _change(row), row.period.key
    assert all(row.refunds_owed >= 0 for row in figures)


def _wire_credited_and_refunded(refund: str) -> tuple[int, int]:
    """The offline history up to the refund (`refund` of the 150.00 sent back on
    03-12): the organization's id and the invoice's."""
    organization_id = factories.make_organization(db.session()).id
    invoice = issue(organization_id, "1000.00", date(2027, 3, 2))
    paid_offline(
        invoice.id, "1000.00", "WIRE-1", received_on=date(2027, 3, 5), now=at(date(2027, 3, 5))
    )
    note = credited(invoice.id, "150.00", "Royalty report amended", now=at(date(2027, 3, 10)))
    assert note.refund_due == Decimal("150.00")
    refunded_offline(note.id, refund, "RF-1", sent_on=date(2027, 3, 12), now=at(date(2027, 3, 12)))
    return organization_id, invoice.id


def _wire_returned(invoice_id: int) -> None:
    (payment,) = _invoice(invoice_id).payments
    reversed_offline(
        payment.id, "Wire recalled by the bank", returned_on=RETURNED, now=at(RETURNED)
    )


def _export_rows(client: FlaskClient, staff: User, dataset: str, **filters: Any) -> list[dict]:
    text = exporter(client, staff, dataset)("csv", **filters).decode("utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def test_a_wire_returned_after_its_refund_was_sent_leaves_the_invoice_owed_in_full_everywhere(
    client: FlaskClient, billing_staff: User
) -> None:
    organization_id, invoice_id = _wire_credited_and_refunded("150.00")
    _wire_returned(invoice_id)

    # The invoice: 1000.00 - 0.00 paid - 150.00 credited + 150.00 sent back = 1000.00.
    invoice = _invoice(invoice_id)
    assert invoice.state == "open"
    assert (invoice.amount_paid, invoice.amount_refunded) == (ZERO, Decimal("150.00"))
    assert (invoice.balance_due, invoice.refund_outstanding) == (Decimal("1000.00"), ZERO)
    body = client.get(f"/api/v1/invoices/{invoice_id}", headers=bearer(billing_staff)).get_json()
    assert (body["balance_due"], body["amount_refunded"], body["refund_outstanding"]) == (
        "1000.00",
        "150.00",
        "0.00",
    )

    # The Finance page: owed in full from the return on, and no refund owed below zero.
    figures = finance.cash_flow(db.session(), Filters(MARCH, APRIL, currency="USD"))
    march, april = figures
    assert (march.refunded, march.outstanding, march.refunds_owed) == (
        Decimal("150.00"),
        ZERO,
        ZERO,
    )
    assert (april.reversed, april.outstanding, april.refunds_owed) == (
        Decimal("1000.00"),
        Decimal("1000.00"),
        ZERO,
    )
    _reconciles(figures)

    # The exports: the receivables balance and the invoices' balance due agree.
    (row,) = receivables(client, billing_staff, "2027-04-30")
    assert (row["paid_to_date"], row["credited_to_date"], row["refunded_to_date"]) == (
        "0.00",
        "150.00",
        "150.00",
    )
    assert row["balance"] == "1000.00"
    assert receivables(client, billing_staff, "2027-03-31") == []
    (exported,) = _export_rows(client, billing_staff, "invoices")
    assert (exported["balance_due"], exported["amount_refunded"]) == ("1000.00", "150.00")

    # The organization's statement: April opens at 0.00 and closes owing 1000.00.
    organization = db.session().get(Organization, organization_id)
    assert organization is not None
    april_statement = statement_of_account(
        db.session(), organization, "USD", APRIL, date(2027, 4, 30), as_of=at(date(2027, 5, 1))
    )
    assert (april_statement.opening, april_statement.closing) == (ZERO, Decimal("1000.00"))
    march_statement = statement_of_account(
        db.session(), organization, "USD", MARCH, date(2027, 3, 31), as_of=at(APRIL)
    )
    assert march_statement.closing == ZERO
    assert [line.change for line in march_statement.lines] == [
        Decimal("1000.00"),
        Decimal("-1000.00"),
        ZERO,  # the credit note: all of it owed back, the balance was 0.00
        ZERO,  # the refund of it: owes nothing new while the wire stands
    ]


def test_part_of_a_refund_sent_before_the_bank_returned_the_wire_is_owed_and_the_rest_never_sent(
    client: FlaskClient, billing_staff: User
) -> None:
    _organization_id, invoice_id = _wire_credited_and_refunded("100.00")
    (credit,) = _invoice(invoice_id).credit_notes
    assert credit.refund_outstanding == Decimal("50.00")
    _wire_returned(invoice_id)

    # 1000.00 - 150.00 credited + 100.00 sent back: the 50.00 never sent is not owed
    # back any more (the licensee's money never arrived).
    invoice = _invoice(invoice_id)
    assert (invoice.balance_due, invoice.refund_outstanding) == (Decimal("950.00"), ZERO)
    assert billing_queries.refunds_owed(db.session(), invoice_ids=[invoice_id]) == []
    with pytest.raises(Conflict, match="owes no refund"):
        refunded_offline(credit.id, "50.00", "RF-2", sent_on=RETURNED, now=at(RETURNED))

    figures = finance.cash_flow(db.session(), Filters(MARCH, APRIL, currency="USD"))
    march, april = figures
    assert (march.outstanding, march.refunds_owed) == (ZERO, Decimal("50.00"))
    assert (april.outstanding, april.refunds_owed) == (Decimal("950.00"), ZERO)
    _reconciles(figures)
    (row,) = receivables(client, billing_staff, "2027-04-30")
    assert (row["refunded_to_date"], row["balance"]) == ("100.00", "950.00")


def test_a_part_payment_returned_after_a_part_refund_leaves_what_the_office_still_holds_owed_back(
    client: FlaskClient, billing_staff: User
) -> None:
    organization_id = factories.make_organization(db.session()).id
    invoice = issue(organization_id, "1000.00", date(2027, 3, 2))
    fifth, sixth, tenth, twelfth = (date(2027, 3, day) for day in (5, 6, 10, 12))
    paid_offline(invoice.id, "940.00", "W-1", received_on=fifth, now=at(fifth))
    short = paid_offline(invoice.id, "60.00", "W-2", received_on=sixth, now=at(sixth))
    note = credited(invoice.id, "150.00", "Seat removed", now=at(tenth))
    refunded_offline(note.id, "50.00", "RF-1", sent_on=twelfth, now=at(twelfth))
    reversed_offline(short.id, "Returned", returned_on=RETURNED, now=at(RETURNED))

    # The office kept 940.00 for an invoice now worth 850.00 and sent 50.00 back:
    # 40.00 is still owed back, on every page and list that names it.
    invoice = _invoice(invoice.id)
    assert invoice.state == "paid"
    assert (invoice.balance_due, invoice.refund_outstanding) == (ZERO, Decimal("40.00"))
    (owed,) = billing_queries.refunds_owed(db.session(), invoice_ids=[invoice.id])
    assert owed.outstanding == Decimal("40.00")
    assert billing_queries.refunds_to_send(db.session(), organization_id, 5).sums == {
        "USD": Decimal("40.00")
    }
    body = client.get(f"/api/v1/invoices/{invoice.id}", headers=bearer(billing_staff)).get_json()
    assert (body["balance_due"], body["refund_outstanding"]) == ("0.00", "40.00")
    figures = finance.cash_flow(db.session(), Filters(MARCH, APRIL, currency="USD"))
    assert [(row.outstanding, row.refunds_owed) for row in figures] == [
        (ZERO, Decimal("100.00")),
        (ZERO, Decimal("40.00")),
    ]
    _reconciles(figures)
    # The rest of it is refunded as usual, and then nothing is owed either way.
    later = date(2027, 4, 8)
    refunded_offline(note.id, "40.00", "RF-2", sent_on=later, now=at(later))
    assert _invoice(invoice.id).refund_outstanding == ZERO
    assert receivables(client, billing_staff, "2027-04-30") == []


@pytest.fixture
def config_changes(localstripe: LocalStripe) -> dict[str, Any]:
    return stripe_config(localstripe)


@pytest.mark.usefixtures("before_the_disputes")
def test_a_card_payment_disputed_after_its_refund_was_sent_is_owed_for_what_stripe_withdrew(
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> None:
    invoice = invoice_for(vendor, ("250.00",))
    payment = paid_by_card(client, vendor, localstripe, invoice)
    credit = services.issue_credit_note(
        invoice.id, amount=Decimal("50.00"), reason="Seat removed", actor=billing_clerk()
    )
    refund = services.refund_card(credit.id, actor=billing_clerk(), gateway=settings.gateway())
    assert refund.state == "succeeded"
    # The bank disputes the 200.00 the card still carries, and the dispute is lost.
    lost(client, payment, charge_of(localstripe, payment), amount=20000, at=WITHDRAWN)

    # 250.00 - 50.00 kept - 50.00 credited + 50.00 sent back = 200.00, nothing owed back.
    invoice = _invoice(invoice.id)
    assert invoice.state == "open"
    assert (invoice.balance_due, invoice.refund_outstanding) == (Decimal("200.00"), ZERO)
    january, march = date(2027, 1, 1), date(2027, 3, 1)
    figures = finance.cash_flow(db.session(), Filters(january, march, currency="USD"))
    assert [(row.outstanding, row.refunds_owed) for row in figures] == [
        (ZERO, ZERO),
        (ZERO, ZERO),
        (Decimal("200.00"), ZERO),
    ]
    _reconciles(figures)
    (row,) = receivables(client, billing_staff, "2027-03-31")
    assert (row["refunded_to_date"], row["balance"]) == ("50.00", "200.00")
