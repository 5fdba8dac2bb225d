"""A bank reference already recorded: money received offline under a reference
its invoice already has, or sent back offline under one its credit note already
has. Two instalments (or two refunds) may share a reference, so a repeat is never
refused outright; but the same transfer entered twice must not be recorded twice.
One mechanism for both: find the earlier records, then ask, or record and say so
in the audit note.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from licensing.accounts.queries import People, people_of
from licensing.billing.models import Payment, Refund
from licensing.billing.states import SUCCEEDED
from licensing.calendar import office_date
from licensing.errors import InvalidInput
from licensing.money import format_grouped

# What to do with a reference the document already has: `ask` refuses it with
# `RepeatedReference` until staff confirm (the console's forms), `confirmed`
# records it, `allow` records it without asking (the API, whose Idempotency-Key
# is what guards retries). Either way its audit event names the earlier records.
RepeatedReferencePolicy = Literal["ask", "confirmed", "allow"]

Recorded = TypeVar("Recorded", Payment, Refund)


class RepeatedReference(InvalidInput):
    """The invoice (or credit note) already has a payment (or refund) with this
    reference: refused until billing staff confirm it is a separate one
    (`repeated_reference="confirmed"`)."""


@dataclass(frozen=True)
class Ledger(Generic[Recorded]):
    """The records compared (`model`, each naming its document in `document_key`),
    and what they are called in words."""

    model: type[Recorded]
    document_key: str  # "invoice_id"
    record: str  # "payment"
    document: str  # "invoice"
    dated: str  # "received": what the record's day says happened


PAYMENTS = Ledger(Payment, "invoice_id", "payment", "invoice", "received")
REFUNDS = Ledger(Refund, "credit_note_id", "refund", "credit note", "sent")


def normalized(reference: str | None) -> str:
    """A reference as it is compared: trimmed and case-folded (in Python, so SQLite,
    whose lower() folds only ASCII, and PostgreSQL agree)."""
    return (reference or "").strip().casefold()


def matching(records: Iterable[Recorded], reference: str) -> list[Recorded]:
    """The records (a document's few, in order) whose reference is `reference`."""
    wanted = normalized(reference)
    return [r for r in records if r.reference is not None and normalized(r.reference) == wanted]


def recorded_with(
    session: Session, ledger: Ledger[Recorded], document_id: int, reference: str
) -> list[Recorded]:
    """The document's succeeded records with `reference` (`matching`), oldest first.

    Every succeeded payment counts, refunded or not: an offline refund is made
    against a credit note, not a payment, and a refund does not make a second
    entry of the same transfer right. Another credit note's refunds do not count:
    one transfer refunding two credit notes is recorded once against each."""
    model = ledger.model
    records = session.scalars(
        select(model)
        .where(
            getattr(model, ledger.document_key) == document_id,
            model.state == SUCCEEDED,
            model.reference.is_not(None),
        )
        .order_by(model.id)
    )
    return matching(records, reference)


def confirmed_for(
    shown_for: str | None, reference: str | None, ticked: bool
) -> RepeatedReferencePolicy:
    """The policy a console form asks for: `confirmed` only when staff ticked the box
    for this very reference (`shown_for`, the one the warning named); a reference
    changed since is asked about again."""
    if ticked and shown_for is not None and normalized(shown_for) == normalized(reference):
        return "confirmed"
    return "ask"


def _day(record: Payment | Refund) -> str:
    on = record.received_on if isinstance(record, Payment) else record.sent_on
    return (on or office_date(record.created_at)).isoformat()


def _recorders(earlier: list[Recorded]) -> People:
    """Who recorded the `earlier` records, named as pages name people (round 59: "Pat
    Lee (pat@...)", by the account each kept, else its address), in one statement."""
    session = object_session(earlier[0])
    assert session is not None  # read by `recorded_with`
    return people_of(
        session,
        ids=[record.recorded_by_id for record in earlier],
        addresses=[record.recorded_by for record in earlier],
    )


def _recorder(record: Payment | Refund, people: People) -> str:
    return people.named(record.recorded_by, record.recorded_by_id)


def described(record: Payment | Refund, ledger: Ledger[Any], people: People) -> str:
    """An earlier record as staff read it on the page: amount, day, who recorded it."""
    amount = format_grouped(record.amount, record.currency)
    return (
        f"{amount} {record.currency} {ledger.dated} {_day(record)}, "
        f"recorded by {_recorder(record, people)}"
    )


def _message(earlier: list[Recorded], ledger: Ledger[Recorded], people: People) -> str:
    if len(earlier) == 1:
        return (
            f"A {ledger.record} with this reference is already recorded on this "
            f"{ledger.document}: {described(earlier[0], ledger, people)}."
        )
    listed = "; ".join(described(r, ledger, people) for r in earlier)
    return (
        f"{len(earlier)} {ledger.record}s with this reference are already recorded on this "
        f"{ledger.document}: {listed}."
    )


def _note(
    earlier: list[Recorded],
    policy: RepeatedReferencePolicy,
    ledger: Ledger[Recorded],
    people: People,
) -> str:
    heading = "Repeated reference confirmed" if policy == "confirmed" else "Repeated reference"
    named = "; ".join(_named(r, ledger, people) for r in earlier)
    return f"{heading}: same as {named}."


def _named(record: Payment | Refund, ledger: Ledger[Any], people: People) -> str:
    """An earlier record as the pages name it, never by its row id (round 58: "refund 5
    (40.00 USD sent ...)"): a refund by method, amount, credit note and day, a payment
    by method, amount and day; and who recorded it (round 59: "Pat Lee (pat@...)", as
    the note's history names people; a note written before names the address)."""
    if isinstance(record, Refund):
        return f"the {record.named(in_sentence=True)}, recorded by {_recorder(record, people)}"
    words = "ACH" if record.method == "ach" else record.method
    return f"the {words} {ledger.record} of {described(record, ledger, people)}"


def checked(
    earlier: list[Recorded],
    policy: RepeatedReferencePolicy,
    ledger: Ledger[Recorded],
    errors: dict[str, list[str]],
    detail: str,
) -> str | None:
    """With the document locked (so a double submission finds the first): refuse a
    repeat with `RepeatedReference` when `policy` is `ask`, naming each earlier
    record beside the reference and keeping the other `errors`; else the audit
    note naming them (None when nothing repeats)."""
    if not earlier:
        return None
    people = _recorders(earlier)
    if policy == "ask" and "reference" not in errors:
        raise RepeatedReference(
            detail, {**errors, "reference": [_message(earlier, ledger, people)]}
        )
    return _note(earlier, policy, ledger, people)
