"""Round 26: a licensee's accountant ticks the statement of account off against the
invoice's page. A card payment disputed in part is withdrawn on the statement for
the disputed amount; the invoice's page said only "Reversed" beside the whole
payment, and the money Stripe reinstated after a dispute won was "of disputed
payment 7", a row id nobody outside the database sees."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest
import time_machine
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.accounts.models import User
from licensing.billing import services
from licensing.billing.models import Invoice, Payment
from licensing.mail.models import OutboxMessage
from tests.support.pages import without_time_tags
from tests.support.servers import LocalStripe

from .dispute_support import REINSTATED, WITHDRAWN, charge_of, dispute_event
from .refund_support import deliver, paid_by_card
from .stripe_support import stripe_config

ISSUED = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
READ_ON = datetime(2027, 5, 1, 15, 0, tzinfo=UTC)


@pytest.fixture
def config_changes(localstripe: LocalStripe) -> dict[str, Any]:
    return stripe_config(localstripe)


def _text(page: str) -> str:
    page = without_time_tags(page)  # a day in words reads as its words (round 57)
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


@pytest.fixture
def read_later(
    client: FlaskClient, vendor: User, signed_in: Callable[..., FlaskClient]
) -> Callable[[str], str]:
    """A page of the vendor's portal as they read it on 2027-05-01, in words."""

    def read(path: str) -> str:
        with time_machine.travel(READ_ON, tick=False):
            signed_in(client, vendor)
            return _text(client.get(path).get_data(as_text=True))

    return read


@pytest.fixture
def staff_read_later(
    app: Any, billing_staff: User, signed_in: Callable[..., FlaskClient]
) -> Callable[[str], str]:
    """A console page as billing staff read it on 2027-05-01, in words."""

    def read(path: str) -> str:
        with time_machine.travel(READ_ON, tick=False):
            staff = signed_in(app.test_client(), billing_staff)
            return _text(staff.get(path).get_data(as_text=True))

    return read


