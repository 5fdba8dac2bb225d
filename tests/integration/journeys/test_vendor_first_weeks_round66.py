"""Round 66 (journeyV66): a new vendor's first weeks, walked fresh in a browser
(docs/journeys.md, "Round 66: a vendor's first weeks, walked fresh"): the stumbles on
the sign-up and the application's form that need no data but a vendor.

- From an estimate, *Apply for a license with these uses* opens the sign-up with the
  estimate's application as its `next`: the estimate's organization type was asked
  again ("Choose…"), though the link carries it.
- The application form's *License term starts* said "YYYY-MM-DD" above a date picker
  showing the browser's own format (01/01/2027), where *ends* says what the day is."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask.testing import FlaskClient

from tests.support.pages import text_of

ESTIMATE = (
    "/portal/applications/new?organization_type=academic&term_start=2027-01-01"
    "&term_end=2027-12-31&uses-0-use=development&uses-0-product_type=saas"
)


def test_the_sign_up_from_an_estimate_keeps_its_organization_type(client: FlaskClient) -> None:
    page = client.get(f"/sign-up?next={quote(ESTIMATE, safe='/')}").get_data(as_text=True)
    assert '<option selected value="academic">' in page
    # Without an estimate, or with a type the office does not know, it is chosen.
    for asked in ("", quote("/portal/applications/new?organization_type=guild", safe="/")):
        plain = client.get(f"/sign-up?next={asked}").get_data(as_text=True)
        assert "selected" not in plain.split('name="organization_type"', 1)[1].split("</select>")[0]


def test_the_application_forms_term_start_says_what_the_day_is(
    client: FlaskClient, signed_in: Any, vendor: Any
) -> None:
    signed_in(client, vendor)
    form = text_of(client.get("/portal/applications/new"))
    assert "License term starts The first day, included" in form
    assert "YYYY-MM-DD" not in form
