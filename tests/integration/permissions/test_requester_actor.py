"""A permission requester acts by the link emailed to them, as a link actor: its
steps are audited under the requester's email with no user, and it is refused
every staff use case (it once counted as the system, which holds every role)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from licensing import db
from licensing.accounts import queries
from licensing.accounts import services as accounts
from licensing.accounts.models import User
from licensing.audit.models import AuditEvent
from licensing.errors import NotFound, PermissionDenied
from licensing.permissions import services
from licensing.permissions.models import PermissionRequest
from licensing.permissions.services._common import requester
from tests.integration.permissions.conftest import submit  # noqa: F401 - the fixture
from tests.support import factories

Submit = Callable[..., tuple[PermissionRequest, str]]


def test_a_requester_actor_is_refused_approving_their_own_request(
    app: Flask,
    submit: Submit,  # noqa: F811
) -> None:
    request, _token = submit()
    with pytest.raises(PermissionDenied, match="licensing role"):
        services.approve(request.id, requester(request))
    db.session().expire_all()
    assert db.session().get(PermissionRequest, request.id).state == request.state  # type: ignore[union-attr]


def test_a_requester_actor_cannot_reach_a_staff_account_to_deactivate_it(
    app: Flask,
    submit: Submit,  # noqa: F811
) -> None:
    request, _token = submit()
    admin = factories.make_staff(db.session(), ("admin",))
    with pytest.raises(NotFound):
        accounts.set_user_active(admin.id, False, requester(request))
    db.session().expire_all()
    assert db.session().get(User, admin.id).is_active  # type: ignore[union-attr]


def test_a_requesters_withdrawal_is_audited_under_their_email_with_no_user(
    app: Flask,
    submit: Submit,  # noqa: F811
) -> None:
    request, token = submit()
    services.withdraw(token, reason="The course was cancelled.")
    event = (
        db.session()
        .scalars(
            select(AuditEvent)
            .where(AuditEvent.entity_type == "permission_request")
            .order_by(AuditEvent.seq.desc())
        )
        .first()
    )
    assert event is not None
    assert (event.action, event.actor, event.actor_user_id) == (
        "permission_request.withdrawn",
        request.requester_email,
        None,
    )


def test_a_requester_actor_lists_no_users_of_any_organization_or_the_office(
    app: Flask, vendor: Any
) -> None:
    actor = requester(PermissionRequest(requester_email="lena.ortiz@cedar-ridge.example"))
    assert db.session().scalars(queries.scoped(select(User), User, actor)).all() == []
