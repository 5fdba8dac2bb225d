"""Rate cards: the versioned, effective-dated, immutable pricing rules.

`parse_rate_card` turns a JSON (or YAML) document into frozen dataclasses after
checking the whole document, and reports every problem at once with its path
(`rules.3.model.tiers.1.up_to`), so that staff fix a card in one pass.

Readings where the contract is silent (kept here so there is one place to look):

- `title`, a rule's `description` and `when`, an adjustment's `when`, and the
  card's `adjustments` are optional (default: empty); everything else named by
  the contract is required. A missing `when` is an empty one (matches everything).
- `minimum`, `maximum` and a tier's `flat` may be given as null, meaning absent.
- A `route` rule takes no `minimum` or `maximum` (a routed use has no fee).
- A card needs at least one rule.
- Dates are `YYYY-MM-DD` strings; a `datetime.date` is accepted too, because a
  YAML loader turns unquoted dates into dates.
- A value repeated in a `when` list is harmless and kept once.
- A problem about the document as a whole has the path `_body` (the path the API
  edge uses for the request body).
- A card with no last day is written with the calendar's last, `9999-12-31`
  (`OPEN_ENDED`): the field stays a date, as the contract has it, and every page,
  sentence and command line says such a card's end as "open-ended"
  (`day_words`, `period_words`), never the stored date.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any, TypeAlias

from licensing.money import (
    MAX_QUANTITY,
    RATE_PLACES,
    MoneyError,
    beyond_largest,
    in_words,
    is_currency,
    largest_amount,
    minor_units,
    parse_decimal,
    round_fraction,
)

from .vocabulary import AXES, MODEL_TYPES, REVIEW_MODES, TIER_MODES

ROOT_PATH = "_body"
HUNDRED = Decimal(100)

OPEN_ENDED = date.max
"""The `effective_to` of a card with no last day: the calendar's last, 9999-12-31."""
OPEN_ENDED_WORDS = "open-ended"


def day_words(day: date) -> str:
    """A card's first or last day as people read it: the date, or "open-ended" for
    the stored sentinel (`OPEN_ENDED`). The one place that says it."""
    return OPEN_ENDED_WORDS if day == OPEN_ENDED else day.isoformat()


def period_words(start: date, end: date) -> str:
    """A card's period: "2027-01-01 to 2027-12-31", or "from 2027-01-01, open-ended"
    for a card with no last day."""
    if end == OPEN_ENDED:
        return f"from {start.isoformat()}, {OPEN_ENDED_WORDS}"
    return f"{start.isoformat()} to {end.isoformat()}"


def days_words(first: date, last: date) -> str:
    """Days a card takes, after "terms starting": "2027-01-01 to 2027-12-31", or
    "on or after 2027-01-01" when they run to an open-ended card's end."""
    if last == OPEN_ENDED:
        return f"on or after {first.isoformat()}"
    return f"{first.isoformat()} to {last.isoformat()}"


def period_length_words(start: date, end: date) -> str:
    """A period with its length, as a card's page gives it: "2027-01-01 to 2027-12-31
    (365 days)", or "from 2027-01-01, open-ended" (its millions of days say nothing)."""
    if end == OPEN_ENDED:
        return period_words(start, end)
    return f"{period_words(start, end)} ({(end - start).days + 1} days)"


def proposed_term(start: date, last_day: date | None, *, earliest: date) -> tuple[date, date]:
    """A term the service proposes from `start`, or from `earliest` (the day it is
    proposed for: today, or the day a renewal is drawn) when `start` comes before
    it: a term is never proposed from a day gone by (round 44: an open-ended card in
    effect since 2020 proposed a year from 2020). It runs a year (to the day before
    the same date a year on; from 29 February, to 28 February), never past
    `last_day` (the last day of the card it is priced on; None: no card known, a
    year). The one rule behind a new application's default term
    (`forms.default_term`), a renewal's next term (`renewal._next_term`) and the
    card check's renewal term (`card_effect`), round 42: on an open-ended card they
    ran to 9999-12-31, and the contract prorates over the card's whole period. A
    caller looks the card up on the day the term starts."""
    start = max(start, earliest)
    if start.month == 2 and start.day == 29:
        year_end = date(start.year + 1, 2, 28)
    elif start.year >= OPEN_ENDED.year:
        year_end = OPEN_ENDED
    else:
        year_end = start.replace(year=start.year + 1) - timedelta(days=1)
    return start, year_end if last_day is None else min(year_end, last_day)


