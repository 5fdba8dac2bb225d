"""Passkeys (round 44): adding one on the two-step page, signing in with one.

The ceremonies are py_webauthn's (`webauthn`); this module keeps what they need
between the two halves of each: the challenge, handed out by `*_options` and
answered once by `add_passkey` or `sign_in_with_passkey`. Its digest is stored
(`PasskeyChallenge`) and deleted by the answer in a transaction of its own, before
the answer is checked: a refused answer has spent its challenge too, and a
browser replaying an old copy of its session cookie finds nothing to answer.

A passkey asks for user verification (the phone's or laptop's PIN, fingerprint or
face), so the one gesture is two factors: something held (the authenticator's
private key) and something known or been. That is why it signs in without the
password and satisfies two-step sign-in and its requirements (docs/security.md,
"Passkeys").
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from licensing import confirmations, db
from licensing.accounts import queries
from licensing.accounts.models import (
    PASSKEY_NAME_MAX,
    PASSKEY_REASON_MAX,
    PASSKEY_REASON_REQUIRED,
    ApiToken,
    Passkey,
    PasskeyChallenge,
    User,
)
from licensing.accounts.services._common import _user_actor, locked_account
from licensing.accounts.services.authentication import (
    DEACTIVATED,
    LOCKOUT_PERIOD,
    LOCKOUT_THRESHOLD,
)
from licensing.accounts.services.passkey_removal import drop_passkeys
from licensing.accounts.services.roles import require_administrator
from licensing.accounts.services.two_step import _own_user, _tell_owner
from licensing.actors import Actor
from licensing.audit import services as audit
from licensing.db import utcnow

if TYPE_CHECKING:
    from webauthn.helpers.structs import PublicKeyCredentialDescriptor

# py_webauthn is imported where a ceremony runs, not with the app: it brings
# cryptography's and pyOpenSSL's bindings, 14 MB a process (measured), which every
# gunicorn worker and the royalty report's peak held though few requests are
# passkey ceremonies (round 46).
from licensing.errors import (
    AuthenticationRequired,
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
)
from licensing.limits import record_id
from licensing.links import links
from licensing.mail import services as mail
from licensing.words import at_most_characters

# How long a challenge may be answered: the browser's own prompt times out first.
CHALLENGE_LIFE = timedelta(minutes=5)
PROMPT_TIMEOUT_MS = 120_000
# Enough for a phone, a laptop and a security key or two; the list stays readable.
MAX_PASSKEYS = 10

REGISTER = "register"
SIGN_IN = "sign_in"

# The words of a refusal, beside the field (the hidden `credential`'s button).
NO_ANSWER = "Your browser sent no passkey: press the button again and follow your browser's steps."
STALE = (
    "That passkey request has ended (it lasts {minutes} minutes and is answered once): "
    "press the button again."
)
NOT_VERIFIED = (
    "Your browser's answer could not be verified as a passkey for this service, with your "
    "PIN, fingerprint or face: nothing was stored. Press the button again."
)
UNKNOWN_PASSKEY = (
    "That passkey is not one this service knows (it may have been removed from your "
    "account): sign in with your email address and password, or choose another passkey."
)
CLONED = (
    "That passkey was refused: its counter went back, which a copy of it would do. Sign in "
    "with your email address and password, remove the passkey on your two-step sign-in "
    "page, and tell the licensing office."
)
LOCKED = (
    f"This account is locked after {LOCKOUT_THRESHOLD} failed sign-in attempts in a row, "
    f"for {int(LOCKOUT_PERIOD.total_seconds() // 60)} minutes, and its owner was emailed: "
    "try again later, or reset your password, which lifts the lock."
)


@dataclass(frozen=True)
class RelyingParty:
    """Who asks for the passkey: the service's host (`rp_id`) and origin, from
    `PUBLIC_URL` (`Config.passkey_rp_id`, `Config.passkey_origin`), and its name
    as the browser's prompt shows it."""

    rp_id: str
    origin: str
    name: str


@dataclass(frozen=True)
class Options:
    """What the browser's script passes to `navigator.credentials`, as JSON, and
    the challenge in it (base64url), which the browser's session keeps to answer."""

    json: str
    challenge: str


def _digest(challenge: str) -> str:
    return hashlib.sha256(challenge.encode()).hexdigest()


