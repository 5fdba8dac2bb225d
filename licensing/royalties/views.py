"""Royalty report pages: the vendor portal's periods, filing (a form row by row,
a CSV upload of the template, or a nil report) with a preview first; the staff
console's queue and review of flagged reports."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.datastructures import FileStorage
from werkzeug.wrappers import Response

from licensing import access, arguments, db, references
from licensing.access import Principal
from licensing.accounts import queries as account_queries
from licensing.accounts.models import Organization
from licensing.actors import Actor, current_actor
from licensing.agreements.models import Agreement
from licensing.billing.models import Invoice
from licensing.calendar import OFFICE_TIMEZONE, day_text, days_text, office_date, parse_day
from licensing.config import current_config
from licensing.db import utcnow
from licensing.downloads import document_rate_limit
from licensing.errors import Conflict, FileFirst, IllegalTransition, InvalidInput, NotFound
from licensing.limits import record_id, shows_unstorable_on_form
from licensing.royalties import forms, queries, services
from licensing.royalties.downloads import rows_response, template_response
from licensing.royalties.forms import COLUMN_LABELS, COLUMN_WORDS
from licensing.royalties.lateness import late_from
from licensing.royalties.models import RoyaltyReport
from licensing.royalties.rows import (
    COLUMNS,
    Submission,
    Upload,
    csv_submission,
    form_submission,
)
from licensing.royalties.services import Filing, ReviewStep
from licensing.royalties.services.review import (
    CorrectionLate,
    correction_due_on,
    correction_filed_late,
)
from licensing.royalties.states import (
    CORRECTION_REQUESTED,
    FLAGGED,
    OVERDUE,
    OWING,
    QUEUE_STATES,
    REVIEW,
    SUBMITTED,
    UPCOMING,
)
from licensing.web import paging
from licensing.web.console import QueueSummary, due_soon_by, queue_summary
from licensing.web.errors import said_to_the_reader
from licensing.web.filters import recorded_currencies, recorded_words
from licensing.web.organization_records import organization_section
from licensing.web.portal import YOU, WaitingItem, waiting_provider
from licensing.web.records import named_by_id
from licensing.words import counted, end_sentence

bp = Blueprint("royalties", __name__)

# How a vendor files from the period page: customers typed row by row, a CSV upload
# of the template, or a nil report. Each has its own form on the page.
MODES = ("form", "csv", "nil")
# Blank rows the form offers, and how many more "Add rows" gives.
BLANK_ROWS = 3
MORE_ROWS = 5
# Pages parse forms with Flask's limits (MAX_FORM_PARTS, 1000 fields by default,
# read before the view by the CSRF check): 7 fields a row keeps 100 rows well
# inside. More customers than that go in the CSV template.
FORM_ROWS_MAX = 100
Page = str | tuple[str, int] | Response


# The audit log and other pages name a report `RR-000005` and link it: the console's
# page for staff, the portal's for a vendor (which shows only their own).
named_by_id("royalty_report", RoyaltyReport.reference_of)
# A report's review state as its refusals say it ("flagged for review").
recorded_words("royalty_report", ("review_state",), REVIEW.state_text)
# Round 67: a report's amounts in its agreement's currency, as its page says them.
recorded_currencies(
    "royalty_report",
    lambda ids: (
        select(RoyaltyReport.id, Agreement.currency)
        .join(Agreement, Agreement.id == RoyaltyReport.agreement_id)
        .where(RoyaltyReport.id.in_(ids))
    ),
)


def _start(text: str) -> date:
    try:
        return parse_day(text)
    except ValueError:
        raise NotFound("There is no such reporting period.") from None


def _today() -> date:
    return office_date(utcnow())


# --- vendor portal ----------------------------------------------------------------------------


@bp.route("/portal/royalty-reports")
@access.vendor
def portal_reports() -> tuple[str, int]:
    """Every reporting period of the organization's agreements, 50 a page: the reports
    sent back for correction first (round 54), then the ones waiting on the vendor (the
    longest late first), then those filed, newest first;
    ordered, counted and paged by the database (`vendor_periods_page`). Each filed one
    says what it was charged, paid and still owes, and `?state=owing` lists only those
    still owed on (periods62)."""
    today = _today()
    unread = arguments.unknown_choice(request.args, "state", PORTAL_STATES, "Show")
    state = None if unread else request.args.get("state") or None
    listed = None if unread else vendor_periods_page(current_actor(), today, state=state)
    statuses = listed.items if listed else []
    return render_template(
        "royalties/portal_reports.html",
        statuses=statuses,
        page=listed,
        today=today,
        chosen_state=state,
        filter_errors=unread,
        documents_of=_documents_of(statuses),
        charges_of=_charges_of(statuses),
    ), (422 if unread else 200)


# The vendor's list shows every period, or only those still owed on (periods62).
PORTAL_STATES = {OWING: QUEUE_STATES[OWING]}


def _documents_of(statuses: Iterable[Any]) -> dict[int, list[queries.PeriodDocument]]:
    """The invoices and credit notes of the page's filed periods, an amended one's
    from every report of it, in at most two queries for the page's rows."""
    return queries.period_documents(db.session(), statuses)


def _charges_of(
    statuses: Iterable[services.PeriodStatus],
) -> dict[queries.PeriodKey, queries.PeriodCharges]:
    """What each of the page's filed periods was charged, paid and still owes, by
    `(agreement_id, period_start)`: the API's figures (`queries.charges_of_periods`,
    three statements for the page, whatever its rows; periods62)."""
    filed = [(status.agreement_id, status.period.start) for status in statuses if status.report]
    return queries.charges_of_periods(db.session(), filed)


