"""A vendor writes an application: create a draft, change it (while it is a draft
or returned). The edges check the input's shape and build the `ApplicationDraft`;
here only its business rules are checked, and completeness on submission."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from licensing import db, printable
from licensing.accounts.models import User
from licensing.actors import Actor
from licensing.agreements import issuing, queries, step_checks
from licensing.agreements.commands import ApplicationDraft, ProposedUseInput
from licensing.agreements.models import DELIVERIES, MAX_USES, Application
from licensing.agreements.services._common import (
    _Errors,
    _new_draft,
    _now,
    _owned_in,
    _require_vendor,
    _write_uses,
    check_revenue_digits,
)
from licensing.agreements.services.submission import submission_refusal
from licensing.agreements.states import DRAFT, EDITABLE, RETURNED
from licensing.audit import services as audit
from licensing.errors import Conflict, InvalidInput
from licensing.pricing.vocabulary import PRODUCT_TYPES, USER_TYPES, USES
from licensing.ratecards import queries as ratecard_queries

# Each use's classification and the words it may take (the rate card's vocabulary).
_VOCABULARY = (
    ("use", USES),
    ("product_type", PRODUCT_TYPES),
    ("user_type", USER_TYPES),
    ("delivery", DELIVERIES),
)


def _check_use(use: ProposedUseInput, prefix: str, errors: _Errors) -> None:
    for name, allowed in _VOCABULARY:
        if getattr(use, name) not in allowed:
            errors.add(f"{prefix}.{name}", f"Must be one of: {', '.join(allowed)}.")
    # What the agreement prints of the use, as typed.
    for name in ("product_name", "description", "territories"):
        if (problem := printable.unprintable_problem(getattr(use, name))) is not None:
            errors.add(f"{prefix}.{name}", problem)
    if (problem := printable.unprintable_problem(", ".join(use.languages))) is not None:
        errors.add(f"{prefix}.languages", problem)


def _check(draft: ApplicationDraft) -> None:
    """The business rules of a draft; its shape and sizes were checked at the edge."""
    errors = _Errors()
    if not draft.uses:
        errors.add("uses", "Describe at least one use.")
    elif len(draft.uses) > MAX_USES:
        errors.add("uses", f"At most {MAX_USES} uses in one application.")
    for index, use in enumerate(draft.uses[:MAX_USES]):
        _check_use(use, f"uses.{index}", errors)
    if draft.term_start and draft.term_end and draft.term_end < draft.term_start:
        errors.add("term_end", "The term cannot end before it starts.")
    elif (
        draft.term_start
        and draft.term_end
        and (problem := issuing.term_problem(draft.term_start, draft.term_end))
    ):
        # Round 51: a term no agreement can be issued for (too long, or ending with
        # the calendar) is said as it is typed, not at the submission's 500.
        errors.add("term_end", problem)
    errors.raise_if_any()


def _check_revenue(session: Session, draft: ApplicationDraft, currency: str | None) -> None:
    """`check_revenue_digits` in the currency the application is priced in (the card
    it names, else `currency`, the one known for it: round 62)."""
    check_revenue_digits(
        session,
        draft.rate_card,
        draft.term_start,
        [use.revenue for use in draft.uses],
        currency=currency,
    )


def create_draft(
    actor: Actor, draft: ApplicationDraft, *, now: datetime | None = None
) -> Application:
    """A new draft application of the vendor's organization (good standing required)."""
    moment = _now(now)
    _require_vendor(actor)
    _check(draft)
    with db.transaction() as session:
        _check_revenue(session, draft, queries.licensee_currency(session, actor.organization_id))
        return _drafted(session, actor, draft, moment)


def _drafted(session: Session, actor: Actor, draft: ApplicationDraft, now: datetime) -> Application:
    return _new_draft(
        session,
        actor,
        term=(draft.term_start, draft.term_end),
        rate_card=draft.rate_card,
        uses=draft.uses,
        now=now,
    )


def change_refusal(session: Session, application: Application, *, now: datetime) -> str | None:
    """Why the vendor may not change `application`, a draft or a returned one, now:
    it could not then be submitted (`step_checks.may_change`, as its page hides *Change
    the application* by), said with why and what they may do instead; None where they
    may. Round 58 (refusal58): the edit page and `PUT /api/v1/applications/{id}` took a
    change to a returned application past its deadline and to a held organization's
    draft, which then could not be submitted."""
    why = submission_refusal(session, application, now=now)
    if why is None:
        return None
    steps = step_checks.vendor_steps(application, user_id=None, now=now)
    instead = " You may still withdraw it." if "withdraw" in steps else ""
    return (
        f"{application.reference} cannot be changed now: it could not then be submitted. "
        f"{why}{instead}"
    )


def update_draft(
    application_id: int,
    actor: Actor,
    draft: ApplicationDraft,
    *,
    now: datetime | None = None,
) -> Application:
    """Save the vendor's changes to a draft or a returned application."""
    _require_vendor(actor)
    _check(draft)
    with db.transaction() as session:
        application = _owned_in(
            session,
            Application,
            application_id,
            actor,
            EDITABLE,
            "drafts and applications returned for more information can be changed",
        )
        moment = _now(now)
        refused = change_refusal(session, application, now=moment)
        if refused is not None:
            deadline = application.resubmit_by if application.state == RETURNED else None
            late = deadline is not None and moment > deadline
            raise Conflict(refused, instants={"deadline": deadline} if late and deadline else None)
        asked = queries.asked_currency(session, application)
        _check_revenue(session, draft, asked.currency if asked is not None else None)
        before = application.snapshot()
        application.term_start = draft.term_start
        application.term_end = draft.term_end
        application.rate_card = draft.rate_card
        if application.state == DRAFT and asked is not None and asked.why == "renewal":
            # Round 64: a renewal draft keeps saying the currency it is priced in, the
            # card's it names (a card named decides), else its agreement's.
            application.currency = (
                ratecard_queries.card_currency(session, draft.rate_card, None, asked.currency)
                or asked.currency
            )
        _write_uses(application, draft.uses)
        application.updated_at = moment
        session.flush()
        old, new = audit.changed_fields(before, application.snapshot())
        audit.record_event(
            session,
            "application.updated",
            application.id,
            actor=actor,
            before=old,
            after={**new, "uses": len(draft.uses)},
        )
        return application


def keep_estimate(session: Session, user: User, draft: ApplicationDraft, *, now: datetime) -> None:
    """Round 67: an estimate priced before signing up, kept with the new account as its
    organization's first application (a draft, created by the person signing up, in
    the sign-up's transaction), so that confirming the address leads to it in whichever
    browser the emailed link is opened, or days later. An estimate that would not be
    saved as a draft (a term no agreement is issued for, say) is not kept: the sign-up
    goes ahead without it, as a draft the vendor saved would have been refused."""
    try:
        _check(draft)
        _check_revenue(session, draft, None)
    except InvalidInput:
        return
    actor = Actor.user(
        user.email,
        user.id,
        user.organization_id,
        frozenset(),
        organization_role=user.organization_role,
    )
    _drafted(session, actor, draft, now)
