"""Reading a report's rows: JSON, CSV or a form, checked row by row.

Every problem is keyed `rows.N.FIELD` (N: the row's 0-based index in JSON, its
number on the page in the portal's form (from 1), its line number in a CSV file,
the header being line 1) and all are
reported at once, up to `MAX_PROBLEMS`. Rows are read one at a time from a
spooled copy of the upload, so a report of 200,000 rows is checked in bounded
memory.
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json
import operator
import re
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import IO, Any, NamedTuple

from licensing import words
from licensing.accounts.countries import COUNTRIES
from licensing.errors import RepeatedKey
from licensing.money import format_quantity, ungrouped
from licensing.printable import composed
from licensing.streaming import csv_cell, csv_cell_read
from licensing.words import humanize

from .computation import ReportableLine
from .models import (
    CUSTOMER_ID_MAX,
    CUSTOMER_NAME_MAX,
    QUANTITY_MAX,
    REVENUE_MAX_DIGITS,
    REVENUE_PLACES,
    UNIT_MAX,
)

COLUMNS = ("line", "customer_id", "customer_name", "country", "unit", "quantity", "revenue")
CSV_HEADER = ",".join(COLUMNS)
MAX_PROBLEMS = 1000
SPOOL_IN_MEMORY = 1024 * 1024
# ASCII digits only (`\d` reads Arabic-Indic and full-width digits too), as
# `money` and every id, page and month the service reads.
_DECIMAL_TEXT = re.compile(rf"[0-9]{{1,{REVENUE_MAX_DIGITS}}}(\.[0-9]{{1,{REVENUE_PLACES}}})?")
_WHOLE_TEXT = re.compile(rf"[0-9]{{1,{len(str(QUANTITY_MAX))}}}")
# A control character, or a lone surrogate (what `ord(c) < 32` and the surrogate
# range caught one character at a time, a third of a CSV report's checking).
_CONTROL = re.compile("[\x00-\x1f\ud800-\udfff]")
_COLUMN_SET = frozenset(COLUMNS)
# The columns a vendor fills in a template's row; the template draws a row for each
# reportable line and unit with only its `line` and `unit` (round 66: `_csv_rows`).
_FILLED_COLUMNS = tuple(index for index, name in enumerate(COLUMNS) if name not in ("line", "unit"))


class Problems:
    """Row problems by path, capped: beyond the cap they are only counted."""

    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}
        self.more = 0
        # Every problem added, listed or only counted: what a check compares before
        # and after a field to tell whether that field was refused.
        self.added = 0

    def add(self, path: str, message: str) -> None:
        self.added += 1
        if len(self.errors) >= MAX_PROBLEMS and path not in self.errors:
            self.more += 1
            return
        self.errors.setdefault(path, []).append(message)

    def __bool__(self) -> bool:
        return bool(self.errors)

    def summary(self) -> dict[str, list[str]]:
        found = dict(self.errors)
        if self.more:
            found["rows"] = [f"and {format_quantity(self.more)} more problems not listed"]
        return found


class Row(NamedTuple):
    """A checked row (a named tuple: a frozen dataclass took longer to make than
    the rest of checking a plain row)."""

    number: int
    line: int
    customer_id: str
    customer_key: str
    customer_name: str
    country: str
    unit: str
    quantity: int | None
    revenue: Decimal | None


class RowKey(NamedTuple):
    """What a row refused for its other cells repeats of another row: its line, unit
    and customer, each of them good. The duplicate check counts it as any row, so a
    repeat beside a refused row is reported with the row's own problems, in the same
    answer (round 56: it was found only once the refused row was corrected)."""

    number: int
    line: int
    customer_id: str
    customer_key: str
    unit: str


def customer_key(customer_id: str) -> str:
    """Customer ids compare after trimming and Unicode case-folding."""
    return customer_id.strip().casefold()


def _row(
    number: int,
    line: int,
    customer_id: str,
    customer_name: str,
    country: str,
    unit: str,
    quantity: int | None,
    revenue: Decimal | None,
) -> Row:
    """The checked row, by either path (`_plain_row`, `_check_row`), with its key.
    Made positionally, in `Row`'s order: by keyword it took twice as long, a
    tenth of checking a plain row."""
    key = customer_key(customer_id)
    return Row(number, line, customer_id, key, customer_name, country, unit, quantity, revenue)


# --- one row ----------------------------------------------------------------------------


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _text(value: Any, path: str, limit: int, problems: Problems, what: str) -> str:
    if _blank(value):
        problems.add(path, f"Give the {what}.")
        return ""
    if not isinstance(value, str):
        problems.add(path, f"The {what} must be text.")
        return ""
    cleaned = composed(value.strip())  # a name typed decomposed, stored composed (kana60)
    if len(cleaned) > limit:
        problems.add(path, f"The {what} is at most {limit} characters.")
    elif _CONTROL.search(cleaned):
        problems.add(path, f"The {what} contains a control character.")
    return cleaned


def _grouped_hint(value: Any) -> str:
    """How to write a figure grouped in thousands ("1,200"), which the rows form reads
    but a file or the API does not (their figures are the contract's plain ones):
    round 56's vendor read "Must be a whole number" of 1,200 and could not tell why."""
    if not isinstance(value, str):
        return ""
    text = value.strip()
    plain = ungrouped(text)
    if plain == text:
        return ""
    return f" Write it without thousands separators: {plain}, not {text}."


def _whole(value: Any, path: str, problems: Problems) -> int | None:
    if isinstance(value, bool):
        problems.add(path, "Must be a whole number, 0 or more.")
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and _WHOLE_TEXT.fullmatch(_unsigned_zero(value.strip())):
        number = int(_unsigned_zero(value.strip()))
    else:
        problems.add(path, "Must be a whole number, 0 or more." + _grouped_hint(value))
        return None
    if number < 0:
        problems.add(path, "Must be a whole number, 0 or more.")
        return None
    if number > QUANTITY_MAX:
        problems.add(path, f"Must be at most {QUANTITY_MAX:,}.")
        return None
    return number


def _unsigned_zero(text: str) -> str:
    """`text` without its minus sign when it writes zero ("-0", "-0.00"): the
    contract's "0 or more" admits zero however it is signed (as the quote endpoint
    reads it, `money.parse_decimal`), and no "-0" is stored or written back. Any
    other text is returned as it is, for the patterns to judge."""
    if text.startswith("-") and text[1:] and not text[1:].strip("0.") and text[1:2] != ".":
        return text[1:]
    return text


def _revenue(value: Any, path: str, problems: Problems) -> Decimal | None:
    message = (
        f"Must be an amount of 0 or more, such as 1250.00 (at most {REVENUE_MAX_DIGITS} "
        f"digits before the point and {REVENUE_PLACES} after)."
    )
    if isinstance(value, bool):
        problems.add(path, message)
        return None
    if isinstance(value, int | Decimal):
        # A JSON number is read as its decimal text, bounded before any arithmetic.
        _sign, digits, exponent = Decimal(value).as_tuple()
        if not isinstance(exponent, int) or len(digits) > 40 or not -40 <= exponent <= 40:
            problems.add(path, message)
            return None
        value = format(Decimal(value), "f")
    if not isinstance(value, str) or not _DECIMAL_TEXT.fullmatch(_unsigned_zero(value.strip())):
        problems.add(path, message + _grouped_hint(value))
        return None
    try:
        return Decimal(_unsigned_zero(value.strip()))
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid text
        problems.add(path, message)
        return None


def check_row(
    number: int,
    fields: Any,
    lines: Mapping[int, ReportableLine],
    problems: Problems,
) -> Row | RowKey | None:
    """The row or, with its problems added (keyed `rows.{number}.{field}`), the key
    of a row refused whose line, unit and customer id are good (`RowKey`), else None."""
    if fields.__class__ is dict:
        row = _plain_row(number, fields, lines)
        if row is not None:
            return row
    return _check_row(number, fields, lines, problems)


def _plain_str(value: Any, limit: int) -> str | None:
    """A text cell `_text` accepts as it is (None: let `_text` look at it)."""
    if value.__class__ is not str:
        return None
    cleaned: str = value.strip()
    if not cleaned.isascii():
        cleaned = composed(cleaned)  # in a file, as a form's field (kana60)
    if not cleaned or len(cleaned) > limit or _CONTROL.search(cleaned):
        return None
    return cleaned


def _plain_whole(value: Any) -> int | None:
    """A whole number `_whole` accepts as it is (None: let `_whole` look at it)."""
    if value.__class__ is int:
        number: int = value
    elif value.__class__ is str and _WHOLE_TEXT.fullmatch(stripped := value.strip()):
        number = int(stripped)
    else:
        return None
    return number if 0 <= number <= QUANTITY_MAX else None


def _empty(value: Any) -> bool:
    return value is None or (value.__class__ is str and not value.strip())


def _plain_row(
    number: int, fields: dict[str, Any], lines: Mapping[int, ReportableLine]
) -> Row | None:
    """The row when every cell is plainly good, as `_check_row` would give it; None
    whenever a cell needs a closer look (`_check_row` then finds what, if anything,
    is wrong). Most rows of a large report are plain: checking them here, without
    the paths and messages a problem needs, halves the time to check a report."""
    if not fields.keys() <= _COLUMN_SET:
        return None
    line_number = _plain_whole(fields.get("line"))
    line = lines.get(line_number) if line_number is not None else None
    customer_id = _plain_str(fields.get("customer_id"), CUSTOMER_ID_MAX)
    customer_name = _plain_str(fields.get("customer_name"), CUSTOMER_NAME_MAX)
    country = fields.get("country")
    country = country.strip().upper() if country.__class__ is str else None
    if line is None or customer_id is None or customer_name is None or country not in COUNTRIES:
        return None
    raw_unit, raw_quantity = fields.get("unit"), fields.get("quantity")
    if _empty(raw_unit):
        if not line.takes_revenue or not _empty(raw_quantity):
            return None
        unit, quantity = "", None
    else:
        unit = raw_unit.strip() if raw_unit.__class__ is str else ""
        quantity = _plain_whole(raw_quantity)
        if len(unit) > UNIT_MAX or unit not in line.units or quantity is None:
            return None
    raw_revenue = fields.get("revenue")
    revenue: Decimal | None = None
    if line.takes_revenue:
        if raw_revenue.__class__ is not str or not _DECIMAL_TEXT.fullmatch(raw_revenue.strip()):
            return None
        revenue = Decimal(raw_revenue.strip())
    elif not _empty(raw_revenue):
        return None
    return _row(number, line.number, customer_id, customer_name, country, unit, quantity, revenue)


def _check_row(
    number: int,
    fields: Any,
    lines: Mapping[int, ReportableLine],
    problems: Problems,
) -> Row | RowKey | None:
    """Every check of a row, each problem with its path and message; a row refused
    gives its key when the cells the duplicate check compares are good."""
    prefix = f"rows.{number}"
    if not isinstance(fields, Mapping):
        problems.add(prefix, "Each row must be an object with the report's columns.")
        return None
    before = problems.added
    unknown = [key for key in fields if key not in _COLUMN_SET]
    for key in sorted(str(key) for key in unknown)[:5]:
        problems.add(f"{prefix}.{key}", f"Unknown column; the columns are {', '.join(COLUMNS)}.")
    keyed_from = problems.added
    line = _line(fields.get("line"), f"{prefix}.line", lines, problems)
    customer_id = _text(
        fields.get("customer_id"), f"{prefix}.customer_id", CUSTOMER_ID_MAX, problems, "customer id"
    )
    keyed = problems.added == keyed_from
    customer_name = _text(
        fields.get("customer_name"),
        f"{prefix}.customer_name",
        CUSTOMER_NAME_MAX,
        problems,
        "customer name",
    )
    country = _country(fields.get("country"), f"{prefix}.country", problems)
    unit_from = problems.added
    unit = _unit(fields.get("unit"), prefix, line, problems)
    keyed = keyed and unit is not None and problems.added == unit_from
    quantity = None if unit is None else _quantity(fields.get("quantity"), prefix, unit, problems)
    revenue = _row_revenue(fields.get("revenue"), prefix, line, problems)
    if line is None:
        return None
    if problems.added > before:
        if keyed and unit is not None:
            return RowKey(number, line.number, customer_id, customer_key(customer_id), unit)
        return None
    return _row(
        number, line.number, customer_id, customer_name, country, unit or "", quantity, revenue
    )


def _line(
    value: Any, path: str, lines: Mapping[int, ReportableLine], problems: Problems
) -> ReportableLine | None:
    """The reportable line a row names by its number in Schedule A (from 1)."""
    listed = ", ".join(str(number) for number in sorted(lines)) or "none"
    if isinstance(value, int) and not isinstance(value, bool):
        number: int | None = value
    elif isinstance(value, str) and _WHOLE_TEXT.fullmatch(value.strip()):
        number = int(value.strip())
    else:
        number = None
    if number is None or number < 1:
        problems.add(
            path,
            f"Give the agreement line by its number in Schedule A, from 1 "
            f"(reportable lines: {listed}).",
        )
        return None
    line = lines.get(number)
    if line is None:
        problems.add(
            path,
            f"Line {number} is not a reportable line of this agreement "
            f"(reportable lines: {listed}).",
        )
    return line


def _country(value: Any, path: str, problems: Problems) -> str:
    if _blank(value):
        problems.add(path, "Give the customer's country (ISO 3166-1 alpha-2 code, such as US).")
        return ""
    code = value.strip().upper() if isinstance(value, str) else ""
    if code not in COUNTRIES:
        message = "Not an ISO 3166-1 alpha-2 country code (such as US, CA or DE)."
        if len(code) == 3 and code.isascii() and code.isalpha():
            # Round 56: a vendor's file said USA, as many systems export it.
            message += f" {code} has three letters: give the two-letter code, as US for USA."
        problems.add(path, message)
        return ""
    return code


def unit_named(unit: str) -> str:
    """A unit as a refusal names it to a person: the word a file's `unit` cell holds
    and, where it differs, the words the form's choice and the reportable lines say
    ("end_users (end users)"; round 38: "Give the quantity of end_users.")."""
    words = humanize(unit)
    return unit if words == unit else f"{unit} ({words})"


def rule_named(line: ReportableLine) -> str:
    """A line's rule as a refusal names it, as the pages name a rule since round 37:
    its description with the id beside it ("Installed, hosted and mobile software,
    per end user; rule distribution-software"), the id alone for a rule without one
    (round 40: the refusals said "(distribution-software)")."""
    return words.rule_named(line.rule.id, line.rule.description)


def _unit(
    raw_unit: Any, prefix: str, line: ReportableLine | None, problems: Problems
) -> str | None:
    """The row's unit ("" for none), with a problem added when its line does not
    count it; None when it is no quantity name at all."""
    unit = "" if _blank(raw_unit) else raw_unit.strip() if isinstance(raw_unit, str) else None
    if unit is None or (unit and len(unit) > UNIT_MAX):
        problems.add(f"{prefix}.unit", "The unit must be a quantity name such as end_users.")
        return None
    if line is not None:
        counted = line.units
        if unit and unit not in counted:
            expected = (
                "empty (it counts revenue only)"
                if not counted
                else unit_named(counted[0])
                if len(counted) == 1
                else f"one of {', '.join(map(unit_named, counted))}"
            )
            problems.add(
                f"{prefix}.unit",
                f"Line {line.number}'s rule ({rule_named(line)}) does not count {unit}; "
                f"the unit must be {expected}.",
            )
        elif not unit and not line.takes_revenue:
            problems.add(
                f"{prefix}.unit",
                f"Give the unit: line {line.number}'s rule counts "
                f"{', '.join(map(unit_named, counted))}.",
            )
    return unit


def _quantity(raw_quantity: Any, prefix: str, unit: str, problems: Problems) -> int | None:
    """The quantity of `unit`: none without a unit, required with one."""
    if not unit:
        if not _blank(raw_quantity):
            problems.add(f"{prefix}.quantity", "Leave the quantity empty when there is no unit.")
        return None
    if _blank(raw_quantity):
        problems.add(f"{prefix}.quantity", f"Give the quantity of {humanize(unit)}.")
        return None
    return _whole(raw_quantity, f"{prefix}.quantity", problems)


def _row_revenue(
    value: Any, prefix: str, line: ReportableLine | None, problems: Problems
) -> Decimal | None:
    path = f"{prefix}.revenue"
    if line is None:
        return None if _blank(value) else _revenue(value, path, problems)
    if not line.takes_revenue:
        if not _blank(value):
            problems.add(
                path,
                f"Line {line.number}'s rule ({rule_named(line)}) takes no share of revenue; "
                "leave the revenue empty.",
            )
        return None
    if _blank(value):
        problems.add(
            path,
            f"Give the revenue from this customer in the period: line {line.number}'s rule "
            f"({rule_named(line)}) takes a share of revenue (0 if none).",
        )
        return None
    return _revenue(value, path, problems)


# --- uploads ------------------------------------------------------------------------------


@dataclass
class Upload:
    """The bytes of an upload, spooled (memory, then disk) and hashed as read."""

    file: IO[bytes]
    sha256: str
    size: int

    @classmethod
    def read(cls, stream: IO[bytes], chunk: int = 64 * 1024) -> Upload:
        spooled = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115
        digest = hashlib.sha256()
        size = 0
        while block := stream.read(chunk):
            digest.update(block)
            spooled.write(block)
            size += len(block)
        spooled.seek(0)
        return cls(spooled, digest.hexdigest(), size)

    @classmethod
    def of_bytes(cls, data: bytes) -> Upload:
        return cls.read(io.BytesIO(data))

    def close(self) -> None:
        self.file.close()


@dataclass
class Submission:
    """A report as submitted: attestation, amendment, and a way to read its rows."""

    source: str
    upload: Upload
    attest: Any = None
    amends: Any = None
    reason: Any = None
    problems: dict[str, list[str]] = field(default_factory=dict)
    # Whether its rows can be read despite `problems` (a body that is not JSON, has
    # no rows list, or a file without the header cannot be): filing then reports
    # the rows' problems with the submission's own, all at once (round 57).
    rows_readable: bool = True
    # The number of the first row of a JSON or form submission (0 in the API).
    first_row: int = 0
    # A CSV file from the portal's period page: the template's rows left as drawn
    # (a line and its unit, nothing filled in) are left out, as the page's form
    # leaves out its blank rows (round 66). The API reads every row, as its
    # contract says.
    template_rows_left_out: bool = False
    # A JSON body's colons less its top-level keys (`json_submission`), which its
    # rows' keys must match for none to have been given twice (`_json_rows`); None
    # for rows this service wrote (a form's), where no key can repeat.
    row_colons: int | None = None

    def rows(self, *, keys_noted: bool = False) -> Iterator[tuple[int, Any]]:
        """(number, fields) for each row, read afresh from the spooled upload. A JSON
        row that gives a key twice raises `RowKeysRepeated` once the rows are read;
        with `keys_noted` they are read again, each row a mapping that names the key
        it gave twice (`repeated_key`)."""
        self.upload.file.seek(0)
        if self.source == "csv":
            return _csv_rows(self.upload.file, template_rows_left_out=self.template_rows_left_out)
        if keys_noted:
            return _json_rows_keys_noted(self.upload.file, self.first_row)
        return _json_rows(self.upload.file, self.first_row, self.row_colons)


_TOP_LEVEL = ("attest", "rows", "amends", "reason")
# What the JSON parser (yajl, in C) must never see: it crashes the process on an
# integer of thousands of digits and on very deep nesting. A report needs neither:
# no number has 41 digits, and nothing nests deeper than a row's fields.
_LONG_NUMBER = re.compile(rb"[:,\[]\s*-?[0-9]{41}|[0-9][eE][-+]?[0-9]{10}")
_DEEP_NESTING = re.compile(rb"(?:[\[{]\s*){33}")
_SCAN_CHUNK = 1024 * 1024
_SCAN_OVERLAP = 256
# The patterns, scanned byte by byte, took longer than parsing the body; two
# translations and substring searches (in C) answer first. Either pattern of
# _LONG_NUMBER needs a run of 10 digits: without one it cannot match.
_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
_TEN_DIGITS = b"0" * 10
# _DEEP_NESTING exactly: 33 openers with only whitespace (what \s matches in a
# bytes pattern) between them are 33 "[" once "{" reads "[" and whitespace goes.
_OPENERS_AS_BRACKET = bytes.maketrans(b"{", b"[")
_WHITESPACE = b" \t\n\r\f\v"
_DEEP = b"[" * 33


def _long_number(window: bytes) -> bool:
    return _TEN_DIGITS in window.translate(_DIGITS_AS_ZERO) and bool(_LONG_NUMBER.search(window))


def _deep_nesting(window: bytes) -> bool:
    return _DEEP in window.translate(_OPENERS_AS_BRACKET, _WHITESPACE)


# The parser also reads a lone UTF-16 surrogate escape ("\\ud800", which no database
# stores) as "?", silently: a report naming one is refused as every other body is
# (`limits`). An escape is one whose backslash run is odd ("\\\\ud800" is text), and
# a low escape is paired only by a high *escape* just before it: the text "\\ud800"
# (escaped backslash, then "ud800") before a real "\\udc00" pairs nothing.
_SURROGATE_ESCAPE = re.compile(rb"(\\+)u[dD]([89a-fA-F])[0-9a-fA-F]{2}")
_LOW_ESCAPE = re.compile(rb"\\u[dD][c-fC-F][0-9a-fA-F]{2}")
_ESCAPE_BYTES = 6  # \uXXXX
_EDGE = 2 * _ESCAPE_BYTES  # escapes this near a window's edge are judged in the next
_HIGH = frozenset(b"89abAB")


def _lone_surrogate(window: bytes, start: int, end: int) -> bool:
    """Whether an escape whose backslash is at [start, end) of `window` is a lone
    surrogate: a high one not followed by a low one, or a low one not right after a
    high one. `window` starts outside any run of backslashes (`_scan_tail`), so the
    parity of each run says which backslash starts an escape."""
    if b"\\ud" not in window and b"\\uD" not in window:
        return False  # nearly every report: no such escape at all
    high_ends = -1  # where the last real high escape ended
    for found in _SURROGATE_ESCAPE.finditer(window):
        if len(found.group(1)) % 2 == 0:
            continue  # an escaped backslash, then the text "ud..."
        at = found.end(1) - 1
        is_high = found.group(2)[0] in _HIGH
        lone = (
            not _LOW_ESCAPE.match(window, at + _ESCAPE_BYTES)
            if is_high
            else (at < _ESCAPE_BYTES or high_ends != at)
        )
        if lone and start <= at < end:
            return True
        high_ends = found.end() if is_high else -1
    return False


def _scan_tail(window: bytes) -> bytes:
    """The end of `window` carried into the next one: its last _SCAN_OVERLAP bytes,
    widened to begin outside a run of backslashes (a run cut in two would read an
    escaped backslash as an escape, or an escape as text)."""
    cut = max(len(window) - _SCAN_OVERLAP, 0)
    while cut > 0 and window[cut - 1] == 0x5C:  # a backslash
        cut -= 1
    return window[cut:]


def _unsafe_json(file: IO[bytes]) -> str | None:
    """Why the JSON body must not reach the parser, if it must not."""
    file.seek(0)
    tail = b","  # so that a number at the very start is seen as one
    block = file.read(_SCAN_CHUNK)
    first = True
    while block:
        following = file.read(_SCAN_CHUNK)
        window = tail + block
        if _long_number(window):
            return "A number in the body is too long (over 40 digits, or a 10-digit exponent)."
        if _deep_nesting(window):
            return "The body nests deeper than 32 levels."
        # The tail was judged in the window before, but for its last few bytes.
        start = 0 if first else len(tail) - _EDGE
        end = len(window) - _EDGE if following else len(window)
        if _lone_surrogate(window, start, end):
            return (
                "The body contains a lone UTF-16 surrogate escape (such as \\ud800), "
                "which cannot be stored; remove it and send the report again."
            )
        tail = _scan_tail(window)
        block, first = following, False
    file.seek(0)
    return None


# The prefixes of every event the shape check below acts on (a top-level key, the
# value of attest, amends or reason, the rows array itself).
_SHAPE_PREFIXES = frozenset(("", "attest", "amends", "reason", "rows"))


def _ijson() -> Any:  # ijson ships no types
    """ijson, imported by the first JSON report read rather than with the app (round
    65): about a third of a megabyte in every process, most of which never reads one
    (tests/unit/test_start_up_memory.py holds the processes' memory to a bound)."""
    import ijson

    return ijson


def _top_level_events(file: IO[bytes]) -> Iterator[tuple[str, str, Any]]:
    """The parser's events whose prefix is one of `_SHAPE_PREFIXES`, chosen in C:
    the events of the rows' own fields (nearly all of them) never reach Python,
    where looking at each one cost more than parsing it. The whole body is still
    parsed, so invalid JSON anywhere raises as before."""
    events, prefixes = itertools.tee(_ijson().parse(file, use_float=False))
    wanted = map(_SHAPE_PREFIXES.__contains__, map(operator.itemgetter(0), prefixes))
    return itertools.compress(events, wanted)


def json_submission(upload: Upload) -> Submission:
    """A JSON report: one pass reads the top-level fields and checks the shape
    (rows are read later, one at a time, by `Submission.rows`)."""
    submission = Submission("json", upload)
    problems: dict[str, list[str]] = {}
    seen_rows = False
    if unsafe := _unsafe_json(upload.file):
        submission.problems = {"_body": [unsafe]}
        submission.rows_readable = False
        return submission
    top_level: set[str] = set()
    # A key named "" gives what it holds the prefix "" too: only keys at depth 0 of
    # the prefix "" are the body's own (`{"": {"rows": 1}, "rows": []}` repeats none).
    depth = 0
    try:
        events = _top_level_events(upload.file)
        prefix, event, _ = next(events)
        if event != "start_map":
            problems["_body"] = ["The body must be a JSON object with attest and rows."]
            submission.rows_readable = False
        else:
            for prefix, event, value in events:
                if prefix == "" and event in ("start_map", "end_map"):
                    depth += 1 if event == "start_map" else -1
                if prefix == "" and event == "map_key" and not depth:
                    if value in top_level:
                        raise _repeated(str(value), str(value), "the body")
                    top_level.add(value)
                if prefix == "" and event == "map_key" and value not in _TOP_LEVEL:
                    problems[str(value)] = ["Unknown field."]
                elif prefix in ("attest", "amends", "reason") and event not in (
                    "start_map",
                    "start_array",
                    "end_map",
                    "end_array",
                ):
                    setattr(submission, prefix, value)
                elif prefix in ("attest", "amends", "reason"):
                    problems[prefix] = ["Must be a single value."]
                elif prefix == "rows" and event == "start_array":
                    seen_rows = True
                elif prefix == "rows" and event not in ("end_array",):
                    problems["rows"] = ["Must be a list of rows (an empty list for a nil report)."]
                    submission.rows_readable = False
    except (_ijson().JSONError, StopIteration, ValueError, ArithmeticError, RecursionError):
        # ValueError: undecodable bytes, or a number too long to convert (Python
        # refuses integers of thousands of digits).

        problems["_body"] = [_not_json(upload.file)]
        submission.rows_readable = False
    if not seen_rows:
        submission.rows_readable = False
        if not problems:
            problems["rows"] = ["Give the rows (an empty list for a nil report)."]
    submission.problems = problems
    submission.row_colons = _colons(upload.file) - len(top_level)
    return submission


def _colons(file: IO[bytes]) -> int:
    """How many colons the body holds (in C, a block at a time)."""
    file.seek(0)
    count = 0
    while block := file.read(_SCAN_CHUNK):
        count += block.count(b":")
    file.seek(0)
    return count


def _repeated(key: str, path: str, where: str) -> RepeatedKey:
    """A top-level key given twice (`{"attest": false, "rows": [], "attest": true}`):
    which attestation, or which rows, the body means cannot be told, so it is refused
    as a whole (a 400); a row's key given twice is one of its rows' problems."""
    said = f"The key {json.dumps(key)} is given more than once"
    return RepeatedKey(
        f"{said} in {where}: give each key once (readers disagree on which value counts).",
        {path: [repeated_key_message(key)]},
    )


_BYTE_ORDER_MARK = "\ufeff".encode()


def _not_json(file: IO[bytes]) -> str:
    """Why the body could not be read: a byte-order mark (which Windows tools put
    before UTF-8 text) read only as "not valid JSON" for a body that was."""
    file.seek(0)
    if file.read(len(_BYTE_ORDER_MARK)) == _BYTE_ORDER_MARK:
        return (
            "The body starts with a byte-order mark (U+FEFF), which JSON does not allow: "
            "save or send it as UTF-8 without one."
        )
    return "The body is not valid JSON."


class RowKeysRepeated(Exception):
    """Some row of a JSON report gives a key twice: raised once its rows are read
    (`_json_rows`), so that the caller reads them again with the keys noted
    (`Submission.rows(keys_noted=True)`) and tells each such row beside every other
    problem of the report (round 58: a 400 naming the first, alone)."""


def repeated_key(fields: Any) -> str | None:
    """The key a row read with its keys noted gave twice, if it gave one."""
    return fields.repeated if fields.__class__ is _KeysOnce else None


def repeated_key_message(key: str) -> str:
    return f"The key {json.dumps(key)} is given more than once: give each key once."


def _json_rows(
    file: IO[bytes], first: int = 0, colons: int | None = None
) -> Iterator[tuple[int, Any]]:
    """The rows, numbered from `first`. With `colons` (`Submission.row_colons`), a
    key given twice in a row (round 55: `{"quantity": "1", "quantity": "900"}` filed
    900) raises `RowKeysRepeated` once the rows are read: every key in the text is
    followed by one colon, and nothing else outside strings is one, so rows keeping
    as many keys as the colons left repeat none (counting costs a row a `len`; the
    rows read through a mapping that checks each key cost an eighth of filing the
    report). Else (a colon in a string, or a key repeated) they are read again that
    way."""
    rows = _ijson().items(file, "rows.item", use_float=False)
    if colons is None:
        yield from enumerate(rows, start=first)
        return
    kept = 0
    for number, row in enumerate(rows, start=first):
        if type(row) is dict:
            kept += len(row)
        yield number, row
    if kept == colons:
        return
    # A colon in a string, or a key given twice: the colons inside strings, counted
    # exactly where the body allows, tell which; else the rows are read again.
    within = _colons_within_strings(file)
    if (within is None or kept != colons - within) and _some_row_repeats_a_key(file):
        raise RowKeysRepeated


def _colons_within_strings(file: IO[bytes]) -> int | None:
    """How many colons the body's strings hold, read off its quotes a block at a time
    (without a backslash every quote opens or closes a string); None when the body
    has a backslash. A pass in C over the body, a third of reading its rows again."""
    file.seek(0)
    within, inside = 0, False
    while block := file.read(_SCAN_CHUNK):
        if b"\\" in block:
            return None
        parts = block.split(b'"')
        within += b"".join(parts[0::2] if inside else parts[1::2]).count(b":")
        inside ^= len(parts) % 2 == 0  # an odd number of quotes: the other side
    return within


class _KeysOnce(dict[str, Any]):
    """A row's mapping that notes the first key given to it twice (the parser, in
    C, cannot be interrupted by an exception from here)."""

    repeated: str | None = None

    def __setitem__(self, key: str, value: Any) -> None:
        if self.repeated is None and key in self:
            self.repeated = key
        super().__setitem__(key, value)


def _some_row_repeats_a_key(file: IO[bytes]) -> bool:
    """Whether a row (not an object within one) gives a key twice."""
    return any(
        repeated_key(fields) is not None for _number, fields in _json_rows_keys_noted(file, 0)
    )


def _json_rows_keys_noted(file: IO[bytes], first: int) -> Iterator[tuple[int, Any]]:
    """The rows, numbered from `first`, each object a mapping that notes the first
    key given to it twice (`repeated_key`)."""
    file.seek(0)
    rows = _ijson().items(file, "rows.item", use_float=False, map_type=_KeysOnce)
    yield from enumerate(rows, start=first)


def csv_submission(
    upload: Upload,
    *,
    attest: Any,
    amends: Any,
    reason: Any,
    template_rows_left_out: bool = False,
) -> Submission:
    """A CSV report (UTF-8, header row exactly `CSV_HEADER`); the attestation and
    amendment come from the query string (the API) or the period page's form, whose
    uploads leave out the template's rows left as drawn (`template_rows_left_out`)."""
    submission = Submission(
        "csv",
        upload,
        attest=attest,
        amends=amends,
        reason=reason,
        template_rows_left_out=template_rows_left_out,
    )
    # The header ends at the first line break, a carriage return too: a file saved
    # as "CSV (Macintosh)" ends its lines with one alone, which the rows' reader takes
    # as any other line end (round 61: the header kept the next lines, and reading
    # it for a column named twice was a 500).
    first = upload.file.readline(4096).split(b"\r", 1)[0]
    upload.file.seek(0)
    try:
        header = first.decode("utf-8-sig").strip()
    except UnicodeDecodeError:
        header = None
    if header is None:
        submission.problems = {"_body": ["The file must be UTF-8 text."]}
    elif header != CSV_HEADER:
        submission.problems = _header_problems(header)
    submission.rows_readable = not submission.problems
    return submission


def _header_problems(header: str) -> dict[str, list[str]]:
    """Why the first line is not the header: a column it names twice is named as a
    JSON row's key given twice is (`rows.1.quantity`, round 58: the file was told
    only "The first line must be exactly: ..."). Its rows are not read: which of
    two `quantity` cells is the quantity cannot be told."""
    exactly = f"The first line must be exactly: {CSV_HEADER}"
    named = [name.strip() for name in next(csv.reader([header]), [])]
    twice = [name for name in dict.fromkeys(named) if name in _COLUMN_SET and named.count(name) > 1]
    if not twice:
        return {"rows.1": [exactly]}
    return {
        f"rows.1.{name}": [
            f"The column {name} is named more than once: give each column once. {exactly}"
        ]
        for name in twice
    }


# A page's upload whose rows are all the template's, as drawn: no report, not a nil one.
TEMPLATE_ONLY = (
    "the file has only the template's rows, with no customer in them: add a row for each "
    "customer (its ID, name, country and quantity or revenue), or file a nil report if "
    "there is nothing to report this period"
)


def column_count_problem(found: int) -> str:
    """A record of `found` cells, not the header's seven, and how to mend it (round 66:
    "expected 7 columns, found 8" named no cause; a quantity typed "1,200" is the
    commonest, a name with a comma in it the next)."""
    said = f"expected {len(COLUMNS)} columns, found {found}"
    if found > len(COLUMNS):
        return (
            f"{said}: a comma inside a value starts a new column. Write numbers without "
            "a thousands separator (1200, not 1,200) and put a name with a comma in "
            'double quotes ("Fernhill, North").'
        )
    return f"{said}: give every column of the header in each row, empty where there is nothing."


def _template_row_left_out(record: list[str]) -> bool:
    """A template's row left as drawn: nothing but its line and unit."""
    return not any(record[column].strip() for column in _FILLED_COLUMNS)


def _csv_rows(
    file: IO[bytes], *, template_rows_left_out: bool = False
) -> Iterator[tuple[int, Any]]:
    """(line number, fields or a problem) for each row of the file. With
    `template_rows_left_out` (the period page's uploads) the template's rows left as
    drawn are left out; a file of nothing else is refused at its first such row, as a
    form with no row typed is: it is not a nil report."""
    text = io.TextIOWrapper(file, encoding="utf-8-sig", newline="", errors="strict")
    try:
        reader = csv.reader(text)
        next(reader, None)
        start = reader.line_num + 1
        first_left_out = 0
        read = 0
        for record in reader:
            number = start
            start = reader.line_num + 1
            joined = "".join(record)
            if not joined.strip():
                continue  # blank lines (no cell but whitespace) are not rows
            if len(record) != len(COLUMNS):
                read += 1
                yield number, column_count_problem(len(record))
                continue
            if template_rows_left_out and _template_row_left_out(record):
                first_left_out = first_left_out or number
                continue
            read += 1
            # The rows download escapes formulas ('=...); read them back as filed.
            # Only a cell starting with a quote changes, so a record with no quote
            # anywhere (nearly every one) is kept as read: reading back each of its
            # seven cells was a sixth of checking a plain row (profiled).
            cells = [csv_cell_read(cell) for cell in record] if "'" in joined else record
            yield number, dict(zip(COLUMNS, cells, strict=True))
        if first_left_out and not read:
            yield first_left_out, TEMPLATE_ONLY
    except UnicodeDecodeError:
        yield -1, "The file must be UTF-8 text."
    except csv.Error as exc:
        yield -1, f"The file is not valid CSV: {exc}."
    finally:
        text.detach()


def template_csv(rows: list[dict[str, Any]]) -> str:
    """A CSV template in the report's columns, each cell safe to open in a
    spreadsheet as the rows download is (`csv_cell`; uploads read it back)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows({name: csv_cell(row.get(name)) for name in COLUMNS} for row in rows)
    return buffer.getvalue()


def form_submission(
    rows: list[dict[str, Any]], *, attest: Any, amends: Any, reason: Any, first_row: int = 0
) -> Submission:
    """Rows typed into the portal's form: stored like an upload of their JSON, numbered
    from `first_row` (the page numbers its rows from 1, so its errors and the rows
    kept say "row 1" for the row the vendor sees as row 1)."""
    body = {"attest": attest, "rows": rows}
    data = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    return Submission(
        "form",
        Upload.of_bytes(data),
        attest=attest,
        amends=amends,
        reason=reason,
        first_row=first_row,
    )
