"""Operations: each job's run record keeps its last run's id (round 42), the
`run_id` its log lines carry, so `licensing jobs status` and `/readyz`'s
`jobs_detail` lead an operator to the run's lines (`grep run_id=RUN`).

Revision ID: operations_0002
Revises: operations_0001
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "operations_0002"
down_revision = "operations_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable: runs recorded before it have no id (their lines had one, unrecorded).
    with op.batch_alter_table("job_runs") as batch:
        batch.add_column(sa.Column("last_run_id", sa.String(length=12), nullable=True))


def downgrade() -> None:
    # Only the ids go; the worker's log keeps each run's lines and their ids.
    with op.batch_alter_table("job_runs") as batch:
        batch.drop_column("last_run_id")
