"""Round 59 (names59): the console's audit log names who acted "Name (address)" since
round 58, but its *Actor* filter searched the address alone: "Ďurović" found nothing
for Željka Ďurović acting as zd@... It finds the events of the accounts whose name
contains the text too (any case, any script, as the users list searches names), a page
at a time as before, and its CSV exports the same events. Round 60 (names60): the API's
`actor` finds the same, where it kept to the address."""

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
from licensing.audit import services as audit
from tests.support import factories

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


def _words(markup: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", markup)).split())


def _listed(client: FlaskClient, actor: str, **also: str) -> tuple[int, str]:
    answer = client.get("/console/audit", query_string={"actor": actor, **also})
    return answer.status_code, _words(answer.get_data(as_text=True))


def _seqs_on(client: FlaskClient, actor: str, page: int = 1) -> list[str]:
    answer = client.get(
        "/console/audit", query_string={"actor": actor, "entity_type": "widget", "page": page}
    )
    assert answer.status_code == 200
    markup = answer.get_data(as_text=True)
    body = markup[markup.index('class="audit-log"') :]
    body = body[body.index("<tbody>") : body.index("</tbody>")]
    return re.findall(r'<td class="num">(\d+)</td>', body)


def test_the_actor_filter_finds_who_acted_by_name_in_any_case_and_script(
    app: Flask, signed_in: SignIn, admin: Any
) -> None:
    session = db.session()
    office = factories.make_organization(session, legal_name="Adriatic Coding")
    zeljka = factories.make_vendor(
        session, organization=office, full_name="Željka Ďurović", email="zd@adriatic.example"
    )
    other = factories.make_vendor(
        session, organization=office, full_name="Marko Horvat", email="mh@adriatic.example"
    )
    _acted(1, zeljka.email, zeljka.id)
    _acted(2, other.email, other.id)
    # A link actor (no account) and the system are found by their address alone.
    _acted(3, "payer@adriatic.example", None)
    _acted(4, "system", None)
    session.commit()
    client = signed_in(app.test_client(), admin)

    for text in ("Ďurović", "ĎUROVIĆ", "željka ď", "ŽELJKA"):
        status, page = _listed(client, text)
        assert status == 200, text
        assert f"Željka Ďurović ({zeljka.email})" in page, text
        assert "Marko Horvat" not in page, text
    # An address still finds its actor, as before.
    assert f"Marko Horvat ({other.email})" in _listed(client, "MH@adriatic")[1]
    assert "payer@adriatic.example" in _listed(client, "payer@")[1]

    # Nothing found: the page says the filter searched names and addresses.
    status, page = _listed(client, "Nobody Of That Name")
    assert status == 200
    assert "No actor's name or email address contains 'Nobody Of That Name'." in page

    # The CSV exports the events the page lists, actors as stored.
    exported = client.get("/console/audit.csv", query_string={"actor": "ďurović"})
    assert exported.status_code == 200
    rows = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True))))
    assert [row["actor"] for row in rows if row["entity_type"] == "widget"] == [zeljka.email]


def test_events_found_by_name_are_paged_as_before(
    app: Flask, signed_in: SignIn, admin: Any
) -> None:
    """60 events of one person found by name: 50 on the first page, 10 on the second,
    newest first, none twice; the count says 60."""
    session = db.session()
    person = factories.make_vendor(session, full_name="Ålesund Ødegård", email="ao@fjord.example")
    for number in range(60):
        _acted(number, person.email, person.id)
    session.commit()
    client = signed_in(app.test_client(), admin)
    first, second = _seqs_on(client, "ødegård", 1), _seqs_on(client, "ødegård", 2)
    assert (len(first), len(second)) == (50, 10)
    assert len(set(first) | set(second)) == 60
    assert [int(seq) for seq in first + second] == sorted(
        (int(seq) for seq in first + second), reverse=True
    )
    assert "60 events, page 1 of 2." in _listed(client, "ØDEGÅRD", entity_type="widget")[1]


def test_the_apis_actor_filter_finds_who_acted_by_name_as_the_console_does(
    app: Flask, client: FlaskClient, admin: Any
) -> None:
    """Round 60 (names60): the API's `actor` kept to the address; it now finds what the
    console's filter finds, and each event names who acted beside the address."""
    session = db.session()
    person = factories.make_vendor(session, full_name="Željka Ďurović", email="zd@adriatic.example")
    _acted(1, person.email, person.id)
    session.commit()
    headers = factories.bearer(admin)
    by_name = client.get("/api/v1/audit-events?actor=ĎUROVIĆ&entity_type=widget", headers=headers)
    assert by_name.status_code == 200
    assert [(item["actor"], item["actor_name"]) for item in by_name.get_json()["items"]] == [
        (person.email, "Željka Ďurović")
    ]
    by_address = client.get("/api/v1/audit-events?actor=zd@&entity_type=widget", headers=headers)
    assert [item["actor"] for item in by_address.get_json()["items"]] == [person.email]
