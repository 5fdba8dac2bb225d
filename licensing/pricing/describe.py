"""Rate cards in plain words, for licensing analysts, licensees and the staff page
that compares two versions of a card.

    describe_condition(rule.when)  -> "distribution of software, saas or mobile_app products"
    describe_rule(rule, "USD")     -> "Per end user, graduated: the first 100 at 18.50 each,
                                      the next 900 at 15.50 each, above 1000 at 12.00 each;
                                      minimum 1000.00 a year (prorated)"
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Protocol

from licensing.money import minor_units

from .models import Scale, exact_text, percent_text, tier_bounds, tier_range
from .ratecard import (
    Adjustment,
    Condition,
    FlatModel,
    Model,
    PercentOfRevenueModel,
    PerUnitModel,
    RateCard,
    Rule,
    SumModel,
    Tier,
    day_words,
    proposed_term,
)

# --- words -------------------------------------------------------------------------------


def _either(values: Sequence[str]) -> str:
    """ "a", "a or b", "a, b or c"."""
    if len(values) <= 1:
        return "".join(values)
    return f"{', '.join(values[:-1])} or {values[-1]}"


def singular_unit(unit: str) -> str:
    """ "end_users" -> "end user", "copies" -> "copy": enough for unit names."""
    words = unit.replace("_", " ")
    if words.endswith("ies"):
        return words[:-3] + "y"
    if words.endswith("sses"):
        return words[:-2]
    if words.endswith("s") and not words.endswith("ss"):
        return words[:-1]
    return words


def exact_amount(amount: Decimal, currency: str) -> str:
    """At least the currency's minor digits, more when a price is finer (0.045)."""
    return exact_text(amount, minor_units(currency))


_money = exact_amount


# How an amount is written: `_money` in the texts the contract fixes; a page may
# pass its own (the rate card page adds the currency, as every page does).
AmountText = Callable[[Decimal, str], str]
# How a count of units is written (a tier's bounds): `str` by default (the API's
# `in_plain_words`); pages and documents group it (`money.format_quantity`).
CountText = Callable[[int], str]
# How a rule's or a discount's `when` is written: `describe_condition` in the texts
# the API gives; the staff pages pass the forms' words (`words.condition_words`).
ConditionText = Callable[[Condition], str]
# How a rule's `review` value is written: as stored ("auto", "staff") in the texts the
# API gives; the staff pages pass the analyst's words (`words.review_words`:
# "automatic approval", "staff review").
ReviewText = Callable[[str], str]


def describe_condition(when: Condition) -> str:
    """The uses a `when` matches: "distribution of software, saas or mobile_app products"."""
    if when.is_empty:
        return "any use"
    words = [_either(when.use) if when.use else "any use"]
    if when.product_type:
        words.append(f"of {_either(when.product_type)} products")
    if when.user_type:
        words.append(f"for {_either(when.user_type)} users")
    if when.organization_type:
        words.append(f"by {_either(when.organization_type)} organizations")
    return " ".join(words)


# --- models and rules -------------------------------------------------------------------


def _tier_words(
    lower: int,
    upper: int | None,
    tier: Tier,
    mode: str,
    currency: str,
    amount: AmountText,
    count: CountText,
) -> str:
    price = f"at {amount(tier.unit_price, currency)} each"
    if tier.flat:
        once = "once the tier is reached" if mode == "graduated" else "once"
        price += f" plus {amount(tier.flat, currency)} {once}"
    if upper is None:
        return f"above {count(lower)} {price}" if lower else f"every unit {price}"
    if mode == "graduated":
        if lower == 0:
            return f"the first {count(upper)} {price}"
        return f"the next {count(upper - lower)} {price}"
    # The bounds as a volume working names the tier the quantity falls in.
    return f"{tier_range(lower, upper, count)} {price}"


def _per_unit_words(
    model: PerUnitModel, currency: str, amount: AmountText, count: CountText
) -> str:
    head = f"per {singular_unit(model.unit)}"
    if len(model.tiers) == 1:
        tier = model.tiers[0]
        flat = f" plus {amount(tier.flat, currency)}" if tier.flat else ""
        return f"{head}: {amount(tier.unit_price, currency)} each{flat}"
    tiers = ", ".join(
        _tier_words(lower, upper, tier, model.mode, currency, amount, count)
        for lower, upper, tier in tier_bounds(model.tiers)
    )
    if model.mode == "graduated":
        return f"{head}, graduated: {tiers}"
    return f"{head}, volume (every unit at the price of the tier the total falls in): {tiers}"


