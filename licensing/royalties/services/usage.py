"""Usage to date of a line, and what each line is charged to date."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from licensing.db import Statement, money_sum

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

S = TypeVar("S", bound=Statement)


def _usage(
    session: Session,
    obligation: Obligations,
    line: ReportableLine,
    through: int,
    pending_revenue: Decimal | None = None,
) -> Usage:
    """Usage of `line` over the current reports of periods 1..`through`: per unit,
    each customer's largest quantity summed over customers; revenue summed."""
    largest = _reported(
        largest_per_customer(), RoyaltyReportRow, obligation, line, through
    ).subquery()
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
        total = select(money_sum(RoyaltyReportLine.revenue_reported))
        reported = session.scalar(_reported(total, RoyaltyReportLine, obligation, line, through))
        revenue = (reported or Decimal(0)) + (pending_revenue or Decimal(0))
    return Usage(
        quantities={unit: totals.get(unit, (0, 0))[0] for unit in line.units},
        customers={unit: totals.get(unit, (0, 0))[1] for unit in line.units},
        revenue=revenue,
    )


def largest_per_customer(*keys: ColumnElement[Any]) -> Statement:
    """Per unit, customer (and `keys`), the customer's largest quantity in the rows
    selected: usage to date counts each customer once, at its largest so far (here
    and in the usage a renewal is drawn on, `renewal_usage`)."""
    return (
        select(
            *keys,
            RoyaltyReportRow.unit.label("unit"),
            func.max(RoyaltyReportRow.quantity).label("quantity"),
        )
        .where(RoyaltyReportRow.unit != "")
        .group_by(*keys, RoyaltyReportRow.unit, RoyaltyReportRow.customer_key)
    )


def _reported(
    statement: S,
    rows: type[RoyaltyReportRow] | type[RoyaltyReportLine],
    obligation: Obligations,
    line: ReportableLine,
    through: int,
) -> S:
    """`statement` over the `rows` of `line` in the agreement's current reports of
    periods 1..`through`."""
    return statement.join(RoyaltyReport, RoyaltyReport.id == rows.report_id).where(
        RoyaltyReport.agreement_id == obligation.agreement.id,
        RoyaltyReport.state == SUBMITTED,
        RoyaltyReport.period_index <= through,
        rows.line == line.number,
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
