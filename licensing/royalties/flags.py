"""The warnings (anomaly flags) a filed report raises, in words.

Each warning is composed here, every figure with its unit in words and grouped as
pages write figures ("1,200 end users", "12,900.00 USD"; ungrouped until round 13),
and stored as a sentence with the report. Reports filed before a
wording changed keep their sentences as stored (records are not rewritten); pages
and the API read them through `in_words`, which recognizes each earlier wording and
says it again as a warning composed today would: the unit's key in words (`end_users`
-> "end users", as the pages and PDFs say it), and the figures with their units.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from decimal import Decimal

from licensing.money import format_quantity as _count
from licensing.money import in_words as _amount
from licensing.words import humanize

DROP = "(a drop of more than 20%)"


def customers(count: int) -> str:
    return f"{_count(count)} customer" if count == 1 else f"{_count(count)} customers"


def customer_drop(line: int, unit: str, count: int, before: int) -> str:
    """Fewer of a line's customers reported a unit than last period."""
    return (
        f"Line {line}, {humanize(unit)}: {customers(count)} against {_count(before)} last "
        f"period {DROP}."
    )


def quantity_drop(line: int, unit: str, quantity: int, before: int) -> str:
    """A line's total of a unit fell against last period."""
    words = humanize(unit)
    return (
        f"Line {line}: {_count(quantity)} {words} in all against {_count(before)} {words} last "
        f"period {DROP}."
    )


def customer_fall(customer: str, line: int, was: int, now: int, unit: str) -> str:
    """One customer's quantity fell (a part of `falling_customers`)."""
    return f"{customer} on line {line}: {_count(was)} to {_count(now)} {humanize(unit)}"


def falling_customers(count: int, shown: Iterable[str], more: int) -> str:
    """The customers whose quantity fell: the first few named, the rest counted."""
    verb = "reports" if count == 1 else "report"
    rest = f" and {_count(more)} more" if more > 0 else ""
    return f"{customers(count)} {verb} less than last period ({'; '.join(shown)}{rest})."


def below_estimate(line: int, unit: str, reported: int, estimate: int | Decimal) -> str:
    """At the last period, a unit's usage to date below half the application's estimate."""
    words = humanize(unit)
    return (
        f"Line {line}: {_count(reported)} {words} for the term, less than half the "
        f"{_count(estimate)} {words} estimated in the application."
    )


def revenue_below_estimate(line: int, revenue: Decimal, estimate: Decimal, currency: str) -> str:
    """At the last period, revenue to date below half the application's estimate."""
    return (
        f"Line {line}: revenue {_amount(revenue, currency)} for the term, "
        f"less than half the {_amount(estimate, currency)} estimated."
    )


# --- the earlier wordings of stored warnings ---------------------------------------------------

# A unit as a warning stored it: its key (`end_users`) or, since round 7, in words.
_UNIT = r"(?P<unit>[^\W\d][\w ]*?)"
_NUMBER = r"\d+(?:\.\d+)?"

_Reword = Callable[[re.Match[str], str], str]


def _customer_drop(found: re.Match[str], _currency: str) -> str:
    return customer_drop(
        int(found["line"]), found["unit"], int(found["count"]), int(found["before"])
    )


def _quantity_drop(found: re.Match[str], _currency: str) -> str:
    return quantity_drop(
        int(found["line"]), found["unit"], int(found["quantity"]), int(found["before"])
    )


def _below_estimate(found: re.Match[str], _currency: str) -> str:
    return below_estimate(
        int(found["line"]), found["unit"], int(found["reported"]), Decimal(found["estimate"])
    )


def _revenue_below_estimate(found: re.Match[str], currency: str) -> str:
    return revenue_below_estimate(
        int(found["line"]), Decimal(found["revenue"]), Decimal(found["estimate"]), currency
    )


def _falling_customers(found: re.Match[str], _currency: str) -> str:
    # Only the figures and units are said again: a customer's id is the licensee's,
    # kept as filed.
    def fall(each: re.Match[str]) -> str:
        was, now = int(each["was"]), int(each["now"])
        return f": {_count(was)} to {_count(now)} {humanize(each['unit'])}"

    text = _FALL.sub(fall, found.group(0))
    text = _MORE.sub(lambda more: f" and {_count(int(more['more']))} more).", text)
    return _LEADING_COUNT.sub(lambda count: _count(int(count.group(0))), text)


# One customer's fall inside the list, its unit ending at "; ", " and N more)" or ")".
_FALL = re.compile(rf": (?P<was>\d+) to (?P<now>\d+) {_UNIT}(?=; | and [\d,]+ more\)\.$|\)\.$)")
_MORE = re.compile(r" and (?P<more>\d+) more\)\.$")
_LEADING_COUNT = re.compile(r"^\d+")

_EARLIER: tuple[tuple[re.Pattern[str], _Reword], ...] = (
    (
        re.compile(
            rf"^Line (?P<line>\d+), {_UNIT}: (?P<count>\d+) customers? against "
            rf"(?P<before>\d+) last period \(a drop of more than 20%\)\.$"
        ),
        _customer_drop,
    ),
    (
        # Before round 8: "Line 1, end_users: 40 in all against 100 last period ...".
        re.compile(
            rf"^Line (?P<line>\d+), {_UNIT}: (?P<quantity>\d+) in all against "
            rf"(?P<before>\d+) last period \(a drop of more than 20%\)\.$"
        ),
        _quantity_drop,
    ),
    (
        # Before round 8: "... less than half the 10 estimated in the application."
        re.compile(
            rf"^Line (?P<line>\d+): (?P<reported>\d+) {_UNIT} for the term, less than half "
            rf"the (?P<estimate>{_NUMBER}) estimated in the application\.$"
        ),
        _below_estimate,
    ),
    (
        # Before round 8: the amounts without their currency.
        re.compile(
            rf"^Line (?P<line>\d+): revenue (?P<revenue>{_NUMBER}) for the term, less than "
            rf"half the (?P<estimate>{_NUMBER}) estimated\.$"
        ),
        _revenue_below_estimate,
    ),
    (re.compile(r"^\d+ customers? reports? less than last period \(.*\)\.$"), _falling_customers),
    # Rounds 8 to 12: today's wordings with the figures ungrouped ("1200 end users").
    (
        re.compile(
            rf"^Line (?P<line>\d+): (?P<quantity>\d+) {_UNIT} in all against "
            rf"(?P<before>\d+) (?P=unit) last period \(a drop of more than 20%\)\.$"
        ),
        _quantity_drop,
    ),
    (
        re.compile(
            rf"^Line (?P<line>\d+): (?P<reported>\d+) {_UNIT} for the term, less than half "
            rf"the (?P<estimate>{_NUMBER}) (?P=unit) estimated in the application\.$"
        ),
        _below_estimate,
    ),
    (
        re.compile(
            rf"^Line (?P<line>\d+): revenue (?P<revenue>{_NUMBER}) [A-Z]{{3}} for the term, "
            rf"less than half the (?P<estimate>{_NUMBER}) [A-Z]{{3}} estimated\.$"
        ),
        _revenue_below_estimate,
    ),
)


def in_words(stored: Iterable[str], currency: str) -> list[str]:
    """A report's stored warnings as today's warnings say them (see the module's
    note); a sentence in no known wording is shown as stored."""
    return [_reworded(flag, currency) for flag in stored]


def _reworded(flag: str, currency: str) -> str:
    for pattern, reword in _EARLIER:
        found = pattern.match(flag)
        if found is not None:
            return reword(found, currency)
    return flag
