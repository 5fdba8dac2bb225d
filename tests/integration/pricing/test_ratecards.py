"""Publishing rate cards: command line, API and staff pages; published cards never change."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from licensing import access, db
from licensing.ratecards import cli as ratecards_cli
from licensing.ratecards import services
from licensing.ratecards.models import PublishedCardChanged, RateCardRecord
from tests.integration.pricing.conftest import card_document, example_document
from tests.support.factories import bearer

PROBLEM = "application/problem+json"


def stored_versions() -> list[str]:
    return sorted(db.session().scalars(select(RateCardRecord.version)))


def write_card(path: Path, document: dict[str, Any]) -> Path:
    path.write_text(json.dumps(document, default=str))
    return path


def invalid_document() -> dict[str, Any]:
    document = card_document(version="2027.9", currency="XYZ", effective_to="2026-01-01")
    document["rules"][5]["model"]["tiers"] = [{"up_to": None, "unit_price": "-1"}]
    document["rules"][4]["when"] = {"colour": "blue"}
    return document


# --- command line ----------------------------------------------------------------


def test_the_import_command_publishes_a_card_once(app: Flask, tmp_path: Path) -> None:
    path = write_card(tmp_path / "card.json", example_document())
    runner = app.test_cli_runner()
    first = runner.invoke(args=["ratecards", "import", str(path)])
    assert first.exit_code == 0, first.output
    assert "Published rate card 2027.1" in first.output
    again = runner.invoke(args=["ratecards", "import", str(path)])
    assert again.exit_code == 0
    assert "unchanged" in again.output
    assert stored_versions() == ["2027.1"]


def test_the_import_command_refuses_a_changed_card_under_an_existing_version(
    app: Flask, tmp_path: Path
) -> None:
    runner = app.test_cli_runner()
    runner.invoke(
        args=["ratecards", "import", str(write_card(tmp_path / "a.json", example_document()))]
    )
    changed = card_document()
    changed["rules"][2]["model"]["amount"] = "2600.00"
    result = runner.invoke(
        args=["ratecards", "import", str(write_card(tmp_path / "b.json", changed))]
    )
    assert result.exit_code != 0
    assert "already published with different content" in result.output
    stored = db.session().scalars(select(RateCardRecord)).one()
    assert '"2500.00"' in stored.document or '"2500"' in stored.document


def test_the_import_command_lists_every_problem_and_stores_nothing(
    app: Flask, tmp_path: Path
) -> None:
    result = app.test_cli_runner().invoke(
        args=["ratecards", "import", str(write_card(tmp_path / "bad.json", invalid_document()))]
    )
    assert result.exit_code != 0
    for path in (
        "currency",
        "effective_to",
        "rules.5.model.tiers.0.unit_price",
        "rules.4.when.colour",
    ):
        assert path in result.output, result.output
    assert stored_versions() == []


def test_the_import_command_reads_yaml_with_exact_decimals(app: Flask, tmp_path: Path) -> None:
    document = json.loads(json.dumps(example_document(), default=str))
    document["rules"][2]["model"]["amount"] = "AMOUNT"
    path = tmp_path / "card.yaml"
    # An unquoted YAML float: a binary float would read back as 2500.0999999...
    path.write_text(yaml.safe_dump(document).replace("amount: AMOUNT", "amount: 2500.10"))
    result = app.test_cli_runner().invoke(args=["ratecards", "import", str(path)])
    assert result.exit_code == 0, result.output
    stored = db.session().scalars(select(RateCardRecord)).one()
    assert json.loads(stored.document)["rules"][2]["model"]["amount"] == "2500.10"


def test_an_unreadable_file_is_refused_with_a_message(app: Flask, tmp_path: Path) -> None:
    path = tmp_path / "card.json"
    path.write_text("{ not json")
    result = app.test_cli_runner().invoke(args=["ratecards", "import", str(path)])
    assert result.exit_code != 0
    assert "not a readable JSON or YAML document" in result.output


def test_setup_loads_the_sample_cards_once(app: Flask) -> None:
    first = ratecards_cli.load_samples()
    assert "published 2026.1, 2027.1" in first
    assert "already published 2026.1, 2027.1" in ratecards_cli.load_samples()
    assert stored_versions() == ["2026.1", "2027.1"]


def test_the_shipped_2027_sample_is_the_contract_example(app: Flask) -> None:
    """So that importing the contract's example over a fresh install is a no-op."""
    ratecards_cli.load_samples()
    result = services.import_card(example_document(), published_by="tests")
    assert result.created is False


