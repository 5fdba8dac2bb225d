"""Applications: the review clock of those returned and resubmitted after a granted
reconsideration, recomputed as the resubmission has set it since round 38. The
backfill of `agreements_0004` added every wait on the vendor to the first
submission; but a reconsideration restarts the clock at its request, and a return
after its grant gives the wait back from there (`queries.review_clock_from`). Such
a row's backfilled value lay before the request (the request counted, without the
days waited after it) or, past it, counted from the submission moved by every wait
(earlier than the request moved by the waits after it): either way the office was
charged the vendor's days, so the queue marked it overdue early. Each application
whose audit log has `application.returned` and `application.resubmitted` pairs
after its `application.reconsideration_requested` now holds its request moved later
by the business days of those pairs; every other row is left as it is (one with no
return after the request reads its request: the column is not read before it).

Revision ID: agreements_0005
Revises: agreements_0004
Create Date: 2026-12-04
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import op

import licensing.db
from licensing import calendar

revision = "agreements_0005"
down_revision = "agreements_0004"
branch_labels = None
depends_on = None


_APPLICATIONS = sa.table(
    "applications",
    sa.column("id", sa.Integer()),
    sa.column("returned_at", licensing.db.UTCDateTime()),
    sa.column("reconsideration_requested_at", licensing.db.UTCDateTime()),
    sa.column("review_clock_from", licensing.db.UTCDateTime()),
)
_EVENTS = sa.table(
    "audit_events",
    sa.column("id", sa.Integer()),
    sa.column("entity_type", sa.String(64)),
    sa.column("entity_id", sa.String(64)),
    sa.column("action", sa.String(100)),
    sa.column("occurred_at", licensing.db.UTCDateTime()),
)
_REQUESTED = "application.reconsideration_requested"
_RETURNED, _RESUBMITTED = "application.returned", "application.resubmitted"


def _waited_after_request(steps: list[tuple[str, datetime]]) -> int | None:
    """The business days of the returns resubmitted after the (last) request for a
    reconsideration, each from the return's office day to the resubmission's; None
    when no return after the request was resubmitted."""
    waited, asked, paired = 0, None, False
    for action, moment in steps:
        if action == _REQUESTED:
            waited, asked, paired = 0, None, False
        elif action == _RETURNED:
            asked = moment
        elif asked is not None:
            waited += calendar.business_days_between(
                calendar.office_date(asked), calendar.office_date(moment)
            )
            asked, paired = None, True
    return waited if paired else None


def upgrade() -> None:
    connection = op.get_bind()
    reconsidered = connection.execute(
        sa.select(_APPLICATIONS.c.id, _APPLICATIONS.c.reconsideration_requested_at).where(
            _APPLICATIONS.c.reconsideration_requested_at.is_not(None),
            _APPLICATIONS.c.returned_at.is_not(None),
        )
    ).all()
    for application_id, requested_at in reconsidered:
        steps = connection.execute(
            sa.select(_EVENTS.c.action, _EVENTS.c.occurred_at)
            .where(
                _EVENTS.c.entity_type == "application",
                _EVENTS.c.entity_id == str(application_id),
                _EVENTS.c.action.in_((_REQUESTED, _RETURNED, _RESUBMITTED)),
            )
            .order_by(_EVENTS.c.occurred_at, _EVENTS.c.id)
        ).all()
        waited = _waited_after_request([(action, moment) for action, moment in steps])
        if waited is None:
            continue
        connection.execute(
            _APPLICATIONS.update()
            .where(_APPLICATIONS.c.id == application_id)
            .values(review_clock_from=calendar.later_by_business_days(requested_at, waited))
        )


def downgrade() -> None:
    """Nothing to undo: the values written are the ones the resubmission has stored
    since round 38 for these applications, which `agreements_0004`'s code would read
    the same way; putting back the backfill's miscount would only bring back the
    early overdue marks (and `agreements_0004`'s own downgrade drops the column)."""
