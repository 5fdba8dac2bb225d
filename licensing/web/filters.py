"""Jinja filters for the way pages show money, time and the pricing vocabulary."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from flask import Flask

from licensing import calendar
from licensing.money import MoneyError, format_amount

# Words of the vocabulary that are acronyms: "saas" reads "SaaS", not "Saas".
ACRONYMS = {"saas": "SaaS", "ai": "AI", "ach": "ACH", "api": "API", "cpt": "CPT"}
# A vocabulary identifier inside a sentence of working: "end_users", "internal_use".
_IDENTIFIER = re.compile(r"\b[a-z]+(?:_[a-z]+)+\b")
# An exact fraction with its decimal approximation: "36200/73 (about 495.890411)".
_FRACTION_ABOUT = re.compile(r"-?\d+/\d+ \(about (-?\d+(?:\.\d+)?)\)")


def money(amount: Decimal | None, currency: str = "USD") -> str:
    """`33800` -> `33,800.00`: exact minor-unit digits, thousands separated."""
    if amount is None:
        return "—"
    try:
        text = format_amount(Decimal(amount), currency)
    except MoneyError:
        return str(amount)
    whole, _, fraction = text.lstrip("-").partition(".")
    sign = "-" if text.startswith("-") else ""
    grouped = f"{int(whole):,}"
    return f"{sign}{grouped}.{fraction}" if fraction else f"{sign}{grouped}"


def when(value: datetime | date | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return value.isoformat()


def humanize(value: str | None) -> str:
    """`end_users` -> `end users`, `saas` -> `SaaS`: an identifier in words."""
    words = (value or "").replace("_", " ").split(" ")
    return " ".join(ACRONYMS.get(word, word) for word in words)


def vocab(value: str | None) -> str:
    """A vocabulary value as a label: `ai_model` -> `AI model`, `data_file` -> `Data file`."""
    text = humanize(value)
    return text[:1].upper() + text[1:]


def working(step: str) -> str:
    """A step of a quote's working in a vendor's words: identifiers in words, and an
    exact fraction shown by its decimal value only ("about 495.890411"), which is
    what the rounding step rounds."""
    text = _FRACTION_ABOUT.sub(lambda found: f"about {found.group(1)}", step)
    return _IDENTIFIER.sub(lambda found: humanize(found.group(0)), text)


def proration(value: Fraction | str) -> str:
    """A quote's proration factor in words: the whole period, or its share of it."""
    factor = Fraction(value)
    if factor == 1:
        return "the whole rate card period (no proration)"
    share = Decimal(factor.numerator * 100) / Decimal(factor.denominator)
    percent = share.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return f"prorated to {percent}% of the rate card period"


def end_sentence(text: str | None) -> str:
    """`text` ending with one full stop: "Acme Software, Inc." is not followed by another."""
    value = (text or "").rstrip()
    return value if value.endswith((".", "!", "?")) else f"{value}."


def deadline(value: datetime | None) -> str:
    """A deadline at the office, in its time zone (`calendar.deadline_text`)."""
    return "—" if value is None else calendar.deadline_text(value)


def register(app: Flask) -> None:
    app.jinja_env.filters["money"] = money
    app.jinja_env.filters["when"] = when
    app.jinja_env.filters["humanize"] = humanize
    app.jinja_env.filters["vocab"] = vocab
    app.jinja_env.filters["working"] = working
    app.jinja_env.filters["proration"] = proration
    app.jinja_env.filters["end_sentence"] = end_sentence
    app.jinja_env.filters["deadline"] = deadline
