"""Browsers remembered for two-step sign-in: "Don't ask for a code on this browser
for N days", ticked with a right code. There, the right password alone signs in
until the browser is forgotten or its time runs out; everywhere else the code is
asked as before.

The browser keeps a 256-bit token in a cookie, one for each account remembered
there (a shared computer: at most `ACCOUNTS_PER_BROWSER`, round 30); the database
keeps its SHA-256 digest (`two_step.browser_token_hash`), so a copy of the database remembers no
browser. Everything that ends trust in the account's sign-in (a new password, a
sign-out everywhere, two-step sign-in off, new recovery codes, a move, a
deactivation) forgets every browser of the account (`forget_browsers`), in the
caller's transaction and audited once with how many.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, false, func, not_, select
from sqlalchemy.orm import Session

from licensing import db
from licensing.accounts import two_step
from licensing.accounts.models import RememberedBrowser, User
from licensing.accounts.services._common import _recent_mail, _user_actor, locked_account
from licensing.actors import Actor
from licensing.audit import services as audit
from licensing.db import utcnow
from licensing.errors import AuthenticationRequired, Conflict, NotFound
from licensing.links import links
from licensing.mail import services as mail

# A shared computer holds the remembered sign-ins of at most this many accounts (the
# cookie stays small): a sixth remembered there drops the oldest token (its row
# waits unused for its date, or its owner's *Forget*).
ACCOUNTS_PER_BROWSER = 5


def remember_browser(
    user_id: int,
    user_agent: str,
    days: int,
    *,
    alongside: Sequence[str] = (),
    now: datetime | None = None,
) -> str:
    """Remember this browser for `days` (the second step was just passed): the
    token for its cookie. `alongside`, the tokens the browser holds already: one of
    this account's among them is this browser remembered before, replaced now.
    Audited `user.browser_remembered`."""
    moment = now or utcnow()
    token = two_step.new_browser_token()
    # Run again alone after a deadlock (round 60, `db.retried_unit`): the sign-in's code
    # was accepted in a unit of its own, once, so its page cannot be run again whole.
    db.retried_unit(lambda: _remember(user_id, token, user_agent, days, alongside, moment))
    return token


def _remember(
    user_id: int,
    token: str,
    user_agent: str,
    days: int,
    alongside: Sequence[str],
    moment: datetime,
) -> None:
    """`remember_browser`'s unit of work."""
    with db.transaction() as session:
        user = session.get(User, user_id)
        if user is None or not user.is_active or not user.two_step_enabled:
            raise AuthenticationRequired("Sign in again.")
        # The account's browsers no longer trusted (their time ran out, or a lowered
        # setting shortened them) go as a new one comes, and so does this browser's
        # earlier row for the account: the sign-in page may have dropped its token from
        # the cookie already, as serving nothing (round 33).
        earlier = [two_step.browser_token_hash(each) for each in alongside]
        session.execute(
            delete(RememberedBrowser).where(
                RememberedBrowser.user_id == user.id,
                not_(_honoured(days, moment)) | RememberedBrowser.token_hash.in_(earlier),
            )
        )
        browser = RememberedBrowser(
            user_id=user.id,
            token_hash=two_step.browser_token_hash(token),
            label=two_step.browser_label(user_agent),
            created_at=moment,
            expires_at=moment + timedelta(days=days),
        )
        session.add(browser)
        session.flush()
        audit.record_event(
            session,
            "user.browser_remembered",
            user.id,
            after={"browser": browser.label, "expires_at": browser.expires_at},
            actor=_user_actor(user),
        )


def _honoured(days: int, now: datetime) -> ColumnElement[bool]:
    """The rows a remembered browser is trusted by: before its date, and made less than
    `days` ago (a lower setting shortens those remembered before); none at 0, when the
    office has turned remembering off."""
    if days <= 0:
        return false()
    return (RememberedBrowser.expires_at > now) & (
        RememberedBrowser.created_at > now - timedelta(days=days)
    )


