"""Royalty report pages: the vendor portal's periods, filing (a form row by row,
a CSV upload of the template, or a nil report) with a preview first; the staff
console's queue and review of flagged reports."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from licensing import access, db
from licensing.access import Principal
from licensing.accounts.models import Organization
from licensing.actors import Actor
from licensing.api.royalty_reports import rows_response, template_response
from licensing.calendar import office_date
from licensing.db import utcnow
from licensing.errors import Conflict, InvalidInput, NotFound
from licensing.royalties import queries, services
from licensing.royalties.rows import COLUMNS, Upload, csv_submission, form_submission
from licensing.royalties.services import Filing
from licensing.royalties.states import DUE, OVERDUE, REVIEW, SUBMITTED
from licensing.web.console import QueueSummary, queue_summary
from licensing.web.portal import YOU, WaitingItem, waiting_provider

bp = Blueprint("royalties", __name__)

# A previewed CSV upload is carried to the submit button in the page, up to this size;
# larger files are submitted directly (or through the API).
CARRIED_CSV_MAX = 2 * 1024 * 1024
# Blank rows the form offers, and how many more "Add rows" gives.
BLANK_ROWS = 3
MORE_ROWS = 5

Page = str | Response


def _actor() -> Actor:
    return Actor.of(access.require_principal())


def _start(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise NotFound("There is no such reporting period.") from None


def _today() -> date:
    return office_date(utcnow())


# --- vendor portal ----------------------------------------------------------------------------


@bp.route("/portal/royalty-reports")
@access.vendor
def portal_reports() -> str:
    """Every reporting period of the organization's agreements."""
    statuses = services.all_periods(_actor())
    return render_template(
        "royalties/portal_reports.html",
        statuses=sorted(statuses, key=lambda s: (s.state == SUBMITTED, s.due_on)),
        today=_today(),
    )


@bp.route("/portal/royalty-reports/<int:agreement_id>/<period_start>", methods=["GET", "POST"])
@access.vendor
def portal_period(agreement_id: int, period_start: str) -> Page:
    """One period: its current report, and filing or amending it."""
    actor = _actor()
    start = _start(period_start)
    agreement, statuses = services.agreement_periods(agreement_id, actor)
    status = next((s for s in statuses if s.period.start == start), None)
    if status is None:
        raise NotFound("There is no such reporting period.")
    obligation = services.obligations(db.session(), agreement)
    context: dict[str, Any] = {
        "agreement": agreement,
        "status": status,
        "obligation": obligation,
        "rows": _blank_rows(BLANK_ROWS),
        "errors": {},
        "filing": None,
        "carried_csv": None,
        "mode": "form",
        "columns": COLUMNS,
        "reason": "",
    }
    if request.method == "POST":
        outcome = _post_filing(agreement_id, start, actor, status, context)
        if outcome is not None:
            return outcome
    return render_template("royalties/portal_period.html", **context)


def _blank_rows(count: int) -> list[dict[str, str]]:
    return [dict.fromkeys(COLUMNS, "") for _ in range(count)]


def _form_rows() -> list[dict[str, str]]:
    """Rows typed into the form (`rows-N-column`), blank ones left out."""
    numbers = sorted(
        {
            int(key.split("-")[1])
            for key in request.form
            if key.startswith("rows-") and key.count("-") == 2 and key.split("-")[1].isdigit()
        }
    )
    rows = []
    for number in numbers[:500]:
        row = {
            column: request.form.get(f"rows-{number}-{column}", "").strip() for column in COLUMNS
        }
        if any(row.values()):
            rows.append(row)
    return rows


def _post_filing(
    agreement_id: int, start: date, actor: Actor, status: Any, context: dict[str, Any]
) -> Response | None:
    action = request.form.get("action", "preview")
    mode = request.form.get("mode", "form")
    attest = request.form.get("attest") == "yes" or None
    reason = request.form.get("reason", "").strip()
    amends = status.report.id if status.report is not None and request.form.get("amend") else None
    context.update(mode=mode, reason=reason)
    rows = _form_rows() if mode == "form" else []
    context["rows"] = rows + _blank_rows(BLANK_ROWS)
    if action == "add_rows":
        context["rows"] = rows + _blank_rows(MORE_ROWS)
        return None
    submission = _submission(
        mode, rows, attest=attest, amends=amends, reason=reason, context=context
    )
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
        return None
    except Conflict as refused:
        flash(refused.detail, "error")
        return None
    finally:
        submission.upload.close()
    flash(_filed_message(filing), "success")
    assert filing.report is not None
    return redirect(url_for("royalties.portal_report", report_id=filing.report.id))


