"""A vendor invites colleagues to their organization by email."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from licensing import calendar, db
from licensing.access import MEMBER, ORGANIZATION_ROLES
from licensing.accounts import queries
from licensing.accounts.models import INVITATION, OneTimeToken, User
from licensing.accounts.services._common import (
    LINKS_PER_HOUR,
    _find_link,
    _issue_link,
    _lookup_link,
    _mail_link,
    _revoke,
    _user_actor,
    normalize_email,
)
from licensing.accounts.services.registration import create_vendor_user
from licensing.accounts.services.roles import (
    locked_organization,
    require_administrator,
    whom_to_ask,
    with_article,
)
from licensing.accounts.states import CLOSED
from licensing.actors import Actor
from licensing.audit import services as audit
from licensing.db import utcnow
from licensing.errors import Conflict, InvalidInput
from licensing.links import links
from licensing.mail import services as mail

MAX_PENDING_INVITATIONS = 25
# Every invitation is an email the office sends to an address a vendor typed. A
# new one replaces a pending one to the same address, and a withdrawn one frees
# its place among the pending, so without these an organization's administrator
# (anyone who signs up is one) could have the office mail any address without end.
# Counted over the organization's own invitations, so a refusal tells nothing of
# other organizations'. Round 30.
INVITATIONS_PER_DAY = 50


def _sent_since(organization_id: int, since: datetime, address: str | None) -> list[Any]:
    """The conditions of the organization's invitations sent since `since` (to `address`)."""
    conditions: list[Any] = [
        OneTimeToken.purpose == INVITATION,
        OneTimeToken.organization_id == organization_id,
        OneTimeToken.created_at >= since,
    ]
    if address is not None:
        conditions.append(OneTimeToken.email == address)
    return conditions


def _invitations_since(
    session: Session, organization_id: int, since: datetime, address: str | None = None
) -> int:
    found = select(func.count(OneTimeToken.id)).where(*_sent_since(organization_id, since, address))
    return int(session.scalar(found) or 0)


def _place_frees_at(
    session: Session,
    organization_id: int,
    window: timedelta,
    limit: int,
    now: datetime,
    address: str | None = None,
) -> datetime:
    """When the window's count falls under `limit` again: the moment the invitation
    that frees a place leaves the window, to the next whole minute (the page says the
    minute, and trying then is never too early)."""
    found = select(OneTimeToken.created_at).where(
        *_sent_since(organization_id, now - window, address)
    )
    count = _invitations_since(session, organization_id, now - window, address)
    oldest = session.scalar(
        found.order_by(OneTimeToken.created_at).offset(max(count - limit, 0)).limit(1)
    )
    frees = (oldest or now) + window
    if frees.second or frees.microsecond:
        frees = frees.replace(second=0, microsecond=0) + timedelta(minutes=1)
    return frees


def _check_invitation_budget(
    session: Session, organization_id: int, address: str, now: datetime
) -> None:
    """At most `LINKS_PER_HOUR` invitations an hour to one address, and
    `INVITATIONS_PER_DAY` a day in all, from one organization. The refusal says from
    when the next may go (round 31: "try again later" left the administrator guessing)."""
    hour, day = timedelta(hours=1), timedelta(days=1)
    if _invitations_since(session, organization_id, now - hour, address) >= LINKS_PER_HOUR:
        frees = _place_frees_at(session, organization_id, hour, LINKS_PER_HOUR, now, address)
        raise InvalidInput.for_field(
            "email",
            f"{address} was invited {LINKS_PER_HOUR} times in the last hour, the most an "
            f"hour: invite them again from {calendar.instant_text(frees)}.",
            instants={"available_from": frees},
        )
    if _invitations_since(session, organization_id, now - day) >= INVITATIONS_PER_DAY:
        frees = _place_frees_at(session, organization_id, day, INVITATIONS_PER_DAY, now)
        raise InvalidInput.for_field(
            "email",
            f"Your organization sent {INVITATIONS_PER_DAY} invitations in the last 24 "
            f"hours, the most a day: the next can go from {calendar.instant_text(frees)}, "
            "or ask the office.",
            instants={"available_from": frees},
        )