@pytest.fixture
def disputed(
    client: FlaskClient,
    vendor: User,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> Callable[..., tuple[Invoice, Payment, str]]:
    """`disputed(total, event_type, **dispute)`: an invoice of `total` paid by card,
    then a dispute event of it delivered; the invoice, the payment and the outcome."""

    def dispute(total: str, event_type: str, **details: Any) -> tuple[Invoice, Payment, str]:
        invoice = invoice_for(vendor, (total,), at=ISSUED)
        payment = paid_by_card(client, vendor, localstripe, invoice)
        event = dispute_event(event_type, payment, charge_of(localstripe, payment), **details)
        return invoice, payment, str(deliver(client, event)["outcome"])

    return dispute


def test_a_payment_disputed_in_part_reads_the_withdrawn_amount_on_the_invoice_and_statement(
    disputed: Callable[..., tuple[Invoice, Payment, str]], read_later: Callable[[str], str]
) -> None:
    invoice, _, outcome = disputed(
        "250.00", "charge.dispute.created", amount=10000, moved=(WITHDRAWN,)
    )
    assert "withdrawal of 100.00 booked" in outcome

    statement = read_later("/portal/statement")
    assert "2027-03-02 " + invoice.number in statement
    assert "Card payment withdrawn: your bank's dispute du_1Harborlight" in statement

    # Round 27: the invoice's page shows it as the statement does, the payment paid
    # in full (disputed in part) and the withdrawal on its own row with its amount
    # and day, not "Reversed" beside the whole 250.00.
    page = read_later(f"/portal/invoices/{invoice.id}")
    assert "disputed in part 250.00 USD" in page
    assert (
        "Card payment withdrawn: your bank's dispute du_1Harborlight withdrawn 100.00 USD"
        " The dispute is open: the money comes back if it is won 2027-03-02"
    ) in page
    assert "Reversed" not in page


def test_the_console_invoice_page_shows_the_withdrawal_and_the_money_reinstated(
    disputed: Callable[..., tuple[Invoice, Payment, str]],
    staff_read_later: Callable[[str], str],
) -> None:
    invoice, _, _ = disputed(
        "120.00",
        "charge.dispute.closed",
        status="won",
        amount=4000,
        moved=(WITHDRAWN, REINSTATED),
    )
    page = staff_read_later(f"/console/invoices/{invoice.id}")
    assert "disputed in part 120.00 USD" in page
    assert (
        "Card payment withdrawn: the licensee's bank's dispute du_1Harborlight withdrawn"
        " 40.00 USD The dispute was won: Stripe reinstated the money April 20, 2027"
    ) in page
    assert "succeeded 40.00 USD" in page  # the money reinstated, its own payment


def test_money_reinstated_after_a_dispute_won_names_the_payment_as_its_page_shows_it(
    disputed: Callable[..., tuple[Invoice, Payment, str]], read_later: Callable[[str], str]
) -> None:
    invoice, payment, outcome = disputed(
        "120.00",
        "charge.dispute.closed",
        status="won",
        amount=12000,
        moved=(WITHDRAWN, REINSTATED),
    )
    assert "reinstatement of 120.00 booked" in outcome

    page = read_later(f"/portal/invoices/{invoice.id}")
    intent = payment.stripe_payment_intent_id
    assert intent is not None
    assert f"Stripe reinstated the money the bank's dispute took from {intent} (paid " in page
    assert "disputed payment" not in page


def test_the_payments_console_page_reads_a_disputed_payment_as_the_invoice_page_does(
    disputed: Callable[..., tuple[Invoice, Payment, str]],
    staff_read_later: Callable[[str], str],
) -> None:
    # Round 27 (tidy): the payment's own page said "reversed" and "taken back ... by
    # stripe" for the card payment the invoice's page shows disputed in part.
    _, payment, _ = disputed("250.00", "charge.dispute.created", amount=10000, moved=(WITHDRAWN,))
    page = staff_read_later(f"/console/payments/{payment.id}")
    assert "State disputed in part" in page
    assert (
        "Withdrawn by the bank's dispute Card payment withdrawn: the licensee's bank's"
        " dispute du_1Harborlight: 100.00 USD withdrawn on March 2, 2027. The dispute is open:"
        " the money comes back if it is won."
    ) in page
    assert "taken back" not in page
    assert "Reversal" not in page


def test_the_monthly_statement_email_does_not_ask_for_an_invoice_held_by_an_open_dispute(
    disputed: Callable[..., tuple[Invoice, Payment, str]],
) -> None:
    """Round 28: the statement emailed for March listed the invoice whose card
    payment the bank disputed under "Overdue today" with how to pay, while the
    dispute email and the invoice's pages say it is not asked to be paid while the
    dispute is open. It is listed apart, saying why it is not asked for."""
    # Paid in December, before the dispute of 2 March: paid at the real time, the
    # payment came after the March statement from 4 April 2027.
    with time_machine.travel(datetime(2026, 12, 1, 15, 0, tzinfo=UTC), tick=True):
        invoice, _, _ = disputed(
            "250.00", "charge.dispute.created", amount=10000, moved=(WITHDRAWN,)
        )
    run_at = datetime(2027, 4, 3, 14, 0, tzinfo=UTC)
    services.send_monthly_statements(date(2027, 3, 1), now=run_at)

    (sent,) = db.session().scalars(
        select(OutboxMessage).where(OutboxMessage.template == "statement_of_account")
    )
    body = " ".join(sent.body_text.split())
    assert "Closing balance (March 31, 2027): 100.00 USD" in body  # in words (round 56)
    assert "Overdue today" not in body
    assert (
        f"Not asked for while your bank's dispute of its card payment is open: "
        f"Invoice {invoice.number}, 100.00 USD"
    ) in body


def test_the_monthly_statement_email_says_when_a_lost_disputes_balance_is_owed_again(
    disputed: Callable[..., tuple[Invoice, Payment, str]],
) -> None:
    """A dispute lost on 30 March: its balance is owed again after the payment terms
    (from 29 April), so the statement emailed on 3 April says when, not "overdue"."""
    lost_on = datetime(2027, 3, 30, 15, 0, tzinfo=UTC)
    with time_machine.travel(lost_on, tick=False):  # told as it happened
        invoice, _, _ = disputed(
            "250.00",
            "charge.dispute.closed",
            status="lost",
            amount=10000,
            moved=(lost_on,),
            created=lost_on,
            told=lost_on,
        )
    services.send_monthly_statements(date(2027, 3, 1), now=datetime(2027, 4, 3, 14, tzinfo=UTC))

    (sent,) = db.session().scalars(
        select(OutboxMessage).where(OutboxMessage.template == "statement_of_account")
    )
    body = " ".join(sent.body_text.split())
    assert "Overdue today" not in body
    assert (
        "Not asked for until April 29, 2027, when it is owed again after your bank's dispute of "
        f"its card payment: Invoice {invoice.number}, 100.00 USD."
    ) in body
