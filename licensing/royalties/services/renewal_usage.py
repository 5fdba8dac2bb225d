"""The usage a licensee last reported under an agreement, for its renewal
(`agreements.reported_usage`, which this package fills from `init_app`)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from licensing.agreements.models import Agreement
from licensing.agreements.reported_usage import ReportedUsage
from licensing.pricing import Quote

from ..computation import schedule_lines
from ..models import RoyaltyReport
from ..states import CLEAR, REVIEWED, SUBMITTED
from .obligations import obligations
from .usage import _usage

# A report staff have nothing against: current, and not flagged (or flagged and
# reviewed). A flagged report, or one sent back for correction, may be wrong.
ACCEPTED = (CLEAR, REVIEWED)


def last_reported_usage(session: Session, agreement: Agreement) -> dict[int, ReportedUsage]:
    """Per use of the agreement's application (by index), the quantities to date of
    the latest accepted report: the usage to date through its period (each customer
    once, at its largest quantity so far in the term, as the royalty counts them).
    A line that reports revenue only has no quantities and proposes nothing, and
    a unit with none to date (only nil reports so far) keeps its estimate."""
    report = session.scalars(
        select(RoyaltyReport)
        .where(
            RoyaltyReport.agreement_id == agreement.id,
            RoyaltyReport.state == SUBMITTED,
            RoyaltyReport.review_state.in_(ACCEPTED),
        )
        .order_by(RoyaltyReport.period_start.desc())
        .limit(1)
    ).first()
    if report is None:
        return {}
    quote = Quote.from_snapshot(agreement.quote.snapshot)
    use_of_line = {
        number: line.use_index for number, line in enumerate(schedule_lines(quote), start=1)
    }
    # The usage to date through the report's period, from the current reports: the
    # report's own lines are the agreement to date when it was filed, stale once an
    # earlier period is amended, and past its period when it amends an earlier one.
    obligation = obligations(session, agreement)
    found = {}
    for line in obligation.lines:
        usage = _usage(session, obligation, line, report.period_index)
        # None to date (nil reports so far) is no figure: the estimate stands.
        quantities = {unit: value for unit, value in usage.quantities.items() if value > 0}
        if quantities and line.number in use_of_line:
            found[use_of_line[line.number]] = ReportedUsage(
                quantities=quantities,
                report=report.reference,
                period_start=report.period_start,
                period_end=report.period_end,
                report_id=report.id,
            )
    return found
