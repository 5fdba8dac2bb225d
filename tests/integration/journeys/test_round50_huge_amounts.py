"""Round 50: amounts too large to store. An amount computed from a vendor's input
(a quantity times a unit price, a share of a revenue, a sum of lines) beyond the
money columns (NUMERIC(18, 4): `licensing.money.MAX_AMOUNT`) is refused with a 4xx
naming the line, at the first step that computes it, and nothing is stored; it was
a 500 (PostgreSQL's DataError, SQLite's OverflowError) or, on SQLite below about
9.2e14, stored where PostgreSQL would refuse it."""

from __future__ import annotations

import copy
import re
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from licensing import db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import services as agreements
from licensing.agreements.models import Application, QuoteVersion
from licensing.billing.models import Invoice
from licensing.db import Money
from licensing.money import MAX_AMOUNT, largest_amount
from licensing.pricing import RateCardInvalid, parse_rate_card
from licensing.ratecards import services as ratecards
from licensing.ratecards.models import RateCardRecord
from licensing.royalties.models import RoyaltyReport, RoyaltyReportLine, RoyaltyReportRow
from tests.integration.agreements.conftest import (  # noqa: F401 - `apply` is a fixture
    AUTO_USE,
    NOW,
    STAFF_USE,
    apply,
)
from tests.integration.pricing.conftest import (  # noqa: F401 - `example_card` is a fixture
    development_estimate,
    example_card,
    example_document,
    quote_body,
)
from tests.integration.royalties.conftest import AFTER, period_url, row, typed
from tests.support import factories
from tests.support.agreements import make_active_agreement
from tests.support.pages import text_of

# Beyond 1,000 end users each costs 100,000,000.00 USD on this card: the contract's
# 2,500 end users come to 150,000,015,800.00, which is stored; 10,000,000 come to
# 999,900,000,015,800.00 (999.9 trillion), beyond the largest amount, 99,999,999,999,999.99.
HUGE_PRICE = "100000000.00"
BEYOND = 10_000_000
LARGEST = "99,999,999,999,999.99 USD"
PROBLEM = "application/problem+json"


def huge_document() -> dict[str, Any]:
    document = copy.deepcopy(example_document())
    for rule in document["rules"]:
        if rule["id"] == "distribution-software":
            rule["model"]["tiers"][-1]["unit_price"] = HUGE_PRICE
    return document


@pytest.fixture
def huge_card(app: Flask) -> str:
    """The contract's example card (2027.1) with a huge price per end user beyond 1,000."""
    return ratecards.import_card(huge_document(), published_by="tests").version


def counted(model: Any) -> int:
    return int(db.session().scalar(select(func.count()).select_from(model)) or 0)


def test_the_largest_amount_is_the_money_columns_and_nothing_beyond_it_is_bound() -> None:
    assert Decimal("99999999999999.9999") == MAX_AMOUNT
    assert str(largest_amount("USD")) == "99999999999999.99"
    assert str(largest_amount("JPY")) == "99999999999999"
    money = Money()
    for dialect in ("sqlite", "postgresql"):
        fake = type("Dialect", (), {"name": dialect})()
        assert money.process_bind_param(MAX_AMOUNT, fake) is not None
        with pytest.raises(ValueError, match="largest amount"):
            # SQLite used to store it (scaled, below 2**63), PostgreSQL to refuse it.
            money.process_bind_param(MAX_AMOUNT + Decimal("0.0001"), fake)


# --- Royalty reports: the amount to date ---------------------------------------------


@pytest.mark.usefixtures("huge_card")
def test_a_royalty_report_whose_amount_to_date_is_too_large_is_a_422_naming_the_line(
    client: FlaskClient, vendor: Any, licensing_staff: Any
) -> None:
    agreement = make_active_agreement(vendor, licensing_staff, AUTO_USE, now=NOW)
    invoices = counted(Invoice)
    url = f"/api/v1/agreements/{agreement.id}/royalty-reports/2027-01-01"
    body = {"attest": True, "rows": [row(1, "A", quantity=BEYOND)]}
    with time_machine.travel(AFTER[1], tick=False):
        for tail in ("/preview", ""):
            refused = client.post(url + tail, json=body, headers=factories.bearer(vendor))
            assert refused.status_code == 422, refused.get_data(as_text=True)[:400]
            assert refused.mimetype == PROBLEM
            message = refused.get_json()["errors"]["rows"][0]
            assert message == (
                "Line 1: the amount to date 999,900,000,015,800.00 USD exceeds the largest "
                f"amount the office can record and invoice, {LARGEST}."
            )
    assert counted(RoyaltyReport) == counted(RoyaltyReportRow) == 0
    assert counted(RoyaltyReportLine) == 0
    assert counted(Invoice) == invoices


