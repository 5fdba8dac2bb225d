"""Pricing a set of proposed uses against a rate card (`contracts/pricing.md`).

`price(card, request)` follows the contract's steps for each use: the first
matching rule; the model's raw amount; the first matching adjustment's discount;
the prorated minimum, then the prorated maximum; one half-up rounding to the
currency's minor unit at the end. Arithmetic is exact until then: scaled
decimals in a context that traps any rounding (see `models`), with `Fraction`s
made only for the breakdown that snapshots keep.

Readings where the contract is silent:

- Languages: when a per-unit model counts `languages` and the use gives no
  `quantity["languages"]` but lists `languages`, the quantity is the number of
  distinct languages listed (compared ignoring case and surrounding spaces),
  and the explanation says so. An explicit quantity always wins.
- A request with no uses is an input error (`uses`), as is a `rate_card` version
  that is not the card being priced with.
- Quantities a model does not read are accepted and ignored.
- A line's amount is split into `fixed` and `variable` parts for invoicing (see
  `Breakdown`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Any, ClassVar

from licensing.money import (
    MAX_QUANTITY,
    MoneyError,
    format_amount,
    minor_units,
    parse_decimal,
    quantize,
)

from .models import (
    EXACT,
    ModelPricer,
    Priced,
    Scale,
    compile_model,
    decimal_text,
    needs_revenue,
    percent_text,
    units_needed,
)
from .ratecard import Adjustment, RateCard, Rule
from .vocabulary import AXES, ORGANIZATION_TYPES, PRODUCT_TYPES, USER_TYPES, USES

SNAPSHOT_FORMAT = 1
LANGUAGES = "languages"


# --- the request ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    start: date
    end: date

    @property
    def days(self) -> int:
        """Days in the term, counting its first and last day."""
        return (self.end - self.start).days + 1


# A quote makes a ProposedUse and a QuoteLine for every use. The __init__ that
# dataclasses write for a frozen class sets each field through
# object.__setattr__, three times as long as filling the instance's __dict__
# (about 0.8 µs an object, 2 µs a use of a 25-use quote); these two write
# their own, taking the same arguments, with the same defaults. Every other
# generated method (eq, hash, repr, replace, the refusal to assign) is kept.


@dataclass(frozen=True, init=False)
class ProposedUse:
    """One use to price. Its quantities and revenue are bounded here, once, for the
    quote API, the estimator and applications alike: far above any real product,
    and small enough that every amount priced from them fits the money columns
    (18 digits, 4 of them decimals)."""

    MAX_QUANTITY: ClassVar[int] = MAX_QUANTITY  # licensing.money: every count of units
    MAX_REVENUE: ClassVar[Decimal] = Decimal(10**12)

    use: str
    product_type: str
    user_type: str
    quantity: Mapping[str, int] = field(default_factory=dict)
    revenue: Decimal | None = None
    languages: tuple[str, ...] = ()
    description: str = ""

    def __init__(
        self,
        use: str,
        product_type: str,
        user_type: str,
        quantity: Mapping[str, int] | None = None,
        revenue: Decimal | None = None,
        languages: tuple[str, ...] = (),
        description: str = "",
    ) -> None:
        fields = self.__dict__
        fields["use"], fields["product_type"], fields["user_type"] = use, product_type, user_type
        fields["quantity"] = {} if quantity is None else quantity  # a dict of its own
        fields["revenue"], fields["languages"] = revenue, languages
        fields["description"] = description


@dataclass(frozen=True)
class QuoteRequest:
    organization_type: str
    term: Term
    uses: tuple[ProposedUse, ...]
    rate_card: str | None = None


class QuoteInputError(ValueError):
    """The request cannot be priced; `errors` maps each bad field's path to messages."""

    def __init__(self, errors: Mapping[str, Sequence[str]]) -> None:
        self.errors: dict[str, list[str]] = {path: list(texts) for path, texts in errors.items()}
        listed = "; ".join(f"{path}: {' '.join(texts)}" for path, texts in self.errors.items())
        super().__init__(f"the quote request cannot be priced: {listed}")


