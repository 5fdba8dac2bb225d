"""Staff review of flagged reports, and the review's history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from licensing import db
from licensing.accounts import queries as account_queries
from licensing.accounts.models import Organization
from licensing.actors import Actor
from licensing.agreements.models import Agreement
from licensing.calendar import day_text, office_date
from licensing.db import utcnow
from licensing.errors import InvalidInput, NotFound
from licensing.links import links
from licensing.mail import services as mail
from licensing.words import at_most_characters

from ..models import (
    REVIEW_NOTE_MAX,
    RoyaltyReport,
    RoyaltyReportReviewStep,
)
from ..states import (
    CORRECTION_REQUESTED,
    REVIEW,
    SUBMITTED,
)
from .steps import refused_report_step

# Days a corrected report is due in, where the edge does not say (`CORRECTION_DUE_DAYS`).
CORRECTION_DUE_DAYS = 30


def correction_due_on(report: RoyaltyReport, days: int) -> date | None:
    """The office day by which the corrected report is due, `days` after staff asked
    for it; None unless a correction is asked for and still awaited (a superseded
    report's correction came: the amendment that replaced it). Told, never a hold."""
    if report.state != SUBMITTED:
        return None
    return _correction_asked_by(report, days)


def _correction_asked_by(report: RoyaltyReport, days: int) -> date | None:
    """The office day the corrected report staff asked of `report` was due by, `days`
    after they asked, awaited or since filed; None unless a correction was asked."""
    if report.review_state != CORRECTION_REQUESTED or report.reviewed_at is None:
        return None
    return office_date(report.reviewed_at) + timedelta(days=days)


@dataclass(frozen=True)
class CorrectionLate:
    """A corrected report filed after the day it was due by (`due`): `days` late."""

    due: date
    days: int


def correction_filed_late(
    amended: RoyaltyReport, amendment: RoyaltyReport | None, days: int
) -> CorrectionLate | None:
    """How late `amendment` came, when it answered a correction staff asked of
    `amended` (due `days` after they asked) and was filed, by the office's day, after
    that day (round 53: only the wait for it said so, "it is 4 days late"; once filed,
    nothing did). None for an amendment on time, or one nobody asked for."""
    if amendment is None or amendment.submitted_at is None:
        return None
    due = _correction_asked_by(amended, days)
    if due is None:
        return None
    late = (office_date(amendment.submitted_at) - due).days
    return CorrectionLate(due, late) if late > 0 else None


def review_actions(report: RoyaltyReport) -> list[str]:
    """What staff may do with the report now: the review machine's steps from its
    review state, for the period's current report only. A superseded one is neither
    sent back nor reviewed: the report that replaced it is (it had offered "Mark
    reviewed" on a report whose correction had already come)."""
    if report.state != SUBMITTED:
        return []
    return list(REVIEW.allowed(report.review_state))


def review(
    report_id: int,
    action: str,
    actor: Actor,
    *,
    note: str | None,
    now: datetime | None = None,
    correction_due_days: int = CORRECTION_DUE_DAYS,
) -> RoyaltyReport:
    """Staff: mark a flagged report reviewed, or ask the licensee for a corrected
    report of any current report, flagged or not (emailed, with the note and the day
    it is due)."""
    actor.require_role("licensing", "billing")
    cleaned = (note or "").strip()
    if action == "request_correction" and not cleaned:
        raise InvalidInput.for_field("note", "Say what the licensee should correct.")
    if len(cleaned) > REVIEW_NOTE_MAX:
        raise InvalidInput.for_field("note", at_most_characters(REVIEW_NOTE_MAX))
    moment = now or utcnow()
    with db.transaction() as session:
        _share_agreement_of(session, report_id)
        report = session.scalars(
            select(RoyaltyReport).where(RoyaltyReport.id == report_id).with_for_update()
        ).one_or_none()
        if report is None:
            raise NotFound(f"There is no royalty report {report_id}.")
        if action == "request_correction" and report.state != SUBMITTED:
            raise refused_report_step(
                report,
                action,
                f"Report {report.reference} was superseded by an amendment, so no "
                "correction of it is asked for: ask for a correction of the period's "
                "current report.",
            )
        if report.state != SUBMITTED:
            raise refused_report_step(
                report,
                action,
                f"Report {report.reference} was superseded by an amendment, so it is not "
                "reviewed: review the period's current report.",
            )
        report.reviewed_by = actor.name
        report.review_note = cleaned or None
        REVIEW.apply(session, report, action, actor=actor, note=cleaned or None, at=moment)
        # Every step kept whole, beside its audit event: the fields above and below
        # hold the latest step only.
        session.add(
            RoyaltyReportReviewStep(
                report_id=report.id,
                step=report.review_state,
                taken_at=report.reviewed_at,
                taken_by=actor.name,
                taken_by_id=actor.user_id,
                note=cleaned or None,
            )
        )
        if action == "request_correction":
            # Kept apart: marking the report reviewed later writes the fields above.
            report.correction_requested_at = report.reviewed_at
            report.correction_requested_by = actor.name
            report.correction_note = cleaned
        due = correction_due_on(report, correction_due_days)
        if due is not None:
            _ask_for_correction(session, report, cleaned, due)
        return report


def _share_agreement_of(session: Session, report_id: int) -> None:
    """The report's agreement locked FOR KEY SHARE, before the report (round 56; the
    lock order, `royalties.services`). The review writes the report twice (its
    review state, then the correction asked), and PostgreSQL checks the second
    write's foreign key to the agreement with that lock, after the review's first
    event; a filing holds the agreement (FOR UPDATE) and then waits to supersede the
    report: "deadlock detected" (`tests/integration/royalties/
    test_review_lock_order.py`). Taken first, it waits for a filing under way,
    holding nothing; a claim of the agreement (the reminders run) does not wait
    for it."""
    session.execute(
        select(Agreement.id)
        .where(
            Agreement.id
            == select(RoyaltyReport.agreement_id)
            .where(RoyaltyReport.id == report_id)
            .scalar_subquery()
        )
        .with_for_update(read=True, key_share=True)
    )


@dataclass(frozen=True)
class ReviewStep:
    """A step of a report's review as its reader may see it: `by` is the staff
    member for staff, None for the licensee (pages say "the licensing office", as
    an application's decisions do). The note is the licensee's to read either way:
    the console asks for it as the "Note to the licensee"."""

    step: str
    at: datetime
    by: str | None
    note: str | None
    # The staff member's account (round 58), for staff: None for the licensee, and for
    # a step taken before the step kept it (then named by `by`, the address).
    by_id: int | None = None


def review_history(report: RoyaltyReport, actor: Actor) -> list[ReviewStep]:
    """Every step of the report's review, oldest first, as `actor` may see it (the
    caller has already been let see the report: `get_report`). None for a preview."""
    if report.id is None:
        return []
    staff = actor.sees_every_organization
    steps = db.session().scalars(
        select(RoyaltyReportReviewStep)
        .where(RoyaltyReportReviewStep.report_id == report.id)
        .order_by(RoyaltyReportReviewStep.taken_at, RoyaltyReportReviewStep.id)
    )
    return [
        ReviewStep(
            step=step.step,
            at=step.taken_at,
            by=step.taken_by if staff else None,
            note=step.note,
            by_id=step.taken_by_id if staff else None,
        )
        for step in steps
    ]


def _ask_for_correction(session: Session, report: RoyaltyReport, note: str, due: date) -> None:
    """The licensee's email: what to correct, by when, and where (sent by the use
    case, not a hook: it needs the setting's due day)."""
    agreement = session.get(Agreement, report.agreement_id)
    organization = session.get(Organization, report.organization_id)
    assert agreement is not None
    assert organization is not None
    readers = account_queries.licensing_readers(session, organization)
    mail.enqueue(
        session,
        to=readers.to,
        subject=f"Please correct royalty report {report.reference} for {agreement.number}",
        template="royalty_report_correction",
        context={
            "stand_in": readers.stand_in,
            "names": readers.names,
            "report": report,
            "agreement": agreement,
            "note": note,
            "due": day_text(due),
            "link": links().royalty_period(agreement.id, report.period_start),
        },
    )
