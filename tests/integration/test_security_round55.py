"""Round 55's security work (docs/security.md, "Round 55"): a JSON key given twice is
refused wherever a body or a card file is read, and the card commands refuse what is
not a regular file; each on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.errors import RepeatedKey
from licensing.royalties.models import RoyaltyReport
from tests.integration.pricing.conftest import (  # noqa: F401 - the fixture
    example_card,
    example_document,
    quote_body,
)
from tests.integration.royalties.conftest import (
    AFTER,
    SOFTWARE,
    active_agreement,  # noqa: F401 - the fixture
    row,
)
from tests.support import factories
from tests.support.pages import text_of

JSON = {"Content-Type": "application/json"}


def _quote_text(**replaced: str) -> str:
    """A quote body's text with a field's text replaced (`"uses": [...]`), so a key
    can be written twice where a dictionary cannot hold it twice."""
    text = json.dumps(quote_body())
    for old, new in replaced.items():
        assert old in text, (old, text)
        text = text.replace(old, new, 1)
    return text


@pytest.mark.usefixtures("example_card")
def test_a_quote_giving_a_key_twice_is_a_400_naming_it_not_priced_on_the_last(
    client: FlaskClient,
) -> None:
    # The body a proxy or a log reads as 2,500 end users and Python read as 9.
    text = _quote_text(**{'"end_users": 2500': '"end_users": 2500, "end_users": 9'})
    response = client.post("/api/v1/quotes", data=text, headers=JSON)
    assert response.status_code == 400, response.get_data()
    assert response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert problem["title"] == "Bad request"
    assert problem["errors"] == {
        "uses.0.quantity.end_users": [
            'The key "end_users" is given 2 times in one object: give each key once.'
        ]
    }
    assert '"end_users"' in problem["detail"]
    assert "uses.0.quantity.end_users" in problem["detail"]


@pytest.mark.usefixtures("example_card")
def test_a_quote_whose_strings_hold_colons_is_priced_as_before(client: FlaskClient) -> None:
    """The count of keys against the text's colons only decides whether to look again."""
    body = quote_body()
    body["uses"][0]["description"] = 'Product: "Lab: 2" {a: 1}'
    response = client.post("/api/v1/quotes", json=body)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["total"] == "33800.00"


def test_an_application_giving_a_key_twice_is_refused_and_nothing_is_stored(
    client: FlaskClient, vendor: Any
) -> None:
    text = '{"term_start": "2027-01-01", "term_end": "2027-12-31", "term_end": "2099-12-31"}'
    headers = {**factories.bearer(vendor), **JSON}
    response = client.post("/api/v1/applications", data=text, headers=headers)
    assert response.status_code == 400, response.get_data()
    assert list(response.get_json()["errors"]) == ["term_end"]
    listed = client.get("/api/v1/applications", headers=factories.bearer(vendor)).get_json()
    assert listed["items"] == [] if isinstance(listed, dict) else listed == []


def test_the_apps_json_provider_refuses_a_key_given_twice(app: Flask) -> None:
    """What `request.get_json()` reads with (the pay page's card token, the API's
    card routes): the same refusal."""
    with pytest.raises(RepeatedKey, match='"token"'):
        app.json.loads(b'{"token": "tok_a", "token": "tok_b"}')
    assert app.json.loads('{"a": "b:c"}') == {"a": "b:c"}


def _report_url(agreement: Any) -> str:
    return f"/api/v1/agreements/{agreement.id}/royalty-reports/2027-01-01"


def test_a_royalty_report_row_giving_its_quantity_twice_is_refused_and_not_filed(
    client: FlaskClient,
    vendor: Any,
    active_agreement: Any,  # noqa: F811 - the fixture
) -> None:
    """Since round 58 a row's key given twice is one of the rows' problems, a 422
    keyed as the contract keys them (tests/integration/royalties/
    test_refused_without_filing.py), no longer a 400 alone."""
    agreement = active_agreement(vendor, SOFTWARE)
    body = json.dumps(
        {"attest": True, "rows": [row(1, "A", quantity=60), row(1, "B", quantity=40)]}
    )
    text = body.replace('"quantity": 40', '"quantity": 40, "quantity": 4000', 1)
    headers = {**factories.bearer(vendor), **JSON}
    with time_machine.travel(AFTER[1], tick=False):
        response = client.post(_report_url(agreement), data=text, headers=headers)
    assert response.status_code == 422, response.get_data()
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["errors"] == {
        "rows.1.quantity": ['The key "quantity" is given more than once: give each key once.']
    }
    assert db.session().scalars(select(RoyaltyReport)).all() == []


