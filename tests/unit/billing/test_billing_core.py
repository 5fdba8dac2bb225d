"""Pure billing pieces: number format, whole months overdue, the state tables, the PDF."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

import pytest

from licensing import notices
from licensing.billing import documents
from licensing.billing.services import months_between
from licensing.billing.states import INVOICE, PAYMENT, dispute_hold
from licensing.errors import IllegalTransition
from tests.support.documents import pdf_text
from tests.support.glyphs import CJK_NAMES, misdrawn


@pytest.mark.parametrize(
    ("start", "end", "months"),
    [
        (date(2027, 1, 31), date(2027, 2, 28), 0),
        (date(2027, 1, 15), date(2027, 2, 15), 1),
        (date(2027, 1, 15), date(2027, 4, 14), 2),
        (date(2027, 3, 1), date(2027, 2, 1), 0),
    ],
)
def test_whole_months_between_two_dates(start: date, end: date, months: int) -> None:
    assert months_between(start, end) == months


def test_an_issued_invoice_cannot_go_back_to_draft_and_a_paid_one_only_reopens() -> None:
    with pytest.raises(IllegalTransition) as refused:
        INVOICE.step("open", "finalize")
    assert refused.value.allowed == ["mark_uncollectible", "settle", "void"]
    # Paid is final but for a payment reversed (a bounced cheque): owed again.
    assert INVOICE.allowed("paid") == ["reopen"]
    assert INVOICE.step("paid", "reopen") == "open"
    assert not PAYMENT.can("succeeded", "succeed")
    assert PAYMENT.can("failed", "succeed")
    # Reversed by billing staff (offline), or charged back by a card dispute.
    assert PAYMENT.allowed("succeeded") == ["charge_back", "reverse"]
    assert PAYMENT.is_terminal("reversed")


def test_a_flagged_payment_is_accepted_or_given_back_never_canceled() -> None:
    """Round 36: `reject` (flagged -> canceled) was taken by no service. A flagged
    payment's money is at Stripe: it is accepted, or given back (refunded to the
    card, `given_back`, which ends it), and `canceled` says no money moved, so the
    machine offers no step from flagged to canceled. Round 42: billing staff's
    give-back is asked first (`giving_back`); a refund made in Stripe's dashboard
    gives it back at once (`refund_at_stripe`). Round 47: or, after a dispute lost of
    part of its charge, its remainder is accepted (`accept_remainder`)."""
    assert PAYMENT.allowed("flagged") == [
        "accept",
        "accept_remainder",
        "give_back",
        "refund_at_stripe",
    ]
    assert PAYMENT.step("flagged", "give_back") == "giving_back"
    assert PAYMENT.step("flagged", "refund_at_stripe") == "given_back"
    assert "reject" not in PAYMENT.actions
    assert not any(
        PAYMENT.can("flagged", action) and PAYMENT.step("flagged", action) == "canceled"
        for action in PAYMENT.actions
    )


def test_a_give_back_that_failed_is_flagged_again_and_nothing_else_leaves_given_back() -> None:
    """Round 37: Stripe's refund that gave the money back failed, so the money is
    back with us and billing staff decide again; nothing else moves a payment
    given back (it is never accepted after, nor given back twice)."""
    assert PAYMENT.allowed("given_back") == ["fail_give_back"]
    assert PAYMENT.step("given_back", "fail_give_back") == "flagged"
    assert PAYMENT.events["fail_give_back"] == "give_back_failed"
    assert PAYMENT.stamps["fail_give_back"] == "status_changed_at"
    with pytest.raises(IllegalTransition, match="cannot be flagged again, if Stripe reports"):
        PAYMENT.step("flagged", "fail_give_back")
    # A clerk trying again reads what a payment given back still allows, and who does it.
    with pytest.raises(IllegalTransition) as refused:
        PAYMENT.step("given_back", "give_back")
    assert str(refused.value) == (
        "A payment that is given back cannot be given back: it can only be flagged "
        "again, if Stripe reports its give-back failed."
    )


def test_a_give_back_in_flight_waits_for_stripe_and_refuses_every_staff_step_saying_why() -> None:
    """Round 42: after its hour, round 39 let a give-back whose Stripe answer was lost
    be accepted, counting money Stripe may have refunded. The ask is a state of its
    own (`giving_back`, audited `payment.give_back_asked`), left only by Stripe's
    answer: given back, refused, or failed (flagged again); no time limit."""
    assert PAYMENT.events["give_back"] == "give_back_asked"
    assert PAYMENT.allowed("giving_back") == [
        "fail_give_back",
        "refund_at_stripe",
        "refuse_give_back",
    ]
    assert PAYMENT.step("giving_back", "refund_at_stripe") == "given_back"
    assert PAYMENT.step("giving_back", "refuse_give_back") == "flagged"
    assert PAYMENT.step("giving_back", "fail_give_back") == "flagged"
    assert PAYMENT.events["refund_at_stripe"] == "given_back"
    assert PAYMENT.events["refuse_give_back"] == "give_back_refused"
    for action in ("accept", "give_back", "cancel", "succeed", "reverse"):
        with pytest.raises(IllegalTransition) as refused:
            PAYMENT.step("giving_back", action)
        said = str(refused.value)
        assert said.startswith("A payment that is being given back cannot ")
        assert said.endswith(
            "Stripe has not answered the give-back yet; `licensing payments reconcile` asks "
            "it (or its refund webhook answers first), and until then the money may be on "
            "its way back to the card. Once Stripe answers, the payment is given back, or "
            "flagged again if Stripe refused the refund or it failed."
        )
        # Round 43: the why says what the state waits on, in place of the steps it
        # allows, which are Stripe's ("it can only be flagged again, if Stripe ...").
        assert "it can only" not in said
    with pytest.raises(IllegalTransition) as refused:
        PAYMENT.step("giving_back", "accept")
    assert str(refused.value).startswith(
        "A payment that is being given back cannot be accepted: Stripe has not answered "
        "the give-back yet; "
    )
    # The why is the state's: other states' refusals are as before.
    with pytest.raises(IllegalTransition) as refused:
        PAYMENT.step("flagged", "reverse")
    assert "Stripe has not answered" not in str(refused.value)


def _document(state: str, **changes: object) -> documents.InvoiceDocument:
    document = documents.InvoiceDocument(
        number="INV-2027-000007",
        state=state,
        issuer=("CPT Licensing Office", "100 Lakeshore Plaza"),
        remit_to=("Wire to Lakeshore Commercial Bank",),
        bill_to=("Meadowlark Practice Systems Inc.", "12 Elm Street"),
        issue_date=date(2027, 1, 15),
        due_date=date(2027, 2, 14),
        payment_terms="Net 30 days",
        late_fee_terms="1.5% per month",
        reference="Agreement CPT-2027-000003",
        memo="",
        currency="USD",
        lines=(documents.DocumentLine("Distribution", "flat 900.00", "900.00"),),
        total="900.00 USD",
        paid="900.00 USD" if state == "paid" else "0.00 USD",
        credited="0.00 USD",
        balance_due="0.00 USD" if state == "paid" else "900.00 USD",
        paid_on=date(2027, 1, 20) if state == "paid" else None,
        copyright_notice=documents.copyright_notice(date(2027, 1, 1)),
        footer_notice=notices.copyright_notice(date(2027, 1, 1)),
    )
    return replace(document, **changes)  # type: ignore[arg-type]


def test_the_invoice_pdf_is_deterministic_and_stamped_paid_only_when_paid() -> None:
    open_pdf = documents.render_invoice_pdf(_document("open"))
    assert open_pdf == documents.render_invoice_pdf(_document("open"))
    assert "PAID" not in pdf_text(open_pdf)
    paid = pdf_text(documents.render_invoice_pdf(_document("paid")))
    assert "PAID on January 20, 2027" in paid  # in words (round 56)
    assert "January 15, 2027" in paid  # its issue date
    assert "Meadowlark Practice Systems Inc." in paid
    assert "CPT © 2026 American Medical Association" in paid
    assert "Nothing is due on this invoice." in paid


def test_an_invoice_without_payment_instructions_prints_no_how_to_pay_heading() -> None:
    # Round 55: with BILLING_REMIT_TO set empty the heading stood over the late-fee
    # line alone. The line stays; the heading comes with instructions or "nothing due".
    bare = " ".join(pdf_text(documents.render_invoice_pdf(_document("open", remit_to=()))).split())
    assert "How to pay" not in bare
    assert "1.5% per month" in bare
    told = " ".join(pdf_text(documents.render_invoice_pdf(_document("open"))).split())
    assert "How to pay" in told
    paid = documents.render_invoice_pdf(_document("paid", remit_to=()))
    assert "How to pay Nothing is due on this invoice." in " ".join(pdf_text(paid).split())


@pytest.mark.parametrize("language", sorted(CJK_NAMES))
def test_an_invoice_billed_to_a_chinese_japanese_or_korean_name_draws_it_in_its_cid_font(
    language: str,
) -> None:
    name, cid_font = CJK_NAMES[language]
    bill_to = (f"{name} (Meadowlark Ltd)", f"{name} 12", "Zoë Building")
    line = documents.DocumentLine(f"Distribution of {name}", "flat 900.00", "900.00")
    data = documents.render_invoice_pdf(_document("open", bill_to=bill_to, lines=(line,)))
    text = " ".join(pdf_text(data).split())
    for value in (*bill_to, line.description):
        assert value in text
    assert misdrawn(data, "".join(bill_to) + line.description, cid_font) == []


def test_a_card_payment_not_yet_settled_refuses_staff_steps_saying_what_it_waits_on() -> None:
    """Round 44: an accept or a give-back of a pending or declined card payment (a
    finance script's, through the API) was refused listing Stripe's own steps as if
    the caller could take them: "it can only be canceled, declined or flagged for a
    mismatched amount, or succeed". It says what the payment waits on instead."""
    for state, waits in (
        ("pending", "Stripe has not reported the card payment's outcome yet; "),
        ("failed", "the bank declined the card, so no money was taken; "),
    ):
        for action in ("accept", "give_back"):
            said = PAYMENT.refusal(state, action)
            assert said is not None
            assert said.startswith(f"A payment that is {state} cannot ")
            assert waits in said
            assert said.endswith("only a flagged payment is accepted or given back.")
            assert "it can only" not in said
    # Stripe's own steps from them go on.
    assert PAYMENT.step("pending", "flag") == "flagged"
    assert PAYMENT.step("failed", "succeed") == "succeeded"


def test_a_dispute_lost_of_part_of_a_flagged_charge_frees_only_the_remainders_accept() -> None:
    """Round 47: a flagged payment whose charge was disputed in part and the dispute
    lost kept both steps refused for good, and nothing handled the part not disputed.
    Lost in part, accepting it whole and giving it back stay held, saying what is
    left, and `accept_remainder` is not; open or lost in full, all three are held; won,
    none is."""
    day = date(2027, 3, 2)
    common: dict[str, Any] = {"stripe_dispute_id": "du_1", "opened_on": day, "closed_on": day}
    in_part = dispute_hold(
        "lost", remainder="199.99 USD", disputed="100.00 USD of the 299.99 USD received", **common
    )
    assert in_part is not None
    assert PAYMENT.step("flagged", "accept_remainder", hold=in_part) == "succeeded"
    for held in ("accept", "give_back"):
        with pytest.raises(IllegalTransition, match=r"The 199\.99 USD not disputed is still held"):
            PAYMENT.step("flagged", held, hold=in_part)
    for state in ("open", "lost"):
        hold = dispute_hold(state, **common)
        assert hold is not None
        for held in ("accept", "accept_remainder", "give_back"):
            assert hold.holds(held)
    assert dispute_hold("won", **common) is None


def test_a_lost_disputes_remainder_says_what_accepting_does_when_the_invoice_owes_less() -> None:
    """Round 49: the hold ended "accept the remainder, and it counts against its
    invoice." even when the invoice owed nothing (paid, credited or void meanwhile),
    where accepting sends the excess back offline; it now says so, and names what
    counts when the invoice owes part of it."""
    day = date(2027, 3, 2)
    common: dict[str, Any] = {
        "stripe_dispute_id": "du_1",
        "opened_on": day,
        "closed_on": day,
        "remainder": "199.99 USD",
        "disputed": "100.00 USD of the 299.99 USD received",
    }
    owes_all = dispute_hold("lost", **common)
    owes_nothing = dispute_hold("lost", excess="199.99 USD", **common)
    owes_part = dispute_hold("lost", owed="150.00 USD", excess="49.99 USD", **common)
    assert owes_all is not None
    assert owes_nothing is not None
    assert owes_part is not None
    assert owes_all.why.endswith(
        "The 199.99 USD not disputed is still held: accept the remainder, and it counts "
        "against its invoice."
    )
    assert owes_nothing.why.endswith(
        "The 199.99 USD not disputed is still held, but its invoice owes nothing now: "
        "accepting the remainder sends all of it back to the licensee offline (wire, ACH "
        "or check), booked as returned, and none of it counts."
    )
    assert owes_part.why.endswith(
        "The 199.99 USD not disputed is still held, but its invoice owes only 150.00 USD "
        "now: accepting the remainder counts 150.00 USD against it and sends the 49.99 USD "
        "more back to the licensee offline (wire, ACH or check), booked as returned."
    )
    for hold in (owes_nothing, owes_part):
        assert PAYMENT.step("flagged", "accept_remainder", hold=hold) == "succeeded"
        assert hold.holds("accept")
        assert hold.holds("give_back")
