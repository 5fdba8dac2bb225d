"""An organization's standing: whether it may apply, and how it changes."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import partial
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from licensing import access, calendar, confirmations, db
from licensing.accounts import queries
from licensing.accounts.models import Organization
from licensing.accounts.services.roles import locked_organization, seen_organization, whom_to_ask
from licensing.accounts.states import (
    ACTIVE,
    CLOSED,
    GOOD_STANDING,
    PENDING_PAYMENT,
    REASON_REQUIRED,
    STANDING,
    SUSPENDED,
    require_standing_role,
)
from licensing.actors import Actor
from licensing.audit.models import AuditEvent
from licensing.errors import Conflict, InvalidInput
from licensing.links import links
from licensing.mail import services as mail
from licensing.signals import (
    ClosedOrganization,
    ClosingOrganization,
    organization_closed,
    organization_closing,
)
from licensing.words import at_most_characters, end_sentence

REASON_MAX = 2000
# The audit action of every standing change (`STANDING` audits each step as one event).
STANDING_CHANGED = f"{STANDING.entity_type}.{STANDING.events['mark_pending_payment']}"


class NamedStanding(Protocol):
    """What the standing checks read of an organization: an `Organization`, or the
    `OrganizationStanding` a page request reads with its session user."""

    @property
    def legal_name(self) -> str: ...

    @property
    def standing(self) -> str: ...


def organization_in_good_standing(organization: NamedStanding) -> bool:
    """True when the organization may apply for licenses (`applying` or `active`)."""
    return organization.standing in GOOD_STANDING


@dataclass(frozen=True)
class Hold:
    """Why an organization is held at `pending_payment`, and since when: what the
    page beside its standing says (it said so only in a history note)."""

    since: datetime | None  # the standing change that held it (None: not audited)
    overdue: tuple[str, ...]  # what is overdue now, in words (`overdue_obligations`)
    note: str | None  # the reason recorded when it was held (staff's, or the run's)

    @property
    def why(self) -> str:
        """What holds it: what is overdue now, else the reason it was held with."""
        if self.overdue:
            return "; ".join(self.overdue)
        return self.note or "no reason was recorded"


def pending_payment_hold(
    session: Session, organization: NamedStanding, organization_id: int, today: date
) -> Hold | None:
    """The organization's `Hold` while it is at `pending_payment`, else None."""
    if organization.standing != PENDING_PAYMENT:
        return None
    held = session.execute(
        select(AuditEvent.occurred_at, AuditEvent.note)
        .where(
            AuditEvent.action == STANDING_CHANGED,
            AuditEvent.entity_type == STANDING.entity_type,
            AuditEvent.entity_id == str(organization_id),
        )
        .order_by(AuditEvent.seq.desc())
        .limit(1)
    ).first()
    return Hold(
        since=held.occurred_at if held else None,
        overdue=tuple(overdue_obligations(session, organization_id, today)),
        note=held.note if held else None,
    )


