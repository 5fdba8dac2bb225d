"""The real path: a vendor accepts an agreement (the agreements package's
service) and its invoice is issued in the same transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from licensing import db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import services as agreements
from licensing.billing.models import Invoice
from tests.integration.agreements.conftest import AUTO_USE, DEVELOPMENT_USE, NOW, draft
from tests.integration.pricing.conftest import example_card  # noqa: F401 - the fixture
from tests.support.agreements import agreement_of
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