def recognised_browser(
    session: Session, user: User, tokens: Sequence[str], days: int, now: datetime
) -> RememberedBrowser | None:
    """The remembered browser of `user` that one of `tokens` (the cookie's) is, noting
    its use; None for no token, only other accounts', unknown (forged or forgotten)
    ones, one whose time ran out, or any while remembering is off (`days` 0). A lower
    `days` than when it was made shortens it too."""
    if not tokens or days <= 0:
        return None
    browser = session.scalars(
        select(RememberedBrowser).where(
            RememberedBrowser.token_hash.in_([two_step.browser_token_hash(t) for t in tokens]),
            RememberedBrowser.user_id == user.id,
            _honoured(days, now),
        )
    ).first()
    if browser is not None:
        browser.last_used_at = now
    return browser


def tokens_still_remembered(
    session: Session, tokens: Sequence[str], days: int, now: datetime
) -> list[str]:
    """Of the tokens a browser holds, in order, those whose remembered browser is still
    trusted (of any account): what its cookie keeps after a forgetting."""
    if not tokens or days <= 0:
        return []
    digests = {two_step.browser_token_hash(token): token for token in tokens}
    live = set(
        session.scalars(
            select(RememberedBrowser.token_hash).where(
                RememberedBrowser.token_hash.in_(list(digests)), _honoured(days, now)
            )
        )
    )
    return [token for digest, token in digests.items() if digest in live]


def remembered_browsers_of(
    session: Session, user_id: int, now: datetime, days: int
) -> list[RememberedBrowser]:
    """The account's remembered browsers still trusted with the setting `days` (none
    at 0), the latest used first."""
    return list(
        session.scalars(
            select(RememberedBrowser)
            .where(RememberedBrowser.user_id == user_id, _honoured(days, now))
            .order_by(
                func.coalesce(RememberedBrowser.last_used_at, RememberedBrowser.created_at).desc(),
                RememberedBrowser.id.desc(),
            )
        )
    )


def remembered_browser_count(
    session: Session, user_id: int, now: datetime, days: int | None = None
) -> int:
    """How many of the account's browsers are still in time; with `days`, still
    trusted with that setting (none at 0), as the console's user page says it."""
    in_time = RememberedBrowser.expires_at > now if days is None else _honoured(days, now)
    count = session.scalar(
        select(func.count(RememberedBrowser.id)).where(
            RememberedBrowser.user_id == user_id, in_time
        )
    )
    return int(count or 0)


def forget_browsers(
    session: Session,
    user: User,
    actor: Actor | None,
    why: str,
    *,
    now: datetime | None = None,
    emailed: bool | None = None,
) -> int:
    """Forget every browser of the account still in time (in the caller's
    transaction): audited once, `user.browsers_forgotten` with how many and `why` (and
    whether the person was emailed, when the caller says: the office's step);
    nothing when none was. How many. Those past their date trust nothing already and
    are left to the daily housekeeping (`delete_expired_browsers`): round 52's audit
    watch found them deleted here with no event when none was in time."""
    moment = now or utcnow()
    forgotten = remembered_browser_count(session, user.id, moment)
    session.execute(
        delete(RememberedBrowser).where(
            RememberedBrowser.user_id == user.id, RememberedBrowser.expires_at > moment
        )
    )
    if forgotten:
        told = {} if emailed is None else {"emailed": emailed}
        audit.record_event(
            session,
            "user.browsers_forgotten",
            user.id,
            before={"remembered_browsers": forgotten},
            after={"remembered_browsers": 0, **told},
            actor=actor,
            note=why,
        )
    return forgotten


def forget_browser(actor: Actor, browser_id: int, *, asking: Collection[str] = ()) -> bool:
    """The owner forgets one of their remembered browsers (*Forget*): whether it was
    the browser asking (`asking`, the digests of its cookie's tokens), whose token
    then serves nothing and goes from its cookie too."""
    with db.transaction() as session:
        browser = session.get(RememberedBrowser, browser_id)
        if browser is None or actor.user_id is None or browser.user_id != actor.user_id:
            raise NotFound("That browser is not remembered for your account.")
        this_one = browser.token_hash in asking
        session.delete(browser)
        audit.record_event(
            session,
            "user.browser_forgotten",
            browser.user_id,
            before={"browser": browser.label, "expires_at": browser.expires_at},
            after=None,
            actor=actor,
        )
    return this_one


