"""/api/v1 permission requests: the public request, the requester's link, the staff queue.

A requester acts through the secret token from their status link
(`/permission-status/{token}`); a wrong token is a 404 and an expired one a 403,
with nothing changed. Staff (licensing) work the queue; a vendor reads only
requests created from their own organization's applications (404 otherwise).
Internal notes are returned to staff only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import marshmallow as ma
from flask import request as flask_request
from sqlalchemy import Select
from sqlalchemy.orm import selectinload
from werkzeug.wrappers import Response

from licensing import access, calendar, db
from licensing.accounts.auth import auth_rate_limit
from licensing.actors import current_actor
from licensing.api.accounts import Emailed, whom_emailed
from licensing.api.base import Blueprint, Created, ReadPage, never_answers, refuse_staff_filter
from licensing.api.fields import (
    STRINGS,
    ApiSchema,
    Day,
    Text,
    allowed_actions_field,
    callers_actions,
    documented,
    read_with_session,
    record_id,
    steps_of,
    vocabulary,
)
from licensing.audit import queries as audit_queries
from licensing.config import current_config
from licensing.db import utcnow
from licensing.errors import InvalidInput, NotFound
from licensing.permissions import queries, services
from licensing.permissions.models import (
    MEDIA,
    PURPOSES,
    ROLES,
    PermissionLetter,
    PermissionMessage,
    PermissionRequest,
)
from licensing.permissions.states import PERMISSION_REQUEST, STAFF_ACTIONS, STATES
from licensing.permissions.views import letter_response, request_letter
from licensing.pricing.vocabulary import ORGANIZATION_TYPES
from licensing.words import FIELD_REQUIRED

blp = Blueprint(
    "permissions_api",
    __name__,
    description="Educational permission requests: submit, follow by link, and the staff queue.",
)

# The route that takes each step of a permission request (`callers_actions`):
# the requester's through the status link (public routes, with its token), staff's
# through `POST .../actions`; `expire` is the service's.
PERMISSION_STEP_ROUTES = {
    "confirm": "permissions_api.confirm",
    "answer": "permissions_api.answer",
    "withdraw": "permissions_api.withdraw",
    "request_reconsideration": "permissions_api.reconsideration",
    **dict.fromkeys(("start_review", "ask_for_info", "approve", "deny"), "permissions_api.act"),
}

Length = ma.validate.Length
LIMITS = PermissionRequest.LIMITS


def permission_request_steps(request: PermissionRequest) -> list[str]:
    """The caller's steps of `request` now: its `allowed_actions`, and a 409's.
    Round 57: the requester's steps (public routes, taken with the status link's
    token) only to whoever reads the request through that link; `confirm` takes the
    confirmation link's token instead, which no reader of the record holds as such;
    reconsideration only while its window is open."""
    now = utcnow()
    return callers_actions(
        PERMISSION_REQUEST.allowed(request.state),
        PERMISSION_STEP_ROUTES,
        refused=lambda step: (
            step == "confirm"
            or (
                step == "request_reconsideration"
                and not services.reconsideration_open(request, now)
            )
        ),
        holds_link=bool(flask_request.view_args and "token" in flask_request.view_args),
    )


# Named by its id (staff), or by its status link's token (the requester).
steps_of(
    "permission request",
    PERMISSION_STEP_ROUTES,
    permission_request_steps,
    request_id=read_with_session(queries.get_request),
    token=services.request_for_link,
)


def _filled(text: str) -> None:
    """Only spaces read as nothing: the pages' sentence for a missing field (an
    empty text has `Text`'s, the same)."""
    if text and not text.strip():
        raise ma.ValidationError(FIELD_REQUIRED)


def _text(name: str, **kwargs: Any) -> ma.fields.String:
    """Required text of field `name`, within its limit on the model."""
    return ma.fields.String(
        required=True, validate=[Text(LIMITS[name], filled=True), _filled], **kwargs
    )


# --- schemas -----------------------------------------------------------------------


