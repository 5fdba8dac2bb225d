"""Round 50: a reason the staff must give is refused in one message, whichever way
it is missing. Round 49 made the billing steps' reasons `api.fields.Required` ("Say
why." absent, null, empty or blank); a payment's reversal, an agreement's
termination, an application returned or rejected, an approval's changed amount, an
account moved and a person's passkeys removed still answered "This field is
required." absent or empty (the schema's) and the service's own words blank. Their
schemas and the pages' forms now say the service's words for all four."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
import pytest
from wtforms.validators import DataRequired, InputRequired

from licensing.accounts.forms import MoveUserForm, PasskeyRemovalForm, TwoStepResetForm
from licensing.accounts.models import PASSKEY_REASON_REQUIRED
from licensing.accounts.services.moves import REASON_REQUIRED as MOVE_REASON_REQUIRED
from licensing.accounts.services.two_step import TURN_OFF_REASON_REQUIRED
from licensing.agreements.models import AMOUNT_REASON_REQUIRED
from licensing.agreements.models import REASON_REQUIRED as LICENSING_REASON_REQUIRED
from licensing.api.accounts import MoveInputSchema, PasskeyRemovalSchema
from licensing.api.agreements import AgreementTerminationSchema
from licensing.api.applications import ApplicationReasonSchema, LineChangeSchema
from licensing.api.fields import Required
from licensing.api.invoices import CreditNoteInputSchema, ReasonSchema, ReversalInputSchema
from licensing.billing.forms import ReversalForm
from licensing.billing.models import REASON_REQUIRED, REVERSAL_REASON_REQUIRED
from licensing.errors import InvalidInput
from licensing.permissions.forms import DenyForm
from licensing.permissions.models import DENIAL_REASON_REQUIRED, DENIAL_REASON_WHAT
from licensing.permissions.services._common import message_text
from tests.support.api_schemas import api_schemas

# Each schema whose `reason` staff must give, with the words its service says for a
# blank one.
STAFF_REASONS: list[tuple[type[ma.Schema], str]] = [
    (ReversalInputSchema, REVERSAL_REASON_REQUIRED),
    (AgreementTerminationSchema, LICENSING_REASON_REQUIRED),
    (ApplicationReasonSchema, LICENSING_REASON_REQUIRED),
    (LineChangeSchema, AMOUNT_REASON_REQUIRED),
    (MoveInputSchema, MOVE_REASON_REQUIRED),
    (PasskeyRemovalSchema, PASSKEY_REASON_REQUIRED),
    (ReasonSchema, REASON_REQUIRED),
    (CreditNoteInputSchema, REASON_REQUIRED),
]
NOT_GIVEN: list[dict[str, Any]] = [{}, {"reason": None}, {"reason": ""}, {"reason": " \t "}]


def test_every_required_reason_on_the_api_is_a_required_field() -> None:
    plain = [
        schema.__name__
        for schema in api_schemas()
        for name, field in schema._declared_fields.items()
        if name.endswith("reason") and field.required and not isinstance(field, Required)
    ]
    assert plain == []


@pytest.mark.parametrize(
    ("schema", "words"), STAFF_REASONS, ids=[s.__name__ for s, _ in STAFF_REASONS]
)
@pytest.mark.parametrize("body", NOT_GIVEN, ids=["absent", "null", "empty", "blank"])
def test_a_staff_reason_absent_null_empty_or_blank_says_the_services_words(
    schema: type[ma.Schema], words: str, body: dict[str, Any]
) -> None:
    field = schema._declared_fields["reason"]
    assert isinstance(field, Required)
    assert field.message == words
    with pytest.raises(ma.ValidationError) as refused:
        schema(partial=False, unknown=ma.EXCLUDE).load(body)
    messages = refused.value.messages
    assert isinstance(messages, dict)
    assert messages["reason"] == [words]


def test_a_staff_reason_is_trimmed_before_the_service_reads_it() -> None:
    loaded = ReversalInputSchema().load({"reason": "  Bounced. ", "returned_on": "2027-01-27"})
    assert loaded["reason"] == "Bounced."


@pytest.mark.parametrize(
    ("form", "words"),
    [
        (ReversalForm, REVERSAL_REASON_REQUIRED),
        (MoveUserForm, MOVE_REASON_REQUIRED),
        (PasskeyRemovalForm, PASSKEY_REASON_REQUIRED),
        (TwoStepResetForm, TURN_OFF_REASON_REQUIRED),
    ],
    ids=lambda found: getattr(found, "__name__", ""),
)
def test_a_pages_empty_reason_says_what_its_service_says_for_a_blank_one(
    form: type, words: str
) -> None:
    # The page said "This field is required." (or "Say why.") empty and the service's
    # words blank: the form's message is now the service's constant.
    validators = form.reason.kwargs["validators"]
    required = [found for found in validators if isinstance(found, InputRequired)]
    assert [found.message for found in required] == [words]


def test_a_denials_empty_or_blank_reason_on_the_page_says_what_the_service_says() -> None:
    """Round 50: a permission denied without a reason was "This field is required." on
    the page (its form trims it) and "The reason is required." on the API (the
    service's, for absent, null, empty and blank alike)."""
    validators = DenyForm.reason.kwargs["validators"]
    required = [found for found in validators if isinstance(found, DataRequired)]
    assert [found.message for found in required] == [DENIAL_REASON_REQUIRED]
    for given in (None, "", " \t "):
        with pytest.raises(InvalidInput) as refused:
            message_text(given, what=DENIAL_REASON_WHAT, field_name="reason")
        assert refused.value.errors == {"reason": [DENIAL_REASON_REQUIRED]}