def _period_charges(agreement_id: int, start: date) -> queries.PeriodCharges:
    """What one period was charged, as its row of the lists and the API say it."""
    charged = queries.charges_of_periods(db.session(), [(agreement_id, start)])
    return charged.get((agreement_id, start), queries.NOTHING_CHARGED)


@dataclass(frozen=True)
class Problem:
    """One line of a page's error summary, and the field it links to."""

    text: str
    anchor: str | None = None


@bp.route("/portal/royalty-reports/<int:agreement_id>/<period_start>", methods=["GET", "POST"])
@access.licensing_work
@shows_unstorable_on_form
def portal_period(agreement_id: int, period_start: str) -> Page:
    """One period: its current report, and filing or amending it."""
    actor = current_actor()
    start = _start(period_start)
    agreement, statuses = services.agreement_periods(agreement_id, actor)
    status = next((s for s in statuses if s.period.start == start), None)
    if status is None:
        raise NotFound("There is no such reporting period.")
    obligation = services.obligations(db.session(), agreement)
    form = RowsForm.of(obligation)
    context: dict[str, Any] = {
        "agreement": agreement,
        "status": status,
        # A back report says from when it is due (round 50).
        "back_report": None if status.report else _back_report(status),
        # How late an unfiled report is and what it holds (round 51).
        "hold": _hold_words(status),
        "obligation": obligation,
        "earlier_unreported": next(
            (s for s in statuses if s.period.index < status.period.index and s.report is None),
            None,
        ),
        "filing_open": agreement.state in services.REPORTING_STATES,
        "amend_refused": None,
        "form": form,
        "column_labels": COLUMN_LABELS,
        "column_words": COLUMN_WORDS,
        "rows": form.padded([], BLANK_ROWS),
        "errors": {},
        "refusal": None,
        "filing": None,
        "carried": None,
        "mode": None,
        "reason": "",
        "attested": False,
        "prefilled": False,
        # A new period's form drawn from its template: last period's customers, and
        # the rows left as drawn, which a posted form leaves out (round 52).
        "last_customers": 0,
        "as_drawn": set(),
        # What the office asked of the current report, where its email links to.
        "correction_due": (
            correction_due_on(status.report, current_config().correction_due_days)
            if status.report is not None
            else None
        ),
        "today": _today(),
        # What the period was charged, paid and still owes (periods62).
        "charges": _period_charges(agreement_id, start) if status.report else None,
    }
    if status.report is not None and context["filing_open"]:
        # Round 59: a report its agreement no longer lets be amended (ended more than a
        # year ago) is not offered the forms its filing refuses; the page says why.
        context["amend_refused"] = services.amendment_refusal(agreement, context["today"])
        context["filing_open"] = context["amend_refused"] is None
    if status.report is not None and context["filing_open"]:
        _start_amendment_from_filed_rows(status.report, form, context)
    elif context["filing_open"] and status.state != UPCOMING:
        _start_from_the_template(agreement_id, start, actor, form, context)
    if request.method == "POST":
        outcome = _post_filing(agreement_id, start, actor, form, context)
        if outcome is not None:
            return outcome
    context["problems"] = _problems(context["errors"], context["mode"])
    # A refused filing is the page again with its messages, answered as refused.
    code = 422 if context["errors"] else 409 if context["refusal"] else 200
    return render_template("royalties/portal_period.html", **context), code


def _start_amendment_from_filed_rows(
    report: RoyaltyReport, form: RowsForm, context: dict[str, Any]
) -> None:
    """An amendment usually corrects a few rows: the form starts with the current
    report's rows as filed (when they fit it) instead of asking for all again."""
    filed = queries.rows_to_amend(db.session(), report, form.max_rows)
    if filed is not None:
        context["rows"] = form.padded(filed, BLANK_ROWS)
        context["prefilled"] = True


def _start_from_the_template(
    agreement_id: int, start: date, actor: Actor, form: RowsForm, context: dict[str, Any]
) -> None:
    """A new period's form starts as its CSV template does (round 52: it started
    blank): last period's customers, quantities blank, and a row for each reportable
    line and unit none of them reports. A customer row left as it was drawn (nothing
    typed in its quantity or revenue) is left out when the form is posted, as a blank
    row is: the vendor types this period's usage, and a form left untouched is still
    no report (the nil report is its own button)."""
    _obligation, template = services.template_rows(agreement_id, start, actor)
    drawn = [
        {column: "" if value.get(column) is None else str(value[column]) for column in COLUMNS}
        for value in template
    ]
    drawn = [row for row in drawn if row != form.blank()]
    if len(drawn) > form.max_rows:
        return  # more customers than the form takes: the template is the way
    customers = [row for row in drawn if row["customer_id"]]
    context["rows"] = form.padded(drawn, BLANK_ROWS)
    context["last_customers"] = len(customers)
    context["as_drawn"] = {tuple(row[column] for column in COLUMNS) for row in customers}


def _as_drawn_left_out(
    typed: list[tuple[dict[str, str], dict[str, list[str]]]], as_drawn: set[tuple[str, ...]]
) -> list[tuple[dict[str, str], dict[str, list[str]]]]:
    """The typed rows without those left as the template drew them (`as_drawn`)."""
    return [
        (values, messages)
        for values, messages in typed
        if messages or tuple(values[column] for column in COLUMNS) not in as_drawn
    ]