class PermissionRequestInputSchema(ApiSchema):
    requester_name = _text("requester_name", metadata={"example": "Dr. Lena Ortiz"})
    requester_email = ma.fields.Email(required=True, validate=Text(LIMITS["requester_email"]))
    institution = _text("institution", metadata={"example": "Cedar Ridge Community College"})
    role = vocabulary(ROLES, required=True)
    organization_type = vocabulary(ORGANIZATION_TYPES, required=True)
    purpose = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(PURPOSES, error="Must be one of: {choices}."),
        metadata={
            "enum": list(PURPOSES),
            "description": "`commercial` is refused: a commercial use needs a license.",
        },
    )
    purpose_detail = _text("purpose_detail")
    content_requested = _text(
        "content_requested", metadata={"description": "In words; never codes or descriptors."}
    )
    medium = vocabulary(MEDIA, required=True)
    audience_size = ma.fields.Integer(
        required=True, validate=ma.validate.Range(min=1, max=LIMITS["audience_size"])
    )
    duration = _text("duration", metadata={"example": "Spring 2027 semester"})
    use_from = Day(
        load_default=None,
        allow_none=True,
        metadata={
            "description": "The first day of the use (optional; with `use_until`, both or "
            "neither): not before today. A grant then defaults to this term instead of one "
            "year from the decision (round 42)."
        },
    )
    use_until = Day(
        load_default=None,
        allow_none=True,
        metadata={
            "description": "The last day of the use (optional; with `use_from`): on or after "
            "it, and no longer than the office's longest grant "
            "(`PERMISSION_LONGEST_GRANT_YEARS`, 5 years by default) (round 42)."
        },
    )
    noncommercial = ma.fields.Boolean(
        required=True,
        metadata={"description": "The requester attests that the use is non-commercial."},
    )


class PermissionSubmittedSchema(ApiSchema):
    reference = ma.fields.String()
    state = ma.fields.String()
    next_step = ma.fields.String()


class PermissionMessageSchema(ApiSchema):
    author = ma.fields.String(metadata={"enum": ["requester", "staff", "system"]})
    author_name = ma.fields.String()
    internal = ma.fields.Boolean()
    body = ma.fields.String()
    created_at = ma.fields.DateTime()


class PermissionLetterSchema(ApiSchema):
    id = ma.fields.Integer()
    kind = ma.fields.String(metadata={"enum": ["grant", "denial"]})
    number = ma.fields.String()
    issued_at = ma.fields.DateTime()
    sha256 = ma.fields.String()


_AGE = (
    "The office's US business days since submission (or the request for a "
    "reconsideration), not counting those it waited on the requester's answers (round 37)"
)
_DUE = (
    "When the decision is due; moved later by the business days each answered question "
    "waited; null while a question waits for its answer (round 37)"
)
_WAITING = (
    "A question waits for the requester's answer: the clock stands still, and the "
    "decision is due `days_left` business days after the answer (round 37)"
)
_DAYS_LEFT = (
    "The office's business days left: the target less the age (after the answer, while waiting)"
)


class PermissionServiceLevelSchema(ApiSchema):
    age_days = ma.fields.Integer(metadata={"description": _AGE})
    target_days = ma.fields.Integer()
    due_at = ma.fields.DateTime(allow_none=True)
    overdue = ma.fields.Boolean()
    waiting_on_requester = ma.fields.Boolean()
    days_left = ma.fields.Integer()


# The service level as `PermissionRequestSchema._level` writes it.
SERVICE_LEVEL = {
    "type": "object",
    "properties": {
        "age_days": {"type": "integer", "description": _AGE},
        "target_days": {"type": "integer"},
        "due_at": {"type": "string", "format": "date-time", "nullable": True, "description": _DUE},
        "overdue": {"type": "boolean"},
        "waiting_on_requester": {"type": "boolean", "description": _WAITING},
        "days_left": {"type": "integer", "description": _DAYS_LEFT},
    },
}


class PermissionGrantEndingSchema(ApiSchema):
    ends_on = Day()
    days_left = ma.fields.Integer()
    reminder = ma.fields.String()
    reminder_sent_at = ma.fields.DateTime(allow_none=True)
    reminder_on = Day(allow_none=True)


