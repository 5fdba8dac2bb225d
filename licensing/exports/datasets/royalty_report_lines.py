"""royalty_report_lines: the royalty of each reportable line, as each report
computed it (superseded reports included, marked, so amendments can be followed)."""

from __future__ import annotations

import json

from licensing.agreements.models import Agreement
from licensing.billing.models import Invoice
from licensing.db import Statement
from licensing.exports.base import DATE, DATETIME, INTEGER, MONEY, TEXT, Column
from licensing.exports.columns import AGREEMENT_NUMBER, CURRENCY, LICENSEE, id_of, report_number
from licensing.exports.declared import Declared, Field
from licensing.exports.filters import ISSUED, PERIOD, RECORDED, ExportFilter
from licensing.exports.queries import (
    at_times,
    licensee,
    of_licensee,
    on_days,
    recorded_on_days,
)
from licensing.royalties.models import RoyaltyReport, RoyaltyReportLine
from licensing.royalties.states import REPORT_STATES


def _source(statement: Statement, given: ExportFilter) -> Statement:
    statement = (
        statement.select_from(RoyaltyReportLine)
        .join(RoyaltyReport, RoyaltyReport.id == RoyaltyReportLine.report_id)
        .join(Agreement, Agreement.id == RoyaltyReport.agreement_id)
        .outerjoin(Invoice, Invoice.id == RoyaltyReport.invoice_id)
    )
    statement = of_licensee(statement, RoyaltyReport, given, by_state=True)
    if given.date_basis == ISSUED:
        return at_times(statement, RoyaltyReport.submitted_at, given)
    if given.date_basis == RECORDED:
        # A nightly pull: reports filed on the days, those an amendment filed on them
        # superseded (the row comes again, `superseded`, whenever it was filed), and
        # those staff sent back or marked reviewed on them (`review_state`).
        changed = (
            RoyaltyReport.submitted_at,
            RoyaltyReport.superseded_at,
            RoyaltyReport.correction_requested_at,
            RoyaltyReport.reviewed_at,
        )
        return recorded_on_days(statement, changed, given)
    # The reporting period: reports of periods starting in the range.
    return on_days(statement, RoyaltyReport.period_start, given)


def _quantities(stored: str) -> str:
    """The stored JSON with its keys sorted: the same usage is the same text."""
    return json.dumps(json.loads(stored), sort_keys=True)


def _credit_notes(stored: str) -> str | None:
    """The credit notes the report issued (its total was negative), as the
    agreements register lists uses: separated by ';'; empty when none."""
    numbers = json.loads(stored)
    return ";".join(numbers) if numbers else None


DECLARED = Declared(
    record=RoyaltyReportLine,
    table=(
        Field(id_of("report"), RoyaltyReport.id),
        Field(
            Column("report_state", TEXT, "submitted (the period's current report) or superseded."),
            RoyaltyReport.state,
        ),
        Field(
            Column("amends_report_id", INTEGER, "The report this one amended, if any."),
            RoyaltyReport.amends_id,
        ),
        Field(AGREEMENT_NUMBER, Agreement.number),
        *map(Field, LICENSEE, licensee(RoyaltyReport)),
        Field.of(RoyaltyReport, Column("period_start", DATE, "First day of the reporting period.")),
        Field.of(RoyaltyReport, Column("period_end", DATE, "Last day of the reporting period.")),
        Field.of(
            RoyaltyReport, Column("submitted_at", DATETIME, "When the report was filed (UTC).")
        ),
        Column("line", INTEGER, "The agreement line (Schedule A number)."),
        Field(
            Column(
                "quantities_to_date", TEXT, 'Usage to date per unit, as JSON ({"end_users": 1340}).'
            ),
            RoyaltyReportLine.quantities_json,
            _quantities,
        ),
        Field.of(RoyaltyReport, CURRENCY),
        Column("revenue_to_date", MONEY, "Revenue to date, on lines that take a share of it."),
        Column("amount_to_date", MONEY, "The line's amount for the usage to date (A)."),
        Column("charged_before", MONEY, "What the line had been charged before this report."),
        Column("charged_to_date", MONEY, "max(up-front, amount to date) (C)."),
        Column("due", MONEY, "This report's change in the line's charge (negative: credited)."),
        Field(
            Column("invoice_number", TEXT, "The invoice the report issued, if its total was due."),
            Invoice.number,
        ),
        Field(
            Column(
                "credit_note_numbers",
                TEXT,
                "The credit notes the report issued, if its total was negative, separated by ';'.",
            ),
            RoyaltyReport.credit_notes_json,
            _credit_notes,
        ),
        # Added at the end (round 31), so schema version 1's columns read as before.
        Field(
            Column(
                "review_state",
                TEXT,
                "clear, flagged (for staff review), reviewed, or correction_requested "
                "(staff sent it back: the licensee's amendment may change its royalty).",
            ),
            RoyaltyReport.review_state,
        ),
        # Round 51: the reports by their numbers, as the invoices' memos, the credit
        # notes export (`royalty_report`) and the pages name them; added at the end.
        Field(
            Column(
                "report_number",
                TEXT,
                "RR-NNNNNN: the report as its invoice, credit notes and pages name it.",
            ),
            RoyaltyReport.id,
            report_number,
        ),
        Field(
            Column("amends_report_number", TEXT, "RR-NNNNNN: the report this one amended."),
            RoyaltyReport.amends_id,
            report_number,
        ),
    ),
    source=_source,
    order=(RoyaltyReport.period_start, RoyaltyReport.id, RoyaltyReportLine.line),
)

DATASET = DECLARED.dataset(
    name="royalty_report_lines",
    title="Royalty report lines",
    description=(
        "The royalty of each reportable line as each report computed it, by period; "
        "superseded reports are included and marked."
    ),
    schema_version=1,
    date_bases=(PERIOD, ISSUED, RECORDED),
    filters=frozenset({"organization", "state", "currency"}),
    states=REPORT_STATES,
    order=90,
)