def forget_all_browsers(actor: Actor) -> int:
    """The owner forgets every browser (*Forget all*): how many."""
    with db.transaction() as session:
        user = session.get(User, actor.user_id) if actor.user_id else None
        if user is None:
            raise AuthenticationRequired("Sign in again.")
        return forget_browsers(session, user, actor, "Forgotten by the account's owner.")


OFFICE_FORGOT = "Forgotten by the licensing office; every session of the account ended."


@dataclass(frozen=True)
class BrowsersForgotten:
    """The office's forgetting done: the person, how many browsers were forgotten,
    and whether they were emailed (not when none was, nor on one's own account)."""

    user: User
    forgotten: int
    emailed: bool


def forget_browsers_for(actor: Actor, user_id: int) -> BrowsersForgotten:
    """An admin forgets every browser remembered for a user (a stolen laptop, a
    shared computer), as the owner's *Sign out everywhere* does: every session of the
    account ends too, since a stolen laptop may still be signed in. Audited
    `user.browsers_forgotten` with how many and whether it emailed; the person is
    emailed why their next sign-in asks for the code, but an admin forgetting their
    own is not emailed that "the office" did it (round 34, as the sign-out). None
    remembered: the user as they are, nothing recorded or sent (a retry is
    harmless). A deactivated account is a Conflict, as for the sign-out (round 35)."""
    actor.require_role("admin")
    with db.transaction() as session:
        user = locked_account(session, user_id)
        if user is None:
            raise NotFound(f"There is no user {user_id}.")
        if not user.is_active:
            # Round 35: answered "nothing changed" while the sign-out answered 409; its
            # deactivation forgot the browsers, which the words say.
            raise Conflict(DEACTIVATED_NOT_FORGOTTEN.format(email=user.email))
        own = user.id == actor.user_id
        forgotten = forget_browsers(session, user, actor, OFFICE_FORGOT, emailed=not own)
        if forgotten:
            user.session_generation += 1
        if forgotten and not own:
            mail.enqueue(
                session,
                to=user.email,
                subject="The browsers remembered for your account were forgotten",
                template="browsers_forgotten",
                context={
                    "user": user,
                    "forgotten": forgotten,
                    "office_address": mail.sender_address(),
                    "two_step_url": links().two_step_sign_in(),
                    "reset_url": links().password_reset_request(),
                },
            )
        return BrowsersForgotten(user, forgotten, bool(forgotten) and not own)


OFFICE_SIGNED_OUT = "Signed out everywhere by the licensing office."
# What deactivating an account already did, which the office's two steps on it say.
_DEACTIVATED = (
    "{email} is deactivated: the account cannot sign in and has {what}, so nothing was "
    "done or emailed: its sessions ended, and its remembered browsers were forgotten, "
    "when it was deactivated."
)
DEACTIVATED_NOT_SIGNED_OUT = _DEACTIVATED.replace("{what}", "no session to end")
DEACTIVATED_NOT_FORGOTTEN = _DEACTIVATED.replace("{what}", "no browser remembered")
SIGNED_OUT_EMAIL = "signed_out_by_office"
# The person is emailed once in this while (round 33): a second press of *Sign them
# out everywhere*, or an API retry without `Idempotency-Key`, ends the sessions again
# (a laptop may have signed in meanwhile) but does not email again.
SIGNED_OUT_EMAILED_ONCE_IN = timedelta(minutes=10)


@dataclass(frozen=True)
class SignedOut:
    """The office's sign-out everywhere done: the person, how many remembered browsers
    went with it, and whether they were emailed (not when told already in the last
    `SIGNED_OUT_EMAILED_ONCE_IN`)."""

    user: User
    browsers_forgotten: int
    emailed: bool


