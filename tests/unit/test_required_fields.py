"""Round 17: an absent required field is refused in the pages' sentence.

Round 16 made an empty required text say "This field is required." on the API;
a field left out altogether still said marshmallow's "Missing data for required
field.". Every API schema is now an `ApiSchema`, which says the pages' sentence
for both."""

from __future__ import annotations

from collections.abc import Iterator

import marshmallow as ma
import pytest

from licensing.api.fields import ApiSchema, Required
from licensing.words import FIELD_REQUIRED
from tests.support.api_schemas import api_schemas as _schemas


def _required_fields() -> Iterator[tuple[type[ma.Schema], str]]:
    for schema in _schemas():
        for name, field in schema._declared_fields.items():
            if field.required and not field.dump_only:
                yield schema, name


REQUIRED = sorted(_required_fields(), key=lambda found: (found[0].__name__, found[1]))


def test_every_api_schema_is_an_api_schema() -> None:
    outside = [s.__name__ for s in _schemas() if not issubclass(s, ApiSchema)]
    assert outside == []


def test_the_api_has_required_fields_to_check() -> None:
    assert len(REQUIRED) > 20


@pytest.mark.parametrize(
    ("schema", "name"), REQUIRED, ids=[f"{s.__name__}.{n}" for s, n in REQUIRED]
)
def test_every_absent_required_field_says_the_pages_sentence(
    schema: type[ma.Schema], name: str
) -> None:
    with pytest.raises(ma.ValidationError) as refused:
        schema(partial=False, unknown=ma.EXCLUDE).load({})
    messages = refused.value.messages
    assert isinstance(messages, dict)
    # A staff step's reason says the service's own words (round 49: `Required`).
    field = schema._declared_fields[name]
    assert messages[name] == [field.message if isinstance(field, Required) else FIELD_REQUIRED]


def test_a_field_with_its_own_required_message_keeps_it() -> None:
    class Own(ApiSchema):
        name = ma.fields.String(required=True, error_messages={"required": "Name it."})
        kind = ma.fields.String(required=True)

    with pytest.raises(ma.ValidationError) as refused:
        Own().load({})
    assert refused.value.messages == {"name": ["Name it."], "kind": [FIELD_REQUIRED]}
