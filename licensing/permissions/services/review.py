"""The staff queue: assigning requests, starting a review, asking the requester
for information (and their answer, through their link), internal notes."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from licensing import calendar, db
from licensing.accounts.models import User
from licensing.actors import Actor
from licensing.audit.models import AuditEvent
from licensing.db import utcnow
from licensing.errors import InvalidInput
from licensing.signals import WithdrawnReviewer

from ..models import PermissionMessage, PermissionRequest
from ..states import ANSWER_BUSINESS_DAYS, NEEDS_INFO, OPEN_STATES, PERMISSION_REQUEST
from ._common import (
    add_requester_message,
    add_staff_message,
    audit_request,
    by_status_token,
    due_after_the_wait,
    locked,
    message_text,
    requester,
    step,
    tell_requester,
    tell_staff,
)

STAFF_ROLE = "licensing"
NOT_LICENSING_STAFF = "Choose an active member of the licensing staff."


def _licensing_staff(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if (
        user is None
        or not user.is_staff
        or not user.is_active
        or not ({STAFF_ROLE, "admin"} & set(user.roles))
    ):
        raise InvalidInput.for_field("assignee_id", NOT_LICENSING_STAFF)
    return user


def assign(
    request_ids: Iterable[int], assignee_id: int | None, actor: Actor
) -> list[PermissionRequest]:
    """Assign requests (one or many) to a licensing staff member, or unassign them:
    all or none. A request that does not exist or is decided refuses the whole
    request, naming it (`InvalidInput` on `request_ids`), as `assign_many` does
    for applications."""
    actor.require_role(STAFF_ROLE)
    ids = sorted(set(request_ids))
    if not ids:
        raise InvalidInput.for_field("request_ids", "Select at least one request.")
    with db.transaction() as session:
        assignee = _licensing_staff(session, assignee_id) if assignee_id is not None else None
        found = session.scalars(
            select(PermissionRequest)
            .where(PermissionRequest.id.in_(ids))
            .order_by(PermissionRequest.id)
            .with_for_update()
        ).all()
        # A request named in the body that does not exist is a problem with the
        # input (422 naming it), as for applications, not a missing address (404).
        missing = sorted(set(ids) - {request.id for request in found})
        problems = [f"There is no permission request {number}." for number in missing]
        problems += [
            f"{request.reference} is {request.state.replace('_', ' ')}; there is nothing to assign."
            for request in found
            if request.state not in OPEN_STATES
        ]
        if problems:  # all or none, as the application queue does
            raise InvalidInput("Nothing was assigned.", {"request_ids": problems})
        new_id = assignee.id if assignee else None
        for request in found:
            if request.assignee_id == new_id:
                continue
            before = {"assignee_id": request.assignee_id}
            request.assignee_id = new_id
            audit_request(
                session, request, "assigned", before, {"assignee_id": new_id}, actor=actor
            )
        return list(found)


def _reviewers_requests(user_id: int) -> Select[PermissionRequest]:
    """The open requests assigned to `user_id`, locked, by id."""
    return (
        select(PermissionRequest)
        .where(
            PermissionRequest.assignee_id == user_id,
            PermissionRequest.state.in_(OPEN_STATES),
        )
        .order_by(PermissionRequest.id)
        .with_for_update()
    )


def lock_reviewers_requests(session: Session, withdrawn: WithdrawnReviewer) -> None:
    """Receiver of `signals.reviewer_withdrawing`, before the step's first event (the
    lock order, round 55): the requests `release_reviewer` will give back."""
    session.scalars(_reviewers_requests(withdrawn.user_id)).all()


def release_reviewer(session: Session, withdrawn: WithdrawnReviewer, actor: Actor) -> int:
    """The open requests of a staff member who may no longer review go back to the
    queue, unassigned (each audited, by whoever withdrew them, saying why). In the
    caller's transaction."""
    held = session.scalars(_reviewers_requests(withdrawn.user_id)).all()
    for request in held:
        before = {"assignee_id": request.assignee_id}
        request.assignee_id = None
        audit_request(
            session,
            request,
            "assigned",
            before,
            {"assignee_id": None},
            actor=actor,
            note=withdrawn.why,
        )
    return len(held)


def start_review(
    request_id: int, actor: Actor, *, now: datetime | None = None
) -> PermissionRequest:
    """Take up a request; an unassigned one becomes the reviewer's."""
    actor.require_role(STAFF_ROLE)
    with db.transaction() as session:
        request = locked(session, request_id)
        before = request.snapshot()
        if request.assignee_id is None:
            request.assignee_id = actor.user_id
        step(session, request, "start_review", actor, since=before, at=now)
        return request


def ask_for_info(
    request_id: int, question: str, actor: Actor, *, now: datetime | None = None
) -> PermissionRequest:
    """Ask the requester a question; they have 5 US business days to answer
    through their link, after which `licensing permissions expire` closes it."""
    actor.require_role(STAFF_ROLE)
    moment = now or utcnow()
    text = message_text(question, what="The question", field_name="message")
    with db.transaction() as session:
        request = locked(session, request_id)
        before = request.snapshot()
        request.answer_due_at = calendar.business_deadline(moment, ANSWER_BUSINESS_DAYS)
        step(session, request, "ask_for_info", actor, since=before, at=moment)
        add_staff_message(session, request, text, actor, moment)
        tell_requester(
            session,
            request,
            "permission_needs_info",
            "We need more information about your request",
            question=text,
            days_after_answer=_days_left(request, moment),
        )
        return request


