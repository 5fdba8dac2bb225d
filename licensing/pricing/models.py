"""The raw amount of each pricing model, exactly, with a working an analyst can check.

No rounding happens in this module (the one rounding step of the contract is in
`quote.py`). Each model also yields the steps of its working, e.g.

    2500 end_users, graduated: 100 x 18.50 + 900 x 15.50 + 1500 x 12.00 = 33800.00
    150000 members, volume: all in tier 2 (100001 to 1000000), 150000 x 0.03 = 4500.00
    flat 2500.00 x 181/365 (prorated) = 90500/73 (about 1239.726027)

Intermediate values are shown exactly: as a decimal when it terminates, else as
the fraction itself followed by an approximation.

How the arithmetic stays exact without `Fraction` (whose pure-Python operations
were most of a quote's time): with the proration factor `p = n/d` in lowest
terms, every amount the contract computes is a terminating decimal once
multiplied by `d` (card amounts, quantities and revenues are decimals; only `p`
brings another denominator). So amounts are held *scaled*, as the `Decimal`
`v * d` (see `Scale`), and added, multiplied and compared in the `EXACT` context,
which traps any rounding: a result is exact or an error, never silently rounded.
`Fraction`s are made only for what callers keep (`Working`, the quote's
breakdown), from the scaled value in one step. Each model is compiled once per
card (`compile_model`): tier tables with their running totals and the text of
every price, so that pricing a use is a few multiplications and one f-string.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Context, Decimal, DivisionByZero, Inexact, InvalidOperation, Overflow
from fractions import Fraction
from math import gcd
from typing import NamedTuple

from .ratecard import FlatModel, Model, PercentOfRevenueModel, PerUnitModel, SumModel, Tier

# Far wider than any amount the bounds of `licensing.money` allow (a product of a
# quantity, a price, a discount and a proration denominator has under 80 digits);
# an operation that would still round raises `Inexact` instead.
EXACT = Context(
    prec=1000,
    Emax=999_999,
    Emin=-999_999,
    traps=[Inexact, InvalidOperation, DivisionByZero, Overflow],
)
# Its operations bound once: `exact_add(...)` makes a bound method at every call,
# several times for every use priced.
exact_add, exact_multiply, exact_subtract = EXACT.add, EXACT.multiply, EXACT.subtract
_ZERO = Decimal(0)

# --- showing exact numbers ---------------------------------------------------------------


def _terminating_digits(denominator: int) -> int | None:
    """Digits after the point that 1/denominator needs, or None if it never ends."""
    twos = fives = 0
    while denominator % 2 == 0:
        denominator //= 2
        twos += 1
    while denominator % 5 == 0:
        denominator //= 5
        fives += 1
    return max(twos, fives) if denominator == 1 else None


def _point(scaled: int, digits: int) -> str:
    """`scaled / 10**digits` written out, from integers only (no Decimal context)."""
    sign = "-" if scaled < 0 else ""
    text = str(abs(scaled)).rjust(digits + 1, "0")
    return f"{sign}{text[:-digits]}.{text[-digits:]}" if digits else f"{sign}{text}"


def exact_text(value: Fraction | Decimal | int, places: int = 2) -> str:
    """The exact value for a reader: at least `places` decimals, more if needed.

    `Fraction(1, 200)` -> "0.005"; `Fraction(90500, 73)` -> "90500/73 (about
    1239.726027)"; `Decimal("0.045")` -> "0.045"; `Decimal("0.030")` -> "0.03";
    `12` -> "12.00".
    """
    exact = Fraction(value)
    return ratio_text(exact.numerator, exact.denominator, places)


def ratio_text(numerator: int, denominator: int, places: int) -> str:
    """`exact_text` of numerator/denominator, given in lowest terms."""
    needed = _terminating_digits(denominator)
    if needed is None:
        about = round_ratio(numerator, denominator, places + 4)
        return f"{numerator}/{denominator} (about {about})"
    digits = max(needed, places)
    return _point(numerator * 10**digits // denominator, digits)


def round_ratio(numerator: int, denominator: int, places: int) -> Decimal:
    """`licensing.money.round_fraction` of numerator/denominator (denominator > 0),
    in integers: half-up, ties away from zero, exactly `places` decimals."""
    rounded = (2 * abs(numerator) * 10**places + denominator) // (2 * denominator)
    return Decimal(-rounded if numerator < 0 else rounded).scaleb(-places, EXACT)


def decimal_text(value: Decimal, places: int) -> str:
    """`exact_text` of a Decimal, from its digits: "0.030" -> "0.03", "12" -> "12.00"."""
    if not value:
        return _point(0, places)  # also for -0, which exact_text shows as 0
    whole, _, decimals = f"{value:f}".partition(".")
    decimals = decimals.rstrip("0")
    if len(decimals) < places:
        decimals = decimals.ljust(places, "0")
    return f"{whole}.{decimals}" if decimals else whole


def percent_text(value: Decimal | Fraction) -> str:
    """A percentage without needless zeros: 10 -> "10", 12.50 -> "12.5"."""
    return exact_text(value, 0)


def proration_text(proration: Fraction) -> str:
    return str(proration)


class Scale:
    """Exact amounts of one quote (one proration factor), held scaled.

    With `proration = n/d` in lowest terms, an amount `v` is held as the Decimal
    `v * d`, which always terminates (see the module notes). This class turns
    decimals into scaled amounts and scaled amounts into what a reader or a
    caller sees: the exact text, the `Fraction`, the half-up rounding.
    """

    __slots__ = ("denominator", "is_one", "key", "numerator", "places", "proration", "text")

    def __init__(self, proration: Fraction, places: int) -> None:
        self.proration = proration
        self.numerator = proration.numerator
        self.denominator = proration.denominator
        self.key = (self.numerator, self.denominator)
        self.is_one = proration == 1
        self.text = str(proration)
        self.places = places

    def scaled(self, value: Decimal) -> Decimal:
        """An amount that is not prorated (a decimal), scaled."""
        return value if self.denominator == 1 else exact_multiply(value, self.denominator)

    def prorated(self, annual: Decimal) -> Decimal:
        """`annual * proration`, scaled."""
        return exact_multiply(annual, self.numerator)

    def _ratio(self, scaled: Decimal) -> tuple[int, int]:
        numerator, denominator = scaled.as_integer_ratio()  # lowest terms
        if self.denominator == 1:
            return numerator, denominator
        denominator *= self.denominator
        common = gcd(numerator, denominator)
        return numerator // common, denominator // common

    def show(self, scaled: Decimal) -> str:
        """`exact_text` of the amount."""
        if self.denominator == 1:
            return decimal_text(scaled, self.places)
        return ratio_text(*self._ratio(scaled), self.places)

    def fraction(self, scaled: Decimal) -> Fraction:
        numerator, denominator = scaled.as_integer_ratio()
        return Fraction(numerator, denominator * self.denominator)

    def round(self, scaled: Decimal) -> Decimal:
        """The amount rounded half-up to `places`: `round_fraction`, exactly."""
        numerator, denominator = scaled.as_integer_ratio()
        return round_ratio(numerator, denominator * self.denominator, self.places)

    def equals(self, rounded: Decimal, scaled: Decimal) -> bool:
        """Whether a decimal (not scaled) is the scaled amount."""
        return exact_multiply(rounded, self.denominator) == scaled


# --- per-unit tiers ----------------------------------------------------------------------


def tier_bounds(tiers: tuple[Tier, ...]) -> list[tuple[int, int | None, Tier]]:
    """Each tier with the quantities it covers: (above this, up to and including that)."""
    bounds: list[tuple[int, int | None, Tier]] = []
    lower = 0
    for tier in tiers:
        bounds.append((lower, tier.up_to, tier))
        lower = tier.up_to if tier.up_to is not None else lower
    return bounds


def tier_range(lower: int, upper: int | None, count: Callable[[int], str] = str) -> str:
    """The quantities a tier covers, as the card's document says them of a volume
    tier: "up to 100000", "100001 to 1000000", "above 1000000" (quantities are whole
    units, so "above 100000 up to 1000000" starts at 100001). One rule for the
    card's words (`describe`) and a volume working's (round 50), so that an
    analyst finds the working's tier on the card as written there."""
    if upper is None:
        return f"above {count(lower)}" if lower else "every quantity"
    if lower == 0:
        return f"up to {count(upper)}"
    return f"{count(lower + 1)} to {count(upper)}"


