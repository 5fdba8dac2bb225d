"""Round 37: the stored words and the rule's description (docs/journeys.md), each
read where its person reads it: a page, an email, a PDF."""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from datetime import date
from typing import Any
from urllib.parse import urlencode

import time_machine
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import services as agreements
from licensing.billing.models import CreditNote
from licensing.calendar import office_date
from licensing.db import utcnow
from licensing.mail.models import OutboxMessage
from tests.integration.agreements.conftest import SMALL_USE, draft
from tests.integration.pricing.conftest import example_card  # noqa: F401 - the fixture
from tests.integration.royalties.conftest import (  # noqa: F401 - the fixtures
    AFTER,
    SOFTWARE,
    active_agreement,
    file_report,
    lowered_by_amendment,
)
from tests.support.agreements import accept, agreement_of, upfront_invoice
from tests.support.documents import pdf_text, stored_pdf
from tests.support.factories import bearer
from tests.support.pages import text_of
from tests.support.settings import issuing

SignIn = Callable[..., FlaskClient]


def _emails(template: str) -> dict[str, OutboxMessage]:
    """Each address's last email of `template`."""
    sent = db.session().scalars(
        select(OutboxMessage).where(OutboxMessage.template == template).order_by(OutboxMessage.id)
    )
    return {address: message for message in sent for address in json.loads(message.recipients)}


def test_the_credit_note_an_amendment_makes_is_emailed_to_its_filer_too(
    vendor: Any,
    active_agreement: Any,  # noqa: F811
    file_report: Any,  # noqa: F811
) -> None:
    # Only the billing contact was emailed; the member who filed the amendment read of
    # the credit note on the page alone, and the reason ended without a full stop.
    lowered_by_amendment(file_report, vendor, active_agreement(vendor, SOFTWARE))
    credit = db.session().scalars(select(CreditNote)).one()
    organization = vendor.organization
    emails = _emails("invoice_credit_note")
    assert set(emails) == {organization.billing_email, vendor.email}

    billing = emails[organization.billing_email].body_text
    assert f"Hello {organization.billing_contact_name}," in billing
    assert (
        f"Credit note {credit.number} for 1,200.00 USD is issued against invoice "
        f"{credit.invoice.number}, for the amendment {vendor.full_name} filed."
    ) in billing
    assert f"Reason: {credit.reason}.\n" in billing
    assert "The credit note as PDF:" in billing

    filer = emails[vendor.email].body_text
    assert f"Hello {vendor.full_name}," in filer
    assert "for the amendment you filed." in filer
    assert f"Reason: {credit.reason}.\n" in filer
    assert f"/portal/invoices/{credit.invoice_id}" in filer
    assert (
        f"The billing contact of {organization.legal_name}, {organization.billing_contact_name} "
        f"({organization.billing_email}), is sent this email too."
    ) in filer
    # The signed links are the billing contact's, never the member's.
    assert "The credit note as PDF:" not in filer
    assert emails[vendor.email].subject == emails[organization.billing_email].subject


def _issued(vendor: Any, application: agreements.ApplicationDraft) -> Any:
    """`application` drafted by `vendor` and approved at submission: the issued agreement."""
    principal = accounts.principal_for(vendor)
    drafted = agreements.create_draft(Actor.of(principal), application)
    agreements.submit(drafted.id, Actor.of(principal), policy=issuing(), attest=True)
    agreement = agreement_of(drafted)
    assert agreement.state == "issued"
    return agreement


def _issued_for_january(vendor: Any) -> Any:
    """SMALL_USE (10 end users of a SaaS product, under the 1,000.00 minimum) over
    January 2027 alone: usage covers the prorated minimum, nothing is due up front."""
    return _issued(
        vendor,
        agreements.ApplicationDraft.from_fields(
            {"term_start": date(2027, 1, 1), "term_end": date(2027, 1, 31), "uses": (SMALL_USE,)}
        ),
    )


def _flat(text: str) -> str:
    return " ".join(html.unescape(text).split())


def test_an_estimate_names_each_rule_by_its_description_and_says_what_is_prorated(
    client: FlaskClient,
    example_card: str,  # noqa: F811
) -> None:
    # The Rule column read "distribution-software", and the caption "prorated to 45.8%
    # of the rate card period" beside a per-user royalty that is never prorated.
    query = urlencode(
        {
            "organization_type": "commercial",
            "term_start": "2027-01-15",
            "term_end": "2027-06-30",
            "rate_card": "",
            "uses-0-use": "distribution",
            "uses-0-product_type": "software",
            "uses-0-user_type": "provider",
            "uses-0-quantity-end_users": "250",
        }
    )
    page = _flat(client.get(f"/estimate?{query}").get_data(as_text=True))
    assert (
        "<td>Installed, hosted and mobile software, per end user<br>"
        '<span class="muted">rule distribution-software</span></td>'
    ) in page
    assert (
        "the term is 167 of the rate card period's 365 days, 167/365 (about 45.8%): the minimum "
        "of use 1 is prorated to it; "
        "the royalty on usage of use 1 is not"
    ) in page
    assert "prorated to 45.8%" not in page


