"""/api/v1/applications: license applications, their review and internal notes.

Vendors create drafts, change them, submit (with the attestation), withdraw and
ask for reconsideration; licensing staff list the queue, assign, review and
decide. Internal notes have their own staff-only endpoints: no application
response ever carries them.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import marshmallow as ma
from sqlalchemy import Select
from sqlalchemy.orm import selectinload

from licensing import access, calendar, db
from licensing.actors import current_actor
from licensing.agreements import issuing, queries, reported_usage, services, step_checks
from licensing.agreements.commands import ApplicationDraft, languages_text
from licensing.agreements.models import (
    AMOUNT_REASON_REQUIRED,
    DELIVERIES,
    DESCRIPTION_MAX,
    LANGUAGE_MAX,
    LANGUAGES_MAX,
    MAX_USES,
    NOTE_MAX,
    PRODUCT_NAME_MAX,
    RATE_CARD_MAX,
    REASON_MAX,
    REASON_REQUIRED,
    TERRITORIES_MAX,
    Agreement,
    Application,
    ApplicationNote,
)
from licensing.agreements.renewal_change import Wording, renewal_change
from licensing.agreements.settings import IssuingPolicy
from licensing.agreements.states import APPLICATION, EDITABLE
from licensing.api.accounts import Emailed, whom_emailed
from licensing.api.base import Blueprint, Created, never_answers, refuse_staff_filter
from licensing.api.fields import (
    ApiSchema,
    Day,
    DecimalText,
    MoneyString,
    Quantities,
    Required,
    Text,
    allowed_actions_field,
    callers_actions,
    documented,
    read_with_session,
    record_id,
    revenue_field,
    steps_of,
    vocabulary,
)
from licensing.api.permissions import STARTED_SUMMARY  # in the request's words
from licensing.config import current_config
from licensing.db import utcnow
from licensing.errors import InvalidInput
from licensing.money import filed_amount, format_amount
from licensing.pricing import PRODUCT_TYPES, USER_TYPES, USES, Quote
from licensing.pricing.describe import describe_condition, exact_amount
from licensing.words import at_most_characters

blp = Blueprint(
    "applications_api",
    __name__,
    description="License applications: drafts, submission with a quote snapshot, staff review.",
)

# The route that takes each step of an application (`callers_actions`);
# `auto_approve` and `lapse` are the service's.
APPLICATION_STEP_ROUTES = {
    "submit": "applications_api.submit_application",
    "resubmit": "applications_api.submit_application",
    "withdraw": "applications_api.withdraw_application",
    "request_reconsideration": "applications_api.request_reconsideration",
    "start_review": "applications_api.start_review_application",
    "return": "applications_api.return_application",
    "escalate": "applications_api.escalate_application",
    "approve": "applications_api.approve_application",
    "reject": "applications_api.reject_application",
    "grant_reconsideration": "applications_api.grant_reconsideration_application",
    "deny_reconsideration": "applications_api.deny_reconsideration_application",
}

Length = ma.validate.Length


def application_steps(application: Application) -> list[str]:
    """The caller's steps of `application` now: its `allowed_actions`, and a 409's."""
    principal = access.current_principal()
    user_id = principal.user_id if principal is not None else None
    now = utcnow()
    return callers_actions(
        APPLICATION.allowed(application.state),
        APPLICATION_STEP_ROUTES,
        refused=lambda step: step_checks.application_step_refused(
            application, step, user_id=user_id, now=now
        ),
    )


steps_of(
    "application",
    APPLICATION_STEP_ROUTES,
    application_steps,
    application_id=read_with_session(queries.get_application),
)


def _at_most(limit: int) -> ma.validate.Length:
    """A text field's bound, refused in the services' and pages' sentence ("At most
    2,000 characters."), not marshmallow's "Longer than maximum length 2000."."""
    return Text(limit)


def _languages_fit(languages: list[str]) -> None:
    """The languages as the use stores them fit its column."""
    if len(languages_text(languages)) > LANGUAGES_MAX:
        raise ma.ValidationError(at_most_characters(LANGUAGES_MAX, in_all=True))


