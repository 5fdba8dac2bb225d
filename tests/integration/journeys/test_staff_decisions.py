"""Round 5: the staff decisions the earlier walks did not reach (approve with
changes, reconsideration, the rate card comparison), as each party reads them."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

from flask import Flask

from licensing.agreements.models import Application
from licensing.ratecards import services as ratecards
from tests.integration.agreements.conftest import STAFF_USE
from tests.integration.permissions.conftest import last_mail
from tests.integration.pricing.conftest import example_document

Apply = Callable[..., Application]


def test_the_approval_email_says_what_the_office_changed_in_the_quote_and_why(
    apply: Apply, vendor: Any, licensing_staff: Any, signed_in: Any, app: Flask
) -> None:
    application = apply(vendor, STAFF_USE)  # quoted 8,000.00 USD
    staff = signed_in(app.test_client(), licensing_staff)
    approved = staff.post(
        f"/console/applications/{application.id}/approve",
        data={
            "amount-0": "6000.00",
            "reason-0": "Agreed rate for a small user base.",
            "term_start": "2027-01-01",
            "term_end": "2027-06-30",
            "term_reason": "A six-month pilot.",
        },
    )
    assert approved.status_code == 302, approved.get_data(as_text=True)[:2000]

    # The vendor read "total 6,000.00 USD" where they were quoted 8,000.00, with no
    # word that the office had changed the quote, nor why.
    body = last_mail(vendor.email).body_text
    assert "The licensing office changed the quote before approving it:" in body
    assert (
        "- Amount of use 1: from 8,000.00 USD to 6,000.00 USD. Agreed rate for a small user base."
        in body
    )
    assert "- Term end: from 2027-12-31 to 2027-06-30. A six-month pilot." in body


def test_an_approval_as_quoted_says_nothing_about_changes(
    apply: Apply, vendor: Any, licensing_staff: Any, signed_in: Any, app: Flask
) -> None:
    application = apply(vendor, STAFF_USE)
    staff = signed_in(app.test_client(), licensing_staff)
    assert staff.post(f"/console/applications/{application.id}/approve").status_code == 302
    body = last_mail(vendor.email).body_text
    assert "total 8,000.00 USD" in body
    assert "changed the quote" not in body


def test_the_rate_card_comparison_lists_each_difference_in_words(
    example_card: str, licensing_staff: Any, signed_in: Any, app: Flask
) -> None:
    revision = example_document()
    revision["version"] = "2027.2"
    revision["adjustments"][0]["discount_percent"] = "12.5"
    ratecards.import_card(revision, published_by="tests")
    staff = signed_in(app.test_client(), licensing_staff)

    page = html.unescape(
        staff.get(f"/console/rate-cards/compare?old={example_card}&new=2027.2").get_data(
            as_text=True
        )
    )
    # Each item read "Change(kind='changed', subject='adjustment', key='nonprofit', ...)".
    assert "Change(" not in page
    assert (
        "<li>Changed adjustment nonprofit: now 12.5% discount for any use by nonprofit or "
        "academic organizations (was 20% discount for any use by nonprofit or academic "
        "organizations).</li>"
    ) in page
