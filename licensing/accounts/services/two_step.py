"""Two-step sign-in: setting it up, the second step of signing in, recovery codes,
and turning it off (by the user, or by an admin for a user who lost their device).

The edges pass the keys (`Keys`: the audit keys, `audit.keys`) the secrets are
derived from (`accounts.two_step`); nothing here reads the configuration.
Every change is audited and its owner emailed in the same transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from licensing import db
from licensing.accounts import passwords, queries, two_step
from licensing.accounts.models import Organization, RecoveryCode, User
from licensing.accounts.services import remembered_browsers
from licensing.accounts.services._common import (
    acting_colleague,
    locked_account,
    recently_mailed,
)
from licensing.accounts.services.authentication import (
    LOCKOUT_PERIOD,
    LOCKOUT_THRESHOLD,
    _count_failure,
)
from licensing.accounts.services.passkey_removal import drop_passkeys
from licensing.accounts.services.roles import locked_organization, require_administrator
from licensing.actors import Actor
from licensing.audit import services as audit
from licensing.db import utcnow
from licensing.errors import AuthenticationRequired, Conflict, InvalidInput, NotFound
from licensing.links import links
from licensing.mail import services as mail

# A wrong code, a used one, a locked account: one answer, like the password's.
CODE_REFUSED = (
    "The code is incorrect or has been used already. After "
    f"{LOCKOUT_THRESHOLD} failed attempts in a row an account is locked for "
    f"{int(LOCKOUT_PERIOD.total_seconds() // 60)} minutes and its owner is emailed."
)
# After signing in with a recovery code, on the page and in the email: the way to a
# new phone is off (password and a recovery code) then on again, which the word
# "again" alone did not say while it was still on.
NEW_PHONE = (
    "Lost your phone? On the two-step sign-in page, turn it off with your password and "
    "another recovery code (or make new codes there first), then set it up on the new "
    "phone: that gives you new recovery codes."
)
SET_UP_CODE_REFUSED = (
    "That code does not match: check the time on your phone, and type the code your app shows now."
)


@dataclass(frozen=True)
class Keys:
    """The key new secrets are derived with (its id and bytes), and every key an
    existing secret may name."""

    current_id: str
    current: bytes
    ring: Mapping[str, bytes]


@dataclass(frozen=True)
class PendingSetUp:
    """What the set-up page shows: the secret, grouped, and its QR code."""

    secret: str
    uri: str


# Why an admin turned a user's two-step sign-in off, missing, empty or blank: the
# service's and the page's words alike (round 50: the page said "This field is
# required." for an empty one).
TURN_OFF_REASON_REQUIRED = "Say why (for the audit log and the user's email)."


def _secret(user: User, keys: Keys) -> str:
    key = two_step.key_from_ring(keys.ring, user.two_step_key_id)
    if key is None or user.two_step_nonce is None:
        # The key that made it is no longer configured: as good as lost.
        raise Conflict(
            "Two-step sign-in cannot be checked for this account (its key is no longer "
            "configured). Use a recovery code, or ask the licensing office to turn it off."
        )
    return two_step.secret_for(key, user.id, user.two_step_nonce)


def _own_user(session: Session, actor: Actor) -> User:
    user = locked_account(session, actor.user_id) if actor.user_id else None
    if user is None or not user.is_active:
        raise AuthenticationRequired("Sign in again.")
    return user


def pending_set_up(user_id: int, email: str, nonce: str, keys: Keys) -> PendingSetUp:
    """The secret (and its QR code's address) a set-up in progress shows, from the
    nonce the browser's session keeps until a code confirms it: nothing is stored
    before then, so showing the page writes nothing."""
    secret = two_step.secret_for(keys.current, user_id, nonce)
    return PendingSetUp(secret, two_step.provisioning_uri(secret, email))


def confirm_set_up(
    actor: Actor, nonce: str, code: str, keys: Keys, *, now: datetime | None = None
) -> list[str]:
    """Turn two-step sign-in on once the app's first code for the secret of
    `nonce` matches; the recovery codes, to show once."""
    moment = now or utcnow()
    with db.transaction() as session:
        user = _own_user(session, actor)
        if user.two_step_enabled:
            raise Conflict("Two-step sign-in is already on for your account.")
        secret = two_step.secret_for(keys.current, user.id, nonce)
        step = two_step.accepted_step(secret, code, now=moment, last_step=None)
        if step is None:
            raise InvalidInput.for_field("code", SET_UP_CODE_REFUSED)
        user.two_step_nonce = nonce
        user.two_step_key_id = keys.current_id
        user.two_step_enabled_at = moment
        user.two_step_last_step = step
        codes = _replace_recovery_codes(session, user, moment)
        _audit_two_step(session, user, "user.two_step_enabled", actor, before=False)
        _tell_owner(session, user, "two_step_enabled")
        return codes


def regenerate_recovery_codes(actor: Actor, *, now: datetime | None = None) -> list[str]:
    """New recovery codes; every earlier one stops working."""
    moment = now or utcnow()
    with db.transaction() as session:
        user = _own_user(session, actor)
        if not user.two_step_enabled:
            raise Conflict("Set up two-step sign-in first: recovery codes go with it.")
        codes = _replace_recovery_codes(session, user, moment)
        # New codes are made when the old ones may have gone astray, and a browser
        # may have been remembered with one of them.
        remembered_browsers.forget_browsers(session, user, actor, "New recovery codes were made.")
        audit.record_event(
            session,
            "user.recovery_codes_regenerated",
            user.id,
            before=None,
            after={"recovery_codes": len(codes)},
            actor=actor,
        )
        return codes


def turn_off(
    actor: Actor, password: str, code: str, keys: Keys, *, now: datetime | None = None
) -> None:
    """The owner turns it off, with their password and a code (or a recovery
    code); a wrong answer counts towards the lockout."""
    moment = now or utcnow()
    refusal: Exception | None = None
    with db.transaction() as session:
        user = _own_user(session, actor)
        if not user.two_step_enabled:
            raise Conflict("Two-step sign-in is already off for your account.")
        if user.is_locked(moment):
            refusal = AuthenticationRequired(CODE_REFUSED)
        elif not passwords.verify_password(user.password_hash, password):
            _count_failure(session, user, moment)
            refusal = InvalidInput.for_field(
                "password", "The password is incorrect (it counts towards the lockout)."
            )
        elif not _accept_code(session, user, code, keys, moment):
            _count_failure(session, user, moment, after_password=True)
            refusal = InvalidInput.for_field("code", CODE_REFUSED)
        else:
            _disable(session, user, actor, reason=None, note=None)
    if refusal is not None:
        raise refusal


def turn_off_for(actor: Actor, user_id: int, reason: str, *, by: str | None = None) -> User:
    """An admin turns off a user's two-step sign-in (a lost phone and no recovery
    code): audited with the reason, the user emailed. They sign in with the
    password alone, and set it up again (staff, or a member whose organization
    requires it, are taken to the set-up page at once)."""
    actor.require_role("admin")
    reason = " ".join(reason.split())
    if not reason:
        raise InvalidInput.for_field("reason", TURN_OFF_REASON_REQUIRED)
    with db.transaction() as session:
        user = locked_account(session, user_id)
        if user is None:
            raise NotFound(f"There is no user {user_id}.")
        if not user.two_step_enabled:
            raise Conflict(f"Two-step sign-in is already off for {user.email}.")
        # The audit note also says who ran a command (`by`); the user reads the reason.
        _disable(session, user, actor, reason=reason, note=f"{reason} ({by})" if by else reason)
        return user


def turn_off_two_step_by_email(email: str, reason: str, *, by: str) -> User:
    """Operations (`licensing users two-step-off`): `turn_off_for` as the system,
    for the user with this address (the only admin, who cannot reach the console)."""
    with db.transaction() as session:
        found = queries.user_by_email(session, email)
        if found is None:
            raise NotFound(f"There is no user {email.strip().lower()}.")
        user_id = found.id
    return turn_off_for(Actor.SYSTEM, user_id, reason, by=by)


@dataclass(frozen=True)
class Requirement:
    """Two-step sign-in required of an organization's members, or not: whom it emailed
    (round 33: the page and the API said "those without it are asked", never whom)."""

    organization: Organization
    # The addresses emailed that it is required, one each.
    emailed: tuple[str, ...] = ()
    # Why nobody was emailed, in the page's words; None when someone was.
    nobody_because: str | None = None

    @property
    def emailed_summary(self) -> str:
        """Whom it emailed, as a sentence's end: "emailed 2 members: a@x, b@y"."""
        if not self.emailed:
            return f"emailed nobody: {self.nobody_because}"
        members = "member" if len(self.emailed) == 1 else "members"
        return f"emailed {len(self.emailed)} {members}: {', '.join(self.emailed)}"