class ApplicationUseInputSchema(ApiSchema):
    product_name = ma.fields.String(
        load_default="", validate=_at_most(PRODUCT_NAME_MAX), metadata={"example": "Scrubber Pro"}
    )
    description = ma.fields.String(load_default="", validate=_at_most(DESCRIPTION_MAX))
    use = vocabulary(USES, required=True)
    product_type = vocabulary(PRODUCT_TYPES, required=True)
    user_type = vocabulary(USER_TYPES, required=True)
    delivery = vocabulary(DELIVERIES, load_default="installed")
    territories = ma.fields.String(
        load_default="", validate=_at_most(TERRITORIES_MAX), metadata={"example": "United States"}
    )
    languages = ma.fields.List(
        ma.fields.String(validate=Text(LANGUAGE_MAX, filled=True)),
        load_default=list,
        validate=_languages_fit,
        metadata={"example": ["en"]},
    )
    quantity = Quantities(load_default=dict)
    revenue = revenue_field()


class ApplicationInputSchema(ApiSchema):
    term_start = Day(load_default=None, allow_none=True, metadata={"example": "2027-01-01"})
    term_end = Day(load_default=None, allow_none=True, metadata={"example": "2027-12-31"})
    rate_card = ma.fields.String(load_default=None, allow_none=True, validate=Text(RATE_CARD_MAX))
    uses = ma.fields.List(
        ma.fields.Nested(ApplicationUseInputSchema),
        required=True,
        validate=Length(min=1, max=MAX_USES, error="Give 1 to {max} uses."),
    )


# A draft is priced in no currency yet (a renewal is: its agreement's, round 64): its
# revenue reads with USD's digits, as the vendor's and staff's lists show an amount
# without one.
DEFAULT_CURRENCY = "USD"


class ApplicationUseSchema(ApiSchema):
    position = ma.fields.Integer()
    product_name = ma.fields.String()
    description = ma.fields.String()
    use = ma.fields.String()
    product_type = ma.fields.String()
    user_type = ma.fields.String()
    delivery = ma.fields.String()
    territories = ma.fields.String()
    languages = ma.fields.List(ma.fields.String(), attribute="language_list")
    quantity = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())
    revenue = ma.fields.Method(
        "_revenue", metadata={"type": "string", "nullable": True, "example": "120000.00"}
    )

    def _revenue(self, use: Any) -> str | None:
        """As filed, with the currency's minor-unit digits or more where filed finer:
        the same text whether the use was just saved ("0") or read back ("0.0000")."""
        if use.revenue is None:
            return None
        return filed_amount(use.revenue, use.application.currency_known or DEFAULT_CURRENCY)


class QuoteVersionSchema(ApiSchema):
    version = ma.fields.Integer()
    kind = ma.fields.String(metadata={"enum": ["submitted", "modified"]})
    rate_card = ma.fields.String()
    currency = ma.fields.String()
    total = MoneyString()
    term_start = Day()
    term_end = Day()
    created_at = ma.fields.DateTime()
    modifications = ma.fields.List(ma.fields.Dict())
    quote = documented(
        "_quote",
        {"allOf": [{"$ref": "#/components/schemas/Quote"}]},
        metadata={"description": "The stored snapshot, lines with their explanation"},
    )

    def _quote(self, version: Any) -> dict[str, Any]:
        snapshot = version.snapshot
        return {
            "rate_card": snapshot["rate_card"],
            "currency": snapshot["currency"],
            "proration": snapshot["proration"],
            "total": snapshot["total"],
            "requires_review": snapshot["requires_review"],
            "lines": [
                {
                    key: line[key]
                    for key in ("use_index", "rule", "route", "review", "amount", "explanation")
                }
                for line in snapshot["lines"]
            ],
        }


_NULLABLE_TEXT = {"type": "string", "nullable": True}
_NULLABLE_NUMBER = {"type": "integer", "nullable": True}
RENEWAL_SOURCES = {
    "type": "array",
    "nullable": True,
    "description": "A renewal's quantities and where each came from, as kept when the "
    "renewal was drawn: `report` (the latest accepted royalty report, named by "
    "`report` and `report_id`, for `period`), `estimate` (the renewed application's, "
    "`estimate_from`) or `changed` (by the vendor since). A renewal drawn before "
    "sources were kept says `estimate` with no `estimate`. Null for an application "
    "that renews nothing.",
    "items": {
        "type": "object",
        "properties": {
            "use": {"type": "integer", "description": "the renewal's use, from 1"},
            "unit": {"type": "string", "example": "end_users"},
            "quantity": {"type": "integer", "description": "the renewal's quantity now"},
            "source": {"type": "string", "enum": ["report", "estimate", "changed"]},
            "report": {**_NULLABLE_TEXT, "example": "RR-000002"},
            "report_id": _NULLABLE_NUMBER,
            "period": {
                "type": "object",
                "nullable": True,
                "properties": {
                    "start": {"type": "string", "format": "date"},
                    "end": {"type": "string", "format": "date"},
                },
            },
            "estimate": _NULLABLE_NUMBER,
            "estimate_from": {**_NULLABLE_TEXT, "example": "APP-000001"},
        },
    },
}