def standing_block_reason(
    organization: NamedStanding,
    overdue: Sequence[str] = (),
    contact: str | None = None,
    *,
    hold: Hold | None = None,
    report_filers: str | None = None,
) -> str | None:
    """Why the organization may not apply for a license now, in words for the
    vendor; None when it is in good standing. `overdue` names what holds it at
    `pending_payment` (`overdue_obligations`), and `contact` the office's address,
    when the caller knows them; a `hold` says both what and since when.
    `report_filers`, for a reader who files no royalty report (a billing member):
    whom to ask to file the overdue ones, instead of telling them to."""
    if hold is not None:
        overdue = hold.overdue
    office = (
        f"the licensing office at {contact} (or reply to any of its emails)"
        if contact
        else "the licensing office"
    )
    since = (
        f" (held since {calendar.office_date(hold.since).isoformat()})"
        if hold is not None and hold.since is not None
        else ""
    )
    held = (
        f"{organization.legal_name} is behind: {'; '.join(overdue)}. New license "
        f"applications are on hold until that is settled{since}."
        if overdue
        else f"{organization.legal_name} is held pending payment: {end_sentence(hold.note)} "
        f"New license applications are on hold until it is settled{since}."
        if hold is not None and hold.note
        else f"{organization.legal_name} has an overdue invoice or royalty report, so new "
        f"license applications are on hold until it is settled{since}."
    )
    billing_team = (
        f"the licensing office's billing team at {contact}"
        if contact
        else "the licensing office's billing team"
    )
    # What settles `pending_payment`, whatever holds it there.
    settle = (
        "Pay overdue invoices from the Invoices page and file overdue royalty reports from "
        f"the Royalty reports page, or contact {billing_team}."
        if report_filers is None
        else "Pay overdue invoices from the Invoices page; its members and administrators "
        f"file overdue royalty reports, so ask {report_filers} to file them. Or contact "
        f"{billing_team}."
    )
    messages = {
        PENDING_PAYMENT: f"{held} {settle}",
        SUSPENDED: (
            f"{organization.legal_name}'s account is suspended, so it cannot apply for "
            "licenses or accept agreements until licensing staff reinstate it. "
            f"Contact {office}."
        ),
        CLOSED: (
            f"{organization.legal_name}'s account is closed, so it cannot apply for licenses; "
            "a closed account is not reopened. Its agreements, invoices and royalty reports "
            "stay here to read, pay and file. To license again, sign up a new organization "
            f"with an email address no account uses, or contact {office}."
        ),
    }
    return None if organization_in_good_standing(organization) else messages[organization.standing]


def standing_block_reason_now(
    session: Session,
    organization: NamedStanding,
    organization_id: int,
    today: date,
    *,
    report_filers: str | None = None,
) -> str | None:
    """`standing_block_reason` naming what is overdue (an organization held for a
    royalty report was told it had an overdue invoice, and paid everything in vain)
    and since when, and how to reach the office (a suspended one was told to contact
    it, and no page said how)."""
    hold = pending_payment_hold(session, organization, organization_id, today)
    return standing_block_reason(
        organization, contact=mail.sender_address(), hold=hold, report_filers=report_filers
    )


def ensure_good_standing(organization: Organization) -> None:
    """Raise `Conflict` (409) with `standing_block_reason` unless in good standing."""
    reason = standing_block_reason(organization)
    if reason:
        raise Conflict(reason)


# Standings in which an organization is licensed nothing new (`ensure_licensable`).
UNLICENSABLE = frozenset({CLOSED, SUSPENDED})


def licensable(organization: NamedStanding) -> bool:
    """Whether the organization may be licensed anything new: an application of its
    approved, an agreement accepted. Pages ask it to offer only what
    `ensure_licensable` allows."""
    return organization.standing not in UNLICENSABLE


def ensure_licensable(organization: NamedStanding, refused: str) -> None:
    """Raise `Conflict` (409) when the organization may be licensed nothing new:
    closed (for good), or suspended (until licensing staff reinstate it). No
    application of its is approved and no agreement accepted: either would put a
    license in force that the office stopped (both stayed open to it, and an
    agreement issued before closing or suspending could be accepted). `refused`
    says what is refused, after "so"."""
    if organization.standing == CLOSED:
        raise Conflict(
            f"{organization.legal_name}'s account is closed, so {refused}: a closed "
            "organization is licensed no further and its account is not reopened."
        )
    if organization.standing == SUSPENDED:
        raise Conflict(
            f"{organization.legal_name}'s account is suspended, so {refused}: a suspended "
            "organization is licensed nothing new until licensing staff reinstate it."
        )


def _reason(reason: str | None, *, required: bool, action: str) -> str | None:
    text = (reason or "").strip()
    if required and not text:
        raise InvalidInput.for_field(
            "reason", f"Give a reason to {action.replace('_', ' ')}: it is recorded and sent."
        )
    if len(text) > REASON_MAX:
        raise InvalidInput.for_field("reason", at_most_characters(REASON_MAX))
    return text or None