@pytest.mark.usefixtures("huge_card")
def test_the_period_page_tells_a_too_large_royalty_beside_the_rows_and_stores_nothing(
    client: FlaskClient, signed_in: Any, vendor: Any, licensing_staff: Any
) -> None:
    agreement = make_active_agreement(vendor, licensing_staff, AUTO_USE, now=NOW)
    rows = typed(row(1, "A", quantity=BEYOND))
    with time_machine.travel(AFTER[1], tick=False):
        signed_in(client, vendor)
        for action in ("preview", "submit"):
            refused = client.post(
                period_url(agreement, 1),
                data={"mode": "form", "action": action, "attest": "yes", **rows},
            )
            assert refused.status_code == 422, action
            text = re.sub(r"\s+", " ", text_of(refused))
            assert "exceeds the largest amount the office can record and invoice" in text
            assert LARGEST in text
    assert counted(RoyaltyReport) == 0


# --- Applications: the estimate, the submission, the approval ------------------------

BEYOND_USE = {**AUTO_USE, "quantity": {"end_users": BEYOND}}
TERM = {"term_start": "2027-01-01", "term_end": "2027-12-31"}


@pytest.mark.usefixtures("huge_card")
def test_the_quote_api_still_says_a_price_too_large_to_invoice(client: FlaskClient) -> None:
    body = quote_body()
    body["uses"][0]["quantity"] = {"end_users": BEYOND}
    answer = client.post("/api/v1/quotes", json=body)
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["total"] == "999900000015800.00"


@pytest.mark.usefixtures("huge_card")
def test_the_estimator_says_a_price_too_large_to_invoice_cannot_be_applied_for(
    client: FlaskClient,
) -> None:
    estimate = development_estimate(
        term_start="2027-01-01",
        term_end="2027-12-31",
        **{
            "uses-0-use": "distribution",
            "uses-0-product_type": "saas",
            "uses-0-quantity-end_users": str(BEYOND),
        },
    )
    page = client.get("/estimate", query_string=estimate)
    assert page.status_code == 200
    text = " ".join(text_of(page).split())
    assert "Estimated total: 999,900,000,015,800.00 USD" in text
    assert (
        "This price cannot be invoiced: the total 999,900,000,015,800.00 USD exceeds the "
        f"largest amount the office can record and invoice, {LARGEST}. An application with "
        "these uses cannot be submitted"
    ) in text
    within = client.get("/estimate", query_string={**estimate, "uses-0-quantity-end_users": "2500"})
    assert "cannot be invoiced" not in text_of(within)


@pytest.mark.usefixtures("huge_card")
def test_an_application_quoted_beyond_the_largest_amount_is_refused_naming_the_use(
    client: FlaskClient, vendor: Any
) -> None:
    headers = factories.bearer(vendor)
    created = client.post(
        "/api/v1/applications", json={**TERM, "uses": [AUTO_USE, BEYOND_USE]}, headers=headers
    )
    assert created.status_code == 201, created.get_json()
    application_id = created.get_json()["id"]
    submitted = client.post(
        f"/api/v1/applications/{application_id}/submit", json={"attest": True}, headers=headers
    )
    assert submitted.status_code == 422, submitted.get_json()
    assert submitted.mimetype == PROBLEM
    assert submitted.get_json()["errors"] == {
        "uses.1": [
            "Use 2 (Scrubber Pro): the quoted amount 999,900,000,015,800.00 USD exceeds the "
            f"largest amount the office can record and invoice, {LARGEST}; check its "
            "quantities and revenue."
        ]
    }
    assert counted(QuoteVersion) == 0
    application = db.session().get(Application, application_id)
    assert application is not None
    assert application.state == "draft"
    assert application.total is None


@pytest.mark.usefixtures("huge_card")
def test_the_application_page_says_the_estimate_cannot_be_invoiced_and_submitting_is_refused(
    client: FlaskClient, signed_in: Any, vendor: Any
) -> None:
    draft = agreements.ApplicationDraft.from_fields(
        {"term_start": date(2027, 1, 1), "term_end": date(2027, 12, 31), "uses": [BEYOND_USE]}
    )
    application = agreements.create_draft(Actor.of(accounts.principal_for(vendor)), draft, now=NOW)
    signed_in(client, vendor)
    page = client.get(f"/portal/applications/{application.id}")
    assert page.status_code == 200
    text = re.sub(r"\s+", " ", text_of(page))
    assert (
        "Too large to invoice Use 1 (Scrubber Pro): the quoted amount 999,900,000,015,800.00 "
        f"USD exceeds the largest amount the office can record and invoice, {LARGEST}; check "
        "its quantities and revenue. It cannot be submitted as it is: change the application"
    ) in text, text
    assert "Not priced yet" not in text
    refused = client.post(f"/portal/applications/{application.id}/submit", data={"attest": "yes"})
    assert refused.status_code == 422
    assert "exceeds the largest amount the office can record and invoice" in text_of(refused)
    assert counted(QuoteVersion) == 0