def _renewal_source(
    use: reported_usage.UseFigures, figure: reported_usage.Figure
) -> dict[str, Any]:
    usage = figure.usage
    return {
        "use": use.position,
        "unit": figure.unit,
        "quantity": figure.value,
        "source": figure.source,
        "report": usage.report if usage else None,
        "report_id": usage.report_id if usage else None,
        "period": {"start": usage.period_start.isoformat(), "end": usage.period_end.isoformat()}
        if usage
        else None,
        "estimate": figure.estimate,
        "estimate_from": use.estimate_from,
    }


_CLOCK_FROM = (
    "Where the review clock runs from: the submission (or the vendor's request for a "
    "reconsideration) moved later by `days_waited_on_vendor`; null before submission"
)
_COUNTS_FROM = (
    "What the clock counts from: `submission`, or `reconsideration_request` once the "
    "vendor asked for one (its request restarts the clock); null before submission"
)
_WAITED = (
    "US business days the clock was moved later for the waits on the vendor (each "
    "return's office day to its resubmission's, round 37); 0 when never returned"
)
_LEVEL_DUE = (
    "The end of the office day `target_days` business days after `clock_from`'s; null "
    "before submission"
)

# The review clock as the console's queue and review page read it
# (`queries.review_levels`, on `queries.review_clock_from`, `_REVIEW_CLOCK`'s rule).
APPLICATION_SERVICE_LEVEL = {
    "type": "object",
    "nullable": True,
    "description": "The application's age against the office's review target, as the "
    "console shows it; for staff callers only (null for a vendor, whose pages show no "
    "age), round 39.",
    "properties": {
        "target_days": {"type": "integer", "description": "APPLICATION_REVIEW_SLA_DAYS"},
        "clock_from": {
            "type": "string",
            "format": "date-time",
            "nullable": True,
            "description": _CLOCK_FROM,
        },
        "counts_from": {
            "type": "string",
            "enum": ["submission", "reconsideration_request"],
            "nullable": True,
            "description": _COUNTS_FROM,
        },
        "days_waited_on_vendor": {"type": "integer", "description": _WAITED},
        "age_days": {"type": "integer", "description": "US business days since `clock_from`"},
        "due_at": {
            "type": "string",
            "format": "date-time",
            "nullable": True,
            "description": _LEVEL_DUE,
        },
        "running": {
            "type": "boolean",
            "description": "Waiting on the office (false while returned, or once decided)",
        },
        "overdue": {"type": "boolean", "description": "Running and past `due_at`"},
    },
}


