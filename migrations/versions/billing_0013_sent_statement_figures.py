"""Billing: each statement sent keeps the figures last emailed and to whom (a re-send
carries the statement as it reads now, to today's billing contact) and the month's
last day, so that the statements whose month a late entry changed are found without
reading every statement again.

Revision ID: billing_0013
Revises: billing_0012
Create Date: 2026-12-04
"""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa
from alembic import op

import licensing.db

revision = "billing_0013"
down_revision = "billing_0012"
branch_labels = None
depends_on = None

TABLE = "sent_statements"


def _last_day(month: date) -> date:
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def upgrade() -> None:
    with op.batch_alter_table(TABLE) as batch:
        batch.add_column(sa.Column("last_opening", licensing.db.Money(), nullable=True))
        batch.add_column(sa.Column("last_closing", licensing.db.Money(), nullable=True))
        batch.add_column(sa.Column("closes_on", sa.Date(), nullable=True))
        batch.add_column(sa.Column("last_sent_to", sa.String(254), nullable=True))
    # A statement re-sent before this revision keeps its first figures as the last
    # emailed: the audit log's `statement.resent` has what each re-send carried.
    table = sa.table(
        TABLE,
        sa.column("id", sa.Integer()),
        sa.column("month", sa.Date()),
        sa.column("opening", licensing.db.Money()),
        sa.column("closing", licensing.db.Money()),
        sa.column("last_opening", licensing.db.Money()),
        sa.column("last_closing", licensing.db.Money()),
        sa.column("closes_on", sa.Date()),
        sa.column("sent_to", sa.String(254)),
        sa.column("last_sent_to", sa.String(254)),
    )
    connection = op.get_bind()
    for row in connection.execute(sa.select(table.c.id, table.c.month)).all():
        connection.execute(
            table.update()
            .where(table.c.id == row.id)
            .values(
                last_opening=table.c.opening,
                last_closing=table.c.closing,
                closes_on=_last_day(row.month),
                last_sent_to=table.c.sent_to,
            )
        )
    with op.batch_alter_table(TABLE) as batch:
        batch.alter_column("last_opening", existing_type=licensing.db.Money(), nullable=False)
        batch.alter_column("last_closing", existing_type=licensing.db.Money(), nullable=False)
        batch.alter_column("closes_on", existing_type=sa.Date(), nullable=False)
        batch.alter_column("last_sent_to", existing_type=sa.String(254), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table(TABLE) as batch:
        batch.drop_column("last_sent_to")
        batch.drop_column("closes_on")
        batch.drop_column("last_closing")
        batch.drop_column("last_opening")
