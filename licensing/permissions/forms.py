"""Page forms (Flask-WTF: CSRF-protected). They check shape only; the services
decide the rules and their messages are shown beside the fields."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Length, Optional

from licensing.accounts.forms import ORGANIZATION_TYPE_LABELS
from licensing.accounts.models import EMAIL_MAX
from licensing.pricing.vocabulary import ORGANIZATION_TYPES

from .models import (
    CONDITIONS_MAX,
    CONTENT_MAX,
    DURATION_MAX,
    INSTITUTION_MAX,
    MEDIA,
    MESSAGE_MAX,
    NAME_MAX,
    PERMITTED_USE_MAX,
    PURPOSE_DETAIL_MAX,
    PURPOSES,
    REASON_MAX,
    ROLES,
)
from .services import label

REQUIRED = InputRequired(message="This field is required.")


def _at_most(limit: int) -> Length:
    return Length(max=limit, message=f"Use at most {limit:,} characters.")


def _choices(values: tuple[str, ...]) -> list[SelectChoice]:
    return [SelectChoice("", "Choose…")] + [SelectChoice(value, label(value)) for value in values]


def _organization_types() -> list[SelectChoice]:
    return [SelectChoice("", "Choose…")] + [
        SelectChoice(value, ORGANIZATION_TYPE_LABELS.get(value, label(value)))
        for value in ORGANIZATION_TYPES
    ]


class PermissionRequestForm(FlaskForm):
    """The public request form; field names are the service's."""

    requester_name = StringField("Your name", validators=[REQUIRED, _at_most(NAME_MAX)])
    requester_email = EmailField(
        "Your email address",
        validators=[REQUIRED, _at_most(EMAIL_MAX)],
        render_kw={"autocomplete": "email"},
    )
    institution = StringField("Institution", validators=[REQUIRED, _at_most(INSTITUTION_MAX)])
    role = SelectField("Your role", choices=lambda: _choices(ROLES), validate_choice=False)
    organization_type = SelectField(
        "Type of institution", choices=_organization_types, validate_choice=False
    )
    purpose = SelectField("Purpose", choices=lambda: _choices(PURPOSES), validate_choice=False)
    purpose_detail = TextAreaField(
        "Describe the purpose", validators=[REQUIRED, _at_most(PURPOSE_DETAIL_MAX)]
    )
    content_requested = TextAreaField(
        "Content requested", validators=[REQUIRED, _at_most(CONTENT_MAX)]
    )
    medium = SelectField("Medium", choices=lambda: _choices(MEDIA), validate_choice=False)
    audience_size = StringField(
        "Audience size", validators=[REQUIRED], render_kw={"inputmode": "numeric"}
    )
    duration = StringField("Duration of the use", validators=[REQUIRED, _at_most(DURATION_MAX)])
    noncommercial = BooleanField("I confirm that the use is non-commercial")

    FIELDS = (
        "requester_name",
        "requester_email",
        "institution",
        "role",
        "organization_type",
        "purpose",
        "purpose_detail",
        "content_requested",
        "medium",
        "audience_size",
        "duration",
        "noncommercial",
    )


class MessageForm(FlaskForm):
    """The requester's answer, or their grounds for reconsideration."""

    body = TextAreaField("Your answer", validators=[REQUIRED, _at_most(MESSAGE_MAX)])


class ReconsiderForm(MessageForm):
    body = TextAreaField(
        "Why should the decision be reconsidered?", validators=[REQUIRED, _at_most(MESSAGE_MAX)]
    )


class ConfirmForm(FlaskForm):
    """A button that only needs the CSRF token (withdraw, start review)."""


class AskForm(FlaskForm):
    message = TextAreaField(
        "Question for the requester", validators=[REQUIRED, _at_most(MESSAGE_MAX)]
    )


class NoteForm(FlaskForm):
    body = TextAreaField("Internal note", validators=[REQUIRED, _at_most(MESSAGE_MAX)])


class ApproveForm(FlaskForm):
    permitted_use = TextAreaField(
        "Permitted use", validators=[Optional(), _at_most(PERMITTED_USE_MAX)]
    )
    conditions = TextAreaField("Conditions", validators=[Optional(), _at_most(CONDITIONS_MAX)])
    valid_from = DateField("Valid from", validators=[Optional()])
    valid_until = DateField("Valid until", validators=[Optional()])


class DenyForm(FlaskForm):
    reason = TextAreaField("Reason for the denial", validators=[REQUIRED, _at_most(REASON_MAX)])


class AssignForm(FlaskForm):
    assignee_id = SelectField("Assign to", choices=[], validate_choice=False)


class BulkAssignForm(FlaskForm):
    """The queue's bulk assignment. No default: unassigning is a choice of its own
    (and asks for confirmation), never what an untouched form does."""

    assignee_id = SelectField(
        "Assign the selected requests to", choices=[], validate_choice=False, id="bulk-assignee"
    )