def describe_model(
    model: Model, currency: str, *, amount: AmountText = _money, count: CountText = str
) -> str:
    """A model in words, lower case (the caller capitalises)."""
    if isinstance(model, FlatModel):
        fee = amount(model.amount, currency)
        return f"flat fee of {fee} a year (prorated)" if model.prorate else f"flat fee of {fee}"
    if isinstance(model, PerUnitModel):
        return _per_unit_words(model, currency, amount, count)
    if isinstance(model, PercentOfRevenueModel):
        return f"{percent_text(model.percent)}% of revenue"
    parts = "; ".join(
        f"({i}) {describe_model(part, currency, amount=amount, count=count)}"
        for i, part in enumerate(model.parts, 1)
    )
    return f"the sum of: {parts}"


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


def describe_rule(
    rule: Rule, currency: str, *, amount: AmountText = _money, count: CountText = str
) -> str:
    """What a rule charges, in words a licensing analyst or licensee reads: its
    amounts by `amount` and its tiers' bounds by `count` (pages and documents pass
    `money.price_in_words` and `money.format_quantity`, "above 1,000 at 12.00 USD
    each; minimum 1,000.00 USD a year")."""
    if rule.model is None:
        words = ["Goes to the educational permissions queue; no fee"]
    else:
        words = [_capitalised(describe_model(rule.model, currency, amount=amount, count=count))]
        if rule.minimum is not None:
            words.append(f"minimum {amount(rule.minimum, currency)} a year (prorated)")
        if rule.maximum is not None:
            words.append(f"maximum {amount(rule.maximum, currency)} a year (prorated)")
    if rule.review == "staff":
        words.append("staff review")
    return "; ".join(words)


def describe_adjustment(
    adjustment: Adjustment, *, condition: ConditionText = describe_condition
) -> str:
    percent = percent_text(adjustment.discount_percent)
    return f"{percent}% discount for {condition(adjustment.when)}"