class TierTable:
    """A per-unit model's tiers, ready to price any quantity.

    Built once per card: for each tier, the price and flat with their texts, and
    (for graduated pricing) the amount and working of every tier below it taken
    whole, so a quantity costs one lookup, one multiplication and one f-string.
    The tiers must be as a valid card has them: ascending `up_to`, the last None.
    """

    __slots__ = ("_rows", "_tops", "volume_words")

    def __init__(self, tiers: tuple[Tier, ...], places: int) -> None:
        tops = [tier.up_to for tier in tiers[:-1] if tier.up_to is not None]
        if not tiers or tiers[-1].up_to is not None or len(tops) != len(tiers) - 1:
            raise ValueError("only the last tier may be open-ended, and it must be")
        if tops != sorted(set(tops)):
            raise ValueError("tiers must have strictly ascending up_to")
        self._tops = tops
        lowers = [0, *tops]
        # Per tier: the price of a unit, and what the tier adds once it is reached
        # (None for a zero flat that adding could not change: no digits after the
        # point beyond the price's, so neither the value nor the exponent moves;
        # pricing a use then skips the addition).
        prices = [(tier.unit_price, _addend(tier.flat, tier.unit_price)) for tier in tiers]
        words = [
            f" x {decimal_text(tier.unit_price, places)}"
            + (f" + flat {decimal_text(tier.flat, places)}" if tier.flat else "")
            for tier in tiers
        ]
        # Graduated: every tier below tier i, whole: (amount, working so far).
        below: list[tuple[Decimal, str]] = [(_ZERO, "")]
        for index, top in enumerate(tops):
            units = top - lowers[index]
            amount, working = below[index]
            unit_price, flat = tiers[index].unit_price, tiers[index].flat
            amount = exact_add(exact_add(amount, exact_multiply(units, unit_price)), flat)
            below.append((amount, f"{working}{units}{words[index]} + "))
        # Per tier, all that pricing a quantity in it reads, in one look-up: its
        # lower bound; (graduated) the tiers below taken whole and their working;
        # the unit price, the flat to add and the price's words.
        self._rows = [
            (lower, whole, working, unit_price, flat, price_words)
            for lower, (whole, working), (unit_price, flat), price_words in zip(
                lowers, below, prices, words, strict=True
            )
        ]
        # Volume: which tier the whole quantity falls in, numbered as the card
        # lists its tiers and bounded as its document words them (round 50: "150000
        # x 0.03" left the analyst to find the tier). A card of one tier has
        # nothing to find ("").
        self.volume_words = [
            f"all in tier {number} ({tier_range(lower, upper)}), " if len(tiers) > 1 else ""
            for number, (lower, upper, _) in enumerate(tier_bounds(tiers), 1)
        ]

    def graduated(self, quantity: int) -> tuple[Decimal, str, int, str]:
        """Each unit at its own tier's price, plus the flat of every tier reached;
        with the working's terms ("100 x 18.50 + 900 x 15.50 + 3 x 12.00") in
        three parts: the tiers below, the units in the last and its price's
        words (the caller writes them into its step: one text made, not two)."""
        # The row of the tier `quantity` (>= 1) falls in.
        lower, below, words, unit_price, flat, price_words = self._rows[
            bisect_left(self._tops, quantity)
        ]
        units = quantity - lower
        amount = exact_add(below, exact_multiply(units, unit_price))
        if flat is not None:
            amount = exact_add(amount, flat)
        return amount, words, units, price_words

    def volume(self, quantity: int) -> tuple[Decimal, str, int, str]:
        """Every unit at the price of the tier the whole quantity falls in, plus its
        flat; with the working's terms in `graduated`'s three parts, the first
        naming that tier ("all in tier 2 (100001 to 1000000), ")."""
        index = bisect_left(self._tops, quantity)
        *_, unit_price, flat, price_words = self._rows[index]
        amount = exact_multiply(quantity, unit_price)
        if flat is not None:
            amount = exact_add(amount, flat)
        return amount, self.volume_words[index], quantity, price_words


