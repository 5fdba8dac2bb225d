"""Round 36: what a new vendor met in its first quarter (docs/journeys.md), each
fix read on the page the vendor opens."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import time_machine
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import services as agreements
from licensing.billing.models import CreditNote, Invoice
from tests.integration.agreements.conftest import (
    AUTO_USE,
    DEVELOPMENT_USE,
    SMALL_USE,
    draft,
)
from tests.integration.pricing.conftest import example_card  # noqa: F401 - the fixture
from tests.integration.royalties.conftest import (  # noqa: F401 - the fixtures
    AFTER,
    SOFTWARE,
    active_agreement,
    file_report,
    lowered_by_amendment,
    row,
)
from tests.support.agreements import agreement_of
from tests.support.billing import paid_offline, refunded_offline
from tests.support.pages import text_of
from tests.support.settings import issuing

SignIn = Callable[..., FlaskClient]


def _issued(vendor: Any, *uses: dict[str, Any]) -> int:
    """`uses` applied for by `vendor` and approved at submission: the issued
    agreement's id, not yet accepted."""
    principal = accounts.principal_for(vendor)
    application = agreements.create_draft(Actor.of(principal), draft(*uses))
    agreements.submit(application.id, Actor.of(principal), policy=issuing(), attest=True)
    agreement = agreement_of(application)
    assert agreement.state == "issued"
    return agreement.id


def test_the_agreement_page_says_what_accepting_invoices_before_the_vendor_accepts(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    example_card: str,  # noqa: F811
) -> None:
    # The page read "Total for the term 1,000.00 USD" beside *Accept the agreement*:
    # only the approval email said what acceptance invoices.
    below_minimum = _issued(vendor, SMALL_USE)  # 10 end users: 185.00 under a 1,000.00 minimum
    flat = _issued(vendor, DEVELOPMENT_USE)  # a flat 2,500.00 fee
    above_minimum = _issued(vendor, AUTO_USE)  # 2,500 end users: royalties only
    signed_in(client, vendor)

    text = text_of(client.get(f"/portal/agreements/{below_minimum}"))
    assert (
        "When you accept, an invoice for 815.00 USD is issued at once, due in 30 days: the flat "
        "fees and the part of the minimum above the estimated usage royalties (see the working "
        "below). The rest of the estimated total is not invoiced now: royalties on usage are "
        "invoiced with your quarterly royalty reports."
    ) in text
    text = text_of(client.get(f"/portal/agreements/{flat}"))
    assert "When you accept, an invoice for 2,500.00 USD is issued at once, due in 30 days." in text
    assert "royalties on usage" not in text
    text = text_of(client.get(f"/portal/agreements/{above_minimum}"))
    assert (
        "Nothing is invoiced when you accept: royalties on usage are invoiced with your "
        "quarterly royalty reports."
    ) in text


def test_a_refund_an_amendment_owes_waits_on_the_office_on_the_dashboard_and_invoices(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    active_agreement: Any,  # noqa: F811
    file_report: Any,  # noqa: F811
) -> None:
    # The royalty invoice paid, an amendment lowered it: the dashboard listed nothing
    # waiting, and Invoices read "0.00 USD paid", though the message after filing said
    # "Invoices shows what is left to pay, and any refund due".
    agreement = active_agreement(vendor, SOFTWARE)
    first = file_report(vendor, agreement, 1, [row(1, "A", quantity=3000)])
    invoice = db.session().get(Invoice, first.report.invoice_id)
    assert invoice is not None
    with time_machine.travel(AFTER[1], tick=False):
        paid_offline(invoice.id, f"{invoice.total}", "W-36")
    amended = file_report(
        vendor,
        agreement,
        1,
        [row(1, "A", quantity=2900)],
        amends=first.report.id,
        reason="2900 users",
    )
    credit = db.session().scalars(select(CreditNote)).one()
    assert amended.credit_notes == [credit.number]
    assert credit.refund_due == Decimal("1200.00")

    with time_machine.travel(AFTER[1], tick=False):
        signed_in(client, vendor)
        dashboard = text_of(client.get("/portal/"))
        listed = text_of(client.get("/portal/invoices"))
    assert (
        f"Refund of 1,200.00 USD due to you (credit note {credit.number}) on invoice "
        f"{invoice.number}: the licensing office's billing staff send it back by bank transfer "
        "or check and email your billing contact when it is sent; the invoice lists it then "
        "the licensing office's billing staff"
    ) in dashboard
    assert "refund of 1,200.00 USD due to you" in listed

    with time_machine.travel(AFTER[1], tick=False):
        refunded_offline(credit.id, "1200.00", "W-36-R")
        assert "Refund of" not in text_of(client.get("/portal/"))
        assert "due to you" not in text_of(client.get("/portal/invoices"))


def test_a_use_carried_from_the_estimate_starts_with_the_delivery_its_product_implies(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    example_card: str,  # noqa: F811
) -> None:
    # The estimator asks no delivery: a SaaS product came to the draft as "installed".
    signed_in(client, vendor)
    carried = {
        "term_start": "2027-01-01",
        "term_end": "2027-12-31",
        "uses-0-use": "distribution",
        "uses-0-product_type": "saas",
        "uses-0-quantity-end_users": "40",
        "uses-1-use": "distribution",
        "uses-1-product_type": "software",
        "uses-1-quantity-end_users": "40",
        "uses-2-use": "internal_use",
        "uses-2-product_type": "software",
        "uses-2-quantity-users": "12",
    }
    page = client.get("/portal/applications/new", query_string=carried).get_data(as_text=True)
    chosen = re.findall(
        r'<select[^>]*id="uses-(\d)-delivery".*?<option value="(\w+)" selected', page, re.S
    )
    assert chosen == [("0", "hosted"), ("1", "installed"), ("2", "internal")]


def test_the_dashboard_names_the_organizations_type_as_sign_up_offered_it(
    client: FlaskClient, signed_in: SignIn, vendor: Any
) -> None:
    # It read "Type commercial", the stored word, where sign-up said "Commercial company".
    signed_in(client, vendor)
    assert "Type Commercial company" in text_of(client.get("/portal/"))
    assert "Type Commercial company" in text_of(client.get("/organization"))


def test_an_amendments_page_says_it_credited_rather_than_invoiced(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    active_agreement: Any,  # noqa: F811
    file_report: Any,  # noqa: F811
) -> None:
    # The report's facts read "Invoice credit note CN-...".
    amended = lowered_by_amendment(file_report, vendor, active_agreement(vendor, SOFTWARE))
    with time_machine.travel(AFTER[1], tick=False):
        signed_in(client, vendor)
        page = text_of(client.get(f"/portal/royalty-reports/report/{amended.report.id}"))
        original = text_of(client.get(f"/portal/royalty-reports/report/{amended.report.amends_id}"))
    assert f"Credited credit note {amended.credit_notes[0]}" in page
    assert "Invoice credit note" not in page
    assert "Invoice INV-2027-000001" in original
