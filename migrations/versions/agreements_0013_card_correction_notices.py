"""Agreements: which licensees were told of the card correcting their agreement's
(round 62, correction62).

Publishing a correction emailed every licensee it touched inside the publishing's own
transaction (round 61): at 5,000 agreements that held SQLite's write lock for 14 s and
ran 57 s on PostgreSQL. The telling now runs in batches after the card is stored, each
its own unit of work; `card_correction_notices` keeps, per agreement and correcting
card, that it was told (and whether emailed), stored with the email in the same unit,
so a telling stopped part-way runs again where it stopped and tells no one twice.
Nothing to backfill: a correction published before was told in full in its own
transaction.

Revision ID: agreements_0013
Revises: agreements_0012
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import licensing.db

revision = "agreements_0013"
down_revision = "agreements_0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "card_correction_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agreement_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("emailed", sa.Boolean(), nullable=False),
        sa.Column("told_at", licensing.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agreement_id"],
            ["agreements.id"],
            name=op.f("fk_card_correction_notices_agreement_id_agreements"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_correction_notices")),
        sa.UniqueConstraint(
            "agreement_id", "version", name=op.f("uq_card_correction_notices_agreement_id_version")
        ),
    )


def downgrade() -> None:
    op.drop_table("card_correction_notices")
