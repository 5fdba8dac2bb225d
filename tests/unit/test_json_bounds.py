"""`limits.loads` refuses exactly what a walk over every value refuses, also when it
skips that walk for a body that cannot hold anything to refuse."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from licensing import limits
from licensing.errors import InvalidInput

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
