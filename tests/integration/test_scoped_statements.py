"""A statement kept per process (`ScopedStatement`) lets every kind of caller see
exactly the rows that `scoped` does for the same statement built per call."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import select

from licensing import db
from licensing.access import Principal
from licensing.accounts import services as accounts
from licensing.accounts.models import User
from licensing.accounts.queries import ScopedStatement, scoped
from licensing.actors import Actor

USERS = select(User.id).order_by(User.id)
KEPT = ScopedStatement(USERS, User)


def _ids(statement: Any, parameters: dict[str, Any] | None = None) -> list[int]:
    return list(db.session().scalars(statement, parameters or {}))


def _alike(caller: Any) -> list[int]:
    built = _ids(scoped(USERS, User, caller))
    assert _ids(*KEPT.for_caller(caller)) == built
    return built


def test_each_caller_sees_through_a_kept_statement_what_scoped_shows(
    app: Flask, vendor: User, other_vendor: User, licensing_staff: User
) -> None:
    everyone = _ids(USERS)
    own = accounts.principal_for(vendor)
    assert _alike(own) == [vendor.id]
    assert _alike(Actor.of(own)) == [vendor.id]
    assert _alike(accounts.principal_for(other_vendor)) == [other_vendor.id]
    assert _alike(accounts.principal_for(licensing_staff)) == everyone
    assert _alike(Actor.SYSTEM) == everyone
    assert _alike(None) == everyone  # outside a request: the system acts
    # Neither an organization nor a staff role: users of no organization (staff).
    assert _alike(Principal(user_id=0, email="x@example.com")) == [licensing_staff.id]
    with app.test_request_context():
        assert _alike(None) == []  # a request with nobody signed in


def test_a_list_statement_is_kept_per_filter_and_caller_and_never_shared_across_them(
    app: Flask, vendor: User, other_vendor: User, licensing_staff: User
) -> None:
    from licensing.agreements import queries

    own, theirs, staff = (
        accounts.principal_for(user) for user in (vendor, other_vendor, licensing_staff)
    )
    listed = queries.QueueFilter(states=["submitted"], sort="newest")
    kept = queries.vendor_rows_query(own, ["submitted"])
    again = queries.QueueFilter(["submitted"], sort="newest")
    assert queries.vendor_rows_query(own, ("submitted",)) is kept
    others = [
        queries.vendor_rows_query(theirs, ["submitted"]),
        queries.vendor_rows_query(staff, ["submitted"]),
        queries.vendor_rows_query(own, ["draft"]),
        queries.vendor_rows_query(own),
        queries.application_count_query(own, listed),
        queries.queue_rows_query(own, listed),
    ]
    assert queries.queue_rows_query(own, again) is queries.queue_rows_query(own, listed)
    assert all(statement is not kept for statement in others)
    # What each lists is held by tests/integration/agreements/test_list_pages.py
    # (two vendors' lists in one process, every filter and order counted).


def test_a_vendor_s_dashboard_and_list_show_their_own_permission_requests_only(
    app: Flask, vendor: User, other_vendor: User, signed_in: Any
) -> None:
    from tests.integration.permissions.conftest import routed_use, send_routed

    def routed(owner: User, application_id: int) -> Any:
        organization = owner.organization
        assert organization is not None
        use = routed_use(organization.id, organization.legal_name, application_id=application_id)
        return send_routed(use)

    own, theirs = routed(vendor, 4101), routed(other_vendor, 4102)
    client = signed_in(app.test_client(), vendor)
    for page in ("/portal/", "/portal/permissions/"):
        text = client.get(page).get_data(as_text=True)
        assert own.reference in text, page
        assert theirs.reference not in text, page
