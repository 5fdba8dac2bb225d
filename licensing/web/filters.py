"""Jinja filters for the way pages show money, time and the pricing vocabulary."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from functools import lru_cache

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


# The vocabulary's identifiers and states are few and a list page shows each on every
# row: each is put in words once per process.
@lru_cache(maxsize=1024)
def humanize(value: str | None) -> str:
    """`end_users` -> `end users`, `saas` -> `SaaS`: an identifier in words."""
    words = (value or "").replace("_", " ").split(" ")
    return " ".join(ACRONYMS.get(word, word) for word in words)


@lru_cache(maxsize=1024)
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


# Labels of fields whose errors come back by path (services, hand-built forms), in
# the words their pages use. A path's parts are looked up here, else read as words.
FIELD_LABELS = {
    "attest": "Confirmation that the information is accurate",
    "authority_confirmed": "Authority to sign",
    "signer_name": "Your name",
    "signer_title": "Your title",
    "term": "The term",
    "term_start": "Term starts",
    "term_end": "Term ends",
    "term_reason": "Reason for a change of term",
    "start": "starts",
    "end": "ends",
    "rate_card": "Rate card",
    "action": "Decision",
    "reason": "Reason",
    "amount": "Amount",
    "assignee_id": "Assigned to",
    "body": "Note",
    "lines": "Prices of the uses",
    "uses": "Uses",
    "revenue": "Expected annual revenue",
    "quantity": "Expected number of",
    "term.start": "License term starts",
    "term.end": "License term ends",
}
# A collection's items are numbered from 1, as the forms number them ("Use 1").
_ITEM_NAMES = {"uses": "Use", "lines": "Use", "rows": "Row"}
# `reason-0`, `amount-2`: a per-use input of a hand-built form.
_PER_ITEM = re.compile(r"^([a-z_]+)-(\d+)$")
# Wording meant for API clients, and what a page says instead.
_PAGE_WORDING = (
    ("; name one with rate_card.", "; choose a published rate card for the term."),
    ("rate_card", "rate card"),
)


_SEPARATOR = " \N{SINGLE RIGHT-POINTING ANGLE QUOTATION MARK} "


def field_words(path: str) -> str:
    """`uses.0.quantity.end_users` -> `Use 1 > expected number of end users` (with a
    typographic angle); `reason-0` -> `Use 1 > Reason`; `_` (the whole form) -> ``."""
    if path in ("", "_", "__all__"):
        return ""
    if path in FIELD_LABELS:
        return FIELD_LABELS[path]
    per_item = _PER_ITEM.match(path)
    if per_item:
        name, index = per_item.groups()
        return f"Use {int(index) + 1}{_SEPARATOR}{FIELD_LABELS.get(name, vocab(name))}"
    words: list[str] = []
    parts = path.split(".")
    for position, part in enumerate(parts):
        if part.isdigit():
            collection = parts[position - 1] if position else ""
            words.append(f"{_ITEM_NAMES.get(collection, 'Item')} {int(part) + 1}")
        elif position + 1 < len(parts) and parts[position + 1].isdigit():
            continue  # named by its item: "Use 1", not "Uses, Use 1"
        elif position and parts[position - 1] == "quantity":
            words[-1] = f"{words[-1]} {humanize(part)}"
        else:
            words.append(FIELD_LABELS.get(part, humanize(part)))
    text = _SEPARATOR.join(words)
    return text[:1].upper() + text[1:]


# A term across two cards' periods: what a first-time licensee can do about it
# (the estimator's and the application's pages alike).
_ACROSS_CARDS = re.compile(
    r"(must lie wholly inside the period of rate card \S+, "
    r"(\d{4}-\d{2}-\d{2}) to (\d{4}-\d{2}-\d{2}))(?!:)"
)


def page_wording(message: str) -> str:
    """A service's message as a page should say it (no API field names)."""
    for api, page in _PAGE_WORDING:
        message = message.replace(api, page)
    return _ACROSS_CARDS.sub(
        r"\1: keep the term within \2 to \3; a license is renewed for the next period "
        r"on the next card",
        message,
    )


def register(app: Flask) -> None:
    app.jinja_env.filters["field_words"] = field_words
    app.jinja_env.filters["page_wording"] = page_wording
    app.jinja_env.filters["money"] = money
    app.jinja_env.filters["when"] = when
    app.jinja_env.filters["humanize"] = humanize
    app.jinja_env.filters["vocab"] = vocab
    app.jinja_env.filters["working"] = working
    app.jinja_env.filters["proration"] = proration
    app.jinja_env.filters["end_sentence"] = end_sentence
    app.jinja_env.filters["deadline"] = deadline
