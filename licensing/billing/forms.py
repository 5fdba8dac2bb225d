"""Billing staff's page forms (CSRF-protected). Shape only: the services decide."""

from __future__ import annotations

from typing import Any

from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Optional

from licensing.billing.models import (
    REASON_MAX,
    REASON_REQUIRED,
    REFERENCE_MAX,
    RETURN_REASON_REQUIRED,
    REVERSAL_REASON_REQUIRED,
    StripeEvent,
)
from licensing.billing.services import (
    DELIVERY_NOTE_REQUIRED,
    INTENT_NOTE_REQUIRED,
    LOOKED_AT_NOTE_REQUIRED,
    MOVE_REASON_REQUIRED,
    WITHDRAW_REASON_REQUIRED,
    references,
)
from licensing.billing.services.references import RepeatedReferencePolicy
from licensing.billing.states import OFFLINE_METHODS
from licensing.web.forms import PageForm, within

METHOD_LABELS = {"wire": "Wire transfer", "ach": "ACH transfer", "check": "Check"}
REFUND_METHOD_LABELS = {"card": "To the card that paid (Stripe)", **METHOD_LABELS}
# Inside a sentence ("Recorded an ACH transfer of ..."): the article, and ACH kept upper case.
METHOD_IN_A_SENTENCE = {"wire": "a wire transfer", "ach": "an ACH transfer", "check": "a check"}


def method_label(method: str) -> str:
    """An offline method as a table cell says it ("Wire transfer"): pages and emails
    printed the stored value upper-cased ("WIRE", "CHECK")."""
    return METHOD_LABELS.get(method, method)


def method_in_a_sentence(method: str) -> str:
    """The same inside a sentence, without its article: "by wire transfer", "(check, ...)"."""
    return METHOD_IN_A_SENTENCE.get(method, f"a {method}").split(" ", 1)[1]


def _amount(label: str, missing: str, **kwargs: Any) -> StringField:
    """An amount of money, typed as text: the service reads it as an exact decimal."""
    return StringField(label, validators=[InputRequired(message=missing)], **kwargs)


def _reason(
    description: str, label: str = "Reason", missing: str = REASON_REQUIRED, **kwargs: Any
) -> TextAreaField:
    """Why staff take a step: required (`missing`, the service's words for a blank
    one), and kept where `description` says."""
    return TextAreaField(
        label,
        validators=[InputRequired(message=missing), within(REASON_MAX)],
        description=description,
        **kwargs,
    )


def _note() -> TextAreaField:
    return TextAreaField("Note", validators=[Optional(), within(REASON_MAX)])


def _record_anyway(record: str) -> BooleanField:
    return BooleanField(f"Record it anyway: this is a separate {record} with the same reference")


class RepeatedReferenceForm(PageForm):
    """A form that records money under a bank reference (an offline payment or
    refund) with the box that confirms a reference the invoice or credit note
    already has (`services.references`): subclasses declare `record_anyway`
    (`_record_anyway`), which the page shows only once the service has asked."""

    reference: StringField
    record_anyway: BooleanField
    # The reference the warning was shown for: ticking the box confirms that one
    # only, so a reference changed since (to one another record has) is asked
    # about again.
    confirmed_reference = HiddenField()

    # Set when the service refused a repeated reference: the page shows the box.
    reference_repeated = False

    @property
    def repeated_reference(self) -> RepeatedReferencePolicy:
        """What the service is to do with a repeated reference: ask, unless the box
        is ticked for the reference posted."""
        return references.confirmed_for(
            self.confirmed_reference.data, self.reference.data, bool(self.record_anyway.data)
        )

    def ask_again(self) -> None:
        """The service refused the posted reference: show the box, unticked, for it."""
        self.reference_repeated = True
        self.confirmed_reference.data = self.reference.data
        self.record_anyway.data = False


class OfflinePaymentForm(RepeatedReferenceForm):
    method = SelectField(
        "Method", choices={m: METHOD_LABELS[m] for m in OFFLINE_METHODS}, validate_choice=True
    )
    # Ids distinct from the credit note form's, which shares the invoice page.
    amount = _amount("Amount", "Give the amount received.", id="payment-amount")
    reference = StringField(
        "Reference",
        validators=[
            InputRequired(message="Give the bank or check reference."),
            within(REFERENCE_MAX),
        ],
        description="The bank's transfer reference or the check number.",
    )
    record_anyway = _record_anyway("payment")
    received_on = DateField("Received on", validators=[Optional()])
    note = _note()


class ReasonForm(PageForm):
    reason = _reason("Recorded in the audit log.")


class RemainderForm(ReasonForm):
    """Accept what a lost dispute left (round 47, prefixed `remainder`). Round 48: a
    remainder more than the invoice owes is accepted with the excess given back
    offline: how it went and the transfer's reference (both empty otherwise)."""

    excess_method = SelectField(
        "How the excess went back",
        choices={"": "Choose how", **{m: METHOD_LABELS[m] for m in OFFLINE_METHODS}},
        default="",
        validate_choice=True,
    )
    excess_reference = StringField(
        "Reference of the transfer or check",
        validators=[Optional(), within(REFERENCE_MAX)],
    )


class GiveBackForm(PageForm):
    """Give a flagged card payment back (prefixed `give_back`). Its label is its own:
    the payment's page has the credit note's *Reason* too, and *Why accept it*
    (round 37: two fields a screen reader listed as "Reason")."""

    reason = _reason(
        "Recorded in the audit log and emailed to the billing contact and the payer.",
        label="Why give it back",
    )


