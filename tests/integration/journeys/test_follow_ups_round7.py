"""Round 7's follow-ups: loose ends the day's engineers found (docs/journeys.md,
"Round 7: follow-ups")."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import services as agreements
from licensing.billing.models import Invoice
from tests.integration.agreements.conftest import NOW, draft
from tests.integration.pricing.conftest import example_card  # noqa: F401 - the fixture
from tests.integration.royalties.test_pages import text_of
from tests.support.agreements import accept, agreement_of
from tests.support.factories import bearer
from tests.support.settings import issuing

SignIn = Callable[..., FlaskClient]

# No rule of the example card matches a derivative work of an AI model: the
# quote leaves the use unpriced ("licensing staff will price this use by hand").
UNMATCHED_USE = {
    "product_name": "Larkspur Coding Model",
    "description": "A model trained to suggest codes",
    "use": "derivative_work",
    "product_type": "ai_model",
    "user_type": "provider",
    "delivery": "hosted",
    "territories": "United States",
    "languages": ["en"],
    "revenue": "60000.00",
}


def test_a_use_priced_by_staff_on_approval_is_invoiced_up_front_on_acceptance(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    licensing_staff: Any,
    example_card: str,  # noqa: F811
) -> None:
    # The amount staff set for a use no rule priced is the use's fee for the term
    # (`LicensedUse.amount`), and nothing else ever invoices it (such a line has
    # no royalty reports): acceptance charges it whole, with its working.
    vendor_actor = Actor.of(accounts.principal_for(vendor))
    reviewer = Actor.of(accounts.principal_for(licensing_staff))
    application = agreements.create_draft(vendor_actor, draft(UNMATCHED_USE), now=NOW)
    agreements.submit(application.id, vendor_actor, policy=issuing(), attest=True, now=NOW)
    agreements.start_review(application.id, reviewer, now=NOW)
    change = agreements.LineChange(0, Decimal("1800.00"), "The office's fee for a coding model")
    agreements.approve(
        application.id,
        reviewer,
        policy=issuing(),
        modifications=agreements.Modifications(lines=[change]),
        now=NOW,
    )
    agreement = agreement_of(application)
    accept(agreement, vendor, now=NOW)

    invoice = db.session().scalars(select(Invoice)).one()
    assert invoice.source_reference == agreement.number
    assert invoice.total == Decimal("1800.00")
    [line] = invoice.lines
    assert line.description == "Larkspur Coding Model: derivative work of AI model"
    assert "amended by the licensor from unpriced to 1800.00: The office" in line.working
    assert line.working.endswith("charged now (flat fees and the minimum's lift): 1800.00 USD")
    signed_in(client, vendor)
    page = text_of(client.get(f"/portal/agreements/{agreement.id}"))
    listed = client.get("/api/v1/agreements", headers=bearer(vendor)).get_json()
    # The page of an agreement without royalties on usage names its total, charged whole.
    assert "Total for the term 1,800.00 USD" in page
    assert [item["charged_to_date"] for item in listed] == ["1800.00"]
