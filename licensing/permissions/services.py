"""Permission-request use cases: the public form, the requester's link, the
staff queue, decision letters, and the scheduled expiries.

Each public function owns its transaction (`with db.transaction() as s:`),
except the signal receiver, which runs inside the sender's. Every change is
audited and every email queued in the same transaction. Functions that depend
on the time take `now`, so tests control the clock.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import statistics
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from licensing import access, calendar, db
from licensing.accounts.models import User
from licensing.accounts.services import normalize_email
from licensing.audit import services as audit
from licensing.db import utcnow
from licensing.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from licensing.mail import services as mail
from licensing.pricing.vocabulary import ORGANIZATION_TYPES
from licensing.signals import RoutedUse, use_routed_to_permissions

from . import documents
from .models import (
    CONDITIONS_MAX,
    CONTENT_MAX,
    DURATION_MAX,
    INSTITUTION_MAX,
    MEDIA,
    MESSAGE_MAX,
    NAME_MAX,
    PERMITTED_USE_MAX,
    PURPOSE_DETAIL_MAX,
    PURPOSES,
    REASON_MAX,
    ROLES,
    PermissionLetter,
    PermissionMessage,
    PermissionRequest,
)
from .states import (
    APPROVED,
    DENIED,
    NEEDS_INFO,
    OPEN_STATES,
    PERMISSION_REQUEST,
    UNCONFIRMED,
    WITH_STAFF,
)

CONFIRM_LINK_VALIDITY = timedelta(hours=48)
# After a request is closed its status link keeps working this long (to fetch the letter).
STATUS_LINK_AFTER_CLOSING = timedelta(days=365)
ANSWER_BUSINESS_DAYS = 5
RECONSIDERATION_DAYS = 14
DEFAULT_VALIDITY = timedelta(days=365)
MAX_VALIDITY_YEARS = 5
METRICS_WINDOW = timedelta(days=90)
EXPIRY_BATCH = 100
MAX_CONDITIONS = 20

LABELS = {
    "faculty": "Faculty",
    "student": "Student",
    "researcher": "Researcher",
    "other": "Other",
    "course_materials": "Course materials",
    "textbook": "Non-commercial textbook",
    "research": "Research",
    "exam_preparation": "Exam preparation",
    "presentation": "Presentation",
    "other_educational": "Other educational use",
    "commercial": "A commercial product, service or publication",
    "print": "Print",
    "electronic": "Electronic",
    "lms": "Learning-management system",
}


def label(value: str | None) -> str:
    return LABELS.get(value or "", (value or "").replace("_", " "))


class CommercialUse(InvalidInput):
    """A commercial purpose is licensed, not permitted: the requester is sent to
    the price estimator and the license application instead."""


class LinkNotValid(NotFound):
    """A requester's link that matches no request (mistyped or made up)."""


class LinkExpired(PermissionDenied):
    """A requester's link that did match, but no longer works."""


COMMERCIAL_MESSAGE = (
    "A commercial purpose is not an educational permission: it needs a license. "
    "Estimate the price with the price estimator (/estimate), then apply for a license "
    "(/sign-up)."
)
NOT_VALID_MESSAGE = (
    "This link is not valid. Check that you used the whole link from our email; nothing "
    "has been changed."
)


# --- input -----------------------------------------------------------------------


def _text(
    values: Mapping[str, Any],
    name: str,
    limit: int,
    errors: dict[str, list[str]],
    *,
    required: bool = True,
    what: str = "This field",
) -> str:
    raw = values.get(name)
    text = "" if raw is None else str(raw).strip()
    if not text and required:
        errors[name] = [f"{what} is required."]
    elif len(text) > limit:
        errors[name] = [f"Use at most {limit:,} characters ({len(text):,} given)."]
    return text


def _choice(
    values: Mapping[str, Any],
    name: str,
    allowed: tuple[str, ...],
    errors: dict[str, list[str]],
) -> str:
    value = str(values.get(name) or "").strip()
    if not value:
        errors[name] = ["Choose one."]
    elif value not in allowed:
        errors[name] = [f"Choose one of: {', '.join(allowed)}."]
    return value


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "on", "y"}
    return value is True


