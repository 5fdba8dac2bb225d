"""Round 50: deactivating a member (or moving them) read every invitation of the
organization to withdraw the few the leaver sent, and withdrew and audited each in
statements of its own. One UPDATE withdraws the leaver's pending invitations alone;
each is still audited `invitation.revoked` as an administrator's withdrawal is (its
own event, `revoked_at` before and after, the note), and the chain verifies; the
same statements at 1 and at 50 invitations."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from flask import Flask
from sqlalchemy import select

from licensing import db
from licensing.accounts import services
from licensing.accounts.models import INVITATION, OneTimeToken, User
from licensing.actors import Actor
from licensing.audit.models import AuditEvent
from licensing.audit.services import verify_chain
from tests.support import factories
from tests.support.statements import sent_by

_made = iter(range(1, 10_000))


def _invitations(sender: User, count: int, **values: object) -> list[int]:
    """`count` invitations `sender` sent (rows, not through the service, which keeps
    only a few pending), pending a week unless `values` say otherwise; their ids in
    the order sent."""
    session = db.session()
    made = []
    for _ in range(count):
        number = next(_made)
        fields: dict[str, object] = {
            "purpose": INVITATION,
            "token_hash": f"{sender.id:08d}{number:056d}",
            "email": f"invited{number}@example.org",
            "organization_id": sender.organization_id,
            "created_by_id": sender.id,
            "organization_role": "member",
            "created_at": db.utcnow() - timedelta(days=1) + timedelta(seconds=number),
            "expires_at": db.utcnow() + timedelta(days=6),
        }
        link = OneTimeToken(**{**fields, **values})
        session.add(link)
        made.append(link)
    session.commit()
    return [link.id for link in made]


def _deactivated(app: Flask, user: User, admin: User) -> int:
    actor = Actor.of(services.principal_for(admin))
    with sent_by(app) as statements:
        services.set_user_active(user.id, False, actor)
    return len(statements)


def _revoked(ids: list[int]) -> list[AuditEvent]:
    return list(
        db.session().scalars(
            select(AuditEvent)
            .where(
                AuditEvent.action == "invitation.revoked",
                AuditEvent.entity_id.in_([str(each) for each in ids]),
            )
            .order_by(AuditEvent.seq)
        )
    )


def test_deactivating_withdraws_the_leavers_pending_invitations_in_one_update_each_audited(
    app: Flask, vendor: User, admin: User
) -> None:
    session = db.session()
    organization = vendor.organization
    few = factories.make_vendor(session, organization=organization)
    many = factories.make_vendor(session, organization=organization)
    colleague = factories.make_vendor(session, organization=organization)
    (one,) = _invitations(few, 1)
    pending = _invitations(many, 50)
    # Of the leaver's, those no longer pending stay as they are; so do a colleague's.
    (expired,) = _invitations(many, 1, expires_at=db.utcnow() - timedelta(hours=1))
    (accepted,) = _invitations(many, 1, used_at=db.utcnow() - timedelta(hours=2))
    (withdrawn,) = _invitations(many, 1, revoked_at=db.utcnow() - timedelta(hours=3))
    others = _invitations(colleague, 3)
    # One withdrawn by an administrator, as before: the shape each event keeps.
    (by_hand,) = _invitations(colleague, 1)
    services.revoke_invitation(by_hand, Actor.of(services.principal_for(vendor)))

    at_1 = _deactivated(app, few, admin)
    at_50 = _deactivated(app, many, admin)
    assert at_50 == at_1

    session.expire_all()
    now = db.utcnow()

    def status(link_id: int) -> str:
        found = session.get(OneTimeToken, link_id)
        assert found is not None
        return found.status(now)

    assert [status(link_id) for link_id in [one, *pending]] == ["revoked"] * 51
    assert [status(link_id) for link_id in (expired, accepted)] == ["expired", "accepted"]
    assert [status(link_id) for link_id in others] == ["pending"] * 3
    untouched = session.get(OneTimeToken, withdrawn)
    assert untouched is not None
    assert untouched.revoked_at is not None
    assert untouched.revoked_at < now - timedelta(hours=2)

    (shape,) = _revoked([by_hand])
    events = _revoked([*pending, expired, accepted, withdrawn, *others])
    # One event an invitation withdrawn now, newest sent first (the organization's list
    # order, which the one-by-one walk followed), none for the others.
    assert [event.entity_id for event in events] == [str(each) for each in reversed(pending)]
    for event in [*events, *_revoked([one])]:
        assert (event.entity_type, event.action) == (shape.entity_type, shape.action)
        assert json.loads(event.before or "") == json.loads(shape.before or "")
        after, expected = json.loads(event.after or ""), json.loads(shape.after or "")
        assert after.keys() == expected.keys() == {"revoked_at"}
        assert datetime.fromisoformat(after["revoked_at"])  # a time, as the one by hand
        assert event.actor == admin.email
        assert event.actor_user_id == admin.id
        assert event.note == (
            f"{(few if event.entity_id == str(one) else many).email} was deactivated: "
            "the invitations they sent are withdrawn."
        )
    assert verify_chain(session).ok


def _moving(app: Flask, vendor: User, admin: User, count: int) -> tuple[int, dict[str, list[int]]]:
    """A member of `vendor`'s organization who sent `count` invitations moves to a new
    organization that sent `count` invitations, one of them to the member's address:
    the statements the move sent, and the invitations by whose."""
    session = db.session()
    mover = factories.make_vendor(session, organization=vendor.organization)
    joined = factories.make_organization(session)
    inviter = factories.make_vendor(session, organization=joined)
    sent = _invitations(mover, count)
    (to_them, *others) = _invitations(inviter, count)
    session.execute(
        OneTimeToken.__table__.update().where(OneTimeToken.id == to_them).values(email=mover.email)
    )
    session.commit()
    actor = Actor.of(services.principal_for(admin))
    with sent_by(app) as statements:
        moved = services.move_user(mover.id, joined.id, "Joined them", actor)
    assert moved.invitations == count
    return len(statements), {"sent": sent, "to_them": [to_them], "others": others}


def test_a_move_withdraws_the_invitations_sent_and_settles_the_one_to_the_person_in_bulk(
    app: Flask, vendor: User, admin: User
) -> None:
    at_2, _ = _moving(app, vendor, admin, 2)
    at_30, invitations = _moving(app, vendor, admin, 30)
    assert at_30 == at_2

    session = db.session()
    session.expire_all()
    now = db.utcnow()
    found = {link.id: link for link in session.scalars(select(OneTimeToken))}
    sent, (to_them,), others = invitations["sent"], invitations["to_them"], invitations["others"]
    assert [found[each].status(now) for each in [*sent, to_them]] == ["revoked"] * 31
    assert {found[each].status(now) for each in others} == {"pending"}
    (settled,) = _revoked([to_them])
    assert settled.note == "The account of the address invited was moved to the organization."
    assert [event.entity_id for event in _revoked(sent)] == [str(each) for each in reversed(sent)]
    assert verify_chain(session).ok