class ReversalForm(PageForm):
    """Reverse one offline payment (prefixed `reverse-<payment id>`): why, and the
    day the bank returned it."""

    reason = _reason(
        "Recorded in the audit log and emailed to the billing contact.",
        missing=REVERSAL_REASON_REQUIRED,
    )
    returned_on = DateField(
        "Returned by the bank on",
        validators=[InputRequired(message="Give the day the bank returned it.")],
    )


class MoveForm(PageForm):
    """Move one offline payment recorded against the wrong invoice to the right one
    (prefixed `move-<payment id>`; round 68, journeyF68): the right invoice's number
    and how the mistake came about."""

    to_invoice = StringField(
        "The invoice it pays",
        validators=[
            InputRequired(message="Give the number of the invoice it pays (INV-YYYY-NNNNNN).")
        ],
        description="Its number, INV-YYYY-NNNNNN: owed, in the payment's currency.",
    )
    reason = _reason(
        "Recorded in the audit log and shown under the payment taken off, on this "
        "invoice's pages (the licensee's too).",
        label="How it came to be recorded here",
        missing=MOVE_REASON_REQUIRED,
    )


class RefundReturnForm(PageForm):
    """Record one offline refund as returned by the bank (prefixed `return-<refund
    id>`; round 55): why, and the day the bank returned it."""

    reason = _reason(
        "Recorded in the audit log and shown under the refund on the invoice's pages, "
        "the licensee's too.",
        missing=RETURN_REASON_REQUIRED,
    )
    returned_on = DateField(
        "Returned by the bank on",
        validators=[InputRequired(message="Give the day the bank returned it.")],
    )


class CreditNoteForm(PageForm):
    amount = _amount("Amount to credit", "Give the amount.", id="credit-amount")
    reason = _reason("Printed on the credit note.", id="credit-reason")


class RefundForm(RepeatedReferenceForm):
    """A refund against one credit note: to the card through Stripe, or sent offline."""

    method = SelectField("How", choices=dict(REFUND_METHOD_LABELS), validate_choice=True)
    amount = _amount("Amount to refund", "Give the amount.")
    reference = StringField(
        "Reference",
        validators=[Optional(), within(REFERENCE_MAX)],
        description=(
            "Required for a wire, ACH or check: the bank's reference or the check number "
            "(none for a refund to the card)."
        ),
    )
    record_anyway = _record_anyway("refund")
    sent_on = DateField("Sent on", validators=[Optional()])
    note = _note()

    def offline_only(self) -> None:
        """Offer no card refund (a payment's page whose payment cannot take one says why)."""
        self.method.choices = dict(METHOD_LABELS)


class ApplyAgainForm(PageForm):
    """Apply a failed Stripe event again (round 58, replay58; prefixed `apply_again`):
    the press alone, and its CSRF token."""


def _looked_at_note(label: str, required: str, description: str) -> Any:
    """The required note of a mark looked at (a failed event's, a delivery's)."""
    return TextAreaField(
        label,
        validators=[InputRequired(message=required), within(StripeEvent.LOOKED_AT_NOTE_MAX)],
        description=description,
    )


class LookedAtForm(PageForm):
    """Mark a failed Stripe event looked at (round 58, replay58; prefixed `looked_at`):
    what was done instead, required, kept with the event."""

    note = _looked_at_note(
        "What was done instead",
        LOOKED_AT_NOTE_REQUIRED,
        "Kept with the event and shown on the list of Stripe's events, and in the audit "
        "log: resent from Stripe's dashboard, recorded by hand, not this service's.",
    )


class DeliveryLookedAtForm(PageForm):
    """Mark a signed Stripe delivery the service could not read looked at, by its body
    (round 60, stripe60; prefixed `delivery`): what was done about it, required."""

    note = _looked_at_note(
        "What was done about it",
        DELIVERY_NOTE_REQUIRED,
        "Kept with every delivery of this body, and in the audit log: resent from Stripe's "
        "dashboard and read, a test sent with the webhook's secret, a proxy that cut the "
        "body, mended.",
    )


class IntentLookedAtForm(PageForm):
    """Mark a PaymentIntent Stripe does not know looked at (round 61, payments61;
    prefixed `intent`): what was done about it, required."""

    note = _looked_at_note(
        "What was done about it",
        INTENT_NOTE_REQUIRED,
        "Kept with the PaymentIntent's report, and in the audit log: another Stripe "
        "account's, checked in its dashboard; a test payment; recorded by hand.",
    )


class WithdrawIntentsForm(PageForm):
    """Withdraw the reports of PaymentIntents Stripe did not know, not looked at, for the
    jobs to ask Stripe again once the right keys are back (round 65, ops65; prefixed
    `withdraw`): which (the PaymentIntents named, the office days reported; none: every
    one) and why, required. Shape only: the days and ids are read by the view and the
    service."""

    intents = TextAreaField(
        "PaymentIntents",
        validators=[Optional()],
        description="Their ids (pi_…), one a line or separated by spaces or commas; "
        "none: every report in the days below.",
    )
    reported_from = StringField(
        "Reported from",
        validators=[Optional()],
        description="An office day such as 2027-03-31, or empty for no bound.",
    )
    reported_to = StringField(
        "Reported to",
        validators=[Optional()],
        description="An office day such as 2027-03-31, included; empty for no bound.",
    )
    reason = TextAreaField(
        "Why they are withdrawn",
        validators=[
            InputRequired(message=WITHDRAW_REASON_REQUIRED),
            within(StripeEvent.LOOKED_AT_NOTE_MAX),
        ],
        description="Kept with each withdrawal, and in the audit log: the right Stripe "
        "keys are back since the 14th; the live keys replaced the test ones.",
    )
