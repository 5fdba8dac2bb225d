"""The issued agreement: click-through acceptance of its exact PDF (billing is told
through `signals.agreement_activated`), the renewed agreement linked to its renewal
(superseded when its term ends: `expiry`), and staff termination."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime

from sqlalchemy.orm import Session

from licensing import calendar, confirmations, db, signals
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import hand_priced, issuing
from licensing.agreements.models import (
    SIGNER_MAX,
    USER_AGENT_MAX,
    Acceptance,
    Agreement,
)
from licensing.agreements.services import expiry
from licensing.agreements.services._common import (
    _Errors,
    _now,
    _owned,
    _reason,
    _ReasonedStep,
    _tell_vendor,
    _text,
)
from licensing.agreements.settings import PAYMENT_TERMS
from licensing.agreements.states import AGREEMENT, EXPIRED, ISSUED, REPLACED
from licensing.audit import services as audit
from licensing.billing.models import DESCRIPTION_MAX as LINE_DESCRIPTION_MAX
from licensing.calendar import day_text, moment_text
from licensing.db import utcnow
from licensing.errors import Conflict, PermissionDenied
from licensing.limits import storable
from licensing.money import (
    format_amount,
)
from licensing.pricing import Quote, QuoteLine
from licensing.ratecards import queries as ratecard_queries
from licensing.records import attributes
from licensing.words import end_sentence, rule_named, says_again, use_described, use_words

# What billing is told of an activated agreement under the agreement's own names.
_TOLD_BILLING = ("number", "organization_id", "currency", "term_start", "term_end", *PAYMENT_TERMS)


def _line_description(
    product: str, use: str, rule_id: str | None, rule: str, *, label: str = "", card: str = ""
) -> str:
    """An up-front invoice line as the agreement's Schedule A and working say the use
    and its rule (round 38; "Scrubber Pro SDK: development of mobile app (rule
    development)" since round 6): "Clinic Pad: Distribute a product to others
    (installed or hosted); SaaS for provider users (Installed, hosted and mobile
    software, per end user; rule distribution-software)". Within what an invoice
    line stores: a rule's description too long for it is left out, its id kept. So
    is a description that says the use's `label` again (round 40: the sample card's
    "Develop, test, maintain and service a product that uses CPT content" after the
    line's "Develop, test, maintain or service a product"): the use is said once,
    "Scrubber Pro SDK: Develop, test, maintain or service a product; mobile app for
    provider users (rule development)"."""
    described = f"{product}: {use}"
    if not rule_id:
        return described
    if label and says_again(label, rule):
        rule = ""
    # Round 50: the rule's card too, as a royalty line and the working name it ("rule
    # distribution-software of rate card 2027.1"): the finance export carries the
    # line's description, not the invoice's memo that named the card.
    of_card = f" of rate card {card}" if card else ""
    with_rule = f"{described} ({rule_named(rule_id, rule)}{of_card})" if rule else ""
    return (
        with_rule
        if 0 < len(with_rule) <= LINE_DESCRIPTION_MAX
        else (f"{described} (rule {rule_id}{of_card})")
    )


def _charges(agreement: Agreement) -> tuple[signals.UpFrontCharge, ...]:
    quote = Quote.from_snapshot(agreement.quote.snapshot)
    uses = agreement.application.uses
    # The rules' descriptions from the card the quote was priced with: a published
    # card never changes (`ratecards.queries.card_by_version`, as the pages read it).
    card = ratecard_queries.card_by_version(db.session(), quote.rate_card)
    rules = {rule.id: rule.description.strip() for rule in card.rules} if card else {}
    charges = []
    for line in issuing.licensed_lines(quote):
        # A line staff priced by hand has a breakdown too: approval makes the amount
        # they set all up front (review._amended_line), and approving leaves no line
        # unpriced. None is only a quote never approved, so nothing is skipped here.
        if line.breakdown is None or line.breakdown.fixed <= 0:
            continue
        use = uses[line.use_index]
        charges.append(
            signals.UpFrontCharge(
                line_index=line.use_index,
                description=_line_description(
                    use.product_name,
                    use_described(use.use, use.product_type, use.user_type),
                    line.rule,
                    rules.get(line.rule or "", ""),
                    label=use_words(use.use),
                    card=quote.rate_card,
                ),
                amount=line.breakdown.fixed,
                working=_up_front_working(line, quote.currency),
            )
        )
    return tuple(charges)


