"""A person moves to another organization (docs/accounts.md, "A person moves").

Consultants and staff change employers. The office used to create a new account
under a new address, and the old one lingered with its access. An admin now moves
the account, with a reason: its sessions and API tokens end, its role resets to the
least one (billing member: the new organization's administrators give more), the
invitations it sent for the old organization are withdrawn, and everything it did
(the audit log, reports filed, acceptances signed, payments made) stays the old
organization's record, which names the person as they were. Both organizations'
administrators and the person are emailed; it is audited `user.moved`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from sqlalchemy.orm import Session

from licensing import calendar, db
from licensing.access import BILLING
from licensing.accounts import queries
from licensing.accounts.models import Organization, User
from licensing.accounts.services import remembered_browsers
from licensing.accounts.services._common import _change_user, revoke_pending_invitations
from licensing.accounts.services.members import revoke_tokens, withdraw_invitations_sent_by
from licensing.accounts.services.roles import (
    active_administrators,
    last_administrator,
    locked_organization,
    whom_to_ask,
    with_article,
)
from licensing.accounts.states import CLOSED
from licensing.actors import Actor
from licensing.db import utcnow
from licensing.errors import Conflict, InvalidInput, NotFound
from licensing.links import links
from licensing.mail import services as mail

REASON_MAX = 500
# Why an account moves, missing, empty or blank: the service's, the page's and the
# API's words alike (round 50).
REASON_REQUIRED = "Say why the account moves."
# The role a moved account starts with: the one that may do least (read and pay the
# invoices). The new organization's administrators decide what more it may do.
ROLE_ON_ARRIVAL = BILLING

TOKENS_REVOKED = "{} moved to another organization: their API tokens are revoked."
INVITATIONS_WITHDRAWN = "{} moved to another organization: the invitations they sent are withdrawn."
INVITATION_SETTLED = "The account of the address invited was moved to the organization."


@dataclass(frozen=True)
class Move:
    """A move done: the account, where it came from and what stopped working."""

    user: User
    left: Organization
    joined: Organization
    tokens: list[str]
    invitations: int
    # The organizations whose administrators were emailed (of `left`, `joined`): one
    # with no active administrator but the person has nobody to tell.
    administrators_told: tuple[Organization, ...] = ()
    # Everyone emailed, one each: the person first, then each organization's
    # administrators (round 30: an HR script logs whom, not which organizations).
    recipients: tuple[Recipient, ...] = ()


@dataclass(frozen=True)
class Recipient:
    """One address a move emailed: the person moved, or an administrator of the
    organization left or joined (`organization_id`)."""

    email: str
    audience: str  # "person", "left" or "joined"
    organization_id: int


def check_move(
    user_id: int,
    organization_id: int | None,
    reason: str,
    actor: Actor,
    *,
    leaving: int | None = None,
) -> None:
    """Every refusal `move_user` would give, writing nothing: the console asks for a
    confirmation only of a move that will be made."""
    _refusal(db.session(), user_id, organization_id, reason, actor, leaving, lock=False)


def move_user(
    user_id: int,
    organization_id: int | None,
    reason: str,
    actor: Actor,
    *,
    leaving: int | None = None,
    by: str | None = None,
) -> Move:
    """Move a vendor user's account to the organization `organization_id` (admins).
    `leaving` is the organization the admin saw them in (the page's form): an account
    moved by someone else meanwhile is not moved again from where it is now. `by`
    (a command's run) is added to the audit note; the person reads the reason alone."""
    with db.transaction() as session:
        user, left, joined = _refusal(session, user_id, organization_id, reason, actor, leaving)
        note = reason.strip()
        tokens = revoke_tokens(session, user, actor, TOKENS_REVOKED.format(user.email))
        invitations = withdraw_invitations_sent_by(
            session, user, actor, INVITATIONS_WITHDRAWN.format(user.email)
        )
        _close_invitations_to(session, user, joined, actor)
        _change_user(
            session,
            user,
            "user.moved",
            actor,
            note=f"{note} ({by})" if by else note,
            organization_id=joined.id,
            organization_role=ROLE_ON_ARRIVAL,
        )
        # Every session ends (a pending second step too): the next page would
        # otherwise be the new organization's to a browser signed in for the old.
        user.session_generation += 1
        remembered_browsers.forget_browsers(session, user, actor, "Moved to another organization.")
        session.flush()
        move = Move(user, left, joined, tokens, invitations)
        told, recipients = _tell_everyone(session, move, note)
        return replace(move, administrators_told=told, recipients=recipients)


def move_user_by_email(
    email: str, organization_id: int, reason: str, *, by: str, leaving: int | None = None
) -> Move:
    """Operations (`licensing users move`): `move_user` as the system, for the user
    with this address, with the console's checks (and `leaving`'s, when `--from` names
    where they act now)."""
    with db.transaction() as session:
        found = queries.user_by_email(session, email)
        if found is None:
            raise NotFound(f"There is no user {email.strip().lower()}.")
        user_id = found.id
    return move_user(user_id, organization_id, reason, Actor.SYSTEM, leaving=leaving, by=by)


def _close_invitations_to(session: Session, user: User, joined: Organization, actor: Actor) -> None:
    """An invitation the new organization sent to the person's address (answered
    "an account acts for one organization") is settled by the move: withdrawn, so
    its list does not offer to send it again to someone already there. One UPDATE
    for those to their address (round 50: every invitation of the organization was
    read), each audited."""
    revoke_pending_invitations(session, joined.id, actor, INVITATION_SETTLED, email=user.email)


def _refusal(
    session: Session,
    user_id: int,
    organization_id: int | None,
    reason: str,
    actor: Actor,
    leaving: int | None,
    *,
    lock: bool = True,
) -> tuple[User, Organization, Organization]:
    """The account, the organization it leaves and the one it joins, once nothing
    refuses the move. With `lock`, both organizations' rows are locked (in id order,
    so two moves at once take turns and the administrators are counted as they stay)."""
    actor.require_role("admin")
    user = queries.get_member(session, user_id, actor)
    # A staff account never moved: the API's expected organization does not make
    # it one "moved meanwhile".
    if user.organization_id is None:
        raise InvalidInput.for_field(
            "organization",
            f"{user.full_name} is on the office's staff: only a vendor user's account "
            "moves to another organization.",
        )
    _refuse_moved_meanwhile(user, leaving)
    if not reason.strip():
        raise InvalidInput.for_field("reason", REASON_REQUIRED)
    if len(reason.strip()) > REASON_MAX:
        raise InvalidInput.for_field("reason", f"Write the reason in {REASON_MAX} characters.")
    if organization_id is None:
        raise InvalidInput.for_field("organization", "Choose the organization it moves to.")
    if session.get(Organization, organization_id) is None:
        raise InvalidInput.for_field("organization", f"There is no organization {organization_id}.")
    if organization_id == user.organization_id:
        raise InvalidInput.for_field(
            "organization", f"{user.full_name} already acts for that organization."
        )
    found = {
        each: locked_organization(session, each) if lock else session.get(Organization, each)
        for each in sorted((user.organization_id, organization_id))
    }
    left, joined = found[user.organization_id], found[organization_id]
    # Both were found above (the organization's rows are never deleted).
    assert left is not None
    assert joined is not None
    if lock:
        session.refresh(user)  # as it is once no other move of it can run
        _refuse_moved_meanwhile(user, left.id)
    refused = leaving_refusal(session, user, left)
    if refused is not None:
        raise Conflict(refused)
    if joined.standing == CLOSED:
        raise Conflict(
            f"{joined.legal_name}'s account is closed: it takes no new members, so "
            f"{user.full_name} is not moved there."
        )
    return user, left, joined


class MovedMeanwhile(Conflict):
    """The account acts for another organization than the caller expected. It
    carries where the account is now, so that an edge without a page to open again
    (the API) can say it in its own words."""

    def __init__(self, user: User) -> None:
        super().__init__(
            f"{user.full_name}'s account was moved to another organization meanwhile: "
            "open their page again before moving it."
        )
        self.full_name = user.full_name
        self.organization_id = user.organization_id


def _refuse_moved_meanwhile(user: User, leaving: int | None) -> None:
    """Another admin moved the account since the page was drawn (or while this move
    waited for the organizations' locks): it is not moved on from where it is now
    without a look."""
    if leaving is not None and user.organization_id != leaving:
        raise MovedMeanwhile(user)


def leaving_refusal(session: Session, user: User, left: Organization) -> str | None:
    """Why the account cannot leave `left` now, or None: the move would leave it no
    active administrator, or its invoices going to someone who acts for another
    organization. The console's user page says it instead of offering the move."""
    if user.is_active and user.is_administrator:
        others = [other for other in active_administrators(session, left.id) if other != user]
        if not others:
            return last_administrator(user, left)
    if left.billing_email.lower() == user.email.lower():
        return (
            f"{user.email} is {left.legal_name}'s billing contact: its invoices and payment "
            "reminders would go on reaching someone who acts for another organization. "
            "Change the billing contact first (its administrators, or licensing staff on "
            "its page), then move the account."
        )
    return None


def administrators_to_tell(session: Session, user: User, organization: Organization) -> list[str]:
    """The addresses of the organization's active administrators but the person's own."""
    return [
        other.email
        for other in active_administrators(session, organization.id)
        if other.id != user.id
    ]


def who_is_told(
    person: str, organizations: Sequence[Organization], told: Sequence[Organization]
) -> str:
    """Who a move emails, as a sentence's end: "Ana, and both organizations'
    administrators", or naming the organization with no active administrator to
    tell (a destination whose administrator's access was removed, say)."""
    untold = [organization.legal_name for organization in organizations if organization not in told]
    if not untold:
        return f"{person}, and both organizations' administrators"
    if len(untold) == len(organizations):
        return f"{person} alone (neither organization has an active administrator to tell)"
    (named,) = [organization.legal_name for organization in told]
    return (
        f"{person}, and {named}'s administrators ({untold[0]} has no active administrator to tell)"
    )


def _tell_everyone(
    session: Session, move: Move, reason: str
) -> tuple[tuple[Organization, ...], tuple[Recipient, ...]]:
    """The person, and each organization's active administrators (but them), hear
    what changed and what they may do about it. Neither organization is told the
    other's name: where someone works now is theirs to tell. The organizations
    whose administrators were told, and every address emailed."""
    user, when = move.user, calendar.moment_text(utcnow())
    shared = {
        "user": user,
        "moved_on": when,
        "office_address": mail.sender_address(),
        # Their first sign-in stops at the set-up: say so before it surprises anyone.
        "two_step_asked": move.joined.two_step_required and not user.two_step_enabled,
    }
    mail.enqueue(
        session,
        to=user.email,
        subject=f"Your account now acts for {move.joined.legal_name}",
        template="account_moved",
        context={
            **shared,
            "audience": "person",
            "left": move.left,
            "joined": move.joined,
            "reason": reason,
            "role": with_article(ROLE_ON_ARRIVAL),
            "tokens": move.tokens,
            "tokens_url": links().api_tokens(),
            "ask": whom_to_ask(session, move.joined.id),
            "portal_url": links().vendor_dashboard(),
        },
    )
    told = []
    recipients = [Recipient(user.email, "person", move.joined.id)]
    for audience, organization in (("left", move.left), ("joined", move.joined)):
        administrators = administrators_to_tell(session, user, organization)
        if not administrators:
            continue
        told.append(organization)
        recipients += [Recipient(address, audience, organization.id) for address in administrators]
        mail.enqueue(
            session,
            to=administrators,
            subject=_subject(audience, user, organization),
            template="account_moved",
            context={
                **shared,
                "audience": audience,
                "organization": organization,
                "role": with_article(ROLE_ON_ARRIVAL),
                "tokens": move.tokens,
                "invitations": move.invitations,
                "portal_url": links().vendor_organization(),
            },
        )
    return tuple(told), tuple(recipients)


def _subject(audience: str, user: User, organization: Organization) -> str:
    if audience == "left":
        return f"{user.full_name} no longer acts for {organization.legal_name}"
    return f"{user.full_name} joined {organization.legal_name} as {with_article(ROLE_ON_ARRIVAL)}"
