"""Royalty report use cases: filing (and previewing) a period's report, amending
it, staff review of flagged reports. Each public function owns its transaction
and takes the `Actor` who acts.

Filing, in one transaction (the agreement's row locked, so two filings of one
agreement take turns):

1. check the period may be reported (in order, after it ends, once unless amended);
2. the line's charged to date `C` before this filing (from the current reports);
3. supersede the amended report, store the new one and its rows, checking each
   row (every problem at once; nothing is stored when any row is bad);
4. the royalty of each reportable line after this filing, to the last reported
   period (`computation.Pricer`: a quote of the line's use with the usage to date);
5. the net change in `C` is invoiced (one invoice) or credited (credit notes
   against the agreement's royalty invoices, newest first).

A preview runs the same steps and rolls everything back.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, insert, select, type_coerce
from sqlalchemy.orm import Session

from licensing import db
from licensing.accounts import queries as account_queries
from licensing.accounts import services as accounts
from licensing.accounts.models import Organization
from licensing.accounts.states import ACTIVE
from licensing.actors import Actor
from licensing.agreements.models import Agreement
from licensing.audit import services as audit
from licensing.billing import services as billing
from licensing.billing.models import Invoice
from licensing.billing.states import COLLECTIBLE, PAID, ROYALTY_REPORT
from licensing.calendar import office_date
from licensing.db import Money, utcnow
from licensing.errors import Conflict, InvalidInput, NotFound
from licensing.mail import services as mail
from licensing.money import format_amount
from licensing.pricing import Quote
from licensing.ratecards import queries as ratecard_queries

from .computation import LineRoyalty, Pricer, ReportableLine, Usage, reportable_lines
from .models import (
    LINE_REVENUE_MAX,
    REASON_MAX,
    REVIEW_NOTE_MAX,
    RoyaltyReminder,
    RoyaltyReport,
    RoyaltyReportLine,
    RoyaltyReportRow,
)
from .periods import Period, period_starting, reporting_periods
from .rows import Problems, Row, Submission, check_row
from .states import (
    CLEAR,
    DUE,
    FLAGGED,
    OVERDUE,
    REPORT,
    REVIEW,
    SUBMITTED,
    UPCOMING,
)

# Agreements whose reports may be filed: active ones, and expired ones for their
# last periods.
REPORTING_STATES = ("active", "expired")
# An amendment of a period of an agreement that ended longer ago is refused.
AMENDMENT_WINDOW = timedelta(days=365)
# Rows stored per INSERT.
BATCH = 5000
# Anomalies: a drop larger than this share against the previous period, and a
# last-period usage below this share of the application's estimate.
DROP_SHARE = Decimal("0.2")
ESTIMATE_SHARE = Decimal("0.5")


# --- what an agreement must report ------------------------------------------------------------


@dataclass(frozen=True)
class Obligations:
    """An agreement's reporting duties: its periods, reportable lines and pricer."""

    agreement: Agreement
    periods: tuple[Period, ...]
    lines: tuple[ReportableLine, ...]
    pricer: Pricer
    product_names: Mapping[int, str]

    @property
    def currency(self) -> str:
        return self.agreement.currency

    def line(self, number: int) -> ReportableLine:
        return next(line for line in self.lines if line.number == number)

    def period(self, start: date) -> Period:
        found = period_starting(self.periods, start)
        if found is None:
            starts = ", ".join(p.start.isoformat() for p in self.periods)
            raise NotFound(
                f"Agreement {self.agreement.number} has no reporting period starting "
                f"{start.isoformat()} (its periods start {starts})."
            )
        return found


def obligations(session: Session, agreement: Agreement) -> Obligations:
    quote = Quote.from_snapshot(agreement.quote.snapshot)
    card = ratecard_queries.domain_card(ratecard_queries.get(session, agreement.rate_card))
    lines = reportable_lines(quote, card)
    organization_type = (
        quote.request.organization_type
        if quote.request is not None
        else agreement.organization.organization_type
    )
    uses = agreement.application.uses
    names = {line.number: uses[line.use_index].product_name for line in lines}
    periods = reporting_periods(agreement.term_start, agreement.term_end) if lines else ()
    pricer = Pricer(card, organization_type, agreement.term_start, agreement.term_end)
    return Obligations(agreement, periods, lines, pricer, names)


def _agreement(session: Session, agreement_id: int, actor: Actor, *, lock: bool) -> Agreement:
    statement = select(Agreement).where(Agreement.id == agreement_id)
    if lock:
        statement = statement.with_for_update()
    agreement = session.scalars(statement).one_or_none()
    if agreement is None or not actor.may_see(agreement.organization_id):
        raise NotFound(f"There is no agreement {agreement_id}.")
    return agreement


