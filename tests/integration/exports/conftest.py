"""A small ledger made through the real services, and helpers to read exports."""

from __future__ import annotations

import dataclasses
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Connection, update

from licensing import db
from licensing.accounts import services as accounts
from licensing.accounts.models import User
from licensing.actors import Actor
from licensing.agreements import services as agreements
from licensing.billing import services as billing
from licensing.billing.models import CreditNote, Invoice, Payment
from licensing.ratecards import services as ratecards
from tests.conftest import DatabaseTemplate, app_in_transaction
from tests.integration.agreements.conftest import AUTO_USE, DEVELOPMENT_USE, NOW, draft
from tests.integration.billing.conftest import activated, send_activation
from tests.integration.pricing.conftest import example_document
from tests.support import factories
from tests.support.agreements import accept, agreement_of
from tests.support.billing import credited, paid_offline
from tests.support.factories import billing_clerk
from tests.support.settings import invoice_terms, issuing

# A flat development fee (invoiced up front, line 1 of the invoice although it
# is the application's second use) beside per-user distribution royalties.


def at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 17, 0, tzinfo=UTC)


@dataclass
class Ledger:
    """What the fixture made: organizations and invoices by role."""

    org_a: int
    org_b: int
    agreement_invoice: Invoice  # a real agreement's up-front fee (development)
    partly_paid: Invoice
    credited_paid: Invoice
    voided: Invoice
    euro: Invoice
    manual: Invoice

    def invoices(self) -> list[Invoice]:
        return [
            db.session().get(Invoice, invoice.id, populate_existing=True)  # type: ignore[misc]
            for invoice in (
                self.agreement_invoice,
                self.partly_paid,
                self.credited_paid,
                self.voided,
                self.euro,
                self.manual,
            )
        ]


def _real_agreement_invoice(vendor: User) -> Invoice:
    principal = accounts.principal_for(vendor)
    application = agreements.create_draft(
        Actor.of(principal), draft(AUTO_USE, DEVELOPMENT_USE), now=NOW
    )
    agreements.submit(application.id, Actor.of(principal), policy=issuing(), attest=True, now=NOW)
    agreement = agreement_of(application)
    accept(agreement, vendor, now=NOW)
    invoice = send_activation_lookup(agreement.id)
    return invoice


def send_activation_lookup(agreement_id: int) -> Invoice:
    from sqlalchemy import select

    return (
        db.session()
        .scalars(
            select(Invoice).where(
                Invoice.source_type == "agreement", Invoice.source_id == agreement_id
            )
        )
        .one()
    )


@pytest.fixture
def ledger(prepared_ledger: Ledger, app: Flask) -> Ledger:
    """The module's ledger, for a test whose `app` runs in a savepoint of the
    module's connection (`module_connection`): what the test writes (a payment, a
    currency edited behind the service) is rolled back before the next test."""
    return prepared_ledger


@pytest.fixture(scope="module")
def prepared_ledger(database_template: DatabaseTemplate, module_connection: Connection) -> Ledger:
    """Made once a module (and backend) through the services, on the module's
    shared connection: the tests only read it (3-11 s of setup a test when each
    made its own on a loaded machine)."""
    with app_in_transaction(database_template.url, {}, module_connection, keep=True):
        example_document_card()
        return _make_ledger(factories.make_vendor(db.session()))


def example_document_card() -> str:
    """The contract's example card (2027.1), published, as `example_card` makes it."""
    return ratecards.import_card(example_document(), published_by="tests").version


def _make_ledger(vendor: User) -> Ledger:
    org_a = vendor.organization_id or 0
    org_b = factories.make_organization(db.session()).id
    agreement_invoice = _real_agreement_invoice(vendor)

    def issue(owner: int, amounts: tuple[str, ...], day: date, **changes: Any) -> Invoice:
        payload = dataclasses.replace(activated(owner, amounts, at=at(day)), **changes)
        invoice = send_activation(payload)
        assert invoice is not None
        return invoice

    partly_paid = issue(org_a, ("1200.00", "350.50"), date(2027, 1, 15))
    paid_offline(
        partly_paid.id,
        "500.00",
        "WIRE-0001",
        received_on=date(2027, 2, 1),
        now=at(date(2027, 2, 2)),
    )
    credited_paid = issue(org_b, ("999.99",), date(2027, 3, 10))
    credited(credited_paid.id, "100.00", "Fewer seats", now=at(date(2027, 4, 5)))
    paid_offline(
        credited_paid.id,
        "899.99",
        "CHK-77",
        method="check",
        received_on=date(2027, 4, 20),
        now=at(date(2027, 4, 21)),
    )
    voided = issue(org_b, ("75.00",), date(2027, 2, 20))
    billing.void_invoice(
        voided.id, reason="Issued in error", now=at(date(2027, 2, 21)), actor=billing_clerk()
    )
    euro = issue(org_b, ("410.10", "0.05"), date(2027, 5, 2), currency="EUR")
    manual = billing.create_draft(
        organization_id=org_a,
        currency="USD",
        charges=[billing.Charge('=HYPERLINK("http://x.example") setup', Decimal("42.42"))],
        standard=invoice_terms(),
        actor=billing_clerk(),
    )
    manual = billing.finalize_invoice(manual.id, now=at(date(2027, 6, 1)), actor=billing_clerk())
    return Ledger(org_a, org_b, agreement_invoice, partly_paid, credited_paid, voided, euro, manual)


# In no ISO 4217 list: what a currency edited in the database behind the service looks like.
UNKNOWN_CURRENCY = "XQQ"


def corrupt_currency(invoice_id: int) -> None:
    """The invoice's currency, and its payments' and credit notes', edited in the
    database (the service refuses an unknown currency on the way in)."""
    session = db.session()
    for model in (Payment, CreditNote):
        session.execute(
            update(model).where(model.invoice_id == invoice_id).values(currency=UNKNOWN_CURRENCY)
        )
    session.execute(
        update(Invoice).where(Invoice.id == invoice_id).values(currency=UNKNOWN_CURRENCY)
    )


def read_jsonl(body: bytes) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    lines = [json.loads(line) for line in body.decode("utf-8").splitlines()]
    return lines[0], lines[1:]


@pytest.fixture
def export_json(client: FlaskClient, billing_staff: User) -> Callable[..., list[dict[str, Any]]]:
    """`export_json(dataset, **filters)`: the rows of a JSON Lines export via the API."""
    headers = factories.bearer(billing_staff)

    def fetch(dataset: str, **filters: Any) -> list[dict[str, Any]]:
        response = client.get(
            f"/api/v1/exports/{dataset}",
            query_string={"format": "jsonl", **filters},
            headers=headers,
        )
        assert response.status_code == 200, response.get_data(as_text=True)
        header, rows = read_jsonl(response.get_data())
        assert header["dataset"] == dataset
        return rows

    return fetch


def total(rows: list[dict[str, Any]], column: str = "amount") -> Decimal:
    return sum((Decimal(row[column]) for row in rows), Decimal(0))


__all__ = ["Ledger", "at", "io", "read_jsonl", "total"]
