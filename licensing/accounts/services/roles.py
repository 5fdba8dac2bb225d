"""Roles inside a vendor organization: administrators manage it, members do the work,
billing members read and pay the invoices (docs/accounts.md, "Roles").

Administrators invite colleagues (choosing their role), remove and restore access,
change a colleague's role, withdraw and resend invitations, and keep the address
and billing contact. An organization always keeps an active administrator: the
steps that would leave it none are refused (409) under a lock of the organization's
row, so two administrators demoting each other at once cannot both succeed.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from licensing import calendar, db
from licensing.access import (
    ADMINISTRATOR,
    BILLING,
    MEMBER,
    ORGANIZATION_ROLES,
    ROLE_TITLES,
    Access,
    Principal,
)
from licensing.accounts import queries
from licensing.accounts.models import Organization, User, by_name
from licensing.accounts.services._common import (
    _change_user,
    acting_colleague,
    revoke_pending_invitations,
)
from licensing.actors import Actor
from licensing.db import utcnow
from licensing.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from licensing.links import links
from licensing.mail import services as mail


def locked_organization(session: Session, organization_id: int) -> Organization:
    """The organization's row, locked until the transaction ends: the steps that
    count its administrators take turns (`SELECT ... FOR NO KEY UPDATE` on
    PostgreSQL; SQLite writes one transaction at a time anyway). Until round 58 it
    took the transaction's turn on the audit log first (`take_turn`); the log's head
    is now locked at commit, after everything else (`licensing.accounts.services`).

    FOR NO KEY UPDATE (round 57; a reissue's since round 56): no caller changes the
    organization's key (its id; it has no other unique column) or deletes it, and FOR
    UPDATE also waits for the key share that a step storing a row naming the
    organization (the monthly run's statement sent, a payment, an invitation's new
    account) holds until it commits: "deadlock detected", for every caller, while the
    head sat between them (`tests/integration/accounts/test_organization_no_key_lock_order.py`).
    The callers still take turns among themselves and with every claim of the row."""
    organization = session.get(Organization, organization_id, with_for_update={"key_share": True})
    if organization is None:
        raise NotFound(f"There is no organization {organization_id}.")
    return organization


def seen_organization(session: Session, organization_id: int, actor: Actor) -> Organization:
    """The organization, if `actor` may see it (else not found, as `get_owned` says),
    as the session holds it: a step whose page or API view read it already reads it
    no more (round 68, reads68: an organization closed read it again by the same
    statement). Not locked and not read afresh, so only for what cannot change (that
    it exists): a step reads what it acts on with `locked_organization`."""
    actor.require_sight(organization_id, f"organization {organization_id}")
    organization = session.get(Organization, organization_id)
    if organization is None:
        raise NotFound(f"There is no organization {organization_id}.")
    return organization


def active_administrators(session: Session, organization_id: int) -> list[User]:
    """By name as readers file names (round 53), then id."""
    found = session.scalars(
        select(User)
        .where(
            User.organization_id == organization_id,
            User.organization_role == ADMINISTRATOR,
            User.is_active.is_(True),
        )
        .order_by(User.id)
    )
    return by_name(found, lambda user: user.full_name)


def whom_to_ask(session: Session, organization_id: int) -> str:
    """The organization's active administrators by name and address ("Ana Ruiz
    (ana@...) or Ben Ode (ben@...)"), or the office when it has none."""
    found = active_administrators(session, organization_id)
    if not found:
        return f"the {mail.OFFICE_NAME} ({mail.sender_address()})"
    return " or ".join(user.name_and_email for user in found)


def administrators_only(session: Session, organization_id: int) -> str:
    """What a member is told when they try an administrator's step."""
    organization = session.get(Organization, organization_id)
    name = organization.legal_name if organization else "your organization"
    return (
        f"Only administrators of {name} can do this. Ask {whom_to_ask(session, organization_id)}."
    )


def role_refusal(principal: Principal, declaration: Access) -> str:
    """`access.register_role_refusal`: a member refused an administrator's route, or
    a billing member a step of the licensing work."""
    organization_id = principal.organization_id or 0
    if declaration.vendor_roles == frozenset({ADMINISTRATOR}):
        return administrators_only(db.session(), organization_id)
    return licensing_work_only(db.session(), organization_id)


def licensing_work_only(session: Session, organization_id: int) -> str:
    """What a billing member is told when they try a step of the licensing work."""
    organization = session.get(Organization, organization_id)
    name = organization.legal_name if organization else "your organization"
    return (
        f"Billing members of {name} read and pay its invoices; applying, accepting "
        "agreements and reporting usage are for its members and administrators. "
        f"Ask {whom_to_ask(session, organization_id)} to do it, or to change your role."
    )


def require_administrator(session: Session, organization_id: int, actor: Actor) -> None:
    """Refuse a vendor user who is not (any longer) an administrator of the
    organization: read now, after the caller locked the organization, not as the
    request began (another administrator may have just made them a member).
    Staff and the system pass: their callers check the staff role they need."""
    if not actor.is_vendor:
        return
    user = session.get(User, actor.user_id, populate_existing=True)
    if user is None or user.organization_id != organization_id or not user.is_administrator:
        raise PermissionDenied(administrators_only(session, organization_id))


def last_administrator(user: User, organization: Organization) -> str:
    return (
        f"{user.full_name} is the last active administrator of {organization.legal_name}, "
        "which always keeps one: make another member administrator first."
    )


def removed_cannot_administer(user: User, organization: Organization) -> str:
    """Why a user whose access was removed is not made an administrator: one who
    cannot sign in would be counted as the organization's administrator (its
    pages and the office's list would say it has one) while nobody could act."""
    return (
        f"{user.full_name} cannot be made an administrator of {organization.legal_name}: "
        "their access was removed, so they cannot sign in. Restore their access first "
        "(restoring it in the same request does both), then make them administrator."
    )


def refuse_leaving_without_administrator(
    session: Session, user: User, organization: Organization
) -> None:
    """Conflict when `user` is the organization's only active administrator (the
    caller holds the organization's lock, so the count cannot change meanwhile)."""
    if not (user.is_active and user.is_administrator):
        return
    others = [other for other in active_administrators(session, organization.id) if other != user]
    if not others:
        raise Conflict(last_administrator(user, organization))


# The audit note beside each invitation withdrawn when its sender stops administering.
INVITATIONS_WITHDRAWN_ON_DEMOTION = (
    "{} is no longer an administrator: the invitations they sent are withdrawn."
)


def set_organization_role(
    user_id: int,
    role: str,
    actor: Actor,
    *,
    note: str | None = None,
    emailed: list[str] | None = None,
) -> User:
    """Make a vendor user an administrator or a member of their organization.

    Its administrators do it for their colleagues (themselves too, while another
    administrator remains); the licensing office (licensing staff, admins) for any
    organization, e.g. one whose only administrator left; an operator as the
    system (`licensing users set-role`). Only a user who may sign in is made an
    administrator (409 otherwise; `update_user` restores access first when asked in
    the same request); one whose access was removed may still be made a member.
    Audited `user.role_changed` (with `note`) and emailed to the user: their address
    is added to `emailed`, when given, so that the page and the API say whom (round 34)."""
    if role not in ORGANIZATION_ROLES:
        raise InvalidInput.for_field(
            "role", f"Unknown role {role!r}; choose one of {', '.join(ORGANIZATION_ROLES)}."
        )
    if not actor.is_vendor:
        actor.require_role("licensing")
    with db.transaction() as session:
        user = queries.get_member(session, user_id, actor)
        if user.organization_id is None:
            raise InvalidInput.for_field(
                "role", "Staff accounts have staff roles, not a role in an organization."
            )
        organization = locked_organization(session, user.organization_id)
        require_administrator(session, organization.id, actor)
        session.refresh(user)
        if user.organization_role == role:
            return user
        if role == ADMINISTRATOR and not user.is_active:
            raise Conflict(removed_cannot_administer(user, organization))
        if role != ADMINISTRATOR:
            refuse_leaving_without_administrator(session, user, organization)
        before = user.organization_role
        _change_user(session, user, "user.role_changed", actor, note=note, organization_role=role)
        withdrawn: list[tuple[str, str | None]] = []
        if before == ADMINISTRATOR:
            # Round 61 (attack61): an invitation is an administrator's step, made with
            # authority they no longer hold; one sent to an address of their own (as
            # an administrator) just before would have made them one again. As a
            # removal does (`withdraw_invitations_sent_by`), theirs are withdrawn.
            revoke_pending_invitations(
                session,
                organization.id,
                actor,
                INVITATIONS_WITHDRAWN_ON_DEMOTION.format(user.email),
                created_by_id=user.id,
                withdrawn_to=withdrawn,
            )
        _tell_member(session, user, organization, actor, before=before, withdrawn=withdrawn)
        if emailed is not None:
            emailed.append(user.email)
        return user


def set_organization_role_by_email(
    email: str, role: str, *, note: str | None = None
) -> tuple[User, str | None]:
    """Operations (`licensing users set-role`): `set_organization_role` for the
    vendor user with this email, as the system. Answers the user and the role they
    held before (None when they already held `role`: nothing changed)."""
    with db.transaction() as session:
        found = queries.user_by_email(session, email)
        if found is None:
            raise NotFound(f"There is no user {email.strip().lower()}.")
        user_id, before = found.id, found.organization_role
    user = set_organization_role(user_id, role, Actor.SYSTEM, note=note)
    return user, (before if before != user.organization_role else None)


def _tell_member(
    session: Session,
    user: User,
    organization: Organization,
    actor: Actor,
    *,
    before: str | None,
    withdrawn: Sequence[tuple[str, str | None]] = (),
) -> None:
    """The member whose role changed hears who changed it and what they may do now
    (a page that no longer offers *Invite* would otherwise be their first sign), and
    a billing member made a member that the licensing work is theirs from now on. A
    demoted administrator reads which of their invitations were withdrawn (round 62:
    only the audit log said), each address with the role it offered."""
    changer = acting_colleague(session, actor)
    mail.enqueue(
        session,
        to=user.email,
        subject=f"You are now {with_article(user.organization_role)} of {organization.legal_name}",
        template="role_changed",
        context={
            "user": user,
            "organization": organization,
            "administrator": user.is_administrator,
            "billing": user.organization_role == BILLING,
            "from_billing": before == BILLING,
            "role": with_article(user.organization_role),
            "changed_by": changer.name_and_email if changer else f"The {mail.OFFICE_NAME}",
            "changed_on": calendar.moment_text(utcnow()),
            # Stepping down oneself is recorded too, but is no surprise to report.
            "themselves": changer is not None and changer.id == user.id,
            "ask": whom_to_ask(session, organization.id),
            "portal_url": links().vendor_dashboard(),
            "withdrawn": [
                f"{address} (as {with_article(offered or MEMBER)})"
                for address, offered in withdrawn
            ],
        },
    )


def emailed_summary(emailed: Sequence[str]) -> str:
    """Whom a change to a colleague emailed, as a sentence's end (round 34): "emailed
    jo@example.com", or "emailed nobody" and why, as round 33's steps say it."""
    if not emailed:
        return (
            "emailed nobody: only a vendor user is emailed, about a removed or restored "
            "access or a new role"
        )
    return f"emailed {', '.join(dict.fromkeys(emailed))}"


def with_article(role: str | None) -> str:
    """ "an administrator", "a member", "a billing member": as pages and emails say a role."""
    title = ROLE_TITLES.get(role or "", role)
    return f"an {title}" if role == ADMINISTRATOR else f"a {title}"
