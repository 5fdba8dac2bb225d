"""Round 55: a rate card's words that the agreement prints (its version, its title, a
rule's id and description, a model's unit, an adjustment's id: Schedule A, the royalty
terms and the quote's working) were not checked against the documents' fonts, so a
character no font draws printed as an empty box in every agreement the card priced.
Publishing refuses it as the forms refuse such a name, naming the characters under
the text's path, with the card's other problems; nothing is stored. Everywhere a card
enters: the API, the console's check and publish, `licensing ratecards import` and
`check`. A card stored before is still read."""

from __future__ import annotations

import html
import io
import json
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from licensing import db
from licensing.pricing import parse_rate_card
from licensing.ratecards.models import RateCardRecord
from tests.integration.pricing.conftest import example_document
from tests.support.factories import bearer

PROBLEM = "application/problem+json"
ETHIOPIC = "\u12a0\u1260\u1260"  # invented: no font here draws it
NAMED = "\u12a0 (U+12A0 ETHIOPIC SYLLABLE GLOTTAL A)"
SMILE = "\U0001f642"  # the emoji an older test card's rule description held
SMILE_NAMED = "\U0001f642 (U+1F642 SLIGHTLY SMILING FACE)"
BENGALI = "বাংলা"  # printed since round 55


def _cards() -> int:
    return int(db.session().scalar(select(func.count()).select_from(RateCardRecord)) or 0)


def _unprintable_card(script: str = ETHIOPIC, emoji: str = SMILE) -> dict[str, Any]:
    """The example card with `script` (by default text no font draws) in its title, a
    model's unit and an adjustment's id, and `emoji` in a rule's description."""
    document = example_document()
    document["version"] = "printable.1"
    document["title"] = f"Tarifs {script}"
    document["rules"][0]["description"] = f"Development {emoji}"
    unit_rule = next(rule for rule in document["rules"] if "unit" in rule.get("model", {}))
    unit_rule["model"]["unit"] = f"seats {script}"
    document["adjustments"][0]["id"] = f"academic {script}"
    return document


def _unit_path(document: dict[str, Any]) -> str:
    index = next(i for i, rule in enumerate(document["rules"]) if "unit" in rule.get("model", {}))
    return f"rules.{index}.model.unit"


def test_the_api_refuses_a_card_whose_printed_words_no_font_draws_naming_each(
    client: FlaskClient, admin: Any
) -> None:
    document = _unprintable_card()
    document["currency"] = "XYZ"
    before = _cards()
    refused = client.post("/api/v1/rate-cards", json=document, headers=bearer(admin))
    assert refused.status_code == 422
    assert refused.mimetype == PROBLEM
    errors = refused.get_json()["errors"]
    assert sorted(errors) == sorted(
        ["currency", "title", "rules.0.description", _unit_path(document), "adjustments.0.id"]
    )
    assert errors["title"][0].startswith(f"Our documents cannot print {NAMED} or ")
    assert "would show an empty box" in errors["title"][0]
    assert errors["rules.0.description"][0].startswith(
        f"Our documents cannot print {SMILE_NAMED}: "
    )
    assert _cards() == before


def test_the_same_card_in_a_script_the_documents_print_is_published(
    client: FlaskClient, admin: Any
) -> None:
    document = _unprintable_card(BENGALI, "\U0001f643")  # an emoji DejaVu Sans draws
    before = _cards()
    published = client.post("/api/v1/rate-cards", json=document, headers=bearer(admin))
    assert published.status_code in (200, 201), published.get_json()
    assert _cards() == before + 1
    stored = client.get("/api/v1/rate-cards/printable.1", headers=bearer(admin))
    assert stored.get_json()["title"] == f"Tarifs {BENGALI}"


def test_the_api_dry_run_refuses_it_too(client: FlaskClient, admin: Any) -> None:
    before = _cards()
    checked = client.post(
        "/api/v1/rate-cards/checks", json=_unprintable_card(), headers=bearer(admin)
    )
    assert checked.status_code == 422
    assert checked.get_json()["errors"]["adjustments.0.id"][0].startswith(
        f"Our documents cannot print {NAMED} or "
    )
    assert _cards() == before


def test_the_import_and_check_commands_refuse_it_naming_the_characters(
    app: Flask, tmp_path: Path
) -> None:
    path = tmp_path / "card.json"
    path.write_text(json.dumps(_unprintable_card(), default=str))
    before = _cards()
    for command in ("check", "import"):
        result = app.test_cli_runner().invoke(args=["ratecards", command, str(path)])
        assert result.exit_code != 0, result.output
        assert f"  title: Our documents cannot print {NAMED} or " in result.output, result.output
        assert "U+1F642 SLIGHTLY SMILING FACE" in result.output
    assert _cards() == before


def test_the_rate_cards_page_refuses_it_on_check_and_on_publish(
    client: FlaskClient, signed_in: Any, admin: Any
) -> None:
    signed_in(client, admin)
    body = json.dumps(_unprintable_card(), default=str).encode()
    before = _cards()
    for action in ("check", "publish"):
        refused = client.post(
            "/console/rate-cards/",
            data={"card": (io.BytesIO(body), "card.json"), "action": action},
            content_type="multipart/form-data",
        )
        assert refused.status_code == 422
        page = html.unescape(refused.get_data(as_text=True))
        assert f"Our documents cannot print {NAMED} or " in page
        assert "U+1F642 SLIGHTLY SMILING FACE" in page
    assert _cards() == before


def test_a_card_stored_before_the_check_is_still_read(app: Flask) -> None:
    card = parse_rate_card(_unprintable_card())
    assert card.title == f"Tarifs {ETHIOPIC}"
    assert card.rules[0].description == f"Development {SMILE}"