def require_for_organization(actor: Actor, organization_id: int, required: bool) -> Requirement:
    """An organization's administrator requires two-step sign-in of every member
    (or stops requiring it); members without it are taken to set it up, and are
    emailed so that they have their phone at hand when they next sign in. Whom it
    emailed, or why nobody."""
    with db.transaction() as session:
        organization = locked_organization(session, organization_id)
        require_administrator(session, organization.id, actor)
        if organization.two_step_required == required:
            return Requirement(
                organization,
                nobody_because=f"it was {'already' if required else 'not'} required",
            )
        audit.record_event(
            session,
            "organization.two_step_required",
            organization.id,
            before={"two_step_required": organization.two_step_required},
            after={"two_step_required": required},
            actor=actor,
        )
        organization.two_step_required = required
        if not required:
            return Requirement(organization, nobody_because="nobody is asked to do anything")
        return _tell_members_without_it(session, organization, actor)


TWO_STEP_REQUIRED_EMAIL = "two_step_required"
# A member is told once in this while: an administrator turning the requirement off
# and on again emailed every member without it each time (round 30).
TOLD_ONCE_IN = timedelta(days=1)


def _tell_members_without_it(
    session: Session, organization: Organization, actor: Actor
) -> Requirement:
    """Each active member without two-step sign-in (not the administrator who
    required it) hears it is required: otherwise the set-up page, which needs their
    phone, was the first they heard of it, wherever they were signing in from."""
    by = acting_colleague(session, actor)
    emailed: list[str] = []
    told_already = 0
    # Round 50: those without it read in SQL, and who was told already in one statement
    # (every member was read, and the outbox asked once a member).
    without_it = queries.members_query(organization.id).where(
        User.is_active.is_(True), User.two_step_enabled_at.is_(None)
    )
    if actor.user_id is not None:
        without_it = without_it.where(User.id != actor.user_id)
    members = session.scalars(without_it).all()
    told = recently_mailed(
        session, TWO_STEP_REQUIRED_EMAIL, [member.email for member in members], TOLD_ONCE_IN
    )
    for member in members:
        if member.email in told:
            told_already += 1
            continue  # told already: turning it off and on again emails nobody twice
        mail.enqueue(
            session,
            to=member.email,
            subject=f"Two-step sign-in is now required at {organization.legal_name}",
            template=TWO_STEP_REQUIRED_EMAIL,
            context={
                "user": member,
                "organization": organization,
                "required_by": by.name_and_email if by else f"The {mail.OFFICE_NAME}",
                "two_step_url": links().two_step_sign_in(),
            },
        )
        emailed.append(member.email)
    if emailed:
        return Requirement(organization, tuple(emailed))
    if told_already:
        return Requirement(
            organization,
            nobody_because=f"the {told_already} without it "
            f"{'was' if told_already == 1 else 'were'} emailed in the last day already",
        )
    return Requirement(organization, nobody_because="every other active member uses it already")