# --- the quote -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Breakdown:
    """How a licensed line's amount was reached, in numbers, for invoices and agreements.

    `raw`, `discounted`, `minimum_prorated`, `maximum_prorated` and `unrounded`
    are exact. `fixed + variable == amount` exactly, both rounded: `fixed` is the
    flat fees (prorated where the model says so) plus the part of a minimum that
    lifts the amount; `variable` is the usage royalties (per-unit amounts, tier
    flats included, and percent of revenue). A discount scales both parts alike;
    a maximum cuts the usage royalties first and the fixed fees only when the
    cap is below them. The rounded split is `fixed = round(exact fixed)` and
    `variable = amount - fixed`, so both stay non-negative and add up to the cent.
    """

    model_type: str
    raw: Fraction
    discount_id: str | None
    discount_percent: Decimal
    discounted: Fraction
    minimum_prorated: Fraction | None
    maximum_prorated: Fraction | None
    bound_applied: str | None
    unrounded: Fraction
    fixed: Decimal
    variable: Decimal
    quantities: Mapping[str, int] = field(default_factory=dict)
    revenue: Decimal | None = None


@dataclass(frozen=True, init=False)
class QuoteLine:
    use_index: int
    rule: str | None
    route: str
    review: str
    amount: Decimal | None
    explanation: tuple[str, ...]
    breakdown: Breakdown | None = None

    def __init__(  # see ProposedUse
        self,
        use_index: int,
        rule: str | None,
        route: str,
        review: str,
        amount: Decimal | None,
        explanation: tuple[str, ...],
        breakdown: Breakdown | None = None,
    ) -> None:
        fields = self.__dict__
        fields["use_index"], fields["rule"], fields["route"] = use_index, rule, route
        fields["review"], fields["amount"] = review, amount
        fields["explanation"], fields["breakdown"] = explanation, breakdown


@dataclass(frozen=True)
class Quote:
    rate_card: str
    currency: str
    proration: Fraction
    lines: tuple[QuoteLine, ...]
    total: Decimal
    requires_review: bool
    request: QuoteRequest | None = None

    @property
    def fully_priced(self) -> bool:
        """False while a licensed use has no amount (staff price it by hand): the
        total then covers only the priced uses and is not the price."""
        return all(line.amount is not None for line in self.lines if line.route == "license")

    def to_contract_dict(self) -> dict[str, Any]:
        """The quote endpoint's response body, exactly as the contract shows it."""
        return {
            "rate_card": self.rate_card,
            "currency": self.currency,
            "proration": str(self.proration),
            "lines": [_contract_line(line, self.currency) for line in self.lines],
            "total": format_amount(self.total, self.currency),
            "requires_review": self.requires_review,
        }

    def to_snapshot(self) -> dict[str, Any]:
        """Everything, JSON-serialisable, to store on an application.

        Exact values (fractions) are written as "n/d" text, money with the
        currency's minor-unit digits; `Quote.from_snapshot` reads it back equal.
        """
        return {
            "format": SNAPSHOT_FORMAT,
            "rate_card": self.rate_card,
            "currency": self.currency,
            "proration": str(self.proration),
            "lines": [_line_snapshot(line, self.currency) for line in self.lines],
            "total": format_amount(self.total, self.currency),
            "requires_review": self.requires_review,
            "request": None if self.request is None else _request_snapshot(self.request),
        }

    @classmethod
    def from_snapshot(cls, snapshot: Mapping[str, Any]) -> Quote:
        if snapshot.get("format") != SNAPSHOT_FORMAT:
            raise ValueError(f"unknown quote snapshot format {snapshot.get('format')!r}")
        request = snapshot.get("request")
        return cls(
            rate_card=snapshot["rate_card"],
            currency=snapshot["currency"],
            proration=Fraction(snapshot["proration"]),
            lines=tuple(_line_from_snapshot(line) for line in snapshot["lines"]),
            total=Decimal(snapshot["total"]),
            requires_review=bool(snapshot["requires_review"]),
            request=None if request is None else _request_from_snapshot(request),
        )


def _contract_line(line: QuoteLine, currency: str) -> dict[str, Any]:
    return {
        "use_index": line.use_index,
        "rule": line.rule,
        "route": line.route,
        "review": line.review,
        "amount": None if line.amount is None else format_amount(line.amount, currency),
        "explanation": list(line.explanation),
    }


# --- checking the request -----------------------------------------------------------------


class _Errors(dict[str, list[str]]):
    def add(self, path: str, message: str) -> None:
        self.setdefault(path, []).append(message)


