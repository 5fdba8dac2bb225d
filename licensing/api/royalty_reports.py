"""/api/v1 royalty reports: an agreement's reporting periods, the CSV template,
preview and submission (JSON or CSV), amendments, the stored reports and their
rows, and staff review of flagged reports (docs/royalty-reports.md).

Submissions may be large (200,000 rows): their bodies bypass the API's general
JSON check and size limit and are read as a stream, spooled and checked row by
row (`licensing.royalties.rows`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import date
from typing import Any, TypeVar

import marshmallow as ma
from flask import Response, request, url_for
from werkzeug.exceptions import UnsupportedMediaType

from licensing import access, db
from licensing.accounts.queries import people_of
from licensing.actors import current_actor
from licensing.api.base import Blueprint, Created, ReadPage, large_body
from licensing.api.fields import (
    STRINGS,
    ApiSchema,
    Day,
    Text,
    callers_actions,
    steps_of,
    vocabulary,
)
from licensing.billing.states import INVOICE
from licensing.calendar import office_date, parse_day
from licensing.config import current_config
from licensing.db import utcnow
from licensing.downloads import document_rate_limit
from licensing.errors import NotFound
from licensing.limits import MAX_RECORD_ID
from licensing.money import format_amount
from licensing.royalties import queries, services
from licensing.royalties.downloads import rows_response, template_response
from licensing.royalties.models import QUANTITY_MAX, REASON_MAX, REVIEW_NOTE_MAX, RoyaltyReport
from licensing.royalties.queries import CREDIT_NOTE_STATES, NOTHING_CHARGED, PeriodCharges
from licensing.royalties.rows import COLUMNS, Upload, csv_submission, json_submission
from licensing.royalties.services import Filing, PeriodStatus
from licensing.royalties.states import (
    DUE,
    OVERDUE,
    OWING,
    PERIOD_STATES,
    QUEUE_STATES,
    REVIEW,
    REVIEW_STATES,
    REVIEW_STEPS,
    TO_FILE,
)

blp = Blueprint(
    "royalty_reports_api",
    __name__,
    description="Royalty reports: usage reported each period, and the royalty it costs.",
)

F = TypeVar("F", bound=Callable[..., Any])

# The route taking each of a report's steps (`services.report_steps`): an amendment is
# a filing with `amends`; the review's steps are its `action`.
REPORT_STEP_ROUTES = {
    services.AMEND: "royalty_reports_api.submit_report",
    **dict.fromkeys(REVIEW.actions, "royalty_reports_api.review_report"),
}

# The largest report body accepted. The contract accepts a report of 200,000 rows in
# one request: 200,000 rows with every field at its longest are 74 MiB of CSV and
# 93 MiB of JSON in ASCII, 139 and 158 MiB with names in a two-byte script (accented
# Latin, Greek, Cyrillic). 64 MiB refused them; the body is spooled to disk and read a
# row at a time, so the limit costs disk, not memory.
MAX_REPORT_BYTES = 192 * 1024 * 1024


def _period_start(text: str) -> date:
    try:
        return parse_day(text)
    except ValueError:
        raise NotFound(
            f"{text!r} is not the first day of a reporting period (YYYY-MM-DD)."
        ) from None


# --- documents --------------------------------------------------------------------------------


class PeriodSchema(ApiSchema):
    start = Day()
    end = Day()


class ChargedInvoiceSchema(ApiSchema):
    id = ma.fields.Integer(metadata={"example": 42})
    number = ma.fields.String(metadata={"example": "INV-2027-000042"})
    report_id = ma.fields.Integer(
        metadata={"description": "The report that issued it: the first filing's or an amendment's"}
    )
    state = ma.fields.String(metadata={"enum": list(INVOICE.states)})
    amount = ma.fields.String(metadata={"example": "9830.00", "description": "Its total"})
    paid = ma.fields.String(
        metadata={
            "example": "9830.00",
            "description": "What the licensee paid on it and kept paid: payments less the "
            "refunds sent back (periods62)",
        }
    )
    balance_due = ma.fields.String(
        metadata={"example": "0.00", "description": "What is still to pay on it"}
    )
    url = ma.fields.String(metadata={"example": "/api/v1/invoices/42"})


class ChargedCreditNoteSchema(ApiSchema):
    id = ma.fields.Integer(metadata={"example": 7})
    number = ma.fields.String(metadata={"example": "CN-2027-000007"})
    report_id = ma.fields.Integer(
        allow_none=True,
        metadata={
            "description": "The amendment that issued it; null for billing staff's own "
            "credit note against one of the period's invoices"
        },
    )
    invoice = ma.fields.String(
        metadata={
            "example": "INV-2027-000042",
            "description": "The invoice it credits: an amendment credits the agreement's "
            "royalty invoices newest first, so maybe another period's",
        }
    )
    invoice_id = ma.fields.Integer(metadata={"example": 42})
    state = ma.fields.String(
        metadata={
            "enum": list(CREDIT_NOTE_STATES),
            "description": "Derived, not stored (periods62): `applied` (its whole amount came "
            "off what was owed), `refund_due` (money is still to send back: "
            "`refund_outstanding`), `refunded` (what it owed back is sent or on its way), "
            "`void` (its invoice was voided: it takes nothing off)",
        }
    )
    invoice_state = ma.fields.String(
        metadata={
            "enum": list(INVOICE.states),
            "description": "The credited invoice's state: against a `void` one the note "
            "takes nothing off `net_charged` (the void took the whole)",
        }
    )
    amount = ma.fields.String(metadata={"example": "1200.00"})
    refund_outstanding = ma.fields.String(
        metadata={
            "example": "0.00",
            "description": "Of what it credited beyond the invoice's balance (a paid "
            "amount), what the office has still to send back",
        }
    )
    url = ma.fields.String(metadata={"example": "/api/v1/credit-notes/7"})


class PeriodStatusSchema(ApiSchema):
    period = ma.fields.Nested(PeriodSchema)
    due_on = Day()
    state = ma.fields.String(metadata={"enum": list(PERIOD_STATES)})
    report_id = ma.fields.Integer(allow_none=True, metadata={"description": "the current report"})
    total_due = ma.fields.String(
        allow_none=True,
        metadata={
            "example": "9830.00",
            "description": "The current report's: for an amended period, the amendment's "
            "change, not what the period cost (`net_charged`)",
        },
    )
    invoice = ma.fields.String(
        allow_none=True,
        metadata={"example": "INV-2027-000042", "description": "The current report's invoice"},
    )
    # apiperiods61: what the period was charged, beside the contract's fields.
    invoices = ma.fields.List(
        ma.fields.Nested(ChargedInvoiceSchema),
        metadata={
            "description": "Every invoice the period's reports issued, the first filing's "
            "and each amendment's, in the order issued (apiperiods61)"
        },
    )
    credit_notes = ma.fields.List(
        ma.fields.Nested(ChargedCreditNoteSchema),
        metadata={
            "description": "Every credit note the period's amendments issued, and billing "
            "staff's own against the period's invoices, in the order issued (apiperiods61)"
        },
    )
    net_charged = ma.fields.String(
        metadata={
            "example": "9830.00",
            "description": "What the period cost: its invoices' amounts (void ones aside) "
            "less its credit notes' (those against a void invoice aside); summed over the "
            "periods, with the up-front invoice's, the agreement's `charged_to_date`",
        }
    )
    paid = ma.fields.String(
        metadata={
            "example": "9830.00",
            "description": "What the licensee paid on the period's invoices and kept paid "
            "(payments less the refunds sent back; periods62)",
        }
    )
    balance_due = ma.fields.String(
        metadata={
            "example": "0.00",
            "description": "What the licensee still owes on the period's invoices",
        }
    )
    refund_outstanding = ma.fields.String(
        metadata={
            "example": "0.00",
            "description": "What the office still owes back on the period's credit notes",
        }
    )


class ReportLineSchema(ApiSchema):
    line = ma.fields.Integer(metadata={"description": "the line's number in Schedule A"})
    quantities_to_date = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())
    revenue_to_date = ma.fields.String(allow_none=True)
    amount_to_date = ma.fields.String(metadata={"example": "21830.00"})
    charged_before = ma.fields.String(metadata={"example": "12000.00"})
    due = ma.fields.String(metadata={"example": "9830.00"})
    explanation = ma.fields.List(ma.fields.String())


class ReportRefSchema(ApiSchema):
    id = ma.fields.Integer(metadata={"example": 18})
    reference = ma.fields.String(metadata={"example": "RR-000018"})


class ReviewStepSchema(ApiSchema):
    step = ma.fields.String(
        metadata={
            "enum": list(REVIEW_STEPS),
            "description": "`reviewed` (marked reviewed) or `correction_requested` (sent"
            " back for a corrected report): the review state the step led to",
        }
    )
    at = ma.fields.DateTime(metadata={"example": "2027-10-02T15:00:00+00:00"})
    by = ma.fields.String(
        allow_none=True,
        metadata={
            "example": "reviewer@example.com",
            "description": "The staff member who took the step; null for the licensee"
            ' (its pages say "the licensing office")',
        },
    )
    note = ma.fields.String(
        allow_none=True,
        metadata={"description": "The staff member's note to the licensee, as written"},
    )
    by_name = ma.fields.String(
        allow_none=True,
        metadata={
            "description": "The staff member's name beside `by`, as the console names them "
            "now (by the account that took the step, else the account holding the "
            "address); null for the licensee and where no account is found (round 60)"
        },
    )


class ReportSchema(ApiSchema):
    id = ma.fields.Integer(allow_none=True)
    agreement = ma.fields.String(metadata={"example": "CPT-2027-000001"})
    period = ma.fields.Nested(PeriodSchema)
    state = ma.fields.String(allow_none=True, metadata={"enum": ["submitted", "superseded"]})
    allowed_actions = ma.fields.List(
        ma.fields.String(metadata={"enum": sorted(REPORT_STEP_ROUTES)}),
        metadata={
            **STRINGS,
            "description": "What the caller may do to the report now (round 59): `amend` "
            "(the licensee's users: file an amendment of the period's current report, "
            "`POST /agreements/{agreement_id}/royalty-reports/{period_start}` with "
            "`amends`; not once its agreement ended more than a year ago, nor under an "
            "agreement that no longer reports), `mark_reviewed` and `request_correction` "
            "(licensing and billing staff, `POST /royalty-reports/{report_id}/review`, as "
            "the review state allows). A superseded report takes none, nor does a "
            "read-only token; empty in a preview. Each is accepted when taken now; any "
            "other is refused (403 or 409).",
            "example": ["amend"],
        },
    )
    amends = ma.fields.Integer(allow_none=True)
    currency = ma.fields.String()
    lines = ma.fields.List(ma.fields.Nested(ReportLineSchema))
    total_due = ma.fields.String(metadata={"example": "9830.00"})
    rate_card = ma.fields.String(
        metadata={
            "example": "2027.1",
            "description": "The rate card every line is priced on: the agreement's, whichever "
            "card is in effect on the day of filing (the royalty contract), cardcheck54",
        }
    )
    invoice = ma.fields.String(allow_none=True)
    credit_notes = ma.fields.List(ma.fields.String())
    flags = ma.fields.List(ma.fields.String())
    review_state = ma.fields.String(allow_none=True, metadata={"enum": list(REVIEW_STATES)})
    corrected_by = ma.fields.Nested(
        ReportRefSchema,
        allow_none=True,
        metadata={
            "description": "The amendment that answered the correction request, once it"
            " came (the report is then superseded; `review_state` stays"
            " `correction_requested`, the request's record); null otherwise."
        },
    )
    review_history = ma.fields.List(
        ma.fields.Nested(ReviewStepSchema),
        metadata={
            "description": "Every step of the staff review, oldest first, each with its"
            " own note (round 13: earlier steps' notes were kept only in the audit log);"
            " empty when never reviewed, and in a preview"
        },
    )
    rows = ma.fields.Integer(allow_none=True)
    file_sha256 = ma.fields.String(allow_none=True)
    submitted_by = ma.fields.String(allow_none=True)
    submitted_at = ma.fields.DateTime(allow_none=True)
    submitted_by_name = ma.fields.String(
        allow_none=True,
        metadata={
            "description": "The name of the vendor user who filed it (`submitted_by` is "
            "their address as recorded), as the pages name them now; null in a preview "
            "(round 60)"
        },
    )


def report_steps(report: RoyaltyReport) -> list[str]:
    """The caller's steps of `report` now: its `allowed_actions`, and a 409's (round
    59: a report listed none, and its review's 409 listed the review steps the
    caller's role may take, without the report's own checks)."""
    today = office_date(utcnow())
    return callers_actions(
        services.report_steps(report),
        REPORT_STEP_ROUTES,
        refused=lambda step: services.report_step_refused(report, step, today=today),
    )


def _money(value: Any, currency: str) -> str | None:
    return None if value is None else format_amount(value, currency)


def _reference(report: RoyaltyReport | None) -> dict[str, Any] | None:
    return None if report is None else {"id": report.id, "reference": report.reference}


def filing_document(filing: Filing) -> dict[str, Any]:
    """The contract's report document (ids, state and invoice null in a preview), with
    the project's own fields after the contract's (round 60: the names of the filer and
    of each review step's staff member beside their addresses, read in one statement)."""
    currency = filing.currency
    report = filing.report
    steps = services.review_history(report, current_actor()) if report else []
    people = people_of(
        db.session(),
        ids=[report.submitted_by_id if report else None, *(step.by_id for step in steps)],
        addresses=[report.submitted_by if report else None, *(step.by for step in steps)],
    )
    return {
        "id": report.id if report else None,
        "agreement": filing.agreement_number,
        "period": {"start": filing.period.start, "end": filing.period.end},
        "state": report.state if report else None,
        "allowed_actions": report_steps(report) if report else [],
        "amends": filing.amends,
        "currency": currency,
        "lines": [
            {
                "line": line.line,
                "quantities_to_date": dict(line.quantities_to_date),
                "revenue_to_date": _money(line.revenue_to_date, currency),
                "amount_to_date": _money(line.amount_to_date, currency),
                "charged_before": _money(line.charged_before, currency),
                "due": _money(line.due, currency),
                "explanation": list(line.explanation),
            }
            for line in filing.lines
        ],
        "total_due": _money(filing.total_due, currency),
        "rate_card": filing.rate_card,
        "invoice": filing.invoice_number,
        "credit_notes": list(filing.credit_notes),
        "flags": list(filing.flags),
        "review_state": report.review_state if report else None,
        "corrected_by": _reference(services.corrected_by(report)) if report else None,
        "review_history": [
            {**asdict(step), "by_name": people.name_of(step.by, step.by_id)} for step in steps
        ],
        "rows": report.row_count if report else None,
        "file_sha256": report.file_sha256 if report else None,
        "submitted_by": report.submitted_by if report else None,
        "submitted_at": report.submitted_at if report else None,
        "submitted_by_name": (
            people.name_of(report.submitted_by, report.submitted_by_id) if report else None
        ),
    }


def status_document(
    status: PeriodStatus, currency: str, charges: PeriodCharges = NOTHING_CHARGED
) -> dict[str, Any]:
    """The contract's period, then what it was charged (apiperiods61)."""
    report = status.report
    return {
        "period": {"start": status.period.start, "end": status.period.end},
        "due_on": status.due_on,
        "state": status.state,
        "report_id": report.id if report else None,
        "total_due": _money(report.total_due, currency) if report else None,
        "invoice": status.invoice_number,
        "invoices": [
            {
                "id": invoice.id,
                "number": invoice.number,
                "report_id": invoice.report_id,
                "state": invoice.state,
                "amount": format_amount(invoice.total, currency),
                "paid": format_amount(invoice.paid, currency),
                "balance_due": format_amount(invoice.balance_due, currency),
                "url": url_for("invoices_api.get_invoice", invoice_id=invoice.id),
            }
            for invoice in charges.invoices
        ],
        "credit_notes": [
            {
                "id": note.id,
                "number": note.number,
                "report_id": note.report_id,
                "invoice": note.invoice_number,
                "invoice_id": note.invoice_id,
                "state": note.state,
                "invoice_state": note.invoice_state,
                "amount": format_amount(note.amount, currency),
                "refund_outstanding": format_amount(note.refund_outstanding, currency),
                "url": url_for("invoices_api.get_credit_note", credit_note_id=note.id),
            }
            for note in charges.credit_notes
        ],
        "net_charged": format_amount(charges.net_charged, currency),
        "paid": format_amount(charges.paid, currency),
        "balance_due": format_amount(charges.balance_due, currency),
        "refund_outstanding": format_amount(charges.refund_outstanding, currency),
    }


def _charged(agreement_id: int, currency: str) -> Callable[[Sequence[Any]], list[dict[str, Any]]]:
    """A page of an agreement's periods as documents, what each was charged read for
    the page at once (`queries.period_charges`: three statements, whatever its size)."""

    def read(statuses: Sequence[Any]) -> list[dict[str, Any]]:
        filed = [status.period.start for status in statuses if status.report is not None]
        charges = queries.period_charges(db.session(), agreement_id, filed)
        return [
            status_document(status, currency, charges.get(status.period.start, NOTHING_CHARGED))
            for status in statuses
        ]

    return read


# --- periods and templates --------------------------------------------------------------------


class PeriodQuerySchema(ApiSchema):
    state = vocabulary(
        tuple(QUEUE_STATES),
        metadata={
            "description": "Only the periods in this state (api64), as the console's royalty "
            "queue and the portal's list choose them: a period's own `state` (`upcoming`, "
            "`due`, `overdue`, `submitted`), `to_file` (`due` or `overdue`), or `owing` "
            "(filed, and something is still to pay on its invoices: `balance_due` above "
            "0). Left out: every period, as the royalty contract lists them"
        },
    )


def _chosen(
    statuses: list[PeriodStatus], state: str | None, agreement_id: int
) -> list[PeriodStatus]:
    """The periods in `state` (api64), in the list's order: the queue's states as the
    pages choose them (`queries._in_state`), `owing` read by the pages' own statement
    (`queries.owing_starts`)."""
    if state is None:
        return statuses
    if state == OWING:
        owing = queries.owing_starts(db.session(), agreement_id)
        return [status for status in statuses if status.period.start in owing]
    wanted = {DUE, OVERDUE} if state == TO_FILE else {state}
    return [status for status in statuses if status.state in wanted]


@blp.route("/agreements/<int:agreement_id>/royalty-reports")
@access.allow(vendor=True, staff=("licensing", "billing"))
@blp.arguments(PeriodQuerySchema, location="query")
@blp.paginate(PeriodStatusSchema)
def list_periods(query: dict[str, Any], agreement_id: int) -> ReadPage:
    """Every reporting period of the agreement (calendar quarters clipped to its term),
    with its due date, state (`upcoming`, `due`, `overdue`, `submitted`), current
    report, and what it was charged: the invoices and credit notes its reports issued,
    the net, and what is still owed. A report is overdue after its due date, or, when
    its agreement was accepted after that date, after the acceptance's office day. An
    agreement without usage-based lines has none. `state` narrows it as the console's
    queue does (`owing`: those still owed on; api64)."""
    agreement, statuses = services.agreement_periods(agreement_id, current_actor())
    chosen = _chosen(statuses, query.get("state"), agreement.id)
    return ReadPage(chosen, _charged(agreement.id, agreement.currency))


@blp.route("/agreements/<int:agreement_id>/royalty-reports/<period_start>")
@access.allow(vendor=True, staff=("licensing", "billing"))
@blp.response(200, PeriodStatusSchema)
def get_period(agreement_id: int, period_start: str) -> dict[str, Any]:
    """One reporting period of the agreement, as its list gives it: due date, state,
    current report, and what it was charged (apiperiods61)."""
    start = _period_start(period_start)
    agreement, statuses = services.agreement_periods(agreement_id, current_actor())
    status = next((status for status in statuses if status.period.start == start), None)
    if status is None:
        starts = ", ".join(status.period.start.isoformat() for status in statuses) or "none"
        raise NotFound(
            f"Agreement {agreement.number} has no reporting period starting "
            f"{start.isoformat()} (its periods start: {starts})."
        )
    return _charged(agreement.id, agreement.currency)([status])[0]


@blp.route("/agreements/<int:agreement_id>/royalty-reports/<period_start>/template")
@access.allow(vendor=access.LICENSING_WORK, staff=("licensing", "billing"))
@document_rate_limit()
@blp.response(200, description="The period's CSV template", content_type="text/csv")
def get_template(agreement_id: int, period_start: str) -> Response:
    """The period's CSV template: one row per reportable line and unit, and the customers
    of the previous period's current report."""
    return template_response(agreement_id, _period_start(period_start), current_actor())


# --- preview and submission -------------------------------------------------------------------

_SUBMISSION_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["rows"],
                    "properties": {
                        "attest": {"type": "boolean"},
                        "amends": {
                            "type": "integer",
                            "nullable": True,
                            "minimum": 1,
                            "maximum": MAX_RECORD_ID,
                        },
                        "reason": {"type": "string", "maxLength": REASON_MAX},
                        "rows": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "line": {"type": "integer", "minimum": 1, "maximum": 1000},
                                    "customer_id": {"type": "string"},
                                    "customer_name": {"type": "string"},
                                    "country": {"type": "string"},
                                    "unit": {"type": "string"},
                                    "quantity": {
                                        "type": "integer",
                                        "nullable": True,
                                        "minimum": 0,
                                        "maximum": QUANTITY_MAX,
                                    },
                                    "revenue": {"type": "string", "nullable": True},
                                },
                            },
                        },
                    },
                }
            },
            "text/csv": {"schema": {"type": "string", "description": ",".join(COLUMNS)}},
        },
    },
    "parameters": [
        {"name": "attest", "in": "query", "schema": {"type": "boolean"}, "required": False},
        {
            "name": "amends",
            "in": "query",
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_RECORD_ID},
            "required": False,
        },
        {
            "name": "reason",
            "in": "query",
            "schema": {"type": "string", "maxLength": REASON_MAX},
            "required": False,
        },
    ],
}