# --- problems ---------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a rate card: where (a dotted path) and what."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class RateCardInvalid(ValueError):
    """The card breaks the contract; `problems` lists every problem found."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems: list[Problem] = list(problems)
        count = len(self.problems)
        lines = "\n".join(f"  {problem}" for problem in self.problems)
        super().__init__(f"the rate card has {count} problem{'s' if count != 1 else ''}:\n{lines}")

    @property
    def errors(self) -> dict[str, list[str]]:
        """Path -> messages, the shape the API edge returns in a 422."""
        grouped: dict[str, list[str]] = {}
        for problem in self.problems:
            grouped.setdefault(problem.path, []).append(problem.message)
        return grouped


# --- the card -----------------------------------------------------------------------


@dataclass(frozen=True)
class Condition:
    """A `when`: for each constrained axis, the values that match (None: any value)."""

    use: tuple[str, ...] | None = None
    product_type: tuple[str, ...] | None = None
    user_type: tuple[str, ...] | None = None
    organization_type: tuple[str, ...] | None = None
    _constrained: tuple[tuple[str, tuple[str, ...]], ...] = field(
        init=False, repr=False, compare=False, default=()
    )

    def __post_init__(self) -> None:
        # Computed once: a card is immutable and classifies every use of every
        # quote against each rule's condition.
        found = ((axis, getattr(self, axis)) for axis in AXES)
        constrained = tuple((axis, values) for axis, values in found if values is not None)
        object.__setattr__(self, "_constrained", constrained)

    def constraints(self) -> list[tuple[str, tuple[str, ...]]]:
        """The constrained axes and their values, in vocabulary order."""
        return list(self._constrained)

    @property
    def is_empty(self) -> bool:
        return not self.constraints()

    def matches(self, use: str, product_type: str, user_type: str, organization_type: str) -> bool:
        given = {
            "use": use,
            "product_type": product_type,
            "user_type": user_type,
            "organization_type": organization_type,
        }
        return all(given[axis] in values for axis, values in self._constrained)

    def to_document(self) -> dict[str, str | list[str]]:
        # One value is written as a string, several as a list: the form staff write.
        return {
            axis: values[0] if len(values) == 1 else list(values)
            for axis, values in self.constraints()
        }


@dataclass(frozen=True)
class FlatModel:
    amount: Decimal
    prorate: bool = True

    type = "flat"

    def to_document(self, canonical: Callable[[Decimal], str]) -> dict[str, Any]:
        return {"type": self.type, "amount": canonical(self.amount), "prorate": self.prorate}


@dataclass(frozen=True)
class Tier:
    """Covers the quantities above the previous tier's `up_to` up to its own (None: no end)."""

    up_to: int | None
    unit_price: Decimal
    flat: Decimal = Decimal(0)

    def to_document(self, canonical: Callable[[Decimal], str]) -> dict[str, Any]:
        return {
            "up_to": self.up_to,
            "unit_price": canonical(self.unit_price),
            "flat": canonical(self.flat),
        }


@dataclass(frozen=True)
class PerUnitModel:
    unit: str
    mode: str
    tiers: tuple[Tier, ...]

    type = "per_unit"

    def to_document(self, canonical: Callable[[Decimal], str]) -> dict[str, Any]:
        return {
            "type": self.type,
            "unit": self.unit,
            "mode": self.mode,
            "tiers": [tier.to_document(canonical) for tier in self.tiers],
        }


@dataclass(frozen=True)
class PercentOfRevenueModel:
    percent: Decimal

    type = "percent_of_revenue"

    def to_document(self, canonical: Callable[[Decimal], str]) -> dict[str, Any]:
        return {"type": self.type, "percent": canonical(self.percent)}


@dataclass(frozen=True)
class SumModel:
    parts: tuple[Model, ...]

    type = "sum"

    def to_document(self, canonical: Callable[[Decimal], str]) -> dict[str, Any]:
        return {"type": self.type, "parts": [part.to_document(canonical) for part in self.parts]}


Model: TypeAlias = FlatModel | PerUnitModel | PercentOfRevenueModel | SumModel


