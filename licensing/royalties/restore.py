"""`licensing reports restore-terminated`: the reporting periods of agreements
terminated before round 23, whose termination deleted them (docs/royalty-reports.md,
"Agreements terminated before round 23").

Their own pages build their periods and accept their reports, but the staff queue,
the reminders and the standing rule read the stored rows, and do not see them. The
office decides which to restore (`terminated_since`): once stored, the reminders job
treats their unfiled periods as any others, and one overdue beyond the standing
threshold holds the organization at its next run.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import String, cast, exists, select
from sqlalchemy.orm import Session

from licensing import db
from licensing.actors import Actor
from licensing.agreements.models import Agreement
from licensing.agreements.states import TERMINATED
from licensing.audit import services as audit
from licensing.audit.models import AuditEvent
from licensing.calendar import OFFICE_TIMEZONE, office_date

from .lateness import accepted_on, late_from
from .models import ReportingPeriod
from .periods import Period
from .schedule import store_terminated_periods, terminated_periods
from .services.obligations import current_reports

# Agreements read at a time: a database with years of terminations is not read at once.
RESTORE_BATCH = 200
# The audit event of an agreement the command has stored the periods of; recorded
# too, with no period, for one whose lines report no usage, so that no later run
# reads it again (it never has a stored period to tell it apart otherwise).
RESTORED = "agreement.periods_restored"


@dataclass(frozen=True)
class RestoredPeriod:
    """A period restored (or to restore), whether its report was filed, and the last
    day its report is on time (`lateness.late_from`: its due date, or the acceptance's
    office day for a period due before the agreement was accepted)."""

    period: Period
    filed: bool
    late_from: date

    def overdue_days(self, today: date) -> int:
        """Days its report is overdue on `today` (0 when filed or not yet late),
        counted from `late_from` as the queue, the reminders and the standing do
        (round 52: from the due date, a back report read overdue before it was)."""
        return 0 if self.filed else max((today - self.late_from).days, 0)


@dataclass(frozen=True)
class Restoration:
    """An agreement terminated with no stored periods, and the periods it reports."""

    agreement_id: int
    agreement_number: str
    organization_name: str
    terminated_on: date
    periods: tuple[RestoredPeriod, ...]


def _candidates(after_id: int, terminated_since: date | None) -> Any:
    """A batch of the agreements terminated after acceptance with no stored period
    and not yet looked at by an `--apply` run, in id order after `after_id`."""
    statement = select(Agreement).where(
        Agreement.state == TERMINATED,
        Agreement.activated_at.is_not(None),
        Agreement.id > after_id,
        ~_stored(Agreement.id),
        ~_restored(Agreement.id),
    )
    if terminated_since is not None:
        # An office day is on or after the bound exactly when its moment is on or
        # after that day's start in the office's time zone.
        start = datetime.combine(terminated_since, time.min, tzinfo=OFFICE_TIMEZONE)
        statement = statement.where(Agreement.ended_at >= start.astimezone(UTC))
    return statement.order_by(Agreement.id).limit(RESTORE_BATCH)


def _stored(agreement_id: Any) -> Any:
    """Whether the agreement has a stored period."""
    return exists().where(ReportingPeriod.agreement_id == agreement_id)


def _restored(agreement_id: Any) -> Any:
    """Whether an `--apply` run recorded the agreement (`RESTORED`)."""
    return exists().where(
        AuditEvent.entity_type == "agreement",
        AuditEvent.entity_id == cast(agreement_id, String),
        AuditEvent.action == RESTORED,
    )


def _restoration(
    session: Session, agreement: Agreement, periods: tuple[Period, ...]
) -> Restoration:
    filed = current_reports(session, agreement.id)
    assert agreement.ended_at is not None  # a terminated agreement's end is stamped
    accepted = accepted_on(agreement.activated_at)
    return Restoration(
        agreement.id,
        agreement.number,
        agreement.organization.legal_name,
        office_date(agreement.ended_at),
        tuple(
            RestoredPeriod(period, period.start in filed, late_from(period.due_on, accepted))
            for period in periods
        ),
    )


def restorations(
    *, apply: bool, terminated_since: date | None = None, operator: str = "unknown"
) -> Iterator[Restoration]:
    """The agreements terminated before round 23 whose periods are not stored (those
    with periods to report), a batch at a time; with `apply`, each one's periods
    stored as a termination now stores them (`store_terminated_periods`) and audited,
    as the system with the operator's login in the note. Each agreement is claimed in
    its own transaction (SKIP LOCKED on PostgreSQL) and checked again, so several
    hosts at once restore each agreement once; a second run finds nothing.

    Without `apply` nothing is written and no write lock is taken (`db.read_session`:
    on SQLite a unit of work would hold the database's one write lock while each
    agreement's periods are worked out, and vendors' writes would wait for a dry run)."""
    after_id = 0
    while True:
        ids = _batch(after_id, terminated_since)
        if not ids:
            return
        yield from _apply(ids, operator) if apply else _listed(ids)
        after_id = ids[-1]


def _batch(after_id: int, terminated_since: date | None) -> list[int]:
    with closing(db.read_session()) as session:
        return list(
            session.scalars(_candidates(after_id, terminated_since).with_only_columns(Agreement.id))
        )


def _listed(ids: list[int]) -> Iterator[Restoration]:
    """The dry run: what `_restore` would store for each agreement, read only."""
    with closing(db.read_session()) as session:
        for agreement_id in ids:
            agreement = session.get(Agreement, agreement_id)
            if agreement is None or session.scalar(select(_stored(agreement_id))):
                continue  # restored meanwhile by a run with --apply
            periods = terminated_periods(session, agreement)
            if periods:
                yield _restoration(session, agreement, periods)


def _apply(ids: list[int], operator: str) -> Iterator[Restoration]:
    note = f"licensing reports restore-terminated on the command line (user {operator})"
    for agreement_id in ids:
        found = _restore(agreement_id, note=note)
        if found is not None:
            yield found


def _restore(agreement_id: int, *, note: str) -> Restoration | None:
    with db.transaction() as session:
        statement = select(Agreement).where(Agreement.id == agreement_id)
        claimed = session.scalars(db.claim(statement)).one_or_none()
        if claimed is None:
            return None  # another host holds it
        done = select(_stored(agreement_id) | _restored(agreement_id))
        if session.scalar(done):
            return None  # another host restored it meanwhile
        periods = store_terminated_periods(session, claimed)
        audit.record_event(
            session,
            RESTORED,
            claimed.id,
            before={"reporting_periods": []},
            after={
                "reporting_periods": [
                    {
                        "start": p.start.isoformat(),
                        "end": p.end.isoformat(),
                        "due_on": p.due_on.isoformat(),
                    }
                    for p in periods
                ]
            },
            note=note if periods else f"{note}: no line of it reports usage, no period to store",
            actor=Actor.SYSTEM,
        )
        return _restoration(session, claimed, periods) if periods else None


def describe(restoration: Restoration, today: date, standing_days: int) -> list[str]:
    """The command's lines for an agreement: a heading, then a line per period."""
    lines = [
        f"{restoration.agreement_number} ({restoration.organization_name}), terminated "
        f"{restoration.terminated_on.isoformat()}: {len(restoration.periods)} period(s)"
    ]
    for restored in restoration.periods:
        state = _state(restored, today, standing_days)
        due = f"due {restored.period.due_on}"
        if restored.late_from > restored.period.due_on:  # a back report
            due += f", due from the acceptance on {restored.late_from}"
        lines.append(f"  {restored.period.label}, {due}: {state}")
    return lines


def _state(restored: RestoredPeriod, today: date, standing_days: int) -> str:
    if restored.filed:
        return "report filed"
    days = restored.overdue_days(today)
    if days > standing_days:
        return (
            f"overdue {days} days (more than {standing_days}: the next reminders run holds "
            "the organization, if in good standing)"
        )
    if days:
        return f"overdue {days} days"
    return "not yet overdue"