def _notify_organization(
    session: Session, organization: Organization, *, subject: str, template: str, **context: Any
) -> list[str]:
    """Email the change to everyone who can act on it, each told what they can do
    (docs/accounts.md, Roles): the administrators and members, who pay and file
    reports, one message; the billing members and the billing contact (who may have
    no account), who pay, another, naming whom to ask to file a royalty report. The
    billing contact always has an address, so someone who can pay always hears.
    The addresses emailed, the licensing readers first."""
    readers = queries.active_members(session, organization.id)
    licensing = [
        (user.email, user.full_name)
        for user in readers
        if user.email_verified and user.organization_role in access.LICENSING_WORK
    ]
    paying = [
        (user.email, user.full_name)
        for user in readers
        if user.email_verified and user.organization_role not in access.LICENSING_WORK
    ]
    known = {email.lower() for email, _name in licensing + paying}
    if organization.billing_email.lower() not in known:
        paying.append((organization.billing_email, organization.billing_contact_name))
    for reader, recipients in (("licensing", licensing), ("billing", paying)):
        if not recipients:
            continue
        mail.enqueue(
            session,
            to=[email for email, _name in recipients],
            subject=subject,
            template=template,
            context={
                "organization": organization,
                "reader": reader,
                "names": [name for _email, name in recipients],
                "report_filers": whom_to_ask(session, organization.id),
                **context,
            },
        )
    return [email for email, _name in licensing + paying]


def change_standing(
    session: Session,
    organization: Organization,
    action: str,
    *,
    reason: str | None,
    notify: bool = True,
    actor: Actor,
    shown: frozenset[str] | None = None,
) -> list[str]:
    """Move the organization's standing by `action`, through `states.STANDING`.

    Raises `IllegalTransition` (409, naming the allowed actions) for a step
    the table does not allow, `InvalidInput` when `suspend`, `close` or
    `mark_pending_payment` come without a reason. Writes the audit event
    (the reason as its note); on `close`, sends `signals.organization_closed`, whose
    receivers end what no one may decide any more (round 48: the undecided
    applications are withdrawn, each audited; round 54: a receiver refuses, `Conflict`,
    to end one not among `shown`, what the closing confirmation listed, when given);
    and, with `notify`, emails the organization's users and billing contact, each what
    they can do (`_notify_organization`), naming `actor` in the audit log. The
    addresses emailed (round 34).
    """
    before = organization.standing
    STANDING.step(before, action)  # an illegal step is refused before a missing reason
    note = _reason(reason, required=action in REASON_REQUIRED, action=action)
    after = STANDING.apply(session, organization, action, actor=actor, note=note)
    withdrawn: list[str] = []
    if after == CLOSED:
        # Round 48: what no one may decide any more ends with the account (the
        # licensing package withdraws its undecided applications), in this transaction;
        # round 49: the email names them, from the receivers' answers.
        answers = organization_closed.send(
            ClosedOrganization(organization.id, organization.legal_name, note, shown),
            session=session,
            actor=actor,
        )
        withdrawn = [reference for _receiver, answer in answers for reference in answer or ()]
    if not notify:
        return []
    return _notify_organization(
        session,
        organization,
        # Whose (round 55: "Your account standing" named no organization, and a billing
        # contact may pay for several).
        subject=f"{organization.legal_name}'s standing is now {after.replace('_', ' ')}",
        template="standing_changed",
        before=before,
        after=after,
        reason=note,
        dashboard_url=links().vendor_dashboard(),
        withdrawn=withdrawn_in_words(withdrawn),
    )


# The closing email names this many of the applications closing withdrew, and counts
# the rest (round 49): an organization with years of drafts gets a readable email.
WITHDRAWN_NAMED = 10


