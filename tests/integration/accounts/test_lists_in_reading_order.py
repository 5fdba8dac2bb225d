"""Round 53: the paged lists of organizations (the console's, the API's, the export
form's) and of people (the console's and the API's users) were ordered by the name's
key, or the address, byte by byte: "école" came after "zeta" on both databases. They
are ordered by a stored collation key (`accounts.models.sort_key`: the letters, then
the accents, then the case), read in the order of an index with the id, a page at a
time, ties by the id."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from licensing import db
from licensing.accounts import queries
from licensing.accounts import views as account_views
from licensing.accounts.models import Organization, User, name_key, sort_key
from licensing.accounts.services.roles import active_administrators
from licensing.agreements import queries as agreements
from licensing.agreements.models import Application
from licensing.exports import queries as export_queries
from licensing.permissions import queries as permissions
from tests.support import factories
from tests.support.pages import walk_pages
from tests.support.plans import analyzed, copied, plan_of, sent, sorts

# Made in this order; read as a reader files them.
MADE = ("zeta Labs", "Émeraude", "ecole Alpha", "Øster Data", "École Alpha", "alpha", "Ecole Alpha")
READ = ["alpha", "ecole Alpha", "Ecole Alpha", "École Alpha", "Émeraude", "Øster Data", "zeta Labs"]


def test_the_organizations_lists_file_accents_after_their_letter_and_ignore_case(
    app: Flask,
    licensing_staff: User,
    billing_staff: User,
    signed_in: Callable[..., FlaskClient],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The console's list walked two a page, the API's, the export form's: each in
    the reader's order (before: "alpha", "ecole Alpha", "zeta Labs", then the names
    beginning with a letter beyond ASCII, on both databases)."""
    made = {name: factories.make_organization(db.session(), legal_name=name).id for name in MADE}
    db.session().commit()
    names = {str(id_): name for name, id_ in made.items()}
    monkeypatch.setattr(account_views, "ACCOUNTS_PER_PAGE", 2)
    client = signed_in(app.test_client(), licensing_staff)
    seen, urls = walk_pages(client, "/console/organizations", r'/console/organizations/(\d+)">')
    assert [names[id_] for id_ in seen if id_ in names] == READ
    assert len(urls) >= 4

    api = app.test_client()
    listed = api.get(
        "/api/v1/organizations?per_page=100", headers=factories.bearer(licensing_staff)
    ).get_json()
    assert [row["legal_name"] for row in listed if row["legal_name"] in made] == READ

    choices = export_queries.organization_choices(db.session())
    assert [name for _id, name in choices if name in made] == READ


def test_organizations_of_one_name_in_any_case_keep_their_places_by_id_across_pages(
    app: Flask, licensing_staff: User
) -> None:
    """Ties: one name written the same five times, and twice in capitals, walked
    through the API two a page: the same spelling by id, small letters first."""
    session = db.session()
    same = [factories.make_organization(session, legal_name="Tidewater Press").id for _ in range(5)]
    capitals = [
        factories.make_organization(session, legal_name="TIDEWATER PRESS").id for _ in range(2)
    ]
    session.commit()
    headers = factories.bearer(licensing_staff)
    client = app.test_client()
    walked: list[int] = []
    for page in range(1, 5):
        answer = client.get(
            f"/api/v1/organizations?q=tidewater&page={page}&per_page=2", headers=headers
        )
        walked += [row["id"] for row in answer.get_json()]
    assert walked == same + capitals


