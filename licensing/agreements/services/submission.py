"""Submission: price the application, store the quote snapshot and send it for
review (or approve it at once when every licensed line is `review: auto`);
withdrawal before a decision."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from licensing import calendar, db, signals
from licensing.accounts import services as accounts
from licensing.accounts.models import Organization, User
from licensing.accounts.states import CLOSED
from licensing.actors import Actor
from licensing.agreements import hand_priced, issuing, queries, step_checks
from licensing.agreements.models import (
    SUBMITTED,
    Agreement,
    Application,
)
from licensing.agreements.services._common import (
    _approve,
    _Errors,
    _now,
    _owned,
    _reason,
    _require_vendor,
    _store_quote,
    _tell_staff,
    check_recordable,
    check_revenue_digits,
)
from licensing.agreements.settings import IssuingPolicy
from licensing.agreements.states import (
    APPLICATION,
    DRAFT,
    EDITABLE,
    LAPSED,
    RETURNED,
    UNDECIDED,
)
from licensing.audit import services as audit
from licensing.errors import Conflict, IllegalTransition, InvalidInput
from licensing.money import (
    in_words,
    minor_units,
)
from licensing.pricing import Quote, QuoteLine, QuoteRequest
from licensing.ratecards import queries as ratecard_queries
from licensing.ratecards import services as ratecards
from licensing.records import attributes
from licensing.signals import ClosedOrganization, ClosingOrganization
from licensing.words import BY_HAND

# What the permissions queue is told of a routed use under the use's own names.
_TOLD_PERMISSIONS = ("product_name", "description", "use", "product_type", "user_type", "delivery")

# Quantity units that measure the audience of an educational use, most specific first.
AUDIENCE_UNITS = ("learners", "students", "end_users", "users", "copies")


def _check_complete(session: Session, application: Application) -> None:
    """What submission needs beyond a draft: a term and every use described."""
    errors = _Errors()
    if application.term_start is None:
        errors.add("term_start", "Give the first day of the license term.")
    if application.term_end is None:
        errors.add("term_end", "Give the last day of the license term.")
    elif application.term_start is not None and (
        problem := issuing.term_problem(application.term_start, application.term_end)
    ):  # a draft saved before round 51's bound
        errors.add("term_end", problem)
    for index, use in enumerate(application.uses):
        if not use.product_name:
            errors.add(f"uses.{index}.product_name", "Name the product.")
        if not use.territories:
            errors.add(f"uses.{index}.territories", "Say where the product is used or sold.")
    if not application.uses:
        errors.add("uses", "Describe at least one use.")
    errors.raise_if_any("The application is not complete yet.")
    check_revenue_digits(
        session,
        application.rate_card,
        application.term_start,
        [use.revenue for use in application.uses],
        currency=_currency(session, application),
    )


def _request(application: Application) -> QuoteRequest:
    """The pricing core's request from the application's fields."""
    assert application.term_start
    assert application.term_end
    return quote_request(
        application.organization.organization_type,
        (application.term_start, application.term_end),
        application.rate_card,
        [use.fields() for use in application.uses],
    )


def quote_request(
    organization_type: str,
    term: tuple[date, date],
    rate_card: str | None,
    uses: Iterable[Mapping[str, Any]],
) -> QuoteRequest:
    """The pricing core's request for an application's fields (`ApplicationUse.fields`
    of each use), as the API's and the estimator's are built; each use is described
    by its product's name. Also what a renewal not yet drawn would be priced on
    (`card_effect`)."""
    return ratecards.request_from(
        {
            "organization_type": organization_type,
            "term": {"start": term[0], "end": term[1]},
            "rate_card": rate_card,
            "uses": [{**use, "description": use["product_name"]} for use in uses],
        }
    )


def preview(application: Application) -> Quote:
    """The price the application would get if submitted now (nothing is stored);
    `InvalidInput` naming what is missing or cannot be priced."""
    session = db.session()
    _check_complete(session, application)
    quote = _price(session, application)
    check_recordable(application, quote)
    return quote


def _price(session: Session, application: Application) -> Quote:
    """Price with the card the application names or the one in effect on its start;
    a renewal for a year no card covers yet goes to staff to price by hand."""
    if awaits_rate_card(session, application):
        return _staff_priced_renewal(session, application)
    return ratecards.quote(_request(application), currency=_currency(session, application))


def _currency(session: Session, application: Application) -> str | None:
    """The currency the application is priced in when it names no card
    (`queries.asked_currency`: a renewal's agreement's, its own earlier quote's, the
    licensee's one currency), else None: the contract's card in effect."""
    asked = queries.asked_currency(session, application)
    return asked.currency if asked is not None else None


def awaits_rate_card(session: Session, application: Application) -> bool:
    """A renewal whose term starts where no published rate card in its agreement's
    currency is in effect (round 62: a card in another currency is not its card)."""
    return (
        application.renewal_of_id is not None
        and application.rate_card is None
        and application.term_start is not None
        and ratecard_queries.in_effect(
            session, application.term_start, _currency(session, application)
        )
        is None
    )


def _staff_priced_renewal(session: Session, application: Application) -> Quote:
    """Every use unpriced, `review: staff`, like a use no rule matches: the renewal is
    submitted and staff price it by hand. The snapshot names the renewed agreement's
    card (its rules are what the licensee has been paying under)."""
    renewed = session.get(Agreement, application.renewal_of_id)
    assert renewed is not None
    assert application.term_start is not None
    # Round 67: the renewed agreement's card by the one rule (it may itself have been
    # priced by hand, its quote naming the card of the one it renewed).
    priced = hand_priced.card_that_priced(session, renewed.rate_card, renewed.term_start)
    words = (
        f"no rate card in {renewed.currency} is published yet for a term starting "
        f"{application.term_start:%Y-%m-%d}, "
        f"so licensing staff will price this renewal of {renewed.number} by hand (it was "
        + (f"priced with rate card {priced})" if priced is not None else f"{BY_HAND})")
    )
    lines = tuple(
        QuoteLine(index, None, "license", "staff", None, (words,))
        for index in range(len(application.uses))
    )
    return Quote(
        rate_card=renewed.rate_card,
        currency=renewed.currency,
        proration=Fraction(1),
        lines=lines,
        total=Decimal(0).quantize(Decimal(1).scaleb(-minor_units(renewed.currency))),
        requires_review=True,
        request=_request(application),
    )


def _route_to_permissions(
    session: Session, application: Application, quote: Quote, actor: Actor, now: datetime
) -> None:
    """Send each use the card routes to the permissions queue, once."""
    user = session.get(User, actor.user_id)
    for line in quote.lines:
        use = application.uses[line.use_index]
        if line.route != "permission_request" or use.routed_at is not None:
            continue
        use.routed_at = now
        audience = next(
            (use.quantity[unit] for unit in AUDIENCE_UNITS if unit in use.quantity), None
        )
        assert application.term_start
        assert application.term_end
        signals.use_routed_to_permissions.send(
            signals.RoutedUse(
                application_id=application.id,
                application_reference=application.reference,
                organization_id=application.organization_id,
                organization_name=application.organization.legal_name,
                organization_type=application.organization.organization_type,
                requester_name=user.full_name if user else actor.name,
                requester_email=actor.name,
                requester_user_id=user.id if user else None,
                line_index=line.use_index,
                audience_size=audience,
                term_start=application.term_start,
                term_end=application.term_end,
                explanation="; ".join(line.explanation),
                **attributes(use, _TOLD_PERMISSIONS),
            ),
            session=session,
        )
        audit.record_event(
            session,
            "application.use_routed_to_permissions",
            application.id,
            actor=actor,
            after={"line": line.use_index, "product_name": use.product_name},
        )


def _auto_approvable(
    application: Application, quote: Quote, policy: IssuingPolicy, today: date
) -> bool:
    """Every licensed line `review: auto` and priced, in good standing, and a term
    not wholly over: a term already ended licenses past use only, which licensing
    staff decide whatever the card's rule says (round 49: a 2027 term was approved
    automatically in 2028, and its acceptance said "active")."""
    licensed = issuing.licensed_lines(quote)
    return (
        policy.auto_approve
        and not issuing.term_over(application.term_end, today)
        and bool(licensed)
        and all(line.review == "auto" and line.amount is not None for line in licensed)
        and accounts.organization_in_good_standing(application.organization)
    )


def deadline_passed(application: Application) -> str:
    """Why a returned application is not resubmitted: its deadline passed (the
    refusal's words, and its page's: round 57)."""
    assert application.resubmit_by is not None
    return (
        f"The deadline to resubmit {application.reference} passed "
        f"{calendar.when_text(application.resubmit_by)}; the application has lapsed. "
        "Start a new application."
    )


def submission_refusal(session: Session, application: Application, *, now: datetime) -> str | None:
    """Why `application`, a draft or a returned one, would not be submitted now, in the
    words its submission refuses it with: its organization's hold (what is overdue,
    and how to reach the office) or the deadline passed; None where it would go ahead
    (or it is neither). Its page says it in place of *Submit* (round 57) and of *Change
    the application*, and a change is refused with it (round 58, refusal58)."""
    if application.state not in EDITABLE or step_checks.may_change(application, now=now):
        return None
    organization = application.organization
    if not accounts.organization_in_good_standing(organization):
        held = accounts.standing_block_reason_now(
            session, organization, organization.id, calendar.office_date(now)
        )
        if held:
            return held
    return deadline_passed(application)


def _say_the_deadline_passed(application: Application, refused: IllegalTransition) -> None:
    """A returned application lapses within the hour after its deadline (the expiry
    run), so a late resubmission usually meets `lapsed`, not the deadline's check:
    its refusal says the same sentence and `deadline` (round 36: it said only that a
    lapsed application cannot be resubmitted), keeping the state's `allowed_actions`."""
    if application.state == LAPSED and application.resubmit_by is not None:
        refused.detail = deadline_passed(application)
        refused.args = (refused.detail,)
        refused.instants["deadline"] = application.resubmit_by


