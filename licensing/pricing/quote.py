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

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Context, Decimal
from fractions import Fraction
from json.encoder import encode_basestring_ascii as _json_text  # what json.dumps uses
from typing import Any, ClassVar, TypeAlias

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
    Scale,
    compile_model,
    decimal_text,
    exact_add,
    exact_multiply,
    exact_subtract,
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
    """The request cannot be priced; `errors` maps each bad field's path to messages.

    `outside`: the card whose period the term does not lie inside, when that is one
    of the problems (then `errors["term"]` is the one message saying so), so that a
    caller can say what to do about it from the card's period, not from the words.
    """

    def __init__(
        self, errors: Mapping[str, Sequence[str]], *, outside: RateCard | None = None
    ) -> None:
        self.errors: dict[str, list[str]] = {path: list(texts) for path, texts in errors.items()}
        self.outside = outside
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

    @property
    def commercial_education(self) -> tuple[int, ...]:
        """The uses (0-based) licensed as education for a commercial applicant: a
        company's training material, priced by the card's rule. The pages say beside
        them that a non-commercial use by an academic institution is a permission
        instead (round 33); the API's answer, fixed by the contract, does not. Empty
        when the quote does not keep its request (an old snapshot)."""
        if self.request is None or self.request.organization_type != "commercial":
            return ()
        uses = self.request.uses
        return tuple(
            line.use_index
            for line in self.lines
            if line.route == "license"
            and line.use_index < len(uses)
            and uses[line.use_index].use == "education"
        )

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
    # The card whose period the term does not lie inside (`QuoteInputError.outside`).
    outside: RateCard | None = None

    def add(self, path: str, message: str) -> None:
        self.setdefault(path, []).append(message)


def _check_term(card: RateCard, term: Term, errors: _Errors) -> None:
    if term.end < term.start:
        errors.add("term.end", f"must not be before the term's start ({term.start})")
    elif not card.covers(term.start, term.end):
        errors.outside = card
        errors.add(
            "term",
            f"the term {term.start} to {term.end} must lie wholly inside the period of "
            f"rate card {card.version}, {card.period}",
        )


_USES, _PRODUCT_TYPES, _USER_TYPES = (
    frozenset(USES),
    frozenset(PRODUCT_TYPES),
    frozenset(USER_TYPES),
)
# Every (use, product_type, user_type, organization_type) of the vocabulary: only
# strings equal them.
_KNOWN_AXES = frozenset(itertools.product(USES, PRODUCT_TYPES, USER_TYPES, ORGANIZATION_TYPES))


def _check_vocabulary(use: ProposedUse, index: int, errors: _Errors) -> bool:
    try:  # the usual answer, at once: every value known
        if use.use in _USES and use.product_type in _PRODUCT_TYPES and use.user_type in _USER_TYPES:
            return True
    except TypeError:  # unhashable: not a value of the vocabulary; said below
        pass
    prefix = f"uses.{index}"
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


def _check_amounts(use: ProposedUse, index: int, errors: _Errors) -> None:
    revenue = use.revenue
    if revenue is None:  # the usual answer, at once: whole counts within the bound
        most = ProposedUse.MAX_QUANTITY
        for count in use.quantity.values():
            if type(count) is not int or not 0 <= count <= most:
                break
        else:
            return
    prefix = f"uses.{index}"
    for unit, count in use.quantity.items():
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            errors.add(
                f"{prefix}.quantity.{unit}", f"must be a whole number, 0 or more; got {count!r}"
            )
        elif count > ProposedUse.MAX_QUANTITY:
            errors.add(f"{prefix}.quantity.{unit}", quantity_limit_message())
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
    rule: _PricedRule, use: ProposedUse, index: int, errors: _Errors
) -> tuple[dict[str, int], tuple[str, ...]]:
    """The quantities the model reads, and notes on any that were inferred."""
    given = use.quantity
    units = rule.units
    if len(units) == 1 and units[0] in given and not rule.takes_revenue:  # the usual case
        return {units[0]: given[units[0]]}, ()
    quantities: dict[str, int] = {}
    notes: list[str] = []
    for unit in units:
        if unit in given:
            quantities[unit] = given[unit]
        elif unit == LANGUAGES and (listed := _distinct_languages(use.languages)):
            quantities[unit] = len(listed)
            # "1 distinct language", never "1 distinct languages" (round 50).
            counted = (
                "1 distinct language" if len(listed) == 1 else f"{len(listed)} distinct languages"
            )
            notes.append(
                f"no {LANGUAGES} quantity given: counted {counted} listed ({', '.join(listed)})"
            )
        else:
            errors.add(
                f"uses.{index}.quantity.{unit}",
                f"required by rule {rule.rule.id}: the number of {unit}",
            )
    if rule.takes_revenue and use.revenue is None:
        errors.add(
            f"uses.{index}.revenue",
            f"required by rule {rule.rule.id}, which charges a share of revenue",
        )
    return quantities, tuple(notes) if notes else ()