class _Plan:
    """A use whose inputs have been checked: its rule and adjustment, and what
    its model reads."""

    __slots__ = ("adjustment", "index", "notes", "priced", "quantities", "use")

    def __init__(
        self,
        index: int,
        use: ProposedUse,
        priced: _PricedRule | None,
        quantities: Mapping[str, int],
        notes: tuple[str, ...],
        adjustment: _PricedAdjustment | None = None,
    ) -> None:
        self.index, self.use, self.priced = index, use, priced
        self.quantities, self.notes = quantities, notes
        self.adjustment = adjustment


def _check_term(card: RateCard, term: Term, errors: _Errors) -> None:
    if term.end < term.start:
        errors.add("term.end", f"must not be before the term's start ({term.start})")
    elif not card.covers(term.start, term.end):
        errors.add(
            "term",
            f"the term {term.start} to {term.end} must lie wholly inside the period of "
            f"rate card {card.version}, {card.effective_from} to {card.effective_to}",
        )


_USES, _PRODUCT_TYPES, _USER_TYPES = (
    frozenset(USES),
    frozenset(PRODUCT_TYPES),
    frozenset(USER_TYPES),
)


def _check_vocabulary(use: ProposedUse, prefix: str, errors: _Errors) -> bool:
    try:  # the usual answer, at once: every value known
        if use.use in _USES and use.product_type in _PRODUCT_TYPES and use.user_type in _USER_TYPES:
            return True
    except TypeError:  # unhashable: not a value of the vocabulary; said below
        pass
    known = True
    for axis in ("use", "product_type", "user_type"):
        value = getattr(use, axis)
        if value not in AXES[axis]:
            errors.add(
                f"{prefix}.{axis}",
                f"unknown {axis} {value!r}; expected one of {', '.join(AXES[axis])}",
            )
            known = False
    return known


def _check_amounts(use: ProposedUse, prefix: str, errors: _Errors) -> None:
    for unit, count in use.quantity.items():
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            errors.add(
                f"{prefix}.quantity.{unit}", f"must be a whole number, 0 or more; got {count!r}"
            )
        elif count > ProposedUse.MAX_QUANTITY:
            errors.add(f"{prefix}.quantity.{unit}", quantity_limit_message())
    revenue = use.revenue
    if revenue is None:
        return
    if isinstance(revenue, bool) or not isinstance(revenue, Decimal | int):
        errors.add(f"{prefix}.revenue", 'must be a decimal amount such as "1250.00"')
        return
    try:
        # Bounded before any arithmetic: a huge revenue made an exact fraction
        # that held a worker for a minute.
        parse_decimal(revenue)
    except MoneyError as error:
        errors.add(f"{prefix}.revenue", f"must be a decimal amount, 0 or more: {error}")
        return
    if revenue < 0:
        errors.add(f"{prefix}.revenue", "must be a decimal amount, 0 or more")
    elif revenue > ProposedUse.MAX_REVENUE:
        errors.add(f"{prefix}.revenue", revenue_limit_message())


def quantity_limit_message() -> str:
    return f"Must be at most {ProposedUse.MAX_QUANTITY:,}."


def revenue_limit_message() -> str:
    return f"Must be at most {ProposedUse.MAX_REVENUE:,.2f}."


def _distinct_languages(languages: Sequence[str]) -> list[str]:
    # "de", "DE " and "de" are one language.
    cleaned = (name.strip() for name in languages if isinstance(name, str))
    return list(dict.fromkeys(name.casefold() for name in cleaned if name))


def _model_inputs(
    rule: _PricedRule, use: ProposedUse, prefix: str, errors: _Errors
) -> tuple[dict[str, int], tuple[str, ...]]:
    """The quantities the model reads, and notes on any that were inferred."""
    quantities: dict[str, int] = {}
    notes: list[str] = []
    for unit in rule.units:
        if unit in use.quantity:
            quantities[unit] = use.quantity[unit]
        elif unit == LANGUAGES and (listed := _distinct_languages(use.languages)):
            quantities[unit] = len(listed)
            notes.append(
                f"no {LANGUAGES} quantity given: counted {len(listed)} distinct languages "
                f"listed ({', '.join(listed)})"
            )
        else:
            errors.add(
                f"{prefix}.quantity.{unit}",
                f"required by rule {rule.rule.id}: the number of {unit}",
            )
    if rule.takes_revenue and use.revenue is None:
        errors.add(
            f"{prefix}.revenue",
            f"required by rule {rule.rule.id}, which charges a share of revenue",
        )
    return quantities, tuple(notes)