def _addend(flat: Decimal, unit_price: Decimal) -> Decimal | None:
    """`flat`, or None when adding it to an amount priced at `unit_price` changes
    nothing: a zero with no more digits after the point than the price has."""
    if flat or int(flat.as_tuple().exponent) < int(unit_price.as_tuple().exponent):
        return flat
    return None


def graduated_amount(tiers: tuple[Tier, ...], quantity: int) -> Fraction:
    """Each unit at its own tier's price, plus the flat of every tier reached."""
    if quantity == 0:
        return Fraction(0)
    return Fraction(TierTable(tiers, 0).graduated(quantity)[0])


def volume_amount(tiers: tuple[Tier, ...], quantity: int) -> Fraction:
    """Every unit at the price of the tier the whole quantity falls in, plus its flat."""
    if quantity == 0:
        return Fraction(0)
    return Fraction(TierTable(tiers, 0).volume(quantity)[0])


def per_unit_amount(model: PerUnitModel, quantity: int) -> Fraction:
    if model.mode == "graduated":
        return graduated_amount(model.tiers, quantity)
    return volume_amount(model.tiers, quantity)


def flat_amount(model: FlatModel, proration: Fraction) -> Fraction:
    return Fraction(model.amount) * (proration if model.prorate else 1)


def percent_amount(model: PercentOfRevenueModel, revenue: Decimal | Fraction) -> Fraction:
    return Fraction(revenue) * Fraction(model.percent) / 100


