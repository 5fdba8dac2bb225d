"""Reading stored reports, their rows, and a period's CSV template."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from licensing import db
from licensing.actors import Actor
from licensing.agreements.models import Agreement
from licensing.billing.models import Invoice
from licensing.errors import NotFound
from licensing.records import attributes

from ..computation import LineRoyalty
from ..models import (
    LINE_ROYALTY_COLUMNS,
    RoyaltyReport,
    RoyaltyReportRow,
)
from ..periods import Period
from ..states import SUPERSEDED
from .obligations import Filing, Obligations, _agreement, current_reports, obligations


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
                quantities_to_date=line.quantities,
                explanation=tuple(line.explanation),
                **attributes(line, LINE_ROYALTY_COLUMNS),
            )
            for line in report.lines
        ],
        flags=report.warnings,
        report=report,
        invoice_number=invoice.number if invoice else None,
        credit_notes=report.credit_notes,
        through=_through(session, obligation, report),
        # Round 68: the card that priced it by the one rule (its caption, the API's
        # `rate_card`).
        rate_card=obligation.priced_card,
        products=obligation.product_names,
    )


def amended_by(session: Session, report_id: int) -> RoyaltyReport | None:
    """The report that superseded this one, if an amendment did. At most one can:
    only the period's current report is amended (filing locks the agreement and the
    amended report is superseded in the same transaction), so a chain of amendments
    names each report once; the database holds it too (`uq_royalty_reports_amends_id`)."""
    return session.scalars(
        select(RoyaltyReport).where(RoyaltyReport.amends_id == report_id)
    ).one_or_none()


def corrected_by(report: RoyaltyReport) -> RoyaltyReport | None:
    """The amendment that answered a correction request of `report`, once it came:
    the fact the report's page gives as "Corrected by report RR-...". None for a
    report never sent back, one still waiting (current), or a preview."""
    if report.id is None or report.state != SUPERSEDED or report.correction_requested_at is None:
        return None
    return amended_by(db.session(), report.id)


def _through(session: Session, obligation: Obligations, report: RoyaltyReport) -> Period | None:
    """The last period reported when `report` was filed, when after its own (every
    report filed until then, superseded or not, was current at the time)."""
    last = session.scalar(
        select(func.max(RoyaltyReport.period_index)).where(
            RoyaltyReport.agreement_id == report.agreement_id,
            RoyaltyReport.id <= report.id,  # filed before it (ids follow filing)
        )
    )
    if last is None or last <= report.period_index:
        return None
    return obligation.periods[last - 1]


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
