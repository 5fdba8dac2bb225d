"""Round 50: the watch the journey tests run under (`tests.support.audited`): a
service's unit of work that changes a record's state without an audit event is
named, so every journey asserts the audit log kept up with it. Round 51: the whole
integration tier runs under it (`tests/integration/conftest.py`); a unit of work a
test opens itself is its set-up, and an UPDATE ... RETURNING is seen on SQLite too."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from licensing import db
from licensing.accounts.models import ApiToken, User
from licensing.accounts.services import members
from licensing.actors import Actor
from licensing.audit.models import AuditEvent
from tests.support import factories
from tests.support.audited import unaudited_state_changes

COLLEAGUE = "priya@northwind.example"


def test_a_unit_of_work_that_changes_a_state_without_an_audit_event_is_named(
    app: Flask, vendor: User
) -> None:
    # The test's own unit stands for a service's here.
    with unaudited_state_changes(app, tests_own_units=True) as watch, db.transaction() as session:
        found = session.get(User, vendor.id)
        assert found is not None
        found.is_active = False
    assert len(watch.gaps) == 1
    assert watch.gaps == [f"users.is_active of {vendor.id}"]


def test_a_tests_own_set_up_and_a_rolled_back_unit_are_not_watched(
    app: Flask, vendor: User
) -> None:
    with unaudited_state_changes(app) as watch:
        session = db.session()
        factories.make_vendor(session, organization=vendor.organization).is_active = False
        session.commit()
        try:
            with db.transaction() as unit:
                found = unit.get(User, vendor.id)
                assert found is not None
                found.is_active = False
                unit.flush()
                raise RuntimeError("refused")
        except RuntimeError:
            pass
    assert watch.gaps == []


def test_replacing_a_pending_invitation_leaves_no_state_change_unaudited(
    app: Flask, client: FlaskClient, vendor: User
) -> None:
    headers = factories.bearer(vendor)
    url = f"/api/v1/organizations/{vendor.organization_id}/invitations"
    with unaudited_state_changes(app) as watch:
        client.post(url, json={"email": COLLEAGUE}, headers=headers)
        client.post(url, json={"email": COLLEAGUE}, headers=headers)
    assert watch.gaps == []
    assert watch.audited_units == 1  # the second invitation withdrew the first


def test_a_unit_of_work_a_test_opens_to_set_a_state_by_hand_is_not_watched(
    app: Flask, vendor: User
) -> None:
    colleague = factories.make_vendor(db.session(), organization=vendor.organization)
    db.session().commit()
    with unaudited_state_changes(app) as watch:
        with db.transaction() as session:
            found = session.get(User, colleague.id)
            assert found is not None
            found.is_active = False
        factories.bearer(vendor)  # a service's unit, then the helper's own UPDATE
    assert watch.units >= 2
    assert watch.gaps == []


def test_an_update_returning_its_rows_that_changes_a_state_unaudited_is_named_by_id(
    app: Flask, vendor: User
) -> None:
    """SQLite counts an UPDATE ... RETURNING's rows only as they are read: the watch
    reads them through (round 50 saw such a change on PostgreSQL alone), and hands
    them back to the caller whole."""
    tokens = factories.api_tokens(vendor, 2, 1)
    with unaudited_state_changes(app, tests_own_units=True) as watch, db.transaction() as session:
        returned = session.execute(
            update(ApiToken)
            .where(ApiToken.user_id == vendor.id)
            .values(revoked_at=db.utcnow())
            .returning(ApiToken.id, ApiToken.name)
        ).all()
    assert sorted(row.id for row in returned) == tokens
    assert {row.name for row in returned} == {"token 1", "token 2"}
    assert watch.gaps == [f"api_tokens.revoked_at of {tokens[0]}, {tokens[1]}"]


def test_an_update_returning_no_rows_is_no_change(app: Flask, vendor: User) -> None:
    with unaudited_state_changes(app, tests_own_units=True) as watch, db.transaction() as session:
        returned = session.execute(
            update(ApiToken)
            .where(ApiToken.user_id == vendor.id)
            .values(revoked_at=db.utcnow())
            .returning(ApiToken.id)
        ).all()
    assert returned == []
    assert watch.gaps == []


def test_a_bulk_revocation_that_audits_each_token_it_returns_leaves_no_gap(
    app: Flask, vendor: User
) -> None:
    """`revoke_tokens` revokes in one UPDATE ... RETURNING and audits each token."""
    tokens = factories.api_tokens(vendor, 3, 1)
    user = db.session().get(User, vendor.id)
    assert user is not None
    with unaudited_state_changes(app, tests_own_units=True) as watch, db.transaction() as session:
        members.revoke_tokens(session, user, Actor.SYSTEM, "left")
    assert watch.gaps == []
    assert watch.audited_units == 1
    audited = db.session().scalars(
        select(AuditEvent.entity_id).where(AuditEvent.action == "api_token.revoked")
    )
    assert sorted(int(entity_id) for entity_id in audited) == tokens