def _give_back_the_wait(application: Application, resubmitted: datetime) -> None:
    """The review clock stood still while the application waited on the vendor
    (round 37, the permission request's rule): it runs from the first submission
    moved later by the business days from the return's office day to the
    resubmission's, each return adding its own wait. After a reconsideration is
    granted the clock runs from its request, so a return then gives the wait back
    from there (round 38; `queries.review_clock_from`, the queue's rule); the request
    itself is never moved, as the vendor was told it."""
    started = queries.review_clock_from(application)
    if started is None or application.returned_at is None:
        return
    waited = calendar.business_days_between(
        calendar.office_date(application.returned_at), calendar.office_date(resubmitted)
    )
    application.review_clock_from = calendar.later_by_business_days(started, waited)


def submit(
    application_id: int,
    actor: Actor,
    *,
    policy: IssuingPolicy,
    attest: bool,
    response: str | None = None,
    now: datetime | None = None,
) -> Application:
    """Price the application, store the quote snapshot and send it for review
    (or approve it at once when `policy` allows and every licensed line is
    `review: auto`, issuing the agreement on the policy's terms)."""
    _require_vendor(actor)
    moment = _now(now)
    if not attest:
        raise InvalidInput.for_field(
            "attest", "Confirm that the information in the application is accurate."
        )
    with db.transaction() as session:
        application = _owned(session, Application, application_id, actor)
        action = "resubmit" if application.state in (RETURNED, LAPSED) else "submit"
        try:
            APPLICATION.step(application.state, action)
        except IllegalTransition as refused:
            _say_the_deadline_passed(application, refused)
            raise
        if action == "resubmit" and application.resubmit_by and moment > application.resubmit_by:
            raise Conflict(
                deadline_passed(application), instants={"deadline": application.resubmit_by}
            )
        accounts.ensure_good_standing(application.organization)
        _check_complete(session, application)
        quote = _price(session, application)
        if not issuing.licensed_lines(quote):
            raise InvalidInput.for_field(
                "uses",
                "Every use in this application is educational use that goes to the "
                "permissions queue: request permission instead of a license.",
            )
        _store_quote(session, application, quote, kind=SUBMITTED, actor=actor, now=moment)
        application.attested_by_id = actor.user_id
        application.attested_at = moment
        application.submitted_at = application.submitted_at or moment
        asked = application.return_reason
        if action == "resubmit":
            _give_back_the_wait(application, moment)
            application.vendor_response = _reason(response, "response", required=False)
            application.return_reason = None
            application.resubmit_by = None
        today = calendar.office_date(moment)
        over = issuing.term_over(application.term_end, today)
        APPLICATION.apply(
            session,
            application,
            action,
            actor=actor,
            changes={"attested_by": actor.name, "total": quote.total}
            | ({"term_over": True} if over else {}),
            note=issuing.past_term_review(application.term_end)
            if over and application.term_end
            else None,
            at=moment,
        )
        _route_to_permissions(session, application, quote, actor, moment)
        if _auto_approvable(application, quote, policy, today):
            APPLICATION.apply(session, application, "auto_approve", actor=Actor.SYSTEM, at=moment)
            _approve(
                session,
                application,
                actor=Actor.SYSTEM,
                policy=policy,
                now=moment,
                automatic=True,
            )
        else:
            _tell_staff(
                session,
                application,
                "resubmitted with more information"
                if action == "resubmit"
                else "a new application to review",
                f"{application.organization.legal_name} "
                f"{'resubmitted' if action == 'resubmit' else 'submitted'} "
                f"{application.reference} ({_uses_counted(len(application.uses))}, "
                + (
                    f"quoted {in_words(quote.total, quote.currency)})."
                    if quote.fully_priced
                    else "to be priced by staff)."
                )
                + (_exchange(asked, application.vendor_response) if action == "resubmit" else "")
                + (_term_over_told(application) if over else ""),
            )
        return application


