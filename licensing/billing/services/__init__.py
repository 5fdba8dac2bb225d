"""Billing use cases, one module a use case; each public function owns its transaction.

Functions taking a `session` run inside their caller's transaction (the
agreement's acceptance, an overdue run); the others open their own. Every
public name is importable from here, as it was from the single module.

The lock order (round 53). A step that row-locks more than one of an invoice's
records locks them in this order, and re-reads each after its lock:

    1. the record the step starts from: a credit note, a refund, a payment's card
       attempt, a dispute (the dispute kept unmatched first, if it was kept: both
       `match_disputes` and a webhook of the same dispute start from it); a webhook
       naming several refunds (`charge.refunded` names every refund of the charge)
       locks them all, by id, before applying any (`apply_refund_outcomes`, round
       56: it locked each after the one before had taken the payment, the invoice and
       the log, and deadlocked with the refund reconciliation, which claims a refund
       and then locks its payment: `test_refund_webhook_lock_order.py`);
    2. the invoice's payments (a card refund locks all the invoice's card payments,
       by id, since it chooses among them);
    3. the invoice.

So a payment comes before its invoice, whatever the step: Stripe's webhooks and the
reconciling jobs (the payment or refund Stripe answers about, then the invoice), a
dispute (its payment, then the invoice), a payment reversed, accepted or given back
(`_locked_payment`), a card refund (the credit note, the card payments, then the
invoice). An invoice comes before its organization: a payment settling it
(`restore_standing_if_clear`), a card attempt (the Stripe customer, created once) and a
reversal (`hold_if_overdue`) lock the organization after their records (below; a card
attempt took the organization before its first event until round 56, and deadlocked
with a role change: `test_card_start_lock_order.py`; it now locks it only to create
the Customer), and a billing contact's change of
address locks the organization's invoices (`lock_issued_invoices`, through the
signal `billing_contact_changing`) before it writes the organization (round 54), as
a withdrawal of an invoice's links locks the invoice before it reads the contact
under the organization's lock (round 56: the other way round it deadlocked with a
card payment settling the invoice, `test_link_withdrawal_lock_order.py`).
Two steps taking the same rows in opposite orders deadlock on PostgreSQL
(a card refund took the invoice before the payment until round 53, a payment's
webhook the payment before the invoice: `tests/integration/billing/
test_refund_lock_order.py`; a webhook took a kept dispute after the payment and
the invoice until round 54, while `match_disputes` took it first:
`test_dispute_lock_order.py`; `test_contact_change_lock_order.py` for the
organization).

The audit log's head comes last (round 58): every audited step's events are chained
as it commits, under the head's lock (`audit.services`). From round 55 to round 58
every audited step locked the head at its first event until it committed, so the head
sat in every step's order and `finalize_in`, `credit_invoice`, the overdue run, a
statement emailed, a link withdrawal and a card attempt took their turn on the log
(`audit.take_turn`, gone) before a number or the organization. The rows keep one
order without it: **the records a step starts from (1-3 above), then the
organization, then the number sequences** (an invoice's, a credit note's).
`credit_invoice` locks the organization before it draws the credit note's number (a
credit that clears the invoice restores the organization's standing), as a royalty
filing does before its invoice's or credit notes' numbers, and the overdue run
claims the organization before it draws a late fee's: with the head at commit a
filing that drew its number and then locked the organization deadlocked with the
run (`tests/integration/royalties/test_filing_lock_order.py`,
`test_credit_lock_order.py`).

The organization is locked FOR NO KEY UPDATE (round 56): a step that stores a row
naming it (a statement sent, a payment, a credit note) holds FOR KEY SHARE of it for
the foreign key until it commits, and FOR UPDATE waits for that share. A card attempt
creating the Stripe Customer, a payment restoring the standing
(`restore_standing_if_clear`) and a statement emailed on request deadlocked so with
the monthly statement run or a royalty amendment while the head sat between them
(`test_card_start_lock_order.py`, `test_emailed_statement_lock_order.py`).

An offline refund's return (`refund_returns`, round 55) is in this order: the
refund, then its invoice (`_locked_refund`); settling an invoice that owes nothing
more restores the organization after it. It locks no payment (an offline refund names
none) and never its credit note, so it takes turns with a payment, a credit note or
another refund of the same invoice at the invoice (read, and a return and a payment
of the same invoice run at once in
`tests/integration/billing/test_refund_return_lock_order.py`).

A locked row is read as it is once locked (round 55, stale55): `licensing.db`
loads every FOR UPDATE read with `populate_existing`, so a step that waited for
another acts on what that one committed, not on the copy its page read before
(two clerks sending a statement again at once sent it twice:
`tests/integration/billing/test_resend_read_locked.py`). `_locked` and
`_locked_payment` refreshed after their lock until round 56, reading each row twice
(`_locked_payment` sent four SELECTs for two rows; `test_locked_reads.py`).
"""

