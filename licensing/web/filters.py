"""Jinja filters for the way pages show money and time."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from flask import Flask

from licensing.money import MoneyError, format_amount


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
    return (value or "").replace("_", " ")


def register(app: Flask) -> None:
    app.jinja_env.filters["money"] = money
    app.jinja_env.filters["when"] = when
    app.jinja_env.filters["humanize"] = humanize