def check_withdraw(application_id: int, actor: Actor) -> None:
    """Raise what `withdraw` would refuse, writing nothing (round 56): the page asks
    to confirm a withdrawal only of an application that may still be withdrawn (one
    decided meanwhile was asked about, then refused 409)."""
    _require_vendor(actor)
    application = _owned(db.session(), Application, application_id, actor)
    APPLICATION.step(application.state, "withdraw")


def withdraw(application_id: int, actor: Actor, *, now: datetime | None = None) -> Application:
    """The vendor takes the application back, at any time before a decision."""
    _require_vendor(actor)
    moment = _now(now)
    with db.transaction() as session:
        application = _owned(session, Application, application_id, actor)
        APPLICATION.apply(session, application, "withdraw", actor=actor, at=moment)
        return application


def _closing_key(application_id: int) -> str:
    """An application as the closing confirmation binds it (`accounts.ended_by_closing`)."""
    return f"application:{application_id}"


def ended_by_closing(session: Session, organization_id: int) -> list[str]:
    """The applications closing the organization withdraws now, as the closing
    confirmation binds them (registered with `accounts.register_ended_by_closing`):
    the undecided ones it lists, by id. Drafts are withdrawn too but neither listed
    nor bound (nothing was asked of the office yet); one submitted after the
    confirmation was shown is not among them, and closing is then refused."""
    rows = session.execute(
        select(Application.id).where(
            Application.organization_id == organization_id,
            Application.state.in_(UNDECIDED),
            Application.state != DRAFT,
        )
    )
    return [_closing_key(row.id) for row in rows]


