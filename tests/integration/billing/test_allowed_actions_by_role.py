"""Round 57: an invoice's `allowed_actions` and an organization's
`allowed_standing_actions` are the steps their reader may take now, for every state
and every reader: each step listed is accepted when they take it, each other refused
(403 or 409). Licensing staff were offered `void` and `mark_uncollectible` (billing
staff's), everyone the service's `settle`, and `void` was listed for an invoice
with money received, which the step refuses (a credit note is the way)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from flask import Flask
from flask.testing import FlaskClient

from licensing import db
from licensing.accounts.models import User
from licensing.accounts.states import STANDING
from licensing.billing import services
from licensing.billing.models import Invoice
from licensing.billing.settings import InvoiceTerms
from licensing.config import current_config
from tests.support import factories
from tests.support.allowed_steps import (
    READERS,
    WORDS,
    EveryRole,
    State,
    assert_seen,
    attempt,
    check_state,
    walk_states,
)

from .conftest import activated, around_today, send_activation

INVOICE_STEPS = (
    attempt("/finalize", "finalize"),
    attempt("/void", "void", body={"reason": WORDS}),
    attempt("/mark-uncollectible", "mark_uncollectible", body={"reason": WORDS}),
)
STANDING_STEPS = tuple(
    attempt("/standing", action, body={"action": action, "reason": WORDS})
    for action in sorted(STANDING.actions)
)


class Office(EveryRole):
    """A vendor's organization with a user of each role, the office's staff, and
    invoices made in each state through the services."""

    # --- invoices --------------------------------------------------------------------

    def draft(self) -> Invoice:
        return services.create_draft(
            organization_id=self.organization_id,
            currency="USD",
            charges=[services.Charge("Harborlight Coder, a correction", Decimal("80.00"))],
            standard=InvoiceTerms.from_config(current_config()),
            actor=self.clerk,
        )

    def open(self) -> Invoice:
        # Around the office's today (round 64): it is paid, voided and chased now.
        invoice = send_activation(activated(self.organization_id, ("1200.00",), **around_today()))
        assert invoice is not None
        return invoice

    def part_paid(self) -> Invoice:
        invoice = self.open()
        self._pay(invoice, Decimal("200.00"))
        return invoice

    def paid(self) -> Invoice:
        invoice = self.open()
        self._pay(invoice, invoice.total)
        return invoice

    def uncollectible(self) -> Invoice:
        invoice = self.open()
        services.mark_uncollectible(invoice.id, reason=WORDS, actor=self.clerk)
        return invoice

    def void(self) -> Invoice:
        invoice = self.open()
        services.void_invoice(invoice.id, reason=WORDS, actor=self.clerk)
        return invoice

    def _pay(self, invoice: Invoice, amount: Decimal) -> None:
        services.record_offline_payment(
            invoice.id, method="wire", amount=amount, reference=f"W-{invoice.id}", actor=self.clerk
        )

    # --- standings -------------------------------------------------------------------

    def in_standing(self, standing: str) -> Callable[[], str]:
        """A new organization in `standing`, reached through the standing machine."""

        def build() -> str:
            organization = factories.make_organization(db.session(), standing=standing)
            return f"/api/v1/organizations/{organization.id}"

        return build


@pytest.fixture
def office(app: Flask, vendor: User) -> Office:
    return Office(vendor)


@pytest.mark.parametrize("role", READERS)
def test_an_invoices_allowed_actions_are_the_steps_its_reader_may_take_in_every_state(
    client: FlaskClient, office: Office, role: str
) -> None:
    reader = office.reader(role)
    states: list[State] = [
        ("draft", "draft", office.draft),
        ("open", "open", office.open),
        ("open, part paid", "open", office.part_paid),
        ("paid", "paid", office.paid),
        ("uncollectible", "uncollectible", office.uncollectible),
        ("void", "void", office.void),
    ]
    if role not in ("billing staff", "admin", "licensing staff"):
        states = states[1:]  # a draft is the office's: a vendor reads none
    walk_states(client, reader, "invoices", states, INVOICE_STEPS)

    staff = ["mark_uncollectible", "void"]
    expected: dict[str, dict[str, list[str]]] = {
        "billing staff": {
            "draft": ["finalize"],
            "open": staff,
            "open, part paid": ["mark_uncollectible"],  # money received: a credit note
            "paid": [],
            "uncollectible": ["void"],
        },
        "licensing staff": {"draft": [], "open": [], "uncollectible": []},
        "administrator": {"open": [], "uncollectible": []},
        "billing member": {"open": []},
        "read-only token": {name: [] for name in reader.seen},
    }
    expected["admin"] = expected["billing staff"]
    assert_seen(reader, expected)
    # Round 58: a refused step's 409 lists what reading it lists (`check_state`): it
    # listed the service's `reopen` of a paid invoice, and `settle` of an open one.
    if role in ("billing staff", "admin"):
        assert reader.told["paid"] == []


@pytest.mark.parametrize("role", READERS)
def test_an_organizations_standing_actions_are_the_steps_its_reader_may_take_in_every_standing(
    client: FlaskClient, office: Office, role: str
) -> None:
    reader = office.reader(role)
    vendors = ("administrator", "member", "billing member")
    for standing in STANDING.states:
        if role in vendors:
            break  # a vendor reads only its own organization: below
        reader.seen[standing] = check_state(
            client,
            reader,
            standing,
            office.in_standing(standing),
            STANDING_STEPS,
            field_name="allowed_standing_actions",
            state_field="standing",
        )
    if role in vendors:
        own = f"/api/v1/organizations/{office.organization_id}"
        reader.seen["active"] = check_state(
            client,
            reader,
            "active",
            lambda: own,
            STANDING_STEPS,
            field_name="allowed_standing_actions",
            state_field="standing",
        )

    expected: dict[str, dict[str, list[str]]] = {
        "licensing staff": {
            "applying": ["activate", "close", "suspend"],
            "suspended": ["close", "reinstate"],
        },
        "billing staff": {
            "active": ["mark_pending_payment"],
            "pending_payment": ["payment_received"],
            "suspended": [],
        },
        "administrator": {"active": []},
        "read-only token": {name: [] for name in reader.seen},
    }
    assert_seen(reader, expected)