def _attest_argument(given: str | None) -> Any:
    """`attest` of a CSV report's query, as JSON would say it: true, false, missing
    (None), or what was given otherwise (`attest=yes`), which filing refuses as
    malformed, preview and submit alike, rather than reading it as missing."""
    if given is None:
        return None
    return {"true": True, "false": False}.get(given.strip().lower(), given)


def _submission() -> Any:
    """The request's report: JSON (attestation in the body) or CSV (in the query)."""
    request.max_content_length = MAX_REPORT_BYTES
    mimetype = request.mimetype
    if mimetype not in ("application/json", "text/csv"):
        # A 415, as every API body of another type is (`licensing.api._check_body`).
        raise UnsupportedMediaType("Send the report as application/json or as text/csv (UTF-8).")
    upload = Upload.read(request.stream)
    if mimetype == "text/csv":
        query = request.args
        attest = _attest_argument(query.get("attest"))
        return csv_submission(
            upload, attest=attest, amends=query.get("amends"), reason=query.get("reason")
        )
    return json_submission(upload)


def _filing_route(status: int, refused: str) -> Callable[[F], F]:
    """What preview and submit declare alike: a large body read as a stream (JSON or
    CSV), the report answered with `status`, the period's 409 (`refused` says when)
    and how else a report is refused."""

    def decorator(view: F) -> F:
        view = blp.doc(**_SUBMISSION_BODY)(view)
        for code, description in (
            (
                422,
                "Problems with the report, every one at once, keyed `rows.N.FIELD` (JSON: N "
                "is the row's 0-based index; CSV: the line number, the header being line 1), "
                "or `attest`, `amends`, `reason`, `_body`",
            ),
            (413, "Larger than the largest report accepted"),
            (415, "Neither application/json nor text/csv"),
            (409, refused),
        ):
            view = blp.alt_response(code, description=description)(view)
        location = Created("royalty_reports_api.get_report", {"report_id": "id"})
        return large_body(
            blp.response(status, ReportSchema, location=location if status == 201 else None)(view)
        )

    return decorator


