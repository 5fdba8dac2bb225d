"""Staff review of a submitted application: start, assign, internal notes, return
for information, escalate, approve (as quoted or modified) and reject."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from licensing import calendar, db, printable
from licensing.accounts import services as accounts
from licensing.accounts.models import User
from licensing.actors import Actor
from licensing.agreements import issuing
from licensing.agreements.commands import Modifications, no_such_use
from licensing.agreements.models import (
    AMOUNT_REASON_REQUIRED,
    MODIFIED,
    NOTE_MAX,
    REASON_MAX,
    Application,
    ApplicationNote,
)
from licensing.agreements.services._common import (
    RECONSIDERATION_DAYS,
    RESUBMIT_BUSINESS_DAYS,
    _approve,
    _deadline,
    _Errors,
    _licensing_staff,
    _licensing_step,
    _owned,
    _reason,
    _ReasonedStep,
    _record_decision,
    _store_quote,
    _tell_staff,
    _vendor_notice,
    _written,
)
from licensing.agreements.services.reconsideration import (
    deny_reconsideration,
    grant_reconsideration,
)
from licensing.agreements.settings import IssuingPolicy
from licensing.agreements.states import APPLICATION, AWAITING_STAFF, ESCALATED, RETURNED
from licensing.audit import services as audit
from licensing.errors import Conflict, InvalidInput
from licensing.money import (
    beyond_largest,
    exceeds_largest,
    format_amount,
    minor_units,
)
from licensing.pricing import Breakdown, Quote, QuoteLine, Term
from licensing.ratecards import services as ratecards
from licensing.signals import WithdrawnReviewer
from licensing.words import at_most_characters

# Applications with staff work still to do (or waiting on the vendor's answer).
ASSIGNABLE = (*AWAITING_STAFF, RETURNED)


def start_review(application_id: int, actor: Actor, *, now: datetime | None = None) -> Application:
    actor, moment = _licensing_step(actor, now)
    with db.transaction() as session:
        application = _owned(session, Application, application_id, actor)
        APPLICATION.apply(session, application, "start_review", actor=actor, at=moment)
        if application.assignee_id is None:
            _set_assignee(session, application, actor.user_id, actor)
        return application


def _reviewer(session: Session, assignee_id: int | None) -> User | None:
    """The user to assign (None for nobody): an active member of the licensing staff."""
    assignee = None if assignee_id is None else session.get(User, assignee_id)
    if assignee_id is not None and (
        assignee is None or not assignee.is_active or not {"licensing", "admin"} & assignee.roles
    ):
        raise InvalidInput.for_field(
            "assignee_id", "Choose an active member of the licensing staff."
        )
    return assignee


def _set_assignee(
    session: Session,
    application: Application,
    assignee_id: int | None,
    actor: Actor,
    note: str | None = None,
) -> None:
    assignee = _reviewer(session, assignee_id)
    before = application.assignee_id
    application.assignee = assignee
    application.assignee_id = assignee_id
    audit.record_event(
        session,
        "application.assigned",
        application.id,
        actor=actor,
        before={"assignee_id": before},
        after={"assignee_id": assignee_id},
        note=note,
    )


def _reviewers_applications(user_id: int) -> Select[Application]:
    """The undecided applications assigned to `user_id`, locked, by id."""
    return (
        select(Application)
        .where(Application.assignee_id == user_id, Application.state.in_(ASSIGNABLE))
        .order_by(Application.id)
        .with_for_update()
    )


def lock_reviewers_applications(session: Session, withdrawn: WithdrawnReviewer) -> None:
    """Receiver of `signals.reviewer_withdrawing`, before the step's first event (the
    lock order, round 55): the applications `release_reviewer` will give back."""
    session.scalars(_reviewers_applications(withdrawn.user_id)).all()


def release_reviewer(session: Session, withdrawn: WithdrawnReviewer, actor: Actor) -> int:
    """The undecided applications of a staff member who may no longer review go back
    to the queue, unassigned (each audited, by whoever withdrew them, saying why):
    otherwise they sit with someone who cannot take them up, and the console home
    counts none of them as unassigned. In the caller's transaction."""
    held = session.scalars(_reviewers_applications(withdrawn.user_id)).all()
    for application in held:
        _set_assignee(session, application, None, actor, note=withdrawn.why)
    return len(held)


