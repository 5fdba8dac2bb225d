"""Round 67 (staff67): a renewal of an agreement licensing staff priced by hand.

Round 66 made an agreement no card priced say so (`agreements.hand_priced`), but what a
renewal *of* it says of it read `Agreement.rate_card`, the quote's card (2027.JPY, the
card of the agreement that one renewed): "it was priced with rate card 2027.JPY" in the
renewal's working, "... was priced on 2027.JPY" under its *Rate card*, "on rate card
2027.JPY" in *What changed*, the API's `rate_card_before`, the agreement then issued
("..., which it renews, was priced on 2027.JPY") and the up-front invoice's memo of the
hand-priced agreement itself. Each now asks the one rule (`hand_priced.card_that_priced`).
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from flask.testing import FlaskClient

from licensing import db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import services as agreements
from licensing.errors import Conflict
from licensing.money import format_grouped
from licensing.ratecards import services as ratecards
from tests.integration.agreements.conftest import DEVELOPMENT_USE, NOW
from tests.integration.journeys.conftest import (
    ASKED,
    ISSUED,
    JPY_2027,
    USD_2028,
    agreement_on_card,
    in_two_currencies,
    pages_read_at,
)
from tests.integration.pricing.conftest import flat_card
from tests.support.agreements import accept, agreement_of, renewal_window, up_front_invoice
from tests.support.factories import bearer
from tests.support.pages import text_of
from tests.support.settings import issuing


def _actor(user: Any) -> Actor:
    return Actor.of(accounts.principal_for(user))


def _priced_by_hand(renewing: Any, vendor: Any, at: Any) -> Any:
    """`renewing` renewed and submitted at `at` (no card in JPY in effect on its first
    day, so priced by hand): the renewal application."""
    renewal = agreements.start_renewal(renewing.id, _actor(vendor), now=at)
    agreements.submit(renewal.id, _actor(vendor), policy=issuing(), attest=True, now=at)
    db.session().commit()
    return renewal


def _approve(renewal: Any, staff: Any, at: Any, amount: str) -> Any:
    reviewer = _actor(staff)
    agreements.start_review(renewal.id, reviewer, now=at)
    agreements.approve(
        renewal.id,
        reviewer,
        policy=issuing(),
        modifications=agreements.Modifications(
            lines=[agreements.LineChange(0, Decimal(amount), "Priced by hand.")]
        ),
        now=at,
    )
    db.session().commit()
    return agreement_of(renewal)


def _priced_on_jpy(client: FlaskClient, staff: Any, kind: str) -> list[str]:
    """The references 2027.JPY's API lists as the `kind` ("agreements", "applications")
    it priced."""
    listed = client.get(f"/api/v1/rate-cards/2027.JPY/priced-{kind}", headers=bearer(staff))
    assert listed.status_code == 200, listed.get_data(as_text=True)
    return [record["reference"] for record in listed.get_json()]


def test_a_renewal_of_an_agreement_priced_by_hand_says_no_card_priced_it_everywhere(
    client: FlaskClient,
    vendor: Any,
    licensing_staff: Any,
    admin: Any,
    signed_in: Any,
    example_card: str,
) -> None:
    # Before: 2028's agreement, priced by hand (its quote names 2027.JPY), was said to be
    # "priced with rate card 2027.JPY" by its renewal for 2029, its invoice's memo said
    # "(rate card 2027.JPY)", and the renewal's API said `rate_card_before` "2027.JPY".
    _usd, jpy = in_two_currencies(vendor, licensing_staff)
    ratecards.import_card(USD_2028, published_by="tests")
    db.session().commit()
    first = _priced_by_hand(jpy, vendor, ASKED)
    by_hand = _approve(first, licensing_staff, ISSUED, "330000")
    # Round 68 (noticed68): reissuing it was refused naming 2027.JPY as the card "which
    # priced agreement CPT-2028-000001"; it asks the one rule now.
    with pytest.raises(Conflict) as refused:
        agreements.reissue(
            by_hand.id, "Corrected.", _actor(licensing_staff), policy=issuing(), now=ISSUED
        )
    assert "2027.JPY" not in refused.value.detail, refused.value.detail
    assert refused.value.detail.startswith(
        f"Agreement {by_hand.number} was priced by hand by licensing staff, on no rate card"
    )
    by_hand = accept(by_hand, vendor, now=ISSUED + timedelta(hours=1))
    db.session().commit()
    assert by_hand.rate_card == "2027.JPY"  # the row as issued: its quote's card
    # Round 68: 2027.JPY's *What it priced* listed it among the agreements the card priced.
    assert by_hand.number not in _priced_on_jpy(client, licensing_staff, "agreements")
    memo = up_front_invoice(by_hand).memo
    assert "rate card 2027.JPY" not in memo
    assert memo.endswith("(priced by hand by licensing staff, on no rate card).")

    at = renewal_window(by_hand)
    second = _priced_by_hand(by_hand, vendor, at)
    # Round 68: and its renewal, which staff price by hand, among the applications; a
    # check of 2029's yen card said the renewal was priced on 2027.JPY now.
    assert second.reference not in _priced_on_jpy(client, licensing_staff, "applications")
    with time_machine.travel(at, tick=False):
        checked = client.post(
            "/api/v1/rate-cards/checks",
            json=flat_card("2029.JPY", "JPY", "350000", 2029),
            headers=bearer(admin),
        )
    assert checked.status_code == 200, checked.get_json()
    records = checked.get_json()["effect"]["records"]
    assert [r["rate_card"] for r in records if r["reference"] == second.reference] == [None]
    (vendor_page,) = pages_read_at(
        client, vendor, signed_in, at, f"/portal/applications/{second.id}"
    )
    (review_page,) = pages_read_at(
        client, licensing_staff, signed_in, at, f"/console/applications/{second.id}"
    )
    for page in (vendor_page, review_page):
        # (Staff's history keeps what the quote's event recorded: "rate card: 2027.JPY".)
        said = page[: page.rfind("History")] if page is review_page else page
        assert "2027.JPY" not in said, said[said.find("2027.JPY") - 300 :][:600]
        assert f"{by_hand.number} is 330,000 JPY, priced by hand by licensing staff." in page
    assert (
        f"(licensing staff will price it by hand; {by_hand.number} was priced by hand by "
        "licensing staff, on no rate card)"
    ) in vendor_page or (
        f"licensing staff price it by hand ({by_hand.number} was priced by hand by licensing "
        "staff, on no rate card)"
    ) in vendor_page
    assert (
        f"so licensing staff will price this renewal of {by_hand.number} by hand (it was priced "
        "by hand by licensing staff, on no rate card)"
    ) in vendor_page

    body = client.get(f"/api/v1/applications/{second.id}", headers=bearer(vendor)).get_json()
    change = body["renewal_change"]
    assert (change["rate_card_before"], change["rate_card_after"]) == (None, None)

    renewed = _approve(second, licensing_staff, at, "340000")
    (page,) = pages_read_at(client, vendor, signed_in, at, f"/portal/agreements/{renewed.id}")
    assert "2027.JPY" not in page
    assert (
        f"({by_hand.number}, which it renews, was priced by hand by licensing staff, on no "
        "rate card)"
    ) in page


def test_a_history_says_its_amounts_as_the_page_does(
    client: FlaskClient,
    vendor: Any,
    licensing_staff: Any,
    admin: Any,
    signed_in: Any,
    example_card: str,
) -> None:
    # Before: the agreement's trail said "total: — → 2500.00" and "amount paid: ... →
    # 2500.00" under figures reading 2,500.00 USD; the audit log the same.
    agreement = agreement_on_card(vendor, licensing_staff, "2027.1", DEVELOPMENT_USE)
    db.session().commit()
    trail, log = pages_read_at(
        client,
        admin,
        signed_in,
        NOW,
        f"/console/agreements/{agreement.id}",
        "/console/audit",
    )
    total = format_grouped(agreement.total, "USD")
    for page in (trail, log):
        history = page[page.find("History") :] if page is trail else page
        assert f"total: — → {total} USD" in history, history
        assert not re.search(r"→ \d{4,}\.\d\d\b", history), history


def test_the_estimators_card_in_effect_option_names_the_card_in_each_currency(
    client: FlaskClient, example_card: str
) -> None:
    # Before: "The card in effect on the start date", naming no card or currency, with
    # 2027.1 (USD) and 2027.JPY both in effect on the estimate's first day.
    ratecards.import_card(JPY_2027, published_by="tests")
    db.session().commit()
    with time_machine.travel(ASKED, tick=False):
        response = client.get("/estimate")
    html = response.get_data(as_text=True)
    page = text_of(response)
    assert (
        "The card in effect on the start date, in any currency the one published last "
        "(2027.JPY, in JPY, for November 2, 2027)"
    ) in page
    assert (
        "Naming no card, this estimate is priced on the card in effect on the start date "
        "published last, whatever its currency: on November 2, 2027, rate card 2027.JPY, in "
        "JPY. 2027.1 (USD) is in effect too: choose it to be priced in its currency."
    ) in page
    assert 'aria-describedby="rate_card-hint"' in html
    assert 'data-what="estimate"' in html
    assert '<option value="2027.JPY">' in html  # each card still to choose
    assert "js/rate-card-option.js" in html
