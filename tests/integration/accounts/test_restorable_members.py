"""Round 47: which deactivated members a vendor may restore (`restorable_members`,
the Organization page's *Restore access*) is one statement for the page: it was a
query per deactivated member, and another for each one's remover."""

from __future__ import annotations

from typing import Any

from flask import Flask

from licensing import db
from licensing.access import ADMINISTRATOR
from licensing.accounts import services
from licensing.accounts.models import User
from licensing.audit import services as audit
from tests.support import factories
from tests.support.statements import sent_by


def _deactivate(user: User, by: User) -> None:
    user.is_active = False
    audit.record(
        db.session(),
        action="user.deactivated",
        entity_type="user",
        entity_id=user.id,
        before={"is_active": True},
        after={"is_active": False},
        actor=by.email,
        actor_user_id=by.id,
    )


def test_the_members_to_restore_are_one_statement_at_10_and_100_deactivated_members(
    app: Flask, vendor: Any, admin: Any
) -> None:
    session = db.session()
    organization = vendor.organization
    colleague = factories.make_vendor(session, organization, role=ADMINISTRATOR)
    outsider = factories.make_vendor(session)  # another organization's administrator
    members: list[User] = [vendor, colleague]
    expected: set[int] = set()

    def add(count: int) -> None:
        for index in range(count):
            member = factories.make_vendor(session, organization)
            # By a colleague, by the office, by another organization's user, and by a
            # colleague then restored and deactivated again by the office: the last counts.
            remover = (colleague, admin, outsider, colleague)[index % 4]
            _deactivate(member, remover)
            if index % 4 == 3:
                _deactivate(member, admin)
            elif remover is colleague:
                expected.add(member.id)
            members.append(member)
        session.commit()

    def statements() -> tuple[frozenset[int], int]:
        with sent_by(app) as sent:
            found = services.restorable_members(session, members)
        # The test's transaction opens a savepoint after each commit: not the page's.
        return found, len([sql for sql in sent if not sql.startswith("SAVEPOINT")])

    add(10)
    found, at_10 = statements()
    assert found == expected
    add(90)
    found, at_100 = statements()
    assert found == expected
    assert len(expected) == 3 + 23  # by the colleague alone: every fourth of each batch
    assert at_10 == at_100 == 1
    # As the one member's rule decides (`set_user_active` asks it of one).
    assert found == {
        member.id
        for member in members
        if not member.is_active and services.members._deactivated_by_colleague(session, member)
    }
    assert services.restorable_members(session, [vendor, colleague]) == frozenset()