def _use_line(
    card: _PricedCard,
    organization_type: str | None,
    scale: Scale | None,
    index: int,
    use: ProposedUse,
    errors: _Errors,
    breakdown: bool,
) -> QuoteLine | None:
    """Check a use (adding what is wrong to `errors`) and, while nothing at all
    is wrong so far, price it: the line, or None once anything is wrong (the
    quote is then refused, every use still checked so that every problem is
    told at once). `scale` is None when the request itself is wrong, and
    `organization_type` when it is not one of the vocabulary."""
    _check_amounts(use, index, errors)
    if organization_type is None:  # an error already (_check_request)
        _check_vocabulary(use, index, errors)
        return None
    axes = (use.use, use.product_type, use.user_type, organization_type)
    try:  # the usual answer, at once: every axis known (`_check_vocabulary` words why not)
        known = axes in _KNOWN_AXES
    except TypeError:  # unhashable: not a value of the vocabulary
        known = False
    if not known and not _check_vocabulary(use, index, errors):
        return None
    # The rule and the adjustment the use meets, and their recipes: one look-up.
    met = card.met.get(axes) or card.meet(axes)
    priced = met.rule
    if priced is None or priced.pricer is None:
        if errors or scale is None:
            return None
        if priced is None:
            return _unmatched_line(card.card, organization_type, index, use)
        return _routed_line(card, priced.rule, index)
    quantities, notes = _model_inputs(priced, use, index, errors)
    if errors or scale is None:
        return None
    recipe = met.recipes.get(scale.key) or met.recipe(scale, card.currency)
    return recipe.line(index, use.revenue, quantities, notes, breakdown)


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
        self.keep = exact_subtract(100, percent).scaleb(-2, EXACT)  # (100 - d) / 100
        self.words = f"adjustment {adjustment.id}: {percent_text(percent)}% off "
        self.note = " (discounts never lower a minimum)" if percent else ""


class _Bound:
    """A rule's minimum or maximum for one proration factor: scaled, in words,
    and rounded as a line's amount is when the bound applies."""

    __slots__ = ("exact", "name", "rounded", "rounding", "scaled", "text", "words")

    def __init__(self, name: str, annual: Decimal, scale: Scale, currency: str) -> None:
        self.name = name
        self.scaled = scale.prorated(annual)
        self.exact = scale.fraction(self.scaled)
        self.text = scale.show(self.scaled)
        shown = decimal_text(annual, scale.places)
        if scale.is_one:
            self.words = f"{name} {shown} (the term is the whole card period)"
        else:
            self.words = f"{name} {shown} x {scale.text} (prorated) = {self.text}"
        self.rounded = scale.round(self.scaled)
        self.rounding = _rounding_step(
            self.rounded, self.text, currency, scale.equals(self.rounded, self.scaled)
        )


def _rounding_step(rounded: Decimal, text: str, currency: str, exact: bool) -> str:
    """The last step of a line: its amount, and how it was rounded if it was."""
    if exact:
        return f"amount: {rounded:f} {currency}"
    return f"amount: {text} rounded half-up to {rounded:f} {currency}"