def current_reports(session: Session, agreement_id: int) -> dict[date, RoyaltyReport]:
    reports = session.scalars(
        select(RoyaltyReport).where(
            RoyaltyReport.agreement_id == agreement_id, RoyaltyReport.state == SUBMITTED
        )
    )
    return {report.period_start: report for report in reports}


# --- the periods of an agreement --------------------------------------------------------------


@dataclass(frozen=True)
class PeriodStatus:
    agreement_id: int
    agreement_number: str
    organization_id: int
    organization_name: str
    period: Period
    state: str
    report: RoyaltyReport | None
    invoice_number: str | None

    @property
    def due_on(self) -> date:
        return self.period.due_on


def period_state(period: Period, report: RoyaltyReport | None, today: date) -> str:
    if report is not None:
        return SUBMITTED
    if today < period.first_filing_day:
        return UPCOMING
    return DUE if today <= period.due_on else OVERDUE


def _statuses(session: Session, obligation: Obligations, today: date) -> list[PeriodStatus]:
    agreement = obligation.agreement
    reports = current_reports(session, agreement.id)
    invoices = _invoice_numbers(session, [r.invoice_id for r in reports.values() if r.invoice_id])
    return [
        PeriodStatus(
            agreement.id,
            agreement.number,
            agreement.organization_id,
            agreement.organization.legal_name,
            period,
            period_state(period, reports.get(period.start), today),
            reports.get(period.start),
            invoices.get(reports[period.start].invoice_id or 0)
            if period.start in reports
            else None,
        )
        for period in obligation.periods
    ]