def _days_left(request: PermissionRequest, asked: datetime) -> int | None:
    """The office's business days left when it asks (what it has after the answer,
    round 37), for the question's email; None for a request without a due date."""
    if request.sla_due_at is None:
        return None
    today, due = calendar.office_date(asked), calendar.office_date(request.sla_due_at)
    return calendar.business_days_between(today, due)


def answer(raw: str, body: str, *, now: datetime | None = None) -> PermissionRequest:
    """The requester answers a request for information, through their link; back to review."""
    moment = now or utcnow()
    text = message_text(body, what="Your answer", field_name="body")
    with db.transaction() as session:
        request = by_status_token(session, raw, moment, lock=True)
        before = request.snapshot()
        if request.state == NEEDS_INFO:  # else the machine refuses the step below
            _give_back_the_wait(session, request, moment)
        request.answer_due_at = None
        step(session, request, "answer", requester(request), since=before, at=moment, note=text)
        add_requester_message(session, request, text, moment)
        return request


def _give_back_the_wait(session: Session, request: PermissionRequest, answered: datetime) -> None:
    """The service level stood still while the question waited (round 37): the
    decision's due date moves later by the business days from the question's office
    day to the answer's (`due_after_the_wait`; stored, no new column)."""
    request.sla_due_at = due_after_the_wait(session, request, answered)


_ENTERED = "permission_request.reconsideration_requested"
_ASKED, _ANSWERED = "permission_request.information_requested", "permission_request.answered"


def _waits_since_entering(steps: Iterable[tuple[str, datetime]]) -> int:
    """The business days each question answered since the request last entered the queue
    (its submission, or its request for a reconsideration) waited, question's office
    day to answer's, as `_give_back_the_wait` counts them."""
    waited, asked = 0, None
    for action, moment in steps:
        if action == _ENTERED:
            waited, asked = 0, None
        elif action == _ASKED:
            asked = moment
        elif asked is not None:
            waited += calendar.business_days_between(
                calendar.office_date(asked), calendar.office_date(moment)
            )
            asked = None
    return waited


def give_back_earlier_waits(*, sla_days: int) -> list[str]:
    """Requests whose questions were answered before round 37 (the answer did not yet
    move the due date) get the waits back: a request whose `sla_due_at` is still its
    entry's deadline (`sla_days` business days after the office day it entered the
    queue) though an answered question waited since, moves it later by those days, as
    the answer does now. Idempotent: a due date already moved is not the entry's
    deadline any more (a same-day answer waits 0 days and moves nothing). Returns the
    references moved, each audited (`permission_request.service_level_given_back`)."""
    with db.transaction() as session:
        answered = session.scalars(
            select(AuditEvent.entity_id).where(
                AuditEvent.entity_type == "permission_request", AuditEvent.action == _ANSWERED
            )
        )
        requests = session.scalars(
            select(PermissionRequest)
            .where(
                PermissionRequest.id.in_({int(entity_id) for entity_id in answered}),
                PermissionRequest.submitted_at.is_not(None),
                PermissionRequest.sla_due_at.is_not(None),
            )
            .order_by(PermissionRequest.id)
            .with_for_update()
        ).all()
        moved = []
        for request in requests:
            steps = session.execute(
                select(AuditEvent.action, AuditEvent.occurred_at)
                .where(
                    AuditEvent.entity_type == "permission_request",
                    AuditEvent.entity_id == str(request.id),
                    AuditEvent.action.in_((_ENTERED, _ASKED, _ANSWERED)),
                )
                .order_by(AuditEvent.occurred_at, AuditEvent.id)
            ).all()
            entered = [moment for action, moment in steps if action == _ENTERED]
            start = entered[-1] if entered else request.submitted_at
            assert start is not None
            assert request.sla_due_at is not None
            due_day = calendar.office_date(request.sla_due_at)
            waited = _waits_since_entering((action, moment) for action, moment in steps)
            if not waited or due_day != calendar.add_business_days(
                calendar.office_date(start), sla_days
            ):
                continue
            before = {"sla_due_at": request.sla_due_at}
            request.sla_due_at = calendar.end_of_office_day(
                calendar.add_business_days(due_day, waited)
            )
            audit_request(
                session,
                request,
                "service_level_given_back",
                before,
                {"sla_due_at": request.sla_due_at},
                actor=Actor.SYSTEM,
                note=f"{waited} business days waited on the requester, answered before round 37",
            )
            moved.append(request.reference)
        return moved


@PERMISSION_REQUEST.on("answer")
def _answered(session: Session, request: Any, actor: Actor, note: str | None) -> None:
    tell_staff(session, request, "the requester answered", wrote=note)


def add_note(
    request_id: int, body: str, actor: Actor, *, now: datetime | None = None
) -> PermissionMessage:
    """An internal note: staff only, never shown to the requester."""
    actor.require_role(STAFF_ROLE)
    moment = now or utcnow()
    text = message_text(body, what="The note", field_name="body")
    with db.transaction() as session:
        request = locked(session, request_id)
        note = add_staff_message(session, request, text, actor, moment, internal=True)
        audit_request(session, request, "note_added", None, {"note_id": note.id}, actor=actor)
        return note