def withdrawn_in_words(references: Sequence[str]) -> str | None:
    """The closing email's sentence naming the applications closing withdrew (the
    first `WITHDRAWN_NAMED`, then how many more), or None when it withdrew none."""
    if not references:
        return None
    if len(references) == 1:
        return (
            f"Its application not yet decided, {references[0]}, is withdrawn, since no "
            "closed organization's application is approved."
        )
    named = ", ".join(references[:WITHDRAWN_NAMED])
    rest = len(references) - WITHDRAWN_NAMED
    listed = f"{named} and {rest} more" if rest > 0 else _and_last(named)
    return (
        f"Its {len(references)} applications not yet decided, drafts included, are "
        f"withdrawn, since no closed organization's application is approved: {listed}."
    )


def _and_last(named: str) -> str:
    """`A, B, C` as `A, B and C`."""
    head, _, last = named.rpartition(", ")
    return f"{head} and {last}"


# What an organization is behind on (an overdue invoice, an overdue royalty
# report): each package that creates such obligations registers a check in its
# `init_app`; `pending_payment` lasts while any check names something.
OverdueCheck = Callable[[Session, int, date], list[str]]
_OVERDUE_CHECKS: dict[str, OverdueCheck] = {}


def register_overdue_check(name: str, check: OverdueCheck) -> None:
    _OVERDUE_CHECKS[name] = check


def overdue_obligations(session: Session, organization_id: int, today: date) -> list[str]:
    """Everything overdue beyond the standing threshold, in words, from every check."""
    return _asked(_OVERDUE_CHECKS, session, organization_id, today)


def _asked(
    checks: dict[str, OverdueCheck], session: Session, organization_id: int, today: date
) -> list[str]:
    """What every one of `checks` names for the organization, in registration order."""
    return [found for check in checks.values() for found in check(session, organization_id, today)]


# What is still open between an organization and the office (money either way,
# reports, licenses, decisions): each package that keeps such records registers a
# check in its `init_app`. The closing confirmation lists them, so staff close an
# account knowing what stays open after it (closing moves none of it).

# The records of a kind each check names; the rest it counts (and sums) in SQL, in
# a line linking the list that shows them all, so an organization with years of
# invoices gets a confirmation of a few lines read with a few statements.
OPEN_NAMED = 5


@dataclass(frozen=True)
class StillOpen:
    """A line of what stays open with an organization: a sentence, and on the line
    that stands for the records not named, the list of them all (its URL and the
    link's words)."""

    text: str
    list_url: str | None = None
    list_label: str = ""

    def __str__(self) -> str:
        return self.text


OpenBusinessCheck = Callable[[Session, int, date], list[StillOpen]]
_OPEN_BUSINESS_CHECKS: dict[str, OpenBusinessCheck] = {}


def register_open_business(name: str, check: OpenBusinessCheck) -> None:
    _OPEN_BUSINESS_CHECKS[name] = check


def open_business(session: Session, organization_id: int, today: date) -> list[StillOpen]:
    """Everything still open with the organization, in words, from every check."""
    return [
        found
        for check in _OPEN_BUSINESS_CHECKS.values()
        for found in check(session, organization_id, today)
    ]


# What closing an organization ends, by key ("application:12"): each package whose
# records closing ends (the undecided applications) registers a check in its
# `init_app`. The closing confirmation carries the keys it listed, and the package's
# receiver of `organization_closed` refuses to end one not among them (round 54).
EndedByClosingCheck = Callable[[Session, int], list[str]]
_ENDED_BY_CLOSING: dict[str, EndedByClosingCheck] = {}


def register_ended_by_closing(name: str, check: EndedByClosingCheck) -> None:
    _ENDED_BY_CLOSING[name] = check


def ended_by_closing(session: Session, organization_id: int) -> frozenset[str]:
    """The keys of every record closing the organization would end now."""
    return frozenset(
        key for check in _ENDED_BY_CLOSING.values() for key in check(session, organization_id)
    )


def named_and_more(
    named: list[str], count: int, more: Callable[[int], str], list_url: str, list_label: str
) -> list[StillOpen]:
    """A check's lines: `named` (at most `OPEN_NAMED` of its `count` records), then,
    when there are more, the sentence `more` says of the rest (given how many),
    linking the full list."""
    lines = [StillOpen(text) for text in named]
    if count > len(named):
        lines.append(StillOpen(more(count - len(named)), list_url, list_label))
    return lines


