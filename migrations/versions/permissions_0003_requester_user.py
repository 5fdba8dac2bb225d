"""Permission requests: the vendor user who asked, for a request made from a license
application, so that its emails, letter and pages follow that user's address and name
when they change them (the address stored at the time went stale).

Requests made before this are matched to their user: first by the audit event that
created the request (in the application's transaction, its actor is the user who
submitted the application), then by the address stored on the request among the
organization's users. A request matched by neither (its requester has changed their
address and the audit event names no user) keeps the address stored, as before.
Public requests have no user.

Revision ID: permissions_0003
Revises: permissions_0002
Create Date: 2026-12-04
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "permissions_0003"
down_revision = "permissions_0002"
branch_labels = None
depends_on = None

_BY_AUDIT = """
UPDATE permission_requests SET requester_user_id = (
    SELECT MIN(audit_events.actor_user_id) FROM audit_events
    JOIN users ON users.id = audit_events.actor_user_id
    WHERE audit_events.action = 'permission_request.created'
      AND audit_events.entity_type = 'permission_request'
      AND audit_events.entity_id = CAST(permission_requests.id AS VARCHAR(64))
      AND users.organization_id = permission_requests.organization_id
)
WHERE source = 'application' AND requester_user_id IS NULL
"""

_BY_ADDRESS = """
UPDATE permission_requests SET requester_user_id = (
    SELECT users.id FROM users
    WHERE users.organization_id = permission_requests.organization_id
      AND users.email = LOWER(permission_requests.requester_email)
)
WHERE source = 'application' AND requester_user_id IS NULL
"""


def _batch() -> Any:
    return op.batch_alter_table("permission_requests")


def upgrade() -> None:
    # SQLite recreates the table, which its messages, notes and letters refer to:
    # migrations/env.py runs every migration there with foreign keys off.
    with _batch() as batch:
        batch.add_column(sa.Column("requester_user_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            batch.f("fk_permission_requests_requester_user_id_users"),
            "users",
            ["requester_user_id"],
            ["id"],
        )
        batch.create_index(
            batch.f("ix_permission_requests_requester_user_id"), ["requester_user_id"]
        )
    op.execute(_BY_AUDIT)
    op.execute(_BY_ADDRESS)


def downgrade() -> None:
    with _batch() as batch:
        batch.drop_index(batch.f("ix_permission_requests_requester_user_id"))
        batch.drop_constraint(
            batch.f("fk_permission_requests_requester_user_id_users"), type_="foreignkey"
        )
        batch.drop_column("requester_user_id")
