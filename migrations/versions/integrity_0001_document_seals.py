"""Seals on issued documents: digests of their issued bytes and amounts, and an
HMAC under the audit key, so `licensing audit verify` detects edits made in
the database (see `licensing.audit.seals`).

- `invoices`, `credit_notes`: `issued_sha256`, `amounts_sha256`.
- `agreements`: `amounts_sha256` (the PDF's digest is `pdf_sha256` already).
- `permission_letters`: the PDF's digest is `sha256` already; no amounts.
- all four: `seal_key_id`, `seal`.

It needs the billing, agreements and permissions tables, so it follows their
first revisions as a merge point. (Written as `down_revision = "0001"` with
those three in `depends_on`, Alembic 1.x fails to upgrade an empty database:
its merge step tries to remove `0001` from the version table, which no longer
holds it.)

Revision ID: integrity_0001
Revises: billing_0001, agreements_0001, permissions_0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "integrity_0001"
down_revision = ("billing_0001", "agreements_0001", "permissions_0001")
branch_labels = None
depends_on = None

_COLUMNS = {
    "invoices": ("issued_sha256", "amounts_sha256"),
    "credit_notes": ("issued_sha256", "amounts_sha256"),
    "agreements": ("amounts_sha256",),
    "permission_letters": (),
}


def upgrade() -> None:
    for table, digests in _COLUMNS.items():
        with op.batch_alter_table(table) as batch:
            for name in digests:
                batch.add_column(sa.Column(name, sa.String(length=64), nullable=True))
            batch.add_column(sa.Column("seal_key_id", sa.String(length=16), nullable=True))
            batch.add_column(sa.Column("seal", sa.String(length=64), nullable=True))


def downgrade() -> None:
    # ALTER TABLE ... DROP COLUMN in place (SQLite 3.35+): recreating these tables
    # would drop a table that other tables' rows refer to, which SQLite refuses.
    for table, digests in _COLUMNS.items():
        with op.batch_alter_table(table, recreate="never") as batch:
            batch.drop_column("seal")
            batch.drop_column("seal_key_id")
            for name in reversed(digests):
                batch.drop_column(name)
