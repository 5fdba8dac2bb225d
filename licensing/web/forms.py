"""Showing a service's `InvalidInput` on a page form.

Services report problems by field path (`email`, `organization.legal_name`);
pages show each beside the form field it names (the last part of the path),
and anything else in the form's error summary.
"""

from __future__ import annotations

from flask_wtf import FlaskForm

from licensing.errors import InvalidInput


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