def _file(agreement_id: int, period_start: str, *, previewing: bool) -> dict[str, Any]:
    start = _period_start(period_start)
    submission = _submission()
    try:
        act = services.preview if previewing else services.submit
        return filing_document(act(agreement_id, start, submission, current_actor()))
    finally:
        submission.upload.close()


@blp.route(
    "/agreements/<int:agreement_id>/royalty-reports/<period_start>/preview", methods=["POST"]
)
@access.stores_nothing  # computes the report and stores nothing: a read-only token may
@access.licensing_work
@_filing_route(
    200,
    refused="The period cannot be reported now; says why (out of order: `file_first` names "
    "the period to report first; too early: `available_from` is "
    "the first instant it may be, the office's midnight of the day after it ends)",
)
def preview_report(agreement_id: int, period_start: str) -> dict[str, Any]:
    """The computation of a report, line by line, storing nothing (`id`, `state` and
    `invoice` are null)."""
    return _file(agreement_id, period_start, previewing=True)


@blp.route("/agreements/<int:agreement_id>/royalty-reports/<period_start>", methods=["POST"])
@access.licensing_work
@_filing_route(
    201,
    refused="Reported already (amend it: `allowed_actions` lists `amend`), out of order "
    "(`file_first` names the period to report first, as the detail does), or too early "
    "(`available_from` is the first instant it may be filed, the office's midnight of the "
    "day after the period ends: the one 409 worth sending again unchanged, from then)",
)
def submit_report(agreement_id: int, period_start: str) -> dict[str, Any]:
    """File the period's report (with `amends` and `reason`: amend the current one). The
    royalty is invoiced, or credited, at once."""
    return _file(agreement_id, period_start, previewing=False)


