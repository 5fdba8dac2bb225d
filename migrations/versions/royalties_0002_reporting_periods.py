"""Royalties: every reporting agreement's periods stored (`reporting_periods`), so
that the staff queue, its count, filters and order, and the queue summaries are
SQL; backfilled here for the agreements already reporting.

Revision ID: royalties_0002
Revises: royalties_0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "royalties_0002"
down_revision = "royalties_0001"
branch_labels = None
depends_on = None

# Agreements read in batches of this many, their periods inserted per batch.
BATCH = 1000
# The agreement states that report (`royalties.services.REPORTING_STATES` when written).
REPORTING_STATES = ("active", "expired", "superseded")


def upgrade() -> None:
    op.create_table(
        "reporting_periods",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agreement_id", sa.Integer(), nullable=False),
        sa.Column("agreement_number", sa.String(length=20), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("period_index", sa.Integer(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agreement_id"],
            ["agreements.id"],
            name=op.f("fk_reporting_periods_agreement_id_agreements"),
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_reporting_periods_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reporting_periods")),
        sa.UniqueConstraint(
            "agreement_id",
            "period_start",
            name=op.f("uq_reporting_periods_agreement_id_period_start"),
        ),
    )
    with op.batch_alter_table("reporting_periods", schema=None) as batch_op:
        batch_op.create_index(
            "ix_reporting_periods_queue_order", ["due_on", "agreement_number", "id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_reporting_periods_organization_id"), ["organization_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_reporting_periods_period_start"), ["period_start"], unique=False
        )
    _backfill(op.get_bind())


def downgrade() -> None:
    with op.batch_alter_table("reporting_periods", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reporting_periods_period_start"))
        batch_op.drop_index(batch_op.f("ix_reporting_periods_organization_id"))
        batch_op.drop_index("ix_reporting_periods_queue_order")
    op.drop_table("reporting_periods")


# The tables as this revision reads and writes them (not the models, which may
# have moved on by the time this runs).
_agreements = sa.table(
    "agreements",
    sa.column("id", sa.Integer),
    sa.column("number", sa.String),
    sa.column("organization_id", sa.Integer),
    sa.column("state", sa.String),
    sa.column("quote_id", sa.Integer),
    sa.column("rate_card", sa.String),
    sa.column("term_start", sa.Date),
    sa.column("term_end", sa.Date),
)
_quotes = sa.table("application_quotes", sa.column("id"), sa.column("snapshot_json", sa.Text))
_cards = sa.table("rate_cards", sa.column("version", sa.String), sa.column("document", sa.Text))
_periods = sa.table(
    "reporting_periods",
    sa.column("agreement_id", sa.Integer),
    sa.column("agreement_number", sa.String),
    sa.column("organization_id", sa.Integer),
    sa.column("period_index", sa.Integer),
    sa.column("period_start", sa.Date),
    sa.column("period_end", sa.Date),
    sa.column("due_on", sa.Date),
)


def _backfill(connection: sa.Connection) -> None:
    """The periods of every agreement already reporting, decided as the service
    decides them when an agreement starts to report (`royalties.schedule`)."""
    from licensing.pricing import parse_rate_card
    from licensing.royalties.schedule import period_rows, periods_of

    cards: dict[str, Any] = {}
    for batch in _agreement_batches(connection):
        rows: list[dict[str, Any]] = []
        for agreement in batch:
            if agreement.rate_card not in cards:
                document = connection.scalar(
                    sa.select(_cards.c.document).where(_cards.c.version == agreement.rate_card)
                )
                cards[agreement.rate_card] = parse_rate_card(json.loads(str(document)))
            periods = periods_of(
                json.loads(agreement.snapshot_json),
                cards[agreement.rate_card],
                agreement.term_start,
                agreement.term_end,
            )
            rows.extend(
                period_rows(agreement.id, agreement.number, agreement.organization_id, periods)
            )
        if rows:
            connection.execute(sa.insert(_periods), rows)


def _agreement_batches(connection: sa.Connection) -> Iterator[list[Any]]:
    statement = (
        sa.select(
            _agreements.c.id,
            _agreements.c.number,
            _agreements.c.organization_id,
            _agreements.c.rate_card,
            _agreements.c.term_start,
            _agreements.c.term_end,
            _quotes.c.snapshot_json,
        )
        .join(_quotes, _quotes.c.id == _agreements.c.quote_id)
        .where(_agreements.c.state.in_(REPORTING_STATES))
        .order_by(_agreements.c.id)
    )
    after = 0
    while True:
        batch = list(connection.execute(statement.where(_agreements.c.id > after).limit(BATCH)))
        if not batch:
            return
        yield batch
        after = batch[-1].id
