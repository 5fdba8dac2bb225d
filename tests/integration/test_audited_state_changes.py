"""Round 50: the watch the journey tests run under (`tests.support.audited`): a
service's unit of work that changes a record's state without an audit event is
named, so every journey asserts the audit log kept up with it."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from licensing import db
from licensing.accounts.models import User
from tests.support import factories
from tests.support.audited import unaudited_state_changes

COLLEAGUE = "priya@northwind.example"


def test_a_unit_of_work_that_changes_a_state_without_an_audit_event_is_named(
    app: Flask, vendor: User
) -> None:
    with unaudited_state_changes(app) as watch, db.transaction() as session:
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
