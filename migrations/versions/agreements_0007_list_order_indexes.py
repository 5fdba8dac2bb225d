"""Agreements: an index for each order the agreements are listed in (round 52).

The agreements lists (`/console/agreements`, `/portal/agreements`, an organization's
page, `GET /api/v1/agreements`) list newest first (`issued_at`, then the id), and the
renewals due and the console home's "Agreements ending within 90 days" the active
agreements by term end (then the id). No index gave either order, so each page read
every agreement its filters chose and sorted them before taking 50 (docs/list-pages.md,
round 51's count51: 15-52 ms at 2,000 agreements on SQLite). These indexes follow the
orders, led by the filter each list takes (none, the organization, the state), so a
page is read in order and the read stops after its rows.

Those lists ask of each agreement whether an application renews it
(`applications.renewal_of_id`): unindexed, each agreement's question read every
application (the console home's count of agreements ending within 90 days took 1.4 s
of CPU at 20,000 agreements and applications on SQLite; 0.3 ms with the index).

No data changes: the downgrade drops them.

Revision ID: agreements_0007
Revises: agreements_0006
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

revision = "agreements_0007"
down_revision = "agreements_0006"
branch_labels = None
depends_on = None

INDEXES = (
    ("agreements", "ix_agreements_issued_order", ["issued_at", "id"]),
    ("agreements", "ix_agreements_organization_issued_order", ["organization_id", "issued_at", "id"]),
    ("agreements", "ix_agreements_state_issued_order", ["state", "issued_at", "id"]),
    ("agreements", "ix_agreements_state_term_end_order", ["state", "term_end", "id"]),
    ("applications", "ix_applications_renewal_of_id", ["renewal_of_id"]),
)


def upgrade() -> None:
    for table, name, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for table, name, _columns in INDEXES:
        op.drop_index(name, table_name=table)