# Rounds a plain decimal half-up (ties away from zero) to a quantum, as
# `Scale.round` does a scaled amount; wide enough never to round otherwise.
_HALF_UP = Context(prec=1000, rounding=ROUND_HALF_UP, Emax=999_999, Emin=-999_999)
_half_up = _HALF_UP.quantize  # bound once: see `exact_add`


class _PricedRule:
    __slots__ = ("_recipes", "pricer", "rule", "takes_revenue", "units")

    def __init__(self, rule: Rule, places: int) -> None:
        self.rule = rule
        model = rule.model
        self.pricer = None if model is None else compile_model(model, places)
        self.units = () if model is None else units_needed(model)
        self.takes_revenue = model is not None and needs_revenue(model)
        self._recipes: dict[tuple[_PricedAdjustment | None, int, int], _Recipe] = {}

    def recipe(self, adjustment: _PricedAdjustment | None, scale: Scale, currency: str) -> _Recipe:
        """How this rule prices a use with `adjustment` at `scale` (a priced rule)."""
        key = (adjustment, *scale.key)
        found = self._recipes.get(key)
        if found is None:
            found = _Recipe(self, adjustment, scale, currency)
            if len(self._recipes) < 4096:  # adjustments x the card's term lengths
                self._recipes[key] = found
        return found


class _Met:
    """What the uses of one combination of the four axes meet on a card: the
    first rule and the first adjustment that match, and the rule's recipe for
    each proration factor met (`recipes`, by `Scale.key`)."""

    __slots__ = ("adjustment", "recipes", "rule")

    def __init__(self, rule: _PricedRule | None, adjustment: _PricedAdjustment | None) -> None:
        self.rule, self.adjustment = rule, adjustment
        self.recipes: dict[tuple[int, int], _Recipe] = {}

    def recipe(self, scale: Scale, currency: str) -> _Recipe:
        """How the rule prices these uses at `scale` (a rule that prices)."""
        assert self.rule is not None
        found = self.recipes.get(scale.key)
        if found is None:
            found = self.rule.recipe(self.adjustment, scale, currency)
            if len(self.recipes) < 4096:  # the card's term lengths
                self.recipes[scale.key] = found
        return found


class _PricedCard:
    __slots__ = (
        "_adjustments",
        "_rules",
        "_scales",
        "_writers",
        "card",
        "currency",
        "met",
        "period_days",
        "places",
        "zero",
    )

    def __init__(self, card: RateCard) -> None:
        self.card = card
        self.currency = card.currency
        self.places = minor_units(card.currency)
        self.zero = quantize(0, card.currency)
        self._rules = [_PricedRule(rule, self.places) for rule in card.rules]
        self._adjustments = [_PricedAdjustment(item) for item in card.adjustments]
        # Read directly by every use priced (`_use_line`); filled by `meet`.
        self.met: dict[tuple[str, str, str, str], _Met] = {}
        self.period_days = card.period_days
        self._scales: dict[int, Scale] = {}
        # Per organization type and proration factor: the writer of the uses of
        # each (use, product_type, user_type) met (`_write_in_one_pass`).
        self._writers: dict[tuple[str, tuple[int, int]], dict[tuple[Any, ...], _LineWriter]] = {}

    def scale(self, term_days: int) -> Scale:
        """The proration factor term_days / the card's days, with its texts."""
        found = self._scales.get(term_days)
        if found is None:
            found = Scale(Fraction(term_days, self.period_days), self.places)
            if len(self._scales) < 4096:  # terms within the card: at most its days
                self._scales[term_days] = found
        return found

    def meet(self, axes: tuple[str, str, str, str]) -> _Met:
        """The first rule and the first adjustment whose `when` matches the axes
        (use, product_type, user_type, organization_type)."""
        met = self.met.get(axes)
        if met is None:
            rule = next((item for item in self._rules if item.rule.when.matches(*axes)), None)
            adjustment = next(
                (item for item in self._adjustments if item.adjustment.when.matches(*axes)), None
            )
            met = self.met[axes] = _Met(rule, adjustment)  # vocabulary values only: bounded
        return met

    def writers(self, organization_type: str, scale: Scale) -> dict[tuple[Any, ...], _LineWriter]:
        """The line writers met so far for the uses of a request by
        `organization_type`, at `scale`, by (use, product_type, user_type)."""
        key = (organization_type, scale.key)
        found = self._writers.get(key)
        if found is None:
            found = {}
            # Organization types x term lengths, each with up to one writer per
            # combination of the vocabulary's axes met: kept for the first 256
            # (a few MB at most); past them a request keeps its own.
            if len(self._writers) < _WRITERS_KEPT:
                self._writers[key] = found
        return found

    def writer(
        self,
        writers: dict[tuple[Any, ...], _LineWriter],
        organization_type: str,
        scale: Scale,
        axes: tuple[Any, ...],
    ) -> _LineWriter | None:
        """What writes the lines of uses with these three axes (kept in `writers`),
        or None when they are not all of the vocabulary (an unhashable value
        raises TypeError)."""
        met_axes = (*axes, organization_type)
        if met_axes not in _KNOWN_AXES:
            return None
        met = self.met.get(met_axes) or self.meet(met_axes)
        priced = met.rule
        found: _LineWriter
        if priced is None:
            found = _FixedLine(self, _unmatched_line(self.card, organization_type, 0, _axes(axes)))
        elif priced.pricer is None:
            found = _FixedLine(self, _routed_line(self, priced.rule, 0))
        else:
            found = met.recipes.get(scale.key) or met.recipe(scale, self.currency)
        writers[axes] = found  # vocabulary values only: bounded
        return found


