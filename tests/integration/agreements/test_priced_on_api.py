"""Cardcheck54: what a rate card priced, over the API. Round 54 listed on the card's
page the undecided applications whose latest quote is on the card and the agreements
issued on it (which keep its prices); the API's check and card said nothing of them.
Now the check's `takes_over[].priced` counts them with the first records, and staff
page through them at `GET /rate-cards/{version}/priced-applications` and
`.../priced-agreements`; a vendor is refused (other organizations' records). A saved
draft has no quote, so it is in neither, and the check's page says so in one line."""

from __future__ import annotations

import html
import io
import json
import re
from typing import Any

from flask.testing import FlaskClient

from licensing import db
from licensing.agreements import priced_on
from tests.integration.agreements.conftest import AUTO_USE, STAFF_USE
from tests.integration.pricing.conftest import example_document
from tests.support.agreements import make_active_agreement
from tests.support.factories import bearer


def _correction() -> dict[str, Any]:
    """2027.2: 2027.1 for the same days, its development fee changed."""
    document = example_document()
    document["version"] = "2027.2"
    document["rules"][2]["model"]["amount"] = "2750.00"
    return document


def test_the_checks_answer_counts_and_lists_what_the_card_it_replaces_priced(
    client: FlaskClient, admin: Any, vendor: Any, licensing_staff: Any, apply: Any
) -> None:
    waiting = apply(vendor, STAFF_USE)
    agreement = make_active_agreement(vendor, licensing_staff, AUTO_USE)
    answer = client.post("/api/v1/rate-cards/checks", json=_correction(), headers=bearer(admin))
    assert answer.status_code == 200, answer.get_json()
    [taking] = answer.get_json()["takes_over"]
    assert (taking["version"], taking["whole"]) == ("2027.1", True)
    name = vendor.organization.legal_name
    assert taking["priced"] == {
        "application_count": 1,
        "applications": [
            {
                "id": waiting.id,
                "reference": waiting.reference,
                "organization": name,
                "state": "submitted",
                "total": taking["priced"]["applications"][0]["total"],
                "currency": "USD",
            }
        ],
        "agreement_count": 1,
        "agreements": [
            {
                "id": agreement.id,
                "reference": agreement.number,
                "organization": name,
                "state": "active",
                "total": "33800.00",
                "currency": "USD",
            }
        ],
    }
    assert taking["priced"]["applications"][0]["total"].endswith(".00")


def test_staff_page_through_what_a_card_priced_oldest_first_with_the_count(
    client: FlaskClient,
    admin: Any,
    billing_staff: Any,
    licensing_staff: Any,
    vendor: Any,
    apply: Any,
) -> None:
    applications = [apply(vendor, STAFF_USE) for _ in range(3)]
    apply(vendor, STAFF_USE, submit=False)  # a draft has no quote: not listed
    agreement = make_active_agreement(vendor, licensing_staff, AUTO_USE)
    path = "/api/v1/rate-cards/2027.1/priced-applications"
    first = client.get(f"{path}?per_page=2", headers=bearer(billing_staff))
    assert first.status_code == 200, first.get_json()
    assert first.headers["X-Total-Count"] == "3"
    assert [row["id"] for row in first.get_json()] == [a.id for a in applications[:2]]
    assert 'rel="next"' in first.headers["Link"]
    second = client.get(f"{path}?per_page=2&page=2", headers=bearer(licensing_staff))
    assert [row["reference"] for row in second.get_json()] == [applications[2].reference]
    agreements = client.get("/api/v1/rate-cards/2027.1/priced-agreements", headers=bearer(admin))
    assert agreements.headers["X-Total-Count"] == "1"
    [row] = agreements.get_json()
    assert (row["id"], row["reference"], row["state"], row["total"]) == (
        agreement.id,
        agreement.number,
        "active",
        "33800.00",
    )
    # The same records as the card's page lists (one statement for both edges).
    listed = priced_on.priced_on(db.session(), "2027.1")
    assert [record.reference for record in listed.applications] == [
        a.reference for a in applications
    ]


def test_a_vendor_may_not_list_what_a_card_priced_and_an_unknown_card_is_a_404(
    client: FlaskClient, vendor: Any, admin: Any, example_card: str
) -> None:
    for kind in ("applications", "agreements"):
        refused = client.get(f"/api/v1/rate-cards/2027.1/priced-{kind}", headers=bearer(vendor))
        assert refused.status_code == 403, refused.get_json()
        assert refused.content_type == "application/problem+json"
        missing = client.get(f"/api/v1/rate-cards/1999.1/priced-{kind}", headers=bearer(admin))
        assert missing.status_code == 404, missing.get_json()
        anonymous = client.get(f"/api/v1/rate-cards/2027.1/priced-{kind}")
        assert anonymous.status_code == 401
    # The public card names no licensee's records.
    assert "priced" not in client.get("/api/v1/rate-cards/2027.1").get_json()


def test_the_check_page_says_saved_drafts_are_not_counted_and_counts_none(
    client: FlaskClient, signed_in: Any, admin: Any, vendor: Any, apply: Any
) -> None:
    waiting = apply(vendor, STAFF_USE)
    apply(vendor, STAFF_USE, submit=False)
    signed_in(client, admin)
    page = client.post(
        "/console/rate-cards/",
        data={
            "card": (io.BytesIO(json.dumps(_correction(), default=str).encode()), "card.json"),
            "action": "check",
        },
        content_type="multipart/form-data",
    ).get_data(as_text=True)
    words = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())
    assert "What 2027.1 has priced keeps its prices: 1 undecided application" in words
    assert (
        "Saved drafts are not counted: a draft has no quote until it is submitted, and is "
        "priced then on the card in effect."
    ) in words
    assert waiting.state == "submitted"