@dataclass(frozen=True)
class RowsForm:
    """The rows form's choices: the reportable lines and the units they count, and
    each line's product name (`names`, by the line's value), shown whole under a row's
    line select (round 62: the select cut a long name to its width)."""

    lines: list[tuple[str, str]]
    units: list[str]
    default_line: str
    default_unit: str
    max_rows: int = FORM_ROWS_MAX
    names: dict[str, str] = field(default_factory=dict)
    # Each line counting one unit alone, by the line's value: a row of that line given
    # a quantity and no unit is taken in it (`with_sole_units`).
    sole_units: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, obligation: services.Obligations) -> RowsForm:
        lines = [
            (str(line.number), f"{line.number}: {obligation.product_names[line.number]}")
            for line in obligation.lines
        ]
        units = sorted({unit for line in obligation.lines for unit in line.units})
        only = obligation.lines[0] if len(obligation.lines) == 1 else None
        default_unit = ""
        if only is not None and len(only.units) == 1 and not only.takes_revenue:
            default_unit = only.units[0]
        names = {
            str(line.number): obligation.product_names[line.number] for line in obligation.lines
        }
        sole_units = {
            str(line.number): line.units[0] for line in obligation.lines if len(line.units) == 1
        }
        return cls(
            lines,
            units,
            str(only.number) if only else "",
            default_unit,
            names=names,
            sole_units=sole_units,
        )

    def with_sole_units(self, rows: list[dict[str, str]]) -> list[dict[str, str]]:
        """`rows` with the unit of a row's line filled in where the line counts one unit
        alone and the row gives a quantity but no unit (round 66: a row added for line 1
        kept "— (revenue only)" and was refused "Give the unit: line 1's rule counts
        end_users", the one unit it could be). The API's rows are read as sent."""
        return [
            {**row, "unit": self.sole_units[row["line"]]}
            if not row["unit"] and row["quantity"] and row["line"] in self.sole_units
            else row
            for row in rows
        ]

    def blank(self) -> dict[str, str]:
        row = dict.fromkeys(COLUMNS, "")
        row.update(line=self.default_line, unit=self.default_unit)
        return row

    def padded(self, rows: list[dict[str, str]], blanks: int) -> list[dict[str, str]]:
        room = max(0, min(blanks, self.max_rows - len(rows)))
        return rows + [self.blank() for _ in range(room)]


def _post_filing(
    agreement_id: int, start: date, actor: Actor, form: RowsForm, context: dict[str, Any]
) -> Response | None:
    posted = forms.period_form(request.form)
    unstorable = not posted.validate()  # the fields say nothing else; the services check
    action = posted.action.data or "preview"
    mode = posted.mode.data if posted.mode.data in MODES else "form"
    typed = _as_drawn_left_out(posted.typed_rows(), context["as_drawn"]) if mode == "form" else []
    rows = form.with_sole_units([values for values, _messages in typed])
    context.update(
        mode=mode,
        reason=(posted.reason.data or "").strip(),
        attested=posted.attest.data == "yes",
        rows=form.padded(rows, BLANK_ROWS),
    )
    if unstorable:  # told beside each field, with everything typed kept
        context["errors"] = {**forms.field_errors(posted), **_row_errors(typed)}
        return None
    if mode == "form":
        if action == "add_rows":
            context["rows"] = form.padded(rows, MORE_ROWS)
            if len(rows) >= form.max_rows:
                context["errors"] = {"rows": [_too_many_rows()]}
            return None
        refused = _form_refusal(rows, form)
        if refused:
            context["errors"] = {"rows": [refused]}
            return None
    submission = _submission(mode, rows, posted, context)
    if submission is None:
        return None
    try:
        if action == "submit":
            filing = services.submit(agreement_id, start, submission, actor)
        else:
            context["filing"] = services.preview(agreement_id, start, submission, actor)
            return None
    except InvalidInput as problem:
        context["errors"] = problem.errors
        context["carried"] = None  # a file with problems is chosen again once corrected
        return None
    except Conflict as refused_filing:
        context["refusal"] = _refusal_in_words(refused_filing, context["status"], submission)
        return None
    finally:
        submission.upload.close()
    flash(_filed_message(filing), "success")
    assert filing.report is not None
    return redirect(url_for("royalties.portal_report", report_id=filing.report.id))


def _refusal_in_words(refused: Conflict, status: Any, submission: Submission) -> str:
    """A refusal as the page says it: a report filed for the period since the page
    was drawn (a colleague, or the form posted twice) is named, and the page, now
    amending it, says what to do; the API's "amends: N" means nothing here."""
    said = said_to_the_reader(refused)
    current = status.report
    if current is not None and submission.amends != current.id:
        if isinstance(refused, IllegalTransition) and services.AMEND not in refused.allowed:
            # Round 59: the report can no longer be amended; the refusal says why.
            return said
        return (
            f"Report {current.reference} was filed for this period since this page was "
            "opened, so this report was not filed. Read that report first; to correct it, "
            "file an amendment with a reason."
        )
    if isinstance(refused, FileFirst):
        return _file_first_linked(said, refused)
    return said