# A grant's end as the console's *Grants ending within 60 days* says it per row
# (`services.grant_ending`, round 44): given only when listing with `ending`.
GRANT_ENDING = {
    "type": "object",
    "nullable": True,
    "description": "Listed with `ending=true`, each grant's end and its requester's "
    "ending email, as the console's *Grants ending within 60 days* says them "
    "(round 44); null elsewhere (one request's `GET`, the other lists)",
    "properties": {
        "ends_on": {"type": "string", "format": "date", "description": "The last day"},
        "days_left": {"type": "integer", "description": "Days from the office's today"},
        "reminder": {
            "type": "string",
            "enum": ["sent", "to_send", "not_sent"],
            "description": "`sent`: the requester was emailed that it ends "
            "(`reminder_sent_at`); `to_send`: `licensing permissions expire` emails them on "
            "`reminder_on`; `not_sent`: they are not emailed (granted within its last 30 "
            "days)",
        },
        "reminder_sent_at": {"type": "string", "format": "date-time", "nullable": True},
        "reminder_on": {"type": "string", "format": "date", "nullable": True},
    },
}


class ListedGrant:
    """A request on a page listed with `ending`, with its grant's end read for the
    page at once (`_with_grant_endings`); `PermissionRequestSchema` reads every other
    field from the request itself."""

    def __init__(self, request: PermissionRequest, ending: services.GrantEnding | None) -> None:
        self.request = request
        self.grant_ending = ending

    def __getattr__(self, name: str) -> Any:
        return getattr(self.request, name)


def _ending_body(ending: services.GrantEnding) -> dict[str, Any]:
    reminder = (
        "sent"
        if ending.reminded_at is not None
        else "to_send"
        if ending.reminder_on is not None
        else "not_sent"
    )
    body: dict[str, Any] = PermissionGrantEndingSchema().dump(
        {
            "ends_on": ending.ends_on,
            "days_left": ending.days_left,
            "reminder": reminder,
            "reminder_sent_at": ending.reminded_at,
            "reminder_on": ending.reminder_on,
        }
    )
    return body


class PermissionStatusSchema(ApiSchema):
    """What the requester sees: never internal notes, assignment or SLA."""

    reference = ma.fields.String()
    state = ma.fields.String(metadata={"enum": list(STATES)})
    # A request made from an application names its requester as their account does now.
    requester_name = ma.fields.String(attribute="requester_shown_name")
    institution = ma.fields.String()
    purpose = ma.fields.String()
    content_requested = ma.fields.String()
    medium = ma.fields.String()
    audience_size = ma.fields.Integer(allow_none=True)
    duration = ma.fields.String()
    use_from = Day(
        allow_none=True,
        metadata={"description": "The first day of the use asked for; null if none given"},
    )
    use_until = Day(
        allow_none=True,
        metadata={"description": "The last day of the use asked for; null if none given"},
    )
    submitted_at = ma.fields.DateTime(allow_none=True)
    answer_due_at = ma.fields.DateTime(allow_none=True)
    decided_at = ma.fields.DateTime(allow_none=True)
    permitted_use = ma.fields.String(allow_none=True)
    conditions = documented("_conditions", STRINGS)
    valid_from = Day(allow_none=True)
    valid_until = Day(allow_none=True)
    denial_reason = ma.fields.String(allow_none=True)
    reconsideration_denial_reason = ma.fields.String(
        allow_none=True,
        metadata={
            "description": "The reason for the denial after reconsideration; "
            "`denial_reason` stays the first denial's."
        },
    )
    reconsideration_due_at = ma.fields.DateTime(allow_none=True)
    messages = documented(
        "_messages",
        {"type": "array", "items": {"$ref": "#/components/schemas/PermissionMessage"}},
    )
    letters = ma.fields.List(ma.fields.Nested(PermissionLetterSchema))
    allowed_actions = allowed_actions_field()

    def _conditions(self, request: PermissionRequest) -> list[str]:
        return (request.conditions or "").splitlines()

    def _messages(self, request: PermissionRequest) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = PermissionMessageSchema(many=True).dump(
            request.public_messages
        )
        return messages

    def _allowed(self, request: PermissionRequest) -> list[str]:
        return permission_request_steps(request)


