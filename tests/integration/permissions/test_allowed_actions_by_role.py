"""Round 57: a permission request's `allowed_actions` are the steps its reader may
take now, in every state: each step listed is accepted when they take it, each other
refused (403 or 409). The requester's steps (`answer`, `withdraw`,
`request_reconsideration`) were listed to anyone, staff included, though they are
taken only with the status link's token; they are now listed to whoever reads the
request through that link, and `request_reconsideration` only while its 14 days run."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient

from licensing import db
from licensing.accounts import services as accounts
from licensing.accounts.models import Organization, User
from licensing.actors import Actor
from licensing.db import utcnow
from licensing.permissions import services
from licensing.permissions.models import PermissionRequest
from tests.support import factories
from tests.support.allowed_steps import (
    WORDS,
    Reader,
    assert_seen,
    attempt,
    check_state,
    token_reader,
)
from tests.support.settings import permission_sla_days

from .conftest import routed_use, send_routed

STAFF_STEPS = (
    attempt("/actions", "start_review", body={"action": "start_review"}),
    attempt("/actions", "ask_for_info", body={"action": "ask_for_info", "message": WORDS}),
    attempt("/actions", "approve", body={"action": "approve", "conditions": []}),
    attempt("/actions", "deny", body={"action": "deny", "reason": WORDS}),
)
REQUESTER_STEPS = (
    attempt("/answers", "answer", body={"body": WORDS}),
    attempt("/withdrawal", "withdraw", body={}),
    attempt("/reconsideration", "request_reconsideration", body={"body": WORDS}),
)
READERS = ("link holder", "vendor", "licensing staff", "admin", "read-only token")


class Queue:
    """Permission requests a vendor's application sent, in each state, and their
    readers."""

    def __init__(self, vendor: User) -> None:
        session = db.session()
        self.vendor = vendor
        self.licensing_staff = factories.make_staff(session, roles=("licensing",))
        self.admin = factories.make_staff(session, roles=("admin",))
        self.billing_staff = factories.make_staff(session, roles=("billing",))
        self.staff = Actor.of(accounts.principal_for(self.licensing_staff))
        self.made = 0

    def reader(self, name: str) -> Reader:
        if name == "link holder":
            return Reader(name, {})
        if name == "read-only token":
            return token_reader(name, self.admin, read_only=True)
        users = {
            "vendor": self.vendor,
            "licensing staff": self.licensing_staff,
            "admin": self.admin,
        }
        return token_reader(name, users[name])

    def submitted(self) -> PermissionRequest:
        # Each request a use of its own application (the routing makes one a use).
        self.made += 1
        organization = db.session().get(Organization, self.vendor.organization_id)
        request = send_routed(
            routed_use(
                organization.id,
                organization.legal_name,
                application_id=5100 + self.made,
                requester_email=self.vendor.email,
                requester_name=self.vendor.full_name,
                requester_user_id=self.vendor.id,
            )
        )
        assert request.state == "submitted"
        return request

    def in_review(self) -> PermissionRequest:
        request = self.submitted()
        return services.start_review(request.id, self.staff)

    def needs_info(self) -> PermissionRequest:
        request = self.in_review()
        return services.ask_for_info(request.id, WORDS, self.staff)

    def approved(self) -> PermissionRequest:
        request = self.in_review()
        return services.approve(request.id, self.staff, conditions=[])

    def denied(self) -> PermissionRequest:
        request = self.in_review()
        return services.deny(request.id, WORDS, self.staff)

    def denied_long_ago(self) -> PermissionRequest:
        """Denied, its 14 days to ask for reconsideration over (the clock moved on)."""
        request = self.denied()
        with db.transaction():
            request.reconsideration_due_at = utcnow() - timedelta(days=1)
        return request

    def reconsideration(self) -> PermissionRequest:
        request = self.denied()
        return services.request_reconsideration(
            services.status_token(request), WORDS, sla_days=permission_sla_days()
        )

    def withdrawn(self) -> PermissionRequest:
        request = self.submitted()
        return services.withdraw(services.status_token(request))


@pytest.fixture
def queue(app: Flask, vendor: User) -> Queue:
    return Queue(vendor)


@pytest.mark.parametrize("role", READERS)
def test_a_permission_requests_allowed_actions_are_the_steps_its_reader_may_take_in_every_state(
    client: FlaskClient, queue: Queue, role: str
) -> None:
    reader = queue.reader(role)
    states: list[tuple[str, str, Callable[[], PermissionRequest]]] = [
        ("submitted", "submitted", queue.submitted),
        ("in_review", "in_review", queue.in_review),
        ("needs_info", "needs_info", queue.needs_info),
        ("approved", "approved", queue.approved),
        ("denied", "denied", queue.denied),
        ("denied, its window over", "denied", queue.denied_long_ago),
        ("reconsideration", "reconsideration", queue.reconsideration),
        ("withdrawn", "withdrawn", queue.withdrawn),
    ]
    for name, state, make in states:
        if role == "link holder":
            build = lambda make=make: (  # noqa: E731
                f"/api/v1/permission-status/{services.status_token(make())}"
            )
            steps = REQUESTER_STEPS
        else:
            build = lambda make=make: f"/api/v1/permission-requests/{make().id}"  # noqa: E731
            steps = STAFF_STEPS
        reader.seen[name] = check_state(client, reader, state, build, steps)

    expected: dict[str, dict[str, list[str]]] = {
        "link holder": {
            "submitted": ["withdraw"],
            "needs_info": ["answer", "withdraw"],
            "denied": ["request_reconsideration"],
            "denied, its window over": [],
        },
        # The vendor reads the request of its application; the requester's steps take
        # the status link's token, and the office's steps are the office's.
        "vendor": {name: [] for name in reader.seen},
        "licensing staff": {
            "submitted": ["approve", "ask_for_info", "deny", "start_review"],
            "needs_info": [],
            "denied": [],
            "reconsideration": ["approve", "ask_for_info", "deny", "start_review"],
        },
        "read-only token": {name: [] for name in reader.seen},
    }
    expected["admin"] = expected["licensing staff"]
    assert_seen(reader, expected)
    # Round 58: a refused step's 409 lists what reading it lists (`check_state`): the
    # link's holder refused an answer in review was told the office's `approve`...
    told = {"link holder": {"in_review": ["withdraw"]}, "licensing staff": {"needs_info": []}}
    for state, steps in told.get(role, {}).items():
        assert reader.told[state] == steps, (role, state)


def test_billing_staff_read_no_permission_request(client: FlaskClient, queue: Queue) -> None:
    url = f"/api/v1/permission-requests/{queue.submitted().id}"
    assert client.get(url, headers=factories.bearer(queue.billing_staff)).status_code == 403