@dataclass(frozen=True)
class Rule:
    """Matches uses; either routes them (`route`) or prices them with a `model`."""

    id: str
    description: str
    when: Condition
    route: str | None = None
    model: Model | None = None
    minimum: Decimal | None = None
    maximum: Decimal | None = None
    review: str = "auto"

    def to_document(self, canonical: Callable[[Decimal], str]) -> dict[str, Any]:
        document: dict[str, Any] = {
            "id": self.id,
            "description": self.description,
            "when": self.when.to_document(),
        }
        if self.route is not None:
            document["route"] = self.route
        if self.model is not None:
            document["model"] = self.model.to_document(canonical)
        if self.minimum is not None:
            document["minimum"] = canonical(self.minimum)
        if self.maximum is not None:
            document["maximum"] = canonical(self.maximum)
        document["review"] = self.review
        return document


@dataclass(frozen=True)
class Adjustment:
    """A discount for the uses its `when` matches (the first matching one applies)."""

    id: str
    when: Condition
    discount_percent: Decimal

    def to_document(self, canonical: Callable[[Decimal], str]) -> dict[str, Any]:
        return {
            "id": self.id,
            "when": self.when.to_document(),
            "discount_percent": canonical(self.discount_percent),
        }


def _as_written(value: Decimal) -> str:
    return format(value, "f")


def _normalized(value: Decimal) -> str:
    # "18.50" and "18.5" are the same price: the digest must not tell them apart.
    return format(value.normalize(), "f")


@dataclass(frozen=True)
class RateCard:
    version: str
    title: str
    currency: str
    effective_from: date
    effective_to: date
    rules: tuple[Rule, ...]
    adjustments: tuple[Adjustment, ...] = field(default=())

    @property
    def open_ended(self) -> bool:
        """Whether the card has no last day (`effective_to` is `OPEN_ENDED`)."""
        return self.effective_to == OPEN_ENDED

    @property
    def period(self) -> str:
        """The period in words (`period_words`)."""
        return period_words(self.effective_from, self.effective_to)

    @property
    def period_days(self) -> int:
        """Days in the card's period, counting its first and last day."""
        return (self.effective_to - self.effective_from).days + 1

    def covers(self, start: date, end: date) -> bool:
        """Whether the term `start`..`end` lies wholly inside the card's period."""
        return self.effective_from <= start <= end <= self.effective_to

    def rule_for(
        self, use: str, product_type: str, user_type: str, organization_type: str
    ) -> Rule | None:
        """The first rule whose `when` matches, or None."""
        axes = (use, product_type, user_type, organization_type)
        return next((rule for rule in self.rules if rule.when.matches(*axes)), None)

    def adjustment_for(
        self, use: str, product_type: str, user_type: str, organization_type: str
    ) -> Adjustment | None:
        """The first adjustment whose `when` matches, or None."""
        axes = (use, product_type, user_type, organization_type)
        return next((item for item in self.adjustments if item.when.matches(*axes)), None)

    def find_rule(self, rule_id: str) -> Rule | None:
        return next((rule for rule in self.rules if rule.id == rule_id), None)

    def to_document(self) -> dict[str, Any]:
        """The canonical document: `parse_rate_card(card.to_document()) == card`."""
        return self._document(_as_written)

    def _document(self, canonical: Callable[[Decimal], str]) -> dict[str, Any]:
        return {
            "version": self.version,
            "title": self.title,
            "currency": self.currency,
            "effective_from": self.effective_from.isoformat(),
            "effective_to": self.effective_to.isoformat(),
            "rules": [rule.to_document(canonical) for rule in self.rules],
            "adjustments": [item.to_document(canonical) for item in self.adjustments],
        }


def content_digest(card: RateCard) -> str:
    """sha256 of the card's canonical JSON: equal digests mean identical content.

    Decimals are normalised first ("18.50" and "18.5" are the same content), so
    re-importing a file that differs only in how a number is written is a no-op.
    """
    document = card._document(_normalized)
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _version_key(version: str) -> tuple[tuple[int, int | str], ...]:
    # Natural order, so that "2027.10" comes after "2027.9". ASCII digits only: "²"
    # is a digit to str.isdigit() and a ValueError to int(); other digits are text.
    parts = re.findall(r"[0-9]+|[^0-9]+", version)
    return tuple(
        (0, int(part)) if part.isascii() and part.isdigit() else (1, part) for part in parts
    )