def _submission(
    mode: str,
    rows: list[dict[str, str]],
    *,
    attest: Any,
    amends: int | None,
    reason: str,
    context: dict[str, Any],
) -> Any:
    amendment = {"amends": amends, "reason": reason or None}
    if mode == "nil":
        return form_submission([], attest=attest, **amendment)
    if mode == "form":
        return form_submission(rows, attest=attest, **amendment)
    upload = request.files.get("file")
    if upload is not None and upload.filename:
        spooled = Upload.read(upload.stream)
    elif request.form.get("carried_csv"):
        spooled = Upload.of_bytes(request.form["carried_csv"].encode("utf-8"))
    else:
        context["errors"] = {"file": ["Choose the CSV file to upload."]}
        return None
    if spooled.size <= CARRIED_CSV_MAX:
        spooled.file.seek(0)
        context["carried_csv"] = spooled.file.read().decode("utf-8", errors="replace")
        spooled.file.seek(0)
    return csv_submission(spooled, attest=attest, **amendment)


def _filed_message(filing: Filing) -> str:
    if filing.invoice_number:
        return f"Report filed. Invoice {filing.invoice_number} is issued for the royalty due."
    if filing.credit_notes:
        return f"Report filed. Credit notes {', '.join(filing.credit_notes)} are issued."
    return "Report filed. Nothing is due for this period."


@bp.route("/portal/royalty-reports/report/<int:report_id>")
@access.vendor
def portal_report(report_id: int) -> str:
    report = services.get_report(report_id, _actor())
    return render_template(
        "royalties/report.html", filing=services.filing_of(report), console=False
    )


@bp.route("/portal/royalty-reports/<int:agreement_id>/<period_start>/template.csv")
@access.vendor
def portal_template(agreement_id: int, period_start: str) -> Response:
    return template_response(agreement_id, _start(period_start), _actor())


@bp.route("/royalty-reports/report/<int:report_id>/rows.csv")
@access.allow(vendor=True, staff=("licensing", "billing"))
def report_rows(report_id: int) -> Response:
    return rows_response(report_id, _actor())


@waiting_provider
def _due_reports(
    session: Session, principal: Principal, organization: Organization
) -> Iterable[WaitingItem]:
    for status in services.all_periods(Actor.of(principal)):
        if status.state in (DUE, OVERDUE):
            yield WaitingItem(
                f"Royalty report for {status.agreement_number}, {status.period.label}",
                waiting_on=YOU,
                detail=f"{status.state}: due {status.due_on.isoformat()}",
                url=url_for(
                    "royalties.portal_period",
                    agreement_id=status.agreement_id,
                    period_start=status.period.start.isoformat(),
                ),
                since=datetime.combine(status.period.first_filing_day, datetime.min.time()).replace(
                    tzinfo=utcnow().tzinfo
                ),
            )


# --- staff console ----------------------------------------------------------------------------


def _queue_filter() -> queries.QueueFilter:
    organization = request.args.get("organization", "").strip()
    period = request.args.get("period", "").strip()
    try:
        period_start = date.fromisoformat(period) if period else None
    except ValueError:
        period_start = None
    return queries.QueueFilter(
        state=request.args.get("state", "").strip() or None,
        agreement=request.args.get("agreement", "").strip() or None,
        organization_id=int(organization)
        if organization.isdigit() and len(organization) < 10
        else None,
        period_start=period_start,
    )


@bp.route("/console/royalty-reports")
@access.staff("licensing", "billing")
def console_queue() -> str:
    chosen = _queue_filter()
    statuses = queries.staff_queue(_actor(), chosen)
    organizations = {(s.organization_id, s.organization_name) for s in statuses}
    return render_template(
        "royalties/console_queue.html",
        statuses=statuses,
        flagged=queries.flagged_reports(),
        chosen=chosen,
        organizations=sorted(organizations, key=lambda item: item[1]),
        today=_today(),
    )


@bp.route("/console/royalty-reports/<int:report_id>", methods=["GET", "POST"])
@access.staff("licensing", "billing")
def console_report(report_id: int) -> Page:
    actor = _actor()
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        try:
            services.review(
                report_id, request.form.get("action", ""), actor, note=request.form.get("note")
            )
            flash("The review is recorded.", "success")
            return redirect(url_for("royalties.console_report", report_id=report_id))
        except InvalidInput as problem:
            errors = problem.errors
        except Conflict as refused:
            flash(refused.detail, "error")
    report = services.get_report(report_id, actor)
    return render_template(
        "royalties/report.html",
        filing=services.filing_of(report),
        console=True,
        review_actions=REVIEW.allowed(report.review_state),
        errors=errors,
    )


@queue_summary
def _report_queue(session: Session, principal: Principal, now: datetime) -> Iterable[QueueSummary]:
    statuses = services.all_periods(Actor.of(principal), now=now)
    overdue = [s for s in statuses if s.state == OVERDUE]
    due = [s for s in statuses if s.state == DUE]
    flagged = queries.flagged_reports(session)
    yield QueueSummary(
        "Royalty reports due or overdue",
        count=len(overdue) + len(due),
        endpoint="royalties.console_queue",
        attention=len(overdue),
        attention_label="overdue",
        detail=f"{len(flagged)} flagged report(s) wait for review" if flagged else "",
    )