def _file_first_linked(said: str, refused: FileFirst) -> str:
    """The period-order refusal with the period to file first linked to its page, where
    it is filed (round 60, pagesfix60: the sentence only named it; the API's problem
    gives the same period as `file_first`). The days are worded by the summary, as any
    refusal's (`days_in_words` leaves the link's tag as it is)."""
    label = f"{refused.start.isoformat()} to {refused.end.isoformat()}"
    before, found, after = said.partition(label)
    if not found:  # a sentence worded otherwise: said as it is
        return said
    link = url_for(
        "royalties.portal_period",
        agreement_id=refused.agreement_id,
        period_start=refused.start.isoformat(),
    )
    return Markup('{}<a href="{}">{}</a>{}').format(before, link, label, after)


def _row_errors(typed: list[tuple[dict[str, str], dict[str, list[str]]]]) -> dict[str, list[str]]:
    """The typed rows' messages by the paths the page shows them at (`rows.2.quantity`:
    the row's number as the page shows it again, blank rows left out)."""
    return {
        f"rows.{number}.{column}": list(texts)
        for number, (_values, messages) in enumerate(typed, start=1)
        for column, texts in messages.items()
    }


def _too_many_rows() -> str:
    return f"The form takes at most {FORM_ROWS_MAX} customers; for more, upload the CSV template."


def _form_refusal(rows: list[dict[str, str]], form: RowsForm) -> str | None:
    if not rows:
        return (
            "Type at least one customer's row. If there is nothing to report this period, "
            "file a nil report instead."
        )
    if len(rows) > form.max_rows:
        return _too_many_rows()
    return None


def _submission(
    mode: str, rows: list[dict[str, str]], posted: forms.PeriodForm, context: dict[str, Any]
) -> Any:
    attest = context["attested"] or None
    amends = (posted.amends.data or "").strip() or None
    reason = context["reason"] or None
    if mode == "csv":
        upload = _csv_upload(posted, context)
        if upload is None:
            return None
        return csv_submission(
            upload, attest=attest, amends=amends, reason=reason, template_rows_left_out=True
        )
    typed = [forms.as_filed(row) for row in rows] if mode == "form" else []
    return form_submission(typed, attest=attest, amends=amends, reason=reason, first_row=1)


@dataclass(frozen=True)
class CarriedFile:
    """A previewed CSV file, carried in the page to its submit button: base64, so
    its bytes (and so its SHA-256) arrive exactly as uploaded."""

    name: str
    sha256: str
    size: int
    data: str | None  # None when too large to carry: the vendor chooses it again


def _carry_limit() -> int:
    """The largest file carried: its base64 must fit one form field."""
    limit = current_app.config.get("MAX_FORM_MEMORY_SIZE") or 500_000
    return int(limit) * 3 // 4 - 4096


def _csv_upload(posted: forms.PeriodForm, context: dict[str, Any]) -> Upload | None:
    chosen = posted.file.data
    if isinstance(chosen, FileStorage) and chosen.filename:
        upload = Upload.read(chosen.stream)
        name = chosen.filename
    elif posted.carried_csv.data:
        try:
            data = base64.b64decode(posted.carried_csv.data, validate=True)
        except (binascii.Error, ValueError):
            context["errors"] = {"file": ["The previewed file was not kept; choose it again."]}
            return None
        upload = Upload.of_bytes(data)
        name = posted.carried_name.data or ""
    else:
        context["errors"] = {"file": ["Choose the CSV file to upload."]}
        return None
    data_text = None
    if upload.size <= _carry_limit():
        data_text = base64.b64encode(upload.file.read()).decode("ascii")
        upload.file.seek(0)
    context["carried"] = CarriedFile(name[:200], upload.sha256, upload.size, data_text)
    return upload


def _problems(errors: dict[str, list[str]], mode: str | None) -> list[Problem]:
    """The error summary in the words of the page's labels ("Row 2, quantity: ...")."""
    return [_problem(path, " ".join(messages), mode) for path, messages in errors.items()]


def _problem(path: str, message: str, mode: str | None) -> Problem:
    parts = path.split(".")
    if parts[0] == "rows" and len(parts) > 1 and parts[1].isdigit():
        column = parts[2] if len(parts) > 2 else ""
        words = COLUMN_WORDS.get(column, column.replace("_", " "))
        where = f"Line {parts[1]} of the file" if mode == "csv" else f"Row {parts[1]}"
        text = f"{where}, {words}: {message}" if words else f"{where}: {message}"
        if mode == "csv":
            return Problem(text, "file")
        return Problem(text, f"rows-{parts[1]}-{column if column in COLUMNS else 'customer_id'}")
    if path == "_":  # a posted name that is no field: its message names it
        return Problem(message)
    named = {
        "attest": ("Attestation", f"attest-{mode}"),
        "reason": ("Reason for the amendment", f"reason-{mode}"),
        "amends": ("Amendment", None),
        "mode": ("Way of reporting", None),
        "action": ("Button", None),
        "carried_csv": ("Previewed file", "file"),
        "carried_name": ("Previewed file's name", "file"),
        "file": ("CSV file", "file"),
        "_body": ("The file" if mode == "csv" else "The report", "file" if mode == "csv" else None),
        "rows": ("Rows", "rows-1-customer_id" if mode == "form" else None),
    }
    label, anchor = named.get(path, (path.replace("_", " ").capitalize(), None))
    return Problem(f"{label}: {message}", anchor)


