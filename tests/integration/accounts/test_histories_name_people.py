"""Round 57 (names57): histories named people by their login address ("by
vendor3@...", "Filed ... by vendor9@...", "Sent back ... by staff1@...") where every
other page names them "Name (address)". They now name them so, read in one statement
per page whatever the number of events; a person deactivated since is still named, one
deleted since (or an address nobody holds now) reads as recorded."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from licensing import db
from licensing.accounts.models import User
from tests.support import factories
from tests.support.named_people import acted_on_organization, users_read

SignIn = Callable[..., FlaskClient]


def _words(page: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def _history_rows(page: str) -> list[str]:
    body = page[page.index('id="history"') :]
    body = body[body.index("<tbody>") : body.index("</tbody>")]
    return [_words(row) for row in body.split("<tr>")[1:]]


def test_an_organizations_history_names_who_acted_with_their_address_deactivated_or_deleted(
    app: Flask, signed_in: SignIn, admin: Any
) -> None:
    session = db.session()
    office = factories.make_organization(session, legal_name="Tidewater Health Records")
    imogen = factories.make_vendor(
        session, organization=office, full_name="Imogen Hart", email="imogen@tide.example"
    )
    ravi = factories.make_vendor(
        session, organization=office, full_name="Ravi Okafor", email="ravi@tide.example"
    )
    acted_on_organization(office.id, imogen.email, imogen.id, 1)
    acted_on_organization(office.id, ravi.email, ravi.id, 2)
    # Ravi leaves: deactivated, still named. A user deleted since reads as recorded.
    gone = session.get(User, ravi.id)
    assert gone is not None
    gone.is_active = False
    session.commit()
    acted_on_organization(office.id, "left@tide.example", 987654321, 3)
    clerk = signed_in(app.test_client(), admin)
    page = clerk.get(f"/console/organizations/{office.id}").get_data(as_text=True)
    rows = _history_rows(page)
    assert any("Ravi Okafor (ravi@tide.example) Organization updated" in r for r in rows)
    assert any("Imogen Hart (imogen@tide.example) Organization updated" in r for r in rows)
    assert any(" left@tide.example Organization updated" in r for r in rows)
    # An address changed since: the event names the person, at the address recorded.
    moved = session.get(User, imogen.id)
    assert moved is not None
    moved.email = "imogen.hart@tide.example"
    session.commit()
    page = clerk.get(f"/console/organizations/{office.id}").get_data(as_text=True)
    assert any("Imogen Hart (imogen@tide.example)" in r for r in _history_rows(page))


def test_a_history_reads_its_people_in_one_statement_whatever_the_number_of_events(
    app: Flask, signed_in: SignIn, admin: Any
) -> None:
    session = db.session()
    office = factories.make_organization(session, legal_name="Quayside Labs")
    people = [
        factories.make_vendor(session, organization=office, full_name=f"Noor Haddad {n}")
        for n in range(8)
    ]
    acted_on_organization(office.id, people[0].email, people[0].id, 0)
    clerk = signed_in(app.test_client(), admin)
    path = f"/console/organizations/{office.id}"
    _, few = users_read(app, clerk, path)
    for n, person in enumerate(people[1:], start=1):
        acted_on_organization(office.id, person.email, person.id, n)
    page, many = users_read(app, clerk, path)
    assert many == few
    rows = _history_rows(page)
    for person in people:
        assert any(f"{person.full_name} ({person.email}) Organization updated" in r for r in rows)
