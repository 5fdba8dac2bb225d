"""Round 51: `licensing users move --to` and `licensing exports --organization` take an
organization's legal name (round 50); the API's move and export filter took ids only,
and staff scripts call the API. The move takes `organization` (the legal name) beside
`organization_id`, the exports `organization_name` beside `organization`, exactly one
of each pair, found by the command's own lookup (`services.organization_by_name`) and
refused in its words, as problem+json."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from licensing import db
from licensing.accounts import services
from licensing.accounts.models import User
from licensing.errors import InvalidInput
from licensing.mail.models import OutboxMessage
from tests.support import factories
from tests.support.factories import bearer

REASON = "Joined Harbor Analytics as a consultant."
PROBLEM = "application/problem+json"


def _move(client: FlaskClient, admin: User, user: User, **destination: Any) -> Any:
    return client.post(
        f"/api/v1/users/{user.id}/move",
        headers=bearer(admin),
        json={**destination, "reason": REASON, "expected_organization_id": user.organization_id},
    )


def _organization_of(user: User) -> int | None:
    found = select(User.organization_id).where(User.id == user.id)
    return db.session().scalars(found.execution_options(populate_existing=True)).one()


def _moves_emailed() -> int:
    return db.session().scalar(
        select(func.count()).where(OutboxMessage.template == "account_moved")
    )


def _cli_refusal(app: Flask, user: User, to: str) -> str:
    result = app.test_cli_runner().invoke(
        args=["users", "move", user.email, "--to", to, "--reason", REASON]
    )
    assert result.exit_code == 2
    return " ".join(result.output.split())


def test_an_admin_moves_a_person_by_the_organizations_name_in_any_case_and_script(
    client: FlaskClient, vendor: User, admin: User
) -> None:
    colleague = factories.make_vendor(db.session(), organization=vendor.organization)
    school = factories.make_organization(db.session(), legal_name="École Médicale du Léman")

    moved = _move(client, admin, colleague, organization="  ÉCOLE MÉDICALE DU LÉMAN ")

    assert moved.status_code == 200, moved.get_json()
    assert moved.get_json()["user"]["organization_id"] == school.id
    assert moved.get_json()["left_organization_id"] == vendor.organization_id
    assert _organization_of(colleague) == school.id


def test_a_name_several_or_none_have_is_a_422_in_the_commands_words_and_moves_nobody(
    app: Flask, client: FlaskClient, vendor: User, admin: User
) -> None:
    colleague = factories.make_vendor(db.session(), organization=vendor.organization)
    one = factories.make_organization(db.session(), legal_name="Acme Trading")
    two = factories.make_organization(db.session(), legal_name="ACME TRADING", standing="closed")
    for number in range(12):
        factories.make_organization(db.session(), legal_name=f"Tidewater Holdings {number:02d}")

    several = _move(client, admin, colleague, organization="acme trading")
    part = _move(client, admin, colleague, organization="tidewater")
    none = _move(client, admin, colleague, organization="Ospreyvale")
    blank = _move(client, admin, colleague, organization="   ")
    unstorable = _move(client, admin, colleague, organization="Acme\x00 Trading")
    assert unstorable.status_code == 422  # before any lookup: PostgreSQL stores no NUL

    expected = (
        f"2 organizations are named “acme trading”: Acme Trading (id {one.id}); "
        f"ACME TRADING (id {two.id}, closed). Give the id."
    )
    for refused in (several, part, none, blank):
        assert refused.status_code == 422, refused.get_json()
        assert refused.mimetype == PROBLEM
        assert list(refused.get_json()["errors"]) == ["organization"]
    assert several.get_json()["errors"]["organization"] == [expected]
    # The very sentence the command prints.
    assert f"Invalid value for --to: {expected}" in _cli_refusal(app, colleague, "acme trading")
    said = part.get_json()["errors"]["organization"][0]
    assert said.startswith("No organization is named “tidewater” exactly; 12 have names")
    assert said.endswith("; and 2 more. Give the legal name exactly or the id.")
    assert said in _cli_refusal(app, colleague, "tidewater")
    assert none.get_json()["errors"]["organization"] == [
        "No organization is named “Ospreyvale”, nor has a name containing it. "
        "Give its legal name or its id."
    ]
    assert blank.get_json()["errors"]["organization"] == [
        "Name the organization: its legal name or id."
    ]
    assert _organization_of(colleague) == vendor.organization_id
    assert _moves_emailed() == 0


def test_the_move_takes_exactly_one_of_the_id_and_the_name(
    client: FlaskClient, vendor: User, other_vendor: User, admin: User
) -> None:
    colleague = factories.make_vendor(db.session(), organization=vendor.organization)
    joined = other_vendor.organization
    assert joined is not None

    both = _move(
        client, admin, colleague, organization_id=joined.id, organization=joined.legal_name
    )
    neither = _move(client, admin, colleague)
    null_name = _move(client, admin, colleague, organization=None)

    assert both.status_code == 422
    assert both.get_json()["errors"] == {
        "organization": ["Give organization_id or organization, not both."]
    }
    for missing in (neither, null_name):
        assert missing.status_code == 422
        assert missing.get_json()["errors"] == {
            "organization_id": [
                "Name the organization the account moves to: organization_id (its id) or "
                "organization (its legal name)."
            ]
        }
    assert _organization_of(colleague) == vendor.organization_id
    # A refusal of the step itself names the field the caller used.
    own = _move(client, admin, colleague, organization=vendor.organization.legal_name.upper())
    assert own.status_code == 422
    assert "already acts for that organization" in own.get_json()["errors"]["organization"][0]


def test_the_command_and_the_api_share_one_lookup(vendor: User) -> None:
    """`organization_named` (the commands: an id, else a name) is `organization_by_name`
    for a name: one function, one set of words."""
    factories.make_organization(db.session(), legal_name="Quillfeather Labs")
    factories.make_organization(db.session(), legal_name="QUILLFEATHER LABS")
    refusals = []
    for lookup in (services.organization_named, services.organization_by_name):
        try:
            lookup("quillfeather labs")
        except InvalidInput as error:
            refusals.append(error.errors)
    assert len(refusals) == 2
    assert refusals[0] == refusals[1]