def assign(application_id: int, assignee_id: int | None, actor: Actor) -> Application:
    """Give the application to a reviewer (or to nobody)."""
    actor = _licensing_staff(actor)
    with db.transaction() as session:
        application = _owned(session, Application, application_id, actor)
        if application.state not in ASSIGNABLE:
            raise Conflict(f"{application.reference} is decided; there is nothing to assign.")
        _set_assignee(session, application, assignee_id, actor)
        return application


def assign_many(
    application_ids: Iterable[int], assignee_id: int | None, actor: Actor
) -> list[Application]:
    """The queue's bulk assignment: give every selected application to one reviewer
    (or to nobody), all of them or none.

    One transaction: an application that does not exist or is decided refuses the
    whole request, naming it (`InvalidInput` on `application_ids`), and nothing is
    changed. Each application whose assignee changes is audited on its own.
    """
    actor = _licensing_staff(actor)
    ids = _selected(application_ids)
    with db.transaction() as session:
        found = list(session.scalars(_selected_applications(ids).with_for_update()))
        _refuse_assignment(session, ids, found, assignee_id)
        for application in found:
            if application.assignee_id != assignee_id:
                _set_assignee(session, application, assignee_id, actor)
        return found


def check_assign_many(
    application_ids: Iterable[int], assignee_id: int | None, actor: Actor
) -> None:
    """Raise what `assign_many` would refuse, writing nothing (round 56): the queue
    asks to confirm an unassignment only when it would then be made (a selected
    application decided meanwhile was asked about, then refused)."""
    actor = _licensing_staff(actor)
    ids = _selected(application_ids)
    session = db.session()
    _refuse_assignment(
        session, ids, list(session.scalars(_selected_applications(ids))), assignee_id
    )


def _selected(application_ids: Iterable[int]) -> list[int]:
    ids = sorted(set(application_ids))
    if not ids:
        raise InvalidInput.for_field("application_ids", "Select at least one application.")
    return ids


def _selected_applications(ids: Sequence[int]) -> Select[Application]:
    return select(Application).where(Application.id.in_(ids)).order_by(Application.id)


def _refuse_assignment(
    session: Session, ids: Sequence[int], found: Sequence[Application], assignee_id: int | None
) -> None:
    """Every selected application exists and is undecided, and the assignee may review
    (refused even when nothing would change); else nothing is assigned, naming why."""
    problems = [f"There is no application {number}." for number in _missing(ids, found)]
    problems += [
        f"{application.reference} is decided; there is nothing to assign."
        for application in found
        if application.state not in ASSIGNABLE
    ]
    if problems:
        raise InvalidInput("Nothing was assigned.", {"application_ids": problems})
    _reviewer(session, assignee_id)


def _missing(ids: Sequence[int], found: Sequence[Application]) -> list[int]:
    return sorted(set(ids) - {application.id for application in found})


def add_note(application_id: int, body: str, actor: Actor) -> ApplicationNote:
    """An internal note: staff only, never shown to the vendor."""
    actor = _licensing_staff(actor)
    text = _written(body, "body", NOTE_MAX, missing="Write the note.")
    with db.transaction() as session:
        application = _owned(session, Application, application_id, actor)
        note = ApplicationNote(application_id=application.id, author_id=actor.user_id, body=text)
        session.add(note)
        session.flush()
        audit.record_event(
            session,
            "application.note_added",
            application.id,
            actor=actor,
            after={"note_id": note.id},
            note=text,
        )
        return note


