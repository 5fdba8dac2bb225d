"""Round 49: deactivating an account (or moving it) revoked its API tokens one by one,
reading every token of the user's and writing and auditing each in statements of
its own. One UPDATE revokes them; each is still audited `api_token.revoked` as
before (its own event, `revoked_at` before and after, the note), and the chain
verifies; the same statements at 10 and at 100 tokens."""

from __future__ import annotations

import json

from flask import Flask
from sqlalchemy import select

from licensing import db
from licensing.accounts import services
from licensing.accounts.models import ApiToken, User
from licensing.actors import Actor
from licensing.audit.models import AuditEvent
from licensing.audit.services import verify_chain
from tests.support import factories
from tests.support.statements import sent_by


def _deactivated(app: Flask, user: User, admin: User) -> int:
    actor = Actor.of(services.principal_for(admin))
    with sent_by(app) as statements:
        services.set_user_active(user.id, False, actor)
    return len(statements)


def test_deactivating_revokes_every_token_in_one_update_each_audited(
    app: Flask, vendor: User, admin: User
) -> None:
    session = db.session()
    few = factories.make_vendor(session, organization=vendor.organization)
    many = factories.make_vendor(session, organization=vendor.organization)
    factories.api_tokens(few, 10, 1)
    ids = factories.api_tokens(many, 100, 11)
    (already,) = factories.api_tokens(many, 1, 200)
    session.execute(
        ApiToken.__table__.update().where(ApiToken.id == already).values(revoked_at=db.utcnow())
    )
    session.commit()

    at_10 = _deactivated(app, few, admin)
    at_100 = _deactivated(app, many, admin)
    assert at_100 == at_10

    session.expire_all()
    assert all(
        token.revoked_at is not None
        for token in session.scalars(select(ApiToken).where(ApiToken.user_id == many.id))
    )
    events = session.scalars(
        select(AuditEvent)
        .where(
            AuditEvent.action == "api_token.revoked",
            AuditEvent.entity_id.in_([str(token_id) for token_id in [*ids, already]]),
        )
        .order_by(AuditEvent.seq)
    ).all()
    # One event a token revoked now (not the one revoked before), newest first, as before.
    assert [event.entity_id for event in events] == [str(token_id) for token_id in reversed(ids)]
    for event in events:
        assert event.entity_type == "api_token"
        assert event.actor == admin.email
        assert json.loads(event.before or "") == {"revoked_at": None}
        assert json.loads(event.after or "")["revoked_at"]
        assert event.note is not None
        assert many.email in event.note
    assert verify_chain(session).ok