def second_step(user_id: int, code: str, keys: Keys, *, now: datetime | None = None) -> User:
    """Signing in, after the password: an authenticator code (accepted once) or
    an unused recovery code. A wrong one counts towards the lockout; a locked
    account accepts none. Raises `AuthenticationRequired` (`CODE_REFUSED`)."""
    moment = now or utcnow()
    refused = False
    with db.transaction() as session:
        user = locked_account(session, user_id)
        if user is None or not user.is_active or not user.two_step_enabled:
            raise AuthenticationRequired("Sign in again.")
        if user.is_locked(moment):
            refused = True
        elif _accept_code(session, user, code, keys, moment):
            user.failed_login_count = 0
            user.locked_until = None
            user.last_sign_in_at = moment
        else:
            # Only the right password leads here: whoever typed it knows it.
            _count_failure(session, user, moment, after_password=True)
            refused = True
    if refused:
        raise AuthenticationRequired(CODE_REFUSED)
    return user


def _accept_code(session: Session, user: User, code: str, keys: Keys, now: datetime) -> bool:
    """An authenticator code newer than the last one accepted, or an unused
    recovery code (spent now, audited and its owner emailed)."""
    if two_step.looks_like_recovery_code(code):
        return _spend_recovery_code(session, user, code, now)
    step = two_step.accepted_step(
        _secret(user, keys), code, now=now, last_step=user.two_step_last_step
    )
    if step is None:
        return False
    user.two_step_last_step = step
    return True


