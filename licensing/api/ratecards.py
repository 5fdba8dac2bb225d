"""/api/v1/rate-cards: published rate cards (read: anyone; publish: admins)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict
from datetime import date
from decimal import Decimal
from typing import Any

import marshmallow as ma
from flask import request
from sqlalchemy import Select
from sqlalchemy.orm import Session

from licensing import access, db
from licensing.access import require_principal
from licensing.agreements import card_effect, priced_on
from licensing.api.base import Blueprint, ReadPage, never_answers
from licensing.api.fields import ApiSchema, Day
from licensing.calendar import office_date
from licensing.config import current_config
from licensing.db import utcnow
from licensing.money import format_amount
from licensing.pricing import Rule, describe_condition, describe_rule
from licensing.pricing.describe import (
    LARGE_CHANGE_RATIO,
    PriceChangeWarning,
    ProrationWarning,
    exact_amount,
    proration_warnings,
    ratio_text,
)
from licensing.pricing.models import percent_text
from licensing.ratecards import queries, services
from licensing.ratecards.models import RateCardRecord

blp = Blueprint(
    "rate_cards",
    __name__,
    description="Versioned, effective-dated rate cards. A published card never changes.",
)


class CardFieldsSchema(ApiSchema):
    """What describes a card beside its rules (published or checked)."""

    version = ma.fields.String(required=True)
    title = ma.fields.String(required=True)
    currency = ma.fields.String(required=True)
    effective_from = Day(required=True)
    effective_to = Day(required=True)


class RateCardSummarySchema(CardFieldsSchema):
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


class CheckedCardSchema(CardFieldsSchema):
    period_days = ma.fields.Integer(required=True)


class DiscountSummarySchema(ApiSchema):
    id = ma.fields.String(required=True)
    applies_to = ma.fields.String(required=True)
    discount_percent = ma.fields.String(required=True)


class ComparedCardSchema(ApiSchema):
    version = ma.fields.String(required=True)
    effective_from = Day(required=True)
    effective_to = Day(required=True)
    in_effect_on_first_day = ma.fields.Boolean(
        required=True,
        metadata={"description": "Else the last card ending before the checked card starts"},
    )


class DifferenceSchema(ApiSchema):
    kind = ma.fields.String(
        required=True, metadata={"enum": ["added", "removed", "changed", "reordered"]}
    )
    subject = ma.fields.String(required=True, metadata={"enum": ["card", "rule", "adjustment"]})
    key = ma.fields.String(required=True, allow_none=True)
    sentence = ma.fields.String(required=True)


class PricedRecordSchema(ApiSchema):
    id = ma.fields.Integer(
        required=True,
        metadata={
            "description": "The application's id (`/applications/{application_id}`) or the "
            "agreement's (`/agreements/{agreement_id}`)"
        },
    )
    reference = ma.fields.String(
        required=True,
        metadata={"description": "The application's reference, or the agreement's number"},
    )
    organization = ma.fields.String(required=True, metadata={"description": "Its legal name"})
    state = ma.fields.String(required=True)
    total = ma.fields.String(
        required=True,
        allow_none=True,
        metadata={
            "description": "The price the card gave: the application's latest quote's total, "
            "the agreement's fees as issued"
        },
    )
    currency = ma.fields.String(required=True, allow_none=True)


class PricedSchema(ApiSchema):
    application_count = ma.fields.Integer(
        required=True,
        metadata={
            "description": "Undecided applications (submitted, returned, in review or "
            "escalated) whose latest quote is on the card: approving keeps its prices"
        },
    )
    applications = ma.fields.List(
        ma.fields.Nested(PricedRecordSchema),
        required=True,
        metadata={
            "description": f"The first {priced_on.LISTED}, oldest first; all of them: "
            "`GET /rate-cards/{version}/priced-applications`"
        },
    )
    agreement_count = ma.fields.Integer(
        required=True,
        metadata={
            "description": "Agreements issued on the card, awaiting acceptance, active or "
            "expired: their fees stay, their royalty reports are priced on it"
        },
    )
    agreements = ma.fields.List(
        ma.fields.Nested(PricedRecordSchema),
        required=True,
        metadata={
            "description": f"The first {priced_on.LISTED}, oldest first; all of them: "
            "`GET /rate-cards/{version}/priced-agreements`"
        },
    )


class TakeoverSchema(ApiSchema):
    version = ma.fields.String(required=True)
    first = Day(required=True)
    last = Day(required=True)
    whole = ma.fields.Boolean(
        required=True,
        metadata={
            "description": "Every day of that card's period: it would then price only "
            "quotes that name it"
        },
    )
    priced = ma.fields.Nested(
        PricedSchema,
        required=True,
        metadata={
            "description": "What that card has priced, which keeps its prices whatever the "
            "checked card takes: as its page lists it (round 54)"
        },
    )


class AlongsideSchema(ApiSchema):
    version = ma.fields.String(required=True)
    currency = ma.fields.String(required=True, metadata={"description": "That card's currency"})
    first = Day(required=True)
    last = Day(required=True)
    whole = ma.fields.Boolean(
        required=True, metadata={"description": "Every day of that card's period"}
    )


def _alongside(description: str) -> ma.fields.List[Any]:
    """The cards in other currencies a card takes days from for quotes naming no card, in
    the check's answer and the publishing's alike (round 65)."""
    return ma.fields.List(
        ma.fields.Nested(AlongsideSchema), required=True, metadata={"description": description}
    )


_USAGE = (
    "A renewal's usage, use by use, in words: each quantity last reported (which report, "
    "which period) beside what was applied for; empty for an application (round 67)"
)


def _or_null(description: str) -> ma.fields.String:
    """A string always given, null where the description says (round 67)."""
    return ma.fields.String(required=True, allow_none=True, metadata={"description": description})


class RepricedSchema(ApiSchema):
    kind = ma.fields.String(required=True, metadata={"enum": ["application", "renewal"]})
    reference = ma.fields.String(required=True)
    organization = ma.fields.String(required=True)
    rate_card = _or_null(
        "The card it is priced on now; null where licensing staff priced it (or will price "
        "it) by hand, no card in its currency being in effect on its first day (round 68: "
        "it named the card its quote names, the renewed agreement's)"
    )
    now = ma.fields.String(required=True)
    then = ma.fields.String(
        required=True, allow_none=True, metadata={"description": "On the checked card"}
    )
    change = ma.fields.String(required=True, allow_none=True)
    why = ma.fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "Why the checked card cannot price it in full (then null)"},
    )
    staff_review = ma.fields.Boolean(
        required=True,
        metadata={
            "description": "Whether the checked card sends it to licensing staff's review "
            "(a use whose rule says `review: staff`; false when it cannot price it), round 42"
        },
    )
    licensee_suspended = ma.fields.Boolean(
        required=True,
        metadata={
            "description": "Whether its organization is suspended: counted, since licensing "
            "staff may reinstate it, but it draws nothing (a renewal) or is not approved (an "
            "application) until then (a closed organization's agreements and applications "
            "are not counted), round 47 (applications, round 48)"
        },
    )
    # Round 67: the change split into the card's own and the usage's.
    rate_card_in_effect = _or_null(
        "The card in effect now on its first day in the checked card's currency (null: "
        "none), which it would be priced on were the checked card not published (round 67)"
    )
    in_effect = _or_null(
        "Its uses and term (a renewal's: the quantities last reported, over the renewal's "
        "term) priced on `rate_card_in_effect`; null where there is none or it cannot price "
        "them all"
    )
    card_change = _or_null("`then` less `in_effect`: the checked card's own effect")
    usage_change = _or_null(
        "`in_effect` less `now`: the uses' quantities and the term's, on the card in effect now"
    )
    usage = ma.fields.List(ma.fields.String(), required=True, metadata={"description": _USAGE})


class OrganizationEffectSchema(ApiSchema):
    organization = ma.fields.String(required=True)
    records = ma.fields.Integer(required=True)
    now = ma.fields.String(required=True)
    then = ma.fields.String(required=True)
    change = ma.fields.String(required=True)
    suspended = ma.fields.Boolean(
        required=True,
        metadata={
            "description": "Whether the organization is suspended: its records are counted "
            "(licensing staff may reinstate it) and are part of the effect's `suspended` "
            "share, round 48"
        },
    )


class SuspendedShareSchema(ApiSchema):
    records = ma.fields.Integer(
        required=True, metadata={"description": "Priced records of suspended organizations"}
    )
    now = ma.fields.String(required=True)
    then = ma.fields.String(required=True)
    change = ma.fields.String(required=True)


class CardEffectSchema(ApiSchema):
    currency = ma.fields.String(required=True)
    count = ma.fields.Integer(
        required=True,
        metadata={
            "description": "Undecided applications naming no card whose term starts in the "
            "card's period, and agreements whose renewal would start in it"
        },
    )
    unpriced = ma.fields.Integer(required=True)
    now = ma.fields.String(required=True)
    then = ma.fields.String(required=True)
    change = ma.fields.String(required=True)
    card_change = ma.fields.String(
        required=True,
        metadata={
            "description": "Of `change`, the checked card's own: each record compared priced "
            "on it against the same uses and term on the card in effect now on its first "
            "day (round 67)"
        },
    )
    usage_change = ma.fields.String(
        required=True,
        metadata={
            "description": "Of `change`, the uses and term the records would be priced "
            "with (a renewal's quantities last reported in place of those applied for, "
            "over the renewal's term) on the card in effect now, against what they are "
            "priced at now (round 67)"
        },
    )
    uncompared = ma.fields.Integer(
        required=True,
        metadata={
            "description": "Priced records with no card in effect on their first day now to "
            "compare: their change is in `change`, in neither `card_change` nor "
            "`usage_change` (round 67)"
        },
    )
    organization_count = ma.fields.Integer(required=True)
    suspended = ma.fields.Nested(
        SuspendedShareSchema,
        required=True,
        metadata={
            "description": "The suspended organizations' share of `now`, `then` and `change` "
            "(part of them, not added to them), round 48"
        },
    )
    organizations = ma.fields.List(
        ma.fields.Nested(OrganizationEffectSchema),
        required=True,
        metadata={"description": f"Largest changes first, at most {card_effect.LISTED}"},
    )
    records = ma.fields.List(
        ma.fields.Nested(RepricedSchema),
        required=True,
        metadata={
            "description": f"Largest changes first, at most {card_effect.LISTED}; those the "
            "card cannot price in full last"
        },
    )


class ProrationWarningSchema(ApiSchema):
    rule = ma.fields.String(required=True)
    amount_kind = ma.fields.String(
        required=True, metadata={"enum": ["flat fee", "minimum", "maximum"]}
    )
    amount = ma.fields.String(required=True, metadata={"description": "As the card gives it"})
    prorated = ma.fields.String(
        required=True,
        metadata={
            "description": "The amount prorated over `term_start` to `term_end` by the "
            "contract's proration, rounded as a quote's line is"
        },
    )
    term_start = Day(required=True)
    term_end = Day(required=True)
    sentence = ma.fields.String(required=True)


class PriceChangeWarningSchema(ApiSchema):
    rule = ma.fields.String(
        required=True,
        metadata={"description": "The rule's id, or the discount's where `discount` is true"},
    )
    discount = ma.fields.Boolean(
        required=True,
        metadata={"description": "A discount's percent (round 55), not a rule's figure"},
    )
    figure = ma.fields.String(
        required=True,
        metadata={
            "description": "Which figure of the rule: `flat fee`, `minimum`, `maximum`, "
            "`percent of revenue`, `price per <unit>` or `tier flat fee` (with ` of the "
            "tier <bounds>` when the model has several tiers), `upper bound of tier N` (a "
            "quantity), a sum's prefixed `part N's `, or `discount percent`"
        },
    )
    before = ma.fields.String(
        required=True,
        metadata={"description": "On `compared_with` (a percent for a percent of revenue)"},
    )
    after = ma.fields.String(required=True, metadata={"description": "On the checked card"})
    ratio = ma.fields.String(
        required=True,
        allow_none=True,
        metadata={
            "description": "`after` / `before`: to two decimals from 1 up, to two significant "
            "digits below (`0.0010`); null for a rise from 0 or a fall to 0 (round 55)"
        },
    )
    sentence = ma.fields.String(required=True)


class CheckResultSchema(ApiSchema):
    status = ma.fields.String(
        required=True,
        metadata={
            "enum": ["new", "identical"],
            "description": "What publishing the card would do: publish a new version, or "
            "nothing (the version is published with this content)",
        },
    )
    rate_card = ma.fields.Nested(CheckedCardSchema, required=True)
    rules = ma.fields.List(ma.fields.Nested(RuleSummarySchema), required=True)
    discounts = ma.fields.List(ma.fields.Nested(DiscountSummarySchema), required=True)
    compared_with = ma.fields.Nested(ComparedCardSchema, required=True, allow_none=True)
    differences = ma.fields.List(ma.fields.Nested(DifferenceSchema), required=True)
    takes_over = ma.fields.List(
        ma.fields.Nested(TakeoverSchema),
        required=True,
        metadata={
            "description": "The days it would take from published cards in its currency "
            "(round 65: a card in another currency is in `alongside`, as it corrects none)"
        },
    )
    alongside = _alongside(
        "Published cards in other currencies whose days it would take for quotes naming no "
        "card (the contract's rule: the card in effect published last, whatever its "
        "currency), and which it corrects in nothing: renewals and applications priced in "
        "their currency stay on them (round 65)"
    )
    effect = ma.fields.Nested(
        CardEffectSchema,
        required=True,
        allow_none=True,
        metadata={"description": "On current licensees' prices (null for a published card)"},
    )
    keeps = ma.fields.List(
        ma.fields.String(),
        required=True,
        metadata={
            "description": "Published cards starting later inside its period, which keep their days"
        },
    )
    price_change_warnings = ma.fields.List(
        ma.fields.Nested(PriceChangeWarningSchema),
        required=True,
        metadata={
            "description": "Each figure of a rule (a flat fee, a tier's price, flat fee or "
            "bound, a percent of revenue, a minimum or maximum) or of a discount (its "
            "percent) that is more than `PRICE_CHANGE_RATIO` times (by default "
            f"{LARGE_CHANGE_RATIO}), or less than 1/that of, the same figure on "
            "`compared_with`, or rises from 0 or falls to 0: a slip of a digit changes a "
            "figure tenfold (round 54; discounts, 0 and moved tiers round 55: a tier whose "
            "bounds moved is compared with the tier of `compared_with` holding its first "
            "quantity). A warning: the card is valid and publishes. Empty without "
            "`compared_with` and for an `identical` card"
        },
    )
    proration_warnings = ma.fields.List(
        ma.fields.Nested(ProrationWarningSchema),
        required=True,
        metadata={
            "description": "For a card running open-ended or longer than `LONG_CARD_DAYS` "
            "(3,653 days, ten years, by default): each prorated flat fee, minimum and maximum "
            "over the term the service would propose on it today (the office's day): a year "
            "from its first day, or from today once it is in effect, never past its last day "
            "(round 45). A warning: the card is valid and publishes. Empty for any other card"
        },
    )


class ReplacedDaysSchema(ApiSchema):
    version = ma.fields.String(
        required=True, metadata={"description": "A card published before the one published"}
    )
    first = Day(required=True, metadata={"description": "The first day it took from it"})
    last = Day(required=True, metadata={"description": "The last day it took from it"})
    whole = ma.fields.Boolean(
        required=True,
        metadata={
            "description": "Every day of that card's period (a correction for the same "
            "days): it now prices only quotes that name it"
        },
    )


def _agreement_numbers(description: str) -> ma.fields.List[str]:
    """A list of agreement numbers in the publishing answer: those a correction told,
    each way (api64: one declaration for both)."""
    return ma.fields.List(ma.fields.String(), required=True, metadata={"description": description})


class ImportResultSchema(ApiSchema):
    status = ma.fields.String(required=True, metadata={"enum": ["created", "unchanged"]})
    rate_card = ma.fields.Nested(RateCardSummarySchema, required=True)
    replaces = ma.fields.List(
        ma.fields.Nested(ReplacedDaysSchema),
        required=True,
        metadata={
            "description": "For a card `created`: the days it took from cards published "
            "before it in its currency, which quotes, estimates, applications and renewals "
            "naming no card are priced on it for from now on (a correction: what those "
            "cards priced keeps its prices), as the page's message and `licensing ratecards "
            "import` say it, and as its `rate_card.published` audit event records it. Empty "
            "for a card that took no card's days (a new year's), and for `unchanged` (round "
            "61). Round 65: of its own currency alone (a card in another currency corrects "
            "none): those are in `alongside`"
        },
    )
    replaces_sentence = ma.fields.String(
        required=True,
        metadata={
            "description": "`replaces` in the words the page's message and the command "
            "line use; empty when it is (round 61)"
        },
    )
    alongside = _alongside(
        "For a card `created`: the cards in other currencies whose days it took for quotes "
        "naming no card (the contract's rule: the card in effect published last, whatever "
        "its currency), which it corrects in nothing: renewals and applications priced in "
        "their currency stay on them, and their licensees are not told (round 65). Empty "
        "otherwise"
    )
    alongside_sentence = ma.fields.String(
        required=True,
        metadata={
            "description": "`alongside` in the words the page's message and the command "
            "line use, after `replaces_sentence`; empty when it is (round 65)"
        },
    )
    agreements_told = _agreement_numbers(
        "For a card `created`: the numbers of the agreements (awaiting acceptance or "
        "accepted) some day of whose term it now prices in place of their card, whose "
        "licensees were emailed that their card was corrected (round 62: after the card is "
        "stored, in batches, each audited `rate_card.licensees_told`; one told of an "
        "earlier correction that this card prices its uses alike is told without an email, "
        "listed in `agreements_not_emailed` instead). Empty otherwise (round 61)"
    )
    agreements_not_emailed = _agreement_numbers(
        "For a card `created`: the numbers of the agreements it corrects whose licensees "
        "were told without an email, as the page's message and `licensing ratecards "
        "import` say (api64): an earlier correction of the same days was emailed to them, "
        "and this card prices their uses by the same rules and discounts, so their "
        "agreement's page names it and no email is sent again (round 62). Recorded on the "
        "`rate_card.licensees_told` audit events as `agreements_not_emailed`. Empty "
        "otherwise"
    )
    price_change_warnings = ma.fields.List(
        ma.fields.Nested(PriceChangeWarningSchema),
        required=True,
        metadata={
            "description": "For a card `created`: the check's `price_change_warnings` "
            "against the card it follows, said again as it is published and recorded on its "
            "`rate_card.published` audit event. Empty otherwise, and for `unchanged` "
            "(round 55)"
        },
    )
    proration_warnings = ma.fields.List(
        ma.fields.Nested(ProrationWarningSchema),
        required=True,
        metadata={
            "description": "For a card `created` that runs open-ended or longer than "
            "`LONG_CARD_DAYS`: what the check warned of (`proration_warnings` of "
            "`POST /rate-cards/checks`), said again as it is published and recorded on its "
            "`rate_card.published` audit event. Empty otherwise, and for `unchanged` "
            "(round 44)"
        },
    )


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
        "rules": [_rule(rule, card.currency) for rule in card.rules],
        "document": json.loads(stored.document),
    }


def _rule(rule: Rule, currency: str) -> dict[str, str]:
    return {
        "id": rule.id,
        "description": rule.description,
        "in_plain_words": describe_rule(rule, currency),
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
    """One card: its rules in plain words and the document itself.

    Public, so it names no licensee's records: what the card has priced (undecided
    applications and agreements, which keep its prices) is listed for staff at
    `GET /rate-cards/{version}/priced-applications` and `.../priced-agreements`.
    """
    return _detail(queries.get(db.session(), version))


# Staff only: other organizations' applications and agreements.
_PRICED_BY = ("licensing", "billing", "admin")


@blp.route("/rate-cards/<string:version>/priced-applications", methods=["GET"])
@access.staff(*_PRICED_BY)
@blp.paginate(PricedRecordSchema)
def list_priced_applications(version: str) -> ReadPage:
    """Undecided applications whose latest quote is on the card, oldest first (staff).

    Submitted, returned, in review or escalated: approving one keeps the card's
    prices, so a corrected card's owner reads here which ones it priced (its page's
    *What it priced*). 404 for a version never published.
    """
    return _priced_page(version, priced_on.waiting_on(version), priced_on.waiting_records)


@blp.route("/rate-cards/<string:version>/priced-agreements", methods=["GET"])
@access.staff(*_PRICED_BY)
@blp.paginate(PricedRecordSchema)
def list_priced_agreements(version: str) -> ReadPage:
    """Agreements issued on the card, awaiting acceptance, active or expired, oldest first (staff).

    Their fees stay as issued and their royalty reports are priced on the card (the
    royalty contract), whichever card has replaced it. 404 for a version never
    published.
    """
    return _priced_page(version, priced_on.issued_on(version), priced_on.issued_records)


def _priced_page(
    version: str,
    statement: Select[*tuple[Any, ...]],
    read: Callable[[Session, str, Sequence[int]], list[priced_on.PricedRecord]],
) -> ReadPage:
    """A page of what the published card `version` priced (404 for another): the
    statement's ids counted and paged, the page's records read by `read`."""
    queries.get(db.session(), version)
    return ReadPage(
        priced_on.ids_of(statement),
        lambda ids: [_priced_record(record) for record in read(db.session(), version, ids)],
    )


def _priced_record(record: priced_on.PricedRecord) -> dict[str, Any]:
    currency = record.currency
    return {
        "id": record.id,
        "reference": record.reference,
        "organization": record.organization,
        "state": record.state,
        "total": None
        if record.total is None or currency is None
        else format_amount(record.total, currency),
        "currency": currency,
    }


def _priced(priced: priced_on.PricedOn) -> dict[str, Any]:
    return {
        "application_count": priced.application_count,
        "applications": [_priced_record(record) for record in priced.applications],
        "agreement_count": priced.agreement_count,
        "agreements": [_priced_record(record) for record in priced.agreements],
    }


# What checking and publishing take, and how both refuse a bad card.
_CARD_BODY = {
    "required": True,
    "description": "The rate card in the pricing contract's format.",
    "content": {"application/json": {"schema": {"type": "object"}}},
}
_CHANGED = "The version is published with different content"
_INVALID = "The card is invalid; `errors` lists every problem by path"


@blp.route("/rate-cards/checks", methods=["POST"])
@access.stores_nothing  # a dry run: an admin's read-only token may check a card
@access.staff("admin")
@blp.doc(requestBody=_CARD_BODY)
@blp.response(200, CheckResultSchema, conflict=_CHANGED)
@blp.alt_response(422, description=_INVALID)
def check_rate_card() -> dict[str, Any]:
    """Check a rate card without publishing it (admins): a dry run of publishing.

    Stores and audits nothing. A card that publishing would refuse gets the same
    422 or 409; else its rules and discounts in words, the differences from the
    card it follows, and which quotes it would price instead of published cards.
    """
    check = services.check_card(request.get_json(silent=True))
    # One day for the renewals and the warning: the office's (round 45).
    today = office_date(utcnow())
    effect = (
        card_effect.effect(db.session(), check.card, today=today)
        if check.version_state == "new"
        else None
    )
    return {**_check_result(check, today), "effect": None if effect is None else _effect(effect)}


def _effect(effect: card_effect.CardEffect) -> dict[str, Any]:
    def amount(value: Decimal | None) -> str | None:
        return None if value is None else format_amount(value, effect.currency)

    return {
        "currency": effect.currency,
        "count": effect.count,
        "unpriced": effect.unpriced,
        "now": amount(effect.now),
        "then": amount(effect.then),
        "change": amount(effect.change),
        "card_change": amount(effect.card_change),
        "usage_change": amount(effect.usage_change),
        "uncompared": effect.uncompared,
        "organization_count": effect.organization_count,
        "suspended": {
            "records": effect.suspended.records,
            "now": amount(effect.suspended.now),
            "then": amount(effect.suspended.then),
            "change": amount(effect.suspended.change),
        },
        "organizations": [
            {
                "organization": row.organization,
                "records": row.records,
                "now": amount(row.now),
                "then": amount(row.then),
                "change": amount(row.change),
                "suspended": row.suspended,
            }
            for row in effect.organizations
        ],
        "records": [
            {
                "kind": row.kind,
                "reference": row.reference,
                "organization": row.organization,
                "rate_card": row.card,
                "now": amount(row.now),
                "then": amount(row.then),
                "change": amount(row.change),
                "why": row.why,
                "staff_review": row.staff_review,
                "licensee_suspended": row.licensee_suspended,
                "rate_card_in_effect": row.in_effect_card,
                "in_effect": amount(row.in_effect),
                "card_change": amount(row.card_change),
                "usage_change": amount(row.usage_change),
                "usage": list(row.usage),
            }
            for row in effect.records
        ],
    }


def _check_result(check: services.CardCheck, today: date) -> dict[str, Any]:
    card, base = check.card, check.base
    return {
        "status": check.version_state,
        "rate_card": {
            **{name: getattr(card, name) for name in _CHECKED_FIELDS},
            "period_days": card.period_days,
        },
        "rules": [_rule(rule, card.currency) for rule in card.rules],
        "discounts": [
            {
                "id": adjustment.id,
                "applies_to": describe_condition(adjustment.when),
                "discount_percent": str(adjustment.discount_percent),
            }
            for adjustment in card.adjustments
        ],
        "compared_with": None
        if base is None
        else {
            "version": base.version,
            "effective_from": base.effective_from,
            "effective_to": base.effective_to,
            "in_effect_on_first_day": check.base_in_effect_on_first_day,
        },
        "differences": [asdict(change) for change in check.differences(amount=_money)],
        "takes_over": [
            {**asdict(taking), "priced": _priced(priced_on.priced_on(db.session(), taking.version))}
            for taking in check.taken
        ],
        "alongside": [asdict(taking) for taking in check.alongside],
        "keeps": check.kept,
        "price_change_warnings": [
            _price_change(warning, card.currency)
            for warning in check.price_changes(
                amount=_money, ratio=current_config().price_change_ratio
            )
        ],
        "proration_warnings": _warnings(
            card.currency,
            proration_warnings(
                card,
                long_period_days=current_config().long_card_days,
                today=today,
                amount=_money,
            ),
        ),
    }


def _warnings(currency: str, warnings: Iterable[ProrationWarning]) -> list[dict[str, Any]]:
    """`proration_warnings` as the check's and the publishing's answers give them."""
    return [
        {
            "rule": warning.rule,
            "amount_kind": warning.name,
            "amount": exact_amount(warning.amount, currency),
            "prorated": format_amount(warning.prorated, currency),
            "term_start": warning.term_start,
            "term_end": warning.term_end,
            "sentence": warning.sentence,
        }
        for warning in warnings
    ]


def _price_change(warning: PriceChangeWarning, currency: str) -> dict[str, Any]:
    def figure(value: Decimal) -> str:
        if warning.is_count:
            return str(value)
        return percent_text(value) if warning.is_percent else exact_amount(value, currency)

    ratio = warning.ratio
    return {
        "rule": warning.rule,
        "discount": warning.discount,
        "figure": warning.figure,
        "before": figure(warning.before),
        "after": figure(warning.after),
        "ratio": None if ratio is None else ratio_text(ratio),
        "sentence": warning.sentence,
    }


_CHECKED_FIELDS = ("version", "title", "currency", "effective_from", "effective_to")


def _money(amount: Decimal, currency: str) -> str:
    """An amount in a difference's sentence as the API gives money: a decimal string
    with the currency's minor-unit digits (a finer unit price keeps its own, never
    rounded), and the currency, where the page names it too ("2750.00 USD")."""
    return f"{exact_amount(amount, currency)} {currency}"


@blp.route("/rate-cards", methods=["POST"])
@access.staff("admin")
@never_answers(404, "it reads back the card it has just published")
@blp.doc(requestBody=_CARD_BODY)
@blp.response(200, ImportResultSchema, conflict=_CHANGED)
@blp.alt_response(422, description=_INVALID)
def publish_rate_card() -> dict[str, Any]:
    """Publish a rate card (admins).

    The whole card is validated first; nothing is stored when it is invalid.
    Re-publishing a version with identical content is a no-op (`unchanged`).
    """
    document = request.get_json(silent=True)
    principal = require_principal()
    result = services.import_card(
        document,
        published_by=principal.email,
        published_by_id=principal.user_id,
        long_period_days=current_config().long_card_days,
        price_change_ratio=current_config().price_change_ratio,
        amount=_money,
    )
    stored = queries.get(db.session(), result.version)
    return {
        "status": "created" if result.created else "unchanged",
        "rate_card": _summary(stored, _replaced()),
        "replaces": [
            {
                "version": taken.version,
                "first": taken.first,
                "last": taken.last,
                "whole": taken.whole,
            }
            for taken in result.replaces
        ],
        "replaces_sentence": services.replaces(result.version) if result.replaces else "",
        "alongside": [asdict(taking) for taking in result.alongside],
        "alongside_sentence": services.alongside(result.version) if result.alongside else "",
        "agreements_told": list(result.agreements_told),
        "agreements_not_emailed": list(result.agreements_not_emailed),
        "proration_warnings": _warnings(stored.currency, result.proration_warnings),
        "price_change_warnings": [
            _price_change(warning, stored.currency) for warning in result.price_change_warnings
        ],
    }