def test_a_royalty_report_whose_names_hold_colons_still_refuses_a_key_given_twice(
    client: FlaskClient,
    vendor: Any,
    active_agreement: Any,  # noqa: F811 - the fixture
) -> None:
    """The colons in strings make the counts differ whether or not a key repeats: the
    colons inside strings, counted exactly, tell the two apart."""
    agreement = active_agreement(vendor, SOFTWARE)
    rows = [row(1, "A:1", quantity=60, customer_name="Clinic: North"), row(1, "B", quantity=40)]
    body = json.dumps({"attest": True, "reason": "Q1: as counted", "rows": rows})
    text = body.replace('"quantity": 40', '"quantity": 40, "quantity": 4000', 1)
    headers = {**factories.bearer(vendor), **JSON}
    with time_machine.travel(AFTER[1], tick=False):
        response = client.post(_report_url(agreement), data=text, headers=headers)
    assert response.status_code == 422, response.get_data()
    assert list(response.get_json()["errors"]) == ["rows.1.quantity"]
    assert db.session().scalars(select(RoyaltyReport)).all() == []


def test_a_royalty_report_giving_attest_twice_is_refused(
    client: FlaskClient,
    vendor: Any,
    active_agreement: Any,  # noqa: F811 - the fixture
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    text = '{"attest": false, "rows": [], "attest": true}'
    headers = {**factories.bearer(vendor), **JSON}
    with time_machine.travel(AFTER[1], tick=False):
        response = client.post(_report_url(agreement), data=text, headers=headers)
    assert response.status_code == 400, response.get_data()
    assert list(response.get_json()["errors"]) == ["attest"]
    assert db.session().scalars(select(RoyaltyReport)).all() == []


def test_a_royalty_report_whose_names_hold_colons_is_filed_as_before(
    client: FlaskClient,
    vendor: Any,
    active_agreement: Any,  # noqa: F811 - the fixture
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    rows = [row(1, "A:1", quantity=60, customer_name="Clinic: North")]
    headers = factories.bearer(vendor)
    with time_machine.travel(AFTER[1], tick=False):
        response = client.post(
            _report_url(agreement), json={"attest": True, "rows": rows}, headers=headers
        )
    assert response.status_code == 201, response.get_json()


def _check(app: Flask, path: Path) -> Any:
    return app.test_cli_runner().invoke(args=["ratecards", "check", str(path)])


@pytest.mark.parametrize(
    ("name", "content", "said"),
    [
        ("card.json", '{"version": "2027.2", "version": "2027.3"}', '"version" is given 2 times'),
        ("card.yaml", "version: '2027.2'\nrules:\n  - id: a\n    id: b\n", '"id" is given twice'),
    ],
)
def test_a_card_file_giving_a_key_twice_is_refused_naming_it(
    app: Flask, tmp_path: Path, name: str, content: str, said: str
) -> None:
    path = tmp_path / name
    path.write_text(content)
    for command in ("check", "import"):
        result = app.test_cli_runner().invoke(args=["ratecards", command, str(path)])
        assert result.exit_code == 1, result.output
        assert said in result.output, result.output


@pytest.mark.usefixtures("example_card")
def test_a_yaml_card_merging_a_mapping_may_still_override_its_keys(
    app: Flask, tmp_path: Path
) -> None:
    """A merge (`<<`) brings keys a mapping may set again: that is YAML, not a repeat."""
    document = example_document()
    document["version"] = "2027.2"
    rule = document["rules"][0]
    text = json.dumps({**document, "rules": [{"<<": {"id": "merged"}, **rule}]}, indent=1)
    path = tmp_path / "card.yaml"
    path.write_text(text.replace('"<<"', "<<"))
    result = _check(app, path)
    assert result.exit_code == 0, result.output


def test_a_card_giving_a_key_twice_uploaded_to_the_check_page_is_refused_on_the_form(
    client: FlaskClient, signed_in: Any, admin: Any
) -> None:
    signed_in(client, admin)
    card = b'{"version": "2027.2", "version": "2027.3"}'
    response = client.post(
        "/console/rate-cards/",
        data={"action": "check", "card": (io.BytesIO(card), "c.json")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422, response.status_code
    assert 'The key "version" is given 2 times in one object' in text_of(response)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("command", ["check", "import"])
def test_a_card_command_given_a_named_pipe_refuses_it_at_once(
    app: Flask, tmp_path: Path, command: str
) -> None:
    """No writer ever comes: opening the pipe for reading used to wait for ever."""
    pipe = tmp_path / "card.json"
    os.mkfifo(pipe)
    result = app.test_cli_runner().invoke(args=["ratecards", command, str(pipe)])
    assert result.exit_code == 1, result.output
    assert "not a regular file" in result.output, result.output


@pytest.mark.timeout(60)
def test_a_card_command_given_a_device_refuses_it(app: Flask) -> None:
    result = _check(app, Path("/dev/zero"))
    assert result.exit_code == 1, result.output
    assert "/dev/zero: not a regular file" in result.output, result.output