from __future__ import annotations

from licensing.billing.services._common import DELIVERY_NOTE_REQUIRED, LOOKED_AT_NOTE_REQUIRED
from licensing.billing.services.card_payments import (
    ATTEMPT_ROUNDS,
    RECONCILE_AFTER,
    CardAttempt,
    ReconcileReport,
    apply_intent_outcome,
    reconcile_payments,
    start_card_payment,
)
from licensing.billing.services.charge_ids import (
    CHARGE_FILL_BATCH,
    ChargeFillRun,
    fill_charge_ids,
    without_charge_id,
)
from licensing.billing.services.credit_notes import (
    CreditPreview,
    InvoiceChanged,
    check_credit_note,
    credit_invoice,
    issue_credit_note,
)
from licensing.billing.services.disputes import MatchRun, match_disputes
from licensing.billing.services.documents import kept_credit_note_pdf, kept_invoice_pdf
from licensing.billing.services.giving_back import (
    GIVE_BACK_FAILURE_WINDOW,
    GIVING_BACK_ASK_AFTER,
    failed_meanwhile,
    give_back_flagged_payment,
    payer_told,
    reconcile_give_back_failures,
    reconcile_given_back,
    reconcile_giving_back,
    told_names,
)
from licensing.billing.services.invoices import (
    Charge,
    ContactChanged,
    check_links_withdrawal,
    check_void,
    create_draft,
    create_invoice,
    finalize_in,
    finalize_invoice,
    invoice_activated_agreement,
    links_withdrawal_confirmation,
    lock_issued_invoices,
    mark_uncollectible,
    move_invoice_links,
    update_draft,
    void_invoice,
    withdraw_invoice_links,
)
from licensing.billing.services.monthly_statements import (
    RESEND_INTERVAL,
    DueStatements,
    JustSentAgain,
    StatementRun,
    check_month,
    month_just_ended,
    resend_statement,
    send_monthly_statements,
    statements_changed,
    statements_due,
    statements_sent,
)
from licensing.billing.services.moves import (
    MOVE_REASON_REQUIRED,
    check_move,
    move_offline_payment,
)
from licensing.billing.services.overdue import (
    REMINDER_INTERVAL,
    OverdueReport,
    late_fees_due,
    months_between,
    overdue_invoices,
    process_overdue,
)
from licensing.billing.services.references import RepeatedReference
from licensing.billing.services.refund_returns import (
    ReturnChanged,
    ReturnPreview,
    check_refund_return,
    return_offline_refund,
)
from licensing.billing.services.refunds import (
    REFUND_EVENTS,
    CardRefundPreview,
    RefundChanged,
    apply_refund_outcome,
    card_refund_refusal,
    check_card_refund,
    reconcile_refunds,
    record_offline_refund,
    refund_card,
)
from licensing.billing.services.requested_statements import Emailed, email_statement
from licensing.billing.services.reversals import (
    check_reversal,
    paid_yet_owed,
    reverse_offline_payment,
)
from licensing.billing.services.settlement import (
    AlreadyAccepted,
    accept_flagged_payment,
    accept_remainder,
    record_offline_payment,
)
from licensing.billing.services.statements import Asked, statement_for
from licensing.billing.services.unknown_intents import (
    INTENT_NOTE_REQUIRED,
    WITHDRAW_BATCH,
    WITHDRAW_REASON_REQUIRED,
    UnknownIntent,
    Withdrawal,
    WithdrawalRun,
    check_mark_intent,
    mark_intent_looked_at,
    withdraw_reports,
)
from licensing.billing.services.webhooks import (
    EVENT_TYPES_APPLIED,
    HANDLED_EVENTS,
    UnreadBody,
    WebhookResult,
    apply_stripe_event_again,
    check_apply_again,
    check_mark_delivery,
    handle_stripe_webhook,
    mark_delivery_looked_at,
    mark_stripe_event_looked_at,
)
from licensing.confirmations import CONFIRM_WITHIN, ConfirmationRefused
from licensing.errors import Conflict  # callers catch it as services.Conflict

