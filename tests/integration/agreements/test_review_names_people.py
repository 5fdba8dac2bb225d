"""Round 57 (names57): an application's review page named the vendor who made a quote
version, the reviewer who rejected it and everyone in its history by login address;
it names them "Name (address)", as the queue and the assignee field do, read in one
statement whatever the number of events."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from licensing import db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import services as agreement_services
from licensing.agreements.models import Application
from licensing.audit import services as audit
from tests.integration.agreements.conftest import NOW, STAFF_USE
from tests.support import factories
from tests.support.named_people import users_read

SignIn = Callable[..., FlaskClient]


def _words(page: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def test_an_applications_quote_versions_decisions_and_history_name_the_people(
    app: Flask,
    apply: Callable[..., Application],
    vendor: Any,
    licensing_staff: Any,
    signed_in: SignIn,
) -> None:
    application = apply(vendor, STAFF_USE)
    staff = Actor.of(accounts.principal_for(licensing_staff))
    agreement_services.reject(application.id, "Not a use we license.", staff, now=NOW)
    client = signed_in(app.test_client(), licensing_staff)
    path = f"/console/applications/{application.id}"
    page, few = users_read(app, client, path)
    words = _words(page)
    vendor_named = f"{vendor.full_name} ({vendor.email})"
    staff_named = f"{licensing_staff.full_name} ({licensing_staff.email})"
    assert f"by {vendor_named}" in words  # the quote version
    assert f"by {staff_named}: Not a use we license." in words  # the rejection
    assert f"by {vendor.email}" not in words
    history = words[words.index("History") :]
    assert vendor_named in history
    assert staff_named in history
    # More people in the history: still one statement reads them with the page's.
    notes = [factories.make_staff(db.session()) for _ in range(5)]
    for n, person in enumerate(notes):
        audit.record(
            db.session(),
            action="application.note_added",
            entity_type="application",
            entity_id=application.id,
            before=None,
            after={"note": n},
            actor=person.email,
            actor_user_id=person.id,
        )
    db.session().commit()
    page, many = users_read(app, client, path)
    assert many == few
    for person in notes:
        assert f"{person.full_name} ({person.email})" in _words(page)
