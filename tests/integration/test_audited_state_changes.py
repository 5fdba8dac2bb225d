"""Round 50: the watch the journey tests run under (`tests.support.audited`): a
service's unit of work that changes a record's state without an audit event is
named, so every journey asserts the audit log kept up with it. Round 51: the whole
integration tier runs under it (`tests/integration/conftest.py`); a unit of work a
test opens itself is its set-up, and an UPDATE ... RETURNING is seen on SQLite too."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import delete, select, update

from licensing import db
from licensing.accounts.models import ApiToken, Organization, RecoveryCode, User
from licensing.accounts.services import members
from licensing.actors import Actor
from licensing.audit import services as audit
from licensing.audit.models import AuditEvent
from licensing.billing.models import IdempotentRequest
from tests.support import factories
from tests.support.audited import (
    DELETE_EXEMPT,
    EXEMPT_TABLES,
    OWNERS,
    unaudited_state_changes,
)

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


# Round 52: a DELETE ends the records it removes, and an INSERT may make one
# straight into a state; both are watched as an UPDATE of its state is.


def test_a_record_deleted_without_an_audit_event_is_named_by_id(app: Flask, vendor: User) -> None:
    tokens = factories.api_tokens(vendor, 2, 1)
    with unaudited_state_changes(app, tests_own_units=True) as watch, db.transaction() as session:
        found = session.get(ApiToken, tokens[1])
        assert found is not None
        session.delete(found)
    assert watch.gaps == [f"api_tokens deleted: {tokens[1]}"]


def test_a_bulk_delete_is_named_by_the_ids_it_removed_and_one_that_removes_none_is_not(
    app: Flask, vendor: User
) -> None:
    tokens = factories.api_tokens(vendor, 3, 1)
    with unaudited_state_changes(app, tests_own_units=True) as watch, db.transaction() as session:
        session.execute(delete(ApiToken).where(ApiToken.id.in_(tokens[:2])))
        session.execute(delete(ApiToken).where(ApiToken.user_id == -1))
    assert watch.gaps == [f"api_tokens deleted: {tokens[0]}, {tokens[1]}"]
    assert db.session().scalars(select(ApiToken.id)).all() == [tokens[2]]  # deleted as asked


def test_a_deletion_is_audited_by_an_event_on_the_record_or_on_the_account_it_is_part_of(
    app: Flask, vendor: User
) -> None:
    """A passkey, recovery codes and remembered browsers are the account's: the
    step's event on the user tells of them (`OWNERS`); on another user it does not."""
    session = db.session()
    other = factories.make_vendor(session, organization=vendor.organization)
    session.add_all(RecoveryCode(user_id=vendor.id, code_hash=f"{n:064d}") for n in range(2))
    session.commit()
    token = factories.api_tokens(vendor, 1, 1)[0]
    with unaudited_state_changes(app, tests_own_units=True) as watch:
        with db.transaction() as unit:
            unit.execute(delete(RecoveryCode).where(RecoveryCode.user_id == vendor.id))
            audit.record_event(
                unit, "user.recovery_codes_regenerated", vendor.id, after=None, actor=Actor.SYSTEM
            )
        with db.transaction() as unit:
            unit.execute(delete(ApiToken).where(ApiToken.id == token))
            audit.record_event(unit, "api_token.revoked", token, after=None, actor=Actor.SYSTEM)
    assert watch.gaps == []
    session.add(RecoveryCode(user_id=vendor.id, code_hash="9" * 64))
    session.commit()
    with unaudited_state_changes(app, tests_own_units=True) as watch, db.transaction() as unit:
        unit.execute(delete(RecoveryCode).where(RecoveryCode.user_id == vendor.id))
        audit.record_event(
            unit, "user.recovery_codes_regenerated", other.id, after=None, actor=Actor.SYSTEM
        )
    assert len(watch.gaps) == 1
    assert watch.gaps[0].startswith("recovery_codes deleted: ")


