"""Whether a step of a payment, a refund or a credit note would be refused now by
its own use case, read from the record as loaded (round 58, as
`licensing.agreements.step_checks` for applications and agreements).

The API's `allowed_actions` of each asks these, so a step listed is one its use
case takes. Each reads the record and its invoice (which the use case reads too);
the invoice only for a flagged payment, whose staff steps depend on what it owes.
"""

from __future__ import annotations

from .models import CreditNote, Payment, Refund
from .states import CARD, COLLECTIBLE, PAID, VOID

# A credit note has no state machine: its one step is refunding what it owes back.
REFUND_CREDIT_NOTE = "refund"


def payment_step_refused(payment: Payment, action: str) -> bool:
    """Whether the use case of `action` refuses it on `payment` now, its state
    allowing it (`settlement.accept_flagged_payment`, `settlement.accept_remainder`,
    `giving_back.give_back_flagged_payment`, `reversals.reverse_offline_payment`):
    the bank's dispute of its charge (`Payment.refusal`), what its invoice owes, its
    method."""
    # `refusal` says why a page offers no press: the state, the dispute's hold, and
    # for `accept`, an invoice owing less than Stripe took (`Payment.unapplicable`).
    if action in ("accept", "accept_remainder", "give_back") and payment.refusal(action):
        return True
    if action == "accept_remainder":
        return payment.remainder is None or payment.invoice.state not in (*COLLECTIBLE, PAID, VOID)
    if action == "give_back":
        return payment.method != CARD or payment.stripe_payment_intent_id is None
    if action == "reverse":
        return not payment.reversible  # a card payment is given back through Stripe
    return False


def refund_step_refused(refund: Refund, action: str) -> bool:
    """Whether `refunds.return_offline_refund` refuses `action` on `refund`: only an
    offline refund's return is recorded by staff (a card refund's is Stripe's)."""
    return action == "mark_returned" and not refund.returnable


def credit_note_steps(credit: CreditNote) -> list[str]:
    """The steps a credit note allows now: `refund` while it owes a refund
    (`refunds.record_offline_refund` refuses one that owes nothing)."""
    return [REFUND_CREDIT_NOTE] if credit.refund_outstanding > 0 else []