class PermissionRequestSchema(PermissionStatusSchema):
    """Staff and the owning vendor: the whole request (notes for staff only)."""

    id = ma.fields.Integer()
    source = ma.fields.String(metadata={"enum": ["public", "application"]})
    organization_id = ma.fields.Integer(allow_none=True)
    application_reference = ma.fields.String(allow_none=True)
    requester_email = ma.fields.String(attribute="requester_address")
    role = ma.fields.String()
    organization_type = ma.fields.String()
    purpose_detail = ma.fields.String()
    assignee_id = documented(
        "_assignee_id",
        {
            "type": "integer",
            "nullable": True,
            "description": "The licensing staff member it is assigned to, for staff "
            "callers; null for a vendor (round 40: the office's own detail)",
        },
    )
    service_level = documented("_level", SERVICE_LEVEL)
    ending = documented("_ending", GRANT_ENDING)

    def _ending(self, request: PermissionRequest | ListedGrant) -> dict[str, Any] | None:
        if not isinstance(request, ListedGrant) or request.grant_ending is None:
            return None
        return _ending_body(request.grant_ending)

    def _assignee_id(self, request: PermissionRequest) -> int | None:
        return request.assignee_id if access.caller_is_staff() else None

    def _messages(self, request: PermissionRequest) -> list[dict[str, Any]]:
        principal = access.current_principal()
        shown: list[PermissionMessage] = (
            request.messages if principal and principal.is_staff else request.public_messages
        )
        messages: list[dict[str, Any]] = PermissionMessageSchema(many=True).dump(shown)
        return messages

    def _level(self, request: PermissionRequest) -> dict[str, Any]:
        level: dict[str, Any] = PermissionServiceLevelSchema().dump(
            queries.service_level(
                request, utcnow(), target_days=current_config().permission_sla_days
            )
        )
        return level


# A staff step answers whom it emailed, as the console's message says it (round 37;
# `services.requester_told` addresses the email and words both).
PermissionRequestToldSchema = PermissionRequestSchema.from_dict(
    whom_emailed(
        "Every address the step's email went to, one each: the requester (`audience` "
        "`requester`), or, for a request made from an application whose requester no "
        "longer does the organization's licensing work, its administrators and members "
        "(`member`; its billing contact, `billing_contact`, when it has none), as the "
        "email is addressed; empty for `start_review`, which emails nobody (round 37).",
        "Whom it emailed as a sentence's end, the console's words: \"emailed Lena "
        'Ortiz at lena@example.edu", or "emailed nobody: starting a review tells no one".',
    ),
    name="PermissionRequestToldSchema",
)

# `start_review` tells nobody; the other steps email as `tell_requester` addresses.
STARTED_SUMMARY = "emailed nobody: starting a review tells no one"


class PermissionQueueQuerySchema(ApiSchema):
    state = vocabulary(("open", *STATES))
    assignee = ma.fields.String(
        validate=Text(20),
        metadata={
            "description": "a user id, `me` or `none` (staff only: a vendor caller gets a "
            "422 naming `query.assignee`)"
        },
    )
    q = ma.fields.String(validate=Text(200))
    overdue = ma.fields.Boolean()
    ending = ma.fields.Boolean(
        metadata={
            "description": "grants whose permission ends within "
            f"{queries.ENDING_WITHIN_DAYS} days, soonest first (with the default `state`, "
            "the approved requests)"
        }
    )
    sort = vocabulary(
        tuple(queries.SORTS),
        load_default=queries.DEFAULT_SORT,
        metadata={
            "description": "`due` (the default): the decision due soonest first, or with "
            "`ending` the grant ending soonest first; `use_from`: the earliest first day "
            "of the use asked for first, the requests that gave no days last, each in "
            "the default's order (round 44). Every order ends in the id, so pages never "
            "repeat or skip a request that ties."
        },
    )