def hold_for_overdue(
    organization_ids: Iterable[int], overdue: Callable[[Session, int], str | None]
) -> list[str]:
    """The standing rule of the batch jobs: hold at `pending_payment` each organization
    still active for which `overdue` names something overdue too long (the reason, in
    words), each in its own unit of work with the organization claimed, so several
    hosts never hold one twice. The legal names of those held, in order."""
    held: list[str] = []
    for organization_id in organization_ids:
        # Run again after a deadlock (round 60, `db.retried_unit`): one organization's hold
        # is all database (its emails are outbox rows).
        name = db.retried_unit(partial(_hold_in_own, organization_id, overdue))
        if name is not None:
            held.append(name)
    return held


def _hold_in_own(organization_id: int, overdue: Callable[[Session, int], str | None]) -> str | None:
    """One organization of `hold_for_overdue`, in its own unit of work: its legal name
    if it was held."""
    with db.transaction() as session:
        # A claim: an organization another step holds is left to the next run.
        # The audit log's head is locked at commit, last (round 58).
        organization = queries.claim_active_organization(session, organization_id)
        if organization is not None and _hold(session, organization, overdue, Actor.SYSTEM):
            return organization.legal_name
        return None


def hold_now_if_overdue(
    session: Session,
    organization_id: int,
    overdue: Callable[[Session, int], str | None],
    *,
    actor: Actor,
) -> bool:
    """`hold_for_overdue`'s rule inside the caller's unit of work, for a step that
    makes something overdue at once (a reversed payment reopens a past-due invoice),
    so the hold does not wait for the next batch run. The organization is locked
    (waiting for a batch job that holds it, which may have held it already); True
    when it is now held."""
    # FOR NO KEY UPDATE, as `db.claim`: standing is not a key, and FOR UPDATE would
    # make another transaction's invoice INSERT for the organization (its foreign-key
    # check) wait for this one.
    organization = session.get(Organization, organization_id, with_for_update={"key_share": True})
    if organization is None or organization.standing != ACTIVE:
        return False
    return _hold(session, organization, overdue, actor)


def _hold(
    session: Session,
    organization: Organization,
    overdue: Callable[[Session, int], str | None],
    actor: Actor,
) -> bool:
    """Hold the active `organization` at `pending_payment` (audited, its members and
    billing contact emailed) when `overdue` names why; True when it did."""
    reason = overdue(session, organization.id)
    if reason is None:
        return False
    change_standing(session, organization, "mark_pending_payment", reason=reason, actor=actor)
    return True


def restore_standing_if_clear(
    session: Session, organization_id: int, today: date, *, actor: Actor
) -> Organization | None:
    """Back to `active` from `pending_payment` once nothing is overdue any longer. The
    organization, as read under its lock (None if there is none): a caller that goes on
    to use it passes it on (round 68, reads68: the session keeps a row nothing holds
    only weakly, so a payment's email read it again when this had let go of it).

    FOR NO KEY UPDATE, as `hold_now_if_overdue` (round 56): a payment settling an
    invoice locks the organization after its first event, and FOR UPDATE waited for
    the key share a step storing a row that names the organization takes before its
    own first event (the monthly statement run: the statement sent), while that step
    waited for the log: "deadlock detected"
    (`tests/integration/billing/test_card_start_lock_order.py`)."""
    organization = session.get(Organization, organization_id, with_for_update={"key_share": True})
    if organization is None or organization.standing != PENDING_PAYMENT:
        return organization
    if overdue_obligations(session, organization_id, today):
        return organization
    change_standing(
        session,
        organization,
        "payment_received",
        reason="Nothing is overdue any longer.",
        actor=actor,
    )
    return organization


# The console's confirmation of closing an organization (round 55: what it listed
# as ending was posted back in plain text): signed over those keys and the reason,
# for the staff member shown it, and when (`licensing.confirmations`).
CLOSING_CONFIRMATION = confirmations.Kind(
    salt="licensing.accounts.closing-confirmation",
    record_word="organization",
    not_done="Not closed",
    nothing_done="Nothing changed",
    again="close it again to see what closing ends, then confirm it",
)


