"""A decimal context in which any arithmetic fails loudly."""

from __future__ import annotations

import decimal
from contextlib import AbstractContextManager


def no_decimal_arithmetic() -> AbstractContextManager[decimal.Context]:
    """Every decimal signal trapped, at one digit of precision: code that only
    reads a number's sign, digits and exponent runs unchanged, while any
    arithmetic on a large or long number (rounding it, scaling it, `abs`)
    raises a `decimal.DecimalException`. A check that work is bounded, without
    timing it."""
    signals = [
        decimal.Clamped,
        decimal.DivisionByZero,
        decimal.Inexact,
        decimal.InvalidOperation,
        decimal.Overflow,
        decimal.Rounded,
        decimal.Subnormal,
        decimal.Underflow,
        decimal.FloatOperation,
    ]
    return decimal.localcontext(decimal.Context(prec=1, Emax=9, Emin=-9, traps=signals))
