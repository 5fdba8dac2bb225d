"""Round 51: publishing refuses a rule no use could be recorded under with the
contract's discounts. Round 50 took the card's largest discount for every rule, so a
card whose largest discount applies to none of a rule's uses was published although
every use it prices is beyond the largest amount (and a rule that prices no use at all
was refused for its fees). The check's API, publishing's API and `licensing ratecards
import` read the same check (`ratecards.services.validate`)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from licensing import db
from licensing.ratecards.models import RateCardRecord
from tests.integration.pricing.conftest import example_document
from tests.support.factories import bearer

ENTITY_FEE = {"type": "flat", "amount": "70000000000000.00", "prorate": False}
LARGEST = "99,999,999,999,999.99 USD"


def entity_fee_document(*adjustments: dict[str, Any]) -> dict[str, Any]:
    """The example card (2027.1) with internal use charged two entity fees of 70
    trillion USD, not prorated, and `adjustments` after its own (non-profits and
    academics 20%, government 10%)."""
    document = copy.deepcopy(example_document())
    for rule in document["rules"]:
        if rule["id"] == "internal-use":
            rule["model"] = {"type": "sum", "parts": [ENTITY_FEE, ENTITY_FEE]}
    document["adjustments"].extend(adjustments)
    return document


# 50% for education, a use the internal-use rule never prices: round 50 counted it and
# published the card, whose every internal use is 112 trillion USD at the least.
CLASSROOM = {"id": "classroom", "when": {"use": "education"}, "discount_percent": "50"}
# 50% for academic organizations, whose uses all meet the 20% for non-profits first.
ACADEMIC = {"id": "academic", "when": {"organization_type": "academic"}, "discount_percent": "50"}
REFUSAL = (
    "its fees that are not prorated come to 112,000,000,000,000.00 USD at the least after "
    "the largest discount its uses get (20%, nonprofit), whatever the term and usage: more "
    f"than the largest amount the office can record and invoice, {LARGEST}, so no use it "
    "prices could be applied for"
)


def cards() -> int:
    return int(db.session().scalar(select(func.count()).select_from(RateCardRecord)) or 0)


def test_a_discount_no_use_of_the_rule_gets_no_longer_lets_the_card_publish_through_the_api(
    client: FlaskClient, admin: Any
) -> None:
    headers = bearer(admin)
    for discount in (CLASSROOM, ACADEMIC):
        document = entity_fee_document(discount)
        for path in ("/api/v1/rate-cards/checks", "/api/v1/rate-cards"):
            refused = client.post(path, json=document, headers=headers)
            assert refused.status_code == 422, refused.get_json()
            assert refused.get_json()["errors"] == {"rules.3.model": [REFUSAL]}
    assert cards() == 0


def test_the_import_command_refuses_it_too_and_publishes_once_a_discount_applies(
    app: Flask, client: FlaskClient, admin: Any, tmp_path: Path
) -> None:
    path = tmp_path / "card.json"
    path.write_text(json.dumps(entity_fee_document(CLASSROOM)))
    runner = app.test_cli_runner()
    result = runner.invoke(args=["ratecards", "import", str(path)])
    assert result.exit_code != 0
    assert f"rules.3.model: {REFUSAL}" in result.output, result.output
    assert cards() == 0
    # Half off non-profits' internal use: they pay 70 trillion, which can be recorded.
    within = {
        "id": "nonprofit-internal",
        "when": {"use": "internal_use", "organization_type": "nonprofit"},
        "discount_percent": "50",
    }
    document = entity_fee_document()
    document["adjustments"].insert(0, within)
    path.write_text(json.dumps(document))
    published = runner.invoke(args=["ratecards", "import", str(path)])
    assert published.exit_code == 0, published.output
    assert cards() == 1
    quote = {
        "organization_type": "nonprofit",
        "term": {"start": "2027-01-01", "end": "2027-12-31"},
        "uses": [{"use": "internal_use", "product_type": "software", "user_type": "internal"}],
    }
    answer = client.post("/api/v1/quotes", json=quote)
    assert answer.get_json()["total"] == "70000000000000.00", answer.get_json()


def test_a_rule_no_use_reaches_publishes_whatever_its_fees(client: FlaskClient, admin: Any) -> None:
    # Every internal use meets the first rule: the entity fees after it price nothing.
    document = entity_fee_document()
    huge = next(rule for rule in document["rules"] if rule["id"] == "internal-use")
    document["rules"].insert(
        0,
        {
            **copy.deepcopy(huge),
            "id": "internal-first",
            "model": {"type": "flat", "amount": "5000.00"},
        },
    )
    answer = client.post("/api/v1/rate-cards", json=document, headers=bearer(admin))
    assert (answer.status_code, answer.get_json()["status"]) == (200, "created")