def test_a_published_card_cannot_be_changed_or_deleted_through_the_orm(app: Flask) -> None:
    services.import_card(example_document(), published_by="tests")
    session = db.session()
    stored = session.scalars(select(RateCardRecord)).one()
    stored.title = "changed"
    with pytest.raises(PublishedCardChanged):
        session.flush()
    session.rollback()
    session.delete(session.scalars(select(RateCardRecord)).one())
    with pytest.raises(PublishedCardChanged):
        session.flush()
    session.rollback()


# --- API -----------------------------------------------------------------------


def test_an_admin_publishes_a_card_through_the_api(client: FlaskClient, admin: Any) -> None:
    response = client.post("/api/v1/rate-cards", json=example_document(), headers=bearer(admin))
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["status"] == "created"
    assert body["rate_card"]["version"] == "2027.1"
    again = client.post("/api/v1/rate-cards", json=example_document(), headers=bearer(admin))
    assert again.get_json()["status"] == "unchanged"


def test_the_api_refuses_a_changed_card_with_409(client: FlaskClient, admin: Any) -> None:
    client.post("/api/v1/rate-cards", json=example_document(), headers=bearer(admin))
    response = client.post(
        "/api/v1/rate-cards", json=card_document(title="Another title"), headers=bearer(admin)
    )
    assert response.status_code == 409
    assert response.mimetype == PROBLEM


def test_the_api_lists_every_problem_of_an_invalid_card_and_stores_nothing(
    client: FlaskClient, admin: Any
) -> None:
    response = client.post("/api/v1/rate-cards", json=invalid_document(), headers=bearer(admin))
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert {
        "currency",
        "effective_to",
        "rules.5.model.tiers.0.unit_price",
        "rules.4.when.colour",
    } <= set(errors)
    assert stored_versions() == []


def test_only_admins_may_publish(client: FlaskClient, licensing_staff: Any, vendor: Any) -> None:
    anonymous = client.post("/api/v1/rate-cards", json=example_document())
    assert anonymous.status_code == 401
    for user in (licensing_staff, vendor):
        response = client.post("/api/v1/rate-cards", json=example_document(), headers=bearer(user))
        assert response.status_code == 403
    assert stored_versions() == []


def test_anyone_can_read_the_published_cards(client: FlaskClient, example_card: str) -> None:
    listing = client.get("/api/v1/rate-cards").get_json()
    assert [card["version"] for card in listing] == ["2027.1"]
    detail = client.get("/api/v1/rate-cards/2027.1").get_json()
    assert detail["document"]["version"] == "2027.1"
    words = {rule["id"]: rule["in_plain_words"] for rule in detail["rules"]}
    assert "18.50" in words["distribution-software"]
    assert client.get("/api/v1/rate-cards/1999.1").status_code == 404


def test_publishing_is_written_to_the_audit_log(app: Flask) -> None:
    from licensing.audit.models import AuditEvent

    services.import_card(example_document(), published_by="tests")
    events = (
        db.session().scalars(select(AuditEvent).where(AuditEvent.entity_type == "rate_card")).all()
    )
    assert [(e.action, e.entity_id) for e in events] == [("rate_card.published", "2027.1")]


# --- staff pages -------------------------------------------------------------------