def _filed_message(filing: Filing) -> str:
    if filing.invoice_number:
        return f"Report filed. Invoice {filing.invoice_number} is issued for the royalty due."
    if filing.credit_notes:
        # One credit note read "Credit notes CN-... are issued.", with neither the
        # amount nor where it went: the vendor could not tell what was left to pay.
        notes = filing.credit_notes
        named = (
            f"credit note {notes[0]} is"
            if len(notes) == 1
            else f"credit notes {', '.join(notes)} are"
        )
        return (
            f"Report filed. The royalty is {-filing.total_due:,.2f} {filing.currency} lower: "
            f"{named} issued against the agreement's royalty invoices. Below, each "
            "names the invoice it lowers and what is left to pay on it, and any refund due."
        )
    return "Report filed. Nothing is due for this period."


@bp.route("/portal/royalty-reports/report/<int:report_id>")
@access.vendor
def portal_report(report_id: int) -> str:
    actor = current_actor()
    report = services.get_report(report_id, actor)
    filing = services.filing_of(report)
    return render_template(
        "royalties/report.html",
        filing=filing,
        **_review_and_people(report, actor),
        console=False,
        correction_due=correction_due_on(report, current_config().correction_due_days),
        today=_today(),  # a correction awaited past its day says so (round 52)
        invoice=_invoice_of(report),
        filed_late=_filed_late(report, filing.period.due_on),
        credit_notes=queries.credits_of(db.session(), report),
        refunds_owed=queries.refunds_owed_of(db.session(), report),
        amend_refused=_amend_refused(report),
        charges=_period_charges(report.agreement_id, report.period_start),
    )


def _amend_refused(report: RoyaltyReport) -> str | None:
    """Why the vendor's *Amend this report* is not offered on a current report: the
    amendment's refusal (round 59: the page offered it under an agreement that ended
    more than a year ago, and the period's page then refused the filing)."""
    if report.state != SUBMITTED:
        return None
    agreement = db.session().get(Agreement, report.agreement_id)
    assert agreement is not None
    return services.amendment_refusal(agreement, _today())


def _filed_late(report: RoyaltyReport, due_on: date) -> str | None:
    """How late a first filing came ("6 days late"), by the rule every page counts a
    report's lateness with (`lateness.late_from`): the console's queue said it, the
    report's own pages did not (round 51). None for one on time, and for an
    amendment (the queue says the period's first filing's)."""
    if report.amends_id is not None or report.id is None:
        return None
    agreement = db.session().get(Agreement, report.agreement_id)
    accepted = agreement.activated_at if agreement is not None else None
    days = (
        office_date(report.submitted_at)
        - late_from(due_on, office_date(accepted) if accepted else None)
    ).days
    return f"{counted(days, 'day')} late" if days > 0 else None


def _corrections_late(report: RoyaltyReport, actor: Actor) -> dict[str, Any]:
    """The report page's amendments, each with how late it came when it answered a
    correction after its day (round 53), in the words the wait for one used: the
    report this one amends (`correction_filed`, said where it was filed) and the one
    that amended it (`amended_by`, `correction_came`, said beside "Corrected by").
    Round 57: the request this amendment answers (`correction_asked`, said beside
    "Amends"): the analyst reviewing a corrected report read the licensee's reason
    alone, the note they had sent back on the superseded report a click away."""
    session = db.session()
    days = current_config().correction_due_days
    amended_by = services.amended_by(session, report.id)
    amended = session.get(RoyaltyReport, report.amends_id) if report.amends_id else None
    filed: CorrectionLate | None = (
        correction_filed_late(amended, report, days) if amended is not None else None
    )
    return {
        "amended_by": amended_by,
        "correction_filed": filed,
        "correction_came": correction_filed_late(report, amended_by, days),
        "correction_asked": _correction_asked(amended, actor),
    }


def _review_and_people(report: RoyaltyReport, actor: Actor) -> dict[str, Any]:
    """The report's review (`history`), its amendments (`_corrections_late`) and the
    people its page names (`people`): who filed it, who took each step and who asked
    for the correction an amendment answers, "Pat Lee (pat@...)" as pages name people
    (round 57: the address alone), read in one statement whatever the number of
    steps; by the account each step kept (round 58: by the address, which may have
    passed to someone else since), else the address. The licensee's page names the
    filer, the office for its steps (`review_history`)."""
    history = services.review_history(report, actor)
    corrections = _corrections_late(report, actor)
    steps = [*history, *filter(None, [corrections["correction_asked"]])]
    people = account_queries.people_of(
        db.session(),
        ids=[report.submitted_by_id, *(step.by_id for step in steps)],
        addresses=[step.by for step in steps],
    )
    return {"history": history, "people": people, **corrections}


def _correction_asked(amended: RoyaltyReport | None, actor: Actor) -> ReviewStep | None:
    """The office's latest request for a correction of `amended`, the report an
    amendment replaced, where that request was still awaited when it came."""
    if amended is None or amended.review_state != CORRECTION_REQUESTED:
        return None
    asked = [
        step
        for step in services.review_history(amended, actor)
        if step.step == CORRECTION_REQUESTED
    ]
    return asked[-1] if asked else None


def _invoice_of(report: RoyaltyReport) -> Invoice | None:
    """The invoice the report issued, for its state beside its number: whether the
    royalty is paid is what the billing contact comes to the report to learn."""
    return db.session().get(Invoice, report.invoice_id) if report.invoice_id else None


@bp.route("/portal/royalty-reports/<int:agreement_id>/<period_start>/template.csv")
@access.licensing_work
@document_rate_limit()
def portal_template(agreement_id: int, period_start: str) -> Response:
    return template_response(agreement_id, _start(period_start), current_actor())


