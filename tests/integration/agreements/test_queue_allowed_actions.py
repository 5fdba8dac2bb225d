"""Round 57: the licensing queue's `allowed_actions` cost no statement per
application. (Round 63: moved here from `test_allowed_actions_by_role.py`, whose
tests now read records its module makes once: this test counts the queue's rows.)"""

from __future__ import annotations

from flask import Flask

from licensing import db
from licensing.accounts import services as accounts
from licensing.accounts.models import User
from licensing.actors import Actor
from licensing.agreements import services
from tests.integration.agreements.conftest import draft
from tests.support import factories
from tests.support.allowed_steps import WORDS
from tests.support.settings import issuing
from tests.support.statements import statements_for
from tests.support.uses import STAFF_USE


def test_the_queues_allowed_actions_ask_no_statement_per_application(
    app: Flask, licensing_staff: User, example_card: str
) -> None:
    # Six organizations, so that reading each one's standing per row would show.
    reviewer = Actor.of(accounts.principal_for(licensing_staff))
    for position in range(6):
        vendor = factories.make_vendor(db.session())
        actor = Actor.of(accounts.principal_for(vendor))
        application_id = services.create_draft(actor, draft(STAFF_USE)).id
        services.submit(application_id, actor, policy=issuing(), attest=True)
        if position % 2:
            services.start_review(application_id, reviewer)
            services.escalate(application_id, WORDS, reviewer)
    db.session().commit()
    client, headers = app.test_client(), factories.bearer(licensing_staff)
    at_two = statements_for(app, client, "/api/v1/applications?per_page=2", headers=headers)
    at_six = statements_for(app, client, "/api/v1/applications?per_page=6", headers=headers)
    assert at_six == at_two
    listed = client.get("/api/v1/applications?per_page=6", headers=headers).get_json()
    # The escalated ones are a second reviewer's to decide.
    assert (
        sorted(tuple(row["allowed_actions"]) for row in listed)
        == [
            ("approve", "reject", "return", "start_review"),
        ]
        * 3
        + [("return",)] * 3
    )
