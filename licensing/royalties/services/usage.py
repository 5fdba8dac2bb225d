"""Usage to date of a line, and what each line is charged to date."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal

from sqlalchemy import func, select, type_coerce
from sqlalchemy.orm import Session

from licensing.db import Money

from ..computation import ReportableLine, Usage
from ..models import (
    RoyaltyReport,
    RoyaltyReportLine,
    RoyaltyReportRow,
)
from ..states import (
    SUBMITTED,
)
from .obligations import Obligations


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