_AMOUNT = {"type": "string", "nullable": True, "example": "2750.00"}
RENEWAL_CHANGE = {
    "type": "object",
    "nullable": True,
    "description": "A renewal's price against the agreement it renews, and why each use's "
    "amount moved (round 42; the renewal's page says the same in its words): the draft's "
    "estimate while it is a draft or returned, else the latest quote. Null for an "
    "application that renews nothing, one not priced yet, and in lists. Amounts are "
    "decimal strings; `after` and `change` are null while licensing staff price a use by "
    "hand, `before` and `change` for a use the agreement did not license. `reasons` are "
    "the rule's differences between the two cards in the words of "
    "`POST /api/v1/rate-cards/checks`' `differences`, another rule pricing the use, and "
    "changed quantities or revenue.",
    "properties": {
        "agreement": {"type": "string", "example": "CPT-2027-000001"},
        "rate_card_before": {
            "type": "string",
            "nullable": True,
            "description": "The rate card that priced the agreement; null where licensing "
            "staff priced it by hand, on no rate card (round 67, as the agreement's own "
            "`rate_card`)",
        },
        "rate_card_after": {
            "type": "string",
            "nullable": True,
            "description": "The rate card that prices the renewal; null where licensing "
            "staff price it by hand, no rate card in its currency being in effect on its "
            "first day (round 67)",
        },
        "currency": {"type": "string"},
        "currency_before": {
            "type": "string",
            "description": "The agreement's currency, that of `total_before` and each use's "
            "`before`: another than `currency` where the renewal names a card in another "
            "currency, and then no `change` is worked out across the two (null; round 65)",
        },
        "total_before": _AMOUNT,
        "total_after": _AMOUNT,
        "change": _AMOUNT,
        "uses": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "use_index": {"type": "integer"},
                    "product_name": {"type": "string"},
                    "before": _AMOUNT,
                    "after": _AMOUNT,
                    "change": _AMOUNT,
                    "reasons": {"type": "array", "items": {"type": "string"}},
                },
            },
        },
        "dropped": {
            "type": "array",
            "items": {"type": "string"},
            "description": "The agreement's uses (product names) the renewal does not renew",
        },
    },
}

# The API's words for a renewal's reasons: as the card check's `differences` say them.
_API_WORDS = Wording(
    amount=lambda amount, currency: f"{exact_amount(amount, currency)} {currency}",
    count=str,
    condition=describe_condition,
    review=str,
)


def _renewal_change(application: Application) -> dict[str, Any] | None:
    if application.renewal_of_id is None:
        return None
    priced: Quote | None = None
    if application.state in EDITABLE:
        try:
            priced = services.preview(application)
        except InvalidInput:
            priced = None
    elif application.quotes:
        priced = Quote.from_snapshot(application.quotes[-1].snapshot)
    change = renewal_change(db.session(), application, priced, _API_WORDS)
    if change is None:
        return None
    currency = change.currency
    # Round 65: the agreement's amounts in its own currency (a card named since in another).
    earlier = change.currency_before or currency

    def amount(value: Decimal | None, in_currency: str = currency) -> str | None:
        return None if value is None else format_amount(value, in_currency)

    return {
        "agreement": change.agreement,
        "rate_card_before": change.card_before,
        "rate_card_after": change.card_after,
        "currency": currency,
        "currency_before": earlier,
        "total_before": amount(change.total_before, earlier),
        "total_after": amount(change.total_after),
        "change": amount(change.change),
        "uses": [
            {
                "use_index": use.number - 1,
                "product_name": use.name,
                "before": amount(use.before, earlier),
                "after": amount(use.after),
                "change": amount(use.change),
                "reasons": list(use.reasons),
            }
            for use in change.uses
        ],
        "dropped": list(change.dropped),
    }


class ApplicationServiceLevelSchema(ApiSchema):
    target_days = ma.fields.Integer()
    clock_from = ma.fields.DateTime(allow_none=True)
    counts_from = ma.fields.String(allow_none=True)
    days_waited_on_vendor = ma.fields.Integer()
    age_days = ma.fields.Integer()
    due_at = ma.fields.DateTime(allow_none=True)
    running = ma.fields.Boolean()
    overdue = ma.fields.Boolean()


