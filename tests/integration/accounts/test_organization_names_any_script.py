"""Round 51: organizations were looked up and searched by name with the database's
`lower()`, which folds ASCII letters only (SQLite, and PostgreSQL under the C locale):
"ÉCOLE Médicale" did not find "école médicale". Each organization keeps its name's key
(`name_key`: case folded for every script, NFKC), kept in step with the name, and every
lookup and search by name compares keys: the commands, the console's and the API's
organization searches, the console's move search."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import insert, select

from licensing import db
from licensing.accounts import services
from licensing.accounts.models import Organization, User, name_key
from tests.support import factories
from tests.support.factories import bearer

REASON = "Joined them in March."


def _move(app: Flask, email: str, to: str) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(
        args=["users", "move", email, "--to", to, "--reason", REASON]
    )
    return result.exit_code, " ".join(result.output.split())


def _organization_of(user: User) -> int | None:
    found = select(User.organization_id).where(User.id == user.id)
    return db.session().scalars(found.execution_options(populate_existing=True)).one()


def test_the_key_folds_case_in_every_script_and_compatibility_forms() -> None:
    assert name_key("ÉCOLE Médicale") == name_key("école médicale") == "école médicale"
    assert name_key("STRASSE Analytics") == name_key("Straße Analytics")
    assert name_key("ΣΟΦΙΑ Labs") == name_key("σοφια labs")
    assert name_key("\ufb01ne \uff24ata\u00a0Inc.") == "fine data inc."
    # Composed and decomposed accents are one name.
    assert name_key("Cafe\u0301 Santé") == name_key("Café Santé")


def test_a_name_in_another_case_beyond_ascii_finds_the_organization_on_the_command_line(
    app: Flask, vendor: User
) -> None:
    session = db.session()
    first = factories.make_vendor(session, organization=vendor.organization)
    second = factories.make_vendor(session, organization=vendor.organization)
    school = factories.make_organization(session, legal_name="école médicale du Léman")
    strasse = factories.make_organization(session, legal_name="Straße Analytics GmbH")

    # Before round 51: "No organization is named “ÉCOLE MÉDICALE DU LÉMAN” ..." (exit 2).
    code, output = _move(app, first.email, "ÉCOLE MÉDICALE DU LÉMAN")
    assert code == 0, output
    assert _organization_of(first) == school.id
    code, output = _move(app, second.email, "strasse analytics gmbh")
    assert code == 0, output
    assert _organization_of(second) == strasse.id


def test_a_part_of_a_name_beyond_ascii_lists_the_candidates_in_any_case(
    app: Flask, vendor: User
) -> None:
    session = db.session()
    clerk = factories.make_vendor(session, organization=vendor.organization)
    one = factories.make_organization(session, legal_name="Émeraude Santé SA")
    two = factories.make_organization(session, legal_name="ÉMERAUDE SANTÉ SA", standing="closed")

    code, output = _move(app, clerk.email, "émeraude santé sa")
    assert code == 2
    # Listed by the key, then by id: the same name in two cases, the first made first.
    assert (
        f"2 organizations are named “émeraude santé sa”: Émeraude Santé SA (id {one.id}); "
        f"ÉMERAUDE SANTÉ SA (id {two.id}, closed). Give the id."
    ) in output
    code, output = _move(app, clerk.email, "ÉMERAUDE")
    assert code == 2
    assert "No organization is named “ÉMERAUDE” exactly; 2 have names containing it" in output
    assert _organization_of(clerk) == vendor.organization_id


def test_the_key_follows_the_name_when_licensing_staff_rename_the_organization(
    app: Flask, vendor: User, licensing_staff: User
) -> None:
    organization = factories.make_organization(session := db.session(), legal_name="Ölwerk AG")
    clerk = factories.make_vendor(session, organization=vendor.organization)
    services.update_organization(
        organization.id,
        {"legal_name": "Øresund Ölwerk AG"},
        factories.staff_actor(("licensing",)),
    )
    session.expire_all()
    stored = session.scalars(
        select(Organization.legal_name_key).where(Organization.id == organization.id)
    ).one()
    assert stored == "øresund ölwerk ag"
    assert _move(app, clerk.email, "ölwerk ag")[0] == 2  # the old name no longer
    code, output = _move(app, clerk.email, "ØRESUND ÖLWERK AG")
    assert code == 0, output
    assert _organization_of(clerk) == organization.id


def _full_width(text: str) -> str:
    return "".join(chr(ord(letter) + 0xFEE0) if letter != " " else letter for letter in text)


def test_every_organization_made_through_the_service_is_keyed(app: Flask, vendor: User) -> None:
    factories.make_organization(db.session(), legal_name=_full_width("Full Width Soft"))
    rows = db.session().execute(select(Organization.legal_name, Organization.legal_name_key)).all()
    assert len(rows) >= 2
    assert all(key == name_key(name) for name, key in rows)
    assert (_full_width("Full Width Soft"), "full width soft") in [tuple(row) for row in rows]


def test_staff_searches_find_an_organization_by_its_name_in_any_case_and_script(
    app: Flask,
    vendor: User,
    admin: User,
    signed_in: Callable[..., FlaskClient],
) -> None:
    session = db.session()
    person = factories.make_vendor(session, organization=vendor.organization)
    school = factories.make_organization(session, legal_name="École Médicale du Léman")
    factories.make_organization(session, legal_name="Harbor Analytics")
    console = signed_in(app.test_client(), admin)

    listed = console.get("/console/organizations?q=MÉDICALE").get_data(as_text=True)
    assert "École Médicale du Léman" in listed
    assert "Harbor Analytics" not in listed
    found = app.test_client().get(
        "/api/v1/organizations?q=médicale DU LÉMAN", headers=bearer(admin)
    )
    assert [each["id"] for each in found.get_json()] == [school.id]
    # The console's move offers it by a part of its name in another case.
    page = console.get(f"/console/users/{person.id}?move_search=ÉCOLE").get_data(as_text=True)
    assert f'value="{school.id}"' in page


def test_an_organization_inserted_without_the_orm_is_keyed_by_the_columns_default(
    app: Flask,
) -> None:
    fields = {**factories.organization_fields(legal_name="ÅRHUS Data ApS"), "standing": "active"}
    made = db.session().execute(insert(Organization).values(fields).returning(Organization.id))
    stored = db.session().scalars(
        select(Organization.legal_name_key).where(Organization.id == made.scalar_one())
    )
    assert stored.one() == "århus data aps"