# --- comparing two cards ------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """One difference between two cards.

    `kind` is "added", "removed", "changed" or "reordered"; `subject` is "card"
    (a top-level field), "rule" or "adjustment"; `key` is the field name or the
    rule's or adjustment's id (None for a reordering); `sentence` says it in words.
    """

    kind: str
    subject: str
    key: str | None
    sentence: str


_CARD_FIELDS = ("version", "title", "currency", "effective_from", "effective_to")


def _card_field_changes(old: RateCard, new: RateCard) -> list[Change]:
    changes = []
    for name in _CARD_FIELDS:
        before, after = getattr(old, name), getattr(new, name)
        if before != after:
            if name.startswith("effective_"):  # the sentinel end reads "open-ended"
                before, after = day_words(before), day_words(after)
            label = _capitalised(name.replace("_", " "))
            changes.append(
                Change("changed", "card", name, f"{label} changed from {before} to {after}.")
            )
    return changes


def _charge_words(rule: Rule, currency: str, amount: AmountText, count: CountText) -> str:
    if rule.model is None:
        return "goes to the educational permissions queue"
    return describe_model(rule.model, currency, amount=amount, count=count)


def _bound_difference(
    name: str, old: Decimal | None, new: Decimal | None, currency: str, amount: AmountText
) -> str:
    if old is not None and new is not None:
        return f"{name} from {amount(old, currency)} to {amount(new, currency)} a year"
    if new is not None:
        return f"{name} of {amount(new, currency)} a year added"
    if old is not None:
        return f"{name} of {amount(old, currency)} a year removed"
    return f"{name} unchanged"


def _rule_differences(
    old: Rule,
    new: Rule,
    currency: str,
    amount: AmountText,
    count: CountText,
    condition: ConditionText,
    review: ReviewText,
) -> list[str]:
    differences = []
    if old.description != new.description:
        # Quoted as a sentence quotes, not by Python's `repr` (its quotes and escapes).
        differences.append(
            f"description from \u201c{old.description}\u201d to \u201c{new.description}\u201d"
        )
    if old.when != new.when:
        differences.append(f"applies to {condition(new.when)} (was {condition(old.when)})")
    if (old.route, old.model) != (new.route, new.model):
        before = _charge_words(old, currency, amount, count)
        after = _charge_words(new, currency, amount, count)
        differences.append(f"charge now {after} (was {before})")
    for name in ("minimum", "maximum"):
        if getattr(old, name) != getattr(new, name):
            differences.append(
                _bound_difference(name, getattr(old, name), getattr(new, name), currency, amount)
            )
    if old.review != new.review:
        differences.append(f"review from {review(old.review)} to {review(new.review)}")
    return differences


def _rule_changes(
    old: RateCard,
    new: RateCard,
    amount: AmountText,
    count: CountText,
    condition: ConditionText,
    review: ReviewText,
) -> list[Change]:
    before = {rule.id: rule for rule in old.rules}
    after = {rule.id: rule for rule in new.rules}
    changes = []
    for position, rule in enumerate(new.rules, 1):
        if rule.id not in before:
            sentence = (
                f"Added rule {rule.id} at position {position}, for "
                f"{condition(rule.when)}: "
                f"{describe_rule(rule, new.currency, amount=amount, count=count)}."
            )
            changes.append(Change("added", "rule", rule.id, sentence))
        elif before[rule.id] != rule:
            differences = _rule_differences(
                before[rule.id], rule, new.currency, amount, count, condition, review
            )
            sentence = f"Changed rule {rule.id}: {'; '.join(differences)}."
            changes.append(Change("changed", "rule", rule.id, sentence))
    for rule in old.rules:
        if rule.id not in after:
            sentence = (
                f"Removed rule {rule.id}, which applied to "
                f"{condition(rule.when)}: "
                f"{describe_rule(rule, old.currency, amount=amount, count=count)}."
            )
            changes.append(Change("removed", "rule", rule.id, sentence))
    return changes


def _adjustment_changes(old: RateCard, new: RateCard, condition: ConditionText) -> list[Change]:
    before = {item.id: item for item in old.adjustments}
    after = {item.id: item for item in new.adjustments}

    def said(item: Adjustment) -> str:
        return describe_adjustment(item, condition=condition)

    changes = []
    for item in new.adjustments:
        if item.id not in before:
            sentence = f"Added adjustment {item.id}: {said(item)}."
            changes.append(Change("added", "adjustment", item.id, sentence))
        elif before[item.id] != item:
            sentence = (
                f"Changed adjustment {item.id}: now {said(item)} (was {said(before[item.id])})."
            )
            changes.append(Change("changed", "adjustment", item.id, sentence))
    for item in old.adjustments:
        if item.id not in after:
            sentence = f"Removed adjustment {item.id}: {said(item)}."
            changes.append(Change("removed", "adjustment", item.id, sentence))
    return changes


def _order_change(old_ids: Sequence[str], new_ids: Sequence[str], subject: str) -> list[Change]:
    # Only the ids in both cards: an addition or removal alone is not a reordering.
    kept_before = [item for item in old_ids if item in new_ids]
    kept_after = [item for item in new_ids if item in old_ids]
    if kept_before == kept_after:
        return []
    sentence = (
        f"The order of {subject}s changed (the first matching {subject} applies): "
        f"was {', '.join(kept_before)}; now {', '.join(kept_after)}."
    )
    return [Change("reordered", subject, None, sentence)]


def diff_cards(
    old: RateCard,
    new: RateCard,
    *,
    amount: AmountText = _money,
    count: CountText = str,
    condition: ConditionText = describe_condition,
    review: ReviewText = str,
) -> list[Change]:
    """What changed from `old` to `new`: top-level fields, then rules, then adjustments
    (amounts written by `amount` and tiers' bounds by `count`, as `describe_rule`;
    whom a rule or discount applies to by `condition`; a rule's review by `review`)."""
    return [
        *_card_field_changes(old, new),
        *_rule_changes(old, new, amount, count, condition, review),
        *_order_change([r.id for r in old.rules], [r.id for r in new.rules], "rule"),
        *_adjustment_changes(old, new, condition),
        *_order_change(
            [a.id for a in old.adjustments], [a.id for a in new.adjustments], "adjustment"
        ),
    ]


# --- what a correction changes for an agreement's uses (round 62) ------------------------


class UseAxes(Protocol):
    """The classification of a proposed use (`quote.ProposedUse`'s)."""

    use: str
    product_type: str
    user_type: str


def use_changes(
    old: RateCard,
    new: RateCard,
    uses: Sequence[UseAxes],
    organization_type: str,
    *,
    amount: AmountText = _money,
    count: CountText = str,
    condition: ConditionText = describe_condition,
    review: ReviewText = str,
) -> list[str]:
    """What `new` prices each of `uses` (numbered from 1) by that `old` did not, a
    sentence a use, for a correction's licensee (round 62, correction62: the email said
    no figure): the rule that matches it changed ("Use 1: rule distribution-software:
    charge now ... (was ...)."), another rule or none matches it now, or its discount
    changed. Empty when the new card prices every use by the same rules and discounts.
    Rules and figures only, never an amount: what the agreement costs is the office's
    to say (its prices are kept, or reissued by staff)."""
    said = []
    for number, use in enumerate(uses, 1):
        axes = (use.use, use.product_type, use.user_type, organization_type)
        was, now = old.rule_for(*axes), new.rule_for(*axes)
        parts = []
        if was is not None and now is not None and was.id == now.id:
            if was != now:
                differences = _rule_differences(
                    was, now, new.currency, amount, count, condition, review
                )
                parts.append(f"rule {now.id}: {'; '.join(differences)}")
        elif was != now:

            def rule(found: Rule | None, card: RateCard) -> str:
                if found is None:
                    return "no rule (the licensing office prices it by hand)"
                charged = describe_rule(found, card.currency, amount=amount, count=count)
                return f"rule {found.id} ({charged})"

            parts.append(f"priced by {rule(now, new)} (was {rule(was, old)})")
        was_off, now_off = old.adjustment_for(*axes), new.adjustment_for(*axes)
        if was_off != now_off:

            def off(found: Adjustment | None) -> str:
                return "none" if found is None else describe_adjustment(found, condition=condition)

            parts.append(f"discount now {off(now_off)} (was {off(was_off)})")
        if parts:
            said.append(f"Use {number}: {'; '.join(parts)}.")
    return said


# --- a price that changes many times over: a typed slip? -------------------------------

# A rule's price or a model's figure that becomes more than this many times what the
# card it follows says, or less than its 1/this, is warned of at the check (round 54;
# docs/pricing.md says why 2): a slip of a digit (27500.00 typed for 2750.00, a
# decimal point moved) changes a figure tenfold or more, and a yearly revision seldom
# doubles one. A warning, never a refusal: a real tenfold rise is possible.
LARGE_CHANGE_RATIO = Decimal(2)


@dataclass(frozen=True)
class PriceChangeWarning:
    """One figure that changed by more than the ratio (`LARGE_CHANGE_RATIO` unless the
    office configures another: `PRICE_CHANGE_RATIO`), or from or to nothing, against
    the card the checked card follows: the rule (or, for a discount, the adjustment's
    id, `discount` true), which figure (`figure`: "flat fee", "minimum", "unit price of
    the tier up to 100", "discount percent", "upper bound of tier 1", ...), its value on
    that card (`before`) and on the checked one (`after`), and `sentence` saying it."""

    rule: str
    figure: str
    before: Decimal
    after: Decimal
    sentence: str
    discount: bool = False

    @property
    def ratio(self) -> Decimal | None:
        """`after` / `before`; None when either is 0 (a rise from nothing, a fall to
        nothing: no ratio says it, round 55)."""
        if not self.before or not self.after:
            return None
        return self.after / self.before

    @property
    def is_percent(self) -> bool:
        """A percent (of revenue, or a discount's), not an amount of money."""
        return self.figure.endswith("percent of revenue") or self.figure == DISCOUNT_FIGURE

    @property
    def is_count(self) -> bool:
        """A tier's bound: a quantity, not an amount of money."""
        return BOUND_FIGURE in self.figure


DISCOUNT_FIGURE = "discount percent"
BOUND_FIGURE = "upper bound of tier"


def ratio_text(ratio: Decimal) -> str:
    """A ratio as the API gives it: two decimals from 1 up ("10.00"), two significant
    digits below ("0.50", "0.0010"): round 54's two decimals gave "0.00" for any cut
    to under 1/200 of a figure (27.50 typed for 27500.00)."""
    if ratio >= 1:
        return str(ratio.quantize(Decimal("0.01")))
    return f"{ratio.quantize(Decimal(1).scaleb(ratio.adjusted() - 1)):f}"


def plain_ratio(ratio: Decimal) -> str:
    """The office's ratio as a sentence says it: "2", "2.5"."""
    return f"{ratio.normalize():f}"


def _ratio_words(before: Decimal, after: Decimal) -> str:
    """ "10 times", "2.5 times" or "1/10 of": how many times over, to one decimal."""

    def plain(value: Decimal) -> str:
        text = f"{value.quantize(Decimal('0.1')):,f}"
        return text.removesuffix(".0")

    if after > before:
        return f"{plain(after / before)} times"
    return f"1/{plain(before / after)} of"


def _model_figures(model: Model | None, head: str = "") -> dict[str, Decimal]:
    """A model's figures by what they are ("flat fee", "unit price of the tier up to
    100", a sum's "part 2's percent of revenue"): a per-unit tier is named by the
    quantities it covers, so tiers compare band for band when their bounds stay."""
    if isinstance(model, FlatModel):
        return {f"{head}flat fee": model.amount}
    if isinstance(model, PercentOfRevenueModel):
        return {f"{head}percent of revenue": model.percent}
    if isinstance(model, PerUnitModel):
        figures: dict[str, Decimal] = {}
        unit = singular_unit(model.unit)
        for lower, upper, tier in tier_bounds(model.tiers):
            band = f" of the tier {tier_range(lower, upper)}" if len(model.tiers) > 1 else ""
            figures[f"{head}price per {unit}{band}"] = tier.unit_price
            figures[f"{head}tier flat fee{band}"] = tier.flat
        return figures
    if isinstance(model, SumModel):
        return {
            name: value
            for index, part in enumerate(model.parts, 1)
            for name, value in _model_figures(part, f"{head}part {index}'s ").items()
        }
    return {}


def _rule_figures(rule: Rule) -> dict[str, Decimal]:
    figures = _model_figures(rule.model)
    for name in ("minimum", "maximum"):
        value = getattr(rule, name)
        if value is not None:
            figures[name] = value
    return figures


@dataclass(frozen=True)
class _Compared:
    """A figure of the checked card and the one of the card it follows it is compared
    with: `old_figure` names the latter where it is not the same figure (a tier whose
    bounds moved is compared with the tier its first quantity fell in)."""

    figure: str
    then: Decimal
    now: Decimal
    old_figure: str = ""


def _moved_tiers(old: Model | None, new: Model | None, head: str = "") -> list[_Compared]:
    """For a per-unit model whose tier bounds moved (round 54 compared tiers only band
    for band, so a price in a moved tier was compared with nothing): each tier's bound
    against the same tier's on the old card where both have as many tiers, and each
    tier's price and flat fee against the old card's tier holding the tier's first
    quantity. Sums are walked part by part."""
    if isinstance(old, SumModel) and isinstance(new, SumModel):
        return [
            compared
            for index, (was, now) in enumerate(zip(old.parts, new.parts, strict=False), 1)
            for compared in _moved_tiers(was, now, f"{head}part {index}'s ")
        ]
    if not (isinstance(old, PerUnitModel) and isinstance(new, PerUnitModel)):
        return []
    was_bounds, now_bounds = tier_bounds(old.tiers), tier_bounds(new.tiers)
    if old.unit != new.unit or [b[:2] for b in was_bounds] == [b[:2] for b in now_bounds]:
        return []
    unit = singular_unit(old.unit)
    compared: list[_Compared] = []
    if len(was_bounds) == len(now_bounds):
        for index, ((_, was_upper, _), (_, now_upper, _)) in enumerate(
            zip(was_bounds, now_bounds, strict=True), 1
        ):
            if was_upper is not None and now_upper is not None and was_upper != now_upper:
                compared.append(
                    _Compared(
                        f"{head}{BOUND_FIGURE} {index}", Decimal(was_upper), Decimal(now_upper)
                    )
                )
    for lower, upper, tier in now_bounds:
        first = lower + 1
        held = next(
            (b for b in was_bounds if b[0] < first and (b[1] is None or first <= b[1])), None
        )
        if held is None or (held[0], held[1]) == (lower, upper):
            continue
        band = f" of the tier {tier_range(lower, upper)}"
        was_band = f" of the tier {tier_range(held[0], held[1])}"
        compared.append(
            _Compared(
                f"{head}price per {unit}{band}",
                held[2].unit_price,
                tier.unit_price,
                f"{head}price per {unit}{was_band}",
            )
        )
        compared.append(
            _Compared(
                f"{head}tier flat fee{band}",
                held[2].flat,
                tier.flat,
                f"{head}tier flat fee{was_band}",
            )
        )
    return compared


def _compared(old: Rule, new: Rule) -> list[_Compared]:
    """The figures of `new` compared with `old`'s: band for band, then tiers moved."""
    was = _rule_figures(old)
    same = [
        _Compared(figure, was[figure], now)
        for figure, now in _rule_figures(new).items()
        if figure in was
    ]
    return same + _moved_tiers(old.model, new.model)


def _warned(then: Decimal, now: Decimal, ratio: Decimal) -> bool:
    """Many times over, or from or to nothing (round 55: a rise from 0 has no ratio and
    was never warned of: a flat fee of 0.00 typed 27500.00, a discount of 10 typed 100)."""
    if then == now:
        return False
    if not then or not now:
        return True
    return not then * ratio >= now >= then / ratio


def price_change_warnings(
    old: RateCard,
    new: RateCard,
    *,
    ratio: Decimal = LARGE_CHANGE_RATIO,
    amount: AmountText = _money,
) -> list[PriceChangeWarning]:
    """The figures of `new`'s rules that are more than `ratio` times, or less than
    1/`ratio` of, the same rule's same figure on `old` (the card it follows), or that
    rise from 0 or fall to 0, in `new`'s rule order, then its discounts': "Rule
    development's flat fee is 10 times that on 2026.1: 27500.00 on 2027.1, 2750.00 on
    2026.1. Check it is not a slip of a digit." A per-unit tier whose bounds moved is
    compared with the old tier holding its first quantity, and a bound moved as much is
    warned of itself; a discount's percent is compared as a figure, and one becoming
    100% says it prices its uses at nothing. A percent is compared as a percent. A
    warning, not a refusal (round 54; round 55 the discounts, 0 and moved tiers)."""
    before = {rule.id: rule for rule in old.rules}
    warnings = []

    def said(value: Decimal, figure: str) -> str:
        if figure.endswith("of revenue") or figure == DISCOUNT_FIGURE:
            return f"{percent_text(value)}%"
        if BOUND_FIGURE in figure:
            return f"{value:,f}"
        return amount(value, new.currency)

    def changed(then: Decimal, now: Decimal, old_figure: str) -> str:
        if not then:
            return f"rises from nothing on {old.version}:"
        if not now:
            return f"falls to nothing from {old.version}:"
        whose = (
            f"{_figure_words(old_figure)} on {old.version}"
            if old_figure
            else f"that on {old.version}"
        )
        return f"is {_ratio_words(then, now)} {whose}:"

    for rule in new.rules:
        if rule.id not in before:
            continue
        for compared in _compared(before[rule.id], rule):
            then, now, figure = compared.then, compared.now, compared.figure
            if not _warned(then, now, ratio):
                continue
            sentence = (
                f"Rule {rule.id}'s {_figure_words(figure)} "
                f"{changed(then, now, compared.old_figure)} {said(now, figure)} on "
                f"{new.version}, {said(then, figure)} on {old.version}. {_check(then, now)}"
            )
            warnings.append(PriceChangeWarning(rule.id, figure, then, now, sentence))
    discounts = {adjustment.id: adjustment for adjustment in old.adjustments}
    for adjustment in new.adjustments:
        was = discounts.get(adjustment.id)
        if was is None:
            continue
        then, now = was.discount_percent, adjustment.discount_percent
        if not _warned(then, now, ratio):
            continue
        free = (
            " Every use it matches is then priced at nothing but its minimum." if now == 100 else ""
        )
        sentence = (
            f"Discount {adjustment.id}'s {DISCOUNT_FIGURE} "
            f"{changed(then, now, '')} {said(now, DISCOUNT_FIGURE)} on "
            f"{new.version}, {said(then, DISCOUNT_FIGURE)} on {old.version}.{free} "
            f"{_check(then, now)}"
        )
        warnings.append(
            PriceChangeWarning(adjustment.id, DISCOUNT_FIGURE, then, now, sentence, discount=True)
        )
    return warnings


def _check(then: Decimal, now: Decimal) -> str:
    """What a warning asks the owner to check: a figure many times over is a digit
    typed too many or too few; one from or to nothing is no such slip (round 56: it
    said so of a fee deleted or first charged), but a figure put in or left out."""
    if then and now:
        return "Check it is not a slip of a digit."
    return "Check it is meant, not a figure typed in the wrong place or deleted."


def _figure_words(figure: str) -> str:
    """A figure's name as a warning's sentence says it (round 56): a tier's flat fee is
    "flat fee of the tier ..." (it read "tier flat fee of the tier ...") and a tier's
    bounds are grouped in thousands as the card's page writes them ("101 to 1,000").
    The figure's own name (the API's `figure`) is unchanged."""
    words = figure.replace("tier flat fee of the tier", "flat fee of the tier")
    return re.sub(r"\b\d{4,}\b", lambda digits: f"{int(digits.group()):,}", words)


# --- a card that runs long: what proration makes of its prorated amounts ------------------

# The default of `LONG_CARD_DAYS` (ten years, with their leap days at most): a card of
# more days "runs long", and a prorated amount over a one-year term is under a tenth of
# what the card says. The core keeps no configuration: the edges pass the configured
# number to `runs_long`, `proration_warnings` and `term_proration_warnings` (round 44).
LONG_PERIOD_DAYS = 3653


@dataclass(frozen=True)
class ProrationWarning:
    """One prorated amount of a card that runs open-ended or longer than the office's
    threshold (`LONG_CARD_DAYS`): the rule, which amount (`name`: "flat fee",
    "minimum" or "maximum"), the amount the card gives, and what the contract's
    proration makes of it over a term (`term_start`, `term_end`; the check's: the
    term the service would propose on the card that day, `warned_term`; a quote's:
    its own), rounded as a line's amount is; `sentence` says it."""

    rule: str
    name: str
    amount: Decimal
    prorated: Decimal
    term_start: date
    term_end: date
    sentence: str

    @property
    def term_words(self) -> str:
        """The term, after "for": "a one-year term", or "the 117-day term" when the
        card's last day cuts it short."""
        return _term_words(self.term_start, self.term_end)


def _term_words(start: date, end: date) -> str:
    if end == proposed_term(start, None, earliest=start)[1]:
        return "a one-year term"
    return f"the {(end - start).days + 1:,}-day term"


def runs_long(card: RateCard, long_period_days: int) -> bool:
    """Whether the card runs open-ended or longer than `long_period_days` (the
    configured `LONG_CARD_DAYS`)."""
    return card.open_ended or card.period_days > long_period_days


def long_period_words(long_period_days: int) -> str:
    """The threshold in words, after "longer than": "ten years" for the default,
    else its days ("1,000 days")."""
    return "ten years" if long_period_days == LONG_PERIOD_DAYS else f"{long_period_days:,} days"


def _prorated_amounts(rule: Rule) -> list[tuple[str, Decimal]]:
    """The rule's amounts the contract prorates: flat fees with `prorate` (in a sum
    too), its minimum and its maximum."""

    def flat_fees(model: Model | None) -> list[Decimal]:
        if isinstance(model, FlatModel):
            return [model.amount] if model.prorate else []
        if isinstance(model, SumModel):
            return [fee for part in model.parts for fee in flat_fees(part)]
        return []

    found = [("flat fee", fee) for fee in flat_fees(rule.model)]
    bounds = (("minimum", rule.minimum), ("maximum", rule.maximum))
    found += [(name, value) for name, value in bounds if value is not None]
    return found


def _money_and_currency(amount: Decimal, currency: str) -> str:
    return f"{exact_amount(amount, currency)} {currency}"


def proration_warnings(
    card: RateCard,
    *,
    long_period_days: int,
    today: date,
    amount: AmountText = _money_and_currency,
) -> list[ProrationWarning]:
    """For a card that runs long (`runs_long`), each prorated amount over the term the
    service would propose on it `today` (`warned_term`), by the contract's proration
    and rounding (`Scale`, as a quote computes it): "Prorated over its period to
    9999-12-31, the development flat fee of 5000.00 USD would be 0.63 USD for a
    one-year term from 2028-01-01." Empty for any other card. A warning, not a
    refusal: the contract makes such a card valid (round 42)."""
    if not runs_long(card, long_period_days):
        return []
    start, end = warned_term(card, today)
    last = card.effective_to.isoformat()
    term = f"{_term_words(start, end)} from {start.isoformat()}"
    return _warnings(
        card,
        start,
        end,
        card.rules,
        lambda rule, name, value, prorated: (
            f"Prorated over its period to {last}, the {rule} {name} of "
            f"{amount(value, card.currency)} would be {amount(prorated, card.currency)} "
            f"for {term}."
        ),
    )


def warned_term(card: RateCard, today: date) -> tuple[date, date]:
    """The term a long card's warning prices (`proration_warnings`): the one the
    service would propose on it `today` (`ratecard.proposed_term` with `earliest=`):
    from its first day while it is not yet in effect, from `today` once it is, for a
    year, never past its last day. Round 45: it was always a year from the card's
    first day, for a card in effect since long ago a year gone by. A card already
    over proposes nothing: a year from its first day, what it charged."""
    earliest = today if today <= card.effective_to else card.effective_from
    return proposed_term(card.effective_from, card.effective_to, earliest=earliest)


def term_proration_warnings(
    card: RateCard,
    start: date,
    end: date,
    rule_ids: Sequence[str | None],
    *,
    long_period_days: int,
    amount: AmountText = _money_and_currency,
) -> list[ProrationWarning]:
    """What a quote on `card` for the term `start` to `end` is told of the rules it
    priced with (`rule_ids`, a quote's lines' rules, in order; each once): for a
    card that runs long, each prorated amount of those rules over that term, as
    the quote prorates and rounds it: "Rate card 2028.1 runs to 9999-12-31
    (2,911,713 days) and the contract prorates over all of it: the development flat
    fee of 5000.00 USD is 0.63 USD for this term of 366 days." Empty for any other
    card, and for rules with nothing prorated. The contract is exact on proration
    (`days(term) / days(card period)`), so a quote is priced by it and warned, never
    priced otherwise (round 44)."""
    if not runs_long(card, long_period_days):
        return []
    wanted = dict.fromkeys(rule_id for rule_id in rule_ids if rule_id is not None)
    by_id = {rule.id: rule for rule in card.rules}
    rules = [by_id[rule_id] for rule_id in wanted if rule_id in by_id]
    head = (
        f"Rate card {card.version} runs to {card.effective_to.isoformat()} "
        f"({card.period_days:,} days) and the contract prorates over all of it"
    )
    days = (end - start).days + 1
    return _warnings(
        card,
        start,
        end,
        rules,
        lambda rule, name, value, prorated: (
            f"{head}: the {rule} {name} of {amount(value, card.currency)} is "
            f"{amount(prorated, card.currency)} for this term of {days:,} "
            f"{'day' if days == 1 else 'days'}."
        ),
    )


def _warnings(
    card: RateCard,
    start: date,
    end: date,
    rules: Sequence[Rule],
    say: Callable[[str, str, Decimal, Decimal], str],
) -> list[ProrationWarning]:
    scale = Scale(Fraction((end - start).days + 1, card.period_days), minor_units(card.currency))
    warnings = []
    for rule in rules:
        for name, value in _prorated_amounts(rule):
            prorated = scale.round(scale.prorated(value))
            sentence = say(rule.id, name, value, prorated)
            warnings.append(ProrationWarning(rule.id, name, value, prorated, start, end, sentence))
    return warnings
