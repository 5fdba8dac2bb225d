"""License applications, their uses, quote versions and internal notes; agreements,
their number sequences and acceptance records.

Revision ID: agreements_0001
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import licensing.db

revision = "agreements_0001"
down_revision = "0001"
branch_labels = None
depends_on = ("accounts_0001", "ratecards_0001")


def upgrade() -> None:
    op.create_table(
        "agreement_number_sequences",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("year", name=op.f("pk_agreement_number_sequences")),
    )
    op.create_table(
        "applications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=30), nullable=False),
        sa.Column("term_start", sa.Date(), nullable=True),
        sa.Column("term_end", sa.Date(), nullable=True),
        sa.Column("rate_card", sa.String(length=64), nullable=True),
        sa.Column("total", licensing.db.Money(precision=18, scale=4), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("attested_by_id", sa.Integer(), nullable=True),
        sa.Column("attested_at", licensing.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("submitted_at", licensing.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("return_reason", sa.Text(), nullable=True),
        sa.Column("returned_at", licensing.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("resubmit_by", licensing.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("vendor_response", sa.Text(), nullable=True),
        sa.Column("escalated_by_id", sa.Integer(), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("decided_at", licensing.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=320), nullable=True),
        sa.Column("reconsider_by", licensing.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reconsideration_reason", sa.Text(), nullable=True),
        sa.Column(
            "reconsideration_requested_at", licensing.db.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "reconsideration_closed_at", licensing.db.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("renewal_of_id", sa.Integer(), nullable=True),
        sa.Column("created_at", licensing.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", licensing.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "state IN ('draft', 'submitted', 'returned', 'in_review', 'escalated', 'approved', "
            "'rejected', 'withdrawn', 'lapsed', 'reconsideration_requested')",
            name=op.f("ck_applications_state"),
        ),
        sa.ForeignKeyConstraint(
            ["assignee_id"], ["users.id"], name=op.f("fk_applications_assignee_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["attested_by_id"], ["users.id"], name=op.f("fk_applications_attested_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_applications_created_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["escalated_by_id"], ["users.id"], name=op.f("fk_applications_escalated_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_applications_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_applications")),
    )
    with op.batch_alter_table("applications", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_applications_assignee_id"), ["assignee_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_applications_organization_id"), ["organization_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_applications_state"), ["state"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_applications_submitted_at"), ["submitted_at"], unique=False
        )

    op.create_table(
        "application_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", licensing.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_application_notes_application_id_applications"),
        ),
        sa.ForeignKeyConstraint(
            ["author_id"], ["users.id"], name=op.f("fk_application_notes_author_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_application_notes")),
    )
    with op.batch_alter_table("application_notes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_application_notes_application_id"), ["application_id"], unique=False
        )

    op.create_table(
        "application_quotes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("rate_card", sa.String(length=64), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("total", licensing.db.Money(precision=18, scale=4), nullable=False),
        sa.Column("term_start", sa.Date(), nullable=False),
        sa.Column("term_end", sa.Date(), nullable=False),
        sa.Column("snapshot_json", sa.Text(), nullable=False),
        sa.Column("modifications_json", sa.Text(), nullable=False),
        sa.Column("created_at", licensing.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=320), nullable=False),
        sa.CheckConstraint(
            "kind IN ('submitted', 'modified')", name=op.f("ck_application_quotes_kind")
        ),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_application_quotes_application_id_applications"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_application_quotes")),
        sa.UniqueConstraint(
            "application_id", "version", name=op.f("uq_application_quotes_application_id_version")
        ),
    )
    with op.batch_alter_table("application_quotes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_application_quotes_application_id"), ["application_id"], unique=False
        )

    op.create_table(
        "application_uses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("product_name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("use", sa.String(length=30), nullable=False),
        sa.Column("product_type", sa.String(length=30), nullable=False),
        sa.Column("user_type", sa.String(length=30), nullable=False),
        sa.Column("delivery", sa.String(length=40), nullable=False),
        sa.Column("territories", sa.String(length=400), nullable=False),
        sa.Column("languages", sa.String(length=400), nullable=False),
        sa.Column("quantity_json", sa.Text(), nullable=False),
        sa.Column("revenue", licensing.db.Money(precision=18, scale=4), nullable=True),
        sa.Column("routed_at", licensing.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "product_type IN ('software', 'saas', 'mobile_app', 'data_file', 'print', "
            "'electronic_publication', 'ai_model')",
            name=op.f("ck_application_uses_product_type"),
        ),
        sa.CheckConstraint(
            "use IN ('development', 'distribution', 'internal_use', 'derivative_work', "
            "'translation', 'education')",
            name=op.f("ck_application_uses_use"),
        ),
        sa.CheckConstraint(
            "user_type IN ('provider', 'payer', 'consumer', 'academic', 'government', 'internal')",
            name=op.f("ck_application_uses_user_type"),
        ),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_application_uses_application_id_applications"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_application_uses")),
        sa.UniqueConstraint(
            "application_id", "position", name=op.f("uq_application_uses_application_id_position")
        ),
    )
    with op.batch_alter_table("application_uses", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_application_uses_application_id"), ["application_id"], unique=False
        )

    op.create_table(
        "agreements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("quote_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("term_start", sa.Date(), nullable=False),
        sa.Column("term_end", sa.Date(), nullable=False),
        sa.Column("rate_card", sa.String(length=64), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("total", licensing.db.Money(precision=18, scale=4), nullable=False),
        sa.Column("payment_terms_days", sa.Integer(), nullable=False),
        sa.Column(
            "late_fee_monthly_percent", licensing.db.Money(precision=18, scale=4), nullable=False
        ),
        sa.Column("pdf", sa.LargeBinary(), nullable=False),
        sa.Column("pdf_sha256", sa.String(length=64), nullable=False),
        sa.Column("issued_at", licensing.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("activated_at", licensing.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_at", licensing.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("termination_reason", sa.Text(), nullable=True),
        sa.Column("renewal_of_id", sa.Integer(), nullable=True),
        sa.Column("superseded_by_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "state IN ('issued', 'active', 'expired', 'terminated', 'superseded')",
            name=op.f("ck_agreements_state"),
        ),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_agreements_application_id_applications"),
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_agreements_organization_id_organizations"),
        ),
        sa.ForeignKeyConstraint(
            ["quote_id"],
            ["application_quotes.id"],
            name=op.f("fk_agreements_quote_id_application_quotes"),
        ),
        sa.ForeignKeyConstraint(
            ["renewal_of_id"],
            ["agreements.id"],
            name=op.f("fk_agreements_renewal_of_id_agreements"),
        ),
        sa.ForeignKeyConstraint(
            ["superseded_by_id"],
            ["agreements.id"],
            name=op.f("fk_agreements_superseded_by_id_agreements"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agreements")),
        sa.UniqueConstraint("application_id", name=op.f("uq_agreements_application_id")),
        sa.UniqueConstraint("number", name=op.f("uq_agreements_number")),
    )
    with op.batch_alter_table("agreements", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_agreements_organization_id"), ["organization_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_agreements_state"), ["state"], unique=False)
        batch_op.create_index(batch_op.f("ix_agreements_term_end"), ["term_end"], unique=False)

    op.create_table(
        "agreement_acceptances",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agreement_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("signer_name", sa.String(length=200), nullable=False),
        sa.Column("signer_title", sa.String(length=200), nullable=False),
        sa.Column("authority_confirmed", sa.Boolean(), nullable=False),
        sa.Column("accepted_at", licensing.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ip_address", sa.String(length=64), nullable=False),
        sa.Column("user_agent", sa.String(length=500), nullable=False),
        sa.Column("pdf_sha256", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["agreement_id"],
            ["agreements.id"],
            name=op.f("fk_agreement_acceptances_agreement_id_agreements"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_agreement_acceptances_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agreement_acceptances")),
        sa.UniqueConstraint("agreement_id", name=op.f("uq_agreement_acceptances_agreement_id")),
    )
    # applications and agreements refer to each other: this link is added last.
    with op.batch_alter_table("applications", schema=None) as batch_op:
        batch_op.create_foreign_key(
            batch_op.f("fk_applications_renewal_of_id_agreements"),
            "agreements",
            ["renewal_of_id"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("applications", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_applications_renewal_of_id_agreements"), type_="foreignkey"
        )

    op.drop_table("agreement_acceptances")
    with op.batch_alter_table("agreements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_agreements_term_end"))
        batch_op.drop_index(batch_op.f("ix_agreements_state"))
        batch_op.drop_index(batch_op.f("ix_agreements_organization_id"))

    op.drop_table("agreements")
    with op.batch_alter_table("application_uses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_application_uses_application_id"))

    op.drop_table("application_uses")
    with op.batch_alter_table("application_quotes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_application_quotes_application_id"))

    op.drop_table("application_quotes")
    with op.batch_alter_table("application_notes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_application_notes_application_id"))

    op.drop_table("application_notes")
    with op.batch_alter_table("applications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_applications_submitted_at"))
        batch_op.drop_index(batch_op.f("ix_applications_state"))
        batch_op.drop_index(batch_op.f("ix_applications_organization_id"))
        batch_op.drop_index(batch_op.f("ix_applications_assignee_id"))

    op.drop_table("applications")
    op.drop_table("agreement_number_sequences")