def closing_confirmation(
    organization_id: int, reason: str, ending: Iterable[str], actor: Actor, now: datetime
) -> str:
    """The value closing's confirmation carries: what it listed as ending (the
    keys of `ended_by_closing`) and the reason it was shown with."""
    said = {
        "ending": ",".join(sorted(ending)),
        "reason": confirmations.digest((reason or "").strip()),
    }
    return CLOSING_CONFIRMATION.sign(organization_id, actor, now, said)


def _confirmed_ending(
    confirmation: str, organization_id: int, reason: str | None, actor: Actor
) -> frozenset[str]:
    said = CLOSING_CONFIRMATION.read_as_posted(
        confirmation,
        organization_id,
        actor,
        db.utcnow(),
        posted={"reason": confirmations.digest((reason or "").strip())},
        what="reason",
        carries=("ending",),
    )
    return frozenset(key for key in said["ending"].split(",") if key)


def check_standing_change(
    organization_id: int, action: str, *, reason: str | None, actor: Actor
) -> None:
    """Raise what `change_organization_standing` would refuse of `action`, writing
    nothing (round 56): the console asks to confirm a closing only when it would then
    be taken (an organization closed meanwhile was asked about, then refused 409)."""
    actor.require_role("licensing", "billing")
    organization = queries.get_owned(db.session(), Organization, organization_id, actor)
    STANDING.step(organization.standing, action)
    require_standing_role(actor, action)
    _reason(reason, required=action in REASON_REQUIRED, action=action)


def change_organization_standing(
    organization_id: int,
    action: str,
    *,
    reason: str | None,
    actor: Actor,
    emailed: list[str] | None = None,
    shown: frozenset[str] | None = None,
    confirmation: str | None = None,
) -> Organization:
    """Staff change an organization's standing by hand (see `change_standing`): each
    step only by the role `states.STANDING_ROLES` names for it (billing staff hold for
    and release payment; licensing staff activate, suspend, reinstate and close), else
    `PermissionDenied` (403) naming that role. A step the standing does not allow
    stays `IllegalTransition` (409, naming the allowed actions), whoever asks. The
    addresses emailed are added to `emailed`, when given, so that the console's
    message and the API's answer say whom (round 34: they said nothing of it).
    `shown`: what the console's closing confirmation listed (`ended_by_closing`);
    `confirmation` (round 55: `closing_confirmation`, "" when the confirming post had
    none): that list as signed, refused (`ConfirmationRefused`, 400, nothing changed)
    unless it is the service's, for this organization, reason and person, and recent."""
    actor.require_role("licensing", "billing")
    if confirmation is not None:
        shown = _confirmed_ending(confirmation, organization_id, reason, actor)
    with db.transaction() as session:
        seen_organization(session, organization_id, actor)
        if action == "close":
            # Round 55 (lockrest55): what closing ends (undecided applications) is
            # locked before the organization: an approval locks its application, then
            # the organization (the lock order).
            organization_closing.send(ClosingOrganization(organization_id), session=session)
        # Round 55: locked, and its standing read under the lock: written unlocked, it
        # was locked only when flushed, after the step's other locks.
        organization = locked_organization(session, organization_id)
        STANDING.step(organization.standing, action)
        require_standing_role(actor, action)
        told = change_standing(
            session, organization, action, reason=reason, actor=actor, shown=shown
        )
        if emailed is not None:
            emailed.extend(told)
        return organization


def standing_emailed_summary(emailed: Sequence[str]) -> str:
    """Whom a change of standing emailed, as a sentence's end: "emailed 2 addresses:
    a@x, b@y" (the billing contact always has one, so nobody is the exception)."""
    if not emailed:
        return "emailed nobody"
    addresses = "address" if len(emailed) == 1 else "addresses"
    return f"emailed {len(emailed)} {addresses}: {', '.join(emailed)}"
