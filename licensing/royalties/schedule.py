"""The stored reporting periods (`models.ReportingPeriod`): written when an agreement
starts to report, in the same transaction, so that the staff queue and its
summaries read them with SQL instead of building every agreement's periods.

Which agreements have periods, and which, is decided as `services.obligations`
decides them: an agreement with at least one reportable line has the calendar
quarters of its term; one with none has no periods (and no rows here).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from licensing.actors import Actor
from licensing.agreements.models import Agreement
from licensing.agreements.states import AGREEMENT
from licensing.pricing import Quote, RateCard
from licensing.ratecards import queries as ratecard_queries

from .computation import reportable_lines
from .lateness import accepted_on, late_from
from .models import ReportingPeriod, RoyaltyReport
from .periods import Period, reporting_periods
from .services.obligations import REPORTING_STATES, last_reported_day
from .states import SUBMITTED

# Agreement steps after which an agreement reports: acceptance (it becomes active),
# and expiry, which also ends an agreement issued and never accepted (whose periods
# the vendor's list and reminders have always shown as expired ones). Expiry of an
# active agreement and its supersession by a renewal keep its periods; termination
# clips them to its day (`clip_periods`): the usage until then is still reported.
REPORTING_STEPS = ("accept", "expire")


def periods_of(
    snapshot: Mapping[str, Any], card: RateCard, term_start: date, term_end: date
) -> tuple[Period, ...]:
    """An agreement's reporting periods from its quote snapshot and rate card: none
    when no line of it reports usage (as `obligations()` decides)."""
    if not reportable_lines(Quote.from_snapshot(snapshot), card):
        return ()
    return reporting_periods(term_start, term_end)


def period_rows(
    agreement_id: int, number: str, organization_id: int, periods: tuple[Period, ...]
) -> list[dict[str, Any]]:
    """The `reporting_periods` rows of an agreement's periods (the migration's
    backfill writes the same)."""
    return [
        {
            "agreement_id": agreement_id,
            "agreement_number": number,
            "organization_id": organization_id,
            "period_index": period.index,
            "period_start": period.start,
            "period_end": period.end,
            "due_on": period.due_on,
        }
        for period in periods
    ]


def record_periods(
    session: Session, agreement: Agreement, _actor: Actor, _note: str | None
) -> None:
    """The agreement's periods stored, once: a hook on the steps that make it report,
    run inside the step's transaction."""
    if agreement.state not in REPORTING_STATES:
        return
    stored = session.scalar(
        select(ReportingPeriod.id).where(ReportingPeriod.agreement_id == agreement.id).limit(1)
    )
    if stored is not None:
        return
    card = ratecard_queries.domain_card(ratecard_queries.get(session, agreement.rate_card))
    periods = periods_of(agreement.quote.snapshot, card, agreement.term_start, agreement.term_end)
    if periods:
        session.execute(insert(ReportingPeriod), stored_period_rows(agreement, periods))
        mark_filed(session, agreement.id)


def mark_filed(session: Session, agreement_id: int) -> None:
    """Mark the agreement's stored periods that have their current report `filed`
    (round 53): after any step that stores periods again (a termination's, or
    `licensing reports restore-terminated`), whose reports filed before are kept.
    Filing itself marks its period (`services.filing`)."""
    current = (
        select(RoyaltyReport.id)
        .where(
            RoyaltyReport.agreement_id == ReportingPeriod.agreement_id,
            RoyaltyReport.period_start == ReportingPeriod.period_start,
            RoyaltyReport.state == SUBMITTED,
        )
        .exists()
    )
    session.execute(
        update(ReportingPeriod)
        .where(ReportingPeriod.agreement_id == agreement_id, current)
        .values(filed=True)
    )


def stored_period_rows(agreement: Agreement, periods: tuple[Period, ...]) -> list[dict[str, Any]]:
    """`period_rows` with the day each report is late from (`lateness.late_from`):
    the agreement has reported since its acceptance, so this never changes after."""
    accepted = accepted_on(agreement.activated_at)
    return [
        {**row, "late_from": late_from(row["due_on"], accepted)}
        for row in period_rows(agreement.id, agreement.number, agreement.organization_id, periods)
    ]


def terminated_periods(session: Session, agreement: Agreement) -> tuple[Period, ...]:
    """The periods a terminated agreement reports: its term's quarters up to its
    termination's day (`last_reported_day`), the last one ending that day; none for
    one terminated before it was accepted, or with no line that reports usage."""
    last_day = last_reported_day(agreement)
    if last_day is None:
        return ()
    card = ratecard_queries.domain_card(ratecard_queries.get(session, agreement.rate_card))
    return periods_of(agreement.quote.snapshot, card, agreement.term_start, last_day)


def store_terminated_periods(session: Session, agreement: Agreement) -> tuple[Period, ...]:
    """Store a terminated agreement's periods (`terminated_periods`) in place of any
    stored before, in the caller's transaction: what termination does
    (`clip_periods`), and what `licensing reports restore-terminated` does for an
    agreement terminated before round 23, whose periods were deleted then. Answers
    the periods stored."""
    session.execute(delete(ReportingPeriod).where(ReportingPeriod.agreement_id == agreement.id))
    periods = terminated_periods(session, agreement)
    if periods:
        session.execute(insert(ReportingPeriod), stored_period_rows(agreement, periods))
        mark_filed(session, agreement.id)
    return periods


def clip_periods(session: Session, agreement: Agreement, _actor: Actor, _note: str | None) -> None:
    """A terminated agreement reports the periods it was in force, the last one ending
    on its termination's day, and no later ones: a hook on termination, inside its
    transaction. Until round 23 every period was deleted, and the royalties of the
    quarter under way (and of any ended one not yet filed) were never reported. Its
    filed reports are kept."""
    store_terminated_periods(session, agreement)


def register() -> None:
    """Store the periods on the agreement steps that start reporting (called by
    `licensing.royalties.init_app`; registering twice is a no-op)."""
    AGREEMENT.on(*REPORTING_STEPS)(record_periods)
    AGREEMENT.on("terminate")(clip_periods)