# --- stored reports ---------------------------------------------------------------------------


@blp.route("/royalty-reports/<int:report_id>")
@access.allow(vendor=True, staff=("licensing", "billing"))
@blp.response(200, ReportSchema)
def get_report(report_id: int) -> dict[str, Any]:
    """One report with its lines as computed when it was filed."""
    return filing_document(services.filing_of(services.get_report(report_id, current_actor())))


@blp.route("/royalty-reports/<int:report_id>/rows")
@access.allow(vendor=True, staff=("licensing", "billing"))
@document_rate_limit()
@blp.response(200, description="The report's rows as submitted", content_type="text/csv")
def get_rows(report_id: int) -> Response:
    """The report's rows as submitted, as CSV in the template's columns."""
    return rows_response(report_id, current_actor())


class ReviewSchema(ApiSchema):
    action = vocabulary(sorted(REVIEW.actions), required=True)
    # The service's sentence, not marshmallow's "Longer than maximum length 2000.".
    note = ma.fields.String(
        load_default=None,
        validate=Text(REVIEW_NOTE_MAX),
    )


# A report's 409 lists the caller's own steps of the report (its `allowed_actions`):
# the one its path names, or the one a filing's refusal names (round 59).
steps_of(
    "royalty report",
    REPORT_STEP_ROUTES,
    report_steps,
    report_id=lambda report_id: services.get_report(report_id, current_actor()),
)


@blp.route("/royalty-reports/<int:report_id>/review", methods=["POST"])
@access.staff("licensing", "billing")
@blp.arguments(ReviewSchema)
@blp.response(
    200,
    ReportSchema,
    conflict="Nothing to mark reviewed, a correction already asked for, or a superseded report",
)
def review_report(data: dict[str, Any], report_id: int) -> dict[str, Any]:
    """Staff: mark a flagged report reviewed, or ask the licensee for a corrected report
    (of any current report, flagged or not)."""
    report = services.review(
        report_id,
        data["action"],
        current_actor(),
        note=data.get("note"),
        correction_due_days=current_config().correction_due_days,
    )
    return filing_document(services.filing_of(report))
