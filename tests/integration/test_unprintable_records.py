"""Round 55: text stored before the forms refused characters no document's font draws
still prints as empty boxes, and nothing found it. `licensing records unprintable`
lists each such field (kind, record, organization, field, the characters), read
only, record by record, a run at most `--limit` records and saying where the next
starts."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from licensing import db
from licensing.accounts.models import Organization, User
from licensing.agreements.models import ApplicationUse
from licensing.permissions.models import PermissionRequest
from licensing.ratecards.models import RateCardRecord
from tests.integration.agreements.conftest import AUTO_USE
from tests.integration.permissions.conftest import request_fields
from tests.integration.pricing.conftest import example_card  # noqa: F401 - the fixture
from tests.support.factories import bearer

ETHIOPIC = "\u12a0\u1260"  # invented: no font here draws it
NAMED = "\u12a0 (U+12A0 ETHIOPIC SYLLABLE GLOTTAL A), \u1260 (U+1260 ETHIOPIC SYLLABLE BA)"
SMILE = "\U0001f642"
SMILE_NAMED = "\U0001f642 (U+1F642 SLIGHTLY SMILING FACE)"


def _run(app: Flask, *args: str) -> Any:
    return app.test_cli_runner().invoke(args=["records", "unprintable", *args])


def _stored_before_round_55(client: FlaskClient, vendor: User) -> dict[str, int]:
    """Records made through the API, then given text the checks now refuse, as if
    typed before them; their ids by kind."""
    body = {"term_start": "2027-01-01", "term_end": "2027-12-31", "uses": [AUTO_USE]}
    assert client.post("/api/v1/applications", json=body, headers=bearer(vendor)).status_code == 201
    request = {**request_fields(), "audience_size": 45, "noncommercial": True}
    assert client.post("/api/v1/permission-requests", json=request).status_code == 201
    session = db.session()
    organization = session.get(Organization, vendor.organization_id)
    assert organization is not None
    organization.city = ETHIOPIC
    user = session.get(User, vendor.id)
    assert user is not None
    user.full_name = f"Dana {ETHIOPIC}"
    use = session.scalars(select(ApplicationUse)).one()
    use.description = f"Scrubber {SMILE}"
    permission = session.scalars(select(PermissionRequest)).one()
    permission.institution = ETHIOPIC
    card = session.scalars(select(RateCardRecord)).one()
    document = json.loads(card.document)
    document["rules"][0]["description"] = f"Development {SMILE}"
    session.commit()
    # Below the model, which refuses to change a published card: a card of before.
    changed = update(RateCardRecord).where(RateCardRecord.id == card.id)
    session.execute(changed.values(document=json.dumps(document)))
    session.commit()
    return {
        "organization": organization.id,
        "user": user.id,
        "application_use": use.id,
        "permission_request": permission.id,
        "rate_card": card.id,
    }


@pytest.mark.usefixtures("example_card")
def test_every_kind_of_record_with_text_no_font_draws_is_listed_with_its_characters(
    app: Flask, client: FlaskClient, vendor: User
) -> None:
    ids = _stored_before_round_55(client, vendor)
    organization = vendor.organization_id
    result = _run(app)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "kind\trecord\torganization\tfield\tcharacters"
    assert lines[1:] == [
        f"organization\t{ids['organization']}\t{organization}\tcity\t{NAMED}",
        f"user\t{ids['user']}\t{organization}\tfull_name\t{NAMED}",
        f"application_use\t{ids['application_use']}\t{organization}\tdescription\t{SMILE_NAMED}",
        f"permission_request\t{ids['permission_request']}\t-\tinstitution\t{NAMED}",
        f"rate_card\t{ids['rate_card']}\t-\trules.0.description\t{SMILE_NAMED}",
        "5 found.",
    ]


@pytest.mark.usefixtures("example_card")
def test_a_run_stops_at_its_limit_and_says_where_the_next_starts(
    app: Flask, client: FlaskClient, vendor: User
) -> None:
    ids = _stored_before_round_55(client, vendor)
    first = _run(app, "--limit", "2")
    assert first.exit_code == 0, first.output
    *listed, more = first.output.splitlines()[1:]
    assert [line.split("\t")[0] for line in listed] == ["organization", "user"]
    assert more == f"More: licensing records unprintable --after user:{ids['user']}"
    second = _run(app, "--after", f"user:{ids['user']}")
    assert [line.split("\t")[0] for line in second.output.splitlines()[1:-1]] == [
        "application_use",
        "permission_request",
        "rate_card",
    ]


def test_a_database_whose_text_all_prints_says_so(app: Flask, vendor: User) -> None:
    result = _run(app)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == "None found: every stored text prints."


def test_a_start_that_names_no_kind_is_a_usage_error(app: Flask) -> None:
    result = _run(app, "--after", "invoice:3")
    assert result.exit_code == 2
    assert "organization, user, application_use, permission_request, rate_card" in result.output
