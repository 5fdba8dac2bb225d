"""Operations: the last run of each periodic job (one row a job: its last start,
finish and outcome, and its last success), read by `/readyz` and `licensing jobs
status` to name a job that has not run lately (round 33).

Revision ID: operations_0001
Revises: 0001
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import licensing.db

revision = "operations_0001"
down_revision = "0001"
branch_labels = None
depends_on = None

TABLE = "job_runs"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("job", sa.String(length=64), nullable=False),
        sa.Column("first_started_at", licensing.db.UTCDateTime(), nullable=False),
        sa.Column("last_started_at", licensing.db.UTCDateTime(), nullable=False),
        sa.Column("last_finished_at", licensing.db.UTCDateTime(), nullable=True),
        sa.Column("last_ok", sa.Boolean(), nullable=True),
        sa.Column("last_outcome", sa.String(length=500), nullable=True),
        sa.Column("last_succeeded_at", licensing.db.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("job", name=op.f("pk_job_runs")),
    )


def downgrade() -> None:
    # Only the record of runs goes; the worker's log keeps each run's line.
    op.drop_table(TABLE)
