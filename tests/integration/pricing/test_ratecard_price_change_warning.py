"""Round 54 (cardcheck54): the rate card owner's check warns of a figure changed more
than `LARGE_CHANGE_RATIO` times over against the card it follows, on the page, the
command line and the API alike. A mistyped 27,500.00 for 2,500.00 passed the check
with only its differences and effect to show it; a warning, not a refusal (a real
tenfold rise is possible), so the card still publishes."""

from __future__ import annotations

import html
import io
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.integration.pricing.conftest import example_document
from tests.support.factories import bearer

SENTENCE = (
    "Rule development's flat fee is 10 times that on 2027.1: {after} on 2028.1, "
    "{before} on 2027.1. Check it is not a slip of a digit."
)


def _mistyped() -> dict[str, Any]:
    """2028.1 drafted from 2027.1 (the invented example), its development fee typed
    with a zero too many, and distribution-print's copy revised from 15.50 to 16.00."""
    document = example_document()
    document.update(version="2028.1", effective_from="2028-01-01", effective_to="2028-12-31")
    rules = {rule["id"]: rule for rule in document["rules"]}
    rules["development"]["model"]["amount"] = "25000.00"
    rules["distribution-print"]["model"]["tiers"][0]["unit_price"] = "16.00"
    return document


def _words(page: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def test_the_checks_api_warns_of_a_fee_ten_times_the_card_it_follows(
    client: FlaskClient, admin: Any, example_card: str
) -> None:
    answer = client.post("/api/v1/rate-cards/checks", json=_mistyped(), headers=bearer(admin))
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["compared_with"]["version"] == "2027.1"
    assert body["price_change_warnings"] == [
        {
            "rule": "development",
            "discount": False,
            "figure": "flat fee",
            "before": "2500.00",
            "after": "25000.00",
            "ratio": "10.00",
            "sentence": SENTENCE.format(after="25000.00 USD", before="2500.00 USD"),
        }
    ]
    # A warning, not a refusal: the card publishes as it is, and publishing says it
    # again (round 55: the check was the only place it was said).
    published = client.post("/api/v1/rate-cards", json=_mistyped(), headers=bearer(admin))
    assert published.get_json()["status"] == "created", published.get_json()
    assert published.get_json()["price_change_warnings"] == body["price_change_warnings"]
    # Checked again once published, it is identical: nothing to compare, nothing to warn.
    again = client.post("/api/v1/rate-cards/checks", json=_mistyped(), headers=bearer(admin))
    assert again.get_json()["price_change_warnings"] == []


def test_the_check_page_warns_of_it_above_the_differences(
    client: FlaskClient, signed_in: Any, admin: Any, example_card: str
) -> None:
    signed_in(client, admin)
    page = client.post(
        "/console/rate-cards/",
        data={
            "card": (io.BytesIO(json.dumps(_mistyped()).encode()), "card.json"),
            "action": "check",
        },
        content_type="multipart/form-data",
    ).get_data(as_text=True)
    assert 'id="price-change-warning"' in page
    assert page.index('id="price-change-warning"') < page.index("<h2>Differences")
    words = _words(page)
    assert "A price changes more than 2 times over from 2027.1: a typed slip?" in words
    assert SENTENCE.format(after="25,000.00 USD", before="2,500.00 USD") in words
    assert "distribution-print's" not in words  # 15.50 to 16.00 is a revision
    assert "can be published as it is if the change is meant" in words


def test_the_check_command_prints_the_differences_and_the_warning_and_stores_nothing(
    app: Flask, example_card: str, tmp_path: Path
) -> None:
    path = tmp_path / "card.json"
    path.write_text(json.dumps(_mistyped()))
    runner = app.test_cli_runner()
    checked = runner.invoke(args=["ratecards", "check", str(path)])
    assert checked.exit_code == 0, checked.output
    lines = checked.output.splitlines()
    assert lines[0] == "Rate card 2028.1 is valid; nothing is published."
    assert "Compared with 2027.1: 5 differences." in lines
    assert f"Warning: {SENTENCE.format(after='25,000.00 USD', before='2,500.00 USD')}" in lines
    listed = runner.invoke(args=["ratecards", "list"])
    assert "2028.1" not in listed.output
    # What publishing would refuse, the check refuses alike.
    document = _mistyped()
    document["currency"] = "usd"
    path.write_text(json.dumps(document))
    refused = runner.invoke(args=["ratecards", "check", str(path)])
    assert refused.exit_code != 0
    assert "currency" in refused.output


def _discounted_and_from_nothing() -> dict[str, Any]:
    """2028.1 with the nonprofit discount typed 100 for 20, a print tier's flat fee
    where 2027.1 had none, and the development fee cut to 1/1000 (2.50 typed)."""
    document = _mistyped()
    rules = {rule["id"]: rule for rule in document["rules"]}
    rules["development"]["model"]["amount"] = "2.50"
    rules["distribution-print"]["model"]["tiers"][0]["flat"] = "500.00"
    document["adjustments"][0]["discount_percent"] = "100"
    return document


def test_publishing_repeats_the_warnings_on_the_page_the_command_line_and_the_audit_log(
    app: Flask, client: FlaskClient, signed_in: Any, admin: Any, example_card: str, tmp_path: Path
) -> None:
    signed_in(client, admin)
    published = client.post(
        "/console/rate-cards/",
        data={"card": (io.BytesIO(json.dumps(_mistyped()).encode()), "card.json")},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    words = _words(published.get_data(as_text=True))
    assert (
        "Rate card 2028.1 changes 1 price more than 2 times over, or from or to nothing: check "
        "it is not a typed slip. " + SENTENCE.format(after="25,000.00 USD", before="2,500.00 USD")
    ) in words
    from licensing import db
    from licensing.audit import queries as audit_queries

    [event] = audit_queries.events_for(db.session(), "rate_card", "2028.1")
    after = json.loads(event.after or "{}")
    assert after["compared_with"] == "2027.1"
    assert after["price_change_warnings"] == [
        SENTENCE.format(after="25,000.00 USD", before="2,500.00 USD")
    ]

    document = _discounted_and_from_nothing()
    document.update(version="2028.2")
    path = tmp_path / "card.json"
    path.write_text(json.dumps(document))
    imported = app.test_cli_runner().invoke(args=["ratecards", "import", str(path)])
    assert imported.exit_code == 0, imported.output
    warned = [line for line in imported.output.splitlines() if line.startswith("Warning: ")]
    assert [line.split("'s ")[0] for line in warned] == [
        "Warning: Rule development",
        "Warning: Rule distribution-print",
        "Warning: Discount nonprofit",
    ]


def test_the_api_gives_no_ratio_from_nothing_a_small_ratio_in_digits_and_the_discount(
    client: FlaskClient, admin: Any, example_card: str
) -> None:
    answer = client.post(
        "/api/v1/rate-cards/checks", json=_discounted_and_from_nothing(), headers=bearer(admin)
    )
    warnings = answer.get_json()["price_change_warnings"]
    assert [(w["rule"], w["discount"], w["figure"], w["ratio"]) for w in warnings] == [
        ("development", False, "flat fee", "0.0010"),  # round 54 said "0.00"
        ("distribution-print", False, "tier flat fee", None),
        ("nonprofit", True, "discount percent", "5.00"),
    ]
    assert (warnings[2]["before"], warnings[2]["after"]) == ("20", "100")


# The office's ratio is 20: the tenfold rise and the fivefold discount are not warned
# of, the thousandfold cut of the development fee and the rise from nothing are.
@pytest.mark.parametrize("config_changes", [{"price_change_ratio": Decimal(20)}])
def test_the_offices_ratio_decides_what_is_warned_of(
    client: FlaskClient, signed_in: Any, admin: Any, example_card: str
) -> None:
    assert (
        client.post(
            "/api/v1/rate-cards/checks", json=_mistyped(), headers=bearer(admin)
        ).get_json()["price_change_warnings"]
        == []
    )
    signed_in(client, admin)
    page = client.post(
        "/console/rate-cards/",
        data={
            "card": (
                io.BytesIO(json.dumps(_discounted_and_from_nothing()).encode()),
                "card.json",
            ),
            "action": "check",
        },
        content_type="multipart/form-data",
    ).get_data(as_text=True)
    words = _words(page)
    assert (
        "2 prices change more than 20 times over, or from or to nothing, from 2027.1: a typed slip?"
    ) in words
    assert "Discount nonprofit" not in words  # 5 times: under the office's 20