@bp.route("/royalty-reports/report/<int:report_id>/rows.csv")
@access.allow(vendor=True, staff=("licensing", "billing"))
@document_rate_limit()
def report_rows(report_id: int) -> Response:
    return rows_response(report_id, current_actor())


def _midnight(day: date) -> datetime:
    """The first instant of `day` at the office (UTC midnight read "19:00" on the day
    before, when the period had not yet ended there)."""
    return datetime.combine(day, time.min, tzinfo=OFFICE_TIMEZONE).astimezone(UTC)


def _due_reports(
    session: Session, principal: Principal, organization: Organization
) -> Iterable[WaitingItem]:
    """Reports due or overdue (waiting on the vendor), and each agreement's next
    report when none of its reports is due yet: the first `REPORTS_NAMED` of each,
    the rest one line linking the vendor's list (round 52: a vendor with 2,000
    agreements had 2,000 lines here, read and drawn on every visit)."""
    named = queries.vendor_waiting_named(Actor.of(principal), _today(), REPORTS_NAMED)
    for status in named.waiting:
        report = status.report
        if report is not None and report.review_state == CORRECTION_REQUESTED:
            # Staff asked for a corrected report: only an email said so.
            due = correction_due_on(report, current_config().correction_due_days)
            yield WaitingItem(
                f"Royalty report {report.reference} for {status.agreement_number}, "
                f"{days_text(status.period.start, status.period.end)}: a correction is asked for",
                waiting_on=YOU,
                detail=f"Licensing staff ask: {end_sentence(report.review_note)} Amend the "
                + (
                    "report, saying what changed."
                    if due is None
                    else f"report by {day_text(due)}, saying what changed."
                    if due >= _today()
                    else f"report, saying what changed: it was due on {day_text(due)}."
                ),
                url=_period_link(status),
                since=report.reviewed_at,
            )
            continue
        since = _midnight(status.period.first_filing_day)
        if status.accepted_at is not None and status.accepted_at > since:
            # Nobody could file it before the acceptance: waiting since then, so the
            # reports a late acceptance leaves sort in period order, as they are filed.
            since = status.accepted_at
        detail = (
            f"Overdue: it was due on {day_text(status.due_on)}."
            if status.state == OVERDUE
            else f"Due by {day_text(status.due_on)}: {_days_left(status)}."
        )
        back = _back_report(status)
        if back is not None and status.accepted_at is not None:
            # A back report (round 50's walk: a past term accepted today read
            # "Overdue" since 2025).
            lead = "Overdue" if status.state == OVERDUE else "Due now"
            detail = f"{lead}: {back[0].lower()}{back[1:]}"
        hold = _hold_words(status)
        if hold is not None:
            detail = f"{detail} {hold}"
        yield WaitingItem(
            f"Royalty report for {status.agreement_number}, "
            f"{days_text(status.period.start, status.period.end)}",
            waiting_on=YOU,
            detail=detail,
            url=_period_link(status),
            since=since,
        )
    more = named.waiting_count - len(named.waiting)
    if more > 0:
        yield WaitingItem(
            f"{counted(more, 'more royalty report')} to file or correct",
            waiting_on=YOU,
            detail="Those above are the first; the list of royalty reports shows them all, "
            "those sent back for correction first, then the longest late.",
            url=url_for("royalties.portal_reports"),
        )
    for status in named.upcoming:
        yield WaitingItem(
            f"Next royalty report for {status.agreement_number}, "
            f"{days_text(status.period.start, status.period.end)}",
            waiting_on=f"you, from {day_text(status.period.first_filing_day)}",
            detail=f"Due by {day_text(status.due_on)}.",
            url=_period_link(status),
        )
    more = named.upcoming_count - len(named.upcoming)
    if more > 0:
        yield WaitingItem(
            f"{counted(more, 'more agreement')} with a royalty report to come",
            waiting_on="you, once each period ends",
            detail="Those above are the first; the list of royalty reports shows every period.",
            url=url_for("royalties.portal_reports"),
        )


# The reports the vendor dashboard names of each kind (waiting, and the next ones of
# agreements with none waiting); the rest are counted, as its applications are
# (`agreements.views.WAITING_NAMED`) and its invoices (`billing.views.OWED_NAMED`).
REPORTS_NAMED = 5


def _days_left(status: services.PeriodStatus) -> str:
    """A due report's days left to its last day on time, as the console's queue counts
    them (round 51: the dashboard said the date alone)."""
    days = (status.late_from - _today()).days
    return f"{counted(days, 'day')} left" if days > 0 else "today is the last day"


def _hold_words(status: services.PeriodStatus) -> str | None:
    """For an unfiled overdue report, how late it is (a back report's words say it
    already) and what it holds: from `OVERDUE_STANDING_DAYS` after the day it is late
    from, it counts like an overdue invoice (`pending_payment`), as the reminders say
    (round 51: the dashboard said "Overdue" and nothing of the day the organization
    would be held, which the email alone told)."""
    if status.report is not None or status.state != OVERDUE:
        return None
    today = _today()
    held_after = status.late_from + timedelta(days=current_config().overdue_standing_days)
    late = (
        ""
        if status.back_report
        else (f"It is {counted((today - status.late_from).days, 'day')} overdue")
    )
    if today > held_after:
        consequence = (
            "it counts like an overdue invoice: your organization cannot apply for new "
            "licenses until it is filed."
        )
        return f"{late}, so {consequence}" if late else consequence[:1].upper() + consequence[1:]
    consequence = (
        f"file it by {day_text(held_after)}, or from the next day it counts like an "
        "overdue invoice and your organization cannot apply for new licenses until it is filed."
    )
    return f"{late}: {consequence}" if late else consequence[:1].upper() + consequence[1:]


