"""The lives of an invoice and of a payment, as explicit tables.

Invoice:

    draft ─finalize─▶ open ─settle─▶ paid       (paid or credited in full)
                          ◀──reopen──┘          (a payment it counted was reversed)
                        │ ─void─▶ void           (issued in error, nothing paid)
                        └─mark_uncollectible─▶ uncollectible ─settle─▶ paid
                                                              └─void─▶ void
    (a draft is never voided: it was never sent, so it is finalized or left unissued)

Finalizing allocates the invoice number; from `open` on, an invoice's content
(lines, amounts, bill-to, dates) never changes: corrections are credit notes.

Payment (card payments start `pending`; offline ones are recorded `succeeded`):

    pending ─succeed─▶ succeeded
       │ ─fail─▶ failed ─succeed─▶ succeeded   (the customer retried the same intent)
       │           └─cancel─▶ canceled        (closed at Stripe before a new attempt)
       │ ─flag─▶ flagged ─accept─▶ succeeded    (billing staff accept the amount)
       │            └─give_back─▶ given_back     (its money refunded to the card)
       │                              └─fail_give_back─▶ flagged  (Stripe's refund
       │                                  failed: the money came back to us; round 37)
       └─cancel─▶ canceled

    A flagged payment's money is at Stripe, so it has no step to `canceled`: it is
    accepted, or given back (round 36: billing staff give it back through Stripe, or
    Stripe reports it refunded in its dashboard; it never counted, so nothing is
    taken off the invoice). `canceled` says no money moved; `given_back` that money
    moved and went back (docs/billing.md).

    succeeded ─reverse─▶ reversed   (offline only: the cheque bounced, or the
                                     transfer was recorded against the wrong invoice)
    succeeded ─charge_back─▶ reversed  (card only: Stripe withdrew the money for a
                                        dispute; a dispute won brings it back as a
                                        payment of its own, `PaymentDispute.reinstatement_id`)

A card payment that is `pending` or `failed` is the invoice's *open attempt*:
its PaymentIntent may still take money. An invoice has at most one (a partial
unique index), so a card can never be charged twice for it at once.

Refund (of a credit note's refund due; offline ones are recorded `succeeded`):

    pending ─succeed─▶ succeeded ─fail─▶ failed   (Stripe refunded the card; rarely,
       └─fail─▶ failed                            the bank returns it later)
    A failed refund's amount is outstanding again.

Dispute (the licensee's bank disputed a card payment; Stripe decides):

    open ─win─▶ won     (the office kept the money, or Stripe reinstated it)
      └─lose─▶ lost     (the bank kept it: the invoice is owed again)
"""

from __future__ import annotations

from licensing.statemachine import Action, StateMachine

DRAFT = "draft"
OPEN = "open"
PAID = "paid"
VOID = "void"
UNCOLLECTIBLE = "uncollectible"

INVOICE_STATES = (DRAFT, OPEN, PAID, VOID, UNCOLLECTIBLE)
# States in which an invoice is still owed (balance due, payments accepted).
COLLECTIBLE = frozenset({OPEN, UNCOLLECTIBLE})

INVOICE = StateMachine.from_actions(
    "invoice",
    INVOICE_STATES,
    {
        "finalize": Action(DRAFT, to=OPEN, stamp="finalized_at"),
        "settle": Action(
            OPEN, UNCOLLECTIBLE, to=PAID, event="paid", stamp="paid_at", words="be marked paid"
        ),
        # Only an issued invoice is voided (every invoice past draft has a number:
        # a CHECK). A draft was never sent: it is finalized or left unissued.
        "void": Action(OPEN, UNCOLLECTIBLE, to=VOID, stamp="voided_at"),
        "mark_uncollectible": Action(OPEN, to=UNCOLLECTIBLE, stamp="written_off_at"),
        # A payment that settled it was reversed (a bounced cheque): owed again.
        "reopen": Action(PAID, to=OPEN, stamp="reopened_at"),
    },
    state_words={DRAFT: "a draft"},
)

PENDING = "pending"
SUCCEEDED = "succeeded"
FAILED = "failed"
FLAGGED = "flagged"
CANCELED = "canceled"
REVERSED = "reversed"
GIVEN_BACK = "given_back"

