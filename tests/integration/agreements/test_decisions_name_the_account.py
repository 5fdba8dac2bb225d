"""Round 58: an application kept only the address of who decided it (`decided_by`),
and the review page's *Rejected* and *Reconsideration denied*, and the list of
rejections open to reconsideration, named whoever holds that address now: a reviewer
whose address changed and was then given to a newcomer had their rejection named
after the newcomer. A decision keeps the account's id (`decided_by_id`,
agreements_0011) and is named by it, the rejection read from its history by its
event's; a decision taken before keeps its address and is named by it, as before."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update

from licensing import db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import services
from licensing.agreements.models import Application
from licensing.db import utcnow
from tests.integration.agreements.conftest import STAFF_USE
from tests.support.named_people import address_passed_on, staff_named, users_read_in_words

SignIn = Callable[..., FlaskClient]
REVIEW = "/console/applications/{}"
OPEN = "/console/applications/reconsideration-open"


def _words(page: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def test_a_rejection_and_its_denial_name_who_decided_after_their_addresses_passed_on(
    app: Flask,
    apply: Callable[..., Application],
    vendor: Any,
    licensing_staff: Any,
    signed_in: SignIn,
) -> None:
    reviewer, rejecting = staff_named("Tomasz Wren")
    rejected_by = f"Tomasz Wren ({reviewer.email})"
    application = apply(vendor, STAFF_USE)
    services.reject(
        application.id, "Not a use we license.", rejecting, now=utcnow() - timedelta(days=1)
    )
    stored = db.session().get(Application, application.id)
    assert stored is not None
    assert (stored.decided_by, stored.decided_by_id) == (reviewer.email, reviewer.id)
    address_passed_on(reviewer)
    client = signed_in(app.test_client(), licensing_staff)

    words = _words(client.get(REVIEW.format(application.id)).get_data(as_text=True))
    assert f"by {rejected_by}: Not a use we license." in words
    assert "Ines Newcombe" not in words
    # The list of rejections open to reconsideration names the reviewer too.
    listed = _words(client.get(OPEN).get_data(as_text=True))
    assert f"by {rejected_by}" in listed
    assert "Ines Newcombe" not in listed

    # The vendor asks; a second staff member denies, and their address passes on too.
    vendor_actor = Actor.of(accounts.principal_for(vendor))
    services.request_reconsideration(application.id, "Our revenue is evidenced.", vendor_actor)
    denier, denying = staff_named("Alma Quist")
    denied_by = f"Alma Quist ({denier.email})"
    services.deny_reconsideration(application.id, "The use is still not licensed.", denying)
    address_passed_on(denier)
    words = _words(client.get(REVIEW.format(application.id)).get_data(as_text=True))
    # The rejection is read from its history now, and named by its event's account.
    rejected = words[words.index("Rejected") : words.index("Reconsideration denied")]
    assert f"by {rejected_by}: Not a use we license." in rejected
    denial = words[words.index("Reconsideration denied") :]
    assert f"by {denied_by}: The use is still not licensed." in denial
    assert "Ines Newcombe" not in words


def test_a_decision_taken_before_it_kept_the_account_is_named_by_its_address_as_before(
    app: Flask,
    apply: Callable[..., Application],
    vendor: Any,
    licensing_staff: Any,
    signed_in: SignIn,
) -> None:
    reviewer, rejecting = staff_named("Tomasz Wren")
    recorded = reviewer.email
    application = apply(vendor, STAFF_USE)
    services.reject(application.id, "Not a use we license.", rejecting, now=utcnow())
    # As agreements_0011 leaves a decision taken before: the address alone.
    session = db.session()
    session.execute(
        update(Application).where(Application.id == application.id).values(decided_by_id=None)
    )
    session.commit()
    newcomer = address_passed_on(reviewer)
    client = signed_in(app.test_client(), licensing_staff)
    words = _words(client.get(REVIEW.format(application.id)).get_data(as_text=True))
    assert f"by {newcomer.full_name} ({recorded}): Not a use we license." in words
    assert f"by {newcomer.full_name} ({recorded})" in _words(
        client.get(OPEN).get_data(as_text=True)
    )


def test_the_rejections_open_to_reconsideration_read_who_rejected_in_one_statement(
    app: Flask,
    apply: Callable[..., Application],
    vendor: Any,
    licensing_staff: Any,
    signed_in: SignIn,
) -> None:
    """However many reviewers the page names, one statement reads them."""

    client = signed_in(app.test_client(), licensing_staff)
    first, rejecting = staff_named("Reviewer One")
    services.reject(apply(vendor, STAFF_USE).id, "No.", rejecting, now=utcnow())
    words, few = users_read_in_words(app, client, OPEN)
    assert f"by Reviewer One ({first.email})" in words
    reviewers = [staff_named(f"Reviewer {n}") for n in ("Two", "Three", "Four", "Five")]
    for _person, actor in reviewers:
        services.reject(apply(vendor, STAFF_USE).id, "No.", actor, now=utcnow())
    words, many = users_read_in_words(app, client, OPEN)
    assert many == few
    for person, _actor in reviewers:
        assert f"by {person.full_name} ({person.email})" in words