def _back_report(status: services.PeriodStatus) -> str | None:
    """For a report whose due date passed before its agreement was accepted (a term
    already under way or over, round 50): nobody could file it by then, and its
    lateness counts from the acceptance (`lateness.late_from`), as this says; its
    state (`due` on the acceptance's day, `overdue` after) counts so too."""
    if not status.back_report or status.accepted_on is None:
        return None
    accepted = day_text(status.accepted_on)
    return f"Its due date, {day_text(status.due_on)}, passed before the agreement was " + (
        f"accepted on {accepted}, so it was due from the acceptance: it is "
        f"{counted((_today() - status.late_from).days, 'day')} overdue."
        if status.state == OVERDUE
        else f"accepted on {accepted}, so it is due from the acceptance."
    )


def _period_link(status: services.PeriodStatus) -> str:
    return url_for(
        "royalties.portal_period",
        agreement_id=status.agreement_id,
        period_start=status.period.start.isoformat(),
    )


# --- staff console ----------------------------------------------------------------------------


def _page_of(listing: queries.Listing) -> paging.Page[services.PeriodStatus]:
    """The request's page of a period listing: counted and read by the database,
    only the page's rows fetched and turned into statuses."""
    session = db.session()
    around = listing.around(session)
    return paging.read_page(
        session,
        listing.rows,
        rows=listing.statuses(session, (paging.LIMIT, paging.OFFSET)),
        count=listing.count,
        parameters=listing.parameters,
        seek=(
            None
            if around is None
            else paging.Seek(_period_key, around, backwards=listing.seeks_backwards)
        ),
    )


def _period_key(status: services.PeriodStatus) -> int:
    """The id a period's row is found again by (a list read by key links it)."""
    assert status.period_id is not None
    return status.period_id


def staff_queue_page(
    actor: Actor, chosen: queries.QueueFilter, today: date
) -> paging.Page[services.PeriodStatus]:
    """The request's page of the staff queue (`queries.staff_queue_listing`)."""
    return _page_of(queries.staff_queue_listing(actor, chosen, today))


def vendor_periods_page(
    actor: Actor, today: date, *, state: str | None = None
) -> paging.Page[services.PeriodStatus]:
    """The request's page of the vendor's periods (`queries.vendor_periods_listing`)."""
    return _page_of(queries.vendor_periods_listing(actor, today, state=state))


def _queue_filter() -> queries.QueueFilter:
    organization = request.args.get("organization", "").strip()
    period = request.args.get("period", "").strip()
    try:
        period_start = parse_day(period) if period else None
    except ValueError:
        period_start = None
    state = request.args.get("state", "").strip()
    return queries.QueueFilter(
        state=state if state in QUEUE_STATES else None,
        agreement=request.args.get("agreement", "").strip()[:40] or None,
        # ASCII digits only: "²" is a digit to str.isdigit() and a ValueError to int().
        organization_id=record_id(organization),
        period_start=period_start,
    )


@bp.route("/console/royalty-reports")
@access.staff("licensing", "billing")
def console_queue() -> tuple[str, int]:
    """The queue a page at a time: the periods, their count and the filters' choices
    are read by the database from the stored periods (`staff_queue_page`)."""
    actor = current_actor()
    chosen = _queue_filter()
    today = _today()
    # A filter given twice is refused beside its field, nothing listed (`arguments`).
    refused = arguments.repeated(request.args, labels=QUEUE_FILTERS)
    # A state the filter does not offer listed every state unsaid.
    unread = (
        {}
        if refused
        else arguments.unknown_choice(request.args, "state", QUEUE_STATES, QUEUE_FILTERS["state"])
    )
    listed = None if refused or unread else staff_queue_page(actor, chosen, today)
    statuses = listed.items if listed else []
    flagged = queries.flagged_reports()
    choices = queries.queue_choices(actor, flagged)
    return render_template(
        "royalties/console_queue.html",
        statuses=statuses,
        page=listed,
        filter_errors=refused or unread,
        filter_labels=QUEUE_FILTERS,
        flagged=flagged,
        correction_due={
            report.id: correction_due_on(report, current_config().correction_due_days)
            for report in flagged
        },
        review_levels=_review_levels(flagged, utcnow()),
        documents_of=_documents_of(statuses),
        charges_of=_charges_of(statuses),
        agreements=choices.agreements,
        chosen=chosen,
        organizations=choices.organizations,
        periods=choices.periods,
        period_states=QUEUE_STATES,
        today=today,
        # This year's numbers as the example, from the numbers' own format.
        agreement_example=references.AGREEMENT.of_year(today.year),
    ), (400 if refused else 422 if unread else 200)


def _review_levels(
    flagged: Iterable[RoyaltyReport], now: datetime
) -> dict[int, queries.ReviewLevel]:
    """The service level of each report waiting for staff review (round 53), by id."""
    target = current_config().royalty_review_sla_days
    levels = (
        (report.id, queries.review_level(report, now, target_days=target)) for report in flagged
    )
    return {report_id: level for report_id, level in levels if level is not None}