def _axes(axes: tuple[Any, ...]) -> ProposedUse:
    use, product_type, user_type = axes
    return ProposedUse(use, product_type, user_type)


class _FixedLine:
    """Writes a line that is the same for every use but for its index (a use no
    rule matches, or one routed to the permissions queue)."""

    __slots__ = ("amount", "head", "staff")

    def __init__(self, card: _PricedCard, line: QuoteLine) -> None:
        written = _line_json(line, card.currency, card.places)
        index_zero = '"use_index":0}'
        assert written.endswith(index_zero)
        self.head = written[: -len("0}")]
        # What the line adds to the total: its amount, or (no amount, a line
        # staff price) the card's zero, which adds nothing to amounts rounded alike.
        self.amount = card.zero if line.amount is None else line.amount
        self.staff = line.review == "staff"

    def write(self, index: int, use: ProposedUse, lines: list[str]) -> Decimal | None:
        lines.append(f"{self.head}{index}}}")
        return self.amount


_LineWriter: TypeAlias = "_Recipe | _FixedLine"  # each has `write` and `staff`


def _priced_card(card: RateCard) -> _PricedCard:
    """The card compiled for pricing, made on first use and kept on the card."""
    compiled = card.__dict__.get(_COMPILED)
    if compiled is None:
        compiled = _PricedCard(card)
        object.__setattr__(card, _COMPILED, compiled)  # frozen: a cache, not a field
    assert isinstance(compiled, _PricedCard)
    return compiled


_COMPILED = "_priced"
_WRITERS_KEPT = 256


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
    scale = None if errors else compiled.scale(request.term.days)
    organization_type = request.organization_type
    known = organization_type if organization_type in ORGANIZATION_TYPES else None
    lines = []
    for index, use in enumerate(request.uses):
        line = _use_line(compiled, known, scale, index, use, errors, breakdowns)
        if line is not None:
            lines.append(line)
    if errors or scale is None:
        raise QuoteInputError(errors, outside=errors.outside)
    total = compiled.zero
    requires_review = False
    for line in lines:
        if line.amount is not None:
            total = exact_add(total, line.amount)
        if line.review == "staff":
            requires_review = True
    return Quote(
        rate_card=card.version,
        currency=card.currency,
        proration=scale.proration,
        lines=tuple(lines),
        total=total,
        requires_review=requires_review,
        request=request,
    )


