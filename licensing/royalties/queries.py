"""Reading royalty reports for pages and the API: the staff queue and the rows."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from licensing import db
from licensing.actors import Actor
from licensing.billing import queries as billing_queries
from licensing.billing.models import CreditNote
from licensing.billing.states import ROYALTY_REPORT
from licensing.calendar import office_date
from licensing.db import utcnow
from licensing.finance.queries import QueueHealth, health

from .models import RoyaltyReport, RoyaltyReportRow
from .periods import REPORT_DUE_DAYS
from .rows import COLUMNS
from .services import PeriodStatus, all_periods
from .states import CORRECTION_REQUESTED, DUE, FLAGGED, OVERDUE, SUBMITTED

ROWS_PER_READ = 2000


def report_rows(session: Session, report_id: int) -> Iterator[tuple[object, ...]]:
    """A report's rows as submitted, in the template's columns, read in batches (for
    `licensing.streaming.stream_rows`, which owns the session and closes it)."""
    rows = session.scalars(
        select(RoyaltyReportRow)
        .where(RoyaltyReportRow.report_id == report_id)
        .order_by(RoyaltyReportRow.row_number)
        .execution_options(yield_per=ROWS_PER_READ)
    )
    with rows:
        for row in rows:
            yield (
                row.line,
                row.customer_id,
                row.customer_name,
                row.country,
                row.unit,
                row.quantity,
                None if row.revenue is None else f"{row.revenue.normalize():f}",
            )


def rows_to_amend(
    session: Session, report: RoyaltyReport, limit: int
) -> list[dict[str, str]] | None:
    """The report's rows as filed, as the rows form shows them, to start its
    amendment from; None when it has more than `limit` rows (the form's bound)."""
    if report.row_count > limit:
        return None
    return [
        {
            column: "" if value is None else str(value)
            for column, value in zip(COLUMNS, values, strict=True)
        }
        for values in report_rows(session, report.id)
    ]


@dataclass(frozen=True)
class QueueFilter:
    state: str | None = None
    agreement: str | None = None
    organization_id: int | None = None
    period_start: date | None = None


def staff_queue(
    actor: Actor,
    chosen: QueueFilter,
    *,
    now: datetime | None = None,
    statuses: list[PeriodStatus] | None = None,
) -> list[PeriodStatus]:
    """Reports due, overdue and submitted across organizations, oldest due first
    (from `statuses` when the caller has already read every period)."""
    if statuses is None:
        statuses = all_periods(actor, now=now or utcnow(), organization_id=chosen.organization_id)
    found = [
        status
        for status in statuses
        if chosen.organization_id in (None, status.organization_id)
        if status.state != "upcoming" or chosen.state == "upcoming"
        if chosen.state in (None, "", status.state)
        if not chosen.agreement or chosen.agreement.strip().upper() in status.agreement_number
        if chosen.period_start in (None, status.period.start)
    ]
    return sorted(found, key=lambda status: (status.due_on, status.agreement_number))


def flagged_reports(session: Session | None = None) -> list[RoyaltyReport]:
    """Current reports waiting for staff review, oldest first."""
    current = session or db.session()
    return list(
        current.scalars(
            select(RoyaltyReport)
            .where(
                RoyaltyReport.state == SUBMITTED,
                RoyaltyReport.review_state.in_((FLAGGED, CORRECTION_REQUESTED)),
            )
            .order_by(RoyaltyReport.submitted_at)
        )
    )


@billing_queries.period_start_for(ROYALTY_REPORT)
def _reported_period_start(session: Session, report_id: int) -> date | None:
    """A royalty invoice bills its report's period (for the copyright year it prints)."""
    return session.scalar(select(RoyaltyReport.period_start).where(RoyaltyReport.id == report_id))


def amended_by(session: Session, report_id: int) -> RoyaltyReport | None:
    """The report that superseded this one, if an amendment did."""
    return session.scalars(
        select(RoyaltyReport).where(RoyaltyReport.amends_id == report_id)
    ).first()


def report_queue_health(session: Session, now: datetime) -> QueueHealth:
    """Reports waiting on licensees, for the Finance page: age in days since the
    period ended, against the 30 days a report is due in."""
    statuses = all_periods(Actor.SYSTEM, now=now)
    today = office_date(now)
    ages = [
        ((today - status.period.end).days, status.state == OVERDUE)
        for status in statuses
        if status.state in (DUE, OVERDUE)
    ]
    return health(
        "royalty_reports", "Royalty reports due or overdue (licensees)", REPORT_DUE_DAYS, ages
    )


def reports_of(session: Session, organization_id: int, limit: int = 100) -> list[RoyaltyReport]:
    """An organization's filed royalty reports, newest period first."""
    return list(
        session.scalars(
            select(RoyaltyReport)
            .where(RoyaltyReport.organization_id == organization_id)
            .order_by(RoyaltyReport.period_start.desc(), RoyaltyReport.id.desc())
            .limit(limit)
        )
    )


def credit_notes_of(session: Session, report: RoyaltyReport) -> list[tuple[str, int | None]]:
    """The credit notes the report issued, as it names them, each with its id (for
    its PDF's link) in one query."""
    return credit_notes_of_reports(session, [report]).get(report.id, [])


def credit_notes_of_reports(
    session: Session, reports: Iterable[RoyaltyReport]
) -> dict[int, list[tuple[str, int | None]]]:
    """`credit_notes_of` for a page's reports, by report id, in one query for all."""
    named = {report.id: report.credit_notes for report in reports if report.credit_notes}
    numbers = {number for notes in named.values() for number in notes}
    if not numbers:
        return {}
    found = session.execute(
        select(CreditNote.number, CreditNote.id).where(CreditNote.number.in_(numbers))
    )
    ids: dict[str | None, int] = dict(found.all())
    return {
        report_id: [(number, ids.get(number)) for number in notes]
        for report_id, notes in named.items()
    }
