"""Round 47: the vendor dashboard's permission requests are the open ones, and it
reads only those. It read every request the organization ever sent (newest first) and
skipped the decided ones in Python: a university's years of granted requests were
read on every visit once one was open."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import event, update

from licensing import db
from licensing.accounts import services as accounts
from licensing.permissions import views as permission_views
from licensing.permissions.models import PermissionRequest
from licensing.permissions.states import APPROVED, DENIED, WITHDRAWN
from tests.integration.permissions.conftest import routed_use, send_routed


def test_the_dashboard_reads_only_the_organizations_open_requests(app: Flask, vendor: Any) -> None:
    organization = vendor.organization
    sent = [
        send_routed(
            routed_use(organization.id, organization.legal_name, application_id=7000 + index)
        )
        for index in range(8)
    ]
    session = db.session()
    closed = {sent[0].id: APPROVED, sent[1].id: DENIED, sent[2].id: WITHDRAWN}
    for request_id, state in closed.items():
        session.execute(
            update(PermissionRequest).where(PermissionRequest.id == request_id).values(state=state)
        )
    session.commit()
    session.expunge_all()
    loaded: list[int] = []

    def on_load(target: PermissionRequest, _context: Any) -> None:
        loaded.append(target.id)

    event.listen(PermissionRequest, "load", on_load)
    try:
        with app.test_request_context("/portal/"):
            principal = accounts.principal_for(vendor)
            items = list(permission_views._permissions_waiting(session, principal, organization))
    finally:
        event.remove(PermissionRequest, "load", on_load)
    still_open = [request.id for request in reversed(sent) if request.id not in closed]
    assert loaded == still_open
    assert [item.url.rsplit("/", 1)[-1] for item in items] == [str(i) for i in still_open]