def return_for_information(
    application_id: int, reason: str, actor: Actor, *, now: datetime | None = None
) -> Application:
    """Ask the vendor for missing information: 5 US business days to resubmit."""

    def ask(application: Application, text: str | None, _actor: Actor, moment: datetime) -> None:
        application.return_reason = text
        application.returned_at = moment
        application.resubmit_by = calendar.business_deadline(moment, RESUBMIT_BUSINESS_DAYS)

    return _ReasonedStep(Application, "return", ask).take(application_id, actor, reason, now)


@_vendor_notice("return", "more information needed")
def _ask_for_information(application: Application, note: str | None) -> str:
    return (
        f"The licensing office needs more information: {note}\n\nChange the application "
        f"and resubmit it by {_deadline(application.resubmit_by)}, or it lapses."
    )


def escalate(
    application_id: int, reason: str, actor: Actor, *, now: datetime | None = None
) -> Application:
    """Send the application to a second reviewer (who then decides it)."""
    actor, moment = _licensing_step(actor, now)
    text = _reason(reason)
    with db.transaction() as session:
        application = _owned(session, Application, application_id, actor)
        APPLICATION.apply(session, application, "escalate", actor=actor, note=text, at=moment)
        application.escalated_by_id = actor.user_id
        if application.assignee_id == actor.user_id:
            _set_assignee(session, application, None, actor)
        _tell_staff(
            session,
            application,
            "escalated for a second review",
            f"Escalated by {actor.name}: {text}",
        )
        return application


def _check_second_reviewer(application: Application, actor: Actor) -> None:
    if application.state == ESCALATED and application.escalated_by_id == actor.user_id:
        raise Conflict(f"You escalated {application.reference}: a second reviewer decides it.")


def _amended_line(line: QuoteLine, amount: Decimal, currency: str, reason: str) -> QuoteLine:
    old = "unpriced" if line.amount is None else format_amount(line.amount, currency)
    new = format_amount(amount, currency)
    breakdown = line.breakdown
    if breakdown is None:  # a use no rule priced: the amount staff set is due up front
        breakdown = _fixed_breakdown(amount)
    else:
        # Keep the share of the line that is due up front; an unpriced or zero
        # line becomes all up front.
        if line.amount:
            fixed = (breakdown.fixed * amount / line.amount).quantize(
                Decimal(1).scaleb(-minor_units(currency))
            )
            fixed = min(fixed, amount)
        else:
            fixed = amount
        breakdown = dataclasses.replace(breakdown, fixed=fixed, variable=amount - fixed)
    return dataclasses.replace(
        line,
        amount=amount,
        breakdown=breakdown,
        explanation=(*line.explanation, f"{issuing.AMENDED} from {old} to {new}: {reason}"),
    )


def _fixed_breakdown(amount: Decimal) -> Breakdown:
    return Breakdown(
        model_type="flat",
        raw=Fraction(amount),
        discount_id=None,
        discount_percent=Decimal(0),
        discounted=Fraction(amount),
        minimum_prorated=None,
        maximum_prorated=None,
        bound_applied=None,
        unrounded=Fraction(amount),
        fixed=amount,
        variable=Decimal(0),
    )


# Reasons are printed into the modified quote and the agreement PDF: bounded as the
# API's schema bounds them, for every caller (the console's form has no schema).
_TOO_LONG = at_most_characters(REASON_MAX)


