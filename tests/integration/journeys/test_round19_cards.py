"""Round 19: the rate-card follow-ups round 18 left (the advice on a term across
two cards, a dry run on the API, publishing what a check accepted, an estimate on
a replaced card)."""

from __future__ import annotations

import html
import re
from typing import Any

from flask.testing import FlaskClient

from licensing.ratecards import cli as ratecards_cli

SAAS_USE = {
    "use": "distribution",
    "product_type": "saas",
    "user_type": "provider",
    "quantity": {"end_users": 2500},
}


def _words(page: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def _quote(client: FlaskClient, start: str, end: str, **extra: Any) -> Any:
    body = {"organization_type": "commercial", "term": {"start": start, "end": end}}
    return client.post("/api/v1/quotes", json={**body, **extra, "uses": [SAAS_USE]})


def _estimate(client: FlaskClient, start: str, end: str, **extra: str) -> str:
    fields = {
        "organization_type": "commercial",
        "term_start": start,
        "term_end": end,
        "uses-0-use": "distribution",
        "uses-0-product_type": "saas",
        "uses-0-user_type": "provider",
        "uses-0-quantity-end_users": "2500",
        **extra,
    }
    return _words(client.get("/estimate", query_string=fields).get_data(as_text=True))


# --- one place for the advice on a term across two cards -------------------------------

LAST_CARD = (
    "the term 2027-07-01 to 2028-06-30 must lie wholly inside the period of rate card 2027.1, "
    "2027-01-01 to 2027-12-31: keep the term within 2027-01-01 to 2027-12-31; a license is "
    "renewed for the next period on the next card"
)
NEXT_CARD = (
    "the term 2026-12-15 to 2027-12-14 must lie wholly inside the period of rate card 2026.1, "
    "2026-01-01 to 2026-12-31: end it by 2026-12-31, or start it on 2027-01-01 to be priced "
    "on rate card 2027.1 (2027-01-01 to 2027-12-31)"
)


def test_a_term_past_the_last_card_gets_the_same_advice_from_the_api_and_the_estimator(
    client: FlaskClient,
) -> None:
    # The API said only that the term must lie inside 2027.1; the estimator's page
    # added "keep the term within ..." by matching the words.
    ratecards_cli.load_samples()
    answer = _quote(client, "2027-07-01", "2028-06-30")
    assert answer.status_code == 422
    assert answer.get_json()["errors"]["term"] == [LAST_CARD]
    assert LAST_CARD in _estimate(client, "2027-07-01", "2028-06-30")


def test_a_term_into_a_published_next_card_gets_the_same_advice_from_both(
    client: FlaskClient,
) -> None:
    ratecards_cli.load_samples()
    assert _quote(client, "2026-12-15", "2027-12-14").get_json()["errors"]["term"] == [NEXT_CARD]
    words = _estimate(client, "2026-12-15", "2027-12-14")
    assert NEXT_CARD in words
    assert "keep the term within" not in words


def test_a_term_starting_before_the_card_named_is_told_the_cards_period(
    client: FlaskClient,
) -> None:
    ratecards_cli.load_samples()
    answer = _quote(client, "2026-12-01", "2027-06-30", rate_card="2027.1")
    assert answer.get_json()["errors"]["term"] == [
        "the term 2026-12-01 to 2027-06-30 must lie wholly inside the period of rate card "
        "2027.1, 2027-01-01 to 2027-12-31: keep the term within 2027-01-01 to 2027-12-31"
    ]