class ApplicationSchema(ApiSchema):
    """What vendors and staff see alike (internal notes are never here)."""

    id = ma.fields.Integer()
    reference = ma.fields.String(metadata={"example": "APP-000042"})
    organization_id = ma.fields.Integer()
    state = ma.fields.String(metadata={"enum": list(APPLICATION.states)})
    allowed_actions = allowed_actions_field()
    term_start = Day(allow_none=True)
    term_end = Day(allow_none=True)
    rate_card = ma.fields.String(allow_none=True)
    total = MoneyString(
        allow_none=True,
        metadata={
            "nullable": True,
            "description": "The latest quote's total; null before submission and while a "
            "licensed use waits for licensing staff to price it.",
        },
    )
    currency = ma.fields.String(
        attribute="currency_known",
        allow_none=True,
        metadata={
            "nullable": True,
            "description": "The currency it is priced in: the latest quote's; a renewal's "
            "from when it is drawn, its agreement's, or the card's it names (before round 64 "
            "a renewal's was null until submitted); null for any other draft.",
        },
    )
    uses = ma.fields.List(ma.fields.Nested(ApplicationUseSchema))
    quotes = ma.fields.List(ma.fields.Nested(QuoteVersionSchema))
    assignee = documented(
        "_assignee",
        {
            "type": "string",
            "nullable": True,
            "description": "The licensing reviewer's email address, for staff callers; "
            "null for a vendor (round 40: the vendor's pages name nobody, and staff "
            "addresses are the office's own)",
        },
    )
    submitted_at = ma.fields.DateTime(allow_none=True)
    attested_at = ma.fields.DateTime(allow_none=True)
    return_reason = ma.fields.String(allow_none=True)
    resubmit_by = ma.fields.DateTime(allow_none=True)
    vendor_response = ma.fields.String(allow_none=True)
    decision_reason = ma.fields.String(allow_none=True)
    decided_at = ma.fields.DateTime(allow_none=True)
    reconsider_by = ma.fields.DateTime(allow_none=True)
    reconsideration_reason = ma.fields.String(allow_none=True)
    reconsideration_denial_reason = ma.fields.String(
        allow_none=True,
        metadata={
            "description": "Licensing staff's reason for denying the reconsideration; "
            "`decision_reason` stays the rejection's."
        },
    )
    renewal_of = ma.fields.Method("_renewal_of", metadata={"type": "string", "nullable": True})
    renewal_sources = ma.fields.Method("_renewal_sources", metadata=RENEWAL_SOURCES)
    renewal_change = documented("_renewal_change", RENEWAL_CHANGE)
    agreement_id = ma.fields.Method("_agreement", metadata={"type": "integer", "nullable": True})
    service_level = documented("_level", APPLICATION_SERVICE_LEVEL)
    past_term = documented(
        "_past_term",
        {
            "type": "string",
            "nullable": True,
            "description": "While undecided, when the term ended before the office's "
            "today: why the application goes to licensing staff (a license of past use "
            "only is never approved automatically) and that its agreement is expired once "
            "accepted; else null (round 49).",
        },
    )
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()
    assignee_name = documented(
        "_assignee_name",
        {
            "type": "string",
            "nullable": True,
            "description": "The licensing reviewer's name beside `assignee`, null where it "
            "is (round 60)",
        },
    )

    def _allowed(self, application: Application) -> list[str]:
        return application_steps(application)

    def _assignee(self, application: Application) -> str | None:
        if application.assignee is None or not access.caller_is_staff():
            return None
        return application.assignee.email

    def _assignee_name(self, application: Application) -> str | None:
        if application.assignee is None or not access.caller_is_staff():
            return None
        return application.assignee.full_name

    def _level(self, application: Application) -> dict[str, Any] | None:
        if not access.caller_is_staff():
            return None
        level: dict[str, Any] = ApplicationServiceLevelSchema().dump(
            queries.review_level(
                application, utcnow(), target_days=current_config().application_review_sla_days
            )
        )
        return level

    def _past_term(self, application: Application) -> str | None:
        return issuing.past_term_told(
            application.term_end, application.state, calendar.office_date(utcnow())
        )

    def _renewal_of(self, application: Application) -> str | None:
        return application.renewal_of.number if application.renewal_of else None

    def _renewal_sources(self, application: Application) -> list[dict[str, Any]] | None:
        if application.renewal_of_id is None:
            return None
        return [
            _renewal_source(use, figure)
            for use in reported_usage.figures(application)
            for figure in use.figures
        ]

    def _renewal_change(self, application: Application) -> dict[str, Any] | None:
        # Priced per record: a list leaves it out (null), as documented.
        return None if self.many else _renewal_change(application)

    def _agreement(self, application: Application) -> int | None:
        if self.many:
            # A list loads every row's agreement with the page (see list_applications).
            listed = application.agreement
            return listed.id if listed else None
        found = queries.agreement_for_application(db.session(), application.id)
        return found.id if found else None


# The office's decisions answer whom they emailed, as the console's messages say it
# (round 37; `services.vendor_told` addresses the email and words both); an
# escalation whom of the staff it told and starting a review that it told no one
# (round 38; `services.staff_told`).
ApplicationToldSchema = ApplicationSchema.from_dict(
    whom_emailed(
        "Every address the step's email went to, one each: for a decision, the "
        "organization's active administrators and members with a confirmed address "
        "(`audience` `member`), else its billing contact (`billing_contact`), as the "
        "email is addressed (round 37); for an escalation, the application's reviewer "
        "while active, else the licensing staff (`staff`); empty for starting a review, "
        "which emails nobody (round 38).",
        "Whom it emailed as a sentence's end, the console's words: \"emailed Alder "
        'Health Software Inc. at a@example.com, b@example.com", or "emailed nobody: '
        'starting a review tells no one".',
    ),
    name="ApplicationToldSchema",
)