# --- what a model needs from a use -----------------------------------------------------


def units_needed(model: Model) -> tuple[str, ...]:
    """The quantity names the model reads, in the order they appear."""
    if isinstance(model, PerUnitModel):
        return (model.unit,)
    if isinstance(model, SumModel):
        names = (name for part in model.parts for name in units_needed(part))
        return tuple(dict.fromkeys(names))
    return ()


def needs_revenue(model: Model) -> bool:
    if isinstance(model, PercentOfRevenueModel):
        return True
    if isinstance(model, SumModel):
        return any(needs_revenue(part) for part in model.parts)
    return False


# --- the working ------------------------------------------------------------------------


@dataclass(frozen=True)
class Inputs:
    """What a model is computed on: the use's quantities and revenue, the proration
    factor of the term, and how many decimals money is shown with."""

    quantities: Mapping[str, int]
    revenue: Decimal | None
    proration: Fraction
    places: int = 2


@dataclass(frozen=True)
class Working:
    """A model's raw amount, the part of it that is fixed fees (flat models), and
    the steps that show how it was reached."""

    amount: Fraction
    fixed: Fraction
    steps: tuple[str, ...]

    @property
    def variable(self) -> Fraction:
        """Usage royalties: per-unit (tier flats included) and percent-of-revenue amounts."""
        return self.amount - self.fixed


def work(model: Model, inputs: Inputs, number: str = "") -> Working:
    """The raw amount of `model` with its working; `number` labels a part of a sum."""
    scale = Scale(inputs.proration, inputs.places)
    priced = compile_model(model, inputs.places, number).price(
        scale, inputs.quantities, inputs.revenue
    )
    return Working(scale.fraction(priced.amount), scale.fraction(priced.fixed), priced.steps)


# --- compiled models --------------------------------------------------------------------

# Entries a model keeps per proration factor (a card's terms give at most as many
# factors as its period has days); past it, the working is computed afresh.
_MEMO_LIMIT = 4096


