"""Billing: each kept PDF sealed under the audit key (round 47).

`kept_pdfs` (billing_0018) stored each document's bytes with their SHA-256, which
`licensing audit verify` recomputes (round 46); but a row whose bytes and digest were
both rewritten passed, the digest being unkeyed. `seal_key_id` and `seal` hold an
HMAC under the audit key over what the row is of (its invoice or credit note and
standing) and its SHA-256, written with the row (`audit.seals.seal_kept`), as the
issued documents' seals are (integrity_0001).

Rows kept before this revision have no seal: the migration reads no app
configuration, so it cannot sign them. `licensing audit seal-unsealed`, run once after
the upgrade as after integrity_0001, seals each whose bytes still match its SHA-256
(and refuses the others); until then `audit verify` names them as not sealed.

The downgrade drops both columns: the rows stay, checked by their SHA-256 alone.

Revision ID: billing_0019
Revises: billing_0018
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "billing_0019"
down_revision = "billing_0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # ADD COLUMN in place (nullable, no default) on both databases: no table copy of
    # the PDFs' bytes on SQLite, no rewrite on PostgreSQL.
    with op.batch_alter_table("kept_pdfs", recreate="never") as batch:
        batch.add_column(sa.Column("seal_key_id", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("seal", sa.String(length=64), nullable=True))


def downgrade() -> None:
    # DROP COLUMN in place (SQLite 3.35+): recreating the table would copy every PDF,
    # and kept_pdfs refers to itself (issued_id).
    with op.batch_alter_table("kept_pdfs", recreate="never") as batch:
        batch.drop_column("seal")
        batch.drop_column("seal_key_id")
