"""Round 58 (decided58): a rate card kept only the address of who published it
(`published_by`), and the rate cards' list and a card's page showed that address bare:
an address changed and given to a newcomer since read as the newcomer's. A card keeps
the account's id (`published_by_id`, agreements_0011) and both pages name the person
by it, "Name (address)"; a card from before, or published from the command line,
keeps what it recorded and is named by it."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from licensing import db
from licensing.accounts.models import User
from licensing.ratecards import services
from licensing.ratecards.models import RateCardRecord
from tests.integration.pricing.conftest import card_document, example_document
from tests.support import factories
from tests.support.factories import bearer

SignIn = Callable[..., FlaskClient]
LIST = "/console/rate-cards/"


def _words(client: FlaskClient, path: str) -> str:
    answer = client.get(path)
    assert answer.status_code == 200, path
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", answer.get_data(as_text=True))).split())


def test_a_rate_card_names_who_published_it_after_their_address_passed_on(
    app: Flask, admin: Any, signed_in: SignIn
) -> None:
    session = db.session()
    publisher = factories.make_staff(session, roles=("admin",))
    publisher.full_name = "Tomasz Wren"
    session.commit()
    recorded, named = publisher.email, f"Tomasz Wren ({publisher.email})"
    client = app.test_client()
    published = client.post(
        "/api/v1/rate-cards", json=example_document(), headers=bearer(publisher)
    )
    assert published.status_code == 200, published.get_data(as_text=True)
    card = session.scalars(select(RateCardRecord)).one()
    assert (card.published_by, card.published_by_id) == (recorded, publisher.id)
    # From the command line: no account, named as recorded.
    services.import_card(card_document(version="2027.2", title="Second"), published_by="cli")
    # The publisher's address changes, and a newcomer is given the old one.
    moved = session.get(User, publisher.id)
    assert moved is not None
    moved.email = f"moved.{recorded}"
    session.commit()
    newcomer = factories.make_staff(session, roles=("admin",), email=recorded)
    newcomer.full_name = "Ines Newcombe"
    session.commit()

    staff = signed_in(app.test_client(), admin)
    listed = _words(staff, LIST)
    assert f"by {named}" in listed
    assert "by cli" in listed
    assert "Ines Newcombe" not in listed
    page = _words(staff, f"/console/rate-cards/{card.version}")
    assert f"by {named}" in page
    assert "Ines Newcombe" not in page

    # A card published before agreements_0011 kept no account: named by its address.
    session.execute(
        update(RateCardRecord).where(RateCardRecord.id == card.id).values(published_by_id=None)
    )
    session.commit()
    assert f"by Ines Newcombe ({recorded})" in _words(staff, LIST)
    assert f"by Ines Newcombe ({recorded})" in _words(staff, f"/console/rate-cards/{card.version}")
