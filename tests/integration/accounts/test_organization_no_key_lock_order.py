"""Round 57: the steps that lock an organization after their turn on the audit log
(`locked_organization`: a role change, an invitation, a move, a member's access, the
two-step requirement, a staff change of standing) and a step that stores a row naming
the organization before its own first event, at once: both finish (the lock order,
`licensing/accounts/services/__init__.py`).

A row naming the organization (the statement the monthly run sends, the account an
invitation's acceptance creates) makes PostgreSQL check that key with FOR KEY SHARE
of the organization's row, before the step audits. `locked_organization` took the
row FOR UPDATE after the log's turn: it waited for that key share while the other
step waited for the log, "deadlock detected" (locks56's finding 2, for every caller).
None of them changes the organization's key or deletes it, so FOR NO KEY UPDATE is
enough: they still take turns among themselves, and no longer wait for a key check.

Each test holds the locking step once it has its turn on the log, until the other
step has stored its row (or is seen waiting for a lock, in the order that takes turns).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest
from flask import Flask
from sqlalchemy import select

from licensing import db
from licensing.access import ADMINISTRATOR
from licensing.accounts import services as accounts
from licensing.accounts.models import Organization, User
from licensing.actors import Actor
from licensing.billing import services as billing
from licensing.billing.services import monthly_statements
from licensing.mail.models import OutboxMessage
from tests.integration.billing.conftest import activated, send_activation
from tests.support import factories
from tests.support.concurrent_steps import (
    at_first_event,
    before_organization_lock,
    held_until,
    run_at_once,
)

JANUARY, RUN = date(2027, 1, 1), datetime(2027, 2, 3, 15, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Organizations:
    """An organization with a January statement due, its administrator and a member,
    and another organization (where a move takes the member)."""

    organization_id: int
    administrator_id: int
    member_id: int
    other_id: int

    def vendor(self) -> Actor:
        user = db.session().get(User, self.administrator_id)
        assert user is not None
        return Actor.of(accounts.principal_for(user))


def _organizations(app: Flask) -> Organizations:
    with app.app_context():
        session = db.session()
        administrator = factories.make_vendor(session)
        organization_id = administrator.organization_id
        assert organization_id is not None
        member = factories.make_vendor(session, administrator.organization, role="member")
        other = factories.make_organization(session)
        found = Organizations(organization_id, administrator.id, member.id, other.id)
        session.commit()
        assert send_activation(activated(organization_id, ("250.00",))) is not None
        return found


def _role_change(found: Organizations) -> object:
    actor = factories.staff_actor(("licensing",))
    return accounts.set_organization_role(found.member_id, ADMINISTRATOR, actor).organization_role


def _invitation(found: Organizations) -> object:
    return accounts.invite_member(
        found.organization_id, "joining@northwind.example", found.vendor()
    ).email


def _move(found: Organizations) -> object:
    actor = factories.staff_actor(("admin",))
    move = accounts.move_user(found.member_id, found.other_id, "Joined the sister company.", actor)
    return move.user.organization_id == found.other_id


def _access_removed(found: Organizations) -> object:
    return accounts.set_user_active(found.member_id, False, found.vendor()).is_active


def _two_step_required(found: Organizations) -> object:
    return accounts.require_for_organization(
        found.vendor(), found.organization_id, True
    ).organization.two_step_required


def _suspended(found: Organizations) -> object:
    actor = factories.staff_actor(("licensing",))
    return accounts.change_organization_standing(
        found.organization_id, "suspend", reason="Audit of reported usage.", actor=actor
    ).standing


STEPS: dict[str, Callable[[Organizations], object]] = {
    "a role change": _role_change,
    "an invitation": _invitation,
    "a move": _move,
    "a member's access removed": _access_removed,
    "two-step sign-in required": _two_step_required,
    "a staff change of standing": _suspended,
}


@pytest.fixture
def step_has_its_turn(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Set once the locking step (thread "first") is about to lock the organization
    (round 58: where it took its turn on the audit log until the head was locked at
    commit); it then waits until the statement run (thread "second")
    has stored the statement it sends, or is seen waiting for a lock."""
    return held_until(
        monkeypatch, before_organization_lock(monkeypatch), (monthly_statements, "_email_statement")
    )


@pytest.mark.parametrize("name", list(STEPS))
def test_a_step_locking_the_organization_and_the_monthly_statement_run_both_finish(
    committed_app: Flask, step_has_its_turn: threading.Event, name: str
) -> None:
    found = _organizations(committed_app)

    def statement_run() -> int:
        run = billing.send_monthly_statements(
            JANUARY, now=RUN, due=[(found.organization_id, "USD")]
        )
        return len(run.sent)

    results = run_at_once(
        committed_app, lambda: STEPS[name](found), statement_run, step_has_its_turn
    )

    assert results["second"] == 1
    assert (
        results["first"]
        == {
            "a role change": ADMINISTRATOR,
            "an invitation": "joining@northwind.example",
            "a move": True,
            "a member's access removed": False,
            "two-step sign-in required": True,
            "a staff change of standing": "suspended",
        }[name]
    )


@pytest.fixture
def role_change_has_its_turn(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Set once the role change (thread "first") is about to lock the organization
    (round 58: where it took its turn on the audit log until the head was locked at
    commit); it then waits until the invitation's acceptance (thread
    "second") comes to its first event, the new account stored, or is seen waiting for a lock."""
    return held_until(
        monkeypatch, before_organization_lock(monkeypatch), at_first_event(monkeypatch)
    )


def test_a_role_change_and_an_invitation_accepted_at_once_both_finish(
    committed_app: Flask, role_change_has_its_turn: threading.Event
) -> None:
    """The acceptance stores the account (naming the organization: its key share),
    then audits `invitation.accepted`; the role change holds the log and asked for the
    organization FOR UPDATE."""
    found = _organizations(committed_app)
    with committed_app.app_context():
        accounts.invite_member(found.organization_id, "joining@northwind.example", found.vendor())
        (mail,) = [
            message
            for message in db.session().scalars(select(OutboxMessage))
            if message.to == ["joining@northwind.example"]
        ]
        link = re.search(r"/invitations/([A-Za-z0-9_-]+)", mail.body_text)
        assert link is not None
        raw = link.group(1)

    def acceptance() -> object:
        return accounts.accept_invitation(
            raw, full_name="Joining Person", password=factories.DEFAULT_PASSWORD
        ).organization_id

    results = run_at_once(
        committed_app, lambda: _role_change(found), acceptance, role_change_has_its_turn
    )

    assert results == {"first": ADMINISTRATOR, "second": found.organization_id}
    with committed_app.app_context():
        organization = db.session().get(Organization, found.organization_id)
        assert organization is not None
        assert len(accounts.active_administrators(db.session(), organization.id)) == 2