def _plan(card: _PricedCard, request: QuoteRequest, index: int, errors: _Errors) -> _Plan:
    use = request.uses[index]
    prefix = f"uses.{index}"
    _check_amounts(use, prefix, errors)
    known = _check_vocabulary(use, prefix, errors)
    if not known or request.organization_type not in ORGANIZATION_TYPES:
        return _Plan(index, use, None, {}, ())
    # The rule and the adjustment the use meets: one look-up for both.
    priced, adjustment = card.met(
        use.use, use.product_type, use.user_type, request.organization_type
    )
    if priced is None or priced.pricer is None:
        return _Plan(index, use, priced, {}, ())
    quantities, notes = _model_inputs(priced, use, prefix, errors)
    return _Plan(index, use, priced, quantities, notes, adjustment)


def _check_request(card: RateCard, request: QuoteRequest, errors: _Errors) -> None:
    _check_term(card, request.term, errors)
    if request.organization_type not in ORGANIZATION_TYPES:
        errors.add(
            "organization_type",
            f"unknown organization_type {request.organization_type!r}; "
            f"expected one of {', '.join(ORGANIZATION_TYPES)}",
        )
    if request.rate_card is not None and request.rate_card != card.version:
        errors.add(
            "rate_card", f"asked for rate card {request.rate_card}, priced with {card.version}"
        )
    if not request.uses:
        errors.add("uses", "give at least one proposed use")


# --- a card, compiled for pricing ----------------------------------------------------------
#
# A card is immutable, so everything about it that does not depend on a use is
# worked out once, on the first quote priced with it, and kept on the card
# object: each rule's model compiled (`compile_model`), the quantities and
# revenue it reads, its prorated minimum and maximum with their words for each
# proration factor met, each adjustment's factor and words, and which rule and
# adjustment each combination of the four axes meets (at most one entry per
# combination of the vocabulary).


class _PricedAdjustment:
    __slots__ = ("adjustment", "keep", "note", "words")

    def __init__(self, adjustment: Adjustment) -> None:
        self.adjustment = adjustment
        percent = adjustment.discount_percent
        self.keep = EXACT.subtract(100, percent).scaleb(-2, EXACT)  # (100 - d) / 100
        self.words = f"adjustment {adjustment.id}: {percent_text(percent)}% off "
        self.note = " (discounts never lower a minimum)" if percent else ""


class _Bound:
    """A rule's minimum or maximum for one proration factor: scaled, in words."""

    __slots__ = ("exact", "scaled", "text", "words")

    def __init__(self, name: str, annual: Decimal, scale: Scale) -> None:
        self.scaled = scale.prorated(annual)
        self.exact = scale.fraction(self.scaled)
        self.text = scale.show(self.scaled)
        shown = decimal_text(annual, scale.places)
        if scale.is_one:
            self.words = f"{name} {shown} (the term is the whole card period)"
        else:
            self.words = f"{name} {shown} x {scale.text} (prorated) = {self.text}"


class _PricedRule:
    __slots__ = ("_bounds", "pricer", "rule", "takes_revenue", "units")

    def __init__(self, rule: Rule, places: int) -> None:
        self.rule = rule
        model = rule.model
        self.pricer = None if model is None else compile_model(model, places)
        self.units = () if model is None else units_needed(model)
        self.takes_revenue = model is not None and needs_revenue(model)
        self._bounds: dict[tuple[str, int, int], _Bound] = {}

    def bound(self, name: str, annual: Decimal, scale: Scale) -> _Bound:
        key = (name, *scale.key)
        found = self._bounds.get(key)
        if found is None:
            found = _Bound(name, annual, scale)
            if len(self._bounds) < 4096:  # a card's terms give at most ~2 x its days
                self._bounds[key] = found
        return found


_Met = tuple[_PricedRule | None, _PricedAdjustment | None]  # what a use meets on a card