def _told(application: Application) -> Emailed:
    """The application as its schema reads it, and whom the step's email went to."""
    told = services.vendor_told(db.session(), application)
    return Emailed(application, told.as_dicts(), told.emailed_summary)


def _staff_told(application: Application) -> Emailed:
    """The application, and whom of the licensing staff the step's email went to."""
    told = services.staff_told(application)
    return Emailed(application, told.as_dicts(), told.emailed_summary)


def _nobody_told(application: Application) -> Emailed:
    return Emailed(application, [], STARTED_SUMMARY)


class ApplicationQuerySchema(ApiSchema):
    state = ma.fields.List(vocabulary(APPLICATION.states))
    assignee = ma.fields.String(
        metadata={
            "description": "`me`, `nobody` or a staff user id (staff only: a vendor "
            "caller gets a 422 naming `query.assignee`)"
        },
        validate=Text(20),
    )
    sort = vocabulary(tuple(queries.SORTS), load_default="oldest")


class ApplicationSubmitSchema(ApiSchema):
    attest = ma.fields.Boolean(
        required=True,
        metadata={"description": "The vendor attests that the information is accurate"},
    )
    response = ma.fields.String(
        load_default=None,
        allow_none=True,
        validate=_at_most(REASON_MAX),
        metadata={"description": "On resubmission: the answer to what staff asked"},
    )


class ApplicationReasonSchema(ApiSchema):
    # Absent, null, empty or blank: the service's words (round 50).
    reason = Required(REASON_MAX, REASON_REQUIRED)


class ApplicationOptionalReasonSchema(ApiSchema):
    reason = ma.fields.String(load_default=None, allow_none=True, validate=_at_most(REASON_MAX))


class ApplicationAssignSchema(ApiSchema):
    assignee_id = record_id(required=True, allow_none=True)


class LineChangeSchema(ApiSchema):
    line = ma.fields.Integer(
        required=True,
        validate=ma.validate.Range(min=0, max=MAX_USES - 1),
        metadata={"description": "The use's index (0-based)"},
    )
    amount = DecimalText(required=True)
    reason = Required(REASON_MAX, AMOUNT_REASON_REQUIRED)


class ApplicationApproveSchema(ApiSchema):
    lines = ma.fields.List(ma.fields.Nested(LineChangeSchema), load_default=list)
    term_start = Day(load_default=None, allow_none=True)
    term_end = Day(load_default=None, allow_none=True)
    term_reason = ma.fields.String(
        load_default=None, allow_none=True, validate=_at_most(REASON_MAX)
    )
    note = ma.fields.String(load_default=None, allow_none=True, validate=_at_most(REASON_MAX))


class ApplicationNoteInputSchema(ApiSchema):
    body = ma.fields.String(required=True, validate=Text(NOTE_MAX, filled=True))


class ApplicationNoteSchema(ApiSchema):
    id = ma.fields.Integer()
    application_id = ma.fields.Integer()
    author = documented("_author", {"type": "string", "description": "The author's email"})
    body = ma.fields.String()
    created_at = ma.fields.DateTime()
    author_name = documented(
        "_author_name", {"type": "string", "description": "The author's name (round 60)"}
    )

    def _author(self, note: ApplicationNote) -> str:
        return note.author.email

    def _author_name(self, note: ApplicationNote) -> str:
        return note.author.full_name