PAYMENT_STATES = (PENDING, SUCCEEDED, FAILED, FLAGGED, CANCELED, REVERSED, GIVEN_BACK)

PAYMENT = StateMachine.from_actions(
    "payment",
    PAYMENT_STATES,
    {
        "succeed": Action(PENDING, FAILED, to=SUCCEEDED),
        # Only a card payment fails, and only when the bank declines the card: its
        # audit event says so (`payment.declined`); the state stays `failed`.
        "fail": Action(PENDING, to=FAILED, event="declined", words="be declined"),
        "flag": Action(PENDING, FAILED, to=FLAGGED, words="be flagged for a mismatched amount"),
        "cancel": Action(PENDING, FAILED, to=CANCELED),
        # Billing staff accept what Stripe took. There is no `reject`: the money is
        # at Stripe, and a flagged payment that cannot be applied is refunded there
        # (`accept_flagged_payment`'s refusal says so); `canceled` means no money moved.
        "accept": Action(FLAGGED, to=SUCCEEDED),
        # ...or give its money back: a Stripe Refund of what it received, asked by
        # billing staff (`give_back_flagged_payment`) or made in Stripe's dashboard
        # (`charge.refunded`). Not a credit note's refund: it never counted.
        "give_back": Action(FLAGGED, to=GIVEN_BACK, words="be given back"),
        # ...whose refund Stripe later reports failed (`refund.failed`: the card was
        # closed, say): the money is back with us, so the payment waits for billing
        # staff again (round 37), told as when it was flagged.
        "fail_give_back": Action(
            GIVEN_BACK,
            to=FLAGGED,
            event="give_back_failed",
            # What a refusal says the state allows: Stripe's news, not a staff step.
            words="be flagged again, if Stripe reports its give-back failed",
        ),
        # Billing staff reverse an offline payment that did not clear (a
        # `PaymentReversal` says who, when and why); a card payment is given back
        # through Stripe refunds and disputes instead, so the service refuses it.
        "reverse": Action(SUCCEEDED, to=REVERSED),
        # Stripe withdrew a card payment's money for a dispute (`billing.services.
        # disputes`): booked as a reversal on the day it was withdrawn.
        "charge_back": Action(SUCCEEDED, to=REVERSED, event="charged_back"),
    },
    # Every step stamps when the status last changed: a nightly pull (`by=recorded`)
    # brings a payment again the day it was declined, cancelled, flagged, accepted...
    stamp="status_changed_at",
)

# Payments whose money came in on their paid day: those that stand, and those the
# bank returned later (a reversal is an event of its own day, `returned_on`, so a
# period's collected figure never changes when a payment made in it is reversed).
RECEIVED = (SUCCEEDED, REVERSED)

# Card payment states in which the PaymentIntent may still take money.
OPEN_ATTEMPT = (PENDING, FAILED)

REFUND_STATES = (PENDING, SUCCEEDED, FAILED)

REFUND = StateMachine.from_actions(
    "refund",
    REFUND_STATES,
    {
        "succeed": Action(PENDING, to=SUCCEEDED, stamp="settled_at"),
        "fail": Action(PENDING, SUCCEEDED, to=FAILED, stamp="failed_at"),
    },
)
# Refunds that count against what is due: sent, or on their way.
REFUND_COUNTED = (PENDING, SUCCEEDED)

WON = "won"
LOST = "lost"
DISPUTE_STATES = (OPEN, WON, LOST)

DISPUTE = StateMachine.from_actions(
    "dispute",
    DISPUTE_STATES,
    {
        "win": Action(OPEN, to=WON, event="won", stamp="closed_at"),
        "lose": Action(OPEN, to=LOST, event="lost", stamp="closed_at"),
    },
)

CARD = "card"
WIRE = "wire"
ACH = "ach"
CHECK = "check"
PAYMENT_METHODS = (CARD, WIRE, ACH, CHECK)
OFFLINE_METHODS = (WIRE, ACH, CHECK)

# Where an invoice's charges come from.
AGREEMENT = "agreement"
ROYALTY_REPORT = "royalty_report"
LATE_FEE = "late_fee"
MANUAL = "manual"
INVOICE_SOURCES = (AGREEMENT, ROYALTY_REPORT, LATE_FEE, MANUAL)