def invite_member(
    organization_id: int, email: str, actor: Actor, *, role: str = MEMBER
) -> OneTimeToken:
    """An organization's administrator invites a colleague by email (valid 7 days),
    to join with `role` (a member unless they choose administrator).

    A new invitation to the same address replaces a pending one. Raises
    `InvalidInput` when the address is already a member of the organization
    (the vendor sees its members anyway).

    An address with an account elsewhere (another organization, the office) is
    answered, listed and audited exactly like a new one, so a vendor cannot
    probe addresses for accounts; its owner is emailed a note without a link
    instead (an account acts for one organization), and the invitation is never
    accepted and expires.
    """
    with db.transaction() as session:
        # Another organization's is not found, before any read (round 68: read unlocked
        # first, then again locked, as the page had read it already).
        actor.require_sight(organization_id, f"organization {organization_id}")
        # Locked before anything is counted (round 51): invitations sent at once each
        # read none pending and counted none of the others, so several stayed pending
        # to one address and the hour's and the day's budgets were outrun.
        organization = locked_organization(session, organization_id)
        require_administrator(session, organization.id, actor)
        if organization.standing == CLOSED:
            raise Conflict("A closed organization cannot invite members.")
        if role not in ORGANIZATION_ROLES:
            raise InvalidInput.for_field(
                "role", f"Choose the role they join with: {' or '.join(ORGANIZATION_ROLES)}."
            )
        address = normalize_email(email)
        existing = queries.user_by_email(session, address)
        if existing is not None and existing.organization_id == organization.id:
            raise InvalidInput.for_field(
                "email", f"{address} is already a member of your organization."
            )
        now = utcnow()
        _check_invitation_budget(session, organization.id, address, now)
        pending = queries.pending_invitations(session, organization.id, now)
        replaced = [link for link in pending if link.email == address]
        if len(pending) - len(replaced) >= MAX_PENDING_INVITATIONS:
            raise InvalidInput.for_field(
                "email",
                f"{MAX_PENDING_INVITATIONS} invitations are already waiting; revoke some first.",
            )
        inviter = session.get(User, actor.user_id)
        link, raw = _issue_link(
            session,
            INVITATION,
            email=address,
            organization=organization,
            created_by_id=actor.user_id,
        )
        link.organization_role = role
        # The pending one it replaces is withdrawn, audited like any withdrawal, with a
        # note naming its successor (round 50: it was withdrawn without an event).
        for earlier in replaced:
            _revoke(
                session,
                earlier,
                "invitation.revoked",
                actor,
                note=f"Replaced by invitation {link.id} to the same address.",
            )
        audit.record_event(
            session,
            "invitation.created",
            link.id,
            before=None,
            after={
                "email": address,
                "organization_id": organization.id,
                "organization_role": role,
                "expires_at": link.expires_at,
            },
            actor=actor,
        )
        subject = f"Join {organization.legal_name} on the {mail.OFFICE_NAME}"
        if existing is not None:
            mail.enqueue(
                session,
                to=address,
                subject=subject,
                template="invitation_existing_account",
                context={"organization": organization, "inviter": inviter, "email": address},
            )
            return link
        _mail_link(
            session,
            link,
            raw=raw,
            page=links().invitation,
            subject=subject,
            template="invitation",
            organization=organization,
            inviter=inviter,
            role=with_article(role),
        )
        return link


def revoke_invitation(invitation_id: int, actor: Actor) -> OneTimeToken:
    """An administrator withdraws a pending invitation (its link stops working)."""
    with db.transaction() as session:
        link = queries.get_invitation(session, invitation_id, actor)
        require_administrator(session, link.organization_id or 0, actor)
        status = link.status(utcnow())
        if status != "pending":
            raise Conflict(f"This invitation is {status} and can no longer be revoked.")
        _revoke(session, link, "invitation.revoked", actor)
        return link


def accept_invitation(raw: str, *, full_name: str, password: str) -> User:
    """Follow an invitation link: a verified user of the inviting organization, with
    the role the invitation named."""
    with db.transaction() as session:
        link = _find_link(session, raw, INVITATION)
        # Round 59 (locks59): the organization locked before its standing is read, then
        # the link read afresh, locked (the order of an invitation sent, which locks the
        # organization and then withdraws the one it replaces). Read unlocked, a
        # suspension committed meanwhile emailed the members it found, and the account
        # was stored after it, never told; a closing left it in a closed organization.
        organization = (
            None
            if link.organization_id is None
            else locked_organization(session, link.organization_id)
        )
        session.get(OneTimeToken, link.id, with_for_update={"key_share": True})
        link = _find_link(session, raw, INVITATION)  # still pending, under the lock
        if organization is None or organization.standing == CLOSED:
            raise InvalidInput.for_field("token", "This organization's account is closed.")
        user = create_vendor_user(
            session,
            organization,
            email=link.email,
            password=password,
            full_name=full_name,
            verified=True,
            actor=link.email,
            role=link.organization_role or MEMBER,
        )
        link.used_at = utcnow()
        link.user_id = user.id
        user.last_sign_in_at = link.used_at  # accepting signs the colleague in
        audit.record_event(
            session,
            "invitation.accepted",
            link.id,
            before={"used_at": None},
            after={"used_at": link.used_at, "user_id": user.id},
            actor=_user_actor(user),
        )
        return user


def expired_invitation_help(raw: str) -> str | None:
    """For the holder of an expired invitation link: when it expired and whom to ask
    for a new one (the colleague who sent it while they still administer the
    organization, else its administrators: only they invite). None for a
    link that is not an expired invitation."""
    link = _lookup_link(db.session(), raw, INVITATION)
    if link is None or link.status(utcnow()) != "expired":
        return None
    inviter = link.created_by
    organization = link.organization.legal_name if link.organization else "the organization"
    session = db.session()
    who = (
        inviter.name_and_email
        if inviter is not None and inviter.is_active and inviter.is_administrator
        else whom_to_ask(session, link.organization_id)
        if link.organization_id
        else f"an administrator of {organization}"
    )
    return (
        f"This invitation to join {organization} expired "
        f"{calendar.when_text(link.expires_at)}. Ask {who} to invite you again."
    )
