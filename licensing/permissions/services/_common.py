"""What several permission use cases share: the periods they count, the
requester's links, loading a request, messages and the emails they send."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from licensing import calendar
from licensing.access import LICENSING_WORK
from licensing.accounts import queries as account_queries
from licensing.accounts.models import Organization, User
from licensing.actors import Actor
from licensing.audit import services as audit
from licensing.errors import InvalidInput, NotFound, PermissionDenied
from licensing.links import links
from licensing.mail import services as mail
from licensing.signing import signer
from licensing.words import at_most_characters

from ..models import MESSAGE_MAX, PermissionMessage, PermissionRequest
from ..states import APPROVED, PERMISSION_REQUEST

CONFIRM_LINK_VALIDITY = timedelta(hours=48)
# After a request is closed its status link keeps working this long (to fetch the letter).
STATUS_LINK_AFTER_CLOSING = timedelta(days=365)
RECONSIDERATION_DAYS = 14
# The note of the withdrawal a confirmed correction makes of the request it corrects
# (round 58), followed by the correction's reference.
REPLACED_BY = "replaced by the corrected request"

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


class LinkNotValid(NotFound):
    """A requester's link that matches no request (mistyped or made up)."""


class LinkExpired(PermissionDenied):
    """A requester's link that did match, but no longer works."""


NOT_VALID_MESSAGE = (
    "This link is not valid. Check that you used the whole link from our email; nothing "
    "has been changed."
)


def message_text(body: str | None, *, what: str, limit: int = MESSAGE_MAX, field_name: str) -> str:
    text = (body or "").strip()
    if not text:
        raise InvalidInput.for_field(field_name, f"{what} is required.")
    if len(text) > limit:
        raise InvalidInput.for_field(field_name, at_most_characters(limit))
    return text


# --- links -------------------------------------------------------------------------