def _spend_recovery_code(session: Session, user: User, code: str, now: datetime) -> bool:
    recovery = session.scalars(
        select(RecoveryCode).where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == two_step.recovery_code_hash(code),
            RecoveryCode.used_at.is_(None),
        )
    ).first()
    if recovery is None:
        return False
    recovery.used_at = now
    left = unused_recovery_codes(session, user.id)
    audit.record_event(
        session,
        "user.recovery_code_used",
        user.id,
        before=None,
        after={"recovery_codes_left": left},
        actor=Actor.user(
            user.email,
            user.id,
            user.organization_id,
            user.roles,
            organization_role=user.organization_role,
        ),
    )
    _tell_owner(session, user, "recovery_code_used", left=left, new_phone=NEW_PHONE)
    return True


def unused_recovery_codes(session: Session, user_id: int) -> int:
    count = session.scalar(
        select(func.count(RecoveryCode.id)).where(
            RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None)
        )
    )
    return int(count or 0)


def _delete_recovery_codes(session: Session, user_id: int) -> None:
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))


def _replace_recovery_codes(session: Session, user: User, now: datetime) -> list[str]:
    _delete_recovery_codes(session, user.id)
    codes = two_step.new_recovery_codes()
    session.add_all(
        RecoveryCode(user_id=user.id, code_hash=two_step.recovery_code_hash(code), created_at=now)
        for code in codes
    )
    return codes


def _disable(
    session: Session, user: User, actor: Actor, *, reason: str | None, note: str | None
) -> None:
    _delete_recovery_codes(session, user.id)
    remembered_browsers.forget_browsers(session, user, actor, "Two-step sign-in was turned off.")
    by_office = actor.user_id != user.id
    # Round 45: the office turns it off for a lost device, which may carry a passkey
    # too: every passkey goes with it (the console's form says so first). The owner
    # turning it off still holds their devices, and keeps them.
    removed = (
        drop_passkeys(session, user, actor, f"Two-step sign-in was turned off: {note}")
        if by_office
        else []
    )
    user.two_step_nonce = None
    user.two_step_key_id = None
    user.two_step_enabled_at = None
    user.two_step_last_step = None
    _audit_two_step(session, user, "user.two_step_disabled", actor, before=True, note=note)
    # Turned off by the office (an admin, or the command line), usually at the
    # person's own request: the email says whom to write to if they did not ask,
    # not "if this was not you" (it was the office, by name).
    _tell_owner(
        session,
        user,
        "two_step_disabled",
        reason=reason,
        by_office=by_office,
        passkeys_removed=removed,
        office_address=mail.sender_address(),
    )


def _audit_two_step(
    session: Session,
    user: User,
    action: str,
    actor: Actor,
    *,
    before: bool,
    note: str | None = None,
) -> None:
    audit.record_event(
        session,
        action,
        user.id,
        before={"two_step": before},
        after={"two_step": user.two_step_enabled},
        actor=actor,
        note=note,
    )


_SUBJECTS = {
    "passkey_added": "A passkey was added to your account",
    "passkey_removed": "A passkey was removed from your account",
    "passkey_refused": "A copy of your passkey was refused",
    "two_step_enabled": "Two-step sign-in is now on for your account",
    "two_step_disabled": "Two-step sign-in was turned off for your account",
    "recovery_code_used": "A recovery code was used to sign in to your account",
}


def _tell_owner(session: Session, user: User, what: str, **context: object) -> None:
    mail.enqueue(
        session,
        to=user.email,
        subject=_SUBJECTS[what],
        template=what,
        context={
            "user": user,
            "reset_url": links().password_reset_request(),
            "two_step_url": links().two_step_sign_in(),
            **context,
        },
    )
