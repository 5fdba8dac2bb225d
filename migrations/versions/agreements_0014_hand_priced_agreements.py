"""Agreements: what an agreement no rate card priced says instead (round 66, currency66).

A renewal licensing staff price by hand (no card in its currency in effect on its first
day) has a quote naming the renewed agreement's card (round 62), and its agreement copied
that card as its `rate_card`, though the card is in effect on no day of its term. The
agreement's row stays as issued (its `rate_card` is what the royalty and correction code
read); `hand_priced_agreements` keeps, for each agreement issued so from now on, one row
written at issue: the card in effect in its currency on its first day then (null: none
was). Nothing is backfilled: an agreement issued before has no row, and the service works
its card in effect out from the cards published by its issue (cards never change).

Revision ID: agreements_0014
Revises: agreements_0013
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "agreements_0014"
down_revision = "agreements_0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hand_priced_agreements",
        sa.Column("agreement_id", sa.Integer(), nullable=False),
        sa.Column("in_effect", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["agreement_id"],
            ["agreements.id"],
            name=op.f("fk_hand_priced_agreements_agreement_id_agreements"),
        ),
        sa.PrimaryKeyConstraint("agreement_id", name=op.f("pk_hand_priced_agreements")),
    )


def downgrade() -> None:
    op.drop_table("hand_priced_agreements")
