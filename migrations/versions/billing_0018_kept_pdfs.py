"""Billing: an invoice's and a credit note's PDF kept as first drawn (round 44).

Until now both were drawn from their records at every download, so a change to the
renderer's words changed what a licensee downloaded again (round 42 changed a
royalty invoice's working). `kept_pdfs` holds the bytes of each document the first
time it is drawn (for a download, the API, a signed link or the email that issues
it), with their SHA-256 and when; later downloads serve them. An invoice keeps one
document a standing it is drawn in (its stamp and the amounts it prints beside what
was issued), the first its issued one. Nothing is drawn by the migration: a
document issued before it is kept at its first draw after.

The downgrade drops the table: the documents are drawn from their records again,
as before; the bytes served until then are not kept anywhere else (an emailed
invoice's attachment stays in the outbox).

Revision ID: billing_0018
Revises: billing_0017
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import licensing.db

revision = "billing_0018"
down_revision = "billing_0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "kept_pdfs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=True),
        sa.Column("credit_note_id", sa.Integer(), nullable=True),
        sa.Column("standing", sa.String(length=200), nullable=False),
        sa.Column("issued_id", sa.Integer(), nullable=True),
        sa.Column("pdf", sa.LargeBinary(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("drawn_at", licensing.db.UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "(invoice_id IS NULL AND credit_note_id IS NOT NULL) "
            "OR (invoice_id IS NOT NULL AND credit_note_id IS NULL)",
            name=op.f("ck_kept_pdfs_one_document"),
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.id"], name=op.f("fk_kept_pdfs_invoice_id_invoices")
        ),
        sa.ForeignKeyConstraint(
            ["credit_note_id"],
            ["credit_notes.id"],
            name=op.f("fk_kept_pdfs_credit_note_id_credit_notes"),
        ),
        sa.ForeignKeyConstraint(
            ["issued_id"], ["kept_pdfs.id"], name=op.f("fk_kept_pdfs_issued_id_kept_pdfs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kept_pdfs")),
        sa.UniqueConstraint(
            "invoice_id", "standing", name=op.f("uq_kept_pdfs_invoice_id_standing")
        ),
        sa.UniqueConstraint(
            "credit_note_id", "standing", name=op.f("uq_kept_pdfs_credit_note_id_standing")
        ),
    )
    if op.get_bind().dialect.name == "postgresql":
        # A PDF's streams are compressed already: PostgreSQL's TOAST would try to
        # compress each 45 KB again for nothing. Measured inserting one in a unit of
        # work, three rounds alternated on a loaded machine: 5.0-8.8 ms with the
        # default (EXTENDED), 3.0-3.8 ms without (EXTERNAL).
        op.execute("ALTER TABLE kept_pdfs ALTER COLUMN pdf SET STORAGE EXTERNAL")


def downgrade() -> None:
    op.drop_table("kept_pdfs")
