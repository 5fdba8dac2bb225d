"""A rule's terms in words group their figures where people read them (round 13):
the agreement's PDF ("Royalty terms") and the rate card's page said "above 1000
at 12.00 each; minimum 1000.00 a year" beside Schedule A's "1,000.00 USD". The
API's `in_plain_words` keeps its figures as the API gives every figure."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

from flask.testing import FlaskClient
from pypdf import PdfReader

from licensing.agreements.models import Application
from tests.integration.agreements.conftest import AUTO_USE
from tests.integration.agreements.conftest import apply as apply
from tests.support.agreements import agreement_of
from tests.support.documents import stored_pdf

GROUPED = (
    "Per end user, graduated: the first 100 at 18.50 USD each, the next 900 at 15.50 USD "
    "each, above 1,000 at 12.00 USD each; minimum 1,000.00 USD a year (prorated)"
)
AS_THE_API_GIVES_IT = (
    "Per end user, graduated: the first 100 at 18.50 each, the next 900 at 15.50 each, "
    "above 1000 at 12.00 each; minimum 1000.00 a year (prorated)"
)


def test_a_new_agreements_pdf_states_a_rules_terms_with_grouped_figures(
    apply: Callable[..., Application],
    vendor: Any,
) -> None:
    agreement = agreement_of(apply(vendor, AUTO_USE))
    pages = PdfReader(io.BytesIO(stored_pdf(agreement))).pages
    text = " ".join(" ".join(page.extract_text() for page in pages).split())
    assert GROUPED in text
    assert "above 1000" not in text


def test_the_rate_cards_page_groups_a_rules_figures_and_the_api_keeps_them(
    client: FlaskClient, licensing_staff: Any, signed_in: Any, example_card: str
) -> None:
    page = signed_in(client, licensing_staff).get(f"/console/rate-cards/{example_card}")
    assert page.status_code == 200
    assert GROUPED in " ".join(page.get_data(as_text=True).split())
    detail = client.get(f"/api/v1/rate-cards/{example_card}").get_json()
    words = {rule["id"]: rule["in_plain_words"] for rule in detail["rules"]}
    assert words["distribution-software"] == AS_THE_API_GIVES_IT