def _unmatched_line(
    card: RateCard, organization_type: str, index: int, use: ProposedUse
) -> QuoteLine:
    words = (
        f"no rule in rate card {card.version} matches {use.use} of {use.product_type} products "
        f"for {use.user_type} users by {organization_type} organizations; "
        "licensing staff will price this use by hand"
    )
    return QuoteLine(index, None, "license", "staff", None, (words,))


def _routed_line(card: _PricedCard, rule: Rule, index: int) -> QuoteLine:
    steps = [f"rule {rule.id}: {rule.description}"] if rule.description else []
    steps.append("goes to the educational permissions queue: no fee, and not part of any invoice")
    return QuoteLine(index, rule.id, "permission_request", rule.review, card.zero, tuple(steps))


# --- the answer, written as JSON text ------------------------------------------------------


def price_text(card: RateCard, request: QuoteRequest) -> str:
    """`contract_json(price(card, request, breakdowns=False))`: the quote API's
    answer, priced and written in one pass where the request is plainly
    priceable, each use from its axes to its line's text with no `QuoteLine` or
    `Quote` in between (`_write_in_one_pass`); any other request, every wrong
    one included, is priced the general way, so `QuoteInputError` words every
    problem as `price` does. tests/unit/pricing/test_one_pass.py compares the
    two on generated requests."""
    text = _write_in_one_pass(card, request)
    return contract_json(price(card, request, breakdowns=False)) if text is None else text


def _write_in_one_pass(card: RateCard, request: QuoteRequest) -> str | None:
    term, organization_type = request.term, request.organization_type
    if (
        not request.uses
        or organization_type not in ORGANIZATION_TYPES
        or not card.covers(term.start, term.end)
        or (request.rate_card is not None and request.rate_card != card.version)
    ):
        return None  # `_check_request` words it
    compiled = _priced_card(card)
    scale = compiled.scale(term.days)
    writers = compiled.writers(organization_type, scale)
    errors = _Errors()
    lines: list[str] = []
    total = compiled.zero
    requires_review = False
    most = ProposedUse.MAX_QUANTITY
    for index, use in enumerate(request.uses):
        if use.revenue is None:  # `_check_amounts`' usual answer, written out
            for count in use.quantity.values():
                if type(count) is not int or not 0 <= count <= most:
                    return None
        else:
            _check_amounts(use, index, errors)
            if errors:
                return None
        axes = (use.use, use.product_type, use.user_type)
        try:
            writer = writers.get(axes) or compiled.writer(writers, organization_type, scale, axes)
        except TypeError:  # unhashable: not of the vocabulary
            return None
        if writer is None:  # not of the vocabulary
            return None
        amount = writer.write(index, use, lines)
        if amount is None:  # the use lacks what its rule reads
            return None
        total = exact_add(total, amount)
        if writer.staff:
            requires_review = True
    return _quote_json(card.currency, lines, scale.text, card.version, requires_review, total)


def contract_json(quote: Quote) -> str:
    """`jsonify(quote.to_contract_dict())`'s text with Flask's JSON provider as the
    app sets it (compact, keys sorted, ASCII only), written directly: every
    string through the encoder `json.dumps` itself uses.

    Making the dictionary and dumping it (each object's keys sorted, each value
    looked at) was a tenth of a 25-use quote's time;
    tests/integration/pricing/test_quote_answer.py compares the two texts.
    """
    currency = quote.currency
    places = minor_units(currency)
    lines = [_line_json(line, currency, places) for line in quote.lines]
    return _quote_json(
        currency, lines, str(quote.proration), quote.rate_card, quote.requires_review, quote.total
    )


def _quote_json(
    currency: str,
    lines: list[str],
    proration: str,
    version: str,
    requires_review: bool,
    total: Decimal,
) -> str:
    review = "true" if requires_review else "false"
    return (
        f'{{"currency":{_json_text(currency)},"lines":[{",".join(lines)}],'
        f'"proration":{_json_text(proration)},'
        f'"rate_card":{_json_text(version)},"requires_review":{review},'
        f'"total":{_json_text(format_amount(total, currency))}}}\n'
    )