def _invoice_numbers(session: Session, ids: Sequence[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.execute(select(Invoice.id, Invoice.number).where(Invoice.id.in_(ids)))
    return {row.id: row.number or "" for row in rows}


def agreement_periods(
    agreement_id: int, actor: Actor, *, now: datetime | None = None
) -> tuple[Agreement, list[PeriodStatus]]:
    """Every reporting period of an agreement, with its state and current report."""
    today = office_date(now or utcnow())
    session = db.session()
    agreement = _agreement(session, agreement_id, actor, lock=False)
    return agreement, _statuses(session, obligations(session, agreement), today)


def reporting_agreements(session: Session, organization_id: int | None = None) -> list[Agreement]:
    statement = select(Agreement).where(Agreement.state.in_(REPORTING_STATES))
    if organization_id is not None:
        statement = statement.where(Agreement.organization_id == organization_id)
    return list(session.scalars(statement.order_by(Agreement.term_start, Agreement.id)))


def all_periods(
    actor: Actor, *, now: datetime | None = None, organization_id: int | None = None
) -> list[PeriodStatus]:
    """The reporting periods of every agreement the actor may see."""
    today = office_date(now or utcnow())
    session = db.session()
    if actor.is_vendor:
        organization_id = actor.organization_id
    statuses: list[PeriodStatus] = []
    for agreement in reporting_agreements(session, organization_id):
        statuses.extend(_statuses(session, obligations(session, agreement), today))
    return statuses


# --- usage to date ----------------------------------------------------------------------------


def _usage(
    session: Session,
    obligation: Obligations,
    line: ReportableLine,
    through: int,
    pending_revenue: Decimal | None = None,
) -> Usage:
    """Usage of `line` over the current reports of periods 1..`through`: per unit,
    each customer's largest quantity summed over customers; revenue summed."""
    agreement_id = obligation.agreement.id
    largest = (
        select(
            RoyaltyReportRow.unit.label("unit"),
            func.max(RoyaltyReportRow.quantity).label("quantity"),
        )
        .join(RoyaltyReport, RoyaltyReport.id == RoyaltyReportRow.report_id)
        .where(
            RoyaltyReport.agreement_id == agreement_id,
            RoyaltyReport.state == SUBMITTED,
            RoyaltyReport.period_index <= through,
            RoyaltyReportRow.line == line.number,
            RoyaltyReportRow.unit != "",
        )
        .group_by(RoyaltyReportRow.unit, RoyaltyReportRow.customer_key)
        .subquery()
    )
    totals = {
        row.unit: (int(row.quantity or 0), int(row.customers))
        for row in session.execute(
            select(
                largest.c.unit,
                func.sum(largest.c.quantity).label("quantity"),
                func.count().label("customers"),
            ).group_by(largest.c.unit)
        )
    }
    revenue = None
    if line.takes_revenue:
        reported = session.scalar(
            select(type_coerce(func.sum(RoyaltyReportLine.revenue_reported), Money()))
            .join(RoyaltyReport, RoyaltyReport.id == RoyaltyReportLine.report_id)
            .where(
                RoyaltyReport.agreement_id == agreement_id,
                RoyaltyReport.state == SUBMITTED,
                RoyaltyReport.period_index <= through,
                RoyaltyReportLine.line == line.number,
            )
        )
        revenue = (reported or Decimal(0)) + (pending_revenue or Decimal(0))
    return Usage(
        quantities={unit: totals.get(unit, (0, 0))[0] for unit in line.units},
        customers={unit: totals.get(unit, (0, 0))[1] for unit in line.units},
        revenue=revenue,
    )


def _charged_to_date(session: Session, obligation: Obligations, last: int) -> dict[int, Decimal]:
    """`C_last` of every line: the up-front amount when nothing is reported yet."""
    charged = {}
    for line in obligation.lines:
        if last == 0:
            charged[line.number] = line.up_front
        else:
            usage = _usage(session, obligation, line, last)
            charged[line.number] = obligation.pricer.charged_to_date(line, usage)
    return charged


def _last_reported(reports: Mapping[date, RoyaltyReport]) -> int:
    return max((report.period_index for report in reports.values()), default=0)


# --- filing -----------------------------------------------------------------------------------


@dataclass
class Filing:
    """A report's computation: what preview shows and submit stores."""

    agreement_number: str
    period: Period
    currency: str
    amends: int | None
    lines: list[LineRoyalty]
    flags: list[str] = field(default_factory=list)
    report: RoyaltyReport | None = None
    invoice_number: str | None = None
    credit_notes: list[str] = field(default_factory=list)

    @property
    def total_due(self) -> Decimal:
        return sum((line.due for line in self.lines), Decimal(0))


class _Preview(Exception):
    """Carries a preview's result out of its transaction, which then rolls back."""

    def __init__(self, filing: Filing) -> None:
        self.filing = filing


def preview(
    agreement_id: int,
    period_start: date,
    submission: Submission,
    actor: Actor,
    *,
    now: datetime | None = None,
) -> Filing:
    """The computation of a report, storing nothing."""
    try:
        with db.transaction() as session:
            filing = _file(session, agreement_id, period_start, submission, actor, now, True)
            raise _Preview(filing)
    except _Preview as done:
        return done.filing


def submit(
    agreement_id: int,
    period_start: date,
    submission: Submission,
    actor: Actor,
    *,
    now: datetime | None = None,
) -> Filing:
    """File (or, with `amends`, amend) a period's report; the royalty follows at once."""
    with db.transaction() as session:
        return _file(session, agreement_id, period_start, submission, actor, now, False)


def _file(
    session: Session,
    agreement_id: int,
    period_start: date,
    submission: Submission,
    actor: Actor,
    now: datetime | None,
    previewing: bool,
) -> Filing:
    moment = now or utcnow()
    if actor.is_staff:
        raise Conflict("Reports are filed by the licensee's users, who attest to them.")
    agreement = _agreement(session, agreement_id, actor, lock=True)
    obligation = obligations(session, agreement)
    if not obligation.lines:
        raise Conflict(
            f"Agreement {agreement.number} has no usage-based lines, so it has no royalty reports."
        )
    period = obligation.period(period_start)
    _check_submission(submission, previewing)
    reports = current_reports(session, agreement.id)
    amended = _check_period(session, obligation, period, reports, submission, moment)
    last_before = _last_reported(reports)
    charged_before = _charged_to_date(session, obligation, last_before)
    if amended is not None:
        REPORT.apply(
            session, amended, "supersede", actor=actor, note=_reason(submission.reason), at=moment
        )
    report = RoyaltyReport(
        agreement_id=agreement.id,
        organization_id=agreement.organization_id,
        period_index=period.index,
        period_start=period.start,
        period_end=period.end,
        state=SUBMITTED,
        review_state=CLEAR,
        amends_id=amended.id if amended else None,
        amendment_reason=_reason(submission.reason) if amended else None,
        source=submission.source,
        file_sha256=submission.upload.sha256,
        currency=agreement.currency,
        total_due=Decimal(0),
        submitted_by_id=actor.user_id,
        submitted_by=actor.name,
        submitted_at=moment,
    )
    session.add(report)
    session.flush()
    revenue = _store_rows(session, report, obligation, submission)
    last = max(last_before, period.index)
    filing = Filing(
        agreement.number,
        period,
        agreement.currency,
        amended.id if amended else None,
        lines=[
            obligation.pricer.royalty(
                line,
                _usage(session, obligation, line, last, revenue.get(line.number)),
                charged_before[line.number],
            )
            for line in obligation.lines
        ],
    )
    filing.flags = _anomalies(session, obligation, report, filing, last)
    if previewing:
        return filing
    _store_lines(session, report, filing, revenue)
    report.total_due = filing.total_due
    report.flags_json = json.dumps(filing.flags)
    report.review_state = FLAGGED if filing.flags else CLEAR
    filing.report = report
    _settle_the_change(session, obligation, report, filing, actor, moment)
    audit.record(
        session,
        action="royalty_report.submitted" if amended is None else "royalty_report.amended",
        entity_type="royalty_report",
        entity_id=report.id,
        before=None if amended is None else {"current_report": amended.id},
        after={
            **report.snapshot(),
            "agreement": agreement.number,
            "invoice": filing.invoice_number,
            "credit_notes": filing.credit_notes,
            "flags": len(filing.flags),
        },
        note=report.amendment_reason,
        actor=actor.name,
        actor_user_id=actor.user_id,
    )
    _after_filing(session, agreement, report, filing, moment)
    return filing


def _reason(reason: Any) -> str:
    return reason.strip() if isinstance(reason, str) else ""


def _check_submission(submission: Submission, previewing: bool) -> None:
    problems = dict(submission.problems)
    if not previewing and submission.attest is not True:
        problems.setdefault("attest", []).append(
            "Attest that the report is complete and accurate (attest: true)."
        )
    if submission.amends is not None:
        if _report_id(submission.amends) is None:
            problems.setdefault("amends", []).append("Give the id of the report amended.")
        reason = _reason(submission.reason)
        if not reason:
            problems.setdefault("reason", []).append("Say why the report is amended.")
        elif len(reason) > REASON_MAX:
            problems.setdefault("reason", []).append(f"At most {REASON_MAX} characters.")
    if problems:
        raise InvalidInput("The report has problems.", problems)


def _report_id(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**31:
        return value
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) <= 10:
        return _report_id(int(value.strip()))
    return None


def _check_period(
    session: Session,
    obligation: Obligations,
    period: Period,
    reports: Mapping[date, RoyaltyReport],
    submission: Submission,
    moment: datetime,
) -> RoyaltyReport | None:
    """The report amended (None for a first filing), or 409 saying why not."""
    agreement = obligation.agreement
    today = office_date(moment)
    if agreement.state not in REPORTING_STATES:
        raise Conflict(
            f"Agreement {agreement.number} is {agreement.state}; reports are filed for active "
            "and expired agreements."
        )
    current = reports.get(period.start)
    if submission.amends is not None:
        amends = _report_id(submission.amends)
        if current is None or current.id != amends:
            named = f"report {current.id}" if current else "no report yet"
            raise Conflict(
                f"Report {amends} is not the current report of the period {period.label} "
                f"(which has {named}); amend the current report."
            )
        if today > agreement.term_end + AMENDMENT_WINDOW:
            raise Conflict(
                f"Agreement {agreement.number} ended on {agreement.term_end}, more than a year "
                "ago; its reports can no longer be amended."
            )
        return current
    if current is not None:
        raise Conflict(
            f"The period {period.label} already has report {current.id}; to correct it, "
            f"amend it (amends: {current.id}, with a reason)."
        )
    missing = next(
        (p for p in obligation.periods[: period.index - 1] if p.start not in reports), None
    )
    if missing is not None:
        raise Conflict(
            f"Reports are filed in period order: first report the period {missing.label}."
        )
    if today < period.first_filing_day:
        raise Conflict(
            f"The period {period.label} has not ended; report it from "
            f"{period.first_filing_day.isoformat()}."
        )
    return None


def _store_rows(
    session: Session, report: RoyaltyReport, obligation: Obligations, submission: Submission
) -> dict[int, Decimal]:
    """Check and store every row; the revenue reported per line. Raises
    `InvalidInput` with every problem found (the caller's transaction then
    rolls back, so nothing is stored)."""
    lines = {line.number: line for line in obligation.lines}
    problems = Problems()
    seen: dict[tuple[int, str, str], int] = {}
    revenue = {line.number: Decimal(0) for line in obligation.lines if line.takes_revenue}
    batch: list[dict[str, Any]] = []
    count = 0
    for number, fields in submission.rows():
        if isinstance(fields, str):  # a row the reader could not split
            problems.add(f"rows.{number}" if number >= 0 else "_body", fields)
            continue
        row = check_row(number, fields, lines, problems)
        if row is None:
            continue
        key = (row.line, row.unit, row.customer_key)
        if key in seen:
            problems.add(
                f"rows.{number}.customer_id",
                f"Rows {seen[key]} and {number} both report customer {row.customer_id!r} "
                f"on line {row.line}" + (f" in {row.unit}" if row.unit else "") + "; "
                "give each customer once per line and unit.",
            )
            continue
        seen[key] = number
        count += 1
        if row.revenue is not None:
            revenue[row.line] += row.revenue
        if problems:
            continue  # nothing will be stored: stop writing, keep checking
        batch.append(_row_values(report.id, row))
        if len(batch) >= BATCH:
            session.execute(insert(RoyaltyReportRow), batch)
            batch.clear()
    for number, total in revenue.items():
        if total >= LINE_REVENUE_MAX:
            problems.add("rows", f"Line {number}'s revenue adds up to more than the service holds.")
    if problems:
        raise InvalidInput("Some rows of the report have problems.", problems.summary())
    if batch:
        session.execute(insert(RoyaltyReportRow), batch)
    report.row_count = count
    return revenue


def _row_values(report_id: int, row: Row) -> dict[str, Any]:
    return {
        "report_id": report_id,
        "row_number": row.number,
        "line": row.line,
        "customer_id": row.customer_id,
        "customer_key": row.customer_key,
        "customer_name": row.customer_name,
        "country": row.country,
        "unit": row.unit,
        "quantity": row.quantity,
        "revenue": row.revenue,
    }


def _store_lines(
    session: Session, report: RoyaltyReport, filing: Filing, revenue: Mapping[int, Decimal]
) -> None:
    for line in filing.lines:
        session.add(
            RoyaltyReportLine(
                report_id=report.id,
                line=line.line,
                revenue_reported=revenue.get(line.line),
                quantities_json=json.dumps(dict(line.quantities_to_date), sort_keys=True),
                revenue_to_date=line.revenue_to_date,
                amount_to_date=line.amount_to_date,
                charged_before=line.charged_before,
                charged_to_date=line.charged_to_date,
                due=line.due,
                explanation_json=json.dumps(list(line.explanation)),
            )
        )
    session.flush()


# --- invoicing and crediting the change -------------------------------------------------------


def _settle_the_change(
    session: Session,
    obligation: Obligations,
    report: RoyaltyReport,
    filing: Filing,
    actor: Actor,
    moment: datetime,
) -> None:
    total = filing.total_due
    if total > 0:
        invoice = _invoice(session, obligation, report, filing, actor, moment)
        report.invoice_id = invoice.id
        filing.invoice_number = invoice.number
    elif total < 0:
        filing.credit_notes = _credit(session, obligation, report, -total, actor, moment)
        report.credit_notes_json = json.dumps(filing.credit_notes)


def _invoice(
    session: Session,
    obligation: Obligations,
    report: RoyaltyReport,
    filing: Filing,
    actor: Actor,
    moment: datetime,
) -> Invoice:
    agreement = obligation.agreement
    what = "Amended royalty" if report.amends_id else "Royalty"
    charges = [
        billing.Charge(
            description=(
                f"{what}, line {line.line} ({obligation.product_names[line.line]}), "
                f"period {filing.period.label}" + (" (deduction)" if line.due < 0 else "")
            ),
            amount=line.due,
            working="; ".join(line.explanation),
        )
        for line in filing.lines
        if line.due != 0
    ]
    return billing.create_invoice(
        session,
        organization_id=agreement.organization_id,
        currency=agreement.currency,
        charges=charges,
        source_type=ROYALTY_REPORT,
        source_id=report.id,
        source_reference=f"{agreement.number} {filing.period.start.isoformat()}",
        payment_terms_days=agreement.payment_terms_days,
        late_fee_monthly_percent=agreement.late_fee_monthly_percent,
        memo=(
            f"Royalty report {report.reference} under license agreement {agreement.number} "
            f"for the period {filing.period.label}"
            + (f", amending report {report.amends_id}" if report.amends_id else "")
            + "."
        ),
        deductions=True,
        actor=actor,
        now=moment,
    )


def _credit(
    session: Session,
    obligation: Obligations,
    report: RoyaltyReport,
    amount: Decimal,
    actor: Actor,
    moment: datetime,
) -> list[str]:
    """Credit `amount` against the agreement's royalty invoices, newest first."""
    invoices = session.scalars(
        select(Invoice)
        .join(RoyaltyReport, RoyaltyReport.id == Invoice.source_id)
        .where(
            Invoice.source_type == ROYALTY_REPORT,
            RoyaltyReport.agreement_id == obligation.agreement.id,
            Invoice.state.in_(sorted({*COLLECTIBLE, PAID})),
        )
        .order_by(Invoice.issue_date.desc(), Invoice.id.desc())
        .with_for_update()
    ).all()
    numbers = []
    remaining = amount
    reason = (
        f"Royalty report {report.reference} for {report.period_start.isoformat()} lowers the "
        f"royalty of agreement {obligation.agreement.number}"
    )
    for invoice in invoices:
        creditable = invoice.total - invoice.amount_credited
        if remaining <= 0 or creditable <= 0:
            continue
        portion = min(remaining, creditable)
        note = billing.credit_invoice(
            session, invoice, amount=portion, reason=reason, actor=actor, now=moment
        )
        numbers.append(note.number)
        remaining -= portion
    if remaining > 0:
        raise Conflict(
            f"The report lowers the royalty by {format_amount(amount, report.currency)}, more "
            "than the agreement's royalty invoices leave to credit; ask billing staff."
        )
    return numbers


# --- anomalies --------------------------------------------------------------------------------


def _previous(session: Session, obligation: Obligations, report: RoyaltyReport) -> int | None:
    if report.period_index <= 1:
        return None
    return session.scalar(
        select(RoyaltyReport.id).where(
            RoyaltyReport.agreement_id == obligation.agreement.id,
            RoyaltyReport.state == SUBMITTED,
            RoyaltyReport.period_index == report.period_index - 1,
        )
    )


def _unit_totals(session: Session, report_id: int) -> dict[tuple[int, str], tuple[int, int]]:
    rows = session.execute(
        select(
            RoyaltyReportRow.line,
            RoyaltyReportRow.unit,
            func.count(),
            func.coalesce(func.sum(RoyaltyReportRow.quantity), 0),
        )
        .where(RoyaltyReportRow.report_id == report_id, RoyaltyReportRow.unit != "")
        .group_by(RoyaltyReportRow.line, RoyaltyReportRow.unit)
    )
    return {(line, unit): (int(count), int(total)) for line, unit, count, total in rows}


def _dropped(before: int, after: int) -> bool:
    return before > 0 and Decimal(before - after) > DROP_SHARE * before


def _anomalies(
    session: Session,
    obligation: Obligations,
    report: RoyaltyReport,
    filing: Filing,
    last: int,
) -> list[str]:
    flags: list[str] = []
    previous = _previous(session, obligation, report)
    if previous is not None:
        now_totals = _unit_totals(session, report.id)
        for (line, unit), (customers, total) in sorted(_unit_totals(session, previous).items()):
            count, quantity = now_totals.get((line, unit), (0, 0))
            if _dropped(customers, count):
                flags.append(
                    f"Line {line}, {unit}: {count} customers against {customers} last period "
                    "(a drop of more than 20%)."
                )
            if _dropped(total, quantity):
                flags.append(
                    f"Line {line}, {unit}: {quantity} in all against {total} last period "
                    "(a drop of more than 20%)."
                )
        flags.extend(_falling_customers(session, report.id, previous))
    if last == len(obligation.periods):
        flags.extend(_below_estimate(obligation, filing))
    return flags


def _falling_customers(session: Session, report_id: int, previous_id: int) -> list[str]:
    now = RoyaltyReportRow.__table__.alias("now_rows")
    before = RoyaltyReportRow.__table__.alias("before_rows")
    statement = (
        select(now.c.line, now.c.unit, now.c.customer_id, before.c.quantity, now.c.quantity)
        .join(
            before,
            (before.c.line == now.c.line)
            & (before.c.unit == now.c.unit)
            & (before.c.customer_key == now.c.customer_key),
        )
        .where(
            now.c.report_id == report_id,
            before.c.report_id == previous_id,
            now.c.unit != "",
            now.c.quantity < before.c.quantity,
        )
        .order_by(now.c.row_number)
    )
    falling = session.execute(statement.limit(6)).all()
    if not falling:
        return []
    count = session.scalar(select(func.count()).select_from(statement.subquery())) or 0
    shown = "; ".join(
        f"{customer} on line {line}: {was} to {now_} {unit}"
        for line, unit, customer, was, now_ in falling[:5]
    )
    more = f" and {count - 5} more" if count > 5 else ""
    return [f"{count} customers report less than last period ({shown}{more})."]


def _below_estimate(obligation: Obligations, filing: Filing) -> list[str]:
    flags = []
    for line in obligation.lines:
        result = next(r for r in filing.lines if r.line == line.number)
        for unit, estimate in line.estimate_quantities.items():
            reported = result.quantities_to_date.get(unit, 0)
            if estimate and Decimal(reported) < ESTIMATE_SHARE * estimate:
                flags.append(
                    f"Line {line.number}: {reported} {unit} for the term, less than half the "
                    f"{estimate} estimated in the application."
                )
        estimate_revenue = line.estimate_revenue
        if estimate_revenue and (result.revenue_to_date or 0) < ESTIMATE_SHARE * estimate_revenue:
            flags.append(
                f"Line {line.number}: revenue "
                f"{format_amount(result.revenue_to_date or Decimal(0), obligation.currency)} for "
                "the term, less than half the "
                f"{format_amount(estimate_revenue, obligation.currency)} estimated."
            )
    return flags


# --- after filing: standing, staff notice -----------------------------------------------------


def _after_filing(
    session: Session,
    agreement: Agreement,
    report: RoyaltyReport,
    filing: Filing,
    moment: datetime,
) -> None:
    accounts.restore_standing_if_clear(session, agreement.organization_id, office_date(moment))
    # A notice for staff (anomalies, a console link): never the licensee's; with no
    # staff to tell, the report still waits in the console's flagged queue.
    recipients = mail.staff_recipients("licensing") if filing.flags else []
    if recipients:
        mail.enqueue(
            session,
            to=recipients,
            subject=f"Royalty report {report.reference} for {agreement.number} is flagged",
            template="royalty_report_flagged",
            context={
                "report": report,
                "agreement": agreement,
                "flags": filing.flags,
                "link": mail.absolute_url("royalties.console_report", report_id=report.id),
            },
        )


def overdue_reports(session: Session, organization_id: int, today: date, days: int) -> list[str]:
    """The periods of the organization's agreements unreported more than `days`
    after their due date (for its standing)."""
    late = []
    for agreement in reporting_agreements(session, organization_id):
        obligation = obligations(session, agreement)
        reports = current_reports(session, agreement.id)
        late.extend(
            f"the royalty report of {agreement.number} for {period.label} was due "
            f"{period.due_on.isoformat()}"
            for period in obligation.periods
            if period.start not in reports and today > period.due_on + timedelta(days=days)
        )
    return late


# --- reading ----------------------------------------------------------------------------------


def get_report(report_id: int, actor: Actor) -> RoyaltyReport:
    report = db.session().get(RoyaltyReport, report_id)
    if report is None or not actor.may_see(report.organization_id):
        raise NotFound(f"There is no royalty report {report_id}.")
    return report


def filing_of(report: RoyaltyReport) -> Filing:
    """A stored report as a `Filing` (its lines as computed when it was filed)."""
    session = db.session()
    agreement = session.get(Agreement, report.agreement_id)
    assert agreement is not None
    obligation = obligations(session, agreement)
    invoice = session.get(Invoice, report.invoice_id) if report.invoice_id else None
    return Filing(
        agreement.number,
        obligation.period(report.period_start),
        report.currency,
        report.amends_id,
        lines=[
            LineRoyalty(
                line=line.line,
                quantities_to_date=line.quantities,
                revenue_to_date=line.revenue_to_date,
                amount_to_date=line.amount_to_date,
                charged_before=line.charged_before,
                charged_to_date=line.charged_to_date,
                explanation=tuple(line.explanation),
            )
            for line in report.lines
        ],
        flags=report.flags,
        report=report,
        invoice_number=invoice.number if invoice else None,
        credit_notes=report.credit_notes,
    )


def report_rows(report_id: int, actor: Actor) -> Iterator[RoyaltyReportRow]:
    """A report's rows in their submitted order, read in batches."""
    get_report(report_id, actor)
    return iter(
        db.session().scalars(
            select(RoyaltyReportRow)
            .where(RoyaltyReportRow.report_id == report_id)
            .order_by(RoyaltyReportRow.row_number)
            .execution_options(yield_per=2000)
        )
    )


def template_rows(
    agreement_id: int, period_start: date, actor: Actor
) -> tuple[Obligations, list[dict[str, Any]]]:
    """The CSV template of a period: one row per reportable line and unit, and the
    customers of the previous period's current report."""
    session = db.session()
    agreement = _agreement(session, agreement_id, actor, lock=False)
    obligation = obligations(session, agreement)
    period = obligation.period(period_start)
    previous = current_reports(session, agreement.id)
    earlier = next((p for p in obligation.periods if p.index == period.index - 1), None)
    last = previous.get(earlier.start) if earlier else None
    rows: list[dict[str, Any]] = []
    if last is not None:
        for row in session.scalars(
            select(RoyaltyReportRow)
            .where(RoyaltyReportRow.report_id == last.id)
            .order_by(RoyaltyReportRow.row_number)
        ):
            rows.append(
                {
                    "line": row.line,
                    "customer_id": row.customer_id,
                    "customer_name": row.customer_name,
                    "country": row.country,
                    "unit": row.unit,
                    "quantity": "",
                    "revenue": "",
                }
            )
    reported = {(r["line"], r["unit"]) for r in rows}
    for line in obligation.lines:
        for unit in line.units or ("",):
            if (line.number, unit) not in reported:
                rows.append(
                    {
                        "line": line.number,
                        "customer_id": "",
                        "customer_name": "",
                        "country": "",
                        "unit": unit,
                        "quantity": "",
                        "revenue": "",
                    }
                )
    return obligation, rows


# --- staff review -----------------------------------------------------------------------------


def review(
    report_id: int, action: str, actor: Actor, *, note: str | None, now: datetime | None = None
) -> RoyaltyReport:
    """Staff: mark a flagged report reviewed, or ask the licensee for a corrected
    report (emailed, with the note)."""
    actor.require_role("licensing", "billing")
    cleaned = (note or "").strip()
    if action == "request_correction" and not cleaned:
        raise InvalidInput.for_field("note", "Say what the licensee should correct.")
    if len(cleaned) > REVIEW_NOTE_MAX:
        raise InvalidInput.for_field("note", f"At most {REVIEW_NOTE_MAX} characters.")
    moment = now or utcnow()
    with db.transaction() as session:
        report = session.scalars(
            select(RoyaltyReport).where(RoyaltyReport.id == report_id).with_for_update()
        ).one_or_none()
        if report is None:
            raise NotFound(f"There is no royalty report {report_id}.")
        report.reviewed_by = actor.name
        report.review_note = cleaned or None
        REVIEW.apply(session, report, action, actor=actor, note=cleaned or None, at=moment)
        return report


@REVIEW.on("request_correction")
def _ask_for_correction(session: Session, report: Any, actor: Any, note: str | None) -> None:
    agreement = session.get(Agreement, report.agreement_id)
    organization = session.get(Organization, report.organization_id)
    assert agreement is not None
    assert organization is not None
    mail.enqueue(
        session,
        to=account_queries.vendor_recipients(session, organization),
        subject=f"Please correct royalty report {report.reference} for {agreement.number}",
        template="royalty_report_correction",
        context={
            "report": report,
            "agreement": agreement,
            "note": note,
            "link": mail.absolute_url(
                "royalties.portal_period",
                agreement_id=agreement.id,
                period_start=report.period_start.isoformat(),
            ),
        },
    )


# --- reminders and standing ---------------------------------------------------------------------

# Reminders: this many days before a report is due, on the due date, and every
# this many days while it is overdue.
REMINDER_DAYS = 14


def reminder_stage(period: Period, today: date) -> str | None:
    """The reminder a period's missing report has reached by `today`, if any."""
    days_to_due = (period.due_on - today).days
    if days_to_due > REMINDER_DAYS or today < period.first_filing_day:
        return None
    if days_to_due > 0:
        return "before_due"
    overdue = -days_to_due
    return "due" if overdue < REMINDER_DAYS else f"overdue_{overdue // REMINDER_DAYS}"


@dataclass
class ReminderRun:
    reminders: int = 0
    pending_payment: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        marked = ", ".join(self.pending_payment) or "none"
        return f"{self.reminders} reminders sent; now pending payment: {marked}"


def send_reminders(*, now: datetime | None = None) -> ReminderRun:
    """Remind licensees of reports coming due, due and overdue (each stage once per
    period), and hold at `pending_payment` the organizations with a report overdue
    beyond the standing threshold. Idempotent, and safe on several hosts: each
    agreement is claimed (SKIP LOCKED on PostgreSQL) and each reminder is a unique row."""
    moment = now or utcnow()
    today = office_date(moment)
    run = ReminderRun()
    session = db.session()
    agreement_ids = [agreement.id for agreement in reporting_agreements(session)]
    session.rollback()
    for agreement_id in agreement_ids:
        with db.transaction() as session:
            agreement = session.scalars(
                db.claim(select(Agreement).where(Agreement.id == agreement_id))
            ).one_or_none()
            if agreement is not None:
                run.reminders += _remind(session, agreement, today)
    _hold_standing(run, today, moment)
    return run


def _remind(session: Session, agreement: Agreement, today: date) -> int:
    obligation = obligations(session, agreement)
    reports = current_reports(session, agreement.id)
    sent = {
        (reminder.period_start, reminder.stage)
        for reminder in session.scalars(
            select(RoyaltyReminder).where(RoyaltyReminder.agreement_id == agreement.id)
        )
    }
    count = 0
    for period in obligation.periods:
        stage = reminder_stage(period, today)
        if stage is None or period.start in reports or (period.start, stage) in sent:
            continue
        session.add(
            RoyaltyReminder(agreement_id=agreement.id, period_start=period.start, stage=stage)
        )
        overdue_days = max((today - period.due_on).days, 0)
        headline = (
            f"Your royalty report is {overdue_days} days overdue."
            if overdue_days
            else "Your royalty report is due today."
            if today == period.due_on
            else f"Your royalty report is due in {(period.due_on - today).days} days."
        )
        mail.enqueue(
            session,
            to=account_queries.vendor_recipients(session, agreement.organization),
            subject=f"Royalty report for {agreement.number}, {period.label}: "
            + ("overdue" if overdue_days else f"due {period.due_on.isoformat()}"),
            template="royalty_report_reminder",
            context={
                "agreement": agreement,
                "period": period,
                "headline": headline,
                "overdue_days": overdue_days,
                "link": mail.absolute_url(
                    "royalties.portal_period",
                    agreement_id=agreement.id,
                    period_start=period.start.isoformat(),
                ),
            },
        )
        count += 1
    return count


def _hold_standing(run: ReminderRun, today: date, moment: datetime) -> None:
    threshold = _standing_days()
    session = db.session()
    organization_ids = sorted({a.organization_id for a in reporting_agreements(session)})
    session.rollback()
    for organization_id in organization_ids:
        with db.transaction() as session:
            organization = session.scalars(
                db.claim(
                    select(Organization).where(
                        Organization.id == organization_id, Organization.standing == ACTIVE
                    )
                )
            ).one_or_none()
            if organization is None:
                continue
            late = overdue_reports(session, organization_id, today, threshold)
            if late:
                accounts.change_standing(
                    session,
                    organization,
                    "mark_pending_payment",
                    reason=f"{late[0][0].upper()}{late[0][1:]}; it is more than {threshold} "
                    "days overdue.",
                )
                run.pending_payment.append(organization.legal_name)


def _standing_days() -> int:
    from flask import current_app

    days: int = current_app.config["LICENSING"].overdue_standing_days
    return days
