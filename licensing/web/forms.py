"""Page forms: their base class, and showing a service's `InvalidInput` on them.

Services report problems by field path (`email`, `organization.legal_name`);
pages show each beside the form field it names (the last part of the path),
and anything else in the form's error summary.

Every page form derives from `PageForm`: on a view declared with
`licensing.limits.shows_unstorable_on_form`, a field that holds a character no
database can store (a NUL) fails validation with a message beside it, instead
of the whole request being refused with the generic page (which loses what was
typed).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict
from wtforms import Field, FieldList, FormField
from wtforms.validators import Length

from licensing.errors import InvalidInput
from licensing.limits import storable, unstorable_form_fields
from licensing.web.filters import field_words
from licensing.words import at_most_characters


def within(limit: int) -> Length:
    """A text field's bound, refused in the one sentence services and the API
    use too: "At most 2,000 characters." (`words.at_most_characters`), not
    WTForms' "Field cannot be longer than 2000 characters."."""
    return Length(max=limit, message=at_most_characters(limit))


class PageForm(FlaskForm):
    """A page's form: fails `validate()` when a field it was posted holds an
    unstorable character (recorded by `licensing.limits.check_request_text`)."""

    def validate(self, extra_validators: Any = None) -> bool:
        valid: bool = super().validate(extra_validators)
        return show_unstorable(self) and valid


def show_unstorable(form: Any) -> bool:
    """Put the unstorable-character message beside each field of `form` that holds
    one (the character shown as U+FFFD, so the page says where it was), and in the
    form's summary for a posted name that is no field of it. False if there was any."""
    recorded = unstorable_form_fields()
    if not recorded:
        return True
    fields = {field.name: field for field in _all_fields(form)}
    for name, messages in recorded.items():
        field = fields.get(name)
        # A list's or sub-form's own name (`uses`) is no input of the page: a value
        # posted under it is named in the summary, as a stray name is (its `data`
        # is the rows', which cannot be set: round 52 found it a 500).
        if field is None or isinstance(field, (FieldList, FormField)):
            form.form_errors.append(f"{field_words(name) or name}: {' '.join(messages)}")
            continue
        field.errors = [*field.errors, *messages]
        field.raw_data = [_readable(value) for value in field.raw_data or []]
        field.data = _readable(field.data)
    return False


def readable(posted: MultiDict[str, str]) -> MultiDict[str, str]:
    """A posted form as a page that shows it again from the request may: each
    unstorable character as U+FFFD, where it was."""
    return MultiDict(
        [(storable(name), storable(value)) for name, value in posted.items(multi=True)]
    )


def _readable(value: Any) -> Any:
    return storable(value) if isinstance(value, str) else value


def _all_fields(fields: Any) -> Iterator[Field]:
    """Every field, those in lists and sub-forms as well (named `uses-0-description`)."""
    for field in fields:
        yield field
        if isinstance(field, (FieldList, FormField)):
            yield from _all_fields(field)


def show_errors(form: FlaskForm, error: InvalidInput) -> None:
    """Attach `error`'s messages to `form`'s fields (or its summary)."""
    if not error.errors:
        form.form_errors.append(error.detail)
        return
    for path, messages in error.errors.items():
        name = path.rsplit(".", 1)[-1]
        field = form._fields.get(name) if name != "csrf_token" else None
        if field is None:
            form.form_errors.extend(messages)
            continue
        field.errors = [*field.errors, *messages]
