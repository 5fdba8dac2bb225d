"""Billing: the steps a nightly pull (`by=recorded`) sees stamp their own time: a
refund's failure (`refunds.failed_at`), an invoice written off or reopened
(`invoices.written_off_at`, `invoices.reopened_at`), and any step of a payment's
machine (`payments.status_changed_at`: declined, flagged, accepted, rejected,
cancelled, settled, reversed). Until now the first three were read from the audit
log and a payment's status change was not pulled again; each column is backfilled
from the audit log's latest event of its steps for the record.

No index: a by=recorded pull ORs several time stamps of the table, which no single
index serves (the plans read on SQLite and PostgreSQL are in docs/billing.md).

Revision ID: billing_0014
Revises: billing_0013
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import licensing.db

revision = "billing_0014"
down_revision = "billing_0013"
branch_labels = None
depends_on = None

# (table, column, audit entity type, the audit actions of the steps that stamp it),
# as the state machines (`licensing.billing.states`) name them today.
STAMPS = (
    ("refunds", "failed_at", "refund", ("refund.failed",)),
    ("invoices", "written_off_at", "invoice", ("invoice.marked_uncollectible",)),
    ("invoices", "reopened_at", "invoice", ("invoice.reopened",)),
    (
        "payments",
        "status_changed_at",
        "payment",
        (
            "payment.succeeded",
            "payment.declined",
            "payment.flagged",
            "payment.canceled",
            "payment.accepted",
            "payment.rejected",
            "payment.reversed",
            "payment.charged_back",
        ),
    ),
)


def _backfill(table_name: str, column_name: str, entity_type: str, actions: tuple[str, ...]) -> None:
    """Each record's column: the time of the latest of its steps in the audit log."""
    events = sa.table(
        "audit_events",
        sa.column("entity_type", sa.String(64)),
        sa.column("entity_id", sa.String(64)),
        sa.column("action", sa.String(100)),
        sa.column("occurred_at", licensing.db.UTCDateTime()),
    )
    records = sa.table(table_name, sa.column("id", sa.Integer()), sa.column(column_name))
    of_record = sa.and_(
        events.c.entity_type == entity_type,
        events.c.entity_id == sa.cast(records.c.id, sa.String()),
        events.c.action.in_(actions),
    )
    latest = sa.select(sa.func.max(events.c.occurred_at)).where(of_record).scalar_subquery()
    op.get_bind().execute(
        records.update()
        .where(sa.exists().where(of_record))
        .values({column_name: latest})
    )


def upgrade() -> None:
    for table_name, column_name, _, _ in STAMPS:
        with op.batch_alter_table(table_name) as batch:
            batch.add_column(sa.Column(column_name, licensing.db.UTCDateTime(), nullable=True))
    for stamp in STAMPS:
        _backfill(*stamp)


def downgrade() -> None:
    for table_name, column_name, _, _ in reversed(STAMPS):
        with op.batch_alter_table(table_name) as batch:
            batch.drop_column(column_name)
