"""The usage a licensee last reported under an agreement, for its renewal
(`agreements.reported_usage`, which this package fills from `init_app`).

Read for any number of agreements at once in three statements (the rate-card
check prices every renewal candidate); a renewal drawn (`start_renewal`) asks
for a batch of one, so the two cannot drift."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import Subquery, func, select
from sqlalchemy.orm import Session

from licensing.agreements.models import Agreement
from licensing.agreements.reported_usage import ReportedUsage
from licensing.pricing import Quote
from licensing.ratecards.models import RateCardRecord

from ..computation import schedule_lines
from ..models import RoyaltyReport, RoyaltyReportRow
from ..states import CLEAR, REVIEWED, SUBMITTED
from .obligations import obligations
from .usage import largest_per_customer

# A report staff have nothing against: current, and not flagged (or flagged and
# reviewed). A flagged report, or one sent back for correction, may be wrong.
ACCEPTED = (CLEAR, REVIEWED)

# Per agreement, line and unit: the quantity to date (customers' largest, summed).
ToDate = dict[tuple[int, int, str], int]


def last_reported_usage_of(
    session: Session, agreements: Sequence[Agreement]
) -> dict[int, dict[int, ReportedUsage]]:
    """Per agreement (by id; one without an accepted report is left out), per use
    of its application (by index), the quantities to date of the latest accepted
    report: the usage to date through its period (each customer once, at its
    largest quantity so far in the term, as the royalty counts them). A line that
    reports revenue only has no quantities and proposes nothing, and a unit with
    none to date (only nil reports so far) keeps its estimate. Three statements
    however many agreements."""
    latest = _latest_accepted([agreement.id for agreement in agreements])
    reports = {
        report.agreement_id: report
        for report in session.scalars(
            select(RoyaltyReport).join(latest, latest.c.id == RoyaltyReport.id)
        )
    }
    if not reports:
        return {}
    reporting = [agreement for agreement in agreements if agreement.id in reports]
    cards = {
        card.version: card
        for card in session.scalars(
            select(RateCardRecord).where(
                RateCardRecord.version.in_({agreement.rate_card for agreement in reporting})
            )
        )
    }
    to_date = _quantities_to_date(session, latest)
    found = {}
    for agreement in reporting:
        usage = _usage_of(session, agreement, reports[agreement.id], to_date, cards)
        if usage:
            found[agreement.id] = usage
    return found


def _usage_of(
    session: Session,
    agreement: Agreement,
    report: RoyaltyReport,
    to_date: ToDate,
    cards: dict[str, RateCardRecord],
) -> dict[int, ReportedUsage]:
    quote = Quote.from_snapshot(agreement.quote.snapshot)
    use_of_line = {
        number: line.use_index for number, line in enumerate(schedule_lines(quote), start=1)
    }
    found = {}
    for line in obligations(session, agreement, cards).lines:
        # None to date (nil reports so far) is no figure: the estimate stands.
        quantities = {
            unit: value
            for unit in line.units
            if (value := to_date.get((agreement.id, line.number, unit), 0)) > 0
        }
        if quantities and line.number in use_of_line:
            found[use_of_line[line.number]] = ReportedUsage(
                quantities=quantities,
                report=report.reference,
                period_start=report.period_start,
                period_end=report.period_end,
                report_id=report.id,
            )
    return found


def _latest_accepted(agreement_ids: Sequence[int]) -> Subquery:
    """Each agreement's latest accepted current report (`id`, `agreement_id`,
    `period_index`)."""
    ranked = (
        select(
            RoyaltyReport.id,
            RoyaltyReport.agreement_id,
            RoyaltyReport.period_index,
            func.row_number()
            .over(
                partition_by=RoyaltyReport.agreement_id,
                order_by=(RoyaltyReport.period_start.desc(), RoyaltyReport.id.desc()),
            )
            .label("rank"),
        )
        .where(
            RoyaltyReport.agreement_id.in_(agreement_ids),
            RoyaltyReport.state == SUBMITTED,
            RoyaltyReport.review_state.in_(ACCEPTED),
        )
        .subquery()
    )
    return (
        select(ranked.c.id, ranked.c.agreement_id, ranked.c.period_index)
        .where(ranked.c.rank == 1)
        .subquery()
    )


def _quantities_to_date(session: Session, latest: Subquery) -> ToDate:
    """The usage to date through each latest report's period, from the current
    reports: the report's own lines are the agreement to date when it was filed,
    stale once an earlier period is amended, and past its period when it amends an
    earlier one. Counted as the royalty counts it (`usage._usage`)."""
    largest = (
        largest_per_customer(
            RoyaltyReport.agreement_id.label("agreement_id"), RoyaltyReportRow.line.label("line")
        )
        .join(RoyaltyReport, RoyaltyReport.id == RoyaltyReportRow.report_id)
        .join(latest, latest.c.agreement_id == RoyaltyReport.agreement_id)
        .where(
            RoyaltyReport.state == SUBMITTED,
            RoyaltyReport.period_index <= latest.c.period_index,
        )
        .subquery()
    )
    found: ToDate = defaultdict(int)
    for row in session.execute(
        select(
            largest.c.agreement_id,
            largest.c.line,
            largest.c.unit,
            func.sum(largest.c.quantity).label("quantity"),
        ).group_by(largest.c.agreement_id, largest.c.line, largest.c.unit)
    ):
        found[(row.agreement_id, row.line, row.unit)] = int(row.quantity or 0)
    return found