def check_office_sign_out(actor: Actor, user_id: int, *, forgetting: bool) -> None:
    """Raise what `forget_browsers_for` (`forgetting`) or `sign_out_for` would refuse,
    writing nothing (round 56): the console asks to confirm only a step that would
    then be taken (a deactivated account was asked about, then refused 409)."""
    actor.require_role("admin")
    user = db.session().get(User, user_id)
    if user is None:
        raise NotFound(f"There is no user {user_id}.")
    if not user.is_active:
        words = DEACTIVATED_NOT_FORGOTTEN if forgetting else DEACTIVATED_NOT_SIGNED_OUT
        raise Conflict(words.format(email=user.email))


def sign_out_for(actor: Actor, user_id: int) -> SignedOut:
    """An admin ends every session of a person with no browser remembered (round 31):
    a stolen laptop left signed in by someone who never ticked "Don't ask for a code",
    or who has two-step sign-in off, stayed signed in, since the office's only step
    (`forget_browsers_for`) ended sessions only when it forgot a browser. Any browser
    remembered meanwhile is forgotten too. Audited `user.signed_out` (with whether it
    emailed); the person is emailed, as for the forgetting, so a call in their name
    does not go unseen. Each request ends the sessions again; the email goes once in
    `SIGNED_OUT_EMAILED_ONCE_IN` (round 33: pressing twice emailed twice)."""
    actor.require_role("admin")
    with db.transaction() as session:
        user = locked_account(session, user_id)
        if user is None:
            raise NotFound(f"There is no user {user_id}.")
        if not user.is_active:
            # Round 34: the API signed a deactivated account out and emailed it that
            # the office had; it has no session to end (it cannot sign in).
            raise Conflict(DEACTIVATED_NOT_SIGNED_OUT.format(email=user.email))
        forgotten = forget_browsers(session, user, actor, OFFICE_FORGOT)
        user.session_generation += 1
        # An admin signing themselves out through the API is not emailed that "the
        # office" did it (round 34; the console offers them their own *Sign out*).
        emailed = user.id != actor.user_id and not _recent_mail(
            session, (SIGNED_OUT_EMAIL,), user.email, within=SIGNED_OUT_EMAILED_ONCE_IN
        )
        audit.record_event(
            session,
            "user.signed_out",
            user.id,
            after={"sessions": "ended", "emailed": emailed},
            actor=actor,
            note=OFFICE_SIGNED_OUT,
        )
        if emailed:
            mail.enqueue(
                session,
                to=user.email,
                subject="You were signed out everywhere",
                template=SIGNED_OUT_EMAIL,
                context={
                    "user": user,
                    "office_address": mail.sender_address(),
                    "reset_url": links().password_reset_request(),
                },
            )
        return SignedOut(user, forgotten, emailed)


# At most this many rows a run: a backlog goes over a few days' runs.
EXPIRED_PER_RUN = 10_000


def delete_expired_browsers(days: int, *, now: datetime | None = None) -> int:
    """The daily housekeeping: delete remembered browsers no longer trusted with the
    setting `days`: past their date, made `days` or more ago (a lowered setting), or
    every one at 0 (remembering turned off). They decide nothing any more. At most
    `EXPIRED_PER_RUN` a run; how many. Idempotent and safe on several hosts: a row
    two runs both pick is deleted once. Not audited: nothing about the account
    changes (its owner's forgetting is)."""
    moment = now or utcnow()
    # One statement in one unit of work: run again after a deadlock (round 60).
    return db.retried_unit(lambda: _delete_expired(days, moment))


def _delete_expired(days: int, moment: datetime) -> int:
    with db.transaction() as session:
        expired = (
            select(RememberedBrowser.id)
            .where(not_(_honoured(days, moment)))
            .order_by(RememberedBrowser.expires_at)
            .limit(EXPIRED_PER_RUN)
            .scalar_subquery()
        )
        result = session.execute(delete(RememberedBrowser).where(RememberedBrowser.id.in_(expired)))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
