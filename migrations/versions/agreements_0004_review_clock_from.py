"""Applications: where the review clock runs from once resubmitted, the first
submission moved later by the business days the application waited on the vendor
(returned to resubmitted), so that the queue's order, its overdue marks and the
console home's count measure the office's own days. An application never returned
keeps NULL (it counts from `submitted_at` as before); one returned and resubmitted
before this revision is backfilled from the audit log, each `application.returned`
paired with the `application.resubmitted` after it, as the resubmission now sets it.

Revision ID: agreements_0004
Revises: agreements_0003
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import licensing.db
from licensing import calendar

revision = "agreements_0004"
down_revision = "agreements_0003"
branch_labels = None
depends_on = None


_APPLICATIONS = sa.table(
    "applications",
    sa.column("id", sa.Integer()),
    sa.column("submitted_at", licensing.db.UTCDateTime()),
    sa.column("returned_at", licensing.db.UTCDateTime()),
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
_RETURNED, _RESUBMITTED = "application.returned", "application.resubmitted"


def _backfill() -> None:
    """Each application returned and resubmitted: its first submission moved later
    by the business days from each return's office day to its resubmission's."""
    connection = op.get_bind()
    returned = connection.execute(
        sa.select(_APPLICATIONS.c.id, _APPLICATIONS.c.submitted_at).where(
            _APPLICATIONS.c.returned_at.is_not(None), _APPLICATIONS.c.submitted_at.is_not(None)
        )
    ).all()
    for application_id, submitted_at in returned:
        steps = connection.execute(
            sa.select(_EVENTS.c.action, _EVENTS.c.occurred_at)
            .where(
                _EVENTS.c.entity_type == "application",
                _EVENTS.c.entity_id == str(application_id),
                _EVENTS.c.action.in_((_RETURNED, _RESUBMITTED)),
            )
            .order_by(_EVENTS.c.occurred_at, _EVENTS.c.id)
        ).all()
        waited, asked = 0, None
        for action, moment in steps:
            if action == _RETURNED:
                asked = moment
            elif asked is not None:
                waited += calendar.business_days_between(
                    calendar.office_date(asked), calendar.office_date(moment)
                )
                asked = None
        if waited:
            connection.execute(
                _APPLICATIONS.update()
                .where(_APPLICATIONS.c.id == application_id)
                .values(review_clock_from=calendar.later_by_business_days(submitted_at, waited))
            )


def upgrade() -> None:
    with op.batch_alter_table("applications") as batch:
        batch.add_column(
            sa.Column("review_clock_from", licensing.db.UTCDateTime(timezone=True), nullable=True)
        )
    _backfill()


def downgrade() -> None:
    with op.batch_alter_table("applications") as batch:
        batch.drop_column("review_clock_from")
