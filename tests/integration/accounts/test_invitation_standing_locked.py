"""Round 59 (locks59): an invitation accepted while licensing staff suspend (or close)
the organization: the new colleague is either refused (closed) or among those told of
the suspension, never a member who joined unseen.

The acceptance read the organization's standing unlocked, then stored the account. A
suspension committed between the two emailed the members it found (the newcomer was
not one yet), and the account was stored after it: a member of a suspended
organization who was never told; a closing, likewise, left an account in a closed
organization, which acceptance refuses. The acceptance now locks the organization (FOR
NO KEY UPDATE, `locked_organization`) before it reads the standing, and its link after
it, read afresh (the lock order, `licensing/accounts/services/__init__.py`).

The test holds the acceptance once it has read the standing, until the suspension has
committed (or is seen waiting for a lock, when the suspension waits for the acceptance).
"""

from __future__ import annotations

import re
import threading

import pytest
from flask import Flask
from sqlalchemy import select

from licensing import db
from licensing.accounts import services as accounts
from licensing.accounts.models import Organization, User
from licensing.accounts.services import invitations
from licensing.accounts.states import SUSPENDED
from licensing.actors import Actor
from licensing.mail.models import OutboxMessage
from tests.support import factories
from tests.support.concurrent_steps import held_until, run_at_once

JOINING = "joining@northwind.example"


class _Told:
    """What thread "second" says once its step has committed."""

    @staticmethod
    def suspended() -> None:
        """The suspension committed."""


@pytest.fixture
def acceptance_read_the_standing(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Set once the acceptance (thread "first") has read the standing and is about to
    store the account; it then waits until the suspension (thread "second") has
    committed, or is seen waiting for a lock."""
    return held_until(
        monkeypatch, (invitations, "create_vendor_user"), (_Told, "suspended"), before=True
    )


def test_an_invitation_accepted_while_the_organization_is_suspended_is_told_of_it(
    committed_app: Flask, acceptance_read_the_standing: threading.Event
) -> None:
    with committed_app.app_context():
        session = db.session()
        administrator = factories.make_vendor(session)
        organization_id = administrator.organization_id
        assert organization_id is not None
        session.commit()
        vendor = Actor.of(accounts.principal_for(administrator))
        accounts.invite_member(organization_id, JOINING, vendor)
        body = (
            db.session()
            .scalars(
                select(OutboxMessage.body_text).where(OutboxMessage.recipients.contains(JOINING))
            )
            .one()
        )
        found = re.search(r"/invitations/([A-Za-z0-9_-]+)", body)
        assert found is not None
        staff = factories.staff_actor(("licensing",))
        db.session().commit()

    def acceptance() -> int | None:
        return accounts.accept_invitation(
            found.group(1), full_name="Joining Person", password=factories.DEFAULT_PASSWORD
        ).organization_id

    def suspension() -> list[str]:
        emailed: list[str] = []
        accounts.change_organization_standing(
            organization_id, "suspend", reason="Unpaid for a year.", actor=staff, emailed=emailed
        )
        _Told.suspended()
        return emailed

    results = run_at_once(committed_app, acceptance, suspension, acceptance_read_the_standing)

    assert results["first"] == organization_id
    assert JOINING in results["second"]  # the newcomer is a member the suspension told
    with committed_app.app_context():
        session = db.session()
        organization = session.get(Organization, organization_id)
        assert organization is not None
        assert organization.standing == SUSPENDED
        joined = session.scalars(select(User).where(User.email == JOINING)).one()
        assert joined.organization_id == organization_id
