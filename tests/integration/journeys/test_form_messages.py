"""Issue 15, item 10: every form reports every problem at once, in the words of its
labels: no raw dicts, no internal keys, uses numbered from 1, no API wording."""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import urlencode

from flask.testing import FlaskClient

from licensing.web.filters import field_words, page_wording
from tests.integration.agreements.conftest import STAFF_USE
from tests.support import factories
from tests.support.pages import without_time_tags

SEP = " \N{SINGLE RIGHT-POINTING ANGLE QUOTATION MARK} "  # between a use and its field


def _summary(page: str) -> str:
    """The error summary's text, tags and entities removed."""
    found = re.search(r'<div class="error-summary".*?</div>', page, re.S)
    assert found, "no error summary on the page"
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", found.group(0))).split())


def test_field_paths_read_as_the_labels_of_their_fields() -> None:
    assert field_words("uses.0.revenue") == f"Use 1{SEP}Expected annual revenue"
    assert field_words("uses.1.quantity.end_users") == f"Use 2{SEP}Expected number of end users"
    assert field_words("reason-0") == f"Use 1{SEP}Reason"
    assert field_words("attest") == "Confirmation that the information is accurate"
    assert field_words("term_end") == "Term ends"
    assert field_words("_") == ""
    assert page_wording("No rate card is in effect on 2031-01-01; name one with rate_card.") == (
        'No rate card is in effect on <time datetime="2031-01-01">January 1, 2031</time>; '
        "choose a published rate card for the term."
    )


def test_the_estimator_reports_a_bad_revenue_and_a_negative_count_together_in_words(
    client: FlaskClient, example_card: str
) -> None:
    query = {
        "organization_type": "commercial",
        "term_start": "2027-01-01",
        "term_end": "2027-12-31",
        "uses-0-use": "distribution",
        "uses-0-product_type": "saas",
        "uses-0-user_type": "provider",
        "uses-0-quantity-end_users": "-5",
        "uses-0-revenue": "a lot",
    }
    page = client.get("/estimate?" + urlencode(query)).get_data(as_text=True)
    summary = _summary(page)
    assert f"Use 1{SEP}Expected annual revenue (USD): Enter an amount" in summary
    assert f"Use 1{SEP}Expected number of end users: Enter a whole number, 0 or more." in summary
    assert "{" not in summary
    assert "Use 0" not in summary


def test_the_application_form_names_uses_from_one_and_says_a_count_is_0_or_more(
    client: FlaskClient, vendor: Any, signed_in: Any, example_card: str
) -> None:
    signed_in(client, vendor)
    form = {
        "term_start": "2027-01-01",
        "term_end": "2027-12-31",
        **{f"uses-0-{k}": str(v) for k, v in STAFF_USE.items() if k != "languages"},
        "uses-0-languages": "en",
        "uses-0-quantity-end_users": "-5",
    }
    response = client.post("/portal/applications/new", data=form)
    assert response.status_code == 422
    summary = _summary(response.get_data(as_text=True))
    assert f"Use 1{SEP}Expected number of end users: Enter a whole number, 0 or more." in summary
    assert "uses" not in summary.lower().replace("use 1", "")


def test_submitting_without_the_attestation_names_the_checkbox_not_its_key(
    client: FlaskClient, vendor: Any, signed_in: Any, apply: Any
) -> None:
    application = apply(vendor, STAFF_USE, submit=False)
    signed_in(client, vendor)
    response = client.post(f"/portal/applications/{application.id}/submit", data={})
    summary = _summary(response.get_data(as_text=True))
    assert "Confirmation that the information is accurate:" in summary
    assert "attest:" not in summary


def test_sign_up_reports_every_problem_in_one_pass(
    client: FlaskClient, app: Any, vendor: Any
) -> None:
    fields = factories.organization_fields(legal_name="Bluefin Claims Analytics LLC")
    data = {name: value or "" for name, value in fields.items()}
    data.update(
        full_name="Samira Haddad",
        email=vendor.email,  # taken
        password="short",  # too weak
        confirm="different",  # does not match
        city="",  # required
        billing_email="not an address",
    )
    response = client.post("/sign-up", data=data)
    assert response.status_code == 422
    summary = _summary(response.get_data(as_text=True))
    # A taken address is not among the problems: sign-up answers it as a new one
    # once everything else is valid, so nobody learns who has an account (round 8).
    assert "Your email address" not in summary
    assert "already" not in summary
    assert "Password:" in summary
    assert "Repeat the password: The two passwords differ." in summary
    assert "City: This field is required." in summary
    assert "Billing contact email: This is not an email address" in summary


def test_the_estimator_s_message_about_the_whole_term_describes_the_term_s_fieldset(
    client: FlaskClient, example_card: str
) -> None:
    # "The term cannot end before it starts" sat under the fieldset with no link to
    # it: a screen reader moving through the fields never heard it there.
    query = {
        "organization_type": "commercial",
        "term_start": "2027-12-31",
        "term_end": "2027-01-01",
        "uses-0-use": "distribution",
        "uses-0-product_type": "saas",
        "uses-0-user_type": "provider",
        "uses-0-quantity-end_users": "10",
    }
    page = client.get("/estimate?" + urlencode(query)).get_data(as_text=True)
    assert '<fieldset aria-describedby="term-errors">' in page
    described = re.search(r'<div id="term-errors">(.*?)</div>', page, re.S)
    assert described, page
    assert (
        "License term ends: must not be before the term&#39;s start (December 31, 2027)"
        in without_time_tags(described.group(1))
    )
