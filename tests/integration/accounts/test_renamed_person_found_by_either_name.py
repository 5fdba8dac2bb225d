"""Round 60 (names60): the audit log's Actor filter found a person by the name of their
account now: someone who changed their name was found by the new one only, and an
auditor holding an email, a letter or an export of the time (which gives the old one)
found nothing. What an auditor needs is every event of the person, whichever of their
names the document gives: the filter (the console's page and CSV, and the API's, which
since round 60 is the same filter) finds the account's events, before and after the
change, by the name now or any name given up (`user_former_names`, accounts_0015), in
any case and script; the rows keep naming the person as they are called now, and the
API gives that name beside the recorded address (`actor_name`). Users are read in one
statement for a page, however many people it names."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.accounts import services as accounts
from licensing.accounts.models import FormerName
from licensing.actors import Actor
from licensing.audit import services as audit
from tests.support import factories
from tests.support.named_people import users_read

SignIn = Callable[..., FlaskClient]


def _acted(entity_id: int, actor: str, user_id: int | None) -> None:
    audit.record(
        db.session(),
        action="widget.changed",
        entity_type="widget",
        entity_id=entity_id,
        before=None,
        after={"count": entity_id},
        actor=actor,
        actor_user_id=user_id,
    )
    db.session().commit()


def _widgets_on_page(client: FlaskClient, actor: str) -> list[str]:
    answer = client.get("/console/audit", query_string={"actor": actor, "entity_type": "widget"})
    assert answer.status_code == 200
    text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", answer.get_data(as_text=True))).split())
    return re.findall(r"widget (\d+)", text, flags=re.IGNORECASE)


def _found_by_api(client: FlaskClient, admin: Any, actor: str) -> list[tuple[str, str, str]]:
    answer = client.get(
        "/api/v1/audit-events",
        query_string={"actor": actor, "entity_type": "widget"},
        headers=factories.bearer(admin),
    )
    assert answer.status_code == 200, answer.get_json()
    return [
        (item["entity_id"], item["actor"], item["actor_name"])
        for item in answer.get_json()["items"]
    ]


def test_a_person_renamed_is_found_by_the_name_they_had_and_the_name_they_have(
    app: Flask, signed_in: SignIn, admin: Any
) -> None:
    session = db.session()
    person = factories.make_vendor(session, full_name="Hana Satō", email="hana@kanazawa.example")
    bystander = factories.make_vendor(
        session, full_name="Kenji Ito", email="kenji@kanazawa.example"
    )
    _acted(1, person.email, person.id)
    _acted(2, bystander.email, bystander.id)
    accounts.change_name(Actor.of(accounts.principal_for(person)), "Hana Takeda")
    _acted(3, person.email, person.id)
    assert [
        (row.user_id, row.full_name)
        for row in session.scalars(select(FormerName).where(FormerName.user_id == person.id))
    ] == [(person.id, "Hana Satō")]
    client = signed_in(app.test_client(), admin)

    # Either name, in any case and with or without its macron, finds both of her
    # events, the one before the change and the one after; Kenji's is not hers.
    for text in ("Satō", "SATŌ", "hana takeda", "Takeda"):
        assert sorted(_widgets_on_page(client, text)) == ["1", "3"], text
        assert sorted(_found_by_api(client, admin, text)) == [
            ("1", person.email, "Hana Takeda"),
            ("3", person.email, "Hana Takeda"),
        ], text
    # A name she never had finds nothing; her address still finds her events.
    assert _found_by_api(client, admin, "Hana Ito") == []
    assert [row[0] for row in _found_by_api(client, admin, "hana@kanazawa")] == ["3", "1"]


def test_the_apis_audit_page_reads_who_acted_in_one_statement_however_many_people(
    app: Flask, client: FlaskClient, admin: Any
) -> None:
    session = db.session()
    people = [
        factories.make_vendor(session, full_name=f"Person {n}", email=f"p{n}@example.org")
        for n in range(8)
    ]
    _acted(1, people[0].email, people[0].id)
    path = "/api/v1/audit-events?entity_type=widget"
    headers = factories.bearer(admin)
    client.environ_base["HTTP_AUTHORIZATION"] = headers["Authorization"]
    _one_person, reads_for_one = users_read(app, client, path)
    for number, person in enumerate(people, start=2):
        _acted(number, person.email, person.id)
    _eight_people, reads_for_eight = users_read(app, client, path)
    assert reads_for_one == reads_for_eight
