"""The real path: a vendor accepts an agreement (the agreements package's
service) and its invoice is issued in the same transaction."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from licensing import db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import services as agreements
from licensing.billing import queries as billing_queries
from licensing.billing import services as billing
from licensing.billing.models import Invoice
from tests.integration.agreements.conftest import AUTO_USE, DEVELOPMENT_USE, NOW, draft
from tests.integration.pricing.conftest import example_card  # noqa: F401 - the fixture
from tests.support.agreements import accept, agreement_of
from tests.support.settings import issuing


def test_accepting_an_agreement_issues_its_invoice_for_the_up_front_amounts(
    app: Any,
    vendor: Any,
    example_card: str,  # noqa: F811
) -> None:
    principal = accounts.principal_for(vendor)
    application = agreements.create_draft(
        Actor.of(principal), draft(AUTO_USE, DEVELOPMENT_USE), now=NOW
    )
    agreements.submit(application.id, Actor.of(principal), policy=issuing(), attest=True, now=NOW)
    agreement = agreement_of(application)
    assert db.session().scalars(select(Invoice)).all() == []
    agreements.accept(
        agreement.id,
        Actor.of(principal),
        agreements.AcceptanceInput(
            signer_name="Robin Castellanos",
            signer_title="Chief Executive",
            authority_confirmed=True,
            pdf_sha256=agreement.pdf_sha256,
            ip_address="198.51.100.7",
            user_agent="pytest",
        ),
        now=NOW,
    )
    invoice = db.session().scalars(select(Invoice)).one()
    assert invoice.state == "open"
    assert invoice.source_reference == agreement.number
    assert invoice.organization_id == vendor.organization_id
    assert invoice.total > 0
    assert [line.description.split(":")[0] for line in invoice.lines] == ["Scrubber Pro SDK"]
    assert invoice.payment_terms_days == agreement.payment_terms_days
    assert invoice.lines[0].working


def test_an_up_front_invoice_another_transaction_stored_after_the_look_up_is_the_one_kept(
    app: Any,
    vendor: Any,
    example_card: str,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The database holds one up-front invoice per agreement (`uq_invoices_one_per_source`).
    Another transaction (a second host, a replayed signal) stores it between this
    one's look-up and its insert: the acceptance keeps that invoice, not a 500."""
    principal = accounts.principal_for(vendor)
    application = agreements.create_draft(
        Actor.of(principal), draft(AUTO_USE, DEVELOPMENT_USE), now=NOW
    )
    agreements.submit(application.id, Actor.of(principal), policy=issuing(), attest=True, now=NOW)
    agreement = agreement_of(application)
    with db.transaction() as session:
        competing = billing.create_invoice(
            session,
            organization_id=agreement.organization_id,
            currency=agreement.currency,
            charges=[billing.Charge(description="Scrubber Pro SDK", amount=Decimal("100.00"))],
            source_type="agreement",
            source_id=agreement.id,
            source_reference=agreement.number,
            payment_terms_days=agreement.payment_terms_days,
            late_fee_monthly_percent=agreement.late_fee_monthly_percent,
            actor=Actor.SYSTEM,
            now=NOW,
        ).id
    looked_up = billing_queries.upfront_invoice
    missed = iter([True])

    def before_the_other_committed(session: Any, agreement_id: int) -> Any:
        return None if next(missed, False) else looked_up(session, agreement_id)

    monkeypatch.setattr(billing_queries, "upfront_invoice", before_the_other_committed)
    accepted = accept(agreement, vendor, now=NOW)
    assert accepted.state == "active"
    assert [invoice.id for invoice in db.session().scalars(select(Invoice))] == [competing]
