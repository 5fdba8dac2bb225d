"""Round 55 (stale55): two billing clerks sending the same monthly statement again
at once: it goes once, and the second clerk is told it just went (`JustSentAgain`,
the guard against a second press).

The page (and the API) reads the statement sent before the step and keeps it
(`sent`, to check its organization); the step then locked it (`session.get(...,
with_for_update=True)`), which waited for the first clerk's resend, but the object
it returned was the one already in the session, with the values read before that
resend committed: `resent_at` still empty, so the guard let the statement go twice
(both databases). This holds the first resend, once it has passed the guard, until
the second starts (or is seen waiting for a lock)."""

from __future__ import annotations

import importlib
import threading
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import select

from licensing import db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.billing import services
from licensing.billing.models import SentStatement
from tests.support import factories
from tests.support.concurrent_steps import held_until, run_at_once
from tests.support.monthly_statements import (
    IN_JANUARY,
    JANUARY,
    RUN,
    invoice,
    organization,
    statement_emails,
)

# The module: its `resend_statement` is the first clerk's (the package's is patched).
monthly = importlib.import_module("licensing.billing.services.monthly_statements")
LATER = RUN + timedelta(days=3)


@pytest.fixture
def resend_holds(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Set once the first resend (thread "first") has passed the guard with the
    statement locked; it then waits until the second clerk's step starts."""
    return held_until(monkeypatch, (monthly, "_not_just_resent"), (services, "resend_statement"))


def test_a_statement_two_clerks_send_again_at_once_goes_once_and_the_second_is_told(
    committed_app: Flask, resend_holds: threading.Event
) -> None:
    with committed_app.app_context():
        organization_id = organization("Harbor Billing Partners").id
        invoice(organization_id, "1200.00", IN_JANUARY)
        services.send_monthly_statements(JANUARY, now=RUN)
        sent_id = db.session().scalars(select(SentStatement.id)).one()
        clerks = [factories.make_staff(db.session(), ("billing",)) for _ in range(2)]
        first_actor, second_actor = (Actor.of(accounts.principal_for(c)) for c in clerks)
        db.session().commit()
        emails_before = len(statement_emails())

    def first() -> int:
        return monthly.resend_statement(sent_id, actor=first_actor, now=LATER).resends

    def second() -> str:
        shown = db.session().get(SentStatement, sent_id)  # kept, as the page keeps it
        try:
            services.resend_statement(sent_id, actor=second_actor, now=LATER)
        except services.JustSentAgain:
            return f"statement {shown.id if shown else '?'} just went"
        return "sent again"

    results = run_at_once(committed_app, first, second, resend_holds)

    assert results == {"first": 1, "second": f"statement {sent_id} just went"}
    with committed_app.app_context():
        sent = db.session().get(SentStatement, sent_id)
        assert sent is not None
        assert sent.resends == 1
        assert len(statement_emails()) == emails_before + 1