def clean_request(values: Mapping[str, Any]) -> dict[str, Any]:
    """The public form's fields, trimmed and checked; `InvalidInput` lists every
    problem, `CommercialUse` when the purpose is commercial."""
    if str(values.get("purpose") or "").strip() == "commercial":
        raise CommercialUse(COMMERCIAL_MESSAGE, {"purpose": [COMMERCIAL_MESSAGE]})
    errors: dict[str, list[str]] = {}
    clean: dict[str, Any] = {
        "requester_name": _text(values, "requester_name", NAME_MAX, errors, what="Your name"),
        "institution": _text(values, "institution", INSTITUTION_MAX, errors, what="Institution"),
        "role": _choice(values, "role", ROLES, errors),
        "organization_type": _choice(values, "organization_type", ORGANIZATION_TYPES, errors),
        "purpose": _choice(values, "purpose", tuple(p for p in PURPOSES), errors),
        "purpose_detail": _text(
            values, "purpose_detail", PURPOSE_DETAIL_MAX, errors, what="The purpose"
        ),
        "content_requested": _text(
            values, "content_requested", CONTENT_MAX, errors, what="The content requested"
        ),
        "medium": _choice(values, "medium", MEDIA, errors),
        "duration": _text(values, "duration", DURATION_MAX, errors, what="The duration"),
    }
    try:
        clean["requester_email"] = normalize_email(str(values.get("requester_email") or ""))
    except InvalidInput as exc:
        errors["requester_email"] = [m for ms in exc.errors.values() for m in ms]
    audience = values.get("audience_size")
    try:
        number = int(str(audience).strip()) if audience not in (None, "") else None
    except ValueError:
        number = None
        errors["audience_size"] = ["Give the audience size as a whole number."]
    else:
        if number is None:
            errors["audience_size"] = ["Give the expected audience size."]
        elif not 1 <= number <= 10_000_000:
            errors["audience_size"] = ["Give a number between 1 and 10,000,000."]
    clean["audience_size"] = number
    if not _truthy(values.get("noncommercial")):
        errors["noncommercial"] = [
            "Confirm that the use is non-commercial; a commercial use needs a license."
        ]
    if errors:
        raise InvalidInput("Some fields need correcting; nothing was sent.", errors)
    return clean


def _message_text(body: str | None, *, what: str, limit: int = MESSAGE_MAX, field_name: str) -> str:
    text = (body or "").strip()
    if not text:
        raise InvalidInput.for_field(field_name, f"{what} is required.")
    if len(text) > limit:
        raise InvalidInput.for_field(
            field_name, f"Use at most {limit:,} characters ({len(text):,} given)."
        )
    return text


