"""Who may sign in: deactivating and reactivating accounts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from licensing import calendar, db
from licensing.accounts import queries
from licensing.accounts.models import ApiToken, Organization, User
from licensing.accounts.services import remembered_browsers
from licensing.accounts.services._common import (
    _change_user,
    _lock_reviews,
    _withdraw_reviewer,
    acting_colleague,
    revoke_pending_invitations,
)
from licensing.accounts.services.passkey_removal import drop_passkeys
from licensing.accounts.services.roles import (
    locked_organization,
    refuse_leaving_without_administrator,
    require_administrator,
    set_organization_role,
)
from licensing.accounts.services.staff import set_staff_roles
from licensing.actors import Actor
from licensing.audit import services as audit
from licensing.audit.models import AuditEvent
from licensing.db import utcnow
from licensing.errors import Conflict, InvalidInput, PermissionDenied
from licensing.links import links
from licensing.mail import services as mail


def update_user(
    user_id: int,
    changes: Mapping[str, Any],
    actor: Actor,
    *,
    emailed: list[str] | None = None,
) -> User:
    """Several changes to one account (the API's PATCH: staff `roles`, a vendor
    user's `role`, `is_active`) as one unit of work: each is the use case it is on
    its own, and a refusal of any leaves none of them stored. The addresses emailed
    are added to `emailed`, when given (round 34)."""
    with db.transaction() as session:
        user = queries.get_member(session, user_id, actor)
        # Who may sign in first: its refusals (yourself, the last administrator)
        # are checked while the caller still holds the role the request began with.
        if "is_active" in changes:
            user = set_user_active(user_id, changes["is_active"], actor, emailed=emailed)
        if "roles" in changes:
            user = set_staff_roles(user_id, changes["roles"], actor=actor)
        if "role" in changes:
            user = set_organization_role(user_id, changes["role"], actor, emailed=emailed)
        return user


def set_user_active(
    user_id: int, active: bool, actor: Actor, *, emailed: list[str] | None = None
) -> User:
    """Deactivate (or reactivate) an account: an organization's administrator for a
    colleague (reactivating only one their organization deactivated), an admin for
    anyone. Nobody deactivates themselves; the last active admin stays, and so does
    an organization's last active administrator while it has other active users.
    Deactivating revokes the account's API tokens (each audited `api_token.revoked`
    with the reason): a reactivated account creates new ones. A member of an
    organization whose access is removed, or restored, is emailed: their address is
    added to `emailed`, when given, so that the page and the API say whom (round 34)."""
    with db.transaction() as session:
        user = queries.get_member(session, user_id, actor)
        if actor.is_staff and not actor.has_role("admin"):
            raise PermissionDenied("Only admins change who may sign in.")
        organization = (
            locked_organization(session, user.organization_id) if user.organization_id else None
        )
        if organization is not None:
            require_administrator(session, organization.id, actor)
            session.refresh(user)
        if not _refuse_active_change(session, user, active, actor, organization):
            return user
        if not active:
            _lock_reviews(session, user, user.roles)  # before the first event
        action = "user.reactivated" if active else "user.deactivated"
        _change_user(session, user, action, actor, is_active=active)
        # Every credential of a removed account goes for good: a token that came
        # back to life on restore may have leaked meanwhile. A restored account
        # creates new tokens. (On restore, tokens left unrevoked by a removal made
        # before this rule go too.)
        why = TOKENS_REVOKED_ON_RESTORE if active else TOKENS_REVOKED_ON_REMOVAL
        revoked = revoke_tokens(session, user, actor, why.format(user.email))
        if active and _tell_restored_member(session, user, actor) and emailed is not None:
            emailed.append(user.email)
        if not active:
            remembered_browsers.forget_browsers(
                session, user, actor, "The account was deactivated."
            )
            # Round 45: as its tokens, for good: a device that left with the person
            # would sign in again on a restore. A restored account adds new ones.
            drop_passkeys(session, user, actor, "The account was deactivated.")
            withdrawn = withdraw_invitations_sent_by(
                session, user, actor, INVITATIONS_WITHDRAWN.format(user.email)
            )
            _withdraw_reviewer(session, user, user.roles, f"{user.email} was deactivated", actor)
            if _tell_removed_member(session, user, actor, revoked, withdrawn) and (
                emailed is not None
            ):
                emailed.append(user.email)
        return user


def check_user_active(user_id: int, active: bool, actor: Actor) -> None:
    """Raise what `set_user_active` would refuse, writing nothing (round 56): a
    removal of access is confirmed first, and the confirmation is shown only for one
    that would then be taken (their own account, the last admin, an organization's
    last administrator were asked about, then refused)."""
    session = db.session()
    user = queries.get_member(session, user_id, actor)
    if actor.is_staff and not actor.has_role("admin"):
        raise PermissionDenied("Only admins change who may sign in.")
    organization = session.get(Organization, user.organization_id) if user.organization_id else None
    if organization is not None:
        require_administrator(session, organization.id, actor)
    _refuse_active_change(session, user, active, actor, organization)


def _refuse_active_change(
    session: Session, user: User, active: bool, actor: Actor, organization: Organization | None
) -> bool:
    """What makes `user`'s access not `active` by `actor` impossible, raised; False when
    there is nothing to change (already so), True when the change may be made."""
    if user.id == actor.user_id:
        # Named as the API's body and the console's form name it (round 30: `user`
        # named a field neither has).
        raise InvalidInput.for_field("is_active", "You cannot deactivate your own account.")
    if user.is_active == active:
        return False
    if active and actor.is_vendor and not _deactivated_by_colleague(session, user):
        raise PermissionDenied(OFFICE_DEACTIVATED)
    if not active and "admin" in user.roles and queries.active_admin_count(session) <= 1:
        raise Conflict("This is the last active admin; make someone else an admin first.")
    if not active and organization is not None:
        _keep_an_administrator(session, user, organization, actor)
    return True


def _keep_an_administrator(
    session: Session, user: User, organization: Organization, actor: Actor
) -> None:
    """Removing the organization's last active administrator is refused while it has
    other active users (one of them is made administrator first). The office may
    still remove the only user left: there is nobody to hand the organization to."""
    # Counted in SQL (round 50: every member of the organization was read).
    active, _administrators = queries.active_people(session, organization.id)
    others_active = active - (1 if user.is_active else 0) > 0
    if actor.is_vendor or others_active:
        refuse_leaving_without_administrator(session, user, organization)


def _tell_removed_member(
    session: Session, user: User, actor: Actor, tokens: list[str], invitations: int
) -> bool:
    """A member whose access a colleague or the office removed is told who did, when,
    what stopped working and whom to ask (it only found out at the next sign-in, or
    from a program whose token failed). Whether it emailed."""
    return _tell_member(session, user, actor, "removed", tokens=tokens, invitations=invitations)


def _tell_restored_member(session: Session, user: User, actor: Actor) -> bool:
    """A member whose access is restored is told who restored it and where to sign in
    (round 34: they found out only by trying). Whether it emailed."""
    return _tell_member(
        session,
        user,
        actor,
        "restored",
        portal_url=links().vendor_dashboard(),
        reset_url=links().password_reset_request(),
    )


def _tell_member(session: Session, user: User, actor: Actor, step: str, **context: Any) -> bool:
    """Email a vendor member that their access was `step` ("removed" or "restored"):
    who did it (a colleague, else the office) and when, with the template
    `access_<step>` and its own `context`. The office's own accounts, which belong
    to no organization, are not told. Whether it emailed."""
    organization = user.organization
    if organization is None:
        return False
    acting = acting_colleague(session, actor)
    colleague = acting.name_and_email if acting is not None else None
    mail.enqueue(
        session,
        to=user.email,
        subject=f"Your access to {organization.legal_name} was {step}",
        template=f"access_{step}",
        context={
            "user": user,
            "organization": organization,
            f"{step}_by": colleague or f"The {mail.OFFICE_NAME}",
            f"{step}_on": calendar.moment_text(utcnow()),
            "colleague": colleague,
            "office_address": mail.sender_address(),
            **context,
        },
    )
    return True


def revoke_tokens(session: Session, user: User, actor: Actor, note: str) -> list[str]:
    """Revoke every working API token of the user's (each audited with `note`):
    their access ended or changed. The names of those revoked."""
    # One UPDATE, whatever the number of tokens (it read every token of the user's,
    # and wrote and audited each in statements of its own); each still audited as one
    # revoked on its own (`api_token.revoked`, before and after, the note).
    moment = utcnow()
    changed = session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=moment)
        .returning(ApiToken.id, ApiToken.name)
    ).all()
    revoked = sorted(changed, key=lambda row: row.id, reverse=True)  # newest first
    audit.record_events(
        session,
        "api_token.revoked",
        [row.id for row in revoked],
        before={"revoked_at": None},
        after={"revoked_at": moment},
        actor=actor,
        note=note,
    )
    return [row.name for row in revoked]


def withdraw_invitations_sent_by(session: Session, user: User, actor: Actor, note: str) -> int:
    """A member who leaves has their pending invitations withdrawn (each audited
    with `note`): one sent to an address of their own just before leaving would have
    let them back in. How many were. One UPDATE for theirs alone, each still audited
    on its own (round 50: it read every invitation of the organization, and withdrew
    and audited each in statements of its own)."""
    if user.organization_id is None:
        return 0
    return revoke_pending_invitations(
        session, user.organization_id, actor, note, created_by_id=user.id
    )


INVITATIONS_WITHDRAWN = "{} was deactivated: the invitations they sent are withdrawn."


# The audit note beside each token revoked with its account's access.
TOKENS_REVOKED_ON_REMOVAL = "{} was deactivated: their API tokens are revoked."
TOKENS_REVOKED_ON_RESTORE = (
    "{} was reactivated: tokens from before their deactivation are revoked; they create new ones."
)


def restorable_members(session: Session, members: Iterable[User]) -> frozenset[int]:
    """Of `members` (one organization's), the deactivated ones whose organization
    removed them: those its users may restore (`set_user_active`); the others the
    licensing office deactivated, and only the office restores them. One statement
    for them all (round 47: a query per deactivated member, and one more for each
    one's remover), as `_deactivated_by_colleague` decides for one."""
    organization_of = {
        str(member.id): member.organization_id for member in members if not member.is_active
    }
    if not organization_of:
        return frozenset()
    last = (
        select(func.max(AuditEvent.seq))
        .where(
            AuditEvent.action == "user.deactivated",
            AuditEvent.entity_type == "user",
            AuditEvent.entity_id.in_(sorted(organization_of)),
        )
        .group_by(AuditEvent.entity_id)
    )
    removed_by = session.execute(
        select(AuditEvent.entity_id, User.organization_id)
        .join(User, User.id == AuditEvent.actor_user_id)
        .where(AuditEvent.seq.in_(last))
        .order_by(AuditEvent.seq)
    )
    return frozenset(
        int(member_id)
        for member_id, colleague_organization in removed_by
        if colleague_organization is not None
        and colleague_organization == organization_of[member_id]
    )


OFFICE_DEACTIVATED = (
    "The licensing office deactivated this account; only the licensing office can "
    "restore it. Contact them."
)


def _deactivated_by_colleague(session: Session, user: User) -> bool:
    """Whether the account's last deactivation was by a user of its own
    organization: what a vendor undid before included the office's own (an
    admin's, or the system's)."""
    by = session.scalars(
        select(AuditEvent.actor_user_id)
        .where(
            AuditEvent.action == "user.deactivated",
            AuditEvent.entity_type == "user",
            AuditEvent.entity_id == str(user.id),
        )
        .order_by(AuditEvent.seq.desc())
        .limit(1)
    ).first()
    colleague = session.get(User, by) if by is not None else None
    return colleague is not None and colleague.organization_id == user.organization_id
