"""Educational permission requests: requests, messages and notes, decision letters.

Revision ID: permissions_0001
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import licensing.db

revision = "permissions_0001"
down_revision = "0001"
branch_labels = None
depends_on = ("accounts_0001",)


def upgrade() -> None:
    op.create_table(
        "permission_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=20), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=True),
        sa.Column("application_id", sa.Integer(), nullable=True),
        sa.Column("application_line", sa.Integer(), nullable=True),
        sa.Column("application_reference", sa.String(length=40), nullable=True),
        sa.Column("requester_name", sa.String(length=200), nullable=False),
        sa.Column("requester_email", sa.String(length=254), nullable=False),
        sa.Column("institution", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("organization_type", sa.String(length=20), nullable=False),
        sa.Column("purpose", sa.String(length=30), nullable=False),
        sa.Column("purpose_detail", sa.Text(), nullable=False),
        sa.Column("content_requested", sa.Text(), nullable=False),
        sa.Column("medium", sa.String(length=20), nullable=False),
        sa.Column("audience_size", sa.Integer(), nullable=True),
        sa.Column("duration", sa.String(length=100), nullable=False),
        sa.Column(
            "noncommercial_attested_at", licensing.db.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("confirm_token_hash", sa.String(length=64), nullable=True),
        sa.Column("confirm_expires_at", licensing.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("status_token_hash", sa.String(length=64), nullable=True),
        sa.Column("status_expires_at", licensing.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("link_salt", sa.String(length=32), nullable=False),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("created_at", licensing.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("submitted_at", licensing.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("sla_due_at", licensing.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("answer_due_at", licensing.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decided_at", licensing.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_at", licensing.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("permitted_use", sa.Text(), nullable=True),
        sa.Column("conditions", sa.Text(), nullable=True),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("denial_reason", sa.Text(), nullable=True),
        sa.Column("reconsideration_due_at", licensing.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "reconsideration_closed_at", licensing.db.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("reconsidered", sa.Boolean(), nullable=False),
        sa.CheckConstraint(
            "medium IN ('print', 'electronic', 'lms')", name=op.f("ck_permission_requests_medium")
        ),
        sa.CheckConstraint(
            "organization_type IN ('commercial', 'nonprofit', 'academic', 'government', "
            "'individual')",
            name=op.f("ck_permission_requests_organization_type"),
        ),
        sa.CheckConstraint(
            "purpose IN ('course_materials', 'textbook', 'research', 'exam_preparation', "
            "'presentation', 'other_educational', 'commercial')",
            name=op.f("ck_permission_requests_purpose"),
        ),
        sa.CheckConstraint(
            "role IN ('faculty', 'student', 'researcher', 'other')",
            name=op.f("ck_permission_requests_role"),
        ),
        sa.CheckConstraint(
            "source IN ('public', 'application')", name=op.f("ck_permission_requests_source")
        ),
        sa.CheckConstraint(
            "state IN ('unconfirmed', 'submitted', 'in_review', 'needs_info', "
            "'reconsideration', 'approved', 'denied', 'withdrawn', 'expired')",
            name=op.f("ck_permission_requests_state"),
        ),
        sa.ForeignKeyConstraint(
            ["assignee_id"], ["users.id"], name=op.f("fk_permission_requests_assignee_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_permission_requests_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_permission_requests")),
        sa.UniqueConstraint(
            "application_id",
            "application_line",
            name=op.f("uq_permission_requests_application_id_application_line"),
        ),
        sa.UniqueConstraint(
            "confirm_token_hash", name=op.f("uq_permission_requests_confirm_token_hash")
        ),
        sa.UniqueConstraint("reference", name=op.f("uq_permission_requests_reference")),
        sa.UniqueConstraint(
            "status_token_hash", name=op.f("uq_permission_requests_status_token_hash")
        ),
    )
    op.create_index(
        op.f("ix_permission_requests_assignee_id"),
        "permission_requests",
        ["assignee_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_permission_requests_organization_id"),
        "permission_requests",
        ["organization_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_permission_requests_requester_email"),
        "permission_requests",
        ["requester_email"],
        unique=False,
    )
    op.create_index(
        "ix_permission_requests_state_sla_due_at",
        "permission_requests",
        ["state", "sla_due_at"],
        unique=False,
    )
    op.create_table(
        "permission_letters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("number", sa.String(length=30), nullable=False),
        sa.Column("issued_at", licensing.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("pdf", sa.LargeBinary(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.CheckConstraint("kind IN ('grant', 'denial')", name=op.f("ck_permission_letters_kind")),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["permission_requests.id"],
            name=op.f("fk_permission_letters_request_id_permission_requests"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_permission_letters")),
        sa.UniqueConstraint("number", name=op.f("uq_permission_letters_number")),
    )
    op.create_index(
        op.f("ix_permission_letters_request_id"), "permission_letters", ["request_id"], unique=False
    )
    op.create_table(
        "permission_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("author", sa.String(length=20), nullable=False),
        sa.Column("author_name", sa.String(length=200), nullable=False),
        sa.Column("author_user_id", sa.Integer(), nullable=True),
        sa.Column("internal", sa.Boolean(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", licensing.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "author IN ('requester', 'staff', 'system')", name=op.f("ck_permission_messages_author")
        ),
        sa.ForeignKeyConstraint(
            ["author_user_id"],
            ["users.id"],
            name=op.f("fk_permission_messages_author_user_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["permission_requests.id"],
            name=op.f("fk_permission_messages_request_id_permission_requests"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_permission_messages")),
    )
    op.create_index(
        op.f("ix_permission_messages_request_id"),
        "permission_messages",
        ["request_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_permission_messages_request_id"), table_name="permission_messages")
    op.drop_table("permission_messages")
    op.drop_index(op.f("ix_permission_letters_request_id"), table_name="permission_letters")
    op.drop_table("permission_letters")
    op.drop_index("ix_permission_requests_state_sla_due_at", table_name="permission_requests")
    op.drop_index(op.f("ix_permission_requests_requester_email"), table_name="permission_requests")
    op.drop_index(op.f("ix_permission_requests_organization_id"), table_name="permission_requests")
    op.drop_index(op.f("ix_permission_requests_assignee_id"), table_name="permission_requests")
    op.drop_table("permission_requests")
