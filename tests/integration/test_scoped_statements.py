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