class PermissionActionSchema(ApiSchema):
    action = vocabulary(STAFF_ACTIONS, required=True)
    message = ma.fields.String(
        validate=Text(LIMITS["message"]),
        metadata={"description": "ask_for_info: the question for the requester"},
    )
    permitted_use = ma.fields.String(validate=Text(LIMITS["permitted_use"]))
    conditions = ma.fields.List(
        ma.fields.String(validate=Text(LIMITS["conditions"], filled=True)),
        validate=Length(max=20),
        metadata={"description": "approve: each condition is written into the grant letter"},
    )
    valid_from = Day()
    valid_until = Day()
    # Absent, null, empty or blank on `deny`: the service's one message (round 50: null
    # was "Field may not be null.").
    reason = ma.fields.String(
        allow_none=True, validate=Text(LIMITS["reason"]), metadata={"description": "deny: required"}
    )


class PermissionNoteSchema(ApiSchema):
    body = _text("message")


class PermissionAssignmentSchema(ApiSchema):
    request_ids = ma.fields.List(record_id(), required=True, validate=Length(min=1, max=500))
    assignee_id = record_id(required=True, allow_none=True)


class PermissionTokenSchema(ApiSchema):
    token = ma.fields.String(required=True, validate=Text(200, filled=True))


class PermissionRequesterMessageSchema(ApiSchema):
    body = _text("message")


class PermissionWithdrawalSchema(ApiSchema):
    reason = ma.fields.String(
        validate=Text(LIMITS["message"]),
        metadata={"description": "Optional: why, passed on to the licensing office"},
    )


class PermissionMetricsSchema(ApiSchema):
    open_by_state = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())
    open_total = ma.fields.Integer()
    overdue = ma.fields.Integer()
    decided_last_90_days = ma.fields.Integer()
    median_days_to_decision = ma.fields.Decimal(as_string=True, allow_none=True)
    granted_last_7_days = ma.fields.Integer(
        metadata={"description": "Requests granted in the last 7 days (and standing so)."}
    )
    denied_last_7_days = ma.fields.Integer(
        metadata={"description": "Requests denied in the last 7 days (and standing so)."}
    )
    yours_last_7_days = ma.fields.Integer(
        allow_none=True,
        metadata={
            "description": "Approvals and denials the caller took in the last 7 days; "
            "null for a program acting as no person."
        },
    )


# --- the public request and the requester's link ----------------------------------------------


@blp.route("/permission-requests", methods=["POST"])
@access.public
@never_answers(
    404,
    "the API takes no request to correct (round 58's `corrects` is the page's); a status "
    "link that no longer works corrects nothing rather than being refused",
)
@auth_rate_limit()
@blp.arguments(PermissionRequestInputSchema)
@blp.response(201, PermissionSubmittedSchema)
@blp.alt_response(
    422,
    description=(
        "Invalid fields; a `commercial` purpose is refused, and so is a use that the rate "
        "card in effect licenses rather than routes to permissions (on `organization_type`)"
    ),
)
def submit(data: dict[str, Any]) -> dict[str, Any]:
    """Request permission for a non-commercial educational use (no account needed).

    The request waits `unconfirmed` until the requester follows the link
    emailed to them (valid 48 hours); then it enters the staff queue and they
    are emailed their status link.
    """
    request = services.submit_request(
        services.PermissionRequestInput.from_fields(data),
        longest_years=current_config().permission_longest_grant_years,
    )
    return {
        "reference": request.reference,
        "state": request.state,
        "next_step": f"Follow the link emailed to {request.requester_email} within 48 hours.",
    }


# How the requester's links are refused (`LinkNotValid`, `LinkExpired`).
_NO_SUCH_LINK = "Not found: no request has this link (mistyped or made up)."
_EXPIRED_LINK = (
    "Forbidden: the link matched a request but no longer works (it expired; the "
    "detail says when and what to do)."
)


@blp.route("/permission-confirmations", methods=["POST"])
@access.public
@never_answers(409, "it confirms only an unconfirmed request, under the request's row lock")
@never_answers(404, "a token matching no request is the body's `token`: a 422 naming it")
@blp.arguments(PermissionTokenSchema)
@blp.response(200, PermissionStatusSchema)
@blp.alt_response(403, description=_EXPIRED_LINK)
def confirm(data: dict[str, Any]) -> PermissionRequest:
    """Confirm the requester's email with the token from the confirmation link."""
    try:
        return services.confirm_email(data["token"], sla_days=current_config().permission_sla_days)
    except NotFound as unknown:
        # What the body names, not the record the path asks for (docs/api.md, round 32).
        raise InvalidInput.for_field("token", unknown.detail) from None


