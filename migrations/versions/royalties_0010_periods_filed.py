"""Royalties: each reporting period records whether it has its current report
(`filed`, round 53), with an index leading with the organization and it.

The vendor dashboard chose the periods still to file by asking, of every ended period
of the organization, whether a current report exists (a NOT EXISTS probe each: 22,000
at 2,000 agreements, for the 20 waiting), and each agreement's next period the same
way over those not yet ended. With `filed` kept on the period, both are read from
`ix_reporting_periods_organization_unfiled` (organization, filed, period end, then
the keys of the agreement and start): only the periods not filed.

Backfilled from the reports: a period is filed when a current (`submitted`) report
of its agreement and start exists. The downgrade drops the index and the column.

Revision ID: royalties_0010
Revises: royalties_0009
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "royalties_0010"
down_revision = "royalties_0009"
branch_labels = None
depends_on = None

INDEX = "ix_reporting_periods_organization_unfiled"
COLUMNS = ["organization_id", "filed", "period_end", "agreement_id", "period_start"]

_periods = sa.table(
    "reporting_periods",
    sa.column("agreement_id", sa.Integer),
    sa.column("period_start", sa.Date),
    sa.column("filed", sa.Boolean),
)
_reports = sa.table(
    "royalty_reports",
    sa.column("agreement_id", sa.Integer),
    sa.column("period_start", sa.Date),
    sa.column("state", sa.String),
)


def upgrade() -> None:
    op.add_column(
        "reporting_periods",
        sa.Column("filed", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    current = sa.exists().where(
        _reports.c.agreement_id == _periods.c.agreement_id,
        _reports.c.period_start == _periods.c.period_start,
        _reports.c.state == "submitted",
    )
    op.get_bind().execute(sa.update(_periods).where(current).values(filed=True))
    with op.batch_alter_table("reporting_periods", recreate="never") as batch_op:
        batch_op.create_index(INDEX, COLUMNS)


def downgrade() -> None:
    with op.batch_alter_table("reporting_periods", schema=None) as batch_op:
        batch_op.drop_index(INDEX)
        batch_op.drop_column("filed")
