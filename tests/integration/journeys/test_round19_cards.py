"""Round 19: the rate-card follow-ups round 18 left (the advice on a term across
two cards, a dry run on the API, publishing what a check accepted, an estimate on
a replaced card)."""

from __future__ import annotations

import html
import io
import json
import re
from datetime import date
from typing import Any
from urllib.parse import urlencode

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from licensing import calendar, db
from licensing.agreements import card_effect
from licensing.audit.models import AuditEvent
from licensing.ratecards import cli as ratecards_cli
from licensing.ratecards.models import RateCardRecord
from licensing.ratecards.views import MAX_CARD_BYTES
from tests.integration.agreements.conftest import AUTO_USE, STAFF_USE
from tests.integration.pricing.conftest import example_document
from tests.support.agreements import make_active_agreement
from tests.support.factories import bearer, make_organization, make_vendor
from tests.support.page_days import in_words
from tests.support.pages import without_time_tags

SAAS_USE = {
    "use": "distribution",
    "product_type": "saas",
    "user_type": "provider",
    "quantity": {"end_users": 2500},
}


def _versions() -> list[str]:
    return sorted(db.session().scalars(select(RateCardRecord.version)))


def _audited() -> int:
    return db.session().scalar(select(func.count()).select_from(AuditEvent)) or 0


def _next_card() -> dict[str, Any]:
    """2027.2: the sample 2027 card with the development fee raised."""
    document = example_document()
    document["version"] = "2027.2"
    document["rules"][2]["model"]["amount"] = "2750.00"
    return document


