"""CSV cells the database writes: exactly the text `formats.write_csv` gives.

The Python writer (`formats.write_csv`) is the reference. Where a dataset is
large and its columns are plain (`invoice_lines`), the SELECT itself returns
each row as its CSV text, so Python only joins lines: fetching one text column
instead of a dozen typed ones, then converting and quoting each in Python, was
most of an export's time (profiled at 100,000 lines). Each function here
returns an expression for one cell, never NULL (NULL is an empty cell, as the
csv module writes None), on SQLite or PostgreSQL:

- text: made formula-safe (a leading `= + - @`, tab or carriage return gets an
  apostrophe), then quoted as the csv module quotes with its defaults: only a
  value holding a comma, a double quote, a carriage return or a line feed, with
  double quotes doubled;
- integer: its decimal digits;
- date: YYYY-MM-DD;
- money: the stored amount rounded half-even to the currency's minor-unit
  digits (what `Decimal.quantize` does), `-` before any negative amount, even
  one that rounds to zero (`-0.00`, as `f"{Decimal('-0.001').quantize(...):f}"`):
  on SQLite in integer arithmetic on the stored 1/10,000ths, on PostgreSQL
  with `round()` on the NUMERIC and the two cases where it differs. An amount
  in a currency `licensing.money` does not know is NULL, never two digits
  guessed: currencies are checked when they are stored, so one in the database
  is corruption, and the Python writer refuses it (`money.minor_units` raises).
  The NULL makes the whole line NULL (`||` with NULL is NULL on both
  databases); the dataset then raises the same error with `refuse_line()`.

`tests/integration/exports/test_sql_csv.py` compares these with the Python
writer on generated hostile text and amounts, on both databases.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, NoReturn

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    Numeric,
    Select,
    String,
    case,
    cast,
    func,
    literal,
    literal_column,
    type_coerce,
)
from sqlalchemy import (
    text as sql,
)
from sqlalchemy.orm import Session

from licensing.db import MONEY_SCALE
from licensing.exports.base import DATE, INTEGER, MONEY, TEXT
from licensing.exports.formats import FORMULA_STARTS, formula_safe, value_text
from licensing.money import CURRENCIES, minor_units

SQLITE = "sqlite"
_QUOTED = (",", '"', "\r", "\n")


def prepare(session: Session) -> str:
    """The session's database ("sqlite" or "postgresql"), made ready to format.

    On PostgreSQL, JIT compilation is turned off for the export's transaction:
    compiling these long expressions (tens of CASE branches per line) took
    longer than the export it would speed up (1.8 s of JIT for 200,000 lines
    when the planner's estimate crossed `jit_above_cost`, measured)."""
    dialect = session.get_bind().dialect.name
    if dialect != SQLITE:
        session.execute(sql("SET LOCAL jit = off"))
    return dialect


def python_cell(kind: str, value: Any) -> str:
    """One cell as `formats.write_csv` writes it, computed in Python (for a
    value the database cannot format: a ledger's account, an office day)."""
    if value is None:
        return ""
    text = value_text(kind, value)
    if kind == TEXT:
        text = formula_safe(text)
    if any(character in text for character in _QUOTED):  # what the csv module quotes
        return '"' + text.replace('"', '""') + '"'
    return text


def constant_cell(value: str | None) -> str:
    """A text cell computed once in Python (a constant the SELECT carries)."""
    return python_cell(TEXT, value)


def _text(value: Any) -> ColumnElement[str]:
    return type_coerce(value, String())


def _contains(dialect: str, value: ColumnElement[str], character: str) -> ColumnElement[bool]:
    found = func.instr(value, character) if dialect == SQLITE else func.strpos(value, character)
    return found > 0


def _starts_a_formula(dialect: str, text: ColumnElement[str]) -> ColumnElement[bool]:
    if dialect == SQLITE:
        return func.substr(text, 1, 1).in_(FORMULA_STARTS)
    # PostgreSQL: the first character's code compared as integers, without
    # making a substring of every value (a twentieth of the export's server
    # time at 200,000 lines); `ascii('')` is 0.
    return func.ascii(text).in_([ord(start) for start in FORMULA_STARTS])


def text_cell(dialect: str, value: Any) -> ColumnElement[str]:
    text = _text(value)
    safe = case(
        (_starts_a_formula(dialect, text), literal("'", String()) + text),
        else_=text,
    )
    needs_quotes = _contains(dialect, text, _QUOTED[0])
    for character in _QUOTED[1:]:
        needs_quotes = needs_quotes | _contains(dialect, text, character)
    quoted = literal('"', String()) + func.replace(safe, '"', '""') + literal('"', String())
    return func.coalesce(case((needs_quotes, quoted), else_=safe), "")


def integer_cell(value: Any) -> ColumnElement[str]:
    return func.coalesce(cast(value, String()), "")


def date_cell(dialect: str, value: Any) -> ColumnElement[str]:
    # SQLite keeps a date as its ISO text already; PostgreSQL's text form
    # depends on DateStyle, so it is spelled out.
    if dialect == SQLITE:
        return func.coalesce(_text(value), "")
    return func.coalesce(func.to_char(value, "YYYY-MM-DD"), "")


def _units(value: Any) -> ColumnElement[int]:
    """SQLite: the stored amount, an integer of 1/10,000ths (licensing.db.Money)."""
    return type_coerce(value, BigInteger())


def _divided(units: ColumnElement[int], by: int) -> ColumnElement[int]:
    """Integer division of a non-negative integer (SQLAlchemy's `//` adds FLOOR(),
    which SQLite may lack)."""
    return units.op("/", precedence=8, return_type=BigInteger())(by)


def _rounded(units: ColumnElement[int], digits: int) -> ColumnElement[int]:
    """|units| in the currency's minor units, rounded half to even."""
    step = 10 ** (MONEY_SCALE - digits)
    if step == 1:
        return func.abs(units)
    whole = _divided(func.abs(units), step)
    rest = func.abs(units) % step
    up = (rest * 2 > step) | ((rest * 2 == step) & (whole % 2 == 1))
    return whole + case((up, 1), else_=0)


def _digits_text(units: ColumnElement[int], digits: int) -> ColumnElement[str]:
    """SQLite: the amount from its 1/10,000ths, half-even to `digits`, as text."""
    minor = _rounded(units, digits)
    sign = case((units < 0, "-"), else_="")
    if digits == 0:
        return sign + cast(minor, String())
    scale = 10**digits
    return sign + func.printf(f"%d.%0{digits}d", _divided(minor, scale), minor % scale)


def _currencies_by_digits() -> dict[int, tuple[str, ...]]:
    by_digits: dict[int, list[str]] = {}
    for code in sorted(CURRENCIES):
        by_digits.setdefault(minor_units(code), []).append(code)
    return {digits: tuple(codes) for digits, codes in by_digits.items()}


def _every_digits() -> list[tuple[int, tuple[str, ...]]]:
    """Every known currency, by its minor-unit digits: two first, the digits of
    nearly every row, so a CASE of them usually stops at its first branch."""
    return sorted(_currencies_by_digits().items(), key=lambda item: (item[0] != 2, item[0]))


def currency_digits(currency: Any) -> ColumnElement[int]:
    """The currency's minor-unit digits; NULL for a currency no one knows."""
    return case(*((currency.in_(codes), digits) for digits, codes in _every_digits()))


def _constant(value: int | Decimal) -> ColumnElement[Any]:
    """A number written into the SQL (not a parameter): the digits and halves
    are the code's own constants."""
    return literal_column(str(value), Numeric() if isinstance(value, Decimal) else Integer())


def _numeric_text(amount: ColumnElement[Decimal], digits: int) -> ColumnElement[str]:
    """PostgreSQL: the NUMERIC amount rounded half-even to `digits`, as text.

    `round()` itself rounds a half away from zero, and writes exactly `digits`
    digits. Half-even differs from it only on an exact half whose kept last
    digit is even (then it rounds towards zero: twice the amount in minor
    units is an odd number, 1 modulo 4); and NUMERIC has no negative zero,
    where `Decimal` writes `-0.00` for a negative amount that rounds to zero.
    Both are tested before the common case. About a fifth of the cost per
    line of the same rounding in integers on the amount scaled to a BIGINT
    (which PostgreSQL recomputed for each of its dozen uses; measured at
    200,000 lines)."""
    half = Decimal(5).scaleb(-digits - 1)
    rounded = func.round(amount, _constant(digits))
    magnitude = func.abs(amount)
    towards_zero = case((amount < _constant(0), "-"), else_="") + cast(
        func.trunc(magnitude, _constant(digits)), String()
    )
    zero = "0." + "0" * digits if digits else "0"
    return case(
        (
            func.abs(rounded - amount) == _constant(half),
            case(
                (
                    func.mod(magnitude * _constant(2 * 10**digits), _constant(4)) == _constant(1),
                    towards_zero,
                ),
                else_=cast(rounded, String()),
            ),
        ),
        ((amount < _constant(0)) & (amount > _constant(-half)), literal("-" + zero, String())),
        else_=cast(rounded, String()),
    )


def _money(
    dialect: str, value: Any, branches: list[tuple[ColumnElement[bool], int]]
) -> ColumnElement[str]:
    """The amount in the digits of the first branch that holds: an empty cell
    when there is no amount (as the Python writer, which never asks the
    currency then), NULL when no branch holds (an unknown currency)."""
    if dialect != SQLITE:
        amount = type_coerce(value, Numeric())
        return case(
            (amount.is_(None), ""),
            *((holds, _numeric_text(amount, digits)) for holds, digits in branches),
        )
    units = _units(value)
    return case(
        (units.is_(None), ""),
        *((holds, _digits_text(units, digits)) for holds, digits in branches),
    )


def money_cell(dialect: str, value: Any, currency: Any) -> ColumnElement[str]:
    """The amount with exactly its currency's digits (NULL: unknown currency)."""
    return _money(
        dialect, value, [(currency.in_(codes), digits) for digits, codes in _every_digits()]
    )


def money_cell_in_digits(dialect: str, value: Any, digits: Any) -> ColumnElement[str]:
    """The amount with `digits` digits: `currency_digits` selected once per
    invoice, so that each line compares one integer instead of the lists of
    currency codes (`invoice_lines`). NULL digits (unknown currency): NULL."""
    return _money(dialect, value, [(digits == count, count) for count, _ in _every_digits()])


def sql_cell(dialect: str, kind: str, value: Any, currency: Any) -> ColumnElement[str]:
    """One cell of a column of `kind` as the database writes it (`currency`, the
    row's, for money): `python_cell`'s counterpart in SQL."""
    if kind == TEXT:
        return text_cell(dialect, value)
    if kind == INTEGER:
        return integer_cell(value)
    if kind == DATE:
        return date_cell(dialect, value)
    assert kind == MONEY, kind
    return money_cell(dialect, value, currency)


def refuse_line(session: Session, first_unknown: Select[Any]) -> NoReturn:
    """Raise what the Python writer raises for a line the database left NULL:
    `first_unknown` selects the currency of the export's rows whose currency is
    unknown, in the export's order (read only now that one was met)."""
    code = session.scalars(first_unknown.limit(1)).first()
    if code is not None:
        minor_units(code)  # raises MoneyError naming it, as the Python writer's rows do
    raise RuntimeError(f"the database wrote a NULL line, yet no currency is unknown ({code!r})")


def unknown(currency: Any) -> ColumnElement[bool]:
    """Whether `currency` (a column or expression) is one the service does not know."""
    return _text(currency).not_in(sorted(CURRENCIES))


def joined(cells: list[ColumnElement[str]]) -> ColumnElement[str]:
    """Cells as one CSV line (without its line end)."""
    line = cells[0]
    for cell in cells[1:]:
        line = line + "," + cell
    return line
