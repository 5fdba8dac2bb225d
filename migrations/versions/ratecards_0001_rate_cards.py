"""Rate cards: published, immutable pricing documents.

Revision ID: ratecards_0001
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import licensing.db

revision = "ratecards_0001"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rate_cards",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("effective_to", sa.Date(), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("published_at", licensing.db.UTCDateTime(), nullable=False),
        sa.Column("published_by", sa.String(length=320), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rate_cards")),
        sa.UniqueConstraint("version", name=op.f("uq_rate_cards_version")),
    )
    op.create_index(
        op.f("ix_rate_cards_effective_from"), "rate_cards", ["effective_from"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_rate_cards_effective_from"), table_name="rate_cards")
    op.drop_table("rate_cards")
