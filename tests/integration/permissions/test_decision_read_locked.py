"""Round 55 (stale55): licensing staff approving a permission request while its
requester withdraws it from their status page, at once: the approval commits first
and the withdrawal is refused (409), the grant and its one letter kept.

The status page's step reads the request by its link and keeps it while the step
runs (`_requester_step`: `found`, for the page shown on a refusal); the step then
locked it by the same link (`by_status_token(lock=True)`, a SELECT ... FOR UPDATE),
which waited for the approval, but the row it returned was the object already in
the session, and SQLAlchemy kept the values read before the approval committed: the
withdrawal saw the request still open and withdrew the granted request (its letter
issued, the requester told it was granted). Both databases. This holds the
approval, once it has the request, until the withdrawal starts (or is seen waiting
for a lock)."""

from __future__ import annotations

import importlib
import threading

import pytest
from flask import Flask
from sqlalchemy import func, select

from licensing import db
from licensing.errors import Conflict
from licensing.permissions import services
from licensing.permissions.models import PermissionLetter, PermissionRequest
from tests.integration.permissions.conftest import OFFICE, last_mail, request_input, token_in
from tests.support.concurrent_steps import held_until, run_at_once
from tests.support.settings import permission_sla_days

# The module (the package's `decisions` is not exported by name).
decisions = importlib.import_module("licensing.permissions.services.decisions")


@pytest.fixture
def approval_holds(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Set once the approval (thread "first") holds the request's lock; it then waits
    until the withdrawal (thread "second") starts, or is seen waiting for a lock."""
    return held_until(monkeypatch, (decisions, "locked"), (services, "withdraw"))


def test_a_request_approved_while_its_requester_withdraws_it_stays_approved(
    committed_app: Flask, approval_holds: threading.Event
) -> None:
    with committed_app.app_context():
        created = services.submit_request(request_input())
        raw = token_in(last_mail(created.requester_email), "/permissions/confirm/")
        confirmed = services.confirm_email(raw, sla_days=permission_sla_days())
        request_id, token = confirmed.id, services.status_token(confirmed)

    def approval() -> str:
        return services.approve(request_id, OFFICE).state

    def withdrawal() -> str:
        shown = services.request_for_link(token)  # kept while the step runs, as the page does
        try:
            return services.withdraw(token).state
        except Conflict as refusal:
            return f"{shown.reference}: {refusal}"

    results = run_at_once(committed_app, approval, withdrawal, approval_holds)

    assert results["first"] == "approved"
    assert "approved cannot be withdrawn" in results["second"]
    with committed_app.app_context():
        request = db.session().get(PermissionRequest, request_id)
        assert request is not None
        assert request.state == "approved"
        letters = select(func.count()).where(PermissionLetter.request_id == request_id)
        assert db.session().scalar(letters) == 1
