"""An offline refund the bank returned (round 55): a wire, ACH or check refund the
office sent that bounced, recorded by billing staff.

Until round 55 only a card refund could come back (Stripe's `refund.failed`), so a
bounced wire refund left the licensee's balance, their statement, the Finance page and
the exports saying the money had left when it was back with the office. Now billing
staff record it with the day the bank returned it and why: the refund moves
`succeeded` -> `failed` (REFUND's `mark_returned`, audited `refund.returned`), its
invoice's `amount_refunded` goes back down (`refunds._count_on_invoice`, audited
`invoice.refund_returned`), so the credit note's refund is owed again and is sent
anew as a new refund; every dated sum counts the return on `returned_on`
(`billing.queries.refund_returned_between`), as a payment reversal's. The licensee is
not emailed, as for a card refund its bank returns (docs/billing.md says why).

The console asks first (`check_refund_return`, writing nothing, with a signed
confirmation binding what it showed: `RETURN_CONFIRMATION`); the API's route, as the
other billing POSTs, confirms by calling and retries with an `Idempotency-Key`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from licensing import confirmations, db
from licensing.actors import Actor
from licensing.billing.models import RETURN_REASON_REQUIRED, Invoice, Refund
from licensing.billing.services._common import _locked_invoice
from licensing.billing.services.credit_notes import invoice_figures
from licensing.billing.services.reversals import returned_errors
from licensing.billing.states import CARD, COLLECTIBLE, REFUND
from licensing.db import utcnow
from licensing.errors import Conflict, InvalidInput, NotFound
from licensing.money import format_amount

# What a return's confirmation binds, and how its refusals are worded: the mechanism
# the credit note's and the card refund's confirmations use, salted for this step
# alone so neither of theirs passes for it.
RETURN_CONFIRMATION = confirmations.Kind(
    salt="licensing.billing.refund-return-confirmation",
    record_word="refund",
    not_done="Not recorded as returned",
    nothing_done="Nothing was recorded",
    again="press Record the return again to see its confirmation, then confirm it",
)


def _return_errors(
    refund: Refund, reason: str | None, returned_on: date | None, now: datetime
) -> tuple[dict[str, list[str]], str]:
    """Problems with the reason and the day the bank returned the refund, and the
    reason trimmed (as a payment reversal's)."""
    return returned_errors(
        reason,
        returned_on,
        now,
        missing=RETURN_REASON_REQUIRED,
        moved=refund.sent_date,
        moved_words="the refund was sent",
    )


def _refuse(refund: Refund, reason: str | None, returned_on: date | None, now: datetime) -> str:
    """Everything that refuses recording the return (409 for the refund, 422 for the
    fields), checked before anything is written: the reason trimmed."""
    if refund.method == CARD:
        raise Conflict(
            f"The {refund.named(in_sentence=True)} went to the card through Stripe: a card "
            "refund its bank returns reaches the service from Stripe (refund.failed), on the "
            "day Stripe reports it; only a wire, ACH or check refund is recorded as returned "
            "here."
        )
    # The state machine's sentence says what the state allows (a refund already
    # returned, or a card refund still pending at Stripe).
    REFUND.step(refund.state, "mark_returned")
    errors, clean_reason = _return_errors(refund, reason, returned_on, now)
    if errors:
        raise InvalidInput("The return has problems.", errors)
    return clean_reason


def return_figures(refund: Refund) -> dict[str, str]:
    """What a return's confirmation says and depends on, as read: the invoice's
    figures (as a credit note's confirmation binds them), what it and the credit note
    owe back, and the refund's state. A payment, a reversal, a credit note, a refund
    sent or returned meanwhile changes one."""
    invoice = refund.credit_note.invoice
    currency = invoice.currency
    return {
        **invoice_figures(invoice),
        "owed back": format_amount(invoice.refund_outstanding, currency),
        "credit note's refund outstanding": format_amount(
            refund.credit_note.refund_outstanding, currency
        ),
        "refund state": refund.state,
    }


@dataclass(frozen=True)
class ReturnPreview:
    """What recording a refund's return would do, for billing staff to confirm: the
    refund, the day and reason, what the invoice owes and owes back before and after,
    and the signed `confirmation` the confirming post carries back."""

    refund: Refund
    credit_note: str
    invoice: str
    currency: str
    returned_on: date
    reason: str
    owed_before: Decimal
    owed_after: Decimal
    owed_back_before: Decimal
    owed_back_after: Decimal
    confirmation: str


def check_refund_return(
    refund_id: int,
    *,
    reason: str | None,
    returned_on: date | None,
    now: datetime | None = None,
    actor: Actor,
) -> ReturnPreview:
    """Billing staff: what `return_offline_refund` would do, refused as it refuses,
    writing nothing; with the signed confirmation that records exactly that."""
    actor.require_role("billing")
    now = now or utcnow()
    session = db.session()
    refund = session.get(Refund, refund_id)
    if refund is None:
        raise NotFound(f"There is no refund {refund_id}.")
    session.refresh(refund)
    invoice = refund.credit_note.invoice
    session.refresh(invoice)
    clean_reason = _refuse(refund, reason, returned_on, now)
    assert returned_on is not None
    owed_after = invoice.owed - refund.amount
    collectible = invoice.state in COLLECTIBLE  # a paid or void invoice owes nothing
    after = invoice.refunds_outstanding({refund.credit_note_id: refund.amount})
    return ReturnPreview(
        refund=refund,
        credit_note=refund.credit_note.number,
        invoice=invoice.title,
        currency=invoice.currency,
        returned_on=returned_on,
        reason=clean_reason,
        owed_before=invoice.balance_due,
        owed_after=max(owed_after, Decimal(0)) if collectible else Decimal(0),
        owed_back_before=invoice.refund_outstanding,
        owed_back_after=sum(after.values(), Decimal(0)),
        confirmation=RETURN_CONFIRMATION.sign(
            refund.id,
            actor,
            now,
            {
                "returned_on": returned_on.isoformat(),
                "reason": confirmations.digest(clean_reason),
                **return_figures(refund),
            },
        ),
    )


class ReturnChanged(Conflict):
    """A return confirmed on figures the invoice, its credit note or the refund no
    longer have: nothing is recorded, and the words say what changed."""

    def __init__(self, refund: Refund, changes: list[str]) -> None:
        invoice = refund.credit_note.invoice
        super().__init__(
            f"Not recorded as returned: {invoice.title} changed after the return of the "
            f"{refund.named(in_sentence=True)} was shown to confirm "
            f"({'; '.join(changes) or 'read again'}), so what it owes and owes back after "
            "it no longer holds. Nothing was recorded: check the invoice, then press Record "
            "the return again to confirm it on the figures as they are now."
        )


def _shown(
    confirmation: str,
    refund_id: int,
    *,
    reason: str | None,
    returned_on: date | None,
    actor: Actor,
    now: datetime,
) -> dict[str, str]:
    """The figures a return's confirmation was shown with, once it is found to be the
    service's, for this refund, day, reason and person, and recent;
    `ConfirmationRefused` (400) otherwise."""
    said = RETURN_CONFIRMATION.read(confirmation, refund_id, actor, now)
    if "returned_on" not in said or "reason" not in said:
        raise RETURN_CONFIRMATION.refused("the confirmation is not one this service made")
    posted_day = returned_on.isoformat() if returned_on is not None else ""
    if said["returned_on"] != posted_day or said["reason"] != confirmations.digest(
        (reason or "").strip()
    ):
        raise RETURN_CONFIRMATION.refused(
            "the day or reason posted is not the one shown to confirm (the confirmation "
            f"was of a return on {said['returned_on']})"
        )
    return {name: text for name, text in said.items() if name not in ("returned_on", "reason")}


def _locked_refund(session: Session, refund_id: int) -> tuple[Refund, Invoice]:
    """The refund and its invoice, row-locked in the lock order (`billing.services`:
    the record the step starts from, then the invoice), each read afresh."""
    refund = session.scalars(
        select(Refund).where(Refund.id == refund_id).with_for_update()
    ).one_or_none()
    if refund is None:
        raise NotFound(f"There is no refund {refund_id}.")
    invoice = _locked_invoice(session, refund.invoice_id)
    session.refresh(refund.credit_note)
    return refund, invoice


def return_offline_refund(
    refund_id: int,
    *,
    reason: str | None,
    returned_on: date | None,
    now: datetime | None = None,
    actor: Actor,
    confirmation: str | None = None,
) -> Refund:
    """Billing staff: record that the bank returned a wire, ACH or check refund on
    `returned_on`, because `reason`.

    The refund becomes `failed` (`mark_returned`, stamping `failed_at`, when it was
    recorded: the nightly pulls find it by that), keeps its amount, reference and day
    sent, and carries `returned_on`, `return_reason` and `returned_by`; its invoice's
    `amount_refunded` goes down by its amount, so the credit note's refund is owed
    again (an open invoice that now owes nothing is settled). Every dated sum counts
    it sent on its day and returned on `returned_on`.

    Refused (409) for a card refund (Stripe reports its return) and one not
    `succeeded` (the state machine's words); 422 without a reason or a day, or a day
    in the future or before the refund was sent. With `confirmation` (the console's
    confirming press): 400 unless it is a `check_refund_return` confirmation of this
    refund, day, reason and actor, shown within `CONFIRM_WITHIN`; 409
    (`ReturnChanged`) when, under the rows' locks, the figures shown have moved.
    Nothing is stored on any refusal."""
    actor.require_role("billing")
    now = now or utcnow()
    shown = None
    if confirmation is not None:
        shown = _shown(
            confirmation, refund_id, reason=reason, returned_on=returned_on, actor=actor, now=now
        )
    with db.transaction() as session:
        refund, _invoice = _locked_refund(session, refund_id)
        clean_reason = _refuse(refund, reason, returned_on, now)
        assert returned_on is not None
        if shown is not None:
            changes = confirmations.differences(shown, return_figures(refund), refund.currency)
            if changes:
                raise ReturnChanged(refund, changes)
        refund.returned_on = returned_on
        refund.return_reason = clean_reason
        refund.returned_by = actor.name
        refund.returned_by_id = actor.user_id
        # The hook on `mark_returned` (`refunds._uncount_if_sent`) takes it off the
        # invoice's refunds sent, audited on the invoice.
        REFUND.apply(
            session,
            refund,
            "mark_returned",
            actor=actor,
            note=clean_reason,
            at=now,
            changes={
                "returned_on": returned_on.isoformat(),
                "amount": format_amount(refund.amount, refund.currency),
            },
        )
        return refund
