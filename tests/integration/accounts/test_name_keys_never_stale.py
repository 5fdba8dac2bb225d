"""Round 52: a name's key (`legal_name_key`, `full_name_key`, a permission request's
`requester_name_key` and `institution_key`) is kept in step by the model's validators
and, for a Core insert, by the column's default; a bulk UPDATE of the name went round
both and left the key behind, so the record was no longer found by its new name.
Nothing in the service writes names so; a bulk UPDATE through a session that writes a
name without its key is refused, so no future one can."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import select, update

from licensing import db
from licensing.accounts.models import Organization, User, name_key, sort_key
from licensing.permissions.models import PermissionRequest
from tests.support import factories

REFUSED = (
    r"writes legal_name without legal_name_key, legal_name_sort_key: "
    r"change names through the model"
)


def _key_of(organization: Organization) -> str:
    found = select(Organization.legal_name, Organization.legal_name_key).where(
        Organization.id == organization.id
    )
    name, key = db.session().execute(found.execution_options(populate_existing=True)).one()
    assert key == name_key(name)
    return str(name)


def test_a_bulk_rename_of_organizations_without_their_key_is_refused(app: Flask) -> None:
    organization = factories.make_organization(db.session(), legal_name="Zeta Labs")
    session = db.session()
    for statement, parameters in (
        (update(Organization).where(Organization.id == organization.id), {"legal_name": "ÉCOLE"}),
        (Organization.__table__.update(), {"legal_name": "ÉCOLE"}),
    ):
        with pytest.raises(ValueError, match=REFUSED):
            session.execute(statement.values(parameters))
    with pytest.raises(ValueError, match=REFUSED):
        session.execute(update(Organization), [{"id": organization.id, "legal_name": "ÉCOLE"}])
    session.rollback()
    assert _key_of(organization) == "Zeta Labs"


def test_a_bulk_rename_that_sets_the_key_and_other_bulk_changes_go_through(
    app: Flask, vendor: User
) -> None:
    organization = factories.make_organization(db.session(), legal_name="Zeta Labs")
    with db.transaction() as session:
        session.execute(
            update(Organization)
            .where(Organization.id == organization.id)
            .values(
                legal_name="ÉCOLE Alpha",
                legal_name_key=name_key("ÉCOLE Alpha"),
                legal_name_sort_key=sort_key("ÉCOLE Alpha"),
            )
        )
        session.execute(
            update(Organization).where(Organization.id == organization.id).values(city="Lyon")
        )
        session.execute(update(User).where(User.id == vendor.id).values(failed_login_count=0))
    assert _key_of(organization) == "ÉCOLE Alpha"


def test_a_bulk_rename_of_people_or_requesters_without_their_key_is_refused(
    app: Flask, vendor: User
) -> None:
    session = db.session()
    with pytest.raises(ValueError, match="writes full_name without full_name_key"):
        session.execute(update(User).where(User.id == vendor.id).values(full_name="JANA MÜLLER"))
    with pytest.raises(ValueError, match="writes institution without institution_key"):
        session.execute(update(PermissionRequest).values(institution="ÉCOLE"))
    session.rollback()


def test_a_bulk_change_that_keeps_a_names_key_but_not_its_sort_key_is_refused(
    app: Flask, vendor: User
) -> None:
    """Round 53: the lists order by a sort key beside the name (and a user's address):
    a bulk rename that sets the search key alone ("ACME" to "Acme": the same key, not
    the same place in a list) leaves the order stale, and is refused as the key is."""
    organization = factories.make_organization(db.session(), legal_name="ACME")
    session = db.session()
    with pytest.raises(ValueError, match="writes legal_name without legal_name_sort_key"):
        session.execute(
            update(Organization)
            .where(Organization.id == organization.id)
            .values(legal_name="Acme", legal_name_key=name_key("Acme"))
        )
    with pytest.raises(ValueError, match="writes email without email_sort_key"):
        session.execute(update(User).where(User.id == vendor.id).values(email="élodie@x.example"))
    session.rollback()
    with db.transaction() as session:
        session.execute(
            update(User)
            .where(User.id == vendor.id)
            .values(email="élodie@x.example", email_sort_key=sort_key("élodie@x.example"))
        )
