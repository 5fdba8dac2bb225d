"""`limits.loads` refuses exactly what a walk over every value refuses, also when it
skips that walk for a body that cannot hold anything to refuse."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from licensing import limits
from licensing.errors import InvalidInput, RepeatedKey

texts = st.text(alphabet=st.sampled_from(["a", "{", "[", "\x00", "\ud800", "é", " "]), max_size=6)
scalars = st.none() | st.booleans() | st.integers(-5, 5) | texts
documents = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=60,
)


def nested(depth: int, *, width: int = 40) -> Any:
    """`depth` levels of lists, with `width` empty objects beside the top one."""
    document: Any = "deepest"
    for _ in range(depth):
        document = [document]
    return [document, *([{}] * width)]


def outcome(text: str) -> Any:
    try:
        return limits.loads(text)
    except InvalidInput as error:
        return ("refused", error.errors)


def walked(document: Any) -> Any:
    """What the walk over every value says of the document."""
    try:
        problems = limits._walk(document)
    except InvalidInput as error:
        return ("refused", error.errors)
    return ("refused", problems) if problems else document


@given(documents, st.booleans())
def test_a_body_is_refused_exactly_when_the_walk_over_every_value_refuses_it(
    document: Any, escaped: bool
) -> None:
    text = json.dumps(document, ensure_ascii=escaped)
    assert outcome(text) == walked(json.loads(text))


@pytest.mark.parametrize("depth", [limits.MAX_JSON_DEPTH - 2, limits.MAX_JSON_DEPTH - 1])
def test_a_wide_body_nested_up_to_the_limit_is_read(depth: int) -> None:
    document = nested(depth)
    assert limits.loads(json.dumps(document)) == document


def test_a_wide_body_nested_past_the_limit_is_refused_naming_the_depth() -> None:
    with pytest.raises(InvalidInput) as refused:
        limits.loads(json.dumps(nested(limits.MAX_JSON_DEPTH)))
    assert "Nested deeper than 32 levels." in str(refused.value.errors)


@pytest.mark.parametrize("depth", [limits.MAX_JSON_DEPTH - 1, limits.MAX_JSON_DEPTH])
def test_objects_and_lists_nested_alike_are_read_up_to_the_limit_and_refused_past_it(
    depth: int,
) -> None:
    document: Any = "deepest"
    for level in range(depth):
        document = {"inner": document, "beside": [1, {}]} if level % 2 else [{}, document]
    text = json.dumps([document, *([{}] * 40)])
    assert outcome(text) == walked(json.loads(text))
    assert (outcome(text)[0] == "refused") == (depth == limits.MAX_JSON_DEPTH)


def test_brackets_inside_strings_do_not_make_a_body_too_deep() -> None:
    document = {"description": "[{" * 50}
    assert limits.loads(json.dumps(document)) == document


def height(document: Any) -> int:
    """How many levels of containers the document nests (a scalar: none)."""
    if isinstance(document, dict):
        return 1 + max(map(height, document.values()), default=0)
    if isinstance(document, list):
        return 1 + max(map(height, document), default=0)
    return 0


def strings(document: Any) -> list[str]:
    """Every key and string value in the document."""
    if isinstance(document, dict):
        return [*document, *(text for value in document.values() for text in strings(value))]
    if isinstance(document, list):
        return [text for value in document for text in strings(value)]
    return [document] if isinstance(document, str) else []


@given(documents, st.booleans())
def test_the_nesting_read_from_the_brackets_is_the_documents_or_left_to_the_walk(
    document: Any, escaped: bool
) -> None:
    text = json.dumps(document, ensure_ascii=escaped)
    levels = limits._nesting_levels(text)
    assert levels in (None, height(document))
    if "\\" not in text and not any(set(string) & set("{}[]") for string in strings(document)):
        assert levels == height(document)


@pytest.mark.parametrize(
    "depth", [limits.MAX_JSON_DEPTH - 1, limits.MAX_JSON_DEPTH, limits.MAX_JSON_DEPTH + 1]
)
def test_the_nesting_read_from_the_brackets_stops_past_the_limit(depth: int) -> None:
    document: Any = 1
    for level in range(depth):
        document = {"inner": document, "beside": 1} if level % 2 else [2, document]
    assert height(document) == depth
    expected = depth if depth <= limits.MAX_JSON_DEPTH else None
    assert limits._nesting_levels(json.dumps(document)) == expected


def test_brackets_in_strings_that_would_hide_a_level_leave_the_depth_to_the_walk() -> None:
    # Outside the strings the brackets nest past the limit; with the strings'
    # "]" and "[" counted as brackets they would seem one level shallower.
    document: Any = "deepest"
    for _ in range(limits.MAX_JSON_DEPTH + 1):
        document = [document]
    document = ["]", document, "["]
    text = json.dumps(document)
    assert text.count("[") >= limits.MAX_JSON_DEPTH
    assert limits._nesting_levels(text) is None
    with pytest.raises(InvalidInput, match="deeper than"):
        limits.loads(text)


def test_an_escaped_quote_leaves_the_depth_to_the_walk() -> None:
    document = [{"description": 'say "[" here'}] * limits.MAX_JSON_DEPTH
    text = json.dumps(document)
    assert limits._nesting_levels(text) is None
    assert limits.loads(text) == document


def hooked(text: str) -> Any:
    """What `loads` answers when every integer goes through `json_int`."""
    try:
        document = json.loads(
            text,
            parse_float=limits.json_decimal,
            parse_int=limits.json_int,
            parse_constant=limits._refuse_constant,
        )
    except limits.NumberOutOfRange as error:
        return ("refused", {"_body": [str(error)]})
    return walked(document)


# Integers on both sides of the bound on their literal, digits in strings
# beside them (ASCII and not: "\u0661" is ARABIC-INDIC DIGIT ONE), and text a
# UTF-8 encoding must still carry (a lone surrogate).
BOUND = 10**limits.MAX_JSON_NUMBER_CHARS
integers = st.integers(-BOUND, BOUND) | st.sampled_from(
    [BOUND // 10, BOUND // 10 - 1, -(BOUND // 100), -(BOUND // 100) + 1, BOUND - 1, -BOUND + 1]
)
digit_texts = st.text(
    alphabet=st.sampled_from(["9", "0", "\u0661", "é", "\ud800", " "]), max_size=44
)
numbered = st.recursive(
    integers | digit_texts | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(digit_texts, inner, max_size=3),
    max_leaves=12,
)


@given(numbered, st.booleans())
def test_integers_read_in_c_are_refused_and_accepted_as_json_int_would(
    document: Any, escaped: bool
) -> None:
    text = json.dumps(document, ensure_ascii=escaped)
    assert outcome(text) == hooked(text)


@pytest.mark.parametrize(
    "literal", ["9" * 40, "-" + "9" * 39, "9" * 41, "-" + "9" * 40, "1" + "0" * 40]
)
def test_an_integer_literal_is_refused_past_the_bound_whatever_surrounds_it(literal: str) -> None:
    text = f'{{"a": "{"1" * 45}", "quantity": {literal}}}'
    expected = hooked(text)
    assert outcome(text) == expected
    assert isinstance(expected, tuple) == (len(literal) > limits.MAX_JSON_NUMBER_CHARS)


def test_a_body_with_a_byte_order_mark_is_refused_as_json_loads_refuses_it() -> None:
    with pytest.raises(json.JSONDecodeError, match="Unexpected UTF-8 BOM"):
        limits.loads('\ufeff{"a": 1}')


def test_one_pass_marks_the_digits_brackets_quotes_and_colons_of_a_body() -> None:
    # Read once for three checks: the integers' (runs of "1"), the depth's and the
    # repeated keys' (the colons counted, round 64).
    assert limits._marks('{"a": [12, "x9"], "é": -3.5}') == b'{"":[11"1"]"":11}'
    assert limits._marks("[\u0661, 7]") == b"[1]"  # only ASCII digits are a literal's


@given(st.text())
def test_the_marks_hold_as_many_colons_as_the_text_whatever_its_characters(text: str) -> None:
    # The repeated keys' check counts the colons in the marks, not in the text
    # (round 64): a colon is one byte in UTF-8, in no other character's bytes.
    assert limits._marks(text).count(b":") == text.count(":")


def test_a_key_given_twice_is_still_found_among_colons_digits_and_brackets() -> None:
    # The colons now among the marks: counted for the keys, out of the depth's.
    with pytest.raises(RepeatedKey):
        limits.loads('{"a": [1, {"b:": 2, "b:": 3}], "c": "4:5"}')
    assert limits.loads('{"a": [1, {"b:": 2}], "c": "4:5"}') == {
        "a": [1, {"b:": 2}],
        "c": "4:5",
    }


def test_digits_apart_with_nothing_marked_between_them_are_read_as_the_numbers_they_are() -> None:
    # 45 one-digit integers make one run of marks: read through `json_int`, exactly.
    text = json.dumps({"uses": list(range(10)) * 4 + [1, 2, 3, 4, 5], "note": "1 2 " * 30})
    assert limits._may_hold_long_integer(limits._marks(text))
    assert limits.loads(text) == json.loads(text)


# Round 55: a key given twice. Keys that repeat, keys and strings holding colons (the
# count of keys against the text's colons must only decide whether to look again),
# and a key written as an escape that repeats another.
KEY_TEXTS = st.sampled_from(['"a"', '"b"', '"a:"', '":"', '"\\u0061"'])
VALUE_TEXTS = st.sampled_from(["1", "2.5", '"x"', '"b:c"', "null", "[]", "{}"])
JSON_TEXTS = st.recursive(
    VALUE_TEXTS,
    lambda inner: (
        st.lists(st.tuples(KEY_TEXTS, inner), max_size=4).map(
            lambda pairs: "{" + ", ".join(f"{key}: {value}" for key, value in pairs) + "}"
        )
        | st.lists(inner, max_size=3).map(lambda items: "[" + ", ".join(items) + "]")
    ),
    max_leaves=25,
)


def gives_a_key_twice(text: str) -> bool:
    """Python's own parser's pairs say whether some object gives a key twice."""
    repeats = []

    def pairs_seen(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        if len({key for key, _ in pairs}) != len(pairs):
            repeats.append(pairs)
        return dict(pairs)

    json.loads(text, object_pairs_hook=pairs_seen)
    return bool(repeats)


@given(JSON_TEXTS)
def test_a_body_is_refused_as_giving_a_key_twice_exactly_when_some_object_does(
    text: str,
) -> None:
    try:
        document = limits.loads(text)
    except RepeatedKey:
        assert gives_a_key_twice(text), text
    else:
        assert not gives_a_key_twice(text), text
        assert document == json.loads(text, parse_float=Decimal), text


def test_a_key_given_twice_is_named_by_its_path_and_how_often() -> None:
    with pytest.raises(RepeatedKey) as refused:
        limits.loads('{"uses": [{"a": 1}, {"quantity": {"n": 1, "n": 2, "n": 3}}]}')
    assert refused.value.errors == {
        "uses.1.quantity.n": ['The key "n" is given 3 times in one object: give each key once.']
    }


def test_the_first_object_in_the_body_that_gives_a_key_twice_is_the_one_named() -> None:
    with pytest.raises(RepeatedKey) as refused:
        limits.loads('[{"a": {"b": 1, "b": 2}}, {"c": 1, "c": 2}]')
    assert list(refused.value.errors) == ["0.a.b"]


def test_a_body_whose_strings_hold_colons_is_not_read_again_when_no_key_repeats(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Its colons outside strings, counted off the quotes, are its keys: no second
    reading (which a backslash, making the quotes unreliable, still takes)."""

    def read_again(text: str) -> None:
        raise AssertionError(f"read again: {text}")

    monkeypatch.setattr(limits, "_refuse_repeated_keys", read_again)
    assert limits.loads('{"at": "12:00", "a:b": [{"c": "d:e:f"}]}')["at"] == "12:00"
    with pytest.raises(AssertionError, match="read again"):
        limits.loads('{"at": "12:00 \\"x\\""}')