def _keep_challenge(
    session: Session, challenge: bytes, purpose: str, user_id: int | None, now: datetime
) -> str:
    """Store the challenge's digest until it expires; those expired go now (each
    new one clears them, so the table holds at most the last 5 minutes')."""
    from webauthn.helpers import bytes_to_base64url

    session.execute(delete(PasskeyChallenge).where(PasskeyChallenge.expires_at < now))
    text = bytes_to_base64url(challenge)
    session.add(
        PasskeyChallenge(
            digest=_digest(text), purpose=purpose, user_id=user_id, expires_at=now + CHALLENGE_LIFE
        )
    )
    return text


def _spend_challenge(challenge: str, purpose: str, user_id: int | None, now: datetime) -> None:
    """Delete the challenge, in a transaction of its own: answered once, right or
    wrong. Raises InvalidInput (on `credential`) when there is none to spend."""
    answerable = False
    with db.transaction() as session:
        found = session.scalar(
            select(PasskeyChallenge)
            .where(PasskeyChallenge.digest == _digest(challenge or "-"))
            .with_for_update()
        )
        if found is not None:
            answerable = (
                found.purpose == purpose and found.user_id == user_id and found.expires_at >= now
            )
            session.delete(found)
    if not answerable:
        minutes = int(CHALLENGE_LIFE.total_seconds() // 60)
        raise InvalidInput.for_field("credential", STALE.format(minutes=minutes))


def _user_handle(user: User) -> bytes:
    """The WebAuthn user handle: the account's id, which names no person (the
    specification forbids an address or name there)."""
    return f"user-{user.id}".encode()


def passkeys_of(session: Session, user_id: int) -> list[Passkey]:
    return list(
        session.scalars(
            select(Passkey).where(Passkey.user_id == user_id).order_by(Passkey.created_at)
        )
    )


def _descriptor(passkey: Passkey) -> PublicKeyCredentialDescriptor:
    from webauthn.helpers import base64url_to_bytes
    from webauthn.helpers.structs import AuthenticatorTransport, PublicKeyCredentialDescriptor

    known = {transport.value for transport in AuthenticatorTransport}
    return PublicKeyCredentialDescriptor(
        id=base64url_to_bytes(passkey.credential_id),
        transports=[
            AuthenticatorTransport(name) for name in passkey.transports.split(",") if name in known
        ],
    )


def registration_options(
    actor: Actor, party: RelyingParty, *, now: datetime | None = None
) -> Options:
    """The options for adding a passkey to the actor's own account: a
    discoverable credential preferred (so it signs in without an address), user
    verification required, the account's passkeys excluded (the authenticator
    says it has one already rather than making a second)."""
    from webauthn import generate_registration_options, options_to_json
    from webauthn.helpers.structs import (
        AuthenticatorSelectionCriteria,
        ResidentKeyRequirement,
        UserVerificationRequirement,
    )

    moment = now or utcnow()
    with db.transaction() as session:
        user = _own_user(session, actor)
        existing = passkeys_of(session, user.id)
        if len(existing) >= MAX_PASSKEYS:
            raise Conflict(
                f"Your account has {MAX_PASSKEYS} passkeys, the most it keeps: remove one first."
            )
        options = generate_registration_options(
            rp_id=party.rp_id,
            rp_name=party.name,
            user_name=user.email,
            user_id=_user_handle(user),
            user_display_name=user.full_name or user.email,
            timeout=PROMPT_TIMEOUT_MS,
            authenticator_selection=AuthenticatorSelectionCriteria(
                resident_key=ResidentKeyRequirement.PREFERRED,
                user_verification=UserVerificationRequirement.REQUIRED,
            ),
            exclude_credentials=[_descriptor(passkey) for passkey in existing],
        )
        challenge = _keep_challenge(session, options.challenge, REGISTER, user.id, moment)
    return Options(options_to_json(options), challenge)


def clean_name(name: str) -> str:
    """The passkey's name, one line, as typed; InvalidInput on `name` otherwise."""
    cleaned = " ".join((name or "").split())
    if not cleaned:
        raise InvalidInput.for_field(
            "name", "Name the passkey (such as the device it is on: Work laptop, Phone)."
        )
    if len(cleaned) > PASSKEY_NAME_MAX:
        raise InvalidInput.for_field(
            "name", f"Give the passkey a name of at most {PASSKEY_NAME_MAX} characters."
        )
    return cleaned


def add_passkey(
    actor: Actor,
    name: str,
    credential: str,
    challenge: str,
    party: RelyingParty,
    *,
    now: datetime | None = None,
) -> Passkey:
    """The browser's answer to `registration_options`, verified (the challenge,
    origin, host, user verification, the attestation's signature): the passkey
    stored under `name`, audited `user.passkey_added`, its owner emailed."""
    from webauthn import verify_registration_response
    from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
    from webauthn.helpers.exceptions import WebAuthnException

    moment = now or utcnow()
    cleaned = clean_name(name)
    if not credential.strip():
        raise InvalidInput.for_field("credential", NO_ANSWER)
    _spend_challenge(challenge, REGISTER, actor.user_id, moment)
    try:
        verified = verify_registration_response(
            credential=credential,
            expected_challenge=base64url_to_bytes(challenge),
            expected_rp_id=party.rp_id,
            expected_origin=party.origin,
            require_user_verification=True,
        )
        transports = json.loads(credential).get("response", {}).get("transports") or []
    except (WebAuthnException, ValueError, TypeError, KeyError, AttributeError):
        raise InvalidInput.for_field("credential", NOT_VERIFIED) from None
    credential_id = bytes_to_base64url(verified.credential_id)
    kinds = ",".join(str(item) for item in transports if isinstance(item, str))[:200]

    def stored() -> Passkey:
        with db.transaction() as session:
            user = _own_user(session, actor)
            if any(passkey.name == cleaned for passkey in passkeys_of(session, user.id)):
                raise InvalidInput.for_field(
                    "name",
                    f"You have a passkey named {cleaned} already: give this one another name.",
                )
            taken = session.scalar(select(Passkey.id).where(Passkey.credential_id == credential_id))
            if taken is not None:
                raise InvalidInput.for_field(
                    "credential", "That passkey is stored already: choose another authenticator."
                )
            passkey = Passkey(
                user_id=user.id,
                credential_id=credential_id,
                public_key=verified.credential_public_key,
                sign_count=verified.sign_count,
                name=cleaned,
                transports=kinds,
                created_at=moment,
            )
            session.add(passkey)
            session.flush()
            audit.record_event(
                session,
                "user.passkey_added",
                user.id,
                before=None,
                after={"passkey": cleaned, "passkeys": len(passkeys_of(session, user.id))},
                actor=actor,
            )
            _tell_owner(session, user, "passkey_added", passkey_name=cleaned)
            return passkey

    # Run again alone after a deadlock (round 60, `db.retried_unit`): the challenge
    # was spent in a unit of its own, once, so the page cannot be run again whole.
    return db.retried_unit(stored)


def remove_passkey(actor: Actor, passkey_id: int, *, token_id: int | None = None) -> str:
    """Remove one of the actor's own passkeys: it signs in nowhere any more.
    Audited `user.passkey_removed`, the owner emailed. Its name. `token_id`: the API
    token the step was taken with (the API needs no recent password, round 47), named
    in the audit note and the email, which says to revoke it if the step was not the
    owner's: a password reset ends sessions, not tokens (round 50)."""
    with db.transaction() as session:
        user = _own_user(session, actor)
        passkey = session.get(Passkey, passkey_id)
        if passkey is None or passkey.user_id != user.id:
            raise NotFound("That passkey is not one of yours: it may have been removed already.")
        name = passkey.name
        token = session.get(ApiToken, token_id) if token_id is not None else None
        session.delete(passkey)
        session.flush()
        audit.record_event(
            session,
            "user.passkey_removed",
            user.id,
            before={"passkey": name},
            after={"passkeys": len(passkeys_of(session, user.id))},
            actor=actor,
            note=THROUGH_THE_API.format(token.name, token.prefix) if token else None,
        )
        _tell_owner(
            session,
            user,
            "passkey_removed",
            passkey_name=name,
            token=token,
            tokens_url=links().api_tokens(),
        )
        return name


# The audit note of a passkey removed with an API token: which one.
THROUGH_THE_API = "Removed through the API with the token “{}” ({}…)."


@dataclass(frozen=True)
class PasskeysRemoved:
    """The office's removal done: the person, the names removed, and whether they
    were emailed (not an admin removing their own)."""

    user: User
    names: tuple[str, ...]
    emailed: bool


def _reason_given(reason: str) -> str:
    """The reason for removing someone else's passkeys, on one line; InvalidInput
    on `reason` when there is none (it is audited, and the person reads it)."""
    cleaned = " ".join((reason or "").split())
    if not cleaned:
        raise InvalidInput.for_field("reason", PASSKEY_REASON_REQUIRED)
    if len(cleaned) > PASSKEY_REASON_MAX:
        raise InvalidInput.for_field("reason", at_most_characters(PASSKEY_REASON_MAX))
    return cleaned


def _theirs_to_remove(session: Session, user: User, passkey_id: int | None) -> list[Passkey]:
    """The person's passkeys, checked for a removal by someone else: NotFound for
    a chosen passkey not theirs; Conflict when they have none."""
    owned = passkeys_of(session, user.id)
    if passkey_id is not None and passkey_id not in {passkey.id for passkey in owned}:
        raise NotFound(
            f"That passkey is not one of {user.email}'s: it may have been removed already."
        )
    if not owned:
        raise Conflict(f"{user.email} has no passkey: nothing was removed.")
    return owned


# A removal of someone's passkeys, asked first on the console (round 54: an
# organization's administrator; round 55: the office too, which removed them at one
# press), confirmed by a value signed over the passkeys named, the choice and the
# reason, the person shown it and when (`licensing.confirmations`).
REMOVAL_CONFIRMATION = confirmations.Kind(
    salt="licensing.accounts.passkey-removal-confirmation",
    record_word="person",
    not_done="Not removed",
    nothing_done="Nothing was removed",
    again="remove the passkeys again to see every one of them named, then confirm",
)


def removal_confirmation(
    actor: Actor,
    user_id: int,
    reason: str,
    passkey_id: int | None,
    shown: Sequence[tuple[int, str]],
    now: datetime | None = None,
) -> str:
    """The value a passkey removal's confirmation carries: the passkeys it names
    (`shown`, ids and names), the choice (one or all) and the reason."""
    said = {
        "passkeys": ",".join(str(shown_id) for shown_id, _ in shown),
        "chosen": str(passkey_id or "all"),
        "reason": confirmations.digest(" ".join((reason or "").split())),
    }
    return REMOVAL_CONFIRMATION.sign(user_id, actor, now or utcnow(), said)


def _confirmed_passkeys(
    confirmation: str, actor: Actor, user_id: int, reason: str, passkey_id: int | None
) -> frozenset[int]:
    """The ids a removal's confirmation named, once it is found to be the service's,
    for this person, choice, reason and actor, and recent; `ConfirmationRefused`
    (400) otherwise."""
    said = REMOVAL_CONFIRMATION.read_as_posted(
        confirmation,
        user_id,
        actor,
        utcnow(),
        posted={"chosen": str(passkey_id or "all"), "reason": confirmations.digest(reason)},
        what="passkey or reason",
        carries=("passkeys",),
    )
    return frozenset(
        found for part in said["passkeys"].split(",") if (found := record_id(part)) is not None
    )


def passkeys_to_remove_for(
    actor: Actor, user_id: int, reason: str, passkey_id: int | None
) -> tuple[User, list[tuple[int, str]]]:
    """The person and the passkeys (id, name) `remove_passkeys_for` would remove,
    refused as it would be: what the office's confirmation names (round 55)."""
    actor.require_role("admin")
    _reason_given(reason)
    with db.transaction() as session:
        user = session.get(User, user_id)
        if user is None:
            raise NotFound(f"There is no user {user_id}.")
        owned = _theirs_to_remove(session, user, passkey_id)
        chosen = [(p.id, p.name) for p in owned if passkey_id in (None, p.id)]
        session.expunge(user)
        return user, chosen


def remove_passkeys_for(
    actor: Actor,
    user_id: int,
    reason: str,
    *,
    passkey_id: int | None = None,
    by: str | None = None,
    confirmation: str | None = None,
) -> PasskeysRemoved:
    """The office removes one of a person's passkeys (`passkey_id`) or all of them
    (round 45: a lost or stolen device carries its passkey): admins only, with a
    reason, audited `user.passkey_removed` (the reason the note, and who ran a
    command, `by`), the person emailed. Every session of the account ends, as the
    office's other steps for a lost device do: the device may be signed in, with
    the passkey or the password. NotFound for a passkey not theirs; Conflict when
    they have none. The console, the command line and the API (round 47) call it.

    With `confirmation` (`removal_confirmation`; the console's confirming post gives
    one, "" when it had none, round 55): refused (400) unless it is the service's,
    for this person, choice, reason and admin, and recent; refused (`PasskeysAdded`,
    409) when a passkey to remove is not one it named, read under the person's row
    lock, which adding a passkey takes too. Nothing removed either way."""
    actor.require_role("admin")
    reason = _reason_given(reason)
    shown = (
        None
        if confirmation is None
        else _confirmed_passkeys(confirmation, actor, user_id, reason, passkey_id)
    )
    with db.transaction() as session:
        user = locked_account(session, user_id)
        if user is None:
            raise NotFound(f"There is no user {user_id}.")
        owned = _theirs_to_remove(session, user, passkey_id)
        chosen = [p.name for p in owned if passkey_id in (None, p.id) and p.id not in (shown or ())]
        if shown is not None and chosen:
            raise PasskeysAdded(user, chosen, named_none=not shown)
        own = user.id == actor.user_id
        names = drop_passkeys(
            session,
            user,
            actor,
            f"{reason} ({by})" if by else reason,
            only=None if passkey_id is None else [passkey_id],
            emailed=not own,
        )
        user.session_generation += 1
        if not own:
            mail.enqueue(
                session,
                to=user.email,
                subject=_REMOVED_BY_OFFICE_SUBJECT,
                template="passkeys_removed_by_office",
                context={
                    "user": user,
                    "names": names,
                    "reason": reason,
                    "office_address": mail.sender_address(),
                    "two_step_url": links().two_step_sign_in(),
                    "reset_url": links().password_reset_request(),
                },
            )
        return PasskeysRemoved(user, tuple(names), not own)


def _member_of_administrator(
    session: Session, actor: Actor, user_id: int, passkey_id: int | None
) -> tuple[User, list[Passkey]]:
    """The colleague whose passkeys an organization's administrator removes, and
    those chosen (`passkey_id`, or all), checked: NotFound for another
    organization's person or a passkey not theirs, PermissionDenied for a caller
    who is not (any longer) their administrator, Conflict for the caller's own
    account, a member whose access is removed, or one with no passkey."""
    user = queries.get_member(session, user_id, actor)
    if user.organization_id is None or not actor.is_vendor:
        raise PermissionDenied("Only the member's organization's administrators do this here.")
    require_administrator(session, user.organization_id, actor)
    if user.id == actor.user_id:
        raise Conflict(
            "Your own passkeys are removed on your two-step sign-in page, "
            "which asks for your password."
        )
    if not user.is_active:
        raise Conflict(f"{user.email}'s access is removed: their passkeys went with it.")
    owned = _theirs_to_remove(session, user, passkey_id)
    return user, [passkey for passkey in owned if passkey_id in (None, passkey.id)]


def member_passkeys_to_remove(
    actor: Actor, user_id: int, reason: str, passkey_id: int | None
) -> list[tuple[int, str]]:
    """The passkeys (id, name) `remove_member_passkeys` would remove, refused as it
    would be (a reason too): what the confirmation names before anything is removed,
    and binds (`shown`)."""
    _reason_given(reason)
    with db.transaction() as session:
        _, chosen = _member_of_administrator(session, actor, user_id, passkey_id)
        return [(passkey.id, passkey.name) for passkey in chosen]


class PasskeysAdded(Conflict):
    """A removal confirmed on passkeys the member no longer has alone: one added
    between the confirmation and the press would go unnamed (round 54)."""

    def __init__(self, user: User, added: Sequence[str], named_none: bool) -> None:
        which = ", ".join(added)
        why = (
            "the confirmation named none of their passkeys"
            if named_none
            else f"{user.full_name} added {'the passkey' if len(added) == 1 else 'the passkeys'} "
            f"{which} after the removal was shown to confirm"
        )
        super().__init__(
            f"Not removed: {why}. Nothing was removed: remove the passkeys again to see "
            "every one of them named, then confirm."
        )


def remove_member_passkeys(
    actor: Actor,
    user_id: int,
    reason: str,
    *,
    passkey_id: int | None = None,
    shown: Collection[int] | None = None,
    confirmation: str | None = None,
) -> PasskeysRemoved:
    """An organization's administrator removes one of a colleague's passkeys
    (`passkey_id`) or all of them (round 47: a member's lost laptop, without waiting
    for the office). Their own organization's members only (another's: NotFound, as
    everywhere a vendor asks for what is not theirs), never their own (the two-step
    page, with the recent password, is for that), with a reason; audited
    `user.passkey_removed`, the member emailed who did it and why. The sessions
    resting on a removed passkey end on their next request (`auth.load_session_user`),
    as when the owner removes it; their password sessions stay: removing the
    member's access is the step that ends everything.

    `shown` (the ids the console's confirmation named, round 54): refused
    (`PasskeysAdded`, 409, nothing removed) when a passkey to remove is not among
    them, read under the member's row lock, which adding a passkey takes too.
    `confirmation` (round 55; the console's confirming post gives one, "" when it had
    none): those ids as the confirmation signed them (`removal_confirmation`), 400
    when it is not the service's, for this member, choice, reason and person, and
    recent."""
    reason = _reason_given(reason)
    if confirmation is not None:
        shown = _confirmed_passkeys(confirmation, actor, user_id, reason, passkey_id)
    with db.transaction() as session:
        locked_account(session, user_id)  # as `add_passkey` does
        user, chosen = _member_of_administrator(session, actor, user_id, passkey_id)
        if shown is not None and (added := [p.name for p in chosen if p.id not in shown]):
            raise PasskeysAdded(user, added, named_none=not shown)
        colleague = session.get(User, actor.user_id)
        assert colleague is not None  # require_administrator read them
        names = drop_passkeys(
            session,
            user,
            actor,
            reason,
            only=None if passkey_id is None else [passkey_id],
            emailed=True,
        )
        mail.enqueue(
            session,
            to=user.email,
            subject=f"{colleague.full_name} removed passkeys from your account",
            template="passkeys_removed_by_administrator",
            context={
                "user": user,
                "names": names,
                "reason": reason,
                "colleague": colleague.name_and_email,
                "organization": user.organization,
                "two_step_url": links().two_step_sign_in(),
                "reset_url": links().password_reset_request(),
            },
        )
        return PasskeysRemoved(user, tuple(names), True)


_REMOVED_BY_OFFICE_SUBJECT = "The licensing office removed passkeys from your account"


def remove_passkeys_by_email(
    email: str, reason: str, *, name: str | None = None, by: str
) -> PasskeysRemoved:
    """Operations (`licensing users remove-passkeys`): `remove_passkeys_for` as the
    system, for the user with this address, the passkey named `name` or all."""
    with db.transaction() as session:
        found = queries.user_by_email(session, email)
        if found is None:
            raise NotFound(f"There is no user {email.strip().lower()}.")
        user_id, passkey_id = found.id, None
        if name is not None:
            cleaned = " ".join(name.split())
            passkey_id = next(
                (p.id for p in passkeys_of(session, user_id) if p.name == cleaned), None
            )
            if passkey_id is None:
                raise NotFound(f"{found.email} has no passkey named {cleaned}.")
    return remove_passkeys_for(Actor.SYSTEM, user_id, reason, passkey_id=passkey_id, by=by)


def sign_in_options(party: RelyingParty, *, now: datetime | None = None) -> Options:
    """The options for signing in with a passkey: no account named (the
    authenticator offers its discoverable credentials for this host), user
    verification required."""
    from webauthn import generate_authentication_options, options_to_json
    from webauthn.helpers.structs import UserVerificationRequirement

    moment = now or utcnow()
    options = generate_authentication_options(
        rp_id=party.rp_id,
        timeout=PROMPT_TIMEOUT_MS,
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    with db.transaction() as session:
        challenge = _keep_challenge(session, options.challenge, SIGN_IN, None, moment)
    return Options(options_to_json(options), challenge)


@dataclass(frozen=True)
class PasskeySignIn:
    """Who signed in, and with which passkey: the session keeps its id, and ends
    when the passkey is removed (round 45)."""

    user: User
    passkey_id: int


def sign_in_with_passkey(
    credential: str, challenge: str, party: RelyingParty, *, now: datetime | None = None
) -> PasskeySignIn:
    """The browser's answer to `sign_in_options`: the user to sign in, with both
    factors shown (no password, no code asked). Refused (`AuthenticationRequired`)
    for an answer that does not verify, a passkey nobody has, and one whose
    counter went back (a copy: audited `user.passkey_refused`); refused
    (`PermissionDenied`) for a locked or deactivated account, as the password
    would be. Audited `user.passkey_used` when it signs in.

    A refused passkey does not count towards the account's lockout: nothing was
    guessed (the private key cannot be), and anyone knowing a credential's id
    could otherwise lock its owner out. `AUTH_RATE_LIMIT` bounds the attempts."""
    from webauthn import verify_authentication_response
    from webauthn.helpers import (
        base64url_to_bytes,
        bytes_to_base64url,
        parse_authentication_credential_json,
    )
    from webauthn.helpers.exceptions import WebAuthnException

    moment = now or utcnow()
    if not credential.strip():
        raise InvalidInput.for_field("credential", NO_ANSWER)
    _spend_challenge(challenge, SIGN_IN, None, moment)
    try:
        parsed = parse_authentication_credential_json(credential)
    except (WebAuthnException, ValueError, TypeError, KeyError, AttributeError):
        raise AuthenticationRequired(NOT_VERIFIED) from None
    credential_id = bytes_to_base64url(parsed.raw_id)

    def signed_in() -> tuple[User, int, Exception | None]:
        refusal: Exception | None = None
        with db.transaction() as session:
            # The account first, then its passkey (round 55: the accounts lock order): a
            # removal locks the account and then deletes its passkeys, and a sign-in that
            # locked the passkey first deadlocked with it. Read again under the locks: a
            # passkey removed meanwhile is one this service no longer knows.
            owner = session.scalar(
                select(Passkey.user_id).where(Passkey.credential_id == credential_id)
            )
            user = None if owner is None else locked_account(session, owner)
            passkey = session.scalar(
                select(Passkey)
                .where(Passkey.credential_id == credential_id, Passkey.user_id == owner)
                .with_for_update()
            )
            if passkey is None or user is None:
                raise AuthenticationRequired(UNKNOWN_PASSKEY)
            handle = parsed.response.user_handle
            if handle is not None and handle != _user_handle(user):
                raise AuthenticationRequired(UNKNOWN_PASSKEY)
            try:
                # The counter is compared below, where a copy is told from a bad answer.
                verified = verify_authentication_response(
                    credential=parsed,
                    expected_challenge=base64url_to_bytes(challenge),
                    expected_rp_id=party.rp_id,
                    expected_origin=party.origin,
                    credential_public_key=passkey.public_key,
                    credential_current_sign_count=0,
                    require_user_verification=True,
                )
            except (WebAuthnException, ValueError, TypeError, KeyError, AttributeError):
                raise AuthenticationRequired(NOT_VERIFIED) from None
            counted = verified.new_sign_count
            if (counted > 0 or passkey.sign_count > 0) and counted <= passkey.sign_count:
                audit.record_event(
                    session,
                    "user.passkey_refused",
                    user.id,
                    before={"sign_count": passkey.sign_count},
                    after={"sign_count": counted},
                    actor=None,
                    note=(
                        f"Passkey {passkey.name}: its counter did not move on, as a copy's "
                        "would not."
                    ),
                )
                # Its owner hears of it: whoever holds the copy holds their second factor.
                _tell_owner(session, user, "passkey_refused", passkey_name=passkey.name)
                refusal = AuthenticationRequired(CLONED)
            elif not user.is_active:
                refusal = PermissionDenied(DEACTIVATED)
            elif user.is_locked(moment):
                refusal = PermissionDenied(LOCKED)
            elif not user.email_verified:
                refusal = PermissionDenied("Confirm your email address first.")
            else:
                passkey.sign_count = counted
                passkey.last_used_at = moment
                user.failed_login_count = 0
                user.locked_until = None
                user.last_sign_in_at = moment
                audit.record_event(
                    session,
                    "user.passkey_used",
                    user.id,
                    before=None,
                    after={"passkey": passkey.name},
                    actor=_user_actor(user),
                )
            passkey_id = passkey.id
        return user, passkey_id, refusal

    # Run again alone after a deadlock (round 60, `db.retried_unit`; the lock order's
    # own comment above names one): the challenge was spent in a unit of its own, once,
    # so the page or request cannot be run again whole (it would find it spent).
    user, passkey_id, refusal = db.retried_unit(signed_in)
    if refusal is not None:
        raise refusal
    return PasskeySignIn(user, passkey_id)
