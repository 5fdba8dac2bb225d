"""Agreements: a vendor's agreements by number (round 55).

The vendor's agreements list (`/portal/agreements`, `GET /api/v1/agreements`) offers the
console's Sort since round 55, and *By number* besides: `ix_agreements_organization_number`
(organization, number) serves a vendor's by number, as
`ix_agreements_organization_issued_order` serves the others (an agreement number's
year is its term's start, so number order is not issue order). Every organization's
list by number reads the number's own unique index.

Revision ID: agreements_0009
Revises: agreements_0008
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "agreements_0009"
down_revision = "agreements_0008"
branch_labels = None
depends_on = None

BY_NUMBER = "ix_agreements_organization_number"
BY_NUMBER_COLUMNS = ["organization_id", "number"]


def upgrade() -> None:
    with op.batch_alter_table("agreements", schema=None) as batch_op:
        batch_op.create_index(BY_NUMBER, BY_NUMBER_COLUMNS, unique=False)


def downgrade() -> None:
    with op.batch_alter_table("agreements", schema=None) as batch_op:
        batch_op.drop_index(BY_NUMBER)