def test_staff_read_rules_in_plain_words_and_compare_versions(
    client: FlaskClient, signed_in: Any, licensing_staff: Any
) -> None:
    ratecards_cli.load_samples()
    signed_in(client, licensing_staff)
    listing = client.get("/console/rate-cards/").get_data(as_text=True)
    assert "2026.1" in listing
    assert "2027.1" in listing
    assert "Publish a rate card" not in listing  # admins only
    detail = client.get("/console/rate-cards/2027.1").get_data(as_text=True)
    assert "distribution-software" in detail
    assert "18.50" in detail
    compare = client.get("/console/rate-cards/compare?old=2026.1&new=2027.1").get_data(as_text=True)
    assert "distribution-software" in compare


def test_an_admin_publishes_from_the_page_and_sees_every_problem(
    client: FlaskClient, signed_in: Any, admin: Any
) -> None:
    signed_in(client, admin)
    bad = client.post(
        "/console/rate-cards/",
        data={"card": (io.BytesIO(json.dumps(invalid_document()).encode()), "bad.json")},
        content_type="multipart/form-data",
    )
    assert bad.status_code == 422
    page = bad.get_data(as_text=True)
    assert "rules.5.model.tiers.0.unit_price" in page
    good = client.post(
        "/console/rate-cards/",
        data={"card": (io.BytesIO(json.dumps(example_document(), default=str).encode()), "c.json")},
        content_type="multipart/form-data",
    )
    assert good.status_code == 302
    assert stored_versions() == ["2027.1"]


def test_vendors_cannot_see_the_staff_rate_card_pages(
    client: FlaskClient, signed_in: Any, vendor: Any
) -> None:
    signed_in(client, vendor)
    assert client.get("/console/rate-cards/").status_code == 403


def test_the_count_of_cards_is_unchanged_by_a_refused_import(app: Flask) -> None:
    services.import_card(example_document(), published_by="tests")
    with pytest.raises(Exception, match="different content"):
        services.import_card(card_document(title="x"), published_by="tests")
    assert db.session().scalar(select(func.count()).select_from(RateCardRecord)) == 1


def test_a_version_or_title_longer_than_is_stored_is_a_problem_of_the_card(
    client: FlaskClient, admin: Any
) -> None:
    # A 301-character title or a 65-character version checked, then failed to
    # publish on PostgreSQL with a 500 (the columns hold 300 and 64).
    long = card_document(version="v" * 65, title="t" * 301)
    for path in ("/api/v1/rate-cards/checks", "/api/v1/rate-cards"):
        response = client.post(path, json=long, headers=bearer(admin))
        assert response.status_code == 422
        assert response.get_json()["errors"] == {
            "version": ["must be at most 64 characters; it has 65"],
            "title": ["must be at most 300 characters; it has 301"],
        }
    assert stored_versions() == []
    fits = card_document(version="v" * 64, title="t" * 300)
    assert client.post("/api/v1/rate-cards", json=fits, headers=bearer(admin)).status_code == 200
    assert stored_versions() == ["v" * 64]


def test_the_api_guide_lists_every_rate_card_endpoint_with_who_may_call_it(app: Flask) -> None:
    """docs/api.md's table, read against the routes' own declarations: a route added,
    or its access changed, without the table fails here."""
    guide = (Path(__file__).parents[3] / "docs" / "api.md").read_text(encoding="utf-8")
    rows = {
        match[1]: match[2]
        for match in re.finditer(
            r"^\| `([A-Z]+ /api/v1/rate-cards[^`]*)` \|.*\| ([^|]+) \|$", guide, re.M
        )
    }
    routes = [
        rule for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/v1/rate-cards")
    ]
    assert routes
    for rule in routes:
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
        declaration = access.declaration_for(app, rule.endpoint)
        assert declaration is not None
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            who = rows.pop(f"{method} {path}")
            assert who.startswith(declaration.describe()), (method, path, who)
            reads = method == "GET" or declaration.stores_nothing
            assert ("a read-only token may" in who) == reads, (method, path, who)
    assert not rows, f"the guide lists routes that do not exist: {sorted(rows)}"
