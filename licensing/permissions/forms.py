"""Page forms (Flask-WTF: CSRF-protected). They check shape only, with the limits
on the models; the request form builds the use case's `PermissionRequestInput`.
The services decide the rules and their messages are shown beside the fields."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    HiddenField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    Length,
    Optional,
    StopValidation,
    ValidationError,
)

from licensing.accounts.services import normalize_email
from licensing.calendar import office_date
from licensing.config import current_config
from licensing.db import utcnow
from licensing.errors import InvalidInput
from licensing.money import ungrouped
from licensing.pricing.vocabulary import ORGANIZATION_TYPES
from licensing.web.forms import PageForm, within
from licensing.words import FIELD_REQUIRED, ORGANIZATION_TYPE_LABELS, at_most_characters

from .commands import TEXT_FIELDS, PermissionRequestInput
from .models import (
    DENIAL_REASON_REQUIRED,
    MEDIA,
    PURPOSES,
    ROLES,
    PermissionRequest,
)
from .services import NONCOMMERCIAL_MESSAGE, check_term, label

# Beside the form's purpose: the form's top links the estimator and the application.
COMMERCIAL_FIELD_MESSAGE = (
    "A commercial product, service or publication needs a license, not a permission. "
    "If the use is in fact non-commercial, choose its educational purpose."
)

# After trimming (`filters=[_trimmed]`): a field of spaces is as empty as a blank one,
# with the same message (an answer of spaces met the service's own words instead).
FILLED = DataRequired(message=FIELD_REQUIRED)


def _trimmed(text: str | None) -> str:
    return (text or "").strip()


_Check = Callable[[Any, Any], None]


def _required(check: _Check) -> _Check:
    """A check that refuses an empty field: the field is marked required, as
    `InputRequired` marks the text fields (the star beside the label)."""
    check.field_flags = {"required": True}  # type: ignore[attr-defined]  # read by WTForms
    return check


def _one_of(values: tuple[str, ...]) -> Callable[[Any, Any], None]:
    """A choice from a vocabulary, in the words the requester reads."""

    def check(_form: Any, field: Any) -> None:
        if not field.data:
            raise StopValidation("Choose one.")
        if field.data not in values:
            raise StopValidation(f"Choose one of: {', '.join(values)}.")

    return _required(check)


def _vocabulary(
    label: str, values: tuple[str, ...], choices: Callable[[], list[SelectChoice]] | None = None
) -> Any:
    """A select of a vocabulary, "Choose…" first; the choice is checked by `_one_of`."""
    return SelectField(
        label,
        choices=choices or (lambda: _choices(values)),
        validate_choice=False,
        validators=[_one_of(values)],
    )


def _audience_text(data: str | None) -> str:
    """The audience as digits: "1,200" is a count as the estimator and the license
    application read one (their quantities drop the thousands separators too)."""
    return ungrouped(data or "")


@_required
def _audience(_form: Any, field: Any) -> None:
    text = _audience_text(field.data)
    most = PermissionRequest.LIMITS["audience_size"]
    if not text:
        raise StopValidation("Give the expected audience size.")
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(most)):
        raise StopValidation("Give the audience size as a whole number.")
    if not 1 <= int(text) <= most:
        raise StopValidation(f"Give a number between 1 and {most:,}.")


def _at_most(name: str) -> Length:
    """The length check of field `name`: its limit on the model."""
    limit = PermissionRequest.LIMITS[name]
    return within(limit)


def _choices(values: tuple[str, ...]) -> list[SelectChoice]:
    return [SelectChoice("", "Choose…")] + [SelectChoice(value, label(value)) for value in values]


def _organization_types() -> list[SelectChoice]:
    return [SelectChoice("", "Choose…")] + [
        SelectChoice(value, ORGANIZATION_TYPE_LABELS.get(value, label(value)))
        for value in ORGANIZATION_TYPES
    ]


# The fields a link may fill in (the estimator's "Request permission for this
# educational use"): a suggestion shown in the form, checked when it is sent.
SUGGESTED = ("organization_type", "medium", "audience_size", "purpose_detail", "duration")
# The term's days, suggested too (round 42): read as days, a text that is no day dropped.
SUGGESTED_DAYS = ("use_from", "use_until")


# A choice or a count is short; the texts are cut to what the field takes.
_SUGGESTED_LENGTH = {
    "purpose_detail": PermissionRequest.LIMITS["purpose_detail"],
    "duration": PermissionRequest.LIMITS["duration"],
}


def suggested(query: Mapping[str, str]) -> dict[str, Any]:
    """The suggested fields a link's query gives."""
    fields: dict[str, Any] = {
        name: query[name][: _SUGGESTED_LENGTH.get(name, 40)]
        for name in SUGGESTED
        if query.get(name)
    }
    for name in SUGGESTED_DAYS:
        day = _day(query.get(name) or "")
        if day is not None:
            fields[name] = day
    return fields


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None


def request_fields(found: PermissionRequest, today: date) -> dict[str, Any]:
    """A sent request's fields, as the form takes them (to send it again corrected);
    the non-commercial attestation is given anew. The term's days come along while
    they can still be asked for (from `today` on): a new request after a permission
    ended asks for its own."""
    keeps_days = found.use_from is not None and found.use_from >= today
    return {
        "requester_name": found.requester_shown_name,
        "requester_email": found.requester_address,
        "institution": found.shown_institution,
        "role": found.stated_role or "",
        "organization_type": found.organization_type or "",
        "purpose": found.purpose or "",
        "purpose_detail": found.purpose_detail or "",
        "content_requested": found.content_requested or "",
        "medium": found.medium or "",
        "audience_size": str(found.audience_size or ""),
        "duration": found.shown_duration,
        "use_from": found.use_from if keeps_days else None,
        "use_until": found.use_until if keeps_days else None,
    }