@blp.route("/permission-status/<token>")
@access.public
@blp.alt_response(403, description=_EXPIRED_LINK)
@blp.alt_response(404, description=_NO_SUCH_LINK)
@blp.response(200, PermissionStatusSchema)
def status(token: str) -> PermissionRequest:
    """The request as its requester sees it (state, messages, letters)."""
    return services.request_for_link(token)


@blp.route("/permission-status/<token>/answers", methods=["POST"])
@access.public
@blp.alt_response(403, description=_EXPIRED_LINK)
@blp.arguments(PermissionRequesterMessageSchema)
@blp.response(
    200, PermissionStatusSchema, conflict="Not waiting for information; lists allowed_actions"
)
def answer(data: dict[str, Any], token: str) -> PermissionRequest:
    """Answer the office's request for information."""
    return services.answer(token, data["body"])


@blp.route("/permission-status/<token>/withdrawal", methods=["POST"])
@access.public
@blp.alt_response(403, description=_EXPIRED_LINK)
@blp.arguments(PermissionWithdrawalSchema, required=False)
@blp.response(200, PermissionStatusSchema, conflict="Already decided or closed")
def withdraw(data: dict[str, Any], token: str) -> PermissionRequest:
    """Withdraw the request before a decision."""
    return services.withdraw(token, reason=data.get("reason"))


@blp.route("/permission-status/<token>/reconsideration", methods=["POST"])
@access.public
@blp.alt_response(403, description=_EXPIRED_LINK)
@blp.arguments(PermissionRequesterMessageSchema)
@blp.response(
    200,
    PermissionStatusSchema,
    conflict="Not denied, already reconsidered, or the 14 days have passed",
)
def reconsideration(data: dict[str, Any], token: str) -> PermissionRequest:
    """Ask, once and within 14 days of a denial, for it to be reconsidered."""
    return services.request_reconsideration(
        token, data["body"], sla_days=current_config().permission_sla_days
    )


@blp.route("/permission-status/<token>/letters/<int:letter_id>")
@access.public
@blp.alt_response(403, description=_EXPIRED_LINK)
@blp.response(200, content_type="application/pdf", description="The letter's issued bytes")
def status_letter(token: str, letter_id: int) -> Response:
    """A decision letter's PDF, through the requester's emailed status link."""
    request = services.request_for_link(token)
    return letter_response(queries.get_letter(db.session(), request, letter_id))


# --- staff and the owning vendor -----------------------------------------------------------------


@blp.route("/permission-requests")
@access.allow(vendor=access.LICENSING_WORK, staff=("licensing",))
@blp.arguments(PermissionQueueQuerySchema, location="query")
@blp.paginate(PermissionRequestSchema)
def list_requests(query: dict[str, Any]) -> Select[Any] | ReadPage:
    """The queue (staff; open requests unless `state` says otherwise), or a
    vendor's own organization's requests. With `ending`, each grant says when it
    ends and whether its requester is emailed that it does (`ending`)."""
    principal = access.require_principal()
    refuse_staff_filter(principal, query, "assignee", "permission requests")
    filters = queries.QueueFilter(
        state=query.get("state", "open"),
        assignee=query.get("assignee"),
        search=query.get("q"),
        overdue=bool(query.get("overdue")),
        ending=bool(query.get("ending")),
        sort=query["sort"],
    )
    statement = queries.queue_query(filters, principal, utcnow()).options(
        # What PermissionRequestSchema shows of every row, with the page (no letter PDFs).
        selectinload(PermissionRequest.messages),
        selectinload(PermissionRequest.letters).defer(PermissionLetter.pdf),
        # The requester is named as their account is now (`requester_shown_name`).
        selectinload(PermissionRequest.requester_user),
    )
    return ReadPage(statement, _with_grant_endings) if filters.ending else statement


