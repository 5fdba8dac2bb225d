"""An index for the vendor's dashboard and lists: an organization's applications by
state, oldest submission first (the counts by state read the index alone).

Revision ID: pages_0001
Revises: agreements_0001
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "pages_0001"
down_revision = "agreements_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_applications_organization_state_submitted",
        "applications",
        ["organization_id", "state", "submitted_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_applications_organization_state_submitted", table_name="applications")