class _PricedCard:
    __slots__ = (
        "_adjustments",
        "_met",
        "_rules",
        "_scales",
        "card",
        "period_days",
        "places",
        "zero",
    )

    def __init__(self, card: RateCard) -> None:
        self.card = card
        self.places = minor_units(card.currency)
        self.zero = quantize(0, card.currency)
        self._rules = [_PricedRule(rule, self.places) for rule in card.rules]
        self._adjustments = [_PricedAdjustment(item) for item in card.adjustments]
        self._met: dict[tuple[str, str, str, str], _Met] = {}
        self.period_days = card.period_days
        self._scales: dict[int, Scale] = {}

    def scale(self, term_days: int) -> Scale:
        """The proration factor term_days / the card's days, with its texts."""
        found = self._scales.get(term_days)
        if found is None:
            found = Scale(Fraction(term_days, self.period_days), self.places)
            if len(self._scales) < 4096:  # terms within the card: at most its days
                self._scales[term_days] = found
        return found

    def _meet(self, axes: tuple[str, str, str, str]) -> _Met:
        met = self._met.get(axes)
        if met is None:
            rule = next((item for item in self._rules if item.rule.when.matches(*axes)), None)
            adjustment = next(
                (item for item in self._adjustments if item.adjustment.when.matches(*axes)), None
            )
            met = self._met[axes] = (rule, adjustment)  # vocabulary values only: bounded
        return met

    def met(self, use: str, product_type: str, user_type: str, organization_type: str) -> _Met:
        """The first rule and the first adjustment whose `when` matches."""
        return self._meet((use, product_type, user_type, organization_type))


def _priced_card(card: RateCard) -> _PricedCard:
    """The card compiled for pricing, made on first use and kept on the card."""
    compiled = card.__dict__.get(_COMPILED)
    if compiled is None:
        compiled = _PricedCard(card)
        object.__setattr__(card, _COMPILED, compiled)  # frozen: a cache, not a field
    assert isinstance(compiled, _PricedCard)
    return compiled


_COMPILED = "_priced"


# --- pricing ---------------------------------------------------------------------------


def price(card: RateCard, request: QuoteRequest, *, breakdowns: bool = True) -> Quote:
    """Price every use of `request` with `card`; raise `QuoteInputError` listing every
    problem with the request at once.

    With `breakdowns=False` the licensed lines carry no `Breakdown` (None), which
    is about a third of pricing a use: for an answer that shows only amounts and
    explanations (the quote API's), never for a quote that is kept or invoiced,
    where a missing breakdown means a line priced by hand.

    `organization_type` comes from the request and is matched with each use. A
    per-unit model counting `languages` falls back on the number of distinct
    languages the use lists when it gives no such quantity (see the module notes).
    """
    compiled = _priced_card(card)
    errors = _Errors()
    _check_request(card, request, errors)
    plans = [_plan(compiled, request, index, errors) for index in range(len(request.uses))]
    if errors:
        raise QuoteInputError(errors)
    scale = compiled.scale(request.term.days)
    proration = scale.proration
    lines = tuple(_line(compiled, request, plan, scale, breakdowns) for plan in plans)
    total = compiled.zero
    for line in lines:
        if line.amount is not None:
            total = EXACT.add(total, line.amount)
    return Quote(
        rate_card=card.version,
        currency=card.currency,
        proration=proration,
        lines=lines,
        total=total,
        requires_review=any(line.review == "staff" for line in lines),
        request=request,
    )


def _line(
    card: _PricedCard, request: QuoteRequest, plan: _Plan, scale: Scale, breakdown: bool
) -> QuoteLine:
    priced = plan.priced
    if priced is None:
        return _unmatched_line(card.card, request, plan)
    if priced.pricer is None:
        return _routed_line(card, priced.rule, plan)
    return _Pricing(card, priced, priced.pricer, plan, plan.adjustment, scale).line(breakdown)


def _unmatched_line(card: RateCard, request: QuoteRequest, plan: _Plan) -> QuoteLine:
    use = plan.use
    words = (
        f"no rule in rate card {card.version} matches {use.use} of {use.product_type} products "
        f"for {use.user_type} users by {request.organization_type} organizations; "
        "licensing staff will price this use by hand"
    )
    return QuoteLine(plan.index, None, "license", "staff", None, (words,))


def _routed_line(card: _PricedCard, rule: Rule, plan: _Plan) -> QuoteLine:
    steps = [f"rule {rule.id}: {rule.description}"] if rule.description else []
    steps.append("goes to the educational permissions queue: no fee, and not part of any invoice")
    return QuoteLine(
        plan.index, rule.id, "permission_request", rule.review, card.zero, tuple(steps)
    )


