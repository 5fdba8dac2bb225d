"""Hypothesis strategies for the values a careless or hostile client sends: wrong
types, huge numbers and exponents, NUL and lone surrogates, ids of nothing, and
query strings for list filters and paging. The hardening sweeps
(`tests/integration/*/test_hardening.py`) post them and check that nothing answers
5xx, that refusals store nothing and that another organization's record is not found."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

# Few examples each, no deadline: the sweeps run on SQLite and PostgreSQL in the
# suite's time budget, and a page's first render may be slow.
SWEEP = settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

AWKWARD_TEXT = st.sampled_from(
    [
        "",
        " ",
        "0",
        "-1",
        "-0",
        "1e999",
        "1E-400",
        "9" * 45,
        "99999999999999999999",
        "NaN",
        "Infinity",
        "0x10",
        "1_000",
        "١٢",  # Arabic-Indic digits: isdigit() is true, int() reads them
        "²",  # superscript two: isdigit() is true, int() refuses it
        "٢٠٢٧-٠٣",  # a month in Arabic-Indic digits, which int() reads as 2027-03
        "\uff12\uff10\uff12\uff17-\uff10\uff13",  # fullwidth digits, the same
        "\u00b2027-03",
        "null",
        "true",
        "2027-02-30",
        "0000-01-01",
        "9999-12-31",
        "1900-01-01",  # the first and last days a date field takes
        "9998-12-31",
        "1900-01",
        "9998-12",
        "2027-03",
        "2027-13",
        "2027-1-1",
        "2027-W05",
        "2027-03-01T00:00:00",
        "x\x00y",
        "\ud800",
        "é" * 300,
        "<script>",
        "' OR 1=1 --",
        "a" * 5000,
    ]
)

NUMBERS = st.one_of(
    st.integers(min_value=-(10**45), max_value=10**45),
    st.sampled_from([0, -1, 2**31 - 1, 2**31, 2**63, 10**12, 10**12 + 1]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.decimals(allow_nan=False, allow_infinity=False).map(str),
)

SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, AWKWARD_TEXT, st.text(max_size=20))

JSON_VALUES = st.one_of(
    SCALARS,
    st.lists(SCALARS, max_size=3),
    st.dictionaries(st.text(max_size=8), SCALARS, max_size=3),
)


def _encodable(text: str) -> bool:
    # A URL or form carries UTF-8 bytes: a lone surrogate cannot be sent there
    # (JSON bodies carry it escaped, and the sweeps send it that way).
    return not any("\ud800" <= c <= "\udfff" for c in text)


QUERY_TEXT = st.one_of(AWKWARD_TEXT, st.text(max_size=12), NUMBERS.map(str)).filter(_encodable)
# A path segment: awkward, but a segment (no slash) that a URL can carry.
PATH_SEGMENT = AWKWARD_TEXT.filter(
    lambda text: _encodable(text) and text.strip() and "/" not in text
)


def query(names: list[str]) -> st.SearchStrategy[dict[str, str]]:
    """A query string over `names` (a list's filters and paging) plus a stray one."""
    return st.dictionaries(
        st.sampled_from([*names, "page", "per_page", "sort", "cursor", "order", "unknown"]),
        QUERY_TEXT,
        max_size=4,
    )


def form(names: list[str]) -> st.SearchStrategy[dict[str, str]]:
    """A posted form over `names` with awkward values."""
    return st.dictionaries(st.sampled_from(names), QUERY_TEXT, max_size=len(names))


def is_problem(response: Any) -> bool:
    return bool(response.mimetype == "application/problem+json")
