"""Deciding a request: a grant with its conditions and validity, or a denial
with its reason; each issues its letter and tells the requester."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from licensing import calendar, db, printable
from licensing.actors import Actor
from licensing.db import utcnow
from licensing.errors import InvalidInput
from licensing.links import links
from licensing.mail import services as mail
from licensing.words import at_most_characters

from .. import documents
from ..models import (
    CONDITIONS_MAX,
    DENIAL_REASON_WHAT,
    PERMITTED_USE_MAX,
    REASON_MAX,
    PermissionLetter,
    PermissionRequest,
)
from ..states import PERMISSION_REQUEST
from . import letters
from ._common import (
    RECONSIDERATION_DAYS,
    STATUS_LINK_AFTER_CLOSING,
    close,
    label,
    locked,
    message_text,
    status_url,
    step,
    tell_requester,
)
from .requests import estimate_query
from .review import STAFF_ROLE
from .term import (
    MAX_VALIDITY_YEARS,
    asked_term,
    default_validity,
    longest_words,
    term_words,
    too_long,
)

MAX_CONDITIONS = 20


def _conditions(raw: str | Iterable[str] | None) -> tuple[str, ...]:
    items = raw.splitlines() if isinstance(raw, str) else list(raw or [])
    conditions = tuple(item.strip() for item in items if item and item.strip())
    if sum(len(c) for c in conditions) > CONDITIONS_MAX:
        raise InvalidInput.for_field("conditions", at_most_characters(CONDITIONS_MAX))
    if len(conditions) > MAX_CONDITIONS:
        raise InvalidInput.for_field("conditions", f"Give at most {MAX_CONDITIONS} conditions.")
    return conditions


def _validity(
    request: PermissionRequest,
    today: date,
    valid_from: date | None,
    valid_until: date | None,
    longest_years: int,
) -> tuple[date, date]:
    """The grant's days: those the office gives, else the default (the term asked
    for, or one year: `term.default_validity`)."""
    start, default_end = default_validity(request, today, valid_from)
    end = valid_until or default_end
    if end < start:
        raise InvalidInput.for_field("valid_until", "The end of validity must follow its start.")
    if end < today:
        # A letter granting a use that has already ended grants nothing (a mistyped year).
        raise InvalidInput.for_field(
            "valid_until",
            f"The permission would have ended already: choose a date from {today.isoformat()} on.",
        )
    if too_long(start, end, longest_years):
        raise InvalidInput.for_field(
            "valid_until", f"A permission is valid for at most {longest_words(longest_years)}."
        )
    return start, end


def _decide(
    session: Session,
    request: PermissionRequest,
    action: str,
    before: dict[str, Any],
    actor: Actor,
    letter: tuple[str, str, bytes],
    now: datetime,
) -> None:
    """Store the decision's letter, then take the step (audited with the letter)."""
    kind, number, data = letter
    stored = letters.store(session, request, kind, number, data, now)
    step(session, request, action, actor, since=before, at=now, note=letters.described(stored))


def approve(
    request_id: int,
    actor: Actor,
    *,
    conditions: str | Iterable[str] | None = None,
    permitted_use: str | None = None,
    valid_from: date | None = None,
    valid_until: date | None = None,
    longest_years: int = MAX_VALIDITY_YEARS,
    now: datetime | None = None,
) -> PermissionRequest:
    """Grant the request with its conditions and validity period (by default the
    term the requester asked for, else one year), and issue the grant letter
    (stored, never re-rendered)."""
    actor.require_role(STAFF_ROLE)
    moment = now or utcnow()
    today = calendar.office_date(moment)
    chosen = _conditions(conditions)
    with db.transaction() as session:
        request = locked(session, request_id)
        start, end = _validity(request, today, valid_from, valid_until, longest_years)
        use_text = (permitted_use or "").strip() or request.content_requested
        if len(use_text) > PERMITTED_USE_MAX:
            raise InvalidInput.for_field("permitted_use", at_most_characters(PERMITTED_USE_MAX))
        if (problem := printable.unprintable_problem(use_text)) is not None:
            raise InvalidInput.for_field("permitted_use", problem)  # the letter prints it
        PERMISSION_REQUEST.step(request.state, "approve")  # 409 before the letter is made
        before = request.snapshot()
        request.permitted_use = use_text
        request.conditions = "\n".join(chosen) or None
        request.valid_from, request.valid_until = start, end
        request.answer_due_at = None
        close(request, moment)
        # The letter is the requester's proof while the permission runs, and the page
        # says when it ended and how to ask again: the link lasts a year past its end
        # (not a year past the decision, which a permission starting later outlived).
        request.status_expires_at = max(
            request.status_expires_at or moment,
            calendar.end_of_office_day(end) + STATUS_LINK_AFTER_CLOSING,
        )
        number = letters.next_number(request, letters.GRANT)
        data = documents.render_grant_letter(
            documents.GrantLetter(
                number=number,
                request_reference=request.reference,
                issued_on=today,
                requester=letters.addressee(request),
                permitted_use=use_text,
                purpose=_purpose(request),
                medium=label(request.medium),
                audience_size=request.audience_size,
                conditions=chosen,
                valid_from=start,
                valid_until=end,
                term_asked=_term_asked(request),
                replaces=_denial_replaced(request),
                status_url=status_url(request) if request.source == "public" else "",
            )
        )
        _decide(session, request, "approve", before, actor, (letters.GRANT, number, data), moment)
        return request