def _up_front_working(line: QuoteLine, currency: str) -> str:
    """The line's working, ending in what the up-front invoice charges: its fixed
    part (flat fees and the minimum's lift), not the line's whole estimate."""
    assert line.breakdown is not None
    breakdown = line.breakdown
    steps = list(line.explanation)
    if breakdown.variable > 0:
        # Round 50: the subtraction itself, so the figure charged now follows from the
        # line's amount by hand ("of this, 185.00 ..." was followed by 815.00 alone).
        whole = breakdown.fixed + breakdown.variable
        steps.append(
            f"of this, {format_amount(breakdown.variable, currency)} is usage royalties, "
            f"invoiced on reported usage: {format_amount(whole, currency)} - "
            f"{format_amount(breakdown.variable, currency)} = "
            f"{format_amount(breakdown.fixed, currency)}"
        )
    steps.append(
        f"charged now (flat fees and the minimum's lift): "
        f"{format_amount(breakdown.fixed, currency)} {currency}"
    )
    return "; ".join(steps)


@dataclass(frozen=True)
class AcceptanceInput:
    signer_name: str
    signer_title: str
    authority_confirmed: bool
    pdf_sha256: str
    ip_address: str
    user_agent: str


def accept(
    agreement_id: int,
    actor: Actor,
    given: AcceptanceInput,
    *,
    now: datetime | None = None,
) -> Agreement:
    """Click-through acceptance of the exact PDF the signer was shown: the agreement
    becomes active and billing is told (`signals.agreement_activated`)."""
    moment = _now(now)
    errors = _Errors()
    name = _text(given.signer_name, "signer_name", SIGNER_MAX, errors)
    title = _text(given.signer_title, "signer_title", SIGNER_MAX, errors)
    if not name:
        errors.add("signer_name", "Give your full name.")
    if not title:
        errors.add("signer_title", "Give your title.")
    if not given.authority_confirmed:
        errors.add(
            "authority_confirmed", "Confirm that you are authorised to bind the organization."
        )
    digest = (given.pdf_sha256 or "").strip().lower()
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        errors.add("pdf_sha256", "The SHA-256 of the agreement PDF, 64 hexadecimal digits.")
    errors.raise_if_any()
    with db.transaction() as session:
        agreement = _owned(session, Agreement, agreement_id, actor)
        _lock_renewed(session, agreement)
        if actor.organization_id != agreement.organization_id:
            raise PermissionDenied("Only the licensee's own users accept an agreement.")
        actor.require_licensing_work()
        if agreement.state == REPLACED and agreement.reissued_as is not None:
            # Round 55: reissued on a corrected rate card, the one to accept is named.
            raise Conflict(
                f"Agreement {agreement.number} was replaced, unaccepted, by agreement "
                f"{agreement.reissued_as.number}, priced on the corrected rate card "
                f"{agreement.reissued_as.rate_card}: it cannot be accepted; read and accept "
                f"{agreement.reissued_as.number}."
            )
        AGREEMENT.step(agreement.state, "accept")
        # Round 55 (lockrest55): its standing read under its lock, after the log's
        # turn (the lock order): read before, a closing committed meanwhile was
        # overwritten by `active` below.
        organization = accounts.locked_organization(session, agreement.organization_id)
        accounts.ensure_licensable(organization, f"it cannot accept agreement {agreement.number}")
        if digest != agreement.pdf_sha256:
            raise Conflict(
                "The document you accepted is not this agreement's PDF (its SHA-256 differs); "
                "download it again and accept the copy you read."
            )
        acceptance = Acceptance(
            agreement_id=agreement.id,
            user_id=actor.user_id,
            signer_name=name,
            signer_title=title,
            authority_confirmed=True,
            accepted_at=moment,
            ip_address=(given.ip_address or "unknown")[:64],
            user_agent=storable(given.user_agent or "unknown")[:USER_AGENT_MAX],
            pdf_sha256=digest,
        )
        session.add(acceptance)
        AGREEMENT.apply(
            session,
            agreement,
            "accept",
            actor=actor,
            at=moment,
            changes={
                "signer_name": name,
                "signer_title": title,
                "accepted_at": moment,
                "ip_address": acceptance.ip_address,
                "user_agent": acceptance.user_agent,
                "pdf_sha256": digest,
            },
        )
        if organization.standing == "applying":
            accounts.change_standing(
                session,
                organization,
                "activate",
                reason=f"agreement {agreement.number} accepted",
                notify=False,
                actor=actor,
            )
        _link_renewed(session, agreement, actor, moment)
        session.flush()
        signals.agreement_activated.send(
            signals.ActivatedAgreement(
                agreement_id=agreement.id,
                activated_at=moment,
                # Round 67: None where licensing staff priced it by hand (the one rule).
                rate_card_version=hand_priced.card_that_priced(
                    session, agreement.rate_card, agreement.term_start
                ),
                charges=_charges(agreement),
                **attributes(agreement, _TOLD_BILLING),
            ),
            session=session,
        )
        accepted = (
            f"{name} ({title}) accepted agreement {agreement.number} on {moment_text(moment)}."
        )
        if issuing.term_over(agreement.term_end, calendar.office_date(moment)):
            _expire_accepted_after_term(session, agreement, actor, moment, accepted)
        else:
            _tell_vendor(
                session,
                agreement,
                "accepted and active",
                f"{accepted} The license is active from "
                f"{day_text(agreement.term_start)} to {day_text(agreement.term_end)}.",
            )
        session.refresh(agreement, ["acceptance"])
        return agreement