def _modified_quote(
    session: Session, application: Application, original: Quote, changes: Modifications
) -> tuple[Quote, list[dict[str, Any]]]:
    errors = _Errors()
    records: list[dict[str, Any]] = []
    quote = original
    assert original.request is not None
    if changes.term_start is not None or changes.term_end is not None:
        start = changes.term_start or original.request.term.start
        end = changes.term_end or original.request.term.end
        reason = (changes.term_reason or "").strip()
        if not reason:
            errors.add("term_reason", "Give the reason for changing the term.")
        elif len(reason) > REASON_MAX:
            errors.add("term_reason", _TOO_LONG)
        elif (problem := printable.unprintable_problem(reason)) is not None:
            errors.add("term_reason", problem)
        errors.raise_if_any("Every change needs a reason.")
        if start <= end and (problem := issuing.term_problem(start, end)):
            raise InvalidInput.for_field("term.end", problem)  # round 51, as a draft's
        if (start, end) != (original.request.term.start, original.request.term.end):
            request = dataclasses.replace(original.request, term=Term(start, end))
            try:
                # In the currency it was quoted in (round 62): a new term naming no card
                # is priced on the card in effect in that currency, never on one
                # published later for the same days in another.
                quote = ratecards.quote(request, currency=original.currency)
            except InvalidInput as invalid:
                raise InvalidInput(
                    "The new term cannot be priced.",
                    {
                        f"term.{k}" if not k.startswith("term") else k: v
                        for k, v in invalid.errors.items()
                    },
                ) from None
            for name, old, new in (
                ("term_start", original.request.term.start, start),
                ("term_end", original.request.term.end, end),
            ):
                if old != new:
                    records.append(
                        {
                            "field": name,
                            "line": None,
                            "from": old.isoformat(),
                            "to": new.isoformat(),
                            "reason": reason,
                        }
                    )
    lines = list(quote.lines)
    places = minor_units(quote.currency)
    for index, change in enumerate(changes.lines):
        path = f"lines.{index}"
        if not 0 <= change.line < len(lines):
            errors.add(f"{path}.line", no_such_use(change.line, len(lines)))
            continue
        if lines[change.line].route != "license":
            errors.add(f"{path}.line", "Choose a licensed use of this application.")
            continue
        if not change.reason.strip():
            errors.add(f"{path}.reason", AMOUNT_REASON_REQUIRED)
            continue
        if len(change.reason.strip()) > REASON_MAX:
            errors.add(f"{path}.reason", _TOO_LONG)
            continue
        if (problem := printable.unprintable_problem(change.reason)) is not None:
            errors.add(f"{path}.reason", problem)
            continue
        if change.amount < 0 or change.amount != change.amount.quantize(Decimal(1).scaleb(-places)):
            errors.add(f"{path}.amount", f"An amount of 0 or more with at most {places} decimals.")
            continue
        line = lines[change.line]
        records.append(
            {
                "field": "amount",
                "line": change.line,
                "from": None if line.amount is None else format_amount(line.amount, quote.currency),
                "to": format_amount(change.amount, quote.currency),
                "reason": change.reason.strip(),
            }
        )
        lines[change.line] = _amended_line(
            line, change.amount, quote.currency, change.reason.strip()
        )
    errors.raise_if_any("Some changes need correcting.")
    total = sum((line.amount for line in lines if line.amount is not None), Decimal(0))
    if beyond_largest(total):
        errors.add(
            "lines",
            f"With these amounts the total {exceeds_largest(total, quote.currency)}; "
            "lower the amounts.",
        )
        errors.raise_if_any("Some changes need correcting.")
    return dataclasses.replace(quote, lines=tuple(lines), total=total), records


