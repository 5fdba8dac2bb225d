"""/api/v1/outbox-messages: queued and sent email, and retrying failures (admins)."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from licensing import access, db
from licensing.actors import current_actor
from licensing.api.base import Blueprint
from licensing.api.fields import ApiSchema, Text, page_number, steps_of, vocabulary
from licensing.mail import queries, services
from licensing.mail.models import OutboxMessage
from licensing.mail.states import OUTBOX

blp = Blueprint(
    "outbox_api",
    __name__,
    description="The email outbox (admins): what was queued, sent or failed.",
)


class OutboxQuerySchema(ApiSchema):
    state = vocabulary(OUTBOX.states)
    to = ma.fields.String(validate=Text(254))
    page = page_number()
    per_page = ma.fields.Integer(load_default=50, validate=ma.validate.Range(min=1, max=500))


class OutboxMessageSchema(ApiSchema):
    id = ma.fields.Integer()
    to = ma.fields.List(ma.fields.String())
    subject = ma.fields.String()
    template = ma.fields.String()
    state = ma.fields.String(metadata={"enum": list(OUTBOX.states)})
    attempts = ma.fields.Integer()
    next_attempt_at = ma.fields.DateTime()
    last_error = ma.fields.String(allow_none=True)
    created_at = ma.fields.DateTime()
    sent_at = ma.fields.DateTime(allow_none=True)
    # Secrets (one-time links) masked: admins never read a live link.
    body_text = ma.fields.String(attribute="display_text")


class OutboxPageSchema(ApiSchema):
    items = ma.fields.List(ma.fields.Nested(OutboxMessageSchema))
    page = ma.fields.Integer()
    per_page = ma.fields.Integer()
    total = ma.fields.Integer()


@blp.route("/outbox-messages")
@access.staff("admin")
@blp.arguments(OutboxQuerySchema, location="query")
@blp.response(200, OutboxPageSchema)
def list_messages(query: dict[str, Any]) -> dict[str, Any]:
    """Messages, newest first; filter by state or recipient."""
    found, total = queries.messages(
        db.session(),
        state=query.get("state"),
        recipient=query.get("to"),
        page=query["page"],
        per_page=query["per_page"],
    )
    return {"items": found, "page": query["page"], "per_page": query["per_page"], "total": total}


@blp.route("/outbox-messages/<int:message_id>")
@access.staff("admin")
@blp.response(200, OutboxMessageSchema)
def get_message(message_id: int) -> OutboxMessage:
    """One outbox message: to whom, its subject, state and delivery attempts (admins)."""
    return queries.get_message(db.session(), message_id)


# An email's 409 lists `retry` to the admins its route admits (round 58); its other
# steps are the delivery's.
steps_of("email", {"retry": "outbox_api.retry_message"})


@blp.route("/outbox-messages/<int:message_id>/retry", methods=["POST"])
@access.staff("admin")
@blp.response(200, OutboxMessageSchema, conflict="Only failed messages are retried")
def retry_message(message_id: int) -> OutboxMessage:
    """Queue a failed message again with a fresh count of attempts."""
    return services.retry_message(message_id, actor=current_actor())
