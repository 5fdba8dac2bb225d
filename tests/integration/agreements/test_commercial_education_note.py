"""A commercial company's educational use is licensed and priced by the card's rule
(training material); the estimator and the application page say beside it that a
non-commercial use by an academic institution would be a permission, linking to
the request form (round 33). The API's quote answer, fixed by the contract, does
not say it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from flask.testing import FlaskClient

from licensing.agreements.models import Application
from tests.integration.agreements.conftest import AUTO_USE
from tests.support.factories import bearer

NOTE = 'id="commercial-education"'
EDUCATION = {
    **AUTO_USE,
    "product_name": "Coding Academy",
    "use": "education",
    "product_type": "print",
    "quantity": {"copies": 40},
}


def _estimate(client: FlaskClient, organization_type: str, use: str) -> str:
    query = {
        "organization_type": organization_type,
        "term_start": "2027-01-15",
        "term_end": "2027-06-30",
        "rate_card": "",
        "uses-0-use": use,
        "uses-0-product_type": "print",
        "uses-0-user_type": "provider",
        "uses-0-quantity-copies": "40",
        "uses-0-quantity-end_users": "40",
    }
    page = client.get("/estimate?" + urlencode(query))
    assert page.status_code == 200
    return page.get_data(as_text=True)


def test_the_estimator_says_a_non_commercial_academic_use_would_be_a_permission(
    client: FlaskClient, example_card: str
) -> None:
    page = _estimate(client, "commercial", "education")
    assert NOTE in page
    assert "Use 1 is education for a commercial organization" in page
    assert 'href="/permissions/request">request permission for an educational use' in page


def test_the_estimator_says_nothing_of_it_for_an_academic_applicant_or_another_use(
    client: FlaskClient, example_card: str
) -> None:
    assert NOTE not in _estimate(client, "academic", "education")  # routed: a permission
    assert NOTE not in _estimate(client, "commercial", "development")


def test_the_application_page_says_it_before_and_after_submission(
    client: FlaskClient,
    apply: Callable[..., Application],
    vendor: Any,
    signed_in: Callable[..., FlaskClient],
) -> None:
    browser = signed_in(client, vendor)
    drafted = apply(vendor, EDUCATION, submit=False)
    assert NOTE in browser.get(f"/portal/applications/{drafted.id}").get_data(as_text=True)
    submitted = apply(vendor, EDUCATION)
    page = browser.get(f"/portal/applications/{submitted.id}").get_data(as_text=True)
    assert NOTE in page
    assert page.count(NOTE) == 1


def test_the_apis_quote_answer_keeps_the_contracts_shape(
    client: FlaskClient, example_card: str, vendor: Any
) -> None:
    body = {
        "organization_type": "commercial",
        "term": {"start": "2027-01-15", "end": "2027-06-30"},
        "uses": [
            {
                "use": "education",
                "product_type": "print",
                "user_type": "provider",
                "quantity": {"copies": 40},
            }
        ],
    }
    answer = client.post("/api/v1/quotes", json=body, headers=bearer(vendor))
    assert answer.status_code == 200, answer.get_json()
    # The contract's members only (`tests/unit/pricing/test_quote.py` names them),
    # the line's own explanation the card's, with no word of permissions.
    assert len(answer.get_json()) == 6
    assert "permission" not in answer.get_data(as_text=True).lower()