class ApplicationsAppeared(Conflict):
    """Closing confirmed on a list of undecided applications that has grown: one
    submitted between the confirmation and the press would be withdrawn unlisted
    (round 54). Nothing changes."""

    def __init__(self, legal_name: str, references: list[str]) -> None:
        one = len(references) == 1
        super().__init__(
            f"Not closed: {legal_name} submitted "
            f"{'application' if one else 'applications'} {', '.join(references)} after "
            "the closing was shown to confirm, and closing would withdraw "
            f"{'it' if one else 'them'} unlisted. Nothing changed: close the account again "
            "to see everything it ends, then confirm."
        )


def _undecided_of(organization_id: int) -> Select[Application]:
    """The organization's undecided applications (drafts included), locked, by id."""
    return (
        select(Application)
        .where(
            Application.organization_id == organization_id,
            Application.state.in_(UNDECIDED),
        )
        .order_by(Application.id)
        .with_for_update()
    )


def lock_undecided(session: Session, closing: ClosingOrganization) -> None:
    """Receiver of `signals.organization_closing`, before the closing's first event
    (the lock order, round 55): the applications `withdraw_for_closed` will withdraw
    (one submitted meanwhile it locks then)."""
    session.scalars(_undecided_of(closing.organization_id)).all()


def withdraw_for_closed(session: Session, closed: ClosedOrganization, actor: Actor) -> list[str]:
    """Receiver of `signals.organization_closed`, in the caller's transaction: the
    closed organization's undecided applications (drafts included) are withdrawn,
    each through `APPLICATION` and audited by whoever closed the account, saying
    why. No one may approve them any more (`ensure_licensable`), so they waited in
    the review queue, the console home's counts and the card check for a decision
    nobody could take (round 48). The references withdrawn, oldest first, which the
    closing email names (round 49)."""
    undecided = session.scalars(_undecided_of(closed.organization_id)).all()
    if closed.shown is not None:
        appeared = [
            a for a in undecided if a.state != DRAFT and _closing_key(a.id) not in closed.shown
        ]
        if appeared:
            raise ApplicationsAppeared(closed.legal_name, [a.reference for a in appeared])
    note = f"{closed.legal_name}'s account was closed" + (
        f": {closed.reason}" if closed.reason else "."
    )
    for application in undecided:
        APPLICATION.apply(session, application, "withdraw", actor=actor, note=note)
    return [application.reference for application in undecided]


