"""Anomalies flagged on submission (the invoice still follows)."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from licensing import db

from .. import flags as warnings
from ..models import (
    RoyaltyReport,
    RoyaltyReportRow,
)
from ..states import (
    SUBMITTED,
)
from .obligations import Filing, Obligations

# A drop larger than this share against the previous period, and a last-period
# usage below this share of the application's estimate.
DROP_SHARE = Decimal("0.2")
ESTIMATE_SHARE = Decimal("0.5")


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
    return {(line, unit): (int(count), int(total or 0)) for line, unit, count, total in rows}


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
            # Flags are read by people (pages, the staff email, the API's messages):
            # each figure with its unit in words, as the pages and PDFs say it.
            if _dropped(customers, count):
                flags.append(warnings.customer_drop(line, unit, count, customers))
            if _dropped(total, quantity):
                flags.append(warnings.quantity_drop(line, unit, quantity, total))
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
    count = db.count_rows(session, statement)
    shown = [
        warnings.customer_fall(customer, line, was, now_, unit)
        for line, unit, customer, was, now_ in falling[:5]
    ]
    return [warnings.falling_customers(count, shown, count - 5)]


def _below_estimate(obligation: Obligations, filing: Filing) -> list[str]:
    flags = []
    for line in obligation.lines:
        result = next(r for r in filing.lines if r.line == line.number)
        for unit, estimate in line.estimate_quantities.items():
            reported = result.quantities_to_date.get(unit, 0)
            if estimate and Decimal(reported) < ESTIMATE_SHARE * estimate:
                flags.append(warnings.below_estimate(line.number, unit, reported, estimate))
        estimate_revenue = line.estimate_revenue
        revenue = result.revenue_to_date or Decimal(0)
        if estimate_revenue and revenue < ESTIMATE_SHARE * estimate_revenue:
            flags.append(
                warnings.revenue_below_estimate(
                    line.number, revenue, estimate_revenue, obligation.currency
                )
            )
    return flags