def test_the_agreement_page_and_pdf_name_the_rule_by_its_description(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    licensing_staff: Any,
    example_card: str,  # noqa: F811
) -> None:
    agreement = _issued_for_january(vendor)
    rule = "Installed, hosted and mobile software, per end user"
    caption = (
        "the term is 31 of the rate card period's 365 days, 31/365 (about 8.5%): the minimum of "
        "use 1 is prorated to it; "
        "the royalty on usage of use 1 is not"
    )
    signed_in(client, vendor)
    page = _flat(client.get(f"/portal/agreements/{agreement.id}").get_data(as_text=True))
    # The vendor reads the description, the id beside it, and no link to the console.
    assert f'<td>{rule}<br><span class="muted">rule distribution-software</span></td>' in page
    assert caption in page
    application = _flat(
        client.get(f"/portal/applications/{agreement.application_id}").get_data(as_text=True)
    )
    assert f"{rule}<br>" in application
    assert caption in application

    text = _flat(pdf_text(stored_pdf(agreement)))
    # The heading keeps the rule's id; its description opens the terms below it (round
    # 38: a heading longer than its line took reportlab's parser, a third of the time).
    assert f"1. Clinic Pad (rule distribution-software) {rule}." in text

    client.get("/sign-out")
    signed_in(client, licensing_staff)
    review = _flat(
        client.get(f"/console/applications/{agreement.application_id}").get_data(as_text=True)
    )
    # Staff follow the id to the rule on the card.
    assert (
        f'{rule}<br><span class="muted">rule <a href="/console/rate-cards/2027.1#rule-'
        'distribution-software">distribution-software</a></span>'
    ) in review


def test_staff_pages_documents_and_charts_name_the_types_and_uses_in_the_forms_words(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    licensing_staff: Any,
    billing_staff: Any,
    example_card: str,  # noqa: F811
) -> None:
    # Round 36 made the dashboard and the organization page say "Commercial company";
    # the console's list, its organization page and the review page still said
    # "commercial", the agreement "a commercial organization" and "distribution;
    # saas for provider users".
    agreement = _issued_for_january(vendor)
    organization = vendor.organization
    signed_in(client, licensing_staff)
    listed = _flat(client.get("/console/organizations").get_data(as_text=True))
    # A Latin name is printed as it is (round 62: `<bdi>` only round a right-to-left one).
    assert f">{organization.legal_name}</a></td> <td>Commercial company</td>" in listed
    detail = _flat(client.get(f"/console/organizations/{organization.id}").get_data(as_text=True))
    assert "<dt>Type</dt><dd>Commercial company</dd>" in detail
    review = _flat(
        client.get(f"/console/applications/{agreement.application_id}").get_data(as_text=True)
    )
    assert "(Commercial company, active)" in review
    assert (
        "<td>Distribute a product to others (installed or hosted); SaaS for provider users</td>"
        in review
    )

    text = _flat(pdf_text(stored_pdf(agreement)))
    assert "a commercial company" in text
    assert "commercial organization" not in text
    assert "Distribute a product to others (installed or hosted); SaaS for provider users" in text

    # A year's term under the minimum: 815.00 is invoiced on acceptance.
    assert upfront_invoice(accept(_issued(vendor, draft(SMALL_USE)), vendor)) is not None
    client.get("/sign-out")
    signed_in(client, billing_staff)
    month = office_date(utcnow()).strftime("%Y-%m")
    finance = _flat(
        client.get(f"/console/finance/?from={month}&to={month}&currency=USD").get_data(as_text=True)
    )
    for said in (
        "Distribute a product to others (installed or hosted)",
        "SaaS",
        "Provider",
        "Commercial company",
    ):
        assert f'<tr><th scope="row">{said}</th>' in finance


def test_the_reporting_page_describes_each_line_in_the_forms_words_and_its_rule(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    active_agreement: Any,  # noqa: F811
) -> None:
    # "Line 1: Scrubber (distribution of software, rule distribution-software)".
    agreement = active_agreement(vendor, SOFTWARE)
    with time_machine.travel(AFTER[1], tick=False):
        signed_in(client, vendor)
        page = text_of(client.get(f"/portal/royalty-reports/{agreement.id}/2027-01-01"))
    line = page.split("Line 1: ", 1)[1].split(" counts", 1)[0]
    assert line.endswith(
        "(Distribute a product to others (installed or hosted); SaaS for provider users; "
        "Installed, hosted and mobile software, per end user; rule distribution-software)"
    ), line


def test_an_organizations_history_names_its_types_in_sign_ups_words(
    client: FlaskClient, signed_in: SignIn, vendor: Any, licensing_staff: Any
) -> None:
    # The history read "organization type: commercial → nonprofit".
    changed = client.patch(
        f"/api/v1/organizations/{vendor.organization_id}",
        json={"organization_type": "nonprofit"},
        headers=bearer(licensing_staff),
    )
    assert changed.status_code == 200
    assert changed.get_json()["organization_type"] == "nonprofit"  # the API keeps its word
    signed_in(client, licensing_staff)
    page = text_of(client.get(f"/console/organizations/{vendor.organization_id}"))
    assert "Commercial company → Non-profit organization" in page
    assert "commercial → nonprofit" not in page