def past_term(agreement: Agreement, today: date) -> str | None:
    """What a license of past use only means for `agreement` (round 50), for its page
    and the API's `past_term`: before acceptance, while its term is over on the
    office's `today` (accepting it expires it at once, `past_term_offered`); once
    accepted after its term (expired at once), `past_term_accepted`; else None. An
    agreement that ran its term, or expired unaccepted, needs no word: `state` says it."""
    if agreement.state == ISSUED and issuing.term_over(agreement.term_end, today):
        return past_term_offered(agreement)
    accepted = agreement.activated_at
    if (
        agreement.state == EXPIRED
        and accepted is not None
        and issuing.term_over(agreement.term_end, calendar.office_date(accepted))
    ):
        return past_term_accepted(agreement)
    return None


def past_term_offered(agreement: Agreement) -> str:
    """Before the licensee accepts an agreement whose term is over: what accepting it
    does (the approval email said it; the agreement's page, above *Accept the
    agreement*, and the API did not)."""
    return (
        f"The term ended on {day_text(agreement.term_end)}, before today: accepting "
        f"this agreement licenses past use only, from {day_text(agreement.term_start)} "
        f"to {day_text(agreement.term_end)}, so it is expired as soon as it is "
        "accepted, and the royalty reports of its term are due at once."
    )


def past_term_accepted(agreement: Agreement) -> str:
    """What accepting an agreement whose term was already over did (round 49: it
    said "accepted and active" a year after the term ended), for the acceptance's
    email, the page's message and the API's `past_term`."""
    return (
        f"The term ended on {day_text(agreement.term_end)}, before this acceptance: the "
        f"license covers past use only, from {day_text(agreement.term_start)} to "
        f"{day_text(agreement.term_end)}, so the agreement is expired at once. Its "
        "royalty reports are due now: file them under "
        f"{agreement.number}."
    )


def _expire_accepted_after_term(
    session: Session, agreement: Agreement, actor: Actor, moment: datetime, accepted: str
) -> None:
    """An agreement accepted after its term's last day goes where the expiry run
    would take it, in the same transaction: `expired`, ended at the acceptance (never
    before it, `expiry.term_ended`), with one email saying so."""
    AGREEMENT.apply(
        session,
        agreement,
        "expire",
        actor=actor,
        note=expiry.EXPIRED_ON_ACCEPTANCE,
        at=expiry.term_ended(agreement),
    )
    _tell_vendor(
        session,
        agreement,
        "accepted for a term already ended",
        f"{accepted} {past_term_accepted(agreement)}",
    )


def _lock_renewed(session: Session, renewal: Agreement) -> None:
    """Lock the agreement `renewal` renews (if it renews one), after the renewal and
    before anything is audited (round 55; the lock order,
    `licensing.agreements.services`): a royalty filing, a termination or a renewal
    drawn from the old agreement lock it and then audit, so an acceptance or a
    termination of the renewal that audited first and locked it only to link or
    unlink it deadlocked with them."""
    if renewal.renewal_of_id is not None:
        session.get(Agreement, renewal.renewal_of_id, with_for_update=True)


def _link_renewed(session: Session, renewal: Agreement, actor: Actor, now: datetime) -> None:
    """The renewed agreement names its renewal at once but stays active to the end
    of its term (the licensee is covered until the renewal's term starts); the
    expiry run supersedes it then, or now when that is already past. An agreement
    that already expired is linked only: it ended by its term, not by the renewal."""
    if renewal.renewal_of_id is None:
        return
    old = session.get(Agreement, renewal.renewal_of_id, with_for_update=True)
    if old is None or old.superseded_by_id is not None:
        return
    if old.state != EXPIRED and not AGREEMENT.can(old.state, "supersede"):
        return
    old.superseded_by_id = renewal.id
    audit.record_event(
        session,
        "agreement.renewed",
        old.id,
        actor=actor,
        before={"superseded_by": None},
        after={"superseded_by": renewal.number},
    )
    if old.state != EXPIRED:
        expiry.supersede_when_due(session, old, renewal, actor, now)