# --- links -------------------------------------------------------------------------


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def status_token(request: PermissionRequest) -> str:
    """The secret in the requester's status link, derived from SECRET_KEY, so the
    database alone (which keeps only its digest) cannot produce a working link."""
    key = str(current_app.config["SECRET_KEY"]).encode("utf-8")
    message = f"permission-status:{request.id}:{request.link_salt}".encode()
    mac = hmac.new(key, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode("ascii").rstrip("=")


def status_url(request: PermissionRequest) -> str:
    return mail.absolute_url("permissions_public.status", token=status_token(request))


def _issue_status_link(request: PermissionRequest) -> None:
    request.status_token_hash = _digest(status_token(request))


def _check_live(request: PermissionRequest, now: datetime) -> None:
    if request.status_expires_at is not None and request.status_expires_at <= now:
        raise LinkExpired(
            f"This link expired on {request.status_expires_at:%Y-%m-%d}. The request "
            f"{request.reference} is closed; contact the licensing office about it."
        )


def _by_status_token(
    session: Session, raw: str, now: datetime, *, lock: bool = False
) -> PermissionRequest:
    statement = select(PermissionRequest).where(
        PermissionRequest.status_token_hash == _digest(raw or "")
    )
    if lock:
        statement = statement.with_for_update()
    found = session.scalars(statement).one_or_none()
    if found is None:
        raise LinkNotValid(NOT_VALID_MESSAGE)
    _check_live(found, now)
    return found


def request_for_link(raw: str, *, now: datetime | None = None) -> PermissionRequest:
    """The request a status link opens (for its page), or `LinkNotValid` / `LinkExpired`."""
    return _by_status_token(db.session(), raw, now or utcnow())


# --- helpers -----------------------------------------------------------------------


def _sla_days() -> int:
    return int(current_app.config["LICENSING"].permission_sla_days)


def _assign_reference(session: Session, request: PermissionRequest, now: datetime) -> None:
    session.flush()
    request.reference = f"PR-{now.year}-{request.id:06d}"


def _new_request(session: Session, now: datetime, **fields: Any) -> PermissionRequest:
    request = PermissionRequest(
        reference=f"pending-{secrets.token_hex(6)}",
        link_salt=secrets.token_hex(16),
        created_at=now,
        reconsidered=False,
        **fields,
    )
    session.add(request)
    _assign_reference(session, request, now)
    return request


def _step(request: PermissionRequest, action: str) -> tuple[str, str]:
    before = request.state
    request.state = PERMISSION_REQUEST.step(request.state, action)
    return before, request.state


def _audit(
    session: Session,
    request: PermissionRequest,
    action: str,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    *,
    note: str | None = None,
    actor: str | None = None,
) -> None:
    audit.record(
        session,
        action=f"permission_request.{action}",
        entity_type="permission_request",
        entity_id=request.id,
        before=before,
        after=after,
        note=note,
        actor=actor,
    )


def _add_message(
    session: Session,
    request: PermissionRequest,
    body: str,
    *,
    author: str,
    author_name: str,
    author_user_id: int | None = None,
    internal: bool = False,
    now: datetime,
) -> PermissionMessage:
    message = PermissionMessage(
        request_id=request.id,
        author=author,
        author_name=author_name,
        author_user_id=author_user_id,
        internal=internal,
        body=body,
        created_at=now,
    )
    session.add(message)
    session.flush()
    session.expire(request, ["messages"])
    return message


def _staff_author(session: Session) -> tuple[str, int | None]:
    principal = access.current_principal()
    if principal is None:
        return mail.OFFICE_NAME, None
    user = session.get(User, principal.user_id)
    return (user.full_name if user else principal.email), principal.user_id


def _tell_requester(
    session: Session, request: PermissionRequest, template: str, subject: str, **context: Any
) -> None:
    mail.enqueue(
        session,
        to=request.requester_email,
        subject=f"{subject} ({request.reference})",
        template=template,
        context={"request": request, "status_url": status_url(request), "label": label, **context},
        secrets=[status_token(request)],
    )


def _tell_staff(session: Session, request: PermissionRequest, event: str) -> None:
    recipients = (
        [request.assignee.email]
        if request.assignee is not None and request.assignee.is_active
        else mail.staff_recipients("licensing")
    )
    if not recipients:
        return
    mail.enqueue(
        session,
        to=recipients,
        subject=f"Permission request {request.reference}: {event}",
        template="permission_staff_notice",
        context={
            "request": request,
            "event": event,
            "console_url": mail.absolute_url("permissions_console.detail", request_id=request.id),
            "label": label,
        },
    )


def _close(request: PermissionRequest, now: datetime) -> None:
    request.closed_at = now
    request.status_expires_at = now + STATUS_LINK_AFTER_CLOSING


def _locked(session: Session, request_id: int) -> PermissionRequest:
    found = session.scalars(
        select(PermissionRequest).where(PermissionRequest.id == request_id).with_for_update()
    ).one_or_none()
    if found is None:
        raise NotFound(f"There is no permission request {request_id}.")
    return found


# --- the public form -----------------------------------------------------------------


def submit_request(values: Mapping[str, Any], *, now: datetime | None = None) -> PermissionRequest:
    """A request from the public form: stored `unconfirmed`, and a confirmation
    link (valid 48 hours) emailed to the requester. Nothing is stored when a
    field is wrong or the purpose is commercial."""
    moment = now or utcnow()
    clean = clean_request(values)
    raw = secrets.token_urlsafe(32)
    with db.transaction() as session:
        request = _new_request(
            session,
            moment,
            state=UNCONFIRMED,
            source="public",
            noncommercial_attested_at=moment,
            confirm_token_hash=_digest(raw),
            confirm_expires_at=moment + CONFIRM_LINK_VALIDITY,
            **clean,
        )
        _audit(session, request, "created", None, request.snapshot())
        mail.enqueue(
            session,
            to=request.requester_email,
            subject=f"Confirm your permission request ({request.reference})",
            template="permission_confirm",
            context={
                "request": request,
                "link": mail.absolute_url("permissions_public.confirm", token=raw),
                "expires_at": request.confirm_expires_at,
                "label": label,
            },
            secrets=[raw],
        )
        return request


def confirm_email(raw: str, *, now: datetime | None = None) -> PermissionRequest:
    """Follow the confirmation link: the request enters the staff queue, and the
    requester is emailed their status link. Following it again changes nothing."""
    moment = now or utcnow()
    with db.transaction() as session:
        request = session.scalars(
            select(PermissionRequest)
            .where(PermissionRequest.confirm_token_hash == _digest(raw or ""))
            .with_for_update()
        ).one_or_none()
        if request is None:
            raise LinkNotValid(NOT_VALID_MESSAGE)
        if request.state != UNCONFIRMED:
            _check_live(request, moment)
            return request  # already confirmed: the view opens the status page
        assert request.confirm_expires_at is not None
        if request.confirm_expires_at <= moment:
            raise LinkExpired(
                "This confirmation link expired on "
                f"{request.confirm_expires_at:%Y-%m-%d at %H:%M} UTC. Submit the request "
                "again; nothing was sent to the office."
            )
        before = request.snapshot()
        _step(request, "confirm")
        _enter_queue(session, request, moment)
        _audit(session, request, "confirmed", *audit.changed_fields(before, request.snapshot()))
        return request


def _enter_queue(session: Session, request: PermissionRequest, now: datetime) -> None:
    request.submitted_at = now
    request.sla_due_at = calendar.business_deadline(now, _sla_days())
    _issue_status_link(request)
    _tell_requester(session, request, "permission_received", "We received your permission request")
    _tell_staff(session, request, "new request")


# --- requests routed from license applications ------------------------------------------


def create_from_routed_use(
    session: Session, use: RoutedUse, *, now: datetime | None = None
) -> PermissionRequest:
    """A permission request for a use that the rate card routes to the queue, in
    the caller's (the application's) transaction. The vendor user is verified, so
    there is no confirmation step; they are emailed the status link. Sending the
    same use twice creates one request."""
    existing = session.scalars(
        select(PermissionRequest).where(
            PermissionRequest.application_id == use.application_id,
            PermissionRequest.application_line == use.line_index,
        )
    ).one_or_none()
    if existing is not None:
        return existing
    moment = now or utcnow()
    medium = "print" if use.product_type == "print" else "electronic"
    description = " ".join(part for part in (use.product_name, use.description) if part)
    request = _new_request(
        session,
        moment,
        state=UNCONFIRMED,
        source="application",
        organization_id=use.organization_id,
        application_id=use.application_id,
        application_line=use.line_index,
        application_reference=use.application_reference,
        requester_name=use.requester_name[:NAME_MAX],
        requester_email=normalize_email(use.requester_email),
        institution=use.organization_name[:INSTITUTION_MAX],
        role="other",
        organization_type=use.organization_type,
        purpose="other_educational",
        purpose_detail=(
            f"From license application {use.application_reference}, use {use.line_index + 1} "
            f"({use.use.replace('_', ' ')}, {use.product_type.replace('_', ' ')} for "
            f"{use.user_type} users). {use.explanation}"
        )[:PURPOSE_DETAIL_MAX],
        content_requested=(description or use.use)[:CONTENT_MAX],
        medium=medium,
        audience_size=use.audience_size,
        duration=f"{use.term_start.isoformat()} to {use.term_end.isoformat()}",
    )
    _step(request, "confirm")
    _enter_queue(session, request, moment)
    _audit(
        session,
        request,
        "created",
        None,
        request.snapshot(),
        note=f"routed to the permissions queue from application {use.application_reference}",
    )
    return request


def _on_routed_use(sender: RoutedUse, **kwargs: Any) -> None:
    create_from_routed_use(kwargs["session"], sender)


# Connected once, when this module is first imported (the web blueprints import
# it at app creation); blinker ignores a second connect of the same receiver.
use_routed_to_permissions.connect(_on_routed_use)


# --- the requester, through their link ---------------------------------------------------


def answer(raw: str, body: str, *, now: datetime | None = None) -> PermissionRequest:
    """The requester answers a request for information; back to review."""
    moment = now or utcnow()
    text = _message_text(body, what="Your answer", field_name="body")
    with db.transaction() as session:
        request = _by_status_token(session, raw, moment, lock=True)
        before = request.snapshot()
        _step(request, "answer")
        request.answer_due_at = None
        _add_message(
            session,
            request,
            text,
            author="requester",
            author_name=request.requester_name,
            now=moment,
        )
        _audit(
            session,
            request,
            "answered",
            *audit.changed_fields(before, request.snapshot()),
            actor=request.requester_email,
        )
        _tell_staff(session, request, "the requester answered")
        return request


def withdraw(
    raw: str, *, reason: str | None = None, now: datetime | None = None
) -> PermissionRequest:
    """The requester withdraws before a decision (optionally saying why)."""
    moment = now or utcnow()
    text = (reason or "").strip()
    if len(text) > MESSAGE_MAX:
        raise InvalidInput.for_field("reason", f"Use at most {MESSAGE_MAX:,} characters.")
    with db.transaction() as session:
        request = _by_status_token(session, raw, moment, lock=True)
        before = request.snapshot()
        _step(request, "withdraw")
        request.answer_due_at = None
        _close(request, moment)
        if text:
            _add_message(
                session,
                request,
                f"Withdrawn: {text}",
                author="requester",
                author_name=request.requester_name,
                now=moment,
            )
        _audit(
            session,
            request,
            "withdrawn",
            *audit.changed_fields(before, request.snapshot()),
            actor=request.requester_email,
        )
        _tell_requester(session, request, "permission_withdrawn", "Your request is withdrawn")
        _tell_staff(session, request, "withdrawn by the requester")
        return request


def reconsideration_open(request: PermissionRequest, now: datetime) -> bool:
    return (
        request.state == DENIED
        and not request.reconsidered
        and request.reconsideration_closed_at is None
        and request.reconsideration_due_at is not None
        and now <= request.reconsideration_due_at
    )


def request_reconsideration(
    raw: str, grounds: str, *, now: datetime | None = None
) -> PermissionRequest:
    """The requester asks, once and within 14 days of a denial, for it to be reconsidered."""
    moment = now or utcnow()
    text = _message_text(grounds, what="Your grounds for reconsideration", field_name="body")
    with db.transaction() as session:
        request = _by_status_token(session, raw, moment, lock=True)
        PERMISSION_REQUEST.step(request.state, "request_reconsideration")  # 409 if not denied
        if not reconsideration_open(request, moment):
            if request.reconsidered:
                raise Conflict("This decision followed a reconsideration and is final.")
            due = request.reconsideration_due_at
            raise Conflict(
                f"The {RECONSIDERATION_DAYS}-day window to request reconsideration closed"
                + (f" on {due:%Y-%m-%d}." if due else ".")
            )
        before = request.snapshot()
        _step(request, "request_reconsideration")
        request.reconsidered = True
        request.closed_at = None
        request.status_expires_at = None
        request.reconsideration_due_at = None
        request.sla_due_at = calendar.business_deadline(moment, _sla_days())
        _add_message(
            session,
            request,
            text,
            author="requester",
            author_name=request.requester_name,
            now=moment,
        )
        _audit(
            session,
            request,
            "reconsideration_requested",
            *audit.changed_fields(before, request.snapshot()),
            actor=request.requester_email,
        )
        _tell_staff(session, request, "reconsideration requested")
        return request


# --- staff ---------------------------------------------------------------------------------


def start_review(request_id: int, *, now: datetime | None = None) -> PermissionRequest:
    with db.transaction() as session:
        request = _locked(session, request_id)
        before = request.snapshot()
        _step(request, "start_review")
        if request.assignee_id is None:
            request.assignee_id = _staff_author(session)[1]
        _audit(
            session, request, "review_started", *audit.changed_fields(before, request.snapshot())
        )
        return request


def ask_for_info(
    request_id: int, question: str, *, now: datetime | None = None
) -> PermissionRequest:
    """Ask the requester a question; they have 5 US business days to answer
    through their link, after which `licensing permissions expire` closes it."""
    moment = now or utcnow()
    text = _message_text(question, what="The question", field_name="message")
    with db.transaction() as session:
        request = _locked(session, request_id)
        before = request.snapshot()
        _step(request, "ask_for_info")
        request.answer_due_at = calendar.business_deadline(moment, ANSWER_BUSINESS_DAYS)
        name, user_id = _staff_author(session)
        _add_message(
            session,
            request,
            text,
            author="staff",
            author_name=name,
            author_user_id=user_id,
            now=moment,
        )
        _audit(
            session,
            request,
            "information_requested",
            *audit.changed_fields(before, request.snapshot()),
        )
        _tell_requester(
            session,
            request,
            "permission_needs_info",
            "We need more information about your request",
            question=text,
        )
        return request


def add_note(request_id: int, body: str, *, now: datetime | None = None) -> PermissionMessage:
    """An internal note: staff only, never shown to the requester."""
    moment = now or utcnow()
    text = _message_text(body, what="The note", field_name="body")
    with db.transaction() as session:
        request = _locked(session, request_id)
        name, user_id = _staff_author(session)
        note = _add_message(
            session,
            request,
            text,
            author="staff",
            author_name=name,
            author_user_id=user_id,
            internal=True,
            now=moment,
        )
        _audit(session, request, "note_added", None, {"note_id": note.id})
        return note


def _licensing_staff(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if (
        user is None
        or not user.is_staff
        or not user.is_active
        or not ({"licensing", "admin"} & set(user.roles))
    ):
        raise InvalidInput.for_field(
            "assignee_id", "Choose an active member of the licensing staff."
        )
    return user


def assign(request_ids: Iterable[int], assignee_id: int | None) -> list[PermissionRequest]:
    """Assign requests (one or many) to a licensing staff member, or unassign them."""
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
        missing = set(ids) - {request.id for request in found}
        if missing:
            raise NotFound(
                "There is no permission request "
                + ", ".join(str(number) for number in sorted(missing))
                + "."
            )
        for request in found:
            if request.assignee_id == (assignee.id if assignee else None):
                continue
            before = {"assignee_id": request.assignee_id}
            request.assignee_id = assignee.id if assignee else None
            _audit(session, request, "assigned", before, {"assignee_id": request.assignee_id})
        return list(found)


def _conditions(raw: str | Iterable[str] | None) -> tuple[str, ...]:
    items = raw.splitlines() if isinstance(raw, str) else list(raw or [])
    conditions = tuple(item.strip() for item in items if item and item.strip())
    if sum(len(c) for c in conditions) > CONDITIONS_MAX:
        raise InvalidInput.for_field("conditions", f"Use at most {CONDITIONS_MAX:,} characters.")
    if len(conditions) > MAX_CONDITIONS:
        raise InvalidInput.for_field("conditions", f"Give at most {MAX_CONDITIONS} conditions.")
    return conditions


def _letter_number(request: PermissionRequest, kind: str) -> str:
    count = len(request.letters) + 1
    return f"{request.reference}-{'G' if kind == 'grant' else 'D'}{count}"


def _requester(request: PermissionRequest) -> documents.Requester:
    return documents.Requester(
        name=request.requester_name,
        email=request.requester_email,
        institution=request.institution,
        role=label(request.role),
    )


def _store_letter(
    session: Session, request: PermissionRequest, kind: str, number: str, data: bytes, now: datetime
) -> PermissionLetter:
    letter = PermissionLetter(
        request_id=request.id,
        kind=kind,
        number=number,
        issued_at=now,
        pdf=data,
        sha256=hashlib.sha256(data).hexdigest(),
    )
    session.add(letter)
    session.flush()
    session.expire(request, ["letters"])
    return letter


def approve(
    request_id: int,
    *,
    conditions: str | Iterable[str] | None = None,
    permitted_use: str | None = None,
    valid_from: date | None = None,
    valid_until: date | None = None,
    now: datetime | None = None,
) -> PermissionRequest:
    """Grant the request with its conditions and validity period, and issue the
    grant letter (stored, never re-rendered)."""
    moment = now or utcnow()
    today = calendar.office_date(moment)
    start = valid_from or today
    end = valid_until or (start + DEFAULT_VALIDITY - timedelta(days=1))
    if end < start:
        raise InvalidInput.for_field("valid_until", "The end of validity must follow its start.")
    if (end - start).days > 366 * MAX_VALIDITY_YEARS:
        raise InvalidInput.for_field(
            "valid_until", f"A permission is valid for at most {MAX_VALIDITY_YEARS} years."
        )
    chosen = _conditions(conditions)
    with db.transaction() as session:
        request = _locked(session, request_id)
        use_text = (permitted_use or "").strip() or request.content_requested
        if len(use_text) > PERMITTED_USE_MAX:
            raise InvalidInput.for_field(
                "permitted_use", f"Use at most {PERMITTED_USE_MAX:,} characters."
            )
        before = request.snapshot()
        _step(request, "approve")
        request.permitted_use = use_text
        request.conditions = "\n".join(chosen) or None
        request.valid_from, request.valid_until = start, end
        request.decided_at = moment
        request.answer_due_at = None
        _close(request, moment)
        number = _letter_number(request, "grant")
        data = documents.render_grant_letter(
            documents.GrantLetter(
                number=number,
                request_reference=request.reference,
                issued_on=today,
                requester=_requester(request),
                permitted_use=use_text,
                purpose=label(request.purpose),
                medium=label(request.medium),
                audience_size=request.audience_size,
                conditions=chosen,
                valid_from=start,
                valid_until=end,
            )
        )
        letter = _store_letter(session, request, "grant", number, data, moment)
        _audit(
            session,
            request,
            "approved",
            *audit.changed_fields(before, request.snapshot()),
            note=f"grant letter {letter.number} (sha256 {letter.sha256})",
        )
        _tell_requester(
            session, request, "permission_decided", "Your permission request is approved"
        )
        return request


def deny(request_id: int, reason: str, *, now: datetime | None = None) -> PermissionRequest:
    """Deny the request with a reason and issue the denial letter, which explains
    how to ask for reconsideration within 14 days (once)."""
    moment = now or utcnow()
    text = _message_text(reason, what="The reason", limit=REASON_MAX, field_name="reason")
    with db.transaction() as session:
        request = _locked(session, request_id)
        before = request.snapshot()
        _step(request, "deny")
        request.denial_reason = text
        request.decided_at = moment
        request.answer_due_at = None
        request.reconsideration_due_at = (
            None if request.reconsidered else moment + timedelta(days=RECONSIDERATION_DAYS)
        )
        _close(request, moment)
        if request.reconsideration_due_at is not None:
            request.status_expires_at = request.reconsideration_due_at + STATUS_LINK_AFTER_CLOSING
        number = _letter_number(request, "denial")
        due = request.reconsideration_due_at
        data = documents.render_denial_letter(
            documents.DenialLetter(
                number=number,
                request_reference=request.reference,
                issued_on=calendar.office_date(moment),
                requester=_requester(request),
                content_requested=request.content_requested,
                reason=text,
                reconsideration_until=calendar.office_date(due) if due else None,
                status_url=status_url(request),
            )
        )
        letter = _store_letter(session, request, "denial", number, data, moment)
        _audit(
            session,
            request,
            "denied",
            *audit.changed_fields(before, request.snapshot()),
            note=f"denial letter {letter.number} (sha256 {letter.sha256})",
        )
        _tell_requester(
            session, request, "permission_decided", "Decision on your permission request"
        )
        return request


# --- scheduled: expiries ---------------------------------------------------------------------


@dataclass
class ExpiryReport:
    expired_unanswered: list[str] = field(default_factory=list)
    expired_unconfirmed: int = 0
    windows_closed: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"{len(self.expired_unanswered)} unanswered request(s) expired"
            + (f" ({', '.join(self.expired_unanswered)})" if self.expired_unanswered else "")
            + f", {self.expired_unconfirmed} unconfirmed request(s) expired, "
            f"{len(self.windows_closed)} reconsideration window(s) closed"
            + (f" ({', '.join(self.windows_closed)})" if self.windows_closed else "")
            + "."
        )


def _claim(session: Session, *conditions: Any) -> list[PermissionRequest]:
    """Due rows, locked for this run; rows another host holds are skipped (PostgreSQL)."""
    return list(
        session.scalars(
            select(PermissionRequest)
            .where(*conditions)
            .order_by(PermissionRequest.id)
            .limit(EXPIRY_BATCH)
            .with_for_update(skip_locked=True)
        )
    )


def _each_due(act: Callable[[Session, PermissionRequest], None], *conditions: Any) -> None:
    """Apply `act` to every request matching `conditions`, a claimed batch per
    transaction, until a batch comes back short."""
    while True:
        with db.transaction() as session:
            due = _claim(session, *conditions)
            for request in due:
                act(session, request)
        if len(due) < EXPIRY_BATCH:
            return


def expire_due(now: datetime | None = None) -> ExpiryReport:
    """Close what time has run out on; idempotent and safe on several hosts at once.

    - `needs_info` unanswered past its 5-business-day deadline: `expired`;
    - `unconfirmed` past its 48-hour confirmation link: `expired`;
    - a denial's 14-day reconsideration window: closed (the denial is final).
    """
    moment = now or utcnow()
    report = ExpiryReport()

    def expire(session: Session, request: PermissionRequest, note: str) -> None:
        before = request.snapshot()
        _step(request, "expire")
        _close(request, moment)
        _audit(
            session,
            request,
            "expired",
            *audit.changed_fields(before, request.snapshot()),
            note=note,
        )

    def unanswered(session: Session, request: PermissionRequest) -> None:
        expire(session, request, f"no answer within {ANSWER_BUSINESS_DAYS} US business days")
        _tell_requester(session, request, "permission_expired", "Your request has expired")
        report.expired_unanswered.append(request.reference)

    def unconfirmed(session: Session, request: PermissionRequest) -> None:
        expire(session, request, "email address never confirmed")
        report.expired_unconfirmed += 1

    def window_closed(session: Session, request: PermissionRequest) -> None:
        request.reconsideration_closed_at = moment
        _audit(
            session,
            request,
            "reconsideration_window_closed",
            {"reconsideration_closed_at": None},
            {"reconsideration_closed_at": moment},
            note=f"{RECONSIDERATION_DAYS} days after the denial; the denial is final",
        )
        report.windows_closed.append(request.reference)

    _each_due(
        unanswered,
        PermissionRequest.state == NEEDS_INFO,
        PermissionRequest.answer_due_at < moment,
    )
    _each_due(
        unconfirmed,
        PermissionRequest.state == UNCONFIRMED,
        PermissionRequest.confirm_expires_at < moment,
    )
    _each_due(
        window_closed,
        PermissionRequest.state == DENIED,
        PermissionRequest.reconsideration_closed_at.is_(None),
        PermissionRequest.reconsideration_due_at < moment,
    )
    return report


# --- metrics ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueMetrics:
    open_by_state: dict[str, int]
    overdue: int
    decided_last_90_days: int
    median_days_to_decision: Decimal | None

    @property
    def open_total(self) -> int:
        return sum(self.open_by_state.values())


def metrics(session: Session, *, now: datetime | None = None) -> QueueMetrics:
    """Open requests by state, those past their service level, and the median
    days from submission to decision over the last 90 days."""
    moment = now or utcnow()
    counts = dict(
        session.execute(
            select(PermissionRequest.state, func.count(PermissionRequest.id))
            .where(PermissionRequest.state.in_(OPEN_STATES))
            .group_by(PermissionRequest.state)
        ).all()
    )
    overdue = session.scalar(
        select(func.count(PermissionRequest.id)).where(
            PermissionRequest.state.in_(WITH_STAFF), PermissionRequest.sla_due_at < moment
        )
    )
    decided = session.execute(
        select(PermissionRequest.submitted_at, PermissionRequest.decided_at).where(
            PermissionRequest.state.in_((APPROVED, DENIED)),
            PermissionRequest.decided_at >= moment - METRICS_WINDOW,
            PermissionRequest.decided_at <= moment,
            PermissionRequest.submitted_at.is_not(None),
        )
    ).all()
    durations = [
        Decimal(int((decided_at - submitted_at).total_seconds())) / Decimal(86400)
        for submitted_at, decided_at in decided
    ]
    median = Decimal(statistics.median(durations)).quantize(Decimal("0.1")) if durations else None
    return QueueMetrics(
        open_by_state={state: int(counts.get(state, 0)) for state in OPEN_STATES},
        overdue=int(overdue or 0),
        decided_last_90_days=len(durations),
        median_days_to_decision=median,
    )