# `withdraw_left_by_closed` claims this many applications per transaction.
WITHDRAW_BATCH = 100


def withdraw_left_by_closed(*, now: datetime | None = None) -> list[str]:
    """`licensing applications withdraw-closed` (round 49): withdraw the undecided
    applications (drafts included) of organizations closed before round 48, whose
    closing left them waiting for a decision no one may take. Each goes through
    `APPLICATION`'s `withdraw`, audited `application.withdrawn` by the system (as the
    periodic jobs' steps are), with a note saying why. In bounded batches, each
    claimed (`db.claim`) and committed on its own, oldest application first, until a
    batch comes back short: idempotent, and safe on several hosts at once (closing is
    final, so a claimed row's organization stays closed). The references withdrawn."""
    moment = _now(now)
    withdrawn: list[str] = []
    closed = select(Organization.id).where(Organization.standing == CLOSED)
    while True:
        with db.transaction() as session:
            claimed = session.scalars(
                db.claim(
                    select(Application)
                    .where(
                        Application.organization_id.in_(closed),
                        Application.state.in_(UNDECIDED),
                    )
                    .order_by(Application.id)
                    .limit(WITHDRAW_BATCH)
                )
            ).all()
            for application in claimed:
                APPLICATION.apply(
                    session,
                    application,
                    "withdraw",
                    actor=Actor.SYSTEM,
                    at=moment,
                    note=f"{application.organization.legal_name}'s account is closed, and a "
                    "closed organization's application is not approved (closed before "
                    "closing withdrew its applications): licensing applications "
                    "withdraw-closed.",
                )
                withdrawn.append(application.reference)
        if len(claimed) < WITHDRAW_BATCH:
            return withdrawn


def _exchange(asked: str | None, answer: str | None) -> str:
    """The office's question and the vendor's answer, for the resubmission's staff
    email: staff were told the vendor answered, not what."""
    question = f"\n\nThe office asked: {asked}" if asked else ""
    reply = f"Their answer: {answer}" if answer else "They gave no answer, only the changes."
    return f"{question}\n{reply}" if question else f"\n\n{reply}"


def _term_over_told(application: Application) -> str:
    """For staff, that the term asked for is already over (round 49)."""
    assert application.term_end is not None
    return (
        f"\n\nIts term ended on {calendar.day_text(application.term_end)}, before the submission: "
        "approving it licenses past use only."
    )


def _uses_counted(count: int) -> str:
    """`1 use`, `3 uses`: the staff notice reads as a sentence."""
    return f"{count} use" if count == 1 else f"{count} uses"