def test_an_approval_whose_modified_amounts_add_up_beyond_the_largest_is_refused(
    apply: Any,  # noqa: F811
    client: FlaskClient,
    vendor: Any,
    licensing_staff: Any,
    signed_in: Any,
) -> None:
    application = apply(vendor, STAFF_USE, {**STAFF_USE, "product_name": "Second Feed"})
    reviewer = Actor.of(accounts.principal_for(licensing_staff))
    agreements.start_review(application.id, reviewer, now=NOW)
    each = "90000000000000.00"  # within an amount's bounds; the two together are not
    answer = client.post(
        f"/api/v1/applications/{application.id}/approve",
        json={
            "lines": [
                {"line": 0, "amount": each, "reason": "Agreed"},
                {"line": 1, "amount": each, "reason": "Agreed"},
            ]
        },
        headers=factories.bearer(licensing_staff),
    )
    assert answer.status_code == 422, answer.get_json()
    assert answer.get_json()["errors"]["lines"] == [
        "With these amounts the total 180,000,000,000,000.00 USD exceeds the largest amount "
        f"the office can record and invoice, {LARGEST}; lower the amounts."
    ]
    signed_in(client, licensing_staff)
    refused = client.post(
        f"/console/applications/{application.id}/approve",
        data={"amount-0": each, "reason-0": "Agreed", "amount-1": each, "reason-1": "Agreed"},
    )
    assert refused.status_code == 422
    assert "180,000,000,000,000.00 USD exceeds the largest amount" in text_of(refused)
    db.session().expire_all()
    stored = db.session().get(Application, application.id)
    assert stored is not None
    assert stored.state == "in_review"
    assert counted(QuoteVersion) == 1  # the submitted quote only


# --- Rate cards: a rule nothing could be applied for under --------------------------

ENTITY_FEE = {"type": "flat", "amount": "70000000000000.00", "prorate": False}


def unrecordable_document(**rule: Any) -> dict[str, Any]:
    """The example card with internal use charged two entity fees of 70 trillion USD,
    not prorated: 140,000,000,000,000.00 whatever the term and usage, 112 trillion after
    the card's 20% discount for non-profits."""
    document = copy.deepcopy(example_document())
    for each in document["rules"]:
        if each["id"] == "internal-use":
            each["model"] = {"type": "sum", "parts": [ENTITY_FEE, ENTITY_FEE]}
            each.update(rule)
    return document


def test_a_card_with_a_rule_no_use_could_be_recorded_under_is_refused_at_publishing(
    client: FlaskClient, admin: Any
) -> None:
    headers = factories.bearer(admin)
    for path in ("/api/v1/rate-cards/checks", "/api/v1/rate-cards"):
        refused = client.post(path, json=unrecordable_document(), headers=headers)
        assert refused.status_code == 422, refused.get_json()
        assert refused.get_json()["errors"] == {
            "rules.3.model": [
                "its fees that are not prorated come to 112,000,000,000,000.00 USD at the least "
                "after the largest discount its uses get (20%, nonprofit), whatever the term "
                "and usage: more "
                f"than the largest amount the office can record and invoice, {LARGEST}, so "
                "no use it prices could be applied for"
            ]
        }
    assert counted(RateCardRecord) == 0


def test_a_rule_that_a_maximum_or_a_discount_brings_within_the_largest_is_published(
    client: FlaskClient, admin: Any
) -> None:
    headers = factories.bearer(admin)
    capped = unrecordable_document(maximum="1000000.00")
    assert client.post("/api/v1/rate-cards/checks", json=capped, headers=headers).status_code == 200
    document = unrecordable_document()
    document["adjustments"][0]["discount_percent"] = "50"  # 70 trillion at the least
    answer = client.post("/api/v1/rate-cards/checks", json=document, headers=headers)
    assert answer.status_code == 200, answer.get_json()


def test_a_card_published_before_the_check_is_still_read() -> None:
    # Stored cards are parsed again as they are read: refusing there would stop every
    # quote on a card published before round 50.
    assert parse_rate_card(unrecordable_document()).version == "2027.1"
    with pytest.raises(RateCardInvalid):
        parse_rate_card(unrecordable_document(), publishing=True)