__all__ = [
    "ATTEMPT_ROUNDS",
    "CHARGE_FILL_BATCH",
    "CONFIRM_WITHIN",
    "DELIVERY_NOTE_REQUIRED",
    "EVENT_TYPES_APPLIED",
    "GIVE_BACK_FAILURE_WINDOW",
    "GIVING_BACK_ASK_AFTER",
    "HANDLED_EVENTS",
    "INTENT_NOTE_REQUIRED",
    "LOOKED_AT_NOTE_REQUIRED",
    "MOVE_REASON_REQUIRED",
    "RECONCILE_AFTER",
    "REFUND_EVENTS",
    "REMINDER_INTERVAL",
    "RESEND_INTERVAL",
    "WITHDRAW_BATCH",
    "WITHDRAW_REASON_REQUIRED",
    "AlreadyAccepted",
    "Asked",
    "CardAttempt",
    "CardRefundPreview",
    "Charge",
    "ChargeFillRun",
    "ConfirmationRefused",
    "Conflict",
    "ContactChanged",
    "CreditPreview",
    "DueStatements",
    "Emailed",
    "InvoiceChanged",
    "JustSentAgain",
    "MatchRun",
    "OverdueReport",
    "ReconcileReport",
    "RefundChanged",
    "RepeatedReference",
    "ReturnChanged",
    "ReturnPreview",
    "StatementRun",
    "UnknownIntent",
    "UnreadBody",
    "WebhookResult",
    "Withdrawal",
    "WithdrawalRun",
    "accept_flagged_payment",
    "accept_remainder",
    "apply_intent_outcome",
    "apply_refund_outcome",
    "apply_stripe_event_again",
    "card_refund_refusal",
    "check_apply_again",
    "check_card_refund",
    "check_credit_note",
    "check_links_withdrawal",
    "check_mark_delivery",
    "check_mark_intent",
    "check_month",
    "check_move",
    "check_refund_return",
    "check_reversal",
    "check_void",
    "create_draft",
    "create_invoice",
    "credit_invoice",
    "email_statement",
    "failed_meanwhile",
    "fill_charge_ids",
    "finalize_in",
    "finalize_invoice",
    "give_back_flagged_payment",
    "handle_stripe_webhook",
    "invoice_activated_agreement",
    "issue_credit_note",
    "kept_credit_note_pdf",
    "kept_invoice_pdf",
    "late_fees_due",
    "links_withdrawal_confirmation",
    "lock_issued_invoices",
    "mark_delivery_looked_at",
    "mark_intent_looked_at",
    "mark_stripe_event_looked_at",
    "mark_uncollectible",
    "match_disputes",
    "month_just_ended",
    "months_between",
    "move_invoice_links",
    "move_offline_payment",
    "overdue_invoices",
    "paid_yet_owed",
    "payer_told",
    "process_overdue",
    "reconcile_give_back_failures",
    "reconcile_given_back",
    "reconcile_giving_back",
    "reconcile_payments",
    "reconcile_refunds",
    "record_offline_payment",
    "record_offline_refund",
    "refund_card",
    "resend_statement",
    "return_offline_refund",
    "reverse_offline_payment",
    "send_monthly_statements",
    "start_card_payment",
    "statement_for",
    "statements_changed",
    "statements_due",
    "statements_sent",
    "told_names",
    "update_draft",
    "void_invoice",
    "withdraw_invoice_links",
    "withdraw_reports",
    "without_charge_id",
]
