"""Round 58: the console's audit log showed each actor as stored ("vendor3@...",
"system") where every history names people "Name (address)" (round 57). It names them
as histories do, by the user id each event kept, in one statement for the page; the
CSV keeps the actor as stored (an export is a record)."""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from licensing import db
from tests.support import factories
from tests.support.named_people import acted_on_organization, address_passed_on, users_read

SignIn = Callable[..., FlaskClient]
PATH = "/console/audit?entity_type=organization"


def _rows(page: str) -> list[str]:
    body = page[page.index('class="audit-log"') :]
    body = body[body.index("<tbody>") : body.index("</tbody>")]
    return [
        " ".join(html.unescape(re.sub(r"<[^>]+>", " ", row)).split())
        for row in body.split("<tr>")[1:]
    ]


def test_the_audit_log_names_who_acted_as_histories_do_and_its_csv_keeps_the_address(
    app: Flask, signed_in: SignIn, admin: Any
) -> None:
    session = db.session()
    office = factories.make_organization(session, legal_name="Harbourline Clinics")
    imogen = factories.make_vendor(
        session, organization=office, full_name="Imogen Hart", email="imogen@harbour.example"
    )
    acted_on_organization(office.id, imogen.email, imogen.id, 1)
    acted_on_organization(office.id, "system", None, 2)
    # An account deleted since:
    acted_on_organization(office.id, "left@harbour.example", 987654321, 3)
    # Imogen's address changes and a newcomer takes the old one: the event names Imogen,
    # at the address she acted with.
    address_passed_on(imogen, "Ned Newcombe", moved_to="imogen.hart@harbour.example")
    client = signed_in(app.test_client(), admin)
    rows = _rows(client.get(PATH).get_data(as_text=True))
    assert any("Imogen Hart (imogen@harbour.example) organization.updated" in r for r in rows)
    assert not any("Ned Newcombe" in r for r in rows)
    assert any(" system organization.updated" in r for r in rows)
    assert any(" left@harbour.example organization.updated" in r for r in rows)

    exported = client.get("/console/audit.csv?entity_type=organization").get_data(as_text=True)
    actors = {row["actor"] for row in csv.DictReader(io.StringIO(exported))}
    assert {"imogen@harbour.example", "system", "left@harbour.example"} <= actors
    assert not any("Imogen Hart" in actor for actor in actors)


def test_the_audit_log_reads_its_people_in_one_statement_whatever_the_number_of_events(
    app: Flask, signed_in: SignIn, admin: Any
) -> None:
    session = db.session()
    office = factories.make_organization(session, legal_name="Saltmarsh Diagnostics")
    people = [
        factories.make_vendor(session, organization=office, full_name=f"Noor Haddad {n}")
        for n in range(8)
    ]
    acted_on_organization(office.id, people[0].email, people[0].id, 0)
    client = signed_in(app.test_client(), admin)
    _, few = users_read(app, client, PATH)
    for n, person in enumerate(people[1:], start=1):
        acted_on_organization(office.id, person.email, person.id, n)
    page, many = users_read(app, client, PATH)
    assert many == few
    rows = _rows(page)
    for person in people:
        assert any(f"{person.full_name} ({person.email}) organization.updated" in r for r in rows)