def test_the_users_list_files_an_address_with_an_accent_among_its_letters(
    app: Flask, admin: User, signed_in: Callable[..., FlaskClient]
) -> None:
    """Addresses are stored in small letters; one beginning "é" came after "zed@"."""
    organization = factories.make_organization(db.session(), legal_name="Northwind")
    addresses = ["zed@northwind.example", "élodie@northwind.example", "eli@northwind.example"]
    for address in addresses:
        factories.make_vendor(db.session(), organization, email=address)
    db.session().commit()
    client = signed_in(app.test_client(), admin)
    emails, _urls = walk_pages(
        client, "/console/users?q=northwind", r'/console/users/\d+">([^<]+)</a>'
    )
    assert emails == ["eli@northwind.example", "élodie@northwind.example", "zed@northwind.example"]
    listed = (
        app.test_client()
        .get("/api/v1/users?q=northwind", headers=factories.bearer(admin))
        .get_json()
    )
    assert [row["email"] for row in listed] == emails


def _crowd() -> None:
    """2,000 organizations and 2,000 people, each with a name or address of its own
    and its keys, both tables analyzed (`analyzed`, PostgreSQL only)."""
    organization = factories.make_organization(db.session(), legal_name="Crowd 0")
    person = factories.make_vendor(db.session(), organization, email="crowd@northwind.example")

    def named(n: int) -> dict[str, Any]:
        name = f"Crowd {n + 1:04d}"
        return {
            "legal_name": name,
            "legal_name_key": name_key(name),
            "legal_name_sort_key": sort_key(name),
        }

    def addressed(n: int) -> dict[str, Any]:
        email = f"crowd{n:04d}@northwind.example"
        return {"email": email, "email_sort_key": sort_key(email)}

    copied(Organization.__table__, organization.id, 2000, named)
    copied(User.__table__, person.id, 2000, addressed)
    analyzed("organizations", "users")


def _plan(statement: Any) -> list[str]:
    sql, values = sent(statement.limit(50).offset(50), containing="LIMIT")
    return plan_of(sql, values)


@pytest.mark.parametrize(
    ("statement", "index"),
    [
        (lambda: queries.organizations_listing(), "ix_organizations_legal_name_sort_key"),
        (lambda: queries.users_query(), "ix_users_email_sort_key"),
    ],
    ids=["organizations", "users"],
)
def test_a_page_of_the_lists_is_read_in_the_order_of_their_index_without_a_sort(
    app: Flask, statement: Callable[[], Any], index: str
) -> None:
    """Not the whole table read and sorted for a page: the page's statement, with its
    values, is planned as a walk of the sort key's index (SQLite: no temporary
    B-tree; PostgreSQL, sorting priced out: no Sort node)."""
    _crowd()
    lines = _plan(statement())
    dialect = db.session().get_bind().dialect.name
    assert sorts(lines, dialect) == [], lines
    assert any(re.search(rf"\b{index}\b", line) for line in lines), lines


def test_the_staff_offered_by_name_are_filed_as_readers_file_names(app: Flask) -> None:
    """The short lists of people read whole (the queues' assignees and reviewers, an
    organization's administrators) were ordered by the name's bytes: "Zoë Park"
    before "adam Ruiz", "Émile Roy" after both. They are sorted by `sort_key`, then id."""
    session = db.session()
    names = ["Zoë Park", "Émile Roy", "adam Ruiz", "Bea Lund"]
    staff = [factories.make_staff(session, roles=("licensing",)) for _ in names]
    for user, name in zip(staff, names, strict=True):
        user.full_name = name
    organization = factories.make_organization(session, legal_name="Northwind")
    for name in names:
        factories.make_vendor(session, organization, role="administrator", full_name=name)
    session.commit()
    expected = ["adam Ruiz", "Bea Lund", "Émile Roy", "Zoë Park"]

    def ours(people: list[str]) -> list[str]:
        return [name for name in people if name in names]

    assert ours([p.full_name for p in agreements.reviewers(session)]) == expected
    assert ours([p.full_name for p in permissions.licensing_staff(session)]) == expected
    offered = queries.assignee_filter_people(session, Application.assignee_id)
    assert ours([p.name for p in offered]) == expected
    administrators = active_administrators(session, organization.id)
    assert [p.full_name for p in administrators] == expected
