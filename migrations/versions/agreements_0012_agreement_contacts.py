"""Agreements: the contacts the office made with a licensee about a licence that
expired without a renewal (round 60).

The office's list of agreements expired without a renewal (round 59) said nothing of
whether anyone had chased a licence: staff wrote it, if anywhere, on the
organization's page. `agreement_contacts` keeps each contact recorded: the day, how
(email, phone, letter, meeting), a note and the account that recorded it (its id,
without a foreign key, as a decision keeps its maker's, agreements_0011). Indexed by
agreement and day: the list reads each agreement's last contact. Nothing to backfill.

Revision ID: agreements_0012
Revises: agreements_0011
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import licensing.db

revision = "agreements_0012"
down_revision = "agreements_0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agreement_contacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agreement_id", sa.Integer(), nullable=False),
        sa.Column("contacted_on", sa.Date(), nullable=False),
        sa.Column("how", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("recorded_by_id", sa.Integer(), nullable=True),
        sa.Column("recorded_at", licensing.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "how IN ('email', 'phone', 'letter', 'meeting')",
            name=op.f("ck_agreement_contacts_how"),
        ),
        sa.ForeignKeyConstraint(
            ["agreement_id"],
            ["agreements.id"],
            name=op.f("fk_agreement_contacts_agreement_id_agreements"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agreement_contacts")),
    )
    op.create_index(
        "ix_agreement_contacts_agreement_day",
        "agreement_contacts",
        ["agreement_id", "contacted_on", "id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_agreement_contacts_agreement_day", table_name="agreement_contacts")
    op.drop_table("agreement_contacts")
