"""Operations: each periodic job's recent runs (round 47), beside the last run
`job_runs` keeps: a row a run (start, end, outcome, the error's first line on
failure, its run id), the newest 50 of each job, so an admin can tell a run that
failed last night from one failing every night this week.

Revision ID: operations_0003
Revises: operations_0002
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import licensing.db

revision = "operations_0003"
down_revision = "operations_0002"
branch_labels = None
depends_on = None

TABLE = "job_run_history"


def upgrade() -> None:
    # Empty at first: the runs before it left only each job's last (in `job_runs`).
    op.create_table(
        TABLE,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job", sa.String(length=64), nullable=False),
        sa.Column("run_id", sa.String(length=12), nullable=True),
        sa.Column("started_at", licensing.db.UTCDateTime(), nullable=True),
        sa.Column("finished_at", licensing.db.UTCDateTime(), nullable=True),
        sa.Column("ok", sa.Boolean(), nullable=True),
        sa.Column("summary", sa.String(length=500), nullable=True),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_run_history")),
    )
    # A job's runs, newest first, and the prune's bound: both by (job, id).
    op.create_index("ix_job_run_history_job_id", TABLE, ["job", "id"])


def downgrade() -> None:
    # Only the past runs go; each job's last run stays in `job_runs`.
    op.drop_index("ix_job_run_history_job_id", table_name=TABLE)
    op.drop_table(TABLE)
