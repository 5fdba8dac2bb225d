"""Round 30: a vendor's product manager prices proposed uses on the public pages."""

from __future__ import annotations

import html
from urllib.parse import urlencode

from flask.testing import FlaskClient

from tests.integration.pricing.conftest import example_card  # noqa: F401 - the fixture

TERM = {"term_start": "2027-01-15", "term_end": "2027-06-30", "rate_card": ""}
SOFTWARE = {
    "uses-0-use": "distribution",
    "uses-0-product_type": "software",
    "uses-0-user_type": "provider",
    "uses-0-description": "Coding assistant",
}
HANDOUTS = {
    "use": "education",
    "product_type": "print",
    "user_type": "academic",
    "quantity-copies": "40",
    "description": "Handouts for a nursing course",
}


def _estimate(client: FlaskClient, **fields: str) -> str:
    query = urlencode({"organization_type": "academic", **TERM, **fields})
    response = client.get(f"/estimate?{query}")
    assert response.status_code == 200
    return html.unescape(response.get_data(as_text=True))


def _row(index: int) -> dict[str, str]:
    return {f"uses-{index}-{name}": value for name, value in HANDOUTS.items()}


def test_an_estimate_of_an_educational_use_says_no_fee_and_how_to_request_the_permission(
    client: FlaskClient,
    example_card: str,  # noqa: F811
) -> None:
    # An academic department's handouts read "Estimated total: 0.00 USD" and "An
    # estimate is not an offer: the price is fixed when your application is
    # approved": a price to come, and an application to make, for a use that is
    # not licensed at all.
    page = _estimate(client, **_row(0))
    said = " ".join(page.split('id="routed">', 1)[1].split("</p>", 1)[0].split())
    assert said.startswith("No license fee: this use is non-commercial education")
    assert "no account is needed" in said
    assert "becomes a permission request when the application is submitted" in said
    assert "the price is fixed when your application is approved" not in page
    assert "Request permission for this educational use</a>" in page


def test_an_estimate_with_an_educational_use_among_others_names_it(
    client: FlaskClient,
    example_card: str,  # noqa: F811
) -> None:
    page = _estimate(client, **SOFTWARE, **{"uses-0-quantity-end_users": "250"}, **_row(1))
    said = " ".join(page.split('id="routed">', 1)[1].split("</p>", 1)[0].split())
    assert said.startswith("Use 2 is non-commercial education: no fee, and not part of any invoice")
    assert "An estimate is not an offer" in page  # use 1 is priced


def test_a_missing_count_is_said_beside_its_field_in_words(
    client: FlaskClient,
    example_card: str,  # noqa: F811
) -> None:
    # Beside "Expected number of end users" the page read "required by rule
    # distribution-software: the number of end_users", the API's words.
    page = _estimate(client, **SOFTWARE)
    beside = page.split('id="uses-0-quantity-end_users-error">', 1)[1].split("</p>", 1)[0]
    assert beside == (
        "Required: rule distribution-software prices this use by the number of end users."
    )
    assert "the number of end_users" not in page
    translation = {**SOFTWARE, "uses-0-use": "translation", "uses-0-quantity-end_users": "250"}
    page = _estimate(client, **translation)
    beside = page.split('id="uses-0-revenue-error">', 1)[1].split("</p>", 1)[0]
    assert beside == "Required: rule translation charges a share of the revenue."
    # The API keeps the contract's (recorded) words.
    body = {
        "organization_type": "commercial",
        "term": {"start": "2027-01-15", "end": "2027-06-30"},
        "uses": [{"use": "distribution", "product_type": "software", "user_type": "provider"}],
    }
    answer = client.post("/api/v1/quotes", json=body).get_json()
    assert answer["errors"]["uses.0.quantity.end_users"] == [
        "required by rule distribution-software: the number of end_users"
    ]
