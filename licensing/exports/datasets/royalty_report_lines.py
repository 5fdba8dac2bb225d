"""royalty_report_lines: the royalty of each reportable line, as each report
computed it (superseded reports included, marked, so amendments can be followed)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from licensing.agreements.models import Agreement
from licensing.billing.models import Invoice
from licensing.db import Statement
from licensing.exports.base import (
    DATE,
    DATETIME,
    INTEGER,
    MONEY,
    TEXT,
    Column,
    Dataset,
    Row,
    register,
)
from licensing.exports.columns import AGREEMENT_NUMBER, CURRENCY, LICENSEE
from licensing.exports.filters import ISSUED, PERIOD, ExportFilter
from licensing.exports.queries import Listing, amount, at_times, licensee, of_licensee, on_days
from licensing.royalties.models import RoyaltyReport, RoyaltyReportLine
from licensing.royalties.states import REPORT_STATES

COLUMNS = (
    Column("report_id", INTEGER, "The report's id in the service."),
    Column("report_state", TEXT, "submitted (the period's current report) or superseded."),
    Column("amends_report_id", INTEGER, "The report this one amended, if any."),
    AGREEMENT_NUMBER,
    *LICENSEE,
    Column("period_start", DATE, "First day of the reporting period."),
    Column("period_end", DATE, "Last day of the reporting period."),
    Column("submitted_at", DATETIME, "When the report was filed (UTC)."),
    Column("line", INTEGER, "The agreement line (Schedule A number)."),
    Column("quantities_to_date", TEXT, 'Usage to date per unit, as JSON ({"end_users": 1340}).'),
    CURRENCY,
    Column("revenue_to_date", MONEY, "Revenue to date, on lines that take a share of it."),
    Column("amount_to_date", MONEY, "The line's amount for the usage to date (A)."),
    Column("charged_before", MONEY, "What the line had been charged before this report."),
    Column("charged_to_date", MONEY, "max(up-front, amount to date) (C)."),
    Column("due", MONEY, "This report's change in the line's charge (negative: credited)."),
    Column("invoice_number", TEXT, "The invoice the report issued, if its total was due."),
)


def _statement(given: ExportFilter) -> Statement:
    statement = (
        select(
            RoyaltyReport.id,
            RoyaltyReport.state,
            RoyaltyReport.amends_id,
            Agreement.number.label("agreement_number"),
            *licensee(RoyaltyReport),
            RoyaltyReport.period_start,
            RoyaltyReport.period_end,
            RoyaltyReport.submitted_at,
            RoyaltyReportLine.line,
            RoyaltyReportLine.quantities_json,
            RoyaltyReport.currency,
            RoyaltyReportLine.revenue_to_date,
            RoyaltyReportLine.amount_to_date,
            RoyaltyReportLine.charged_before,
            RoyaltyReportLine.charged_to_date,
            RoyaltyReportLine.due,
            Invoice.number.label("invoice_number"),
        )
        .join(RoyaltyReport, RoyaltyReport.id == RoyaltyReportLine.report_id)
        .join(Agreement, Agreement.id == RoyaltyReport.agreement_id)
        .outerjoin(Invoice, Invoice.id == RoyaltyReport.invoice_id)
    )
    statement = of_licensee(statement, RoyaltyReport, given, by_state=True)
    if given.date_basis == ISSUED:
        return at_times(statement, RoyaltyReport.submitted_at, given)
    # The reporting period: reports of periods starting in the range.
    return on_days(statement, RoyaltyReport.period_start, given)


def _row(r: Any) -> Row:
    return (
        r.id,
        r.state,
        r.amends_id,
        r.agreement_number,
        r.organization_id,
        r.legal_name,
        r.period_start,
        r.period_end,
        r.submitted_at,
        r.line,
        json.dumps(json.loads(r.quantities_json), sort_keys=True),
        r.currency,
        amount(r.revenue_to_date, r.currency),
        amount(r.amount_to_date, r.currency),
        amount(r.charged_before, r.currency),
        amount(r.charged_to_date, r.currency),
        amount(r.due, r.currency),
        r.invoice_number,
    )


ORDER = (RoyaltyReport.period_start, RoyaltyReport.id, RoyaltyReportLine.line)
LISTING = Listing(_statement, ORDER, _row)

DATASET = register(
    Dataset(
        name="royalty_report_lines",
        title="Royalty report lines",
        description=(
            "The royalty of each reportable line as each report computed it, by period; "
            "superseded reports are included and marked."
        ),
        schema_version=1,
        columns=COLUMNS,
        rows=LISTING.rows,
        count=LISTING.count,
        date_bases=(PERIOD, ISSUED),
        filters=frozenset({"organization", "state", "currency"}),
        states=REPORT_STATES,
        order=90,
    )
)
