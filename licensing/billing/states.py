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
       │            │─accept_remainder─▶ succeeded  (round 47: what a dispute lost of
       │            │        part of its charge left, accepted; held unless so)
       │            │          then succeeded ─reverse─▶ reversed at once (round 48:
       │            │          the part of it the invoice did not owe, sent back offline)
       │            │─give_back─▶ giving_back   (asked of Stripe, before it is called;
       │            │                │           round 42: no accept until it answers)
       │            │                │─refund_at_stripe─▶ given_back (Stripe refunded it)
       │            │                │─refuse_give_back─▶ flagged    (Stripe refused,
       │            │                │        or reconcile finds it never made the refund)
       │            │                └─fail_give_back─▶ flagged      (Stripe's refund failed)
       │            └─refund_at_stripe─▶ given_back (refunded in Stripe's dashboard)
       │                 given_back ─fail_give_back─▶ flagged  (Stripe's refund
       │                                  failed: the money came back to us; round 37)
       └─cancel─▶ canceled

    A flagged payment's money is at Stripe, so it has no step to `canceled`: it is
    accepted, or given back (round 36: billing staff give it back through Stripe, or
    Stripe reports it refunded in its dashboard; it never counted, so nothing is
    taken off the invoice). Round 42: a give-back billing staff ask is `giving_back`
    from the moment it is audited until Stripe answers (its answer, the `refund.*`
    webhook, or `licensing payments reconcile`), with no time limit: nothing else
    may happen to the payment meanwhile, for Stripe may be refunding its money.
    `canceled` says no money moved; `given_back` that money moved and went back
    (docs/billing.md).

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
                       succeeded ─mark_returned─▶ failed  (round 55: an offline refund
                                   the bank returned, recorded by billing staff with
                                   the day it came back, `returned_on`)
    A failed refund's amount is outstanding again.

Dispute (the licensee's bank disputed a card payment; Stripe decides):

    open ─win─▶ won     (the office kept the money, or Stripe reinstated it)
      └─lose─▶ lost     (the bank kept it: the invoice is owed again)
"""

from __future__ import annotations

from datetime import date

from licensing.statemachine import Action, Hold, StateMachine

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
GIVING_BACK = "giving_back"

PAYMENT_STATES = (
    PENDING,
    SUCCEEDED,
    FAILED,
    FLAGGED,
    CANCELED,
    REVERSED,
    GIVEN_BACK,
    GIVING_BACK,
)

# Why a payment being given back takes no step of staff's (round 42): every refusal
# of one says it, in place of the steps the state allows, which are Stripe's (round 43).
GIVING_BACK_WHY = (
    "Stripe has not answered the give-back yet; `licensing payments reconcile` asks it "
    "(or its refund webhook answers first), and until then the money may be on its way "
    "back to the card. Once Stripe answers, the payment is given back, or flagged again "
    "if Stripe refused the refund or it failed."
)

# Round 44: a card payment not yet settled waits on Stripe and the licensee, not on
# staff: a refusal of a staff step (an accept or a give-back through the API) listed
# Stripe's own steps as if the caller could take them ("it can only be canceled,
# declined or flagged for a mismatched amount, or succeed").
PENDING_WHY = (
    "Stripe has not reported the card payment's outcome yet; its webhook, or `licensing "
    "payments reconcile`, brings it in. Then it is received (it counts against its "
    "invoice), declined, or flagged for billing staff if Stripe took an amount other "
    "than asked: only a flagged payment is accepted or given back."
)
FAILED_WHY = (
    "the bank declined the card, so no money was taken; the licensee may try again, "
    "and the attempt that follows is received, declined again, or flagged for billing "
    "staff if Stripe took an amount other than asked: only a flagged payment is "
    "accepted or given back."
)

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
        # Round 47: its charge disputed in part and the dispute lost, the bank returned
        # the disputed part to the cardholder and the rest is still held: billing staff
        # accept that remainder (it counts against the invoice). Held by `dispute_hold`
        # unless a dispute of part of it was lost (`Payment.remainder`).
        "accept_remainder": Action(
            FLAGGED,
            to=SUCCEEDED,
            event="remainder_accepted",
            words="have its remainder accepted",
        ),
        # ...or give its money back: a Stripe Refund of what it received, asked by
        # billing staff (`give_back_flagged_payment`). Round 42: the ask is a state
        # of its own, audited before Stripe is called, held until Stripe answers.
        # Not a credit note's refund: it never counted.
        "give_back": Action(
            FLAGGED, to=GIVING_BACK, event="give_back_asked", words="be given back"
        ),
        # Stripe refunded it: the ask's answer (or its webhook, or reconcile), or a
        # refund made in Stripe's dashboard of a flagged payment (`charge.refunded`).
        "refund_at_stripe": Action(
            FLAGGED,
            GIVING_BACK,
            to=GIVEN_BACK,
            event="given_back",
            words="be given back by Stripe",
        ),
        # Stripe refused the give-back, or (reconcile) never made its refund: the
        # money is with us, flagged as before, and may be accepted or given back.
        "refuse_give_back": Action(
            GIVING_BACK,
            to=FLAGGED,
            event="give_back_refused",
            words="be flagged again if Stripe refuses it",
        ),
        # ...whose refund Stripe reports failed (`refund.failed`: the card was
        # closed, say), later or while the ask waited for its answer: the money is
        # back with us, so the payment waits for billing staff again (round 37),
        # told as when it was flagged.
        "fail_give_back": Action(
            GIVEN_BACK,
            GIVING_BACK,
            to=FLAGGED,
            event="give_back_failed",
            # What a refusal says the state allows: Stripe's news, not a staff step.
            words="be flagged again, if Stripe reports its give-back failed",
        ),
        # Billing staff reverse an offline payment that did not clear (a
        # `PaymentReversal` says who, when and why); a card payment is given back
        # through Stripe refunds and disputes instead, so the service refuses it.
        # Round 48: but for the part of a disputed card payment's remainder that its
        # invoice did not owe, sent back offline (Stripe refuses to refund a charge
        # with a dispute), reversed in the transaction that accepts the remainder.
        "reverse": Action(SUCCEEDED, to=REVERSED),
        # Stripe withdrew a card payment's money for a dispute (`billing.services.
        # disputes`): booked as a reversal on the day it was withdrawn.
        "charge_back": Action(SUCCEEDED, to=REVERSED, event="charged_back"),
    },
    # Every step stamps when the status last changed: a nightly pull (`by=recorded`)
    # brings a payment again the day it was declined, cancelled, flagged, accepted...
    stamp="status_changed_at",
    state_words={GIVING_BACK: "being given back"},
    state_why={GIVING_BACK: GIVING_BACK_WHY, PENDING: PENDING_WHY, FAILED: FAILED_WHY},
)

# What each payment state means, in words (round 42): the API's `state_meaning`,
# OpenAPI's description of `state` and docs/api.md say it alike.
PAYMENT_MEANINGS = {
    PENDING: "Started; Stripe has not reported the card payment's outcome yet.",
    SUCCEEDED: "Received: it counts against its invoice.",
    FAILED: "The bank declined the card; the licensee may try again.",
    FLAGGED: (
        "Stripe took an amount other than asked: held for review by billing staff, it "
        "counts against its invoice only if accepted, or is given back to the card."
    ),
    CANCELED: "Closed without money moving.",
    REVERSED: (
        "Received, then returned (a bounced cheque, the bank's dispute, or the part of a "
        "disputed payment's remainder its invoice did not owe, sent back offline)."
    ),
    GIVEN_BACK: "Its money went back to the card through Stripe; it never counted.",
    GIVING_BACK: (
        "Being given back: billing staff asked Stripe to refund it to the card and Stripe "
        "has not answered yet. It does not count against its invoice, and nothing else "
        "may happen to it until Stripe answers (`licensing payments reconcile` asks it): "
        "then it is given back, or flagged again if the refund was refused or failed."
    ),
}

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
        # Round 55: a wire, ACH or check refund the bank returned, recorded by billing
        # staff (`refunds.return_offline_refund`); `failed_at` stamps when it was
        # recorded, its `returned_on` the bank's day. A card refund's return is `fail`.
        "mark_returned": Action(
            SUCCEEDED,
            to=FAILED,
            event="returned",
            stamp="failed_at",
            words="be recorded as returned by the bank",
        ),
    },
)
# Refunds that count against what is due: sent, or on their way.
REFUND_COUNTED = (PENDING, SUCCEEDED)
# Refunds whose money went, on their day sent (when confirmed: `settled_at`): those
# that stand, and those the card's bank returned later (round 54: the return is an
# event of its own day, `failed_at`, so a period's figures never change after it).
REFUND_SENT = (SUCCEEDED, FAILED)

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

# A Stripe event's kind (`stripe_events.kind`, round 58) is what the webhook did with
# it; round 58 (replay58) gives billing staff two steps for one that failed, which
# Stripe stops sending after three days:
#
#     failed ─apply_again─▶ applied | no_change | ignored | not_matched
#        │                  (fetched from Stripe and applied as a delivery is: the
#        │                   action taken is the one of the kind its outcome has)
#        │ ─fail_again─▶ failed  (applying it failed again: the new reason replaces it)
#        └─mark_looked_at─▶ looked_at ─apply_again...─▶ (as from failed)
#
# `looked_at` leaves the console home's count; its note says what was done instead.
STRIPE_APPLIED = "applied"
STRIPE_NO_CHANGE = "no_change"
STRIPE_IGNORED = "ignored"
STRIPE_NOT_MATCHED = "not_matched"
STRIPE_FAILED = "failed"
STRIPE_LOOKED_AT = "looked_at"
STRIPE_EVENT_STATES = (
    STRIPE_APPLIED,
    STRIPE_NO_CHANGE,
    STRIPE_IGNORED,
    STRIPE_NOT_MATCHED,
    STRIPE_FAILED,
    STRIPE_LOOKED_AT,
)
_APPLIED_AGAIN = "be applied again"
# The action that applying an event again from the console takes, by the kind of
# the outcome it had (`stripe_event_kind`).
APPLY_AGAIN_ACTIONS = {
    STRIPE_APPLIED: "apply_again",
    STRIPE_NO_CHANGE: "apply_again_no_change",
    STRIPE_IGNORED: "apply_again_ignored",
    STRIPE_NOT_MATCHED: "apply_again_not_matched",
    STRIPE_FAILED: "fail_again",
}
STRIPE_EVENT = StateMachine.from_actions(
    "Stripe event",  # audited as `stripe_event`
    STRIPE_EVENT_STATES,
    {
        **{
            action: Action(
                STRIPE_FAILED,
                STRIPE_LOOKED_AT,
                to=kind,
                # audited `stripe_event.applied_again`, or `.failed_again`
                event=None if kind == STRIPE_FAILED else "applied_again",
                words=_APPLIED_AGAIN,
            )
            for kind, action in APPLY_AGAIN_ACTIONS.items()
        },
        "mark_looked_at": Action(STRIPE_FAILED, to=STRIPE_LOOKED_AT, stamp="looked_at_at"),
    },
    field="kind",
    state_words={
        STRIPE_NO_CHANGE: "applied already with nothing to change",
        STRIPE_NOT_MATCHED: "kept as a dispute not matched to a payment",
        STRIPE_LOOKED_AT: "marked looked at",
    },
)


# A signed Stripe delivery the service could not read (round 60, stripe60): its body,
# by its SHA-256, is not looked at until billing staff mark it looked at, with a note;
# the mark covers every delivery of the body, those Stripe sends after it too. Its
# state is read from the audit log, which keeps the deliveries (`UNREADABLE_ACTION`)
# and the mark (`stripe_delivery.marked_looked_at`): no table keeps such a body.
DELIVERY_NOT_LOOKED_AT = "not_looked_at"
DELIVERY_LOOKED_AT = "looked_at"
STRIPE_DELIVERY = StateMachine.from_actions(
    "Stripe delivery",  # audited as `stripe_delivery`, the deliveries' own record type
    (DELIVERY_NOT_LOOKED_AT, DELIVERY_LOOKED_AT),
    {"mark_looked_at": Action(DELIVERY_NOT_LOOKED_AT, to=DELIVERY_LOOKED_AT)},
    state_words={DELIVERY_LOOKED_AT: "marked looked at", DELIVERY_NOT_LOOKED_AT: "not looked at"},
)


# A PaymentIntent Stripe does not know (round 61, payments61), as a job reported it:
# not looked at until billing staff mark it looked at with a note, as a delivery not
# read is. Its state, like a delivery's, is read from the audit log
# (`stripe_payment_intent.unknown`, then `stripe_payment_intent.marked_looked_at`).
# Round 65 (ops65): a report not looked at may instead be withdrawn (`withdraw`), by
# billing staff or an operator once the right Stripe keys are back, with why: the jobs
# then ask Stripe about the PaymentIntent again, and a job that meets Stripe's refusal
# again reports it afresh (a new report, not looked at). A report looked at is kept: a
# person said what it was.
INTENT_WITHDRAWN = "withdrawn"
STRIPE_INTENT = StateMachine.from_actions(
    "Stripe payment intent",  # audited as `stripe_payment_intent`
    (DELIVERY_NOT_LOOKED_AT, DELIVERY_LOOKED_AT, INTENT_WITHDRAWN),
    {
        "mark_looked_at": Action(DELIVERY_NOT_LOOKED_AT, to=DELIVERY_LOOKED_AT),
        "withdraw": Action(DELIVERY_NOT_LOOKED_AT, to=INTENT_WITHDRAWN),
    },
    state_words={
        DELIVERY_LOOKED_AT: "marked looked at",
        DELIVERY_NOT_LOOKED_AT: "not looked at",
        INTENT_WITHDRAWN: "withdrawn for the jobs to ask Stripe again",
    },
)


# Round 44: the steps of billing staff's that would count a flagged payment's money
# (`accept`) or give it back (`give_back`), which the bank's dispute of its charge
# holds back: open, until its outcome; lost, for good (`dispute_hold`). Round 47:
# and accepting what a dispute lost of part of it left (`accept_remainder`), held
# while the dispute is open, and for good when it was lost in full.
HELD_BY_DISPUTE = ("accept", "give_back", "accept_remainder")

# Round 47: the staff steps of a flagged payment, in the order the API's `held` lists them.
STAFF_STEPS = ("accept", "accept_remainder", "give_back")

# Why `accept_remainder` is refused for a flagged payment no lost dispute took part of.
NO_REMAINDER_WHY = (
    "only a payment whose charge was disputed in part, the dispute lost, has a remainder "
    "to accept (what the bank did not return to the cardholder); accept it whole, or give "
    "it back, instead."
)


def dispute_hold(
    state: str,
    *,
    stripe_dispute_id: str,
    opened_on: date,
    closed_on: date | None,
    remainder: str | None = None,
    disputed: str | None = None,
    in_part: bool = False,
    owed: str | None = None,
    excess: str | None = None,
) -> Hold | None:
    """What a dispute of a payment's charge in `state` holds back, and why (None: a
    dispute won holds nothing: Stripe reinstated the money, which is held again, so
    the payment is accepted or given back as before it was disputed). `remainder`,
    in words, is what a lost dispute of part of the charge left (round 47), and
    `disputed` what it took: accepting that remainder is then not held. `in_part`: an
    open dispute of part of what it received, whose loss would leave a remainder.
    Round 49: `excess`, of that remainder, what its invoice does not owe now (paid,
    credited or void meanwhile), `owed` what it does (None: nothing): accepting then
    sends the excess back offline, and the words say so."""
    if state == OPEN:
        lost = (
            "if it is lost, the bank returns the part disputed to the cardholder, and the "
            "rest may be accepted as the remainder."
            if in_part
            else "if it is lost, the bank has returned the money to the cardholder and "
            "there is nothing to accept or give back."
        )
        return Hold(
            *HELD_BY_DISPUTE,
            why=(
                f"its charge is disputed (opened {opened_on.isoformat()}, Stripe dispute "
                f"{stripe_dispute_id}): the cardholder's bank contests the money, so it is "
                "neither counted nor given back while the dispute is open. Wait for the "
                "dispute's outcome, then accept it or give it back if the dispute is won; "
                f"{lost}"
            ),
        )
    if state == LOST:
        closed = closed_on.isoformat() if closed_on else "on a day not kept"
        if remainder is not None:
            return Hold(
                "accept",
                "give_back",
                why=(
                    f"its charge was disputed in part and the dispute lost (closed {closed}, "
                    f"Stripe dispute {stripe_dispute_id}): the bank returned {disputed} to "
                    "the cardholder, so accepting it whole would count money not held, and "
                    "Stripe refuses to refund a charge with a dispute (charge_disputed). "
                    f"The {remainder} not disputed is still held"
                    f"{_what_accepting_does(owed, excess)}"
                ),
            )
        return Hold(
            *HELD_BY_DISPUTE,
            why=(
                f"its charge was disputed and the dispute lost (closed {closed}, Stripe "
                f"dispute {stripe_dispute_id}): the bank returned the money to the "
                "cardholder, so accepting it would count money not held, and there is "
                "none left to give back. It never counted against its invoice, which "
                "stays as it was: nothing more is done with this payment."
            ),
        )
    return None


def _what_accepting_does(owed: str | None, excess: str | None) -> str:
    """Round 49: what accepting a lost dispute's remainder does, by what its invoice
    owes now: it counts; or, owing less (`owed`) or nothing, the `excess` goes back
    offline (Stripe refuses to refund a charge with a dispute)."""
    if excess is None:
        return ": accept the remainder, and it counts against its invoice."
    if owed is None:
        return (
            ", but its invoice owes nothing now: accepting the remainder sends all of it "
            "back to the licensee offline (wire, ACH or check), booked as returned, and "
            "none of it counts."
        )
    return (
        f", but its invoice owes only {owed} now: accepting the remainder counts {owed} "
        f"against it and sends the {excess} more back to the licensee offline (wire, ACH "
        "or check), booked as returned."
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
