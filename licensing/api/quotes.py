"""POST /api/v1/quotes: price proposed uses exactly per the pricing contract.

Public and rate limited per client address (`QUOTE_RATE_LIMIT`). The request is
validated here for shape and vocabulary; the pricing core checks what needs the
rate card (missing quantities or revenue, terms outside the card's period).
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from functools import wraps
from typing import Any, TypeGuard

import flask
import marshmallow as ma
from flask import Response, jsonify
from flask.json.provider import DefaultJSONProvider

from licensing import access
from licensing.agreements.models import DESCRIPTION_MAX, LANGUAGE_MAX, RATE_CARD_MAX
from licensing.api.base import CHECKED_JSON_BODY, Blueprint
from licensing.api.fields import (
    MAX_UNIT_NAME,
    ApiSchema,
    Day,
    Quantities,
    Text,
    revenue_field,
    vocabulary,
)
from licensing.calendar import ISO_DAY
from licensing.extensions import configured_limit, limit_unless_off, limiter
from licensing.money import MoneyError, parse_decimal
from licensing.pricing import (
    ORGANIZATION_TYPES,
    PRODUCT_TYPES,
    USER_TYPES,
    USES,
    ProposedUse,
    QuoteRequest,
    RateCard,
    Term,
)

# The writers of the answer live in the pricing core; read here by the tests too.
from licensing.pricing.quote import _json_texts as _json_texts
from licensing.pricing.quote import contract_json as contract_json
from licensing.ratecards import services

blp = Blueprint(
    "quotes",
    __name__,
    description="Price proposed uses of CPT content with a published rate card.",
)

MAX_USES = 100
# A quote's limits, read by the schemas and the plain-body reader alike.
LANGUAGES_LISTED_MAX = 200


class TermSchema(ApiSchema):
    start = Day(required=True, metadata={"example": "2027-01-01"})
    end = Day(required=True, metadata={"example": "2027-12-31"})


class UseSchema(ApiSchema):
    use = vocabulary(USES, required=True)
    product_type = vocabulary(PRODUCT_TYPES, required=True)
    user_type = vocabulary(USER_TYPES, required=True)
    quantity = Quantities(load_default=dict)
    revenue = revenue_field()
    languages = ma.fields.List(
        ma.fields.String(validate=Text(LANGUAGE_MAX, filled=True)),
        load_default=list,
        validate=ma.validate.Length(max=LANGUAGES_LISTED_MAX),
        metadata={"example": ["es", "fr"]},
    )
    description = ma.fields.String(
        load_default="",
        validate=Text(DESCRIPTION_MAX),
        metadata={"example": "Claims scrubber"},
    )


class QuoteRequestSchema(ApiSchema):
    """The quote request. A body that is plainly valid is read by `plain_request`
    before the route's wrappers run (`_plain_body_first`; a fifth of the cost for
    25 uses); anything else, every error included, by this schema, so its
    messages and paths are the only ones a client sees."""

    organization_type = vocabulary(ORGANIZATION_TYPES, required=True)
    term = ma.fields.Nested(TermSchema, required=True)
    rate_card = ma.fields.String(
        load_default=None,
        allow_none=True,
        validate=Text(RATE_CARD_MAX, filled=True),
        metadata={"description": "A published version; default: the card in effect on term.start"},
    )
    uses = ma.fields.List(
        ma.fields.Nested(UseSchema),
        required=True,
        validate=ma.validate.Length(min=1, max=MAX_USES, error="Give 1 to {max} uses."),
        metadata={
            "description": "The uses to price. Each is an application's use "
            "(`ApplicationUseInput`) without what only an application records: "
            "`product_name`, `delivery` and `territories` are refused here as unknown "
            "fields (a 422), so send a quote only the fields of `Use` (round 40)."
        },
    )

    @ma.post_load
    def to_request(self, data: dict[str, Any], **_: Any) -> QuoteRequest:
        return services.request_from(data)


# --- the plain-body reader ----------------------------------------------------------------
#
# It accepts a body only where the schemas above would accept it and load the
# same request (tests/unit/test_quote_request_reader.py checks both on generated
# bodies); on anything else it returns None and marshmallow reads the body.

_REQUEST_KEYS = frozenset({"organization_type", "term", "rate_card", "uses"})
_USE_KEYS = frozenset(
    {"use", "product_type", "user_type", "quantity", "revenue", "languages", "description"}
)
_ORGANIZATION_TYPES = frozenset(ORGANIZATION_TYPES)
# Every (use, product_type, user_type) of the vocabulary: only strings equal them.
_KNOWN_AXES = frozenset(itertools.product(USES, PRODUCT_TYPES, USER_TYPES))
_AXES_OF = operator.itemgetter("use", "product_type", "user_type")


def plain_request(body: Any) -> QuoteRequest | None:
    """The request of a body with nothing unusual or wrong in it, or None."""
    if not isinstance(body, dict) or not _REQUEST_KEYS.issuperset(body):
        return None
    if not _known(body.get("organization_type"), _ORGANIZATION_TYPES):
        return None
    term, rate_card, uses = body.get("term"), body.get("rate_card"), body.get("uses")
    if rate_card is not None and not (
        isinstance(rate_card, str) and 1 <= len(rate_card) <= RATE_CARD_MAX
    ):
        return None
    if not isinstance(uses, list) or not 1 <= len(uses) <= MAX_USES:
        return None
    start, end = _plain_term(term)
    if start is None or end is None:
        return None
    proposed = []
    for item in uses:
        use = _plain_use(item)
        if use is None:
            return None
        proposed.append(use)
    return QuoteRequest(body["organization_type"], Term(start, end), tuple(proposed), rate_card)


def _known(value: Any, vocabulary: frozenset[str]) -> TypeGuard[str]:
    return isinstance(value, str) and value in vocabulary


def _plain_term(term: Any) -> tuple[date | None, date | None]:
    if not isinstance(term, dict) or term.keys() != {"start", "end"}:
        return None, None
    return _plain_day(term["start"]), _plain_day(term["end"])


def _plain_day(value: Any) -> date | None:
    if not isinstance(value, str) or not ISO_DAY.fullmatch(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _plain_use(item: Any) -> ProposedUse | None:
    # `issuperset` iterates the dict's keys itself: no keys view made for each
    # use (`item.keys() <= _USE_KEYS` took twice as long).
    if not isinstance(item, dict) or not _USE_KEYS.issuperset(item):
        return None
    # This runs for every use of every quote: the three axes fetched and checked
    # at once (a missing one is not plain), absent fields told from the value.
    try:
        axes = _AXES_OF(item)
        if axes not in _KNOWN_AXES:
            return None
    except (KeyError, TypeError):  # missing, or unhashable: not of the vocabulary
        return None
    get: Callable[[str], Any] = item.get
    quantity = get("quantity")
    if quantity is not None:  # whole counts in bounds, of named units
        if not isinstance(quantity, dict):
            return None
        most = ProposedUse.MAX_QUANTITY
        for unit, amount in quantity.items():
            if type(amount) is not int or not 0 <= amount <= most:
                return None
            # `not unit.strip()`, without making the stripped copy.
            if not isinstance(unit, str) or len(unit) > MAX_UNIT_NAME or not unit or unit.isspace():
                return None
        quantity = dict(quantity)
    elif "quantity" in item:  # null: marshmallow words it
        return None
    else:
        quantity = {}
    revenue = get("revenue")
    if revenue is not None:
        plain_revenue, revenue = _plain_revenue(revenue)
        if not plain_revenue:
            return None
    languages = get("languages")
    if languages is None:
        if "languages" in item:
            return None
        languages = ()
    elif languages != [] and not _plain_languages(languages):  # none listed: plainly fine
        return None
    description = item.get("description", "")
    if not isinstance(description, str) or len(description) > DESCRIPTION_MAX:
        return None
    use, product_type, user_type = axes
    return ProposedUse(
        use, product_type, user_type, quantity, revenue, tuple(languages), description
    )


def _plain_revenue(value: Any) -> tuple[bool, Decimal | None]:
    """Whether the revenue is plain, and what it is (None when not given);
    marshmallow judges what is not plain."""
    if value is None:
        return True, None
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        return False, None
    try:
        revenue = parse_decimal(value)
    except MoneyError:
        return False, None
    return (True, revenue) if revenue <= ProposedUse.MAX_REVENUE else (False, None)


def _plain_languages(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) <= LANGUAGES_LISTED_MAX
        and all(isinstance(name, str) and 1 <= len(name) <= LANGUAGE_MAX for name in value)
    )


class QuoteLineSchema(ApiSchema):
    use_index = ma.fields.Integer(required=True)
    rule = ma.fields.String(allow_none=True, required=True)
    route = ma.fields.String(required=True, metadata={"enum": ["license", "permission_request"]})
    review = ma.fields.String(required=True, metadata={"enum": ["auto", "staff"]})
    amount = ma.fields.String(allow_none=True, required=True, metadata={"example": "33800.00"})
    explanation = ma.fields.List(
        ma.fields.String(),
        required=True,
        metadata={
            "description": "The steps, in words (the contract leaves their wording free). "
            "On a rate card that runs open-ended or longer than `LONG_CARD_DAYS` (3,653 days, "
            "ten years, by default), a line priced by a rule with a prorated flat fee, "
            "minimum or maximum ends with one sentence per such amount: what the "
            "contract's proration over the card's whole period makes of it for this term, "
            '"Rate card 2028.1 runs to 9999-12-31 (2,911,713 days) and the contract '
            "prorates over all of it: the development flat fee of 5000.00 USD is 0.63 USD "
            "for this term of 366 days.\" The amount is the contract's all the same "
            "(round 44)."
        },
    )


class QuoteSchema(ApiSchema):
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


_QUOTE_ENDPOINT = f"{blp.name}.create_quote"


@limiter.request_filter
def _quote_limit_is_off() -> bool:
    # With QUOTE_RATE_LIMIT "off" the route has no limit at all; saying so here
    # spares the limiter's own checks (exempt_when alone still resolved and
    # evaluated the limits: a tenth of a 1-use quote). No other limit applies to
    # the route: the app sets no default or application-wide limits. The
    # request itself, not its proxy: this runs on every request.
    req = flask.request._get_current_object()  # type: ignore[attr-defined]
    return req.endpoint == _QUOTE_ENDPOINT and _quote_limit_off()


# One schema instance for every request: given the class, webargs builds a new
# schema (and its nested ones) per request, a tenth of a quote's time. Loading
# keeps no state on the instance, so sharing it between threads is safe.
QUOTE_REQUEST_SCHEMA = QuoteRequestSchema()


def _plain_body_first(view: Callable[..., Response]) -> Callable[..., Response]:
    """Answer a plainly valid body without webargs and flask-smorest's wrappers.

    For such a body they would only hand `plain_request`'s result to the view
    and pass its Response back untouched, at a tenth of a 1-use quote. The body
    is read by the parser the wrappers use (`load_json`: content type, size and
    the JSON `_check_body` loaded), so what it refuses is refused alike. Any
    other body goes through them, so every error and message stays theirs.
    `wraps` keeps the documentation they left on the view (`_apidoc`), and the
    rate limit and access declaration are applied outside this wrapper.
    """

    @wraps(view)
    def read_plain_first() -> Response:
        req = flask.request._get_current_object()  # type: ignore[attr-defined]
        if CHECKED_JSON_BODY in req.environ:  # else the body is absent or not plain
            plain = plain_request(blp.ARGUMENTS_PARSER.load_json(req, QUOTE_REQUEST_SCHEMA))
            if plain is not None:
                return _answer(plain)
        return view()

    return read_plain_first


def _answer(request: QuoteRequest) -> Response:
    # The contract body, written as jsonify would write `to_contract_dict()`
    # (which QuoteSchema's dump leaves as it is; tests/unit/test_quote_request_reader.py
    # checks it) where the app's JSON provider writes what `contract_json` does:
    # priced and written in one pass (`price_text`). It shows no breakdown, and
    # the quote is not kept: none is made.
    app: flask.Flask = flask.current_app._get_current_object()  # type: ignore[attr-defined]
    provider = app.json
    # Past it a card "runs long": its quotes' lines say what the proration made of
    # their prorated amounts (round 44).
    long_days = app.config["LICENSING"].long_card_days
    if _writes_as_contract_json(provider, app.debug):
        text, replaced, others = services.quote_text(request, long_period_days=long_days)
        answer = app.response_class(text, mimetype=provider.mimetype)
    else:
        answered = services.answered_quote(request, long_period_days=long_days)
        answer = jsonify(answered.to_contract_dict())
        replaced = services.replaced(request)
        others = services.other_currencies(request)
    _link_successors(answer, replaced)
    _link_other_currencies(answer, others)
    return answer


SUCCESSOR_HEADER = {
    "Link": {
        "description": "Only when `rate_card` names a card replaced since (corrected by later "
        'versions for its whole period): `</api/v1/rate-cards/2027.2>; rel="successor-version"` '
        "for each card that replaced it. Quotes naming no version are priced on those. "
        "Only when `rate_card` is not given and cards in other currencies than the answer's "
        "`currency` are in effect on `term.start` (the quote is priced on the one published "
        'last, whatever its currency): `</api/v1/rate-cards/2027.EUR>; rel="alternate"; '
        'title="EUR"` for each other currency, the card in effect in it; name it in '
        "`rate_card` to be priced in that currency.",
        "schema": {"type": "string"},
    }
}


def _link_successors(answer: Response, replaced: services.Replaced | None) -> None:
    """A quote on a card replaced since says so in a header, as the contract fixes
    the body: `Link: </api/v1/rate-cards/2027.2>; rel="successor-version"` (RFC 5829)
    for each card that replaced it."""
    if replaced is not None:
        answer.headers["Link"] = ", ".join(
            f"<{flask.url_for('rate_cards.get_rate_card', version=version)}>; "
            'rel="successor-version"'
            for version in replaced.replaced_by
        )


def _link_other_currencies(answer: Response, others: tuple[RateCard, ...]) -> None:
    """A quote naming no card, priced in one currency where cards in others are in
    effect too, says so in a header, as the contract fixes the body (its `currency`
    says the one used): `Link: </api/v1/rate-cards/2027.EUR>; rel="alternate";
    title="EUR"` (RFC 8288) for the card in effect in each other currency (round 62).
    Never beside `successor-version`: that one needs a card named, this one none."""
    if others:
        answer.headers["Link"] = ", ".join(
            f"<{flask.url_for('rate_cards.get_rate_card', version=card.version)}>; "
            f'rel="alternate"; title="{card.currency}"'
            for card in others
        )


def _writes_as_contract_json(provider: object, debug: bool) -> TypeGuard[DefaultJSONProvider]:
    """Whether jsonify writes what `contract_json` does: keys sorted, ASCII only,
    no spaces (Flask indents in debug mode unless `compact` says otherwise)."""
    if not isinstance(provider, DefaultJSONProvider):
        return False
    compact = provider.compact if provider.compact is not None else not debug
    return bool(compact and provider.sort_keys and provider.ensure_ascii)


@blp.route("/quotes", methods=["POST"])
@access.stores_nothing  # a price estimate: a read-only token may ask for one
@access.public
@limit_unless_off(_quote_limit, _quote_limit_off)
@_plain_body_first
@blp.arguments(QUOTE_REQUEST_SCHEMA, example=REQUEST_EXAMPLE)
@blp.response(200, QuoteSchema, example=RESPONSE_EXAMPLE, headers=SUCCESSOR_HEADER)
@blp.alt_response(422, description="Invalid fields; `errors` maps each field path to messages")
def create_quote(request: QuoteRequest) -> Response:
    """Price proposed uses.

    Classifies each use with the first matching rule of the rate card (named, or
    in effect on `term.start`), prices it, and explains every step. No account is
    needed. Rate limited per client address.
    """
    return _answer(request)