# The queue's filters; each takes one value. Each one's label: the queue's form
# draws them from here, and a refusal names the field by them (`arguments`).
QUEUE_FILTERS = {
    "state": "State",
    "agreement": "Agreement number",
    "organization": "Organization",
    "period": "Period",
}


@bp.route("/console/royalty-reports/<int:report_id>", methods=["GET", "POST"])
@access.staff("licensing", "billing")
@shows_unstorable_on_form
def console_report(report_id: int) -> Page:
    actor = current_actor()
    errors: dict[str, list[str]] = {}
    note = ""
    status = 200  # a refused review comes back with its message and a 4xx
    if request.method == "POST":
        posted = forms.ReviewForm()
        stored = posted.validate()  # else a character no database stores: told beside it
        note = posted.note.data or ""
        try:
            if not stored:
                raise InvalidInput("Some fields need correcting.", forms.field_errors(posted))
            report = services.review(
                report_id,
                posted.action.data or "",
                actor,
                note=note,
                correction_due_days=current_config().correction_due_days,
            )
            flash(_reviewed_message(report), "success")
            return redirect(url_for("royalties.console_report", report_id=report_id))
        except InvalidInput as problem:
            errors, status = problem.errors, 422
        except Conflict as refused:
            flash(said_to_the_reader(refused), "error")
            status = 409
    report = services.get_report(report_id, actor)
    filing = services.filing_of(report)
    return render_template(
        "royalties/report.html",
        filing=filing,
        **_review_and_people(report, actor),
        console=True,
        correction_due=correction_due_on(report, current_config().correction_due_days),
        today=_today(),  # a correction awaited past its day says so (round 52)
        organization=db.session().get(Organization, report.organization_id),
        invoice=_invoice_of(report),
        filed_late=_filed_late(report, filing.period.due_on),
        credit_notes=queries.credits_of(db.session(), report),
        refunds_owed=queries.refunds_owed_of(db.session(), report),
        charges=_period_charges(report.agreement_id, report.period_start),
        review_actions=services.review_actions(report),
        errors=errors,
        note=note,
    ), status


def _reviewed_message(report: RoyaltyReport) -> str:
    """What the review did and what the licensee meets next (round 53: "asked, by
    email" named neither whom nor by when; an application's decisions name both)."""
    if report.review_state == CORRECTION_REQUESTED:
        session = db.session()
        organization = session.get(Organization, report.organization_id)
        assert organization is not None
        whom = account_queries.organization_told(session, organization).whom
        due = correction_due_on(report, current_config().correction_due_days)
        by = f": the corrected report is due by {day_text(due)}" if due else ""
        return f"A corrected report is asked for. We emailed {whom} your note{by}."
    if report.review_note:
        return (
            "The report is marked reviewed. Nobody is emailed: the licensee reads your note "
            "in the report's review."
        )
    return "The report is marked reviewed. Nobody is emailed."


def _report_queue(session: Session, principal: Principal, now: datetime) -> Iterable[QueueSummary]:
    waiting = queries.waiting_reports(Actor.of(principal), office_date(now), session)
    yield QueueSummary(
        "Royalty reports due or overdue",
        count=waiting.count,
        endpoint="royalties.console_queue",
        attention=waiting.overdue,
        attention_label="overdue",
        # The day the queue's first report is late from, the queue's own order: a
        # back report's due date may be months before it (round 52).
        oldest_due=waiting.first_late_from,
    )
    # Round 54: the row counted and highlighted the reports sent back for correction
    # too, which wait on the licensee: only those waiting for staff review are the
    # office's work; the others are said apart.
    flagged = queries.flagged_reports(session)
    to_review = [report for report in flagged if report.review_state == FLAGGED]
    sent_back = len(flagged) - len(to_review)
    levels = _review_levels(to_review, now)
    target = current_config().royalty_review_sla_days
    past = sum(1 for level in levels.values() if level.overdue)
    # Round 59: and those near it (the list is the oldest filed first).
    soon = due_soon_by(now)
    near = sum(1 for level in levels.values() if not level.overdue and level.due_at < soon)
    said = [f"{past} past the service level of {target} US business days."] if to_review else []
    if sent_back:
        waits = "waits on the licensee" if sent_back == 1 else "wait on the licensees"
        said.append(f"{counted(sent_back, 'report')} sent back for correction {waits}.")
    yield QueueSummary(
        "Flagged royalty reports to review",
        count=len(to_review),
        endpoint="royalties.console_queue",
        params={"_anchor": "flagged-heading"},
        attention=len(to_review),
        attention_label="to review",
        oldest=to_review[0].submitted_at if to_review else None,
        # Round 53: as the applications' row says theirs.
        detail=" ".join(said),
        due_soon=near,
        due_soon_params={"_anchor": "flagged-heading"},
    )


def _organization_reports(session: Session, organization_id: int, limit: int) -> dict[str, Any]:
    return {
        "reports": queries.reports_of(session, organization_id, limit),
        "reports_total": queries.report_count_of(session, organization_id),
    }


def register_dashboard_items() -> None:
    """The vendor dashboard's due reports, the console home's report queue and the
    organization page's reports (called by `licensing.royalties.init_app`;
    registering twice is a no-op)."""
    waiting_provider(_due_reports, when=queries.any_periods, step="royalties.portal_period")
    queue_summary(_report_queue)
    organization_section("royalties.console_report")(_organization_reports)
