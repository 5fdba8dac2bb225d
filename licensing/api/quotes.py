"""POST /api/v1/quotes: price proposed uses exactly per the pricing contract.

Public and rate limited per client address (`QUOTE_RATE_LIMIT`). The request is
validated here for shape and vocabulary; the pricing core checks what needs the
rate card (missing quantities or revenue, terms outside the card's period).
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from licensing import access
from licensing.api.base import API_PREFIX, Blueprint
from licensing.api.fields import Quantities, revenue_field, vocabulary
from licensing.extensions import configured_limit, limiter
from licensing.pricing import (
    ORGANIZATION_TYPES,
    PRODUCT_TYPES,
    USER_TYPES,
    USES,
    ProposedUse,
    QuoteRequest,
    Term,
)
from licensing.ratecards import services

blp = Blueprint(
    "quotes",
    __name__,
    url_prefix=API_PREFIX,
    description="Price proposed uses of CPT content with a published rate card.",
)

MAX_USES = 100


class TermSchema(ma.Schema):
    start = ma.fields.Date(required=True, metadata={"example": "2027-01-01"})
    end = ma.fields.Date(required=True, metadata={"example": "2027-12-31"})


class UseSchema(ma.Schema):
    use = vocabulary(USES, required=True)
    product_type = vocabulary(PRODUCT_TYPES, required=True)
    user_type = vocabulary(USER_TYPES, required=True)
    quantity = Quantities(load_default=dict)
    revenue = revenue_field()
    languages = ma.fields.List(
        ma.fields.String(validate=ma.validate.Length(min=1, max=35)),
        load_default=list,
        validate=ma.validate.Length(max=200),
        metadata={"example": ["es", "fr"]},
    )
    description = ma.fields.String(
        load_default="",
        validate=ma.validate.Length(max=2000),
        metadata={"example": "Claims scrubber"},
    )


class QuoteRequestSchema(ma.Schema):
    organization_type = vocabulary(ORGANIZATION_TYPES, required=True)
    term = ma.fields.Nested(TermSchema, required=True)
    rate_card = ma.fields.String(
        load_default=None,
        allow_none=True,
        validate=ma.validate.Length(min=1, max=64),
        metadata={"description": "A published version; default: the card in effect on term.start"},
    )
    uses = ma.fields.List(
        ma.fields.Nested(UseSchema),
        required=True,
        validate=ma.validate.Length(min=1, max=MAX_USES, error="Give 1 to {max} uses."),
    )

    @ma.post_load
    def to_request(self, data: dict[str, Any], **_: Any) -> QuoteRequest:
        return request_from(data)


def request_from(data: dict[str, Any]) -> QuoteRequest:
    """The pricing core's request from validated fields (also used by the estimator)."""
    return QuoteRequest(
        organization_type=data["organization_type"],
        term=Term(start=data["term"]["start"], end=data["term"]["end"]),
        rate_card=data.get("rate_card"),
        uses=tuple(
            ProposedUse(
                use=use["use"],
                product_type=use["product_type"],
                user_type=use["user_type"],
                quantity=dict(use.get("quantity") or {}),
                revenue=use.get("revenue"),
                languages=tuple(use.get("languages") or ()),
                description=use.get("description") or "",
            )
            for use in data["uses"]
        ),
    )


class QuoteLineSchema(ma.Schema):
    use_index = ma.fields.Integer(required=True)
    rule = ma.fields.String(allow_none=True, required=True)
    route = ma.fields.String(required=True, metadata={"enum": ["license", "permission_request"]})
    review = ma.fields.String(required=True, metadata={"enum": ["auto", "staff"]})
    amount = ma.fields.String(allow_none=True, required=True, metadata={"example": "33800.00"})
    explanation = ma.fields.List(ma.fields.String(), required=True)


class QuoteSchema(ma.Schema):
    rate_card = ma.fields.String(required=True)
    currency = ma.fields.String(required=True)
    proration = ma.fields.String(
        required=True,
        metadata={"description": "days(term) / days(card period), exact: '1' or e.g. '181/365'"},
    )
    lines = ma.fields.List(ma.fields.Nested(QuoteLineSchema), required=True)
    total = ma.fields.String(required=True, metadata={"example": "33800.00"})
    requires_review = ma.fields.Boolean(required=True)


REQUEST_EXAMPLE = {
    "organization_type": "commercial",
    "term": {"start": "2027-01-01", "end": "2027-12-31"},
    "rate_card": "2027.1",
    "uses": [
        {
            "use": "distribution",
            "product_type": "saas",
            "user_type": "provider",
            "quantity": {"end_users": 2500},
            "revenue": "0",
            "description": "Claims scrubber",
        }
    ],
}

RESPONSE_EXAMPLE = {
    "rate_card": "2027.1",
    "currency": "USD",
    "proration": "1",
    "lines": [
        {
            "use_index": 0,
            "rule": "distribution-software",
            "route": "license",
            "review": "auto",
            "amount": "33800.00",
            "explanation": [
                "2500 end_users, graduated: 100 x 18.50 + 900 x 15.50 + 1500 x 12.00 = 33800.00"
            ],
        }
    ],
    "total": "33800.00",
    "requires_review": False,
}


_quote_limit, _quote_limit_off = configured_limit("quote_rate_limit")

# One schema instance for every request: given the class, webargs builds a new
# schema (and its nested ones) per request, a tenth of a quote's time. Loading
# keeps no state on the instance, so sharing it between threads is safe.
QUOTE_REQUEST_SCHEMA = QuoteRequestSchema()


@blp.route("/quotes", methods=["POST"])
@access.public
@limiter.limit(_quote_limit, exempt_when=_quote_limit_off)
@blp.arguments(QUOTE_REQUEST_SCHEMA, example=REQUEST_EXAMPLE)
@blp.response(200, QuoteSchema, example=RESPONSE_EXAMPLE)
@blp.alt_response(422, description="Invalid fields; `errors` maps each field path to messages")
@blp.alt_response(429, description="Over the rate limit; see Retry-After")
def create_quote(request: QuoteRequest) -> dict[str, Any]:
    """Price proposed uses.

    Classifies each use with the first matching rule of the rate card (named, or
    in effect on `term.start`), prices it, and explains every step. No account is
    needed. Rate limited per client address.
    """
    return services.quote(request).to_contract_dict()
