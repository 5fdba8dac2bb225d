"""Quote request bodies as clients send them, for property tests of the quote
API's readers: most valid, the rest wrong in one place (an odd value, an unknown
word, a missing or unexpected field)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from licensing.pricing import ORGANIZATION_TYPES, PRODUCT_TYPES, USER_TYPES, USES


def odd(*values: Any) -> st.SearchStrategy[Any]:
    """Values a client might send where something else is expected."""
    return st.sampled_from([None, True, 0, -1, "", " ", [], {}, Decimal("1.5"), *values])


def mostly(valid: st.SearchStrategy[Any], *oddities: Any) -> st.SearchStrategy[Any]:
    """`valid` 19 times in 20, else an odd value: most bodies are then valid, or
    wrong in one place, as real clients' are."""
    # 7: Hypothesis favours the ends of a range, which would make odd values common.
    return st.integers(0, 19).flatmap(lambda roll: odd(*oddities) if roll == 7 else valid)


days = mostly(
    st.dates(date(2026, 12, 1), date(2028, 1, 31)).map(date.isoformat),
    "2027-02-30",
    "20270101",
    "2027-1-1",
    "2027-W01-1",
    "2027-01-01T00:00",
)
# JSON object keys are always strings.
unit_names = st.sampled_from(
    ["end_users", "seats", "end_users", "seats", "", " ", "x" * 64, "x" * 65]
)
amounts = mostly(st.integers(0, 10**12), 2.5, "12", 10**12 + 1, 10**13)
revenues = mostly(
    st.decimals(0, 10**12, places=4).map(str) | st.decimals(0, 10**6, places=2) | st.integers(0),
    "1e3",
    "-0",
    "0.00001",
    "12.5",
    "١٢",
    10**12 + 1,
    str(10**12) + ".0001",
)
names = mostly(st.text(min_size=1, max_size=35), "x" * 36)


def vocabulary(values: tuple[str, ...]) -> st.SearchStrategy[Any]:
    return mostly(st.sampled_from(values), "unheard_of", values[0].upper())


@st.composite
def uses(draw: st.DrawFn) -> Any:
    use: dict[str, Any] = {
        "use": draw(vocabulary(USES)),
        "product_type": draw(vocabulary(PRODUCT_TYPES)),
        "user_type": draw(vocabulary(USER_TYPES)),
    }
    optional = {
        "quantity": mostly(st.dictionaries(unit_names, amounts, max_size=3)),
        "revenue": revenues,
        "languages": mostly(st.lists(names, max_size=3), ["x"] * 201),
        "description": mostly(st.text(max_size=20), "d" * 2001),
    }
    for key, values in optional.items():
        if draw(st.booleans()):
            use[key] = draw(values)
    if draw(st.integers(0, 19)) == 7:
        use["unexpected"] = 1
    if draw(st.integers(0, 19)) == 7:
        del use[draw(st.sampled_from(["use", "product_type", "user_type"]))]
    return use


@st.composite
def bodies(draw: st.DrawFn) -> Any:
    body: dict[str, Any] = {
        "organization_type": draw(vocabulary(ORGANIZATION_TYPES)),
        "term": draw(mostly(st.fixed_dictionaries({"start": days, "end": days}))),
        "uses": draw(mostly(st.lists(uses(), min_size=1, max_size=3), [{}] * 101)),
    }
    if draw(st.booleans()):
        body["rate_card"] = draw(mostly(st.just("2027.1") | st.none(), "v" * 65))
    if draw(st.integers(0, 19)) == 7 and isinstance(body["term"], dict):
        body["term"] = {**body["term"], "extra": 1}
    if draw(st.integers(0, 19)) == 7:
        body["unexpected"] = 1
    if draw(st.integers(0, 19)) == 7:
        del body[draw(st.sampled_from(sorted(body)))]
    return body