def test_an_exempt_deletion_is_not_named_and_every_exemption_gives_its_reason(
    app: Flask, vendor: User
) -> None:
    db.session().add(
        IdempotentRequest(
            user_id=vendor.id,
            key_hash="1" * 64,
            request_hash="2" * 64,
            response_status=201,
            response_body="{}",
        )
    )
    db.session().commit()
    with unaudited_state_changes(app, tests_own_units=True) as watch, db.transaction() as session:
        session.execute(delete(IdempotentRequest))
    assert watch.gaps == []
    assert all(len(reason) > 40 for reason in DELETE_EXEMPT.values())


def test_a_tests_own_deletion_is_its_set_up_and_is_not_watched(app: Flask, vendor: User) -> None:
    tokens = factories.api_tokens(vendor, 2, 1)
    with unaudited_state_changes(app) as watch:
        with db.transaction() as session:
            session.execute(delete(ApiToken).where(ApiToken.id == tokens[0]))
        session = db.session()
        session.execute(delete(ApiToken).where(ApiToken.id == tokens[1]))
        session.commit()
    assert watch.gaps == []


def test_a_record_made_straight_into_a_state_without_an_audit_event_is_named_by_id(
    app: Flask, vendor: User
) -> None:
    """A token made revoked, an account made deactivated: their making is their
    state's change. Made at their beginning (a live token) they are not watched."""
    with unaudited_state_changes(app, tests_own_units=True) as watch, db.transaction() as session:
        revoked = ApiToken(
            user_id=vendor.id,
            name="made revoked",
            token_hash="3" * 64,
            prefix="lic_3",
            revoked_at=db.utcnow(),
        )
        live = ApiToken(user_id=vendor.id, name="made live", token_hash="4" * 64, prefix="lic_4")
        session.add_all([revoked, live])
        session.flush()
        made = revoked.id
    assert watch.gaps == [f"api_tokens.revoked_at made in a state: {made}"]


def test_records_made_in_a_state_by_one_statement_are_named_by_id_unless_audited(
    app: Flask, vendor: User
) -> None:
    rows = [
        {
            "user_id": vendor.id,
            "name": f"bulk {n}",
            "token_hash": f"{n:064d}",
            "prefix": "lic_5",
            "revoked_at": db.utcnow(),
        }
        for n in (5, 6)
    ]
    with unaudited_state_changes(app, tests_own_units=True) as watch, db.transaction() as session:
        session.add_all(ApiToken(**row) for row in rows)
        session.flush()
        made = sorted(session.scalars(select(ApiToken.id).where(ApiToken.name.like("bulk %"))))
        audit.record_event(session, "api_token.revoked", made[0], after=None, actor=Actor.SYSTEM)
    assert watch.gaps == [f"api_tokens.revoked_at made in a state: {made[1]}"]


def test_a_state_a_machine_does_not_begin_in_is_a_state_to_be_made_in(
    app: Flask, vendor: User
) -> None:
    """An organization made `active` skips `applying`; made `applying` it begins."""
    with unaudited_state_changes(app, tests_own_units=True) as watch, db.transaction() as session:
        active = Organization(**factories.organization_fields(), standing="active")
        applying = Organization(**factories.organization_fields(), standing="applying")
        session.add_all([active, applying])
        session.flush()
        made = active.id
    assert watch.gaps == [f"organizations.standing made in a state: {made}"]


def test_every_table_the_watch_names_is_one_of_ours() -> None:
    """Round 52: the job history was exempt as `past_runs`, its model's name; the
    watch named its pruning unaudited once it saw DELETEs."""
    tables = set(db.Base.metadata.tables)
    exempt = {key if isinstance(key, str) else key[0] for key in DELETE_EXEMPT}
    assert set(EXEMPT_TABLES) | exempt | set(OWNERS) <= tables
    assert {owner for owner, _ in OWNERS.values()} <= tables
    assert all(column in db.Base.metadata.tables[table].c for table, (_, column) in OWNERS.items())
