"""The raw amount of each pricing model, exactly, with a working an analyst can check.

Everything here is `Fraction` arithmetic: no rounding happens in this module (the
one rounding step of the contract is in `quote.py`). Each model also yields the
steps of its working, e.g.

    2500 end_users, graduated: 100 x 18.50 + 900 x 15.50 + 1500 x 12.00 = 33800.00
    flat 2500.00 x 181/365 (prorated) = 90500/73 (about 1239.726027)

Intermediate values are shown exactly: as a decimal when it terminates, else as
the fraction itself followed by an approximation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from licensing.money import round_fraction

from .ratecard import FlatModel, Model, PercentOfRevenueModel, PerUnitModel, SumModel, Tier

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
    needed = _terminating_digits(exact.denominator)
    if needed is None:
        about = round_fraction(exact, places + 4)
        return f"{exact.numerator}/{exact.denominator} (about {about})"
    digits = max(needed, places)
    return _point(exact.numerator * 10**digits // exact.denominator, digits)


def percent_text(value: Decimal | Fraction) -> str:
    """A percentage without needless zeros: 10 -> "10", 12.50 -> "12.5"."""
    return exact_text(value, 0)


def proration_text(proration: Fraction) -> str:
    return str(proration)


# --- per-unit tiers ----------------------------------------------------------------------


def tier_bounds(tiers: tuple[Tier, ...]) -> list[tuple[int, int | None, Tier]]:
    """Each tier with the quantities it covers: (above this, up to and including that)."""
    bounds: list[tuple[int, int | None, Tier]] = []
    lower = 0
    for tier in tiers:
        bounds.append((lower, tier.up_to, tier))
        lower = tier.up_to if tier.up_to is not None else lower
    return bounds


def graduated_slices(tiers: tuple[Tier, ...], quantity: int) -> list[tuple[int, Tier]]:
    """The tiers a quantity reaches, each with how many of the units fall in it."""
    slices: list[tuple[int, Tier]] = []
    for lower, upper, tier in tier_bounds(tiers):
        if quantity <= lower:
            break
        top = quantity if upper is None else min(quantity, upper)
        slices.append((top - lower, tier))
    return slices


def volume_tier(tiers: tuple[Tier, ...], quantity: int) -> Tier:
    """The tier the whole quantity falls in (quantity >= 1)."""
    for lower, upper, tier in tier_bounds(tiers):
        if lower < quantity and (upper is None or quantity <= upper):
            return tier
    raise ValueError(f"no tier covers the quantity {quantity}")  # a valid card always has one


def graduated_amount(tiers: tuple[Tier, ...], quantity: int) -> Fraction:
    """Each unit at its own tier's price, plus the flat of every tier reached."""
    return sum(
        (
            units * Fraction(tier.unit_price) + Fraction(tier.flat)
            for units, tier in graduated_slices(tiers, quantity)
        ),
        Fraction(0),
    )


def volume_amount(tiers: tuple[Tier, ...], quantity: int) -> Fraction:
    """Every unit at the price of the tier the whole quantity falls in, plus its flat."""
    if quantity == 0:
        return Fraction(0)
    tier = volume_tier(tiers, quantity)
    return quantity * Fraction(tier.unit_price) + Fraction(tier.flat)


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
    label = f"part {number}: " if number else ""
    if isinstance(model, SumModel):
        return _work_sum(model, inputs, number, label)
    if isinstance(model, FlatModel):
        amount = flat_amount(model, inputs.proration)
        return Working(amount, amount, (label + _flat_step(model, inputs, amount),))
    if isinstance(model, PerUnitModel):
        quantity = inputs.quantities[model.unit]
        amount = per_unit_amount(model, quantity)
        return Working(
            amount, Fraction(0), (label + _per_unit_step(model, quantity, amount, inputs.places),)
        )
    if inputs.revenue is None:
        raise ValueError("a percent_of_revenue model needs the use's revenue")
    amount = percent_amount(model, inputs.revenue)
    return Working(amount, Fraction(0), (label + _percent_step(model, inputs, amount),))


def _work_sum(model: SumModel, inputs: Inputs, number: str, label: str) -> Working:
    parts = [
        work(part, inputs, f"{number}.{i}" if number else str(i))
        for i, part in enumerate(model.parts, 1)
    ]
    amount = sum((part.amount for part in parts), Fraction(0))
    fixed = sum((part.fixed for part in parts), Fraction(0))
    shown = " + ".join(exact_text(part.amount, inputs.places) for part in parts)
    total = f"{label}sum of the parts: {shown} = {exact_text(amount, inputs.places)}"
    return Working(amount, fixed, (*(step for part in parts for step in part.steps), total))


def _flat_step(model: FlatModel, inputs: Inputs, amount: Fraction) -> str:
    fee = exact_text(model.amount, inputs.places)
    result = exact_text(amount, inputs.places)
    if not model.prorate:
        return f"flat {fee}, not prorated = {result}"
    if inputs.proration == 1:
        return f"flat {fee} for the whole card period = {result}"
    return f"flat {fee} x {proration_text(inputs.proration)} (prorated) = {result}"


def _per_unit_step(model: PerUnitModel, quantity: int, amount: Fraction, places: int) -> str:
    head = f"{quantity} {model.unit}, {model.mode}"
    if quantity == 0:
        return f"{head}: nothing to pay = {exact_text(0, places)}"
    if model.mode == "graduated":
        slices = graduated_slices(model.tiers, quantity)
    else:
        slices = [(quantity, volume_tier(model.tiers, quantity))]
    terms: list[str] = []
    for units, tier in slices:
        terms.append(f"{units} x {exact_text(tier.unit_price, places)}")
        if tier.flat:
            terms.append(f"flat {exact_text(tier.flat, places)}")
    return f"{head}: {' + '.join(terms)} = {exact_text(amount, places)}"


def _percent_step(model: PercentOfRevenueModel, inputs: Inputs, amount: Fraction) -> str:
    revenue = exact_text(inputs.revenue or 0, inputs.places)
    return (
        f"{percent_text(model.percent)}% of revenue {revenue} = {exact_text(amount, inputs.places)}"
    )
