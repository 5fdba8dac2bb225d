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
from licensing.accounts.models import User
from licensing.audit import services as audit
from tests.support import factories
from tests.support.statements import sent_by

SignIn = Callable[..., FlaskClient]
PATH = "/console/audit?entity_type=organization"


def _rows(page: str) -> list[str]:
    body = page[page.index('class="audit-log"') :]
    body = body[body.index("<tbody>") : body.index("</tbody>")]
    return [
        " ".join(html.unescape(re.sub(r"<[^>]+>", " ", row)).split())
        for row in body.split("<tr>")[1:]
    ]


def _acted(organization_id: int, actor: str, user_id: int | None, n: int) -> None:
    audit.record(
        db.session(),
        action="organization.updated",
        entity_type="organization",
        entity_id=organization_id,
        before={"phone": f"+1 555 020{n}"},
        after={"phone": f"+1 555 021{n}"},
        actor=actor,
        actor_user_id=user_id,
    )
    db.session().commit()


def _users_read(app: Flask, client: FlaskClient, path: str) -> tuple[str, int]:
    client.get(path)  # warm
    with sent_by(app) as statements:
        answer = client.get(path)
    assert answer.status_code == 200
    reads = [sql for sql in statements if re.search(r"\bFROM users\b", sql)]
    return answer.get_data(as_text=True), len(reads)


def test_the_audit_log_names_who_acted_as_histories_do_and_its_csv_keeps_the_address(
    app: Flask, signed_in: SignIn, admin: Any
) -> None:
    session = db.session()
    office = factories.make_organization(session, legal_name="Harbourline Clinics")
    imogen = factories.make_vendor(
        session, organization=office, full_name="Imogen Hart", email="imogen@harbour.example"
    )
    _acted(office.id, imogen.email, imogen.id, 1)
    _acted(office.id, "system", None, 2)
    _acted(office.id, "left@harbour.example", 987654321, 3)  # an account deleted since
    # Imogen's address changes and a newcomer takes the old one: the event names Imogen,
    # at the address she acted with.
    moved = session.get(User, imogen.id)
    assert moved is not None
    moved.email = "imogen.hart@harbour.example"
    session.commit()
    factories.make_vendor(
        session, organization=office, full_name="Ned Newcombe", email="imogen@harbour.example"
    )
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
    _acted(office.id, people[0].email, people[0].id, 0)
    client = signed_in(app.test_client(), admin)
    _, few = _users_read(app, client, PATH)
    for n, person in enumerate(people[1:], start=1):
        _acted(office.id, person.email, person.id, n)
    page, many = _users_read(app, client, PATH)
    assert many == few
    rows = _rows(page)
    for person in people:
        assert any(f"{person.full_name} ({person.email}) organization.updated" in r for r in rows)