@blp.route("/applications")
@access.allow(vendor=access.LICENSING_WORK, staff=("licensing",))
@blp.arguments(ApplicationQuerySchema, location="query")
@blp.paginate(ApplicationSchema)
def list_applications(query: dict[str, Any]) -> Select[Any]:
    """Applications: a vendor sees their own; staff filter the queue by state and
    assignee and sort it by age, amount, state or assignee."""
    principal = access.require_principal()
    refuse_staff_filter(principal, query, "assignee", "applications")
    assignee: str | int | None = query.get("assignee")
    if isinstance(assignee, str) and assignee.isascii() and assignee.isdigit():
        # A user id; past the id column's range it matches nobody.
        assignee = int(assignee) if len(assignee) <= 9 else -1
    return (
        queries.applications_query(
            # The caller names "me": without it, assignee=me matched everyone.
            principal,
            queries.QueueFilter(
                states=query.get("state") or (), assignee=assignee, sort=query["sort"]
            ),
        )
        .options(
            # What ApplicationSchema shows of every row, with the page (the PDF left unread);
            # populate_existing so rows already in the session show their latest agreement.
            selectinload(Application.quotes),
            selectinload(Application.agreement).load_only(Agreement.id),
        )
        .execution_options(populate_existing=True)
    )


@blp.route("/applications", methods=["POST"])
@access.licensing_work
@never_answers(404, "the application is made in the caller's own organization, which exists")
@blp.arguments(ApplicationInputSchema)
@blp.response(
    201,
    ApplicationSchema,
    conflict="The organization is not in good standing",
    location=Created("applications_api.get_application", {"application_id": "id"}),
)
def create_application(data: dict[str, Any]) -> Application:
    """Save a new draft (nothing is priced until it is submitted)."""
    return services.create_draft(current_actor(), ApplicationDraft.from_fields(data))


@blp.route("/applications/<int:application_id>")
@access.allow(vendor=access.LICENSING_WORK, staff=("licensing",))
@blp.response(200, ApplicationSchema)
def get_application(application_id: int) -> Application:
    """One license application: its uses, state, quotes and the steps allowed next."""
    return queries.get_application(db.session(), application_id)


@blp.route("/applications/<int:application_id>", methods=["PUT"])
@access.licensing_work
@blp.arguments(ApplicationInputSchema)
@blp.response(200, ApplicationSchema, conflict="Only drafts and returned applications change")
def update_application(data: dict[str, Any], application_id: int) -> Application:
    """Replace the term and uses of a draft or a returned application."""
    return services.update_draft(
        application_id, current_actor(), ApplicationDraft.from_fields(data)
    )


@blp.route("/applications/<int:application_id>/submit", methods=["POST"])
@access.licensing_work
@blp.arguments(ApplicationSubmitSchema)
@blp.response(200, ApplicationSchema, conflict="Not allowed in this state; lists allowed_actions")
def submit_application(data: dict[str, Any], application_id: int) -> Application:
    """Submit (or resubmit) with the attestation: prices it, stores the quote snapshot,
    and approves it at once when every licensed line is `review: auto`.

    A draft may leave out what submission needs: `term_start`, `term_end` and each
    use's `product_name` and `territories`. Submitting without them is a 422 naming
    each (`uses.0.territories`: "Say where the product is used or sold."), as is a
    use the rate card cannot price (`uses.0.quantity.end_users`)."""
    return services.submit(
        application_id,
        current_actor(),
        policy=IssuingPolicy.from_config(current_config()),
        attest=data["attest"],
        response=data["response"],
    )


@blp.route("/applications/<int:application_id>/withdraw", methods=["POST"])
@access.licensing_work
@blp.response(
    200, ApplicationSchema, conflict="Decided already; says which actions the state allows"
)
def withdraw_application(application_id: int) -> Application:
    """Withdraw, at any time before a decision."""
    return services.withdraw(application_id, current_actor())


@blp.route("/applications/<int:application_id>/reconsideration", methods=["POST"])
@access.licensing_work
@blp.arguments(ApplicationReasonSchema)
@blp.response(
    200, ApplicationSchema, conflict="Not rejected, already asked, or the 14 days have passed"
)
def request_reconsideration(data: dict[str, Any], application_id: int) -> Application:
    """Ask staff to reconsider a rejection: once, within 14 days of it."""
    return services.request_reconsideration(application_id, data["reason"], current_actor())


@blp.route("/applications/<int:application_id>/assignee", methods=["PUT"])
@access.staff("licensing")
@blp.arguments(ApplicationAssignSchema)
@blp.response(200, ApplicationSchema, conflict="The application is decided: nothing to assign")
def assign_application(data: dict[str, Any], application_id: int) -> Application:
    """Assign a reviewer (or nobody, with null)."""
    return services.assign(application_id, data["assignee_id"], current_actor())


