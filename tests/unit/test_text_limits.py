"""Round 16: one sentence for a text past its limit, whoever refuses it.

The API's text fields said marshmallow's "Length must be between 1 and 200."
for an empty required text and "Longer than maximum length 200." past the
limit, billing "At most 200 characters." (ungrouped), permissions and accounts
"Use at most 2,000 characters." (some with "(2,001 given)"). Every one now says
`words.at_most_characters` ("At most 2,000 characters."), and an empty required
text the pages' "This field is required."."""

from __future__ import annotations

from collections.abc import Iterator

import marshmallow as ma
import pytest
from wtforms.fields.core import UnboundField
from wtforms.validators import Length as FormLength

from licensing.accounts import forms as account_forms
from licensing.agreements import forms as agreement_forms
from licensing.api.fields import Required, Text
from licensing.billing import forms as billing_forms
from licensing.permissions import forms as permission_forms
from licensing.words import FIELD_REQUIRED, at_most_characters
from tests.support.api_schemas import api_schemas as _schemas


def _text_fields() -> Iterator[tuple[str, str, ma.fields.Field]]:
    """(schema, field path, field) of every text field of the API's schemas,
    a list's items included."""
    for schema in _schemas():
        for name, field in schema._declared_fields.items():
            if isinstance(field, ma.fields.List):
                field, name = field.inner, f"{name}.0"
            if isinstance(field, ma.fields.String):
                yield schema.__name__, name, field


TEXT_FIELDS = sorted(_text_fields(), key=lambda found: found[:2])


def test_the_api_has_text_fields_to_check() -> None:
    assert len(TEXT_FIELDS) > 40
    assert any(isinstance(v, Text) for _s, _n, f in TEXT_FIELDS for v in f.validators)


@pytest.mark.parametrize(
    ("schema", "name", "field"), TEXT_FIELDS, ids=[f"{s}.{n}" for s, n, _f in TEXT_FIELDS]
)
def test_every_api_text_bound_says_the_projects_sentences(
    schema: str, name: str, field: ma.fields.Field
) -> None:
    for validator in field.validators:
        if not isinstance(validator, ma.validate.Length) or validator.equal is not None:
            continue
        assert isinstance(validator, Text), f"{schema}.{name}: marshmallow's own sentences"
        assert validator.max is not None
        too_long = "x" * (validator.max + 1)
        with pytest.raises(ma.ValidationError) as refused:
            field.deserialize(too_long)
        assert at_most_characters(validator.max) in refused.value.messages
        if validator.min:
            with pytest.raises(ma.ValidationError) as empty:
                field.deserialize("")
            # A staff step's reason says the service's own words (round 49: `Required`).
            own = field.message if isinstance(field, Required) else FIELD_REQUIRED
            assert empty.value.messages == [own]


def test_an_empty_required_text_and_a_long_one_read_as_on_the_pages() -> None:
    validator = Text(2000, filled=True)
    with pytest.raises(ma.ValidationError) as empty:
        validator("")
    assert empty.value.messages == ["This field is required."]
    with pytest.raises(ma.ValidationError) as long:
        validator("x" * 2001)
    assert long.value.messages == ["At most 2,000 characters."]
    assert validator("x" * 2000) == "x" * 2000


def _form_bounds(module: object) -> Iterator[tuple[str, str, FormLength]]:
    """(form, field, Length) of every length bound on the module's page forms."""
    for form in [v for v in vars(module).values() if isinstance(v, type)]:
        for name in dir(form):
            unbound = getattr(form, name, None)
            if not isinstance(unbound, UnboundField):
                continue
            given = unbound.kwargs.get("validators") or (unbound.args[1:2] or [[]])[0]
            for validator in given or []:
                if isinstance(validator, FormLength) and validator.max > 0:
                    yield form.__name__, name, validator


@pytest.mark.parametrize(
    "module", [account_forms, agreement_forms, billing_forms, permission_forms]
)
def test_every_page_form_text_bound_says_the_same_sentence(module: object) -> None:
    bounds = list(_form_bounds(module))
    assert bounds, module
    for form_name, name, validator in bounds:
        assert validator.message == at_most_characters(validator.max), (form_name, name)