def select_card(cards: Iterable[RateCard], on: date) -> RateCard | None:
    """The card in effect on `on`, or None.

    If several cards' periods contain the day, the one that took effect last
    wins; between cards that took effect on the same day, the highest version
    wins, comparing the numbers in version strings numerically ("2027.10" is
    higher than "2027.9").
    """
    in_effect = [card for card in cards if card.effective_from <= on <= card.effective_to]
    return max(
        in_effect, key=lambda card: (card.effective_from, _version_key(card.version)), default=None
    )


# --- reading a document ---------------------------------------------------------------

_CARD_FIELDS = (
    "version",
    "title",
    "currency",
    "effective_from",
    "effective_to",
    "rules",
    "adjustments",
)
_RULE_FIELDS = ("id", "description", "when", "route", "model", "minimum", "maximum", "review")
_ADJUSTMENT_FIELDS = ("id", "when", "discount_percent")
_MODEL_FIELDS = {
    "flat": ("type", "amount", "prorate"),
    "per_unit": ("type", "unit", "mode", "tiers"),
    "percent_of_revenue": ("type", "percent"),
    "sum": ("type", "parts"),
}
_TIER_FIELDS = ("up_to", "unit_price", "flat")
_DATE_TEXT = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MISSING: Any = object()


def _join(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


def _options(values: Iterable[str]) -> str:
    return ", ".join(values)


class _Reader:
    """Collects problems while reading; every read returns a usable placeholder on
    a problem, so that reading carries on and reports everything at once."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        # Every text read, with its path: checked on publishing (`_check_texts`).
        self.texts: list[tuple[str, str]] = []

    def problem(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message))

    def mapping(self, value: object, path: str, what: str) -> Mapping[str, Any] | None:
        if isinstance(value, Mapping):
            return value
        self.problem(path or ROOT_PATH, f"must be an object ({what})")
        return None

    def sequence(self, value: object, path: str, what: str) -> Sequence[Any]:
        if value is _MISSING:  # already reported as required
            return ()
        if isinstance(value, list | tuple):
            if not value:
                self.problem(path, f"must not be empty: give at least one {what}")
            return value
        self.problem(path, f"must be a list of {what}s")
        return ()

    def unknown_fields(self, document: Mapping[str, Any], known: Sequence[str], path: str) -> None:
        for key in document:
            if key not in known:
                self.problem(_join(path, key), f"unknown field; expected {_options(known)}")

    def get(self, document: Mapping[str, Any], key: str, path: str, required: bool) -> Any:
        if key in document:
            return document[key]
        if required:
            self.problem(_join(path, key), "is required")
        return _MISSING

    def text(
        self, document: Mapping[str, Any], key: str, path: str, *, required: bool = True
    ) -> str:
        value = self.get(document, key, path, required)
        if value is _MISSING:
            return ""
        if not isinstance(value, str):
            self.problem(_join(path, key), "must be a string")
            return ""
        if required and not value.strip():
            self.problem(_join(path, key), "must not be empty")
        self.texts.append((_join(path, key), value))
        return value

    def choice(
        self,
        document: Mapping[str, Any],
        key: str,
        path: str,
        options: Sequence[str],
        default: str | None = None,
    ) -> str:
        value = self.get(document, key, path, required=default is None)
        if value is _MISSING:
            return default or options[0]
        if not isinstance(value, str) or value not in options:
            self.problem(_join(path, key), f"must be one of {_options(options)}; got {value!r}")
            return options[0]
        return value

    def decimal(
        self,
        document: Mapping[str, Any],
        key: str,
        path: str,
        *,
        required: bool = True,
        at_most: Decimal | None = None,
    ) -> Decimal | None:
        """A non-negative decimal from a string, int or Decimal; never a float."""
        value = self.get(document, key, path, required)
        if value is _MISSING or (value is None and not required):
            return None
        where = _join(path, key)
        if isinstance(value, float):
            self.problem(
                where, 'must be a decimal string such as "12.50", not a floating-point number'
            )
            return None
        if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
            self.problem(where, 'must be a decimal string such as "12.50"')
            return None
        try:
            number = parse_decimal(value, places=RATE_PLACES)
        except MoneyError as error:
            self.problem(where, str(error))
            return None
        if at_most is not None and number > at_most:
            self.problem(where, f"must be between 0 and {at_most}; got {number}")
        # copy_abs turns a "-0" into 0; every other value here is already non-negative.
        return number.copy_abs()

    def boolean(self, document: Mapping[str, Any], key: str, path: str, default: bool) -> bool:
        value = self.get(document, key, path, required=False)
        if value is _MISSING:
            return default
        if not isinstance(value, bool):
            self.problem(_join(path, key), f"must be true or false; got {value!r}")
            return default
        return value

    def day(self, document: Mapping[str, Any], key: str, placeholder: date) -> date:
        value = self.get(document, key, "", required=True)
        if value is _MISSING:
            return placeholder
        if isinstance(value, date) and not hasattr(value, "hour"):
            return value
        if isinstance(value, str) and _DATE_TEXT.match(value):
            try:
                return date.fromisoformat(value)
            except ValueError:
                self.problem(key, f"{value!r} is not a calendar date")
                return placeholder
        self.problem(key, f"must be a date written YYYY-MM-DD; got {value!r}")
        return placeholder


# --- conditions, models, rules ---------------------------------------------------------


def _axis_values(reader: _Reader, axis: str, value: object, path: str) -> tuple[str, ...]:
    allowed = AXES[axis]
    if isinstance(value, str):
        items: list[tuple[str, object]] = [(path, value)]
    elif isinstance(value, list | tuple) and value:
        items = [(_join(path, index), item) for index, item in enumerate(value)]
    else:
        reader.problem(path, f"must be one {axis} or a non-empty list of them")
        return ()
    picked: list[str] = []
    for where, item in items:
        if not isinstance(item, str) or item not in allowed:
            reader.problem(where, f"unknown {axis} {item!r}; expected one of {_options(allowed)}")
        elif item not in picked:
            picked.append(item)
    return tuple(picked)


def _condition(reader: _Reader, value: object, path: str) -> Condition:
    document = reader.mapping(value, path, "a condition") or {}
    constrained: dict[str, tuple[str, ...]] = {}
    for key, values in document.items():
        if key not in AXES:
            reader.problem(_join(path, key), f"unknown key; a condition may name {_options(AXES)}")
            continue
        constrained[key] = _axis_values(reader, key, values, _join(path, key))
    return Condition(**constrained)


def _tier(reader: _Reader, value: object, path: str, is_last: bool, previous: int | None) -> Tier:
    document = reader.mapping(value, path, "a tier")
    if document is None:
        return Tier(None, Decimal(0))
    reader.unknown_fields(document, _TIER_FIELDS, path)
    up_to = _up_to(reader, document, path, is_last, previous)
    unit_price = reader.decimal(document, "unit_price", path)
    flat = reader.decimal(document, "flat", path, required=False)
    return Tier(up_to, unit_price or Decimal(0), flat or Decimal(0))


def _up_to(
    reader: _Reader, document: Mapping[str, Any], path: str, is_last: bool, previous: int | None
) -> int | None:
    where = _join(path, "up_to")
    if "up_to" not in document:
        reader.problem(where, "is required (a whole number, or null for the last tier)")
        return None
    value = document["up_to"]
    if value is None:
        if not is_last:
            reader.problem(where, "only the last tier may be open-ended (null)")
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        reader.problem(where, f"must be a positive whole number or null; got {value!r}")
        return None
    if value > MAX_QUANTITY:
        reader.problem(where, f"must be at most {MAX_QUANTITY}, the largest quantity priced")
        return None
    if is_last:
        reader.problem(
            where, "the last tier must have up_to null, so that every quantity is priced"
        )
    if previous is not None and value <= previous:
        reader.problem(where, f"must be greater than the previous tier's up_to ({previous})")
    return value


def _tiers(reader: _Reader, value: object, path: str) -> tuple[Tier, ...]:
    items = reader.sequence(value, path, "tier")
    tiers: list[Tier] = []
    for index, item in enumerate(items):
        previous = tiers[-1].up_to if tiers else None
        is_last = index == len(items) - 1
        tiers.append(_tier(reader, item, _join(path, index), is_last, previous))
    return tuple(tiers)


def _flat(reader: _Reader, document: Mapping[str, Any], path: str) -> FlatModel:
    amount = reader.decimal(document, "amount", path) or Decimal(0)
    return FlatModel(amount, reader.boolean(document, "prorate", path, default=True))


def _per_unit(reader: _Reader, document: Mapping[str, Any], path: str) -> PerUnitModel:
    unit = reader.text(document, "unit", path)
    mode = reader.choice(document, "mode", path, TIER_MODES)
    tiers = _tiers(reader, reader.get(document, "tiers", path, required=True), _join(path, "tiers"))
    return PerUnitModel(unit, mode, tiers)


def _percent(reader: _Reader, document: Mapping[str, Any], path: str) -> PercentOfRevenueModel:
    percent = reader.decimal(document, "percent", path, at_most=HUNDRED)
    return PercentOfRevenueModel(percent or Decimal(0))


def _sum(reader: _Reader, document: Mapping[str, Any], path: str) -> SumModel:
    where = _join(path, "parts")
    items = reader.sequence(reader.get(document, "parts", path, required=True), where, "model")
    return SumModel(tuple(_model(reader, item, _join(where, i)) for i, item in enumerate(items)))


_MODEL_READERS: dict[str, Callable[[_Reader, Mapping[str, Any], str], Model]] = {
    "flat": _flat,
    "per_unit": _per_unit,
    "percent_of_revenue": _percent,
    "sum": _sum,
}


def _model(reader: _Reader, value: object, path: str) -> Model:
    document = reader.mapping(value, path, "a pricing model")
    if document is None:
        return FlatModel(Decimal(0))
    kind = document.get("type", _MISSING)
    if kind is _MISSING:
        reader.problem(_join(path, "type"), f"is required; one of {_options(MODEL_TYPES)}")
        return FlatModel(Decimal(0))
    if not isinstance(kind, str) or kind not in _MODEL_READERS:
        reader.problem(
            _join(path, "type"), f"unknown model type {kind!r}; expected {_options(MODEL_TYPES)}"
        )
        return FlatModel(Decimal(0))
    reader.unknown_fields(document, _MODEL_FIELDS[kind], path)
    return _MODEL_READERS[kind](reader, document, path)


def _rule(reader: _Reader, value: object, path: str) -> Rule:
    document = reader.mapping(value, path, "a rule")
    if document is None:
        return Rule("", "", Condition(), route="permission_request")
    reader.unknown_fields(document, _RULE_FIELDS, path)
    rule_id = reader.text(document, "id", path)
    description = reader.text(document, "description", path, required=False)
    when = _condition(reader, document.get("when", {}), _join(path, "when"))
    route, model = _route_or_model(reader, document, path)
    minimum = reader.decimal(document, "minimum", path, required=False)
    maximum = reader.decimal(document, "maximum", path, required=False)
    _check_bounds(reader, path, route, minimum, maximum)
    review = reader.choice(document, "review", path, REVIEW_MODES, default="auto")
    return Rule(rule_id, description, when, route, model, minimum, maximum, review)


def _route_or_model(
    reader: _Reader, document: Mapping[str, Any], path: str
) -> tuple[str | None, Model | None]:
    has_route = document.get("route") is not None
    has_model = document.get("model") is not None
    if has_route and has_model:
        reader.problem(path, "a rule has either a route or a model, not both")
    elif not has_route and not has_model:
        reader.problem(path, 'a rule needs a model, or "route": "permission_request"')
    route = None
    if has_route:
        route = document["route"]
        if route != "permission_request":
            reader.problem(
                _join(path, "route"),
                f'must be "permission_request" (a model licenses the use); got {route!r}',
            )
    model = _model(reader, document["model"], _join(path, "model")) if has_model else None
    return route, model


def _check_bounds(
    reader: _Reader,
    path: str,
    route: str | None,
    minimum: Decimal | None,
    maximum: Decimal | None,
) -> None:
    if route is not None:
        for key, bound in (("minimum", minimum), ("maximum", maximum)):
            if bound is not None:
                reader.problem(
                    _join(path, key),
                    f"a {key} applies only to a rule with a model: a routed use has no fee",
                )
    if minimum is not None and maximum is not None and minimum > maximum:
        reader.problem(_join(path, "maximum"), f"must not be less than the minimum ({minimum})")


def _adjustment(reader: _Reader, value: object, path: str) -> Adjustment:
    document = reader.mapping(value, path, "an adjustment")
    if document is None:
        return Adjustment("", Condition(), Decimal(0))
    reader.unknown_fields(document, _ADJUSTMENT_FIELDS, path)
    adjustment_id = reader.text(document, "id", path)
    when = _condition(reader, document.get("when", {}), _join(path, "when"))
    percent = reader.decimal(document, "discount_percent", path, at_most=HUNDRED)
    return Adjustment(adjustment_id, when, percent or Decimal(0))


def _check_unique_ids(reader: _Reader, ids: Sequence[str], path: str, what: str) -> None:
    seen: dict[str, int] = {}
    for index, item_id in enumerate(ids):
        if item_id and item_id in seen:
            reader.problem(
                _join(_join(path, index), "id"),
                f"{what} id {item_id!r} is already used by {path}.{seen[item_id]}",
            )
        seen.setdefault(item_id, index)


# The longest version and title a card may have: what the service stores of them
# (a longer one was a database error on publishing, on PostgreSQL).
VERSION_MAX = 64
TITLE_MAX = 300


def _card_header(reader: _Reader, document: Mapping[str, Any]) -> tuple[str, str, str]:
    version = reader.text(document, "version", "")
    title = reader.text(document, "title", "", required=False)
    for key, text, most in (("version", version, VERSION_MAX), ("title", title, TITLE_MAX)):
        if len(text) > most:
            reader.problem(key, f"must be at most {most} characters; it has {len(text)}")
    currency = reader.text(document, "currency", "")
    if currency.strip() and not is_currency(currency):
        reader.problem("currency", f"{currency!r} is not an ISO 4217 currency code such as USD")
    return version, title, currency


def parse_rate_card(
    document: Mapping[str, Any],
    *,
    publishing: bool = False,
    text_problem: Callable[[str], str | None] | None = None,
) -> RateCard:
    """Read and check a whole rate card; raise `RateCardInvalid` listing every problem.
    `publishing` (a card checked or published, not one read back from the database)
    also refuses a rule no use could be recorded under (`_check_recordable`): a card
    published before that check is still read. `text_problem`, given on publishing,
    refuses a text of the card with its message (`_check_texts`, round 55)."""
    reader = _Reader()
    if reader.mapping(document, "", "a rate card") is None:
        raise RateCardInvalid(reader.problems)
    reader.unknown_fields(document, _CARD_FIELDS, "")
    version, title, currency = _card_header(reader, document)
    effective_from = reader.day(document, "effective_from", date.min)
    effective_to = reader.day(document, "effective_to", date.max)
    if effective_from > effective_to:
        reader.problem("effective_to", f"must not be before effective_from ({effective_from})")
    rule_items = reader.sequence(reader.get(document, "rules", "", required=True), "rules", "rule")
    rules = tuple(_rule(reader, item, _join("rules", i)) for i, item in enumerate(rule_items))
    adjustment_items = document.get("adjustments", [])
    adjustments = tuple(
        _adjustment(reader, item, _join("adjustments", i))
        for i, item in enumerate(_adjustment_list(reader, adjustment_items))
    )
    _check_unique_ids(reader, [rule.id for rule in rules], "rules", "rule")
    _check_unique_ids(reader, [item.id for item in adjustments], "adjustments", "adjustment")
    if publishing:
        _check_recordable(reader, rules, adjustments, currency)
    if text_problem is not None:
        _check_texts(reader, text_problem)
    if reader.problems:
        raise RateCardInvalid(reader.problems)
    return RateCard(version, title, currency, effective_from, effective_to, rules, adjustments)


def _check_texts(reader: _Reader, text_problem: Callable[[str], str | None]) -> None:
    """Refuse, on publishing, each text of the card `text_problem` refuses (round 55:
    the edge passes `printable.unprintable_problem`, since its version, title, a
    rule's id and description, a model's unit and an adjustment's id are printed in
    the agreement, Schedule A, its royalty terms and the quote's working, and a
    character no font draws would print as a box in every agreement the card
    prices), under the text's path. A text already refused (a currency that is no
    code) is not refused twice."""
    refused = {problem.path for problem in reader.problems}
    for path, text in reader.texts:
        if path not in refused and (problem := text_problem(text)) is not None:
            reader.problem(path, problem)


def _unprorated_fees(model: Model) -> Decimal:
    """What `model` charges whatever the term and the usage: its flat fees that are
    not prorated (in sums too); every other part is 0 or more."""
    if isinstance(model, FlatModel):
        return Decimal(0) if model.prorate else model.amount
    if isinstance(model, SumModel):
        return sum((_unprorated_fees(part) for part in model.parts), Decimal(0))
    return Decimal(0)


def _check_recordable(
    reader: _Reader, rules: Sequence[Rule], adjustments: Sequence[Adjustment], currency: str
) -> None:
    """Refuse a rule no use could ever be recorded under (round 50): without a
    maximum, its fees not prorated, after the largest discount any use it prices
    gets, rounded, are already beyond the largest amount the office can record and
    invoice. Exact in one direction: every price of the rule is at least that much
    (other parts, a minimum, a prorated fee only add), so a card refused here could
    never be applied for under that rule; a rule that could is never refused.
    The discount is the contract's (round 51): a use gets the first adjustment whose
    `when` matches it, and a rule prices the uses its `when` matches that no earlier
    rule's does, so a discount that applies to none of them is not counted (it let
    such a card through), and a rule that prices no use at all is not refused."""
    if not is_currency(currency):
        return  # already a problem of the card
    places = minor_units(currency)
    discounts: _MetDiscounts | None = None
    for index, rule in enumerate(rules):
        if rule.model is None or rule.maximum is not None:
            continue
        fees = _unprorated_fees(rule.model)
        if not beyond_largest(round_fraction(Fraction(fees), places)):
            continue  # within it before any discount: only suspects are matched
        discounts = discounts or _MetDiscounts(rules, adjustments)
        met = discounts.largest(index)
        if met is None:
            continue  # every use it matches an earlier rule prices
        least = round_fraction(Fraction(fees) * (1 - Fraction(met.discount_percent) / 100), places)
        if beyond_largest(least):
            after = (
                f" after the largest discount its uses get ({met.discount_percent:f}%, {met.id})"
                if met.discount_percent
                else ""
            )
            reader.problem(
                _join(_join("rules", index), "model"),
                f"its fees that are not prorated come to {in_words(least, currency)} at the "
                f"least{after}, whatever the term and usage: more than the largest amount the "
                f"office can record and invoice, {in_words(largest_amount(currency), currency)}, "
                "so no use it prices could be applied for",
            )


_NO_DISCOUNT = Adjustment("", Condition(), Decimal(0))


class _MetDiscounts:
    """The contract's matching over every combination of the vocabulary's four axes
    (6 x 7 x 6 x 5 = 1,260), each a bit of an integer: the combinations each rule
    prices (its `when` matches them, no earlier rule's does) and those each
    adjustment applies to (the first whose `when` matches). Made once for a card
    with a rule the check suspects; a few integer operations a rule or adjustment,
    however many a card has (matching each combination against each rule took 12
    seconds on a card of 3,000 rules)."""

    def __init__(self, rules: Sequence[Rule], adjustments: Sequence[Adjustment]) -> None:
        self._value_bits: dict[str, dict[str, int]] = {axis: {} for axis in AXES}
        combinations = list(itertools.product(*AXES.values()))
        for bit, combination in enumerate(combinations):
            for axis, value in zip(AXES, combination, strict=True):
                found = self._value_bits[axis]
                found[value] = found.get(value, 0) | 1 << bit
        self._every = (1 << len(combinations)) - 1
        self._priced = self._first_matches([rule.when for rule in rules])
        firsts = self._first_matches([item.when for item in adjustments])
        self._applies = list(zip(adjustments, firsts, strict=True))
        self._undiscounted = self._every
        for bits in firsts:
            self._undiscounted &= ~bits

    def _first_matches(self, conditions: Sequence[Condition]) -> list[int]:
        """For each condition in order, the combinations it is the first to match."""
        taken, firsts = 0, []
        for condition in conditions:
            bits = self._every
            for axis, values in condition.constraints():
                named = self._value_bits[axis]
                bits &= functools.reduce(operator.or_, (named.get(v, 0) for v in values), 0)
            firsts.append(bits & ~taken)
            taken |= bits
        return firsts

    def largest(self, rule: int) -> Adjustment | None:
        """The largest discount a use priced by the rule at `rule` gets (a 0%
        adjustment with no id when some use gets none and none gets more), or None
        when the rule prices no use."""
        priced = self._priced[rule]
        if not priced:
            return None
        best = _NO_DISCOUNT if priced & self._undiscounted else None
        for item, applies in self._applies:
            if priced & applies and (best is None or item.discount_percent > best.discount_percent):
                best = item
        return best


def _adjustment_list(reader: _Reader, value: object) -> Sequence[Any]:
    # Unlike rules, an empty list of adjustments is fine: no discounts.
    if isinstance(value, list | tuple):
        return value
    reader.problem("adjustments", "must be a list of adjustments")
    return ()