def _words(page: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", without_time_tags(page))).split())


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
    # The same advice, its days in words on the page (round 58).
    assert in_words(LAST_CARD) in _estimate(client, "2027-07-01", "2028-06-30")


def test_a_term_into_a_published_next_card_gets_the_same_advice_from_both(
    client: FlaskClient,
) -> None:
    ratecards_cli.load_samples()
    assert _quote(client, "2026-12-15", "2027-12-14").get_json()["errors"]["term"] == [NEXT_CARD]
    words = _estimate(client, "2026-12-15", "2027-12-14")
    assert in_words(NEXT_CARD) in words
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


# --- a dry run on the API --------------------------------------------------------------


def test_an_admin_checks_a_card_through_the_api_storing_and_auditing_nothing(
    client: FlaskClient, admin: Any
) -> None:
    # The page could check a card before publishing it; the API could only publish.
    ratecards_cli.load_samples()
    headers = bearer(admin)
    audited = _audited()
    answer = client.post("/api/v1/rate-cards/checks", json=_next_card(), headers=headers)
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["status"] == "new"
    assert body["rate_card"] == {
        "version": "2027.2",
        "title": example_document()["title"],
        "currency": "USD",
        "effective_from": "2027-01-01",
        "effective_to": "2027-12-31",
        "period_days": 365,
    }
    assert body["compared_with"] == {
        "version": "2027.1",
        "effective_from": "2027-01-01",
        "effective_to": "2027-12-31",
        "in_effect_on_first_day": True,
    }
    changed = [d for d in body["differences"] if d["subject"] == "rule"]
    assert [(d["kind"], d["key"]) for d in changed] == [("changed", "development")]
    # Amounts as the API gives money, with the currency the page names too (round 21).
    assert "2500.00 USD" in changed[0]["sentence"]
    assert "2750.00 USD" in changed[0]["sentence"]
    # Round 54: with what 2027.1 priced, which keeps its prices (nothing here).
    nothing_priced = {
        "application_count": 0,
        "applications": [],
        "agreement_count": 0,
        "agreements": [],
    }
    assert body["takes_over"] == [
        {
            "version": "2027.1",
            "first": "2027-01-01",
            "last": "2027-12-31",
            "whole": True,
            "priced": nothing_priced,
        }
    ]
    assert body["keeps"] == []
    assert [rule["id"] for rule in body["rules"]] == [r["id"] for r in _next_card()["rules"]]
    assert body["discounts"][0]["discount_percent"] == "20"
    assert _versions() == ["2026.1", "2027.1"]
    assert _audited() == audited


def test_the_api_check_of_a_published_card_says_publishing_it_changes_nothing(
    client: FlaskClient, admin: Any
) -> None:
    ratecards_cli.load_samples()
    answer = client.post(
        "/api/v1/rate-cards/checks", json=example_document(), headers=bearer(admin)
    )
    body = answer.get_json()
    assert (answer.status_code, body["status"]) == (200, "identical")
    assert (body["takes_over"], body["differences"], body["compared_with"]) == ([], [], None)


def test_the_api_check_refuses_a_bad_card_as_publishing_does(
    client: FlaskClient, admin: Any
) -> None:
    ratecards_cli.load_samples()
    broken = _next_card()
    broken["rules"][5]["model"]["tiers"][0]["unit_price"] = "-1"
    changed = {**example_document(), "title": "Another title"}
    for document, status in ((broken, 422), (changed, 409), ([], 422)):
        checked = client.post("/api/v1/rate-cards/checks", json=document, headers=bearer(admin))
        published = client.post("/api/v1/rate-cards", json=document, headers=bearer(admin))
        assert checked.status_code == published.status_code == status
        for key in ("title", "detail", "errors"):
            assert checked.get_json().get(key) == published.get_json().get(key)
    assert _versions() == ["2026.1", "2027.1"]


def test_only_admins_may_check_a_card_through_the_api(
    client: FlaskClient, licensing_staff: Any, vendor: Any
) -> None:
    assert client.post("/api/v1/rate-cards/checks", json=_next_card()).status_code == 401
    for user in (licensing_staff, vendor):
        answer = client.post("/api/v1/rate-cards/checks", json=_next_card(), headers=bearer(user))
        assert answer.status_code == 403


# --- a card that checks must publish -----------------------------------------------------


def _card_of_size(size: int) -> bytes:
    """2027.2 as a file of exactly `size` bytes, its first rule's description
    mostly non-ASCII (which JSON may escape to six bytes a character)."""
    document = _next_card()
    rule = document["rules"][0]
    rule["description"] = ""
    bare = len(json.dumps(document, default=str, ensure_ascii=False).encode())
    accents = (size - bare) // 2
    rule["description"] = "é" * accents + "x" * (size - bare - 2 * accents)
    raw = json.dumps(document, default=str, ensure_ascii=False).encode()
    assert len(raw) == size
    return raw


def _check(client: FlaskClient, raw: bytes) -> Any:
    return client.post(
        "/console/rate-cards/",
        data={"card": (io.BytesIO(raw), "card.json"), "action": "check"},
        content_type="multipart/form-data",
    )


def _publish_as_a_browser_would(client: FlaskClient, page: str) -> Any:
    """Post the check page's publish form as its markup says: its fields, its
    encoding, within the form-field limit a browser's request meets (per field of a
    multipart form; a whole urlencoded form under Werkzeug before 3.1.9)."""
    form = re.search(
        r'<form method="post" action="([^"]+/checked)"([^>]*)>(.*?)</form>', page, re.S
    )
    assert form is not None
    action, attributes, inner = form.groups()
    fields = [
        (name, html.unescape(value))
        for name, value in re.findall(r'<input name="([^"]+)" type="hidden" value="([^"]*)"', inner)
        + re.findall(r'<input id="[^"]*" name="([^"]+)" type="hidden" value="([^"]*)"', inner)
    ]
    limit = client.application.config["MAX_FORM_MEMORY_SIZE"]
    if 'enctype="multipart/form-data"' in attributes:
        assert all(len(value.encode()) <= limit for _, value in fields)
        data: dict[str, list[str]] = {}
        for name, value in fields:
            data.setdefault(name, []).append(value)
        return client.post(action, data=data, content_type="multipart/form-data")
    assert len(urlencode(fields)) <= limit, "over the form-field limit"
    return client.post(
        action, data=urlencode(fields), content_type="application/x-www-form-urlencoded"
    )


def test_the_largest_card_a_check_accepts_is_published_by_its_button(
    client: FlaskClient, signed_in: Any, admin: Any
) -> None:
    # The check took a 1 MB file; its publish button posted the card in one field,
    # refused over 500 KB (the form-field limit).
    ratecards_cli.load_samples()
    signed_in(client, admin)
    checked = _check(client, _card_of_size(MAX_CARD_BYTES))
    assert checked.status_code == 200
    published = _publish_as_a_browser_would(client, checked.get_data(as_text=True))
    assert published.status_code == 302, published.status_code
    assert _versions() == ["2026.1", "2027.1", "2027.2"]
    stored = db.session().scalars(
        select(RateCardRecord.document).where(RateCardRecord.version == "2027.2")
    )
    assert json.loads(stored.one())["rules"][0]["description"].startswith("éé")


def test_a_card_one_byte_over_the_limit_is_refused_by_the_check(
    client: FlaskClient, signed_in: Any, admin: Any
) -> None:
    ratecards_cli.load_samples()
    signed_in(client, admin)
    refused = _check(client, _card_of_size(MAX_CARD_BYTES + 1))
    assert refused.status_code == 422
    assert "The file is larger than 1 MB." in _words(refused.get_data(as_text=True))


def test_a_check_refuses_a_card_its_publish_button_could_not_send(
    client: FlaskClient, signed_in: Any, admin: Any
) -> None:
    # Under a smaller request limit, the check says so rather than offer a button
    # whose form would be refused.
    ratecards_cli.load_samples()
    signed_in(client, admin)
    client.application.config["MAX_CONTENT_LENGTH"] = 300_000
    refused = _check(client, _card_of_size(290_000))
    assert refused.status_code == 422
    assert "too large to publish from a page" in _words(refused.get_data(as_text=True))
    assert _versions() == ["2026.1", "2027.1"]


# --- an estimate on a replaced card says so ------------------------------------------------


def _correct_2027() -> str:
    """Publish 2027.2 for 2027.1's days (a correction); the office's day it was published."""
    from licensing.ratecards import services

    services.import_card(_next_card(), published_by="tests")
    stored = db.session().scalars(
        select(RateCardRecord.published_at).where(RateCardRecord.version == "2027.2")
    )
    return calendar.office_date(stored.one()).isoformat()


def test_an_estimate_on_a_replaced_card_says_which_card_replaced_it_and_when(
    client: FlaskClient,
) -> None:
    # The estimator priced on 2027.1 as named, without a word that 2027.2 had
    # corrected it.
    ratecards_cli.load_samples()
    assert "was replaced by" not in _estimate(
        client, "2027-01-01", "2027-12-31", rate_card="2027.1"
    )
    day = _correct_2027()
    words = _estimate(client, "2027-01-01", "2027-12-31", rate_card="2027.1")
    assert "Estimated total" in words
    assert (
        f"Rate card 2027.1 was replaced by 2027.2 on {calendar.day_text(date.fromisoformat(day))}. "
        "Quotes and applications that name "
        "no rate card are priced on 2027.2" in words
    )
    for named in ("2027.2", ""):
        other = _estimate(client, "2027-01-01", "2027-12-31", rate_card=named)
        assert "Estimated total" in other
        assert "was replaced by" not in other


def test_a_quote_on_a_replaced_card_links_its_successor_and_keeps_the_contracts_body(
    client: FlaskClient,
) -> None:
    ratecards_cli.load_samples()
    before = _quote(client, "2027-01-01", "2027-12-31", rate_card="2027.1")
    assert "Link" not in before.headers
    _correct_2027()
    after = _quote(client, "2027-01-01", "2027-12-31", rate_card="2027.1")
    assert after.status_code == 200
    assert after.get_data() == before.get_data()  # the contract fixes the body
    assert after.headers["Link"] == '</api/v1/rate-cards/2027.2>; rel="successor-version"'
    for named in ({"rate_card": "2027.2"}, {}):
        assert "Link" not in _quote(client, "2027-01-01", "2027-12-31", **named).headers


# --- the check shows its effect on current licensees ---------------------------------------


def _card(version: str, **rules: tuple[list[Any], str]) -> dict[str, Any]:
    """The sample 2027 card as `version`, each named rule's field at `path` set."""
    document = example_document()
    document["version"] = version
    by_id = {rule["id"]: rule for rule in document["rules"]}
    for rule_id, (path, value) in rules.items():
        target = by_id[rule_id.replace("_", "-")]
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return document


def test_a_check_prices_undecided_applications_on_the_new_card_storing_nothing(
    client: FlaskClient,
    admin: Any,
    signed_in: Any,
    vendor: Any,
    apply: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The check said which quotes a correction would take, not what it would do
    # to the licensees waiting on a decision.
    first = apply(vendor, STAFF_USE)  # 10% of 80,000.00 revenue: 8,000.00, staff review
    apply(vendor, {**STAFF_USE, "revenue": "40000.00"})  # the minimum, 5,000.00
    assert first.state == "submitted"
    correction = _card("2027.2", distribution_data=(["model", "percent"], "12"))
    headers = bearer(admin)
    audited = _audited()
    monkeypatch.setattr(card_effect, "LISTED", 1)
    effect = client.post("/api/v1/rate-cards/checks", json=correction, headers=headers).get_json()[
        "effect"
    ]
    assert (effect["count"], effect["unpriced"]) == (2, 0)
    assert (effect["now"], effect["then"], effect["change"]) == ("13000.00", "14600.00", "1600.00")
    assert effect["records"] == [
        {
            "kind": "application",
            "reference": first.reference,
            "organization": vendor.organization.legal_name,
            "rate_card": "2027.1",
            "now": "8000.00",
            "then": "9600.00",
            "change": "1600.00",
            "why": None,
            "staff_review": True,  # round 42: its rule says review: staff
            "licensee_suspended": False,  # round 47
            # Round 67: on the card in effect now, the same request: the card's change alone.
            "rate_card_in_effect": "2027.1",
            "in_effect": "8000.00",
            "card_change": "1600.00",
            "usage_change": "0.00",
            "usage": [],
        }
    ]
    assert effect["organizations"] == [
        {
            "organization": vendor.organization.legal_name,
            "records": 2,
            "now": "13000.00",
            "then": "14600.00",
            "change": "1600.00",
            "suspended": False,  # round 48
        }
    ]
    assert _audited() == audited
    assert _versions() == ["2027.1"]
    signed_in(client, admin)
    page = client.post(
        "/console/rate-cards/",
        data={
            "card": (io.BytesIO(json.dumps(correction, default=str).encode()), "card.json"),
            "action": "check",
        },
        content_type="multipart/form-data",
    )
    words = _words(page.get_data(as_text=True))
    assert "Effect on current licensees" in words
    assert "Change 1,600.00 USD" in words
    assert (
        f"{first.reference} staff review on 2027.2 {vendor.organization.legal_name} 2027.1 "
        "8,000.00 8,000.00 on 2027.1 9,600.00 1,600.00 1,600.00 0.00" in words
    )
    assert "Of which 2027.2's own 1,600.00 USD" in words
    assert "1 of 2, largest changes first" in words


def test_a_check_prices_the_renewals_that_would_start_in_its_period(
    client: FlaskClient, admin: Any, vendor: Any, licensing_staff: Any, example_card: str
) -> None:
    agreement = make_active_agreement(vendor, licensing_staff, AUTO_USE)  # 2027: 33,800.00
    next_year = _card(
        "2028.1", distribution_software=(["model", "tiers", 2, "unit_price"], "13.00")
    )
    next_year.update(effective_from="2028-01-01", effective_to="2028-12-31")
    body = client.post("/api/v1/rate-cards/checks", json=next_year, headers=bearer(admin))
    records = body.get_json()["effect"]["records"]
    assert records == [
        {
            "kind": "renewal",
            "reference": agreement.number,
            "organization": vendor.organization.legal_name,
            "rate_card": "2027.1",
            "now": "33800.00",
            "then": "35300.00",
            "change": "1500.00",
            "why": None,
            "staff_review": False,  # round 42
            "licensee_suspended": False,  # round 47
            # Round 67: no card in effect on January 1, 2028 now: not split.
            "rate_card_in_effect": None,
            "in_effect": None,
            "card_change": None,
            "usage_change": None,
            "usage": ["use 1: as applied for (nothing reported)"],
        }
    ]
    # a card for other days takes none of them
    later = {
        **next_year,
        "version": "2029.1",
        "effective_from": "2029-01-01",
        "effective_to": "2029-12-31",
    }
    body = client.post("/api/v1/rate-cards/checks", json=later, headers=bearer(admin))
    assert body.get_json()["effect"]["count"] == 0


def test_a_check_counts_two_organizations_of_one_legal_name_apart(
    client: FlaskClient, admin: Any, vendor: Any, apply: Any
) -> None:
    # The effect summed its records by legal name, so two organizations that share
    # one (a parent's subsidiaries, say) read as one licensee with both totals.
    namesake = make_vendor(
        db.session(), make_organization(db.session(), legal_name=vendor.organization.legal_name)
    )
    apply(vendor, STAFF_USE)  # 8,000.00 now, 9,600.00 on the correction
    apply(namesake, {**STAFF_USE, "revenue": "40000.00"})  # 5,000.00, the minimum, on both
    correction = _card("2027.2", distribution_data=(["model", "percent"], "12"))
    body = client.post("/api/v1/rate-cards/checks", json=correction, headers=bearer(admin))
    effect = body.get_json()["effect"]
    assert effect["organization_count"] == 2
    assert [
        (row["organization"], row["records"], row["now"]) for row in effect["organizations"]
    ] == [
        (vendor.organization.legal_name, 1, "8000.00"),
        (vendor.organization.legal_name, 1, "5000.00"),
    ]