def approve(
    application_id: int,
    actor: Actor,
    *,
    policy: IssuingPolicy,
    modifications: Modifications | None = None,
    note: str | None = None,
    now: datetime | None = None,
) -> Application:
    """Approve as quoted, or with modified amounts or term (each with a reason;
    a new quote version is stored and the submitted one kept); issues the agreement
    on the policy's terms."""
    actor, moment = _licensing_step(actor, now)
    note = _reason(note, "note", required=False)
    with db.transaction() as session:
        application = _owned(session, Application, application_id, actor)
        APPLICATION.step(application.state, "approve")
        # Round 55 (lockrest55): its standing read under its lock, after the log's
        # turn (the lock order), not while a closing is under way.
        accounts.ensure_licensable(
            accounts.locked_organization(session, application.organization_id),
            f"{application.reference} is not approved (reject it, giving the reason)",
        )
        _check_second_reviewer(application, actor)
        submitted = application.submitted_quote
        assert submitted is not None
        quote = Quote.from_snapshot(submitted.snapshot)
        if modifications is not None and not modifications.empty:
            modified, records = _modified_quote(session, application, quote, modifications)
            _store_quote(
                session,
                application,
                modified,
                kind=MODIFIED,
                actor=actor,
                now=moment,
                modifications=records,
            )
        else:
            unpriced = [
                line.use_index + 1 for line in issuing.licensed_lines(quote) if line.amount is None
            ]
            if unpriced:
                raise InvalidInput.for_field(
                    "lines",
                    f"Use {', '.join(map(str, unpriced))} has no price on the rate card: approve "
                    "with modifications giving its amount.",
                )
        APPLICATION.apply(
            session,
            application,
            "approve",
            actor=actor,
            note=note,
            # Rounded to the currency's minor unit, as the snapshot rounds it.
            changes={"total": application.snapshot()["total"]},
            at=moment,
        )
        _approve(session, application, actor=actor, policy=policy, now=moment)
        return application


def reject(
    application_id: int, reason: str, actor: Actor, *, now: datetime | None = None
) -> Application:
    """Reject with a reason; the vendor may ask for reconsideration within 14 days."""

    def decide(application: Application, text: str | None, actor: Actor, moment: datetime) -> None:
        _check_second_reviewer(application, actor)
        _record_decision(application, text, actor, moment)
        application.reconsider_by = moment + timedelta(days=RECONSIDERATION_DAYS)

    return _ReasonedStep(Application, "reject", decide).take(application_id, actor, reason, now)


@_vendor_notice("reject", "rejected")
def _tell_rejected(application: Application, note: str | None) -> str:
    return (
        f"Your application is rejected: {note}\n\nYou may ask for reconsideration, with "
        f"your reasons, until {_deadline(application.reconsider_by)}."
    )


# The staff review steps `review()` takes by name, and what each needs.
_Step = Callable[
    [int, Actor, str, Modifications | None, IssuingPolicy, datetime | None], Application
]
_STEPS: dict[str, _Step] = {
    "start_review": lambda i, actor, reason, changes, policy, now: start_review(i, actor, now=now),
    "return": lambda i, actor, reason, changes, policy, now: return_for_information(
        i, reason, actor, now=now
    ),
    "escalate": lambda i, actor, reason, changes, policy, now: escalate(i, reason, actor, now=now),
    "approve": lambda i, actor, reason, changes, policy, now: approve(
        i, actor, policy=policy, modifications=changes, note=reason, now=now
    ),
    "reject": lambda i, actor, reason, changes, policy, now: reject(i, reason, actor, now=now),
    "grant_reconsideration": lambda i, actor, reason, changes, policy, now: grant_reconsideration(
        i, actor, reason=reason, now=now
    ),
    "deny_reconsideration": lambda i, actor, reason, changes, policy, now: deny_reconsideration(
        i, reason, actor, now=now
    ),
}
REVIEW_ACTIONS = tuple(_STEPS)


def review(
    application_id: int,
    action: str,
    actor: Actor,
    *,
    policy: IssuingPolicy,
    reason: str | None = None,
    modifications: Modifications | None = None,
    now: datetime | None = None,
) -> Application:
    """One staff review step, named as in the application's state machine: what the
    console's review form and the API's review endpoints call. `reason` is the
    step's reason (the note, on approval); `modifications` and `policy` (the terms
    of the agreement issued) apply to approval only."""
    step = _STEPS.get(action)
    if step is None:
        raise InvalidInput.for_field("action", "Choose an action.")
    return step(application_id, actor, reason or "", modifications, policy, now)
