"""/api/v1/rate-cards: published rate cards (read: anyone; publish: admins)."""

from __future__ import annotations

import json
from typing import Any

import marshmallow as ma
from flask import request

from licensing import access, db
from licensing.access import require_principal
from licensing.api.base import Blueprint
from licensing.api.fields import ApiSchema, Day
from licensing.pricing import describe_rule
from licensing.ratecards import queries, services
from licensing.ratecards.models import RateCardRecord

blp = Blueprint(
    "rate_cards",
    __name__,
    description="Versioned, effective-dated rate cards. A published card never changes.",
)


class RateCardSummarySchema(ApiSchema):
    version = ma.fields.String(required=True)
    title = ma.fields.String(required=True)
    currency = ma.fields.String(required=True)
    effective_from = Day(required=True)
    effective_to = Day(required=True)
    digest = ma.fields.String(required=True, metadata={"description": "SHA-256 of the content"})
    published_at = ma.fields.DateTime(required=True)
    replaced_by = ma.fields.List(
        ma.fields.String(),
        required=True,
        metadata={
            "description": "The later cards that take every day of this card's period (a "
            "correction published under a new version): quotes naming no version are priced "
            "on them, and this card prices only quotes that name it. Empty otherwise."
        },
    )


class RuleSummarySchema(ApiSchema):
    id = ma.fields.String(required=True)
    description = ma.fields.String(required=True)
    in_plain_words = ma.fields.String(required=True)


class RateCardDetailSchema(RateCardSummarySchema):
    rules = ma.fields.List(ma.fields.Nested(RuleSummarySchema), required=True)
    document = ma.fields.Dict(
        required=True, metadata={"description": "The card, in the contract's format"}
    )


class ImportResultSchema(ApiSchema):
    status = ma.fields.String(required=True, metadata={"enum": ["created", "unchanged"]})
    rate_card = ma.fields.Nested(RateCardSummarySchema, required=True)


def _summary(stored: RateCardRecord, replaced: dict[str, list[str]]) -> dict[str, Any]:
    return {
        "version": stored.version,
        "title": stored.title,
        "currency": stored.currency,
        "effective_from": stored.effective_from,
        "effective_to": stored.effective_to,
        "digest": stored.digest,
        "published_at": stored.published_at,
        "replaced_by": replaced.get(stored.version, []),
    }


def _replaced() -> dict[str, list[str]]:
    return queries.replaced_by(queries.all_cards(db.session()))


def _detail(stored: RateCardRecord) -> dict[str, Any]:
    card = queries.domain_card(stored)
    return {
        **_summary(stored, _replaced()),
        "rules": [
            {
                "id": rule.id,
                "description": rule.description,
                "in_plain_words": describe_rule(rule, card.currency),
            }
            for rule in card.rules
        ],
        "document": json.loads(stored.document),
    }


@blp.route("/rate-cards", methods=["GET"])
@access.public
@blp.paginate(RateCardSummarySchema)
def list_rate_cards() -> list[dict[str, Any]]:
    """Published rate cards, newest period first."""
    cards = queries.all_cards(db.session())
    replaced = queries.replaced_by(cards)
    return [_summary(card, replaced) for card in cards]


@blp.route("/rate-cards/<string:version>", methods=["GET"])
@access.public
@blp.response(200, RateCardDetailSchema)
def get_rate_card(version: str) -> dict[str, Any]:
    """One card: its rules in plain words and the document itself."""
    return _detail(queries.get(db.session(), version))


@blp.route("/rate-cards", methods=["POST"])
@access.staff("admin")
@blp.doc(
    requestBody={
        "required": True,
        "description": "The rate card in the pricing contract's format.",
        "content": {"application/json": {"schema": {"type": "object"}}},
    },
)
@blp.response(200, ImportResultSchema, conflict="The version is published with different content")
@blp.alt_response(422, description="The card is invalid; `errors` lists every problem by path")
def publish_rate_card() -> dict[str, Any]:
    """Publish a rate card (admins).

    The whole card is validated first; nothing is stored when it is invalid.
    Re-publishing a version with identical content is a no-op (`unchanged`).
    """
    document = request.get_json(silent=True)
    result = services.import_card(document, published_by=require_principal().email)
    stored = queries.get(db.session(), result.version)
    return {
        "status": "created" if result.created else "unchanged",
        "rate_card": _summary(stored, _replaced()),
    }