# The console's confirmation of a termination (round 55: it carried the state it was
# shown for in plain text, which the post could change): signed, binding the state
# and the reason shown, the staff member and the time (`licensing.confirmations`).
TERMINATION_CONFIRMATION = confirmations.Kind(
    salt="licensing.agreements.termination-confirmation",
    record_word="agreement",
    not_done="Not terminated",
    nothing_done="Nothing changed",
    again="terminate it again to see its confirmation, then confirm it",
)


def termination_confirmation(agreement: Agreement, reason: str, actor: Actor, now: datetime) -> str:
    """The value the termination's confirmation carries: the agreement's state and
    the reason it was shown with, to `actor`. A reason the step would refuse (too
    long) is refused here, before asking, beside its field."""
    _reason(reason)
    said = {"state": agreement.state, "reason": confirmations.digest(reason.strip())}
    return TERMINATION_CONFIRMATION.sign(agreement.id, actor, now, said)


def check_termination(agreement_id: int, reason: str, actor: Actor) -> None:
    """Raise what `terminate` would refuse, writing nothing (round 56): the console
    asks to confirm a termination only when it would then be taken (an agreement
    terminated or expired meanwhile was asked about, then refused 409)."""
    _TERMINATION.check(agreement_id, actor, reason)


def terminate(
    agreement_id: int,
    reason: str,
    actor: Actor,
    *,
    now: datetime | None = None,
    shown_state: str | None = None,
    confirmation: str | None = None,
) -> Agreement:
    """Staff end an agreement early, with a reason (the licensee is told). With
    `shown_state` (the console's confirmation, round 54: it says "its license ends
    today" of an active agreement, "it can no longer be accepted" of an issued one),
    refused (409, nothing changed) when the agreement, read under its lock, is no
    longer in the state the confirmation was shown for: the licensee accepted it
    meanwhile, and the license it now grants is not what staff confirmed ending.
    With `confirmation` (`termination_confirmation`; the console's confirming post
    gives one, "" when it had none), the state shown is the one it signed: refused
    (`ConfirmationRefused`, 400, nothing changed) unless it is the service's, for
    this agreement, reason and person, shown within `CONFIRM_WITHIN` (round 55)."""
    _reason(reason)  # the field's own message first, whatever the confirmation says
    if confirmation is not None:
        shown_state = TERMINATION_CONFIRMATION.read_as_posted(
            confirmation,
            agreement_id,
            actor,
            now or utcnow(),
            posted={"reason": confirmations.digest(reason.strip())},
            what="reason",
            carries=("state",),
        )["state"]

    def record_reason(agreement: Agreement, text: str | None, _actor: Actor, _at: datetime) -> None:
        # Before the step audits anything: `_unlink_from_renewed` writes it.
        _lock_renewed(db.session(), agreement)
        if shown_state is not None and agreement.state != shown_state:
            # Only a state's name is repeated (review54): the post is the client's.
            was = shown_state if shown_state in AGREEMENT.states else ""
            raise Conflict(
                f"Not terminated: agreement {agreement.number} was "
                f"{was.replace('_', ' ') or 'in a state not known'} when its termination was "
                f"shown to confirm and is {agreement.state.replace('_', ' ')} now, so what the "
                "confirmation said no longer holds. Nothing changed: terminate it again to "
                "confirm it as it is now."
            )
        agreement.termination_reason = text

    return replace(_TERMINATION, fields=record_reason).take(agreement_id, actor, reason, now)


def _no_fields(_agreement: Agreement, _text: str | None, _actor: Actor, _at: datetime) -> None:
    """The termination's step as `check_termination` checks it (its fields are set by
    `terminate`, under the lock)."""


_TERMINATION = _ReasonedStep(Agreement, "terminate", _no_fields)


@AGREEMENT.on("terminate", "expire")
def _unlink_from_renewed(
    session: Session, agreement: Agreement, actor: Actor, note: str | None
) -> None:
    """A renewal that ends before it takes over no longer renews its agreement."""
    if agreement.renewal_of_id is None:
        return
    old = session.get(Agreement, agreement.renewal_of_id, with_for_update=True)
    if old is not None and old.superseded_by_id == agreement.id:
        expiry.unlink_ended_renewal(session, old, actor)


@AGREEMENT.on("terminate")
def _tell_terminated(
    session: Session, agreement: Agreement, actor: Actor, note: str | None
) -> None:
    # One that was in force still owes the reports of its use until today (its last
    # period ends on the termination's day), as an expired one owes its term's.
    reports = (
        f" Royalty reports still due for its use until "
        f"{day_text(calendar.office_date(agreement.ended_at))} are filed under "
        f"{agreement.number}."
        if agreement.activated_at is not None and agreement.ended_at is not None
        else ""
    )
    _tell_vendor(
        session,
        agreement,
        "terminated",
        f"The licensing office terminated the agreement: {end_sentence(note)}{reports}",
    )
