"""Finance: an outbox attachment may name a kept document instead of holding its bytes
(round 48).

An issued invoice's email attached its PDF, about 45 KB, stored in
`outbox_attachments.content` for good, while the same bytes are kept, sealed and
insert-only, in `kept_pdfs` (billing_0018); a decision letter's email the same, beside
`permission_letters.pdf`. An attachment now holds either its bytes (`content`, as
before) or a reference: `kept_kind` ("kept_pdf" or "permission_letter"), `kept_id`,
and the SHA-256 of the bytes queued, which the sender reads from the kept row and
checks when it sends. `size` says how big either is, so the outbox's pages read no
bytes; it is filled here for the rows already stored.

A row already stored whose bytes are exactly those of the kept document its file
name names (`INV-....pdf`, a letter's `PR-....pdf`) becomes a reference (its bytes
compared whole, its SHA-256 taken from the kept row); any other keeps its bytes (an
invoice issued before round 44, whose PDF was kept later or never; a monthly report).

The downgrade copies each referenced document's bytes back into `content` first, then
drops the columns: every attachment holds its own bytes again.

Revision ID: finance_0002
Revises: finance_0001
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "finance_0002"
down_revision = "finance_0001"
branch_labels = None
# The downgrade reads the rows the references name: kept_pdfs (billing_0018) and
# permission_letters (permissions_0001). Not the branches' heads (billing_0019,
# permissions_0004): depending on a head made Alembic's upgrade from an empty database
# fail (KeyError '0001' in its HeadMaintainer), and the columns read are there since.
depends_on = ("billing_0018", "permissions_0001")

BYTES_OR_KEPT = (
    "(content IS NOT NULL AND kept_kind IS NULL AND kept_id IS NULL) OR "
    "(content IS NULL AND kept_kind IS NOT NULL AND kept_id IS NOT NULL "
    "AND sha256 IS NOT NULL)"
)
# Each kind an attachment may name, and the table and column holding its bytes.
SOURCES = {"kept_pdf": ("kept_pdfs", "pdf"), "permission_letter": ("permission_letters", "pdf")}
# The attachments already stored that are a kept document, byte for byte: found by the
# name the email gave the file (`<number>.pdf`, through each number's unique index),
# then compared whole. An invoice issued before round 44 has no kept row: its copy stays.
_STEM = "substr(a.filename, 1, length(a.filename) - 4)"
MATCHES = {
    "kept_pdf": (
        "SELECT a.id AS attachment_id, k.id AS kept_id, k.sha256 AS sha256 "
        "FROM outbox_attachments a "
        f"JOIN invoices i ON i.number = {_STEM} "
        "JOIN kept_pdfs k ON k.invoice_id = i.id AND k.pdf = a.content "
        "WHERE a.content IS NOT NULL AND a.filename LIKE '%.pdf'"
    ),
    "permission_letter": (
        "SELECT a.id AS attachment_id, l.id AS kept_id, l.sha256 AS sha256 "
        "FROM outbox_attachments a "
        f"JOIN permission_letters l ON l.number = {_STEM} AND l.pdf = a.content "
        "WHERE a.content IS NOT NULL AND a.filename LIKE '%.pdf'"
    ),
}


def upgrade() -> None:
    # ADD COLUMN in place on both databases, then one statement sizing the stored rows.
    with op.batch_alter_table("outbox_attachments", recreate="never") as batch:
        batch.add_column(sa.Column("kept_kind", sa.String(length=30), nullable=True))
        batch.add_column(sa.Column("kept_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("sha256", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("size", sa.Integer(), nullable=True))
    op.execute("UPDATE outbox_attachments SET size = length(content)")
    # PostgreSQL alters in place; SQLite cannot drop a NOT NULL, so it copies the table.
    with op.batch_alter_table("outbox_attachments") as batch:
        batch.alter_column("content", existing_type=sa.LargeBinary(), nullable=True)
        batch.alter_column("size", existing_type=sa.Integer(), nullable=False)
    # Each stored copy whose bytes are exactly a kept document's becomes a reference.
    for kind, matches in MATCHES.items():
        op.execute(
            f"UPDATE outbox_attachments SET kept_kind = '{kind}', kept_id = found.kept_id, "
            "sha256 = found.sha256, content = NULL "
            f"FROM ({matches}) AS found WHERE found.attachment_id = outbox_attachments.id"
        )
    with op.batch_alter_table("outbox_attachments") as batch:
        batch.create_check_constraint(
            batch.f("ck_outbox_attachments_bytes_or_kept"), sa.text(BYTES_OR_KEPT)
        )


def downgrade() -> None:
    # The bytes back first, each from the row its reference names, the reference
    # cleared in the same statement (SET reads the row as it was): the check holds, and
    # fails the downgrade, changing nothing, should a reference name no row.
    for kind, (table, column) in SOURCES.items():
        op.execute(
            f"UPDATE outbox_attachments SET content = (SELECT {table}.{column} FROM {table} "
            f"WHERE {table}.id = outbox_attachments.kept_id), kept_kind = NULL, "
            f"kept_id = NULL WHERE kept_kind = '{kind}'"
        )
    with op.batch_alter_table("outbox_attachments") as batch:
        batch.drop_constraint(batch.f("ck_outbox_attachments_bytes_or_kept"), type_="check")
        batch.alter_column("content", existing_type=sa.LargeBinary(), nullable=False)
        batch.drop_column("size")
        batch.drop_column("sha256")
        batch.drop_column("kept_id")
        batch.drop_column("kept_kind")
