"""Round 50: steps on one person, or on an organization, that read the whole
organization's people or invitations to act on a few, in one statement that grew
with its history (so the statement counts did not show it; the rows loaded do):
deactivating a member (whether anyone else is active), an invitation (which are
pending), a change of standing (whom to email), the profile page (how many members),
and requiring two-step sign-in (whom to tell, and the outbox asked once a member).
Each reads what it acts on, the same rows and statements at a few and at many."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.accounts import services
from licensing.accounts.models import INVITATION, OneTimeToken, Organization, User
from licensing.actors import Actor
from licensing.errors import Conflict
from licensing.mail.models import OutboxMessage
from tests.support import factories
from tests.support.statements import loaded, sent_by


def _people(organization: Organization, active: int, inactive: int) -> list[User]:
    """`active` more members of `organization`, and `inactive` whose access was removed."""
    session = db.session()
    made = [factories.make_vendor(session, organization=organization) for _ in range(active)]
    gone = [factories.make_vendor(session, organization=organization) for _ in range(inactive)]
    for user in gone:
        user.is_active = False
    session.commit()
    return made


def _as(user: User) -> Actor:
    return Actor.of(services.principal_for(user))


def test_deactivating_a_member_counts_the_others_active_in_sql(
    app: Flask, vendor: User, admin: User
) -> None:
    organization = vendor.organization
    first, second = _people(organization, 2, 0)

    def deactivating(user: User) -> tuple[int, int]:
        db.session().expunge_all()
        with sent_by(app) as statements, loaded(User) as users:
            services.set_user_active(user.id, False, _as(vendor))
        return len(statements), len(users)

    few = deactivating(first)
    _people(organization, 15, 15)
    many = deactivating(second)
    assert many == few
    # The last administrator still may not leave colleagues without one.
    with pytest.raises(Conflict, match="last active administrator"):
        services.set_user_active(vendor.id, False, _as(admin))


def _old_invitations(sender: User, count: int) -> None:
    """`count` invitations no longer pending (accepted, withdrawn or expired)."""
    session = db.session()
    now = db.utcnow()
    for number in range(count):
        ended = [
            {"used_at": now - timedelta(days=2)},
            {"revoked_at": now - timedelta(days=3)},
            {"expires_at": now - timedelta(days=1)},
        ][number % 3]
        fields: dict[str, object] = {
            "purpose": INVITATION,
            "token_hash": f"old{sender.id:08d}{number:053d}",
            "email": f"former{number}@example.org",
            "organization_id": sender.organization_id,
            "created_by_id": sender.id,
            "organization_role": "member",
            "created_at": now - timedelta(days=30),
            "expires_at": now - timedelta(days=23),
        }
        session.add(OneTimeToken(**{**fields, **ended}))
    session.commit()


def test_an_invitation_reads_only_the_pending_ones(app: Flask, vendor: User) -> None:
    session = db.session()
    other = factories.make_vendor(session)
    services.invite_member(vendor.organization_id or 0, "waiting@example.org", _as(vendor))
    services.invite_member(other.organization_id or 0, "waiting@example.org", _as(other))
    _old_invitations(vendor, 2)
    _old_invitations(other, 60)

    def inviting(user: User) -> tuple[int, int]:
        db.session().expunge_all()
        with sent_by(app) as statements, loaded(OneTimeToken) as links:
            services.invite_member(user.organization_id or 0, "newcomer@example.org", _as(user))
        return len(statements), len(links)

    few, many = inviting(vendor), inviting(other)
    assert many == few
    # Pending ones are still read: one to the same address is replaced, as before.
    again = services.invite_member(other.organization_id or 0, "waiting@example.org", _as(other))
    session.expire_all()
    waiting = session.scalars(
        select(OneTimeToken).where(
            OneTimeToken.organization_id == other.organization_id,
            OneTimeToken.email == "waiting@example.org",
        )
    ).all()
    now = db.utcnow()
    assert sorted((link.id == again.id, link.status(now)) for link in waiting) == [
        (False, "revoked"),
        (True, "pending"),
    ]


def test_a_change_of_standing_reads_the_active_people_it_emails(app: Flask, vendor: User) -> None:
    session = db.session()
    licensing = factories.make_staff(session, roles=("licensing",))
    other = factories.make_vendor(session)
    _people(vendor.organization, 1, 0)
    _people(other.organization, 1, 30)

    def suspending(user: User) -> tuple[int, int, list[str]]:
        db.session().expunge_all()
        emailed: list[str] = []
        with sent_by(app) as statements, loaded(User) as users:
            services.change_organization_standing(
                user.organization_id or 0,
                "suspend",
                reason="Looked into",
                actor=_as(licensing),
                emailed=emailed,
            )
        return len(statements), len(users), emailed

    few, many = suspending(vendor), suspending(other)
    assert many[:2] == few[:2]
    active = session.scalars(
        select(User.email).where(User.organization_id == other.organization_id, User.is_active)
    ).all()
    assert set(many[2]) == {*active, other.organization.billing_email}
    assert len(many[2]) == 3


def test_the_profile_page_counts_the_members_in_sql(
    app: Flask, vendor: User, signed_in: object
) -> None:
    organization = vendor.organization
    client: FlaskClient = signed_in(app.test_client(), vendor)  # type: ignore[operator]
    client.get("/account/")

    def profile() -> tuple[int, int, str]:
        db.session().expunge_all()
        with sent_by(app) as statements, loaded(User) as users:
            page = client.get("/account/")
        assert page.status_code == 200
        # The test's own savepoint (a commit in the test's transaction) aside.
        sent = [each for each in statements if not each.startswith(("SAVEPOINT", "RELEASE"))]
        return len(sent), len(users), page.get_data(as_text=True)

    few = profile()
    assert "(1 member)" in few[2]
    _people(db.session().merge(organization), 20, 20)
    many = profile()
    assert many[:2] == few[:2]
    assert "(41 members)" in many[2]


def test_requiring_two_step_asks_the_outbox_once_whoever_was_told(app: Flask, vendor: User) -> None:
    session = db.session()
    other = factories.make_vendor(session)
    told_few = _people(vendor.organization, 2, 0)
    told_many = _people(other.organization, 30, 10)

    def requiring(user: User) -> tuple[int, int, services.Requirement]:
        db.session().expunge_all()
        with sent_by(app) as statements, loaded(User) as users:
            done = services.require_for_organization(_as(user), user.organization_id or 0, True)
        return len(statements), len(users), done

    # Each told once, then the requirement turned off and on again within the day:
    # nobody is emailed twice, and who was told is asked of the outbox in one statement.
    for user, told in ((vendor, told_few), (other, told_many)):
        done = requiring(user)[2]
        assert sorted(done.emailed) == sorted(member.email for member in told)
        services.require_for_organization(_as(user), user.organization_id or 0, False)
    few, many = requiring(vendor), requiring(other)
    assert many[0] == few[0]
    # It reads those it may tell (the 28 more active members), not those removed.
    assert many[1] - few[1] == 28
    assert many[2].emailed == ()
    assert many[2].nobody_because == "the 30 without it were emailed in the last day already"
    sent = session.scalars(
        select(OutboxMessage).where(OutboxMessage.template == "two_step_required")
    ).all()
    assert len(sent) == 32