def digest(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def status_token(request: PermissionRequest) -> str:
    """The secret in the requester's status link, derived from SECRET_KEY, so the
    database alone (which keeps only its digest) cannot produce a working link.

    The request is found by that digest, stored when the link was first made: after
    SECRET_KEY is rotated, the token under the former key kept in
    `SECRET_KEY_FALLBACKS` is the one that still finds it, so later emails repeat
    the link the requester has rather than one that opens nothing."""
    tokens = signer().tokens(f"permission-status:{request.id}:{request.link_salt}")
    if request.status_token_hash is not None:
        for token in tokens:
            if hmac.compare_digest(digest(token), request.status_token_hash):
                return token
    return tokens[0]


def status_url(request: PermissionRequest) -> str:
    return links().permission_status(status_token(request))


def status_link_expires_at(request: PermissionRequest) -> datetime | None:
    """When the status link stops working: a year after the request closed, and
    for a grant never before a year after the permission's last day (`approve`
    stores that; grants decided before round 16 stored a year after the decision,
    which a permission starting later outlived, so it is applied here too)."""
    expires = request.status_expires_at
    if expires is not None and request.state == APPROVED and request.valid_until is not None:
        grant_ends = calendar.end_of_office_day(request.valid_until)
        expires = max(expires, grant_ends + STATUS_LINK_AFTER_CLOSING)
    return expires


def check_live(request: PermissionRequest, now: datetime) -> None:
    expires = status_link_expires_at(request)
    if expires is not None and expires <= now:
        raise LinkExpired(
            f"This link expired {calendar.when_text(expires)}. The request "
            f"{request.reference} is closed; contact the licensing office about it.",
            instants={"expired_at": expires},
        )


def by_status_token(
    session: Session, raw: str, now: datetime, *, lock: bool = False
) -> PermissionRequest:
    statement = select(PermissionRequest).where(
        PermissionRequest.status_token_hash == digest(raw or "")
    )
    if lock:
        statement = statement.with_for_update()
    found = session.scalars(statement).one_or_none()
    if found is None:
        raise LinkNotValid(NOT_VALID_MESSAGE)
    check_live(found, now)
    return found


def requester(request: PermissionRequest) -> Actor:
    """The requester, who acts through the link emailed to them (no account): a
    link actor, holding no role and seeing no organization's records, whose
    authority is the link (the use case found the request by its token)."""
    return Actor.by_link(request.requester_address)


# --- loading and changing a request ------------------------------------------------


def locked(session: Session, request_id: int) -> PermissionRequest:
    found = session.scalars(
        select(PermissionRequest).where(PermissionRequest.id == request_id).with_for_update()
    ).one_or_none()
    if found is None:
        raise NotFound(f"There is no permission request {request_id}.")
    return found


def sla_deadline(now: datetime, sla_days: int) -> datetime:
    """When staff should have decided a request that enters the queue `now`:
    `sla_days` US business days later (the setting PERMISSION_SLA_DAYS)."""
    return calendar.business_deadline(now, sla_days)


def due_after_the_wait(
    session: Session, request: PermissionRequest, answered: datetime
) -> datetime | None:
    """The request's decision due date once a question it waits on is answered at
    `answered` (round 37): later by the business days from the question's office day
    to the answer's, so the office has after the answer the days it had left when it
    asked; the question's moment is its message's. The due date as it is when no
    question was sent to the requester; None without one."""
    if request.sla_due_at is None:
        return None
    asked = session.scalar(
        select(func.max(PermissionMessage.created_at)).where(
            PermissionMessage.request_id == request.id,
            PermissionMessage.author == "staff",
            PermissionMessage.internal.is_(False),
        )
    )
    if asked is None:
        return request.sla_due_at
    waited = calendar.business_days_between(
        calendar.office_date(asked), calendar.office_date(answered)
    )
    return calendar.end_of_office_day(
        calendar.add_business_days(calendar.office_date(request.sla_due_at), waited)
    )


def close(request: PermissionRequest, now: datetime) -> None:
    request.closed_at = now
    request.status_expires_at = now + STATUS_LINK_AFTER_CLOSING


def step(
    session: Session,
    request: PermissionRequest,
    action: str,
    actor: Actor,
    *,
    since: dict[str, Any],
    at: datetime | None,
    note: str | None = None,
) -> None:
    """Take the step `action` (`PERMISSION_REQUEST.apply`): its audit event also
    records what the use case changed since the snapshot `since` was taken."""
    _, changed = audit.changed_fields(since, request.snapshot())
    changed.pop("state", None)
    PERMISSION_REQUEST.apply(
        session, request, action, actor=actor, note=note, changes=changed, at=at
    )


def audit_request(
    session: Session,
    request: PermissionRequest,
    event: str,
    before: dict[str, Any] | None,
    after: dict[str, Any],
    *,
    actor: Actor | None,
    note: str | None = None,
) -> None:
    """The request's audit event `permission_request.<event>` that is no step of
    the machine (creation, assignment, a note): `audit.record_event` for a request.
    Without an `actor`, the log names the request's caller."""
    audit.record_event(
        session,
        f"permission_request.{event}",
        request.id,
        actor=actor,
        before=before,
        after=after,
        note=note,
    )


def add_message(
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


def add_requester_message(
    session: Session, request: PermissionRequest, body: str, now: datetime
) -> PermissionMessage:
    return add_message(
        session,
        request,
        body,
        author="requester",
        author_name=request.requester_shown_name,
        now=now,
    )


def add_staff_message(
    session: Session,
    request: PermissionRequest,
    body: str,
    actor: Actor,
    now: datetime,
    *,
    internal: bool = False,
) -> PermissionMessage:
    """A message from the acting staff member (the office, when the system acts)."""
    user = None if actor.user_id is None else session.get(User, actor.user_id)
    name = user.full_name if user else (mail.OFFICE_NAME if actor.is_system else actor.name)
    return add_message(
        session,
        request,
        body,
        author="staff",
        author_name=name,
        author_user_id=actor.user_id,
        internal=internal,
        now=now,
    )


# --- email ---------------------------------------------------------------------------


def tell_requester(
    session: Session,
    request: PermissionRequest,
    template: str,
    subject: str,
    *,
    attachments: Sequence[mail.Attachment] = (),
    **context: Any,
) -> None:
    """Email the requester about their request with its status link; or, for one made
    from an application whose requester no longer does the organization's licensing
    work, those who do (`colleagues_instead`), with the request's portal page."""
    told = requester_told(session, request)
    to_requester = not told.instead
    if to_requester:
        url, secrets = status_url(request), [status_token(request)]
    else:
        # The status link is the requester's secret; the portal page, signed in,
        # shows the request to its organization's licensing workers and links it.
        url, secrets = links().permission_request(request.id), []
    mail.enqueue(
        session,
        to=told.to,
        subject=f"{subject} ({request.reference})",
        template=template,
        context={
            "request": request,
            "status_url": url,
            "label": label,
            "to_requester": to_requester,
            "stand_in": told.stand_in,
            **context,
        },
        secrets=secrets,
        attachments=attachments,
    )


class RequesterTold(NamedTuple):
    """Whom a request's emails go to (`Told`), and whether instead of its requester."""

    told: account_queries.Told
    instead: bool

    @property
    def to(self) -> list[str]:
        return self.told.to

    @property
    def stand_in(self) -> bool:
        return self.told.stand_in


def requester_told(session: Session, request: PermissionRequest) -> RequesterTold:
    """Whom a request's email goes to, as `tell_requester` addresses it: the
    requester (`audience` `requester`), or those who do the organization's licensing
    work instead (`colleagues_instead`). The email, the console's "We emailed ..."
    and the API's `recipients` read it (round 37: round 36 worked it out again on
    the page)."""
    colleagues = colleagues_instead(session, request)
    if colleagues is None:
        address = request.requester_address
        recipient = account_queries.Recipient(address, "requester", request.organization_id)
        whom = f"{request.requester_shown_name} at {address}"
        return RequesterTold(account_queries.Told((recipient,), whom), instead=False)
    organization = session.get(Organization, request.organization_id)
    assert organization is not None  # colleagues_instead found it
    told = account_queries.readers_told(organization, colleagues)
    if not colleagues.stand_in:
        told = told._replace(
            whom=f"those who do the licensing work of {organization.legal_name} at "
            f"{', '.join(colleagues.to)} (the requester no longer does it)"
        )
    return RequesterTold(told, instead=True)


def colleagues_instead(
    session: Session, request: PermissionRequest
) -> account_queries.LicensingReaders | None:
    """Whom to tell about a request made from an application instead of its requester,
    when the requester's account no longer does the organization's licensing work (made
    a billing member, or their access removed, by a colleague or the office):
    educational permission requests are that work (docs/accounts.md, Roles), and the
    request is the organization's, so its administrators and members
    (`licensing_readers`) hear of it. None: the requester, who still does it (at their
    account's address now, `requester_address`), who asked on the public form, or whose
    account a request from before round 24 could not be matched to."""
    requester_user = request.requester_user
    if request.organization_id is None or requester_user is None:
        return None
    if (
        requester_user.is_active
        and requester_user.organization_id == request.organization_id
        and requester_user.organization_role in LICENSING_WORK
    ):
        return None
    organization = session.get(Organization, request.organization_id)
    assert organization is not None
    return account_queries.licensing_readers(session, organization)


def tell_staff(
    session: Session, request: PermissionRequest, event: str, wrote: str | None = None
) -> None:
    """Email the reviewer (or the licensing staff) that `event` happened; `wrote`:
    what the requester wrote with it (an answer, grounds), so staff read it there."""
    mail.notify_staff(
        session,
        "licensing",
        assignee=request.assignee,
        subject=f"Permission request {request.reference}: {event}",
        template="permission_staff_notice",
        context={
            "request": request,
            "event": event,
            "wrote": wrote,
            "console_url": links().permission_request_review(request.id),
            "label": label,
        },
    )
