"""Round 58: the rate card's page (*What 2027.1 priced*) offered *Reissue* beside every
agreement awaiting acceptance that a reissue would go ahead for, including those the
correction prices exactly as before: a reissue that changes no price only sends the
licensee a second agreement to accept. It offers it only where a price changes (a
use's amount, or how a use's reported usage is priced: a tier above the estimate, a
percent), and says why not beside the others (docs/agreements.md)."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

from flask.testing import FlaskClient

from licensing.ratecards import services as ratecards
from tests.integration.agreements.conftest import AUTO_USE, DEVELOPMENT_USE
from tests.integration.pricing.conftest import example_document
from tests.support.agreements import issued_agreement
from tests.support.factories import bearer

SAME_PRICES = "the same prices on the corrected card: nothing to reissue"


def _words(page: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def _row(card: str, number: str) -> str:
    """The words of the card page's row of agreement `number`."""
    rows = [row for row in card.split("<tr>") if f">{number}<" in row]
    assert len(rows) == 1, rows
    return _words(rows[0])


def _tier_above_the_estimate() -> dict[str, Any]:
    """2027.1 corrected: the software distribution's last tier split at 5,000 end
    users, the users above it cheaper. At the 2,500 quoted the amount is the same; a
    licensee reporting 6,000 is charged less."""
    document = example_document()
    document["version"] = "2027.2"
    tiers = document["rules"][5]["model"]["tiers"]
    tiers[-1:] = [
        {"up_to": 5000, "unit_price": "12.00"},
        {"up_to": None, "unit_price": "10.00"},
    ]
    return document


def test_the_card_page_offers_a_reissue_only_where_the_correction_changes_a_price(
    client: FlaskClient,
    vendor: Any,
    other_vendor: Any,
    licensing_staff: Any,
    example_card: str,
    signed_in: Callable[..., FlaskClient],
) -> None:
    fee = issued_agreement(vendor, licensing_staff, DEVELOPMENT_USE)
    royalties = issued_agreement(other_vendor, licensing_staff, AUTO_USE)
    ratecards.import_card(_tier_above_the_estimate(), published_by="tests")
    signed_in(client, licensing_staff)
    page = client.get("/console/rate-cards/2027.1").get_data(as_text=True)

    # The flat development fee is priced as before: no press, and why.
    same = _row(page, fee.number)
    assert SAME_PRICES in same
    assert f"Reissue {fee.number}" not in same
    assert f"why {fee.number} is not reissued" in same
    # The per-user royalties are charged otherwise above 5,000 users, though the
    # amount at the 2,500 quoted is the same: a price changes, so it is offered.
    changed = _row(page, royalties.number)
    assert f"Reissue {royalties.number}" in changed
    assert SAME_PRICES not in changed
    assert "where that changes a price" in _words(page)

    # The step itself is as round 57 left it (allowed, its confirmation saying first
    # when no price changes), and the confirmation now counts the usage pricing.
    def confirmation(agreement_id: int) -> str:
        answer = client.post(
            f"/console/agreements/{agreement_id}/reissue",
            data={"reissue-reason": "2027.1 lacked the tier above 5,000 end users."},
        )
        assert answer.status_code == 200
        return _words(answer.get_data(as_text=True))

    assert "the correction changed none of its prices" in confirmation(fee.id)
    assert "the correction changed none of its prices" not in confirmation(royalties.id)
    answer = client.get(f"/api/v1/agreements/{fee.id}", headers=bearer(licensing_staff))
    assert "reissue" in answer.get_json()["allowed_actions"]


def test_a_use_priced_by_usage_on_a_rule_the_correction_left_alone_changes_no_price(
    client: FlaskClient,
    vendor: Any,
    other_vendor: Any,
    licensing_staff: Any,
    example_card: str,
    signed_in: Callable[..., FlaskClient],
) -> None:
    """The per-user royalties' rule as it was, the development fee corrected: the
    royalties agreement is priced alike (its amount and its usage pricing), the fee's
    is offered a reissue."""
    royalties = issued_agreement(other_vendor, licensing_staff, AUTO_USE)
    fee = issued_agreement(vendor, licensing_staff, DEVELOPMENT_USE)
    document = example_document()
    document["version"] = "2027.2"
    document["rules"][2]["model"]["amount"] = "2750.00"
    ratecards.import_card(document, published_by="tests")
    signed_in(client, licensing_staff)
    page = client.get("/console/rate-cards/2027.1").get_data(as_text=True)
    assert SAME_PRICES in _row(page, royalties.number)
    assert f"Reissue {fee.number}" in _row(page, fee.number)