class Priced(NamedTuple):
    """A model's raw amount and the part of it that is fixed fees, both scaled
    (see `Scale`); its steps; and the amount's exact text. `plain` is the amount
    not scaled when nothing in it is prorated (a decimal then): what it is
    written and rounded from without turning the scaled amount back into a
    ratio; None when some part is prorated. With `plain`, `text` is always
    `decimal_text(plain, places)` (the quote's last step relies on it)."""

    amount: Decimal
    fixed: Decimal
    steps: tuple[str, ...]
    text: str
    plain: Decimal | None = None


# `Priced(...)` without the Python-level `__new__` NamedTuple writes (it only
# fills the defaults): a third of making one, once for every use priced.
_new_priced = tuple.__new__

# A Decimal whose exponent is between -6 and 0 is written by `str` as by the "f"
# format (no exponent), three times as fast.
_PLAIN_STR_PLACES = 6


class ModelPricer:
    """A model compiled for one card: its numbers and words prepared once."""

    __slots__ = ("label", "model_type")

    def __init__(self, model: Model, number: str) -> None:
        self.model_type = model.type
        self.label = f"part {number}: " if number else ""

    def price(self, scale: Scale, quantities: Mapping[str, int], revenue: Decimal | None) -> Priced:
        raise NotImplementedError

    def words(self) -> tuple[str, ...]:
        """Every text of the card this model's steps may show; the rest of a
        step is numbers (digits, points, fractions). A JSON writer checks these
        once to know whether any step needs escaping."""
        return (self.label,)

    def rounded_at(self, places: int) -> bool:
        """Whether every nonzero `plain` amount `price` returns has exactly `places`
        decimals, so that rounding it to them changes nothing (no promise by default)."""
        return False


def compile_model(model: Model, places: int, number: str = "") -> ModelPricer:
    """`model` ready to price uses, money shown with `places` decimals; `number`
    labels a part of a sum ("1.2")."""
    if isinstance(model, SumModel):
        return _SumPricer(model, places, number)
    if isinstance(model, FlatModel):
        return _FlatPricer(model, places, number)
    if isinstance(model, PerUnitModel):
        return _PerUnitPricer(model, places, number)
    return _PercentPricer(model, places, number)


class _FlatPricer(ModelPricer):
    __slots__ = ("_amount", "_fee", "_memo", "_prorate", "_unprorated", "_whole")

    def __init__(self, model: FlatModel, places: int, number: str) -> None:
        super().__init__(model, number)
        self._amount = model.amount
        self._prorate = model.prorate
        self._fee = fee = decimal_text(model.amount, places)
        self._unprorated = (f"{self.label}flat {fee}, not prorated = {fee}",)
        self._whole = (f"{self.label}flat {fee} for the whole card period = {fee}",)
        # Per proration factor: the prorated fee and its working.
        self._memo: dict[tuple[int, int], Priced] = {}

    def price(self, scale: Scale, quantities: Mapping[str, int], revenue: Decimal | None) -> Priced:
        if not self._prorate:
            amount = scale.scaled(self._amount)
            return Priced(amount, amount, self._unprorated, self._fee, self._amount)
        if scale.is_one:
            return Priced(self._amount, self._amount, self._whole, self._fee, self._amount)
        priced = self._memo.get(scale.key)
        if priced is None:
            amount = scale.prorated(self._amount)
            text = scale.show(amount)
            step = f"{self.label}flat {self._fee} x {scale.text} (prorated) = {text}"
            priced = Priced(amount, amount, (step,), text)
            if len(self._memo) < _MEMO_LIMIT:
                self._memo[scale.key] = priced
        return priced