class _Pricing:
    """The contract's five steps for one licensed use, recording each in words.

    Amounts are scaled (`Scale`): exact Decimals, compared and added as they are;
    each amount's text is kept beside it, so no value is written out twice.
    """

    __slots__ = ("adjustment", "card", "plan", "pricer", "rule", "scale", "steps")

    def __init__(
        self,
        card: _PricedCard,
        rule: _PricedRule,
        pricer: ModelPricer,
        plan: _Plan,
        adjustment: _PricedAdjustment | None,
        scale: Scale,
    ) -> None:
        self.card, self.rule, self.pricer, self.plan = card, rule, pricer, plan
        self.adjustment = adjustment
        self.scale = scale
        self.steps: list[str] = list(plan.notes)

    def line(self, breakdown: bool) -> QuoteLine:
        scale, rule = self.scale, self.rule.rule
        revenue = self.plan.use.revenue
        raw = self.pricer.price(scale, self.plan.quantities, revenue)  # 1. raw
        self.steps.extend(raw.steps)
        discounted, fixed, text = self.discount(raw)  # 2-3.
        amount, text, fixed, bound, floor, ceiling = self.bounds(discounted, fixed, text)  # 4.
        rounded = self.round(amount, text)  # 5.
        if not breakdown:
            return QuoteLine(
                self.plan.index, rule.id, "license", rule.review, rounded, tuple(self.steps)
            )
        fixed_rounded = scale.round(fixed)
        raw_exact = scale.fraction(raw.amount)
        discounted_exact = raw_exact if discounted is raw.amount else scale.fraction(discounted)
        if bound == "minimum" and floor is not None:
            unrounded = floor.exact
        elif bound == "maximum" and ceiling is not None:
            unrounded = ceiling.exact
        else:
            unrounded = discounted_exact
        adjustment = None if self.adjustment is None else self.adjustment.adjustment
        numbers = Breakdown(
            model_type=self.pricer.model_type,
            raw=raw_exact,
            discount_id=adjustment.id if adjustment else None,
            discount_percent=adjustment.discount_percent if adjustment else Decimal(0),
            discounted=discounted_exact,
            minimum_prorated=None if floor is None else floor.exact,
            maximum_prorated=None if ceiling is None else ceiling.exact,
            bound_applied=bound,
            unrounded=unrounded,
            fixed=fixed_rounded,
            variable=EXACT.subtract(rounded, fixed_rounded),
            quantities=dict(self.plan.quantities),
            revenue=revenue if revenue is not None and self.rule.takes_revenue else None,
        )
        return QuoteLine(
            self.plan.index, rule.id, "license", rule.review, rounded, tuple(self.steps), numbers
        )

    def discount(self, raw: Priced) -> tuple[Decimal, Decimal, str]:
        """The discounted amount and fixed part, scaled, and the amount's text."""
        adjustment = self.adjustment
        if adjustment is None:
            self.steps.append("no adjustment applies")
            return raw.amount, raw.fixed, raw.text
        discounted = EXACT.multiply(raw.amount, adjustment.keep)
        text = self.scale.show(discounted)
        self.steps.append(f"{adjustment.words}{raw.text} = {text}")
        return discounted, EXACT.multiply(raw.fixed, adjustment.keep), text

    def bounds(
        self, amount: Decimal, fixed: Decimal, text: str
    ) -> tuple[Decimal, str, Decimal, str | None, _Bound | None, _Bound | None]:
        rule = self.rule.rule
        bound: str | None = None
        floor = ceiling = None
        if rule.minimum is not None:
            floor = self.rule.bound("minimum", rule.minimum, self.scale)
            if amount < floor.scaled:
                # The minimum lifts the amount: the lift is a fixed fee, not usage.
                fixed = EXACT.add(fixed, EXACT.subtract(floor.scaled, amount))
                note = "" if self.adjustment is None else self.adjustment.note
                self.steps.append(
                    f"{floor.words}: {text} is below it, so the minimum applies{note}"
                )
                amount, text, bound = floor.scaled, floor.text, "minimum"
            else:
                self.steps.append(f"{floor.words}: {text} is not below it")
        if rule.maximum is not None:
            ceiling = self.rule.bound("maximum", rule.maximum, self.scale)
            if amount > ceiling.scaled:
                # The cap cuts usage royalties first, fixed fees only below them.
                variable = EXACT.subtract(amount, fixed)
                cut = EXACT.subtract(EXACT.subtract(amount, ceiling.scaled), variable)
                if cut > 0:
                    fixed = EXACT.subtract(fixed, cut)
                self.steps.append(f"{ceiling.words}: {text} is above it, so the maximum applies")
                amount, text, bound = ceiling.scaled, ceiling.text, "maximum"
            else:
                self.steps.append(f"{ceiling.words}: {text} is not above it")
        return amount, text, fixed, bound, floor, ceiling

    def round(self, amount: Decimal, text: str) -> Decimal:
        currency = self.card.card.currency
        rounded = self.scale.round(amount)
        result = f"{rounded:f} {currency}"
        if self.scale.equals(rounded, amount):
            self.steps.append(f"amount: {result}")
        else:
            self.steps.append(f"amount: {text} rounded half-up to {result}")
        return rounded


