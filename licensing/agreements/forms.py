"""Page forms of the application console (Flask-WTF: CSRF-protected)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectField


class BulkAssignForm(FlaskForm):
    """The queue's bulk assignment. No default: unassigning is a choice of its own
    (and asks for confirmation), never what an untouched form does."""

    assignee_id = SelectField(
        "Assign the selected applications to",
        choices=[],
        validate_choice=False,
        id="bulk-assignee",
    )