class _PerUnitPricer(ModelPricer):
    __slots__ = ("_graduated", "_head", "_nothing", "_places", "_table", "_unit", "_written")

    def __init__(self, model: PerUnitModel, places: int, number: str) -> None:
        super().__init__(model, number)
        self._unit = model.unit
        self._table = TierTable(model.tiers, places)
        self._graduated = model.mode == "graduated"
        self._places = places
        self._head = f" {model.unit}, {model.mode}: "
        zero = _point(0, places)
        self._nothing = Priced(
            _ZERO, _ZERO, (f"{self.label}0{self._head}nothing to pay = {zero}",), zero, _ZERO
        )
        # When every price has exactly `places` decimals and no flat more, so has
        # every amount (whole numbers of units times the prices, plus flats): its
        # `decimal_text` is then `f"{amount:f}"`, with no zeros to strip or add,
        # which `str` writes alike (at most 6 places: no exponent) in a third of
        # the time.
        self._written = places <= _PLAIN_STR_PLACES and all(
            tier.unit_price.as_tuple().exponent == -places
            and int(tier.flat.as_tuple().exponent) >= -places
            for tier in model.tiers
        )

    def price(self, scale: Scale, quantities: Mapping[str, int], revenue: Decimal | None) -> Priced:
        quantity = quantities[self._unit]
        if quantity == 0:
            return self._nothing
        table = self._table
        amount, below, units, price_words = (
            table.graduated(quantity) if self._graduated else table.volume(quantity)
        )
        text = str(amount) if self._written else decimal_text(amount, self._places)
        step = f"{self.label}{quantity}{self._head}{below}{units}{price_words} = {text}"
        denominator = scale.denominator  # `scale.scaled`, written out
        scaled = amount if denominator == 1 else exact_multiply(amount, denominator)
        return _new_priced(Priced, (scaled, _ZERO, (step,), text, amount))

    def words(self) -> tuple[str, ...]:
        return (self.label, self._head, *self._table.volume_words)

    def rounded_at(self, places: int) -> bool:
        # Every price has exactly `_places` decimals and no flat more (`_written`):
        # so has every amount but the nothing-to-pay zero.
        return self._written and places == self._places


class _PercentPricer(ModelPricer):
    __slots__ = ("_factor", "_percent", "_places")

    def __init__(self, model: PercentOfRevenueModel, places: int, number: str) -> None:
        super().__init__(model, number)
        self._factor = model.percent.scaleb(-2, EXACT)  # percent / 100, exactly
        self._percent = percent_text(model.percent)
        self._places = places

    def price(self, scale: Scale, quantities: Mapping[str, int], revenue: Decimal | None) -> Priced:
        if revenue is None:
            raise ValueError("a percent_of_revenue model needs the use's revenue")
        revenue = Decimal(revenue)  # an int is accepted too
        amount = exact_multiply(revenue, self._factor)
        text = decimal_text(amount, self._places)
        shown = decimal_text(revenue, self._places)
        step = f"{self.label}{self._percent}% of revenue {shown} = {text}"
        return Priced(scale.scaled(amount), _ZERO, (step,), text, amount)


class _SumPricer(ModelPricer):
    __slots__ = ("_parts",)

    def __init__(self, model: SumModel, places: int, number: str) -> None:
        super().__init__(model, number)
        self._parts = [
            compile_model(part, places, f"{number}.{i}" if number else str(i))
            for i, part in enumerate(model.parts, 1)
        ]

    def words(self) -> tuple[str, ...]:
        return (self.label, *(word for part in self._parts for word in part.words()))

    def price(self, scale: Scale, quantities: Mapping[str, int], revenue: Decimal | None) -> Priced:
        amount = fixed = _ZERO
        plain: Decimal | None = _ZERO
        steps: list[str] = []
        shown: list[str] = []
        for part in self._parts:
            priced = part.price(scale, quantities, revenue)
            amount = exact_add(amount, priced.amount)
            fixed = exact_add(fixed, priced.fixed)
            plain = (
                None if plain is None or priced.plain is None else exact_add(plain, priced.plain)
            )
            steps.extend(priced.steps)
            shown.append(priced.text)
        # The exact text of a plain decimal is its decimal_text (see `Scale.show`).
        text = scale.show(amount) if plain is None else decimal_text(plain, scale.places)
        steps.append(f"{self.label}sum of the parts: {' + '.join(shown)} = {text}")
        return Priced(amount, fixed, tuple(steps), text, plain)