_PLAIN_STR_PLACES = 6


def _line_json(line: QuoteLine, currency: str, places: int) -> str:
    amount = line.amount
    if amount is None:
        shown = "null"
    else:  # `format_amount`, written out: a line's amount is already rounded
        rounded = amount.quantize(Decimal(1).scaleb(-places))
        # `str` writes a Decimal of 0 to 6 places as the "f" format does
        # (no exponent), in half the time.
        shown = (
            f'"{rounded!s}"'
            if rounded == amount and places <= _PLAIN_STR_PLACES
            else _json_text(format_amount(amount, currency))
        )
    rule = "null" if line.rule is None else _json_text(line.rule)
    return (
        f'{{"amount":{shown},"explanation":[{_json_texts(line.explanation)}],'
        f'"review":{_json_text(line.review)},"route":{_json_text(line.route)},'
        f'"rule":{rule},"use_index":{int(line.use_index)!r}}}'
    )


_BETWEEN_TEXTS = '","'


def _json_texts(texts: Sequence[str]) -> str:
    """`",".join(map(_json_text, texts))`, the usual case faster: when no text
    holds a character the encoder escapes (anything but printable ASCII, or a
    quote or backslash), each is written between quotes as it is. The encoder
    looks at every character twice and was a third of writing a quote (the
    explanations are most of its text); this check is a copy and a table
    look-up per byte, in C."""
    if _written_as_is("".join(texts)):
        return f'"{_BETWEEN_TEXTS.join(texts)}"' if texts else ""
    return ",".join(map(_json_text, texts))


def _written_as_is(text: str) -> bool:
    """Whether the JSON encoder writes `text` between quotes as it is."""
    return text.isascii() and not text.encode("ascii").translate(None, _WRITTEN_AS_IS)


# What the JSON encoder writes as it is: printable ASCII but the quote and backslash.
_WRITTEN_AS_IS = bytes(byte for byte in range(0x20, 0x7F) if byte not in b'"\\')


