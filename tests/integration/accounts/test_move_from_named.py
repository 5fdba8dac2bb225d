"""Round 52: the move of a person names where they act now, a safety check that an
account moved since is not moved on: the API's `expected_organization_id` took an id
alone, and the command had no such check. The API takes `expected_organization`, the
legal name, beside the id (exactly one), and `licensing users move` takes `--from`
(name or id), both found by the destination's own lookup
(`services.organization_by_name`) and refused in its words."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from licensing import db
from licensing.accounts.models import User
from licensing.mail.models import OutboxMessage
from tests.support import factories
from tests.support.factories import bearer

REASON = "Joined Harbor Analytics as a consultant."
TURKISH = "Y\u0131ld\u0131z Sa\u011fl\u0131k A.\u015e."  # two dotless i's


def _move(client: FlaskClient, admin: User, user: User, **body: Any) -> Any:
    return client.post(
        f"/api/v1/users/{user.id}/move", headers=bearer(admin), json={"reason": REASON, **body}
    )


def _command(app: Flask, user: User, *options: str) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(
        args=["users", "move", user.email, *options, "--reason", REASON]
    )
    return result.exit_code, " ".join(result.output.split())


def _organization_of(user: User) -> int | None:
    found = select(User.organization_id).where(User.id == user.id)
    return db.session().scalars(found.execution_options(populate_existing=True)).one()


def _moves_emailed() -> int:
    return db.session().scalar(
        select(func.count()).where(OutboxMessage.template == "account_moved")
    )


def _people(vendor: User) -> tuple[User, int, int]:
    """A colleague at an organization named in Turkish, and a destination."""
    session = db.session()
    here = factories.make_organization(session, legal_name=TURKISH)
    factories.make_vendor(session, organization=here)  # its administrator, who stays
    person = factories.make_vendor(session, organization=here)
    destination = factories.make_organization(session, legal_name="Harbor Analytics LLC")
    return person, here.id, destination.id


def test_the_api_moves_a_person_from_an_organization_it_names(
    client: FlaskClient, vendor: User, admin: User
) -> None:
    person, here, there = _people(vendor)
    moved = _move(
        client, admin, person, organization_id=there, expected_organization="YILDIZ SAĞLIK A.Ş."
    )
    assert moved.status_code == 200, moved.get_json()
    assert moved.get_json()["left_organization_id"] == here
    assert _organization_of(person) == there


def test_the_apis_expected_organization_is_refused_as_the_destination_is(
    app: Flask, client: FlaskClient, vendor: User, admin: User
) -> None:
    person, here, there = _people(vendor)
    factories.make_organization(db.session(), legal_name=TURKISH)
    several = _move(
        client, admin, person, organization_id=there, expected_organization="yildiz sağlik a.ş."
    )
    none = _move(client, admin, person, organization_id=there, expected_organization="Ospreyvale")
    both = _move(
        client,
        admin,
        person,
        organization_id=there,
        expected_organization_id=here,
        expected_organization="Ospreyvale",
    )
    neither = _move(client, admin, person, organization_id=there)
    for refused in (several, none, both, neither):
        assert refused.status_code == 422, refused.get_json()
    [said] = several.get_json()["errors"]["expected_organization"]
    assert said.startswith("2 organizations are named “yildiz sağlik a.ş.”: ")
    assert said.endswith(". Give the id.")
    # The command's very sentence, for --from as for --to.
    code, output = _command(app, person, "--to", str(there), "--from", "yildiz sağlik a.ş.")
    assert code == 2
    assert f"Invalid value for --from: {said}" in output
    assert none.get_json()["errors"] == {
        "expected_organization": [
            "No organization is named “Ospreyvale”, nor has a name containing it. "
            "Give its legal name or its id."
        ]
    }
    assert both.get_json()["errors"] == {
        "expected_organization": [
            "Give expected_organization_id or expected_organization, not both."
        ]
    }
    assert neither.get_json()["errors"] == {
        "expected_organization_id": [
            "Name the organization the account acts for now: expected_organization_id "
            "(its id) or expected_organization (its legal name)."
        ]
    }
    assert _organization_of(person) == here
    assert _moves_emailed() == 0


def test_the_api_refuses_a_move_from_a_named_organization_the_person_left(
    client: FlaskClient, vendor: User, admin: User
) -> None:
    person, here, there = _people(vendor)
    elsewhere = factories.make_organization(db.session(), legal_name="Kestrel Health Software")
    refused = _move(
        client,
        admin,
        person,
        organization_id=there,
        expected_organization="kestrel health software",
    )
    assert refused.status_code == 409, refused.get_json()
    assert refused.get_json()["detail"].startswith(
        f"{person.full_name}'s account acts for organization {here}, not organization "
        f"{elsewhere.id} (expected_organization “kestrel health software”): it was moved "
        "meanwhile"
    )
    assert _organization_of(person) == here
    assert _moves_emailed() == 0


def test_the_command_moves_from_the_organization_from_names_and_refuses_another(
    app: Flask, vendor: User
) -> None:
    person, here, there = _people(vendor)
    elsewhere = factories.make_organization(db.session(), legal_name="Kestrel Health Software")

    code, output = _command(app, person, "--to", str(there), "--from", "KESTREL health software")
    assert code == 1
    assert output.endswith(
        f"Error: {person.full_name}'s account acts for organization {here}, not organization "
        f"{elsewhere.id} (--from): it was moved meanwhile, or --from is wrong. Nothing was "
        "moved."
    )
    assert _organization_of(person) == here
    assert _moves_emailed() == 0

    code, output = _command(
        app, person, "--to", "harbor analytics llc", "--from", "YILDIZ SAĞLIK A.Ş."
    )
    assert code == 0, output
    assert _organization_of(person) == there
    emailed = _moves_emailed()
    # Run again, as a retried script does: the move made is not made twice.
    code, output = _command(app, person, "--to", str(there), "--from", str(here))
    assert code == 1
    assert "already: a move made before went through; nothing was done again." in output
    assert _moves_emailed() == emailed