# --- snapshots -----------------------------------------------------------------------------


def _exact(value: Fraction | None) -> str | None:
    return None if value is None else str(value)


def _read_exact(text: str | None) -> Fraction | None:
    return None if text is None else Fraction(text)


def _decimal_text(value: Decimal | None) -> str | None:
    return None if value is None else format(Decimal(value), "f")


def _read_decimal(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def _breakdown_snapshot(breakdown: Breakdown, currency: str) -> dict[str, Any]:
    return {
        "model_type": breakdown.model_type,
        "raw": str(breakdown.raw),
        "discount_id": breakdown.discount_id,
        "discount_percent": _decimal_text(breakdown.discount_percent),
        "discounted": str(breakdown.discounted),
        "minimum_prorated": _exact(breakdown.minimum_prorated),
        "maximum_prorated": _exact(breakdown.maximum_prorated),
        "bound_applied": breakdown.bound_applied,
        "unrounded": str(breakdown.unrounded),
        "fixed": format_amount(breakdown.fixed, currency),
        "variable": format_amount(breakdown.variable, currency),
        "quantities": dict(breakdown.quantities),
        "revenue": _decimal_text(breakdown.revenue),
    }


def _breakdown_from_snapshot(data: Mapping[str, Any]) -> Breakdown:
    return Breakdown(
        model_type=data["model_type"],
        raw=Fraction(data["raw"]),
        discount_id=data["discount_id"],
        discount_percent=Decimal(data["discount_percent"]),
        discounted=Fraction(data["discounted"]),
        minimum_prorated=_read_exact(data["minimum_prorated"]),
        maximum_prorated=_read_exact(data["maximum_prorated"]),
        bound_applied=data["bound_applied"],
        unrounded=Fraction(data["unrounded"]),
        fixed=Decimal(data["fixed"]),
        variable=Decimal(data["variable"]),
        quantities=dict(data["quantities"]),
        revenue=_read_decimal(data["revenue"]),
    )


def _line_snapshot(line: QuoteLine, currency: str) -> dict[str, Any]:
    data = _contract_line(line, currency)
    breakdown = line.breakdown
    data["breakdown"] = None if breakdown is None else _breakdown_snapshot(breakdown, currency)
    return data


def _line_from_snapshot(data: Mapping[str, Any]) -> QuoteLine:
    breakdown = data.get("breakdown")
    return QuoteLine(
        use_index=data["use_index"],
        rule=data["rule"],
        route=data["route"],
        review=data["review"],
        amount=_read_decimal(data["amount"]),
        explanation=tuple(data["explanation"]),
        breakdown=None if breakdown is None else _breakdown_from_snapshot(breakdown),
    )


def _request_snapshot(request: QuoteRequest) -> dict[str, Any]:
    return {
        "organization_type": request.organization_type,
        "term": {"start": request.term.start.isoformat(), "end": request.term.end.isoformat()},
        "rate_card": request.rate_card,
        "uses": [
            {
                "use": use.use,
                "product_type": use.product_type,
                "user_type": use.user_type,
                "quantity": dict(use.quantity),
                "revenue": _decimal_text(use.revenue),
                "languages": list(use.languages),
                "description": use.description,
            }
            for use in request.uses
        ],
    }


def _request_from_snapshot(data: Mapping[str, Any]) -> QuoteRequest:
    term = Term(date.fromisoformat(data["term"]["start"]), date.fromisoformat(data["term"]["end"]))
    uses = tuple(
        ProposedUse(
            use=item["use"],
            product_type=item["product_type"],
            user_type=item["user_type"],
            quantity=dict(item["quantity"]),
            revenue=_read_decimal(item["revenue"]),
            languages=tuple(item["languages"]),
            description=item["description"],
        )
        for item in data["uses"]
    )
    return QuoteRequest(data["organization_type"], term, uses, data["rate_card"])