class _Recipe:
    """The contract's five steps for the uses one rule prices, with one
    adjustment and one proration factor, recording each in words.

    Everything that does not depend on the use is prepared once (kept on the
    rule, `_PricedRule.recipe`): the prorated minimum and maximum with their
    words and their rounded amounts, the adjustment's factor and words. Amounts
    are scaled (`Scale`): exact Decimals, compared and added as they are; each
    amount's text is kept beside it, so no value is written out twice.
    """

    __slots__ = (
        "adjustment",
        "ceiling",
        "currency",
        "floor",
        "in_currency",
        "lift_note",
        "plain_line",
        "plain_rounded",
        "plain_words",
        "pricer",
        "quantum",
        "review",
        "rule",
        "scale",
        "staff",
        "str_amounts",
        "tail",
        "takes_revenue",
        "units",
    )

    def __init__(
        self,
        priced: _PricedRule,
        adjustment: _PricedAdjustment | None,
        scale: Scale,
        currency: str,
    ) -> None:
        rule = priced.rule
        assert priced.pricer is not None  # a rule that prices
        self.rule, self.pricer, self.takes_revenue = rule, priced.pricer, priced.takes_revenue
        self.review = rule.review
        self.adjustment, self.scale = adjustment, scale
        self.lift_note = "" if adjustment is None else adjustment.note
        self.floor = (
            None if rule.minimum is None else _Bound("minimum", rule.minimum, scale, currency)
        )
        self.ceiling = (
            None if rule.maximum is None else _Bound("maximum", rule.maximum, scale, currency)
        )
        self.quantum = Decimal(1).scaleb(-scale.places)
        # Whether a nonzero plain amount is at the minor unit already: with no
        # adjustment, the model's own amount is the line's (its rounding a no-op).
        self.plain_rounded = adjustment is None and priced.pricer.rounded_at(scale.places)
        self.currency = currency
        self.in_currency = f" {currency}"
        # For writing a line straight to JSON (`write`): what follows its
        # explanation up to the index, the same for every use; whether `str`
        # writes its amounts as `format_amount` does (every amount is rounded to
        # the minor unit already, with `places` digits: no exponent up to 6).
        self.units, self.staff = priced.units, rule.review == "staff"
        self.tail = (
            f'],"review":{_json_text(rule.review)},"route":"license",'
            f'"rule":{_json_text(rule.id)},"use_index":'
        )
        self.str_amounts = scale.places <= _PLAIN_STR_PLACES
        # Whether every text of the card the steps may show needs no escaping in
        # JSON (the rest of a step is numbers): then the explanation is written
        # without looking at it.
        shown = [*priced.pricer.words(), self.lift_note, self.in_currency]
        shown += [bound.words for bound in (self.floor, self.ceiling) if bound is not None]
        shown += [bound.rounding for bound in (self.floor, self.ceiling) if bound is not None]
        if adjustment is not None:
            shown.append(adjustment.words)
        self.plain_words = _written_as_is("".join(shown))
        # Both: a line with its exact amount's text is written in one f-string.
        self.plain_line = self.plain_words and self.str_amounts

    def line(
        self,
        index: int,
        revenue: Decimal | None,
        quantities: Mapping[str, int],
        notes: tuple[str, ...],
        breakdown: bool,
    ) -> QuoteLine:
        rounded, steps, numbers, _ = self.work(revenue, quantities, notes, breakdown)
        return QuoteLine(
            index, self.rule.id, "license", self.review, rounded, tuple(steps), numbers
        )

    def write(self, index: int, use: ProposedUse, lines: list[str]) -> Decimal | None:
        """Price `use` and append its line's JSON text to `lines` (`contract_json`'s
        text of `line`): the amount, or None when the use lacks what the rule
        reads (`_model_inputs` words it; the caller then prices the general way)."""
        given = use.quantity
        revenue = use.revenue
        for unit in self.units:
            if unit not in given:
                return None  # a missing quantity, or languages counted from the list
        if revenue is None and self.takes_revenue:
            return None
        # The use's own quantities: a pricer reads only its units, and no
        # breakdown keeps them here.
        rounded, steps, _, digits = self.work(revenue, given, (), False)
        if digits is not None and self.plain_line:  # the usual line: one text made
            # `digits` is `str(rounded)`, the exact amount's text (`work`).
            lines.append(
                f'{{"amount":"{digits}","explanation":["{_BETWEEN_TEXTS.join(steps)}"'
                f"{self.tail}{index}}}"
            )
            return rounded
        # `str(rounded)` is the exact amount's text when rounding changed nothing.
        if not self.str_amounts:
            amount = _json_text(self.shown(rounded))
        else:
            amount = f'"{rounded}"' if digits is None else f'"{digits}"'
        words = f'"{_BETWEEN_TEXTS.join(steps)}"' if self.plain_words else _json_texts(steps)
        lines.append(f'{{"amount":{amount},"explanation":[{words}{self.tail}{index}}}')
        return rounded

    def shown(self, rounded: Decimal) -> str:
        return format_amount(rounded, self.currency)

    def work(
        self,
        revenue: Decimal | None,
        quantities: Mapping[str, int],
        notes: tuple[str, ...],
        breakdown: bool,
    ) -> tuple[Decimal, list[str], Breakdown | None, str | None]:
        """The contract's five steps: the rounded amount, the steps in words, the
        breakdown when asked for, and the rounded amount's `str` when it is the
        exact amount's text already (rounding changed nothing), else None."""
        scale = self.scale
        raw = self.pricer.price(scale, quantities, revenue)  # 1. raw
        steps = [*notes, *raw.steps] if notes else list(raw.steps)
        amount, fixed, text, plain = raw.amount, raw.fixed, raw.text, raw.plain
        adjustment = self.adjustment  # 2-3. discount
        if adjustment is None:
            steps.append("no adjustment applies")
        else:
            keep = adjustment.keep
            amount, fixed = exact_multiply(amount, keep), exact_multiply(fixed, keep)
            if plain is None:
                text = scale.show(amount)
            else:
                plain = exact_multiply(plain, keep)
                text = decimal_text(plain, scale.places)
            steps.append(f"{adjustment.words}{raw.text} = {text}")
        discounted = amount
        bound = None  # 4. the prorated minimum, then the prorated maximum
        floor = self.floor
        if floor is not None:
            if amount < floor.scaled:
                # The minimum lifts the amount: the lift is a fixed fee, not usage.
                fixed = exact_add(fixed, exact_subtract(floor.scaled, amount))
                steps.append(
                    f"{floor.words}: {text} is below it, so the minimum applies{self.lift_note}"
                )
                amount, text, bound = floor.scaled, floor.text, floor
            else:
                steps.append(f"{floor.words}: {text} is not below it")
        ceiling = self.ceiling
        if ceiling is not None:
            if amount > ceiling.scaled:
                # The cap cuts usage royalties first, fixed fees only below them.
                variable = exact_subtract(amount, fixed)
                cut = exact_subtract(exact_subtract(amount, ceiling.scaled), variable)
                if cut > 0:
                    fixed = exact_subtract(fixed, cut)
                steps.append(f"{ceiling.words}: {text} is above it, so the maximum applies")
                amount, text, bound = ceiling.scaled, ceiling.text, ceiling
            else:
                steps.append(f"{ceiling.words}: {text} is not above it")
        # 5. One half-up rounding: a bound's was worked out with the bound; a
        # plain decimal is quantized (no ratio to make); else the scaled amount's.
        digits = None
        if bound is not None:
            rounded = bound.rounded
            steps.append(bound.rounding)
        elif plain is not None and not plain.is_signed():  # -0.00 would be written
            # A nonzero amount at the minor unit already is its own rounding (the
            # quantize and the comparison: about 1.3K instructions of a use's 34K).
            rounded = plain if plain and self.plain_rounded else _half_up(plain, self.quantum)
            if rounded is plain or rounded == plain:  # `_rounding_step`'s exact case
                # `text` has `places` decimals, none beyond them here: `str(rounded)`.
                digits = text
                steps.append(f"amount: {text}{self.in_currency}")
            else:
                steps.append(_rounding_step(rounded, text, self.currency, False))
        else:
            rounded = scale.round(amount)
            steps.append(
                _rounding_step(rounded, text, self.currency, scale.equals(rounded, amount))
            )
        numbers = (
            self.breakdown(raw.amount, discounted, fixed, bound, rounded, quantities, revenue)
            if breakdown
            else None
        )
        return rounded, steps, numbers, digits

    def breakdown(
        self,
        raw: Decimal,
        discounted: Decimal,
        fixed: Decimal,
        bound: _Bound | None,
        rounded: Decimal,
        quantities: Mapping[str, int],
        revenue: Decimal | None,
    ) -> Breakdown:
        scale = self.scale
        fixed_rounded = scale.round(fixed)
        raw_exact = scale.fraction(raw)
        discounted_exact = raw_exact if discounted is raw else scale.fraction(discounted)
        adjustment = None if self.adjustment is None else self.adjustment.adjustment
        floor, ceiling = self.floor, self.ceiling
        return Breakdown(
            model_type=self.pricer.model_type,
            raw=raw_exact,
            discount_id=adjustment.id if adjustment else None,
            discount_percent=adjustment.discount_percent if adjustment else Decimal(0),
            discounted=discounted_exact,
            minimum_prorated=None if floor is None else floor.exact,
            maximum_prorated=None if ceiling is None else ceiling.exact,
            bound_applied=None if bound is None else bound.name,
            unrounded=discounted_exact if bound is None else bound.exact,
            fixed=fixed_rounded,
            variable=exact_subtract(rounded, fixed_rounded),
            quantities=dict(quantities),
            revenue=revenue if revenue is not None and self.takes_revenue else None,
        )


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
