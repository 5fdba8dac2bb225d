"""/api/v1/audit-events: the audit log and its chain verification (admins)."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from licensing import access, db
from licensing.accounts.queries import people_of
from licensing.api.base import Blueprint
from licensing.api.fields import ApiSchema, Day, Text, page_number
from licensing.audit import queries
from licensing.audit.seals import verify_documents
from licensing.audit.services import verify_chain

blp = Blueprint(
    "audit_api",
    __name__,
    description="The append-only, hash-chained audit log (admins).",
)

MAX_PER_PAGE = 500


# The record's values before and after the change, as the audit event stored them.
_VALUES = {"type": "object", "nullable": True, "additionalProperties": True}


class AuditQuerySchema(ApiSchema):
    entity_type = ma.fields.String(validate=Text(50))
    entity_id = ma.fields.String(validate=Text(64))
    actor = ma.fields.String(
        validate=Text(254),
        metadata={
            "description": "Part of who acted: their email address as recorded, or the "
            "name of their account, now or before a change of name, in any case and "
            "script (as the console's Actor filter; round 60)"
        },
    )
    action = ma.fields.String(
        validate=Text(100),
        metadata={"description": "An action, or a prefix ending in '.', e.g. 'user.'"},
    )
    since = Day(metadata={"description": "First UTC day, included"})
    until = Day(metadata={"description": "Last UTC day, included"})
    page = page_number()
    per_page = ma.fields.Integer(
        load_default=100, validate=ma.validate.Range(min=1, max=MAX_PER_PAGE)
    )

    @ma.validates_schema
    def _in_order(self, data: dict[str, Any], **_kwargs: Any) -> None:
        """A range that ends before it starts matches nothing: say so, as the
        exports do, rather than answer an empty page."""
        since, until = data.get("since"), data.get("until")
        if since and until and until < since:
            raise ma.ValidationError("Must be on or after since.", field_name="until")


class AuditEventSchema(ApiSchema):
    seq = ma.fields.Integer()
    occurred_at = ma.fields.DateTime()
    actor = ma.fields.String()
    actor_user_id = ma.fields.Integer(allow_none=True)
    action = ma.fields.String()
    entity_type = ma.fields.String()
    entity_id = ma.fields.String()
    before = ma.fields.Raw(attribute="before_data", allow_none=True, metadata=_VALUES)
    after = ma.fields.Raw(attribute="after_data", allow_none=True, metadata=_VALUES)
    note = ma.fields.String(allow_none=True)
    request_id = ma.fields.String(allow_none=True)
    client_ip = ma.fields.String(allow_none=True)
    prev_hash = ma.fields.String()
    hash = ma.fields.String()
    actor_name = ma.fields.String(
        allow_none=True,
        metadata={
            "description": "The name of who acted (`actor` is their address as recorded), "
            "as the console's audit log names them now: the account `actor_user_id`; null "
            "where the event kept no account (system, anonymous) or it was deleted "
            "(round 60)"
        },
    )


class _Named:
    """An audit event as the API gives it: the event's own fields, and who acted named."""

    def __init__(self, event: Any, actor_name: str | None) -> None:
        self._event = event
        self.actor_name = actor_name

    def __getattr__(self, name: str) -> Any:
        return getattr(self._event, name)


class AuditPageSchema(ApiSchema):
    items = ma.fields.List(ma.fields.Nested(AuditEventSchema))
    page = ma.fields.Integer()
    per_page = ma.fields.Integer()
    total = ma.fields.Integer()


class VerificationSchema(ApiSchema):
    ok = ma.fields.Boolean()
    events = ma.fields.Integer()
    head_seq = ma.fields.Integer()
    problems = ma.fields.List(ma.fields.String())
    documents = ma.fields.Integer(metadata={"description": "Issued documents checked"})
    kept_pdfs = ma.fields.Integer(
        metadata={"description": "Kept invoice and credit note PDFs hashed again (round 46)"}
    )
    document_problems = ma.fields.List(ma.fields.String())


@blp.route("/audit-events")
@access.staff("admin")
@blp.arguments(AuditQuerySchema, location="query")
@blp.response(200, AuditPageSchema)
def list_events(query: dict[str, Any]) -> dict[str, Any]:
    """Audit events matching the filters, newest first."""
    page, per_page = query.pop("page"), query.pop("per_page")
    events, total = queries.page(
        # Round 60: `actor` finds who acted by name too, as the console's filter does.
        db.session(),
        queries.AuditFilter(**query, actor_by_name=True),
        page=page,
        per_page=per_page,
    )
    # Round 60: who acted, named as the console's audit log names them, one statement.
    people = people_of(db.session(), events)
    named = [_Named(event, people.name_of(event.actor, event.actor_user_id)) for event in events]
    return {"items": named, "page": page, "per_page": per_page, "total": total}


@blp.route("/audit-events/verification")
@access.staff("admin")
@blp.response(200, VerificationSchema)
def verification() -> dict[str, Any]:
    """Recompute the keyed hash chain and the seals of every issued invoice, credit
    note, agreement and permission letter and the kept PDFs' SHA-256 (as `licensing
    audit verify` does), and report each break or edited document."""
    report = verify_chain(db.session())
    documents = verify_documents(db.session())
    return {
        "ok": report.ok and documents.ok,
        "events": report.events,
        "head_seq": report.head_seq,
        "problems": report.problems,
        "documents": documents.documents,
        "kept_pdfs": documents.kept,
        "document_problems": documents.problems,
    }