def _term_asked(request: PermissionRequest) -> str:
    """The use's term as the requester asked for it, for the letter (`term_words`);
    empty when they gave no days (the letter reads as before round 42)."""
    return term_words(request) if asked_term(request) is not None else ""


def _denial_replaced(request: PermissionRequest) -> str:
    """The denial letter a grant on reconsideration replaces (else "")."""
    denials = [letter.number for letter in request.letters if letter.kind == letters.DENIAL]
    return denials[-1] if request.reconsidered and denials else ""


def _purpose(request: PermissionRequest) -> str:
    """The purpose as the grant letter states it: a public request's with its
    description (the course, textbook or study: "Course materials" alone would grant
    any course). A routed use's description is the rate card's working, for staff;
    its product is in the permitted use."""
    if request.source == "public":
        return f"{label(request.purpose)}: {request.purpose_detail}"
    return label(request.purpose)


# How the outbox names a decision letter it attaches, and reads it when it sends.
LETTER_SOURCE = "permission_letter"


def letter_bytes(session: Session, letter_id: int) -> bytes | None:
    """Letter `letter_id`'s issued bytes, for the outbox (`register_kept_source`)."""
    return session.scalar(select(PermissionLetter.pdf).where(PermissionLetter.id == letter_id))


def _letter_attached(session: Session, request: PermissionRequest) -> list[mail.Attachment]:
    """The decision's letter, attached: the requester's own copy, whatever becomes
    of the status link (it stops working a year after a denial closes the request,
    or a year after a grant's permission ends). Named, not copied (round 48): the
    letter is stored as issued and never changes, so the outbox sends its bytes."""
    letter = session.scalars(
        select(PermissionLetter)
        .where(PermissionLetter.request_id == request.id)
        .order_by(PermissionLetter.id.desc())
        .limit(1)
    ).one()
    content = letter_bytes(session, letter.id)
    assert content is not None  # the letter was just read
    return [
        mail.Attachment(
            letter.filename, "application/pdf", content, kept=(LETTER_SOURCE, letter.id)
        )
    ]


@PERMISSION_REQUEST.on("approve")
def _granted(session: Session, request: Any, actor: Actor, note: str | None) -> None:
    tell_requester(
        session,
        request,
        "permission_decided",
        "Your permission request is granted",
        attachments=_letter_attached(session, request),
    )


def deny(
    request_id: int, reason: str, actor: Actor, *, now: datetime | None = None
) -> PermissionRequest:
    """Deny the request with a reason and issue the denial letter, which explains
    how to ask for reconsideration within 14 days (once)."""
    actor.require_role(STAFF_ROLE)
    moment = now or utcnow()
    text = message_text(reason, what=DENIAL_REASON_WHAT, limit=REASON_MAX, field_name="reason")
    if (problem := printable.unprintable_problem(text)) is not None:
        raise InvalidInput.for_field("reason", problem)  # the letter prints it
    with db.transaction() as session:
        request = locked(session, request_id)
        PERMISSION_REQUEST.step(request.state, "deny")  # 409 before the letter is made
        before = request.snapshot()
        if request.reconsidered:
            request.reconsideration_denial_reason = text
        else:
            request.denial_reason = text
        request.answer_due_at = None
        close(request, moment)
        due = None if request.reconsidered else moment + timedelta(days=RECONSIDERATION_DAYS)
        request.reconsideration_due_at = due
        if due is not None:
            request.status_expires_at = due + STATUS_LINK_AFTER_CLOSING
        number = letters.next_number(request, letters.DENIAL)
        data = documents.render_denial_letter(
            documents.DenialLetter(
                number=number,
                request_reference=request.reference,
                issued_on=calendar.office_date(moment),
                requester=letters.addressee(request),
                content_requested=request.content_requested,
                reason=text,
                reconsideration_until=due,
                status_url=status_url(request),
                estimator_url=links().price_estimator(),
                sign_up_url=links().sign_up(),
                purpose=_purpose(request),
            )
        )
        _decide(session, request, "deny", before, actor, (letters.DENIAL, number, data), moment)
        return request


@PERMISSION_REQUEST.on("deny")
def _denied(session: Session, request: Any, actor: Actor, note: str | None) -> None:
    tell_requester(
        session,
        request,
        "permission_decided",
        "Decision on your permission request",
        attachments=_letter_attached(session, request),
        # The estimator filled in with the use refused (round 58: it opened blank, the
        # use typed a second time), as the form's refusal of a licensed use links it.
        estimator_url=links().price_estimator(
            estimate_query(request, today=calendar.office_date(request.decided_at or utcnow()))
        ),
        sign_up_url=links().sign_up(),
    )
