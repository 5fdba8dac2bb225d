"""Round 49: the console's organization page names each person moved out of or into
the organization in its history (round 27); it read each one by a query of its own.
They are read in one statement: the page runs the same statements at 10 and 100
moves, and names every one."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient

from licensing import db
from licensing.accounts import views
from licensing.accounts.models import Organization, User
from licensing.audit import services as audit
from tests.support import factories
from tests.support.statements import sent_by, statements_for

SignIn = Callable[..., FlaskClient]


def _moved(organization: Organization, leaving: Organization, count: int) -> list[User]:
    """`count` people of `leaving` moved to `organization`, as `user.moved` records it."""
    session = db.session()
    people = []
    for _ in range(count):
        person = factories.make_vendor(session, organization, role="billing")
        audit.record(
            session,
            action="user.moved",
            entity_type="user",
            entity_id=person.id,
            before={"organization_id": leaving.id},
            after={"organization_id": organization.id},
            actor="admin@example.com",
        )
        people.append(person)
    session.commit()
    return people


def _history_statements(app: Flask, organization_id: int) -> int:
    """The statements the page's history sends with nobody loaded yet (the test's
    session keeps every user it made: a page would find them without a query)."""
    session = db.session()
    session.expunge_all()
    organization = session.get(Organization, organization_id)
    assert organization is not None
    with app.test_request_context(), sent_by(app) as sent:
        views._organization_history(session, organization)
    return len(sent)


def test_the_people_moved_are_named_in_one_statement_at_10_and_100_moves(
    app: Flask, vendor: User, other_vendor: User, admin: User, signed_in: SignIn
) -> None:
    organization, joined = vendor.organization, other_vendor.organization
    organization_id = organization.id
    # Moved out of the organization: no longer its members, listed on its page.
    people = _moved(joined, organization, 10)
    at_10 = _history_statements(app, organization_id)
    people += _moved(db.session().get(Organization, joined.id), organization, 90)
    at_100 = _history_statements(app, organization_id)
    assert at_100 == at_10
    console = signed_in(app.test_client(), admin)
    url = f"/console/organizations/{organization_id}"
    assert statements_for(app, console, url) > 0
    # Round 58: the history pages (its people's own events are in it too).
    page = "".join(
        console.get(url, query_string={"history_page": number}).get_data(as_text=True)
        for number in (1, 2, 3)
    )
    for person in people:
        assert f"{person.full_name} ({person.email})" in page
        assert f'href="/console/users/{person.id}"' in page