def _with_grant_endings(records: Sequence[PermissionRequest]) -> list[ListedGrant]:
    """The page's grants with their ends (`services.grant_ending`), their ending emails
    read in one query for the page, as the console's list reads them (round 44)."""
    reminded = audit_queries.last_of(
        db.session(), "permission_request", services.ENDING_REMINDED, (r.id for r in records)
    )
    today = calendar.office_date(utcnow())
    return [
        ListedGrant(record, services.grant_ending(record, reminded.get(str(record.id)), today))
        for record in records
    ]


@blp.route("/permission-requests/metrics")
@access.staff("licensing")
@blp.response(200, PermissionMetricsSchema)
def metrics() -> services.QueueMetrics:
    """Open requests by state, overdue ones, the median days to a decision over
    the last 90 days, and the last 7 days' decisions (the caller's too)."""
    return services.metrics(db.session(), user_id=current_actor().user_id)


@blp.route("/permission-requests/<int:request_id>")
@access.allow(vendor=access.LICENSING_WORK, staff=("licensing",))
@blp.response(200, PermissionRequestSchema)
def get_request(request_id: int) -> PermissionRequest:
    """One educational permission request: its use, state, messages and letters."""
    return queries.get_request(db.session(), request_id)


@blp.route("/permission-requests/<int:request_id>/letters/<int:letter_id>")
@access.allow(vendor=access.LICENSING_WORK, staff=("licensing",))
@blp.response(200, content_type="application/pdf", description="The letter's issued bytes")
def get_letter(request_id: int, letter_id: int) -> Response:
    """A decision letter's PDF, as issued."""
    return request_letter(request_id, letter_id)


@blp.route("/permission-requests/<int:request_id>/actions", methods=["POST"])
@access.staff("licensing")
@blp.arguments(PermissionActionSchema)
@blp.response(
    200,
    PermissionRequestToldSchema,
    conflict="Not allowed in the current state; lists allowed_actions",
)
def act(data: dict[str, Any], request_id: int) -> Emailed:
    """Take a staff step: `start_review`, `ask_for_info` (with `message`),
    `approve` (with `conditions`, optional `permitted_use` and validity dates)
    or `deny` (with `reason`). Decisions issue the letter. A question and a
    decision email the requester: `recipients` says whom (round 37)."""
    session = db.session()
    queries.get_request(session, request_id)
    action, actor = data["action"], current_actor()
    if action == "start_review":
        return Emailed(services.start_review(request_id, actor), [], STARTED_SUMMARY)
    if action == "ask_for_info":
        request = services.ask_for_info(request_id, data.get("message", ""), actor)
    elif action == "approve":
        request = services.approve(
            request_id,
            actor,
            conditions=data.get("conditions") or [],
            permitted_use=data.get("permitted_use"),
            valid_from=data.get("valid_from"),
            valid_until=data.get("valid_until"),
            longest_years=current_config().permission_longest_grant_years,
        )
    else:
        request = services.deny(request_id, data.get("reason", ""), actor)
    told = services.requester_told(session, request).told
    return Emailed(request, told.as_dicts(), told.emailed_summary)


@blp.route(
    "/permission-requests/<int:request_id>/notes",
    methods=["POST"],
    operation_id="add_permission_request_note",
)
@access.staff("licensing")
@blp.arguments(PermissionNoteSchema)
@blp.response(201, PermissionMessageSchema, location=Created("permissions_api.get_request"))
def add_note(data: dict[str, Any], request_id: int) -> PermissionMessage:
    """An internal note: staff only, never shown to the requester."""
    return services.add_note(request_id, data["body"], current_actor())


@blp.route("/permission-requests/assignments", methods=["POST"])
@access.staff("licensing")
@blp.arguments(PermissionAssignmentSchema)
@blp.response(200, PermissionRequestSchema(many=True))
def assign(data: dict[str, Any]) -> list[PermissionRequest]:
    """Assign requests (bulk) to a licensing staff member; `assignee_id: null` unassigns.

    All or none: a request that does not exist or is decided refuses the whole
    request with a 422 whose `errors.request_ids` names each one ("There is no
    permission request 987654."), as the applications' bulk assignment does."""
    return services.assign(data["request_ids"], data["assignee_id"], current_actor())