def _staff_step(action: str, told: Callable[[Application], Emailed]) -> Any:
    def step(data: dict[str, Any], application_id: int) -> Emailed:
        application = services.review(
            application_id,
            action,
            current_actor(),
            policy=IssuingPolicy.from_config(current_config()),
            reason=data.get("reason"),
        )
        return told(application)

    return step


# Each step: its path, action, body, whom it emails (each answers `recipients` and
# `emailed_summary`: the vendor's since round 37, the staff's and nobody since
# round 38) and its summary.
_TELLS = " The vendor is emailed: `recipients` says whom."
_TELLS_STAFF = " The reviewer (else the licensing staff) is emailed: `recipients` says whom."
_TELLS_NOBODY = " It emails nobody: `recipients` is empty."
for _path, _action, _schema, _told_by, _doc in (
    (
        "review",
        "start_review",
        ApplicationOptionalReasonSchema,
        (_nobody_told, _TELLS_NOBODY),
        "Start reviewing a submitted application.",
    ),
    (
        "return",
        "return",
        ApplicationReasonSchema,
        (_told, _TELLS),
        "Return it to the vendor for information (5 US business days to resubmit).",
    ),
    (
        "escalate",
        "escalate",
        ApplicationReasonSchema,
        (_staff_told, _TELLS_STAFF),
        "Escalate to a second reviewer, who then decides.",
    ),
    (
        "reject",
        "reject",
        ApplicationReasonSchema,
        (_told, _TELLS),
        "Reject with a reason (reconsideration possible for 14 days).",
    ),
    (
        "reconsideration/grant",
        "grant_reconsideration",
        ApplicationOptionalReasonSchema,
        (_told, _TELLS),
        "Grant reconsideration: back to review.",
    ),
    (
        "reconsideration/deny",
        "deny_reconsideration",
        ApplicationReasonSchema,
        (_told, _TELLS),
        "Deny reconsideration: the rejection is final.",
    ),
):
    _view = _staff_step(_action, _told_by[0])
    _view.__name__ = f"{_action}_application"
    _view.__doc__ = _doc + _told_by[1]
    blp.route(f"/applications/<int:application_id>/{_path}", methods=["POST"])(
        access.staff("licensing")(
            blp.arguments(_schema)(
                blp.response(
                    200,
                    ApplicationToldSchema,
                    conflict="Not allowed in this state; lists allowed_actions",
                )(_view)
            )
        )
    )


@blp.route("/applications/<int:application_id>/approve", methods=["POST"])
@access.staff("licensing")
@blp.arguments(ApplicationApproveSchema)
@blp.response(
    200, ApplicationToldSchema, conflict="Not allowed in this state; lists allowed_actions"
)
def approve_application(data: dict[str, Any], application_id: int) -> Emailed:
    """Approve as quoted (empty body), or with changed amounts (`lines`) or term, each
    with a reason: a new quote version is stored, the submitted one kept, and the
    agreement is issued; the vendor is emailed to accept it (`recipients`)."""
    changes = services.Modifications(
        lines=[services.LineChange(c["line"], c["amount"], c["reason"]) for c in data["lines"]],
        term_start=data.get("term_start"),
        term_end=data.get("term_end"),
        term_reason=data.get("term_reason"),
    )
    return _told(
        services.review(
            application_id,
            "approve",
            current_actor(),
            policy=IssuingPolicy.from_config(current_config()),
            reason=data.get("note"),
            modifications=changes,
        )
    )


@blp.route("/applications/<int:application_id>/notes")
@access.staff("licensing")
@blp.paginate(ApplicationNoteSchema)
def list_notes(application_id: int) -> list[ApplicationNote]:
    """Internal notes (licensing staff only; never shown to the vendor)."""
    session = db.session()
    application = queries.get_application(session, application_id)
    return queries.notes(session, application.id)


@blp.route(
    "/applications/<int:application_id>/notes",
    methods=["POST"],
    operation_id="add_application_note",
)
@access.staff("licensing")
@blp.arguments(ApplicationNoteInputSchema)
@blp.response(201, ApplicationNoteSchema, location=Created("applications_api.list_notes"))
def add_note(data: dict[str, Any], application_id: int) -> ApplicationNote:
    """Add an internal note."""
    return services.add_note(application_id, data["body"], current_actor())
