"""Round 58: payments, credit notes and refunds list `allowed_actions` as invoices do
(round 57): the steps their state allows, whose route admits the reader, and whose
own check would not refuse them now. For every state and every reader, each step
listed is accepted when they take it, each other refused (403 or 409), and a 409 of
the record's state machine lists the same steps as the record read by that reader.
Before, none of the three had `allowed_actions`, and a payment's 409 listed Stripe's
own steps (`charge_back`, `refund_at_stripe`) to whoever was refused."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Connection

from licensing import db
from licensing.accounts.models import User
from licensing.billing import services
from licensing.billing.models import CreditNote, Invoice, Payment, Refund
from licensing.calendar import office_date
from licensing.db import utcnow
from tests.conftest import DatabaseTemplate, app_in_transaction
from tests.support import factories
from tests.support.allowed_steps import (
    READERS,
    WORDS,
    EveryRole,
    State,
    assert_seen,
    attempt,
    in_turn,
    walk_states,
)
from tests.support.billing import credited, paid_offline, refunded_offline
from tests.support.servers import LocalStripe
from tests.support.settings import gateway

from .conftest import activated, around_today, send_activation
from .dispute_support import charge_of, deliver_dispute
from .refund_support import paid_by_card
from .stripe_support import flagged_card_payment, pay_by_card, stripe_config


def _today() -> str:
    return office_date(utcnow()).isoformat()


PAYMENT_STEPS = (
    attempt("/accept", "accept", body={"reason": WORDS}),
    attempt("/accept-remainder", "accept_remainder", body={"reason": WORDS}),
    attempt("/give-back", "give_back", body={"reason": WORDS}),
    attempt(
        "/reversal", "reverse", body=lambda _payment: {"reason": WORDS, "returned_on": _today()}
    ),
)
REFUND_STEPS = (
    attempt(
        "/return", "mark_returned", body=lambda _refund: {"reason": WORDS, "returned_on": _today()}
    ),
)


def _refund_body(credit: dict[str, Any]) -> dict[str, Any]:
    """An offline refund of what the credit note owes back (a cent when nothing)."""
    owed = credit["refund_outstanding"]
    amount = owed if Decimal(owed) > 0 else "0.01"
    return {"method": "wire", "amount": amount, "reference": f"R-{credit['id']}"}


CREDIT_NOTE_STEPS = (attempt("/refunds", "refund", body=_refund_body),)


@pytest.fixture
def config_changes(localstripe: LocalStripe) -> dict[str, Any]:
    return stripe_config(localstripe)


class Money(EveryRole):
    """A vendor's organization with a user of each role, the office's staff, and its
    payments, refunds and credit notes made in each state through the services (card
    payments through localstripe and Stripe's webhook)."""

    def __init__(
        self,
        client: FlaskClient,
        vendor: User,
        localstripe: LocalStripe,
        invoice_for: Callable[..., Invoice],
        users: dict[str, int] | None = None,
    ) -> None:
        super().__init__(vendor, users)
        self.client, self.vendor, self.localstripe = client, vendor, localstripe
        self.invoice_for = invoice_for
        self.disputes = 0

    # --- payments --------------------------------------------------------------------

    def offline(self) -> Payment:
        invoice = self.invoice_for(self.vendor, ("500.00",))
        return paid_offline(invoice.id, "200.00", f"W-{invoice.id}")

    def reversed(self) -> Payment:
        payment = self.offline()
        services.reverse_offline_payment(
            payment.id,
            reason=WORDS,
            returned_on=office_date(utcnow()),
            standing_days=30,
            actor=self.clerk,
        )
        return payment

    def card(self) -> Payment:
        invoice = self.invoice_for(self.vendor, ("90.00",))
        return paid_by_card(self.client, self.vendor, self.localstripe, invoice)

    def pending(self) -> Payment:
        invoice = self.invoice_for(self.vendor, ("90.00",))
        return pay_by_card(invoice, self.vendor, self.localstripe)

    def flagged(self, received: int = 29999) -> Payment:
        return flagged_card_payment(
            self.client, self.vendor, self.localstripe, self.invoice_for, received=received
        )[1]

    def flagged_over(self) -> Payment:
        """Stripe took 300.01 for a 300.00 invoice: more than it owes, so not accepted."""
        return self.flagged(30001)

    def flagged_disputed(self) -> Payment:
        payment = self.flagged()
        self.disputes += 1
        deliver_dispute(
            self.client,
            payment,
            charge_of(self.localstripe, payment),
            "created",
            "needs_response",
            amount=29999,
            moved=(),
            dispute_id=f"du_1Allowed58{self.disputes}",
            at=utcnow(),  # opened now, not on 2 March 2027 (`dispute_support.OPENED`)
        )
        return payment

    def given_back(self) -> Payment:
        payment = self.flagged()
        services.give_back_flagged_payment(
            payment.id, note=WORDS, actor=self.clerk, gateway=gateway()
        )
        return payment

    # --- credit notes and refunds ------------------------------------------------------

    def paid_and_credited(self) -> CreditNote:
        invoice = self.invoice_for(self.vendor, ("500.00",))
        paid_offline(invoice.id, "500.00", f"W-{invoice.id}")
        return credited(invoice.id, "100.00", WORDS)

    def refunded_in_full(self) -> CreditNote:
        credit = self.paid_and_credited()
        refunded_offline(credit.id, "100.00", f"R-{credit.id}")
        return credit

    def credited_unpaid(self) -> CreditNote:
        """A credit note on an invoice nothing paid: all of it off the balance."""
        invoice = self.invoice_for(self.vendor, ("500.00",))
        return credited(invoice.id, "100.00", WORDS)

    def refund_sent(self) -> Refund:
        credit = self.paid_and_credited()
        return refunded_offline(credit.id, "100.00", f"R-{credit.id}")

    def refund_returned(self) -> Refund:
        refund = self.refund_sent()
        services.return_offline_refund(
            refund.id, reason=WORDS, returned_on=office_date(utcnow()), actor=self.clerk
        )
        return refund

    def card_refund(self) -> Refund:
        invoice = self.invoice_for(self.vendor, ("90.00",))
        paid_by_card(self.client, self.vendor, self.localstripe, invoice)
        credit = credited(invoice.id, "90.00", WORDS)
        return services.refund_card(
            credit.id,
            amount=None,
            payment_id=None,
            note=None,
            actor=self.clerk,
            gateway=gateway(),
        )


# How many records of each state the module makes: one each reader reads, and one more
# for each step a reader may take in it (billing staff's and an admin's). A flagged
# payment given back is given back at localstripe, which no savepoint rolls back: its
# steps are taken on payments the test makes (`Prepared.builder`).
MADE = {
    "offline": 2,  # reverse
    "reversed": 1,
    "card": 1,
    "pending": 1,
    "flagged": 1,
    "flagged_over": 1,
    "flagged_disputed": 1,
    "given_back": 1,
    "paid_and_credited": 2,  # refund
    "refunded_in_full": 1,
    "credited_unpaid": 1,
    "refund_sent": 2,  # mark_returned
    "refund_returned": 1,
    "card_refund": 1,
}
MADE_NOW = ("flagged", "flagged_over")


@dataclass
class Prepared:
    """What the module made once (round 63): the vendor, a user of each role, and
    records in each state, by id. Each reader's test had made them all again, card
    payments through localstripe and its webhooks: 30-50 s of a CI run for the file."""

    vendor_id: int
    users: dict[str, int]
    made: dict[str, list[int]]

    def builder(self, money: Money, state: str) -> Callable[[], Any]:
        fresh = getattr(money, state) if state in MADE_NOW else None
        return in_turn(self.made[state], fresh)


@pytest.fixture(scope="module")
def prepared_money(
    database_template: DatabaseTemplate, module_connection: Connection, localstripe: LocalStripe
) -> Prepared:
    with app_in_transaction(
        database_template.url, stripe_config(localstripe), module_connection, keep=True
    ) as app:
        vendor = factories.make_vendor(db.session())
        money = Money(app.test_client(), vendor, localstripe, _invoice_for)
        made = {state: [getattr(money, state)().id for _ in range(n)] for state, n in MADE.items()}
        return Prepared(vendor.id, money.user_ids(), made)


def _invoice_for(owner: User, amounts: tuple[str, ...] = ("1200.00", "350.50")) -> Invoice:
    """`invoice_for` of the billing tests, on days around the office's today
    (`around_today`, round 64): the module's records are paid, returned and charged
    at the real time."""
    assert owner.organization_id is not None
    invoice = send_activation(activated(owner.organization_id, amounts, **around_today()))
    assert invoice is not None
    return invoice


@pytest.fixture
def invoice_for(app: Flask) -> Callable[..., Invoice]:
    """The records a test makes, on the module's days (`_invoice_for`)."""
    return _invoice_for


@pytest.fixture
def money(
    app: Flask,
    client: FlaskClient,
    prepared_money: Prepared,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
) -> Money:
    vendor = db.session().get(User, prepared_money.vendor_id)
    assert vendor is not None
    return Money(client, vendor, localstripe, invoice_for, prepared_money.users)


@pytest.mark.parametrize("role", READERS)
def test_a_payments_allowed_actions_are_the_steps_its_reader_may_take_in_every_state(
    client: FlaskClient, money: Money, prepared_money: Prepared, role: str
) -> None:
    """Each state's payments are the module's (`Prepared`), made once through the
    services, localstripe and Stripe's webhooks as `Money` makes them."""
    reader = money.reader(role)
    made = functools.partial(prepared_money.builder, money)
    states: list[State] = [
        ("received offline", "succeeded", made("offline")),
        ("reversed", "reversed", made("reversed")),
        ("received by card", "succeeded", made("card")),
        ("pending", "pending", made("pending")),
        ("flagged", "flagged", made("flagged")),
        ("flagged, more than owed", "flagged", made("flagged_over")),
        ("flagged, its charge disputed", "flagged", made("flagged_disputed")),
        ("given back", "given_back", made("given_back")),
    ]
    walk_states(client, reader, "payments", states, PAYMENT_STEPS)

    billing = {
        "received offline": ["reverse"],
        "reversed": [],
        "received by card": [],  # a card payment goes back through Stripe: `charge_back` is its
        "pending": [],
        "flagged": ["accept", "give_back"],
        "flagged, more than owed": ["give_back"],  # accepting it is refused: give it back
        "flagged, its charge disputed": [],  # held until the dispute's outcome
        "given back": [],
    }
    none: dict[str, list[str]] = {name: [] for name in billing}
    expected = {
        "billing staff": billing,
        "admin": billing,
        "licensing staff": none,
        "administrator": none,
        "read-only token": none,
    }
    assert_seen(reader, expected)
    if role in ("billing staff", "admin"):
        # A 409 lists none of Stripe's steps: it listed `cancel`, `fail`, `flag` and
        # `succeed` of a pending card payment to billing staff refused `accept`.
        assert reader.told["pending"] == []


@pytest.mark.parametrize("role", READERS)
def test_a_credit_notes_and_a_refunds_allowed_actions_are_the_steps_their_reader_may_take(
    client: FlaskClient, money: Money, prepared_money: Prepared, role: str
) -> None:
    """Each state's credit notes and refunds are the module's (`Prepared`)."""
    reader = money.reader(role)
    made = functools.partial(prepared_money.builder, money)
    owed = [
        ("owing a refund", "100.00", made("paid_and_credited")),
        ("refunded in full", "0.00", made("refunded_in_full")),
        ("off an unpaid balance", "0.00", made("credited_unpaid")),
    ]
    walk_states(
        client,
        reader,
        "credit-notes",
        owed,
        CREDIT_NOTE_STEPS,
        state_field="refund_outstanding",
    )
    refunds = [
        ("sent offline", "succeeded", made("refund_sent")),
        ("returned by the bank", "failed", made("refund_returned")),
        ("to the card", "succeeded", made("card_refund")),
    ]
    walk_states(client, reader, "refunds", refunds, REFUND_STEPS)

    billing = {
        "owing a refund": ["refund"],
        "refunded in full": [],
        "off an unpaid balance": [],
        "sent offline": ["mark_returned"],
        "returned by the bank": [],
        "to the card": [],  # its return by the bank is Stripe's to tell
    }
    none: dict[str, list[str]] = {name: [] for name in billing}
    expected = {
        "billing staff": billing,
        "admin": billing,
        "licensing staff": none,
        "member": none,
        "read-only token": none,
    }
    assert_seen(reader, expected)


# The console's payment page's presses, by the step each takes (round 58).
PAYMENT_PRESSES = {
    "accept": "accept",
    "accept_remainder": "accept-remainder",
    "give_back": "give-back",
    "reverse": "reversal",
}


def test_the_console_payment_page_offers_the_presses_its_allowed_actions_list_in_every_state(
    app: Flask, money: Money, prepared_money: Prepared, signed_in: Callable[..., FlaskClient]
) -> None:
    """Round 58: billing staff's payment page offers exactly the steps the API lists
    to them, state by state: it offered *Accept* for a flagged payment its invoice
    owed less than, which the accept refused. The payments are the module's."""
    staff = money.users["billing staff"]
    api, page = app.test_client(), signed_in(app.test_client(), staff)
    headers = factories.bearer(staff)
    states = {
        "received offline": "offline",
        "reversed": "reversed",
        "received by card": "card",
        "flagged": "flagged",
        "flagged, more than owed": "flagged_over",
        "flagged, its charge disputed": "flagged_disputed",
        "given back": "given_back",
    }
    offered: dict[str, list[str]] = {}
    for name, state in states.items():
        payment_id = prepared_money.made[state][0]
        listed = api.get(f"/api/v1/payments/{payment_id}", headers=headers).get_json()
        shown = page.get(f"/console/payments/{payment_id}").get_data(as_text=True)
        offered[name] = [
            step
            for step, path in PAYMENT_PRESSES.items()
            if re.search(rf'action="/console/payments/{payment_id}/{path}["?]', shown)
        ]
        assert offered[name] == listed["allowed_actions"], (name, offered[name], listed)
    assert offered["flagged, more than owed"] == ["give_back"]  # it offered *Accept*
    assert offered["received offline"] == ["reverse"]