# A status token is 43 characters (`secrets`' URL-safe base64 of 32 bytes).
CORRECTS_MAX = 64


class PermissionRequestForm(PageForm):
    """The public request form; field names are the service's."""

    requester_name = StringField(
        "Your name", validators=[FILLED, _at_most("requester_name")], filters=[_trimmed]
    )
    requester_email = EmailField(
        "Your email address",
        validators=[FILLED, _at_most("requester_email")],
        filters=[_trimmed],
        render_kw={"autocomplete": "email"},
    )
    institution = StringField(
        "Institution", validators=[FILLED, _at_most("institution")], filters=[_trimmed]
    )
    role = _vocabulary("Your role", ROLES)
    organization_type = _vocabulary(
        "Type of institution", ORGANIZATION_TYPES, choices=_organization_types
    )
    purpose = _vocabulary("Purpose", PURPOSES)
    purpose_detail = TextAreaField(
        "Describe the purpose",
        validators=[FILLED, _at_most("purpose_detail")],
        filters=[_trimmed],
    )
    content_requested = TextAreaField(
        "Content requested", validators=[FILLED, _at_most("content_requested")], filters=[_trimmed]
    )
    medium = _vocabulary("Medium", MEDIA)
    audience_size = StringField(
        "Audience size", validators=[_audience], render_kw={"inputmode": "numeric"}
    )
    duration = StringField(
        "Duration of the use", validators=[FILLED, _at_most("duration")], filters=[_trimmed]
    )
    use_from = DateField("First day of the use", validators=[Optional()])
    use_until = DateField("Last day of the use", validators=[Optional()])
    noncommercial = BooleanField("I confirm that the use is non-commercial")

    # The service's rules, repeated here so that one submission reports every
    # problem (the service runs only once the form is valid, and still decides).
    def validate_requester_email(self, field: EmailField) -> None:
        try:
            normalize_email(field.data or "")
        except InvalidInput as invalid:
            raise ValidationError(
                " ".join(m for ms in invalid.errors.values() for m in ms)
            ) from None

    def validate_noncommercial(self, field: BooleanField) -> None:
        if not field.data:
            raise ValidationError(NONCOMMERCIAL_MESSAGE)

    def validate(self, extra_validators: Mapping[str, Any] | None = None) -> bool:
        """The fields, then the term's days as the service checks them (round 53: a
        last day before the first was said only once every other field was right, so
        a teacher who had corrected four fields sent the form a second time to learn
        of a fifth). A day that is no day is said already, by its field."""
        valid = super().validate(extra_validators)
        if self.use_from.errors or self.use_until.errors:
            return valid
        problems = check_term(
            self.use_from.data,
            self.use_until.data,
            today=office_date(utcnow()),
            longest_years=current_config().permission_longest_grant_years,
        )
        for name, messages in problems.items():
            self[name].errors = [*self[name].errors, *messages]
        return valid and not problems

    # The status token of the open request this one corrects, from its "send a
    # corrected request" (round 58): posted back with the form, never in a link.
    corrects = HiddenField(
        validators=[Optional(), Length(max=CORRECTS_MAX, message=at_most_characters(CORRECTS_MAX))]
    )

    def command(self) -> PermissionRequestInput:
        """The request the form describes (after `validate()`)."""
        return PermissionRequestInput.from_fields(
            {
                **{name: self[name].data for name in TEXT_FIELDS},
                "audience_size": int(_audience_text(self.audience_size.data)),
                "noncommercial": bool(self.noncommercial.data),
                "use_from": self.use_from.data,
                "use_until": self.use_until.data,
            }
        )


class MessageForm(PageForm):
    """The requester's answer, or their grounds for reconsideration."""

    body = TextAreaField(
        "Your answer", validators=[FILLED, _at_most("message")], filters=[_trimmed]
    )


class ReconsiderForm(MessageForm):
    body = TextAreaField(
        "Why should the decision be reconsidered?",
        validators=[FILLED, _at_most("message")],
        filters=[_trimmed],
    )


class ConfirmForm(PageForm):
    """A button that only needs the CSRF token (withdraw, start review)."""


class AskForm(PageForm):
    message = TextAreaField(
        "Question for the requester",
        validators=[FILLED, _at_most("message")],
        filters=[_trimmed],
    )


class NoteForm(PageForm):
    body = TextAreaField(
        "Internal note", validators=[FILLED, _at_most("message")], filters=[_trimmed]
    )


class ApproveForm(PageForm):
    permitted_use = TextAreaField(
        "Permitted use", validators=[Optional(), _at_most("permitted_use")]
    )
    conditions = TextAreaField("Conditions", validators=[Optional(), _at_most("conditions")])
    valid_from = DateField("Valid from", validators=[Optional()])
    valid_until = DateField("Valid until", validators=[Optional()])


class DenyForm(PageForm):
    reason = TextAreaField(
        "Reason for the denial",
        # Empty or blank (trimmed): the service's words, as the API says them.
        validators=[DataRequired(message=DENIAL_REASON_REQUIRED), _at_most("reason")],
        filters=[_trimmed],
    )


class AssignForm(PageForm):
    assignee_id = SelectField("Assign to", choices=[], validate_choice=False)


class BulkAssignForm(PageForm):
    """The queue's bulk assignment. No default: unassigning is a choice of its own
    (and asks for confirmation), never what an untouched form does."""

    assignee_id = SelectField(
        "Assign the selected requests to", choices=[], validate_choice=False, id="bulk-assignee"
    )
