"""One meaning of "overdue" (round 50): still owed, past its due date and asked for.
An invoice a bank's dispute of its card payment holds (the dispute open, or lost and
owed again only later) is not asked for, so the portal's list never called it
overdue; the API's `overdue` filter, the console's list and its home's count did.
Now all leave it out, and `held` (the API) / "Held by a dispute" (the console) list
those a dispute holds, for billing staff who follow them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.billing import services
from licensing.billing.models import Invoice, PaymentDispute
from licensing.billing.states import LOST
from tests.integration.billing.dispute_support import held_by_disputes
from tests.support.factories import bearer
from tests.support.pages import text_of

# The invoices issued on the default day are due 2027-02-14: overdue on 2027-03-01.
OVERDUE = datetime(2027, 3, 1, 18, 0, tzinfo=UTC)


def _three(vendor: Any, invoice_for: Callable[..., Invoice]) -> tuple[Invoice, Invoice, Invoice]:
    """An overdue invoice, one whose card payment's dispute is open, and one whose
    dispute was lost, its balance owed again only after the day."""
    owed, disputed, lost = (invoice_for(vendor, ("100.00",)) for _ in range(3))
    held_by_disputes([disputed, lost])
    session = db.session()
    dispute = session.scalars(
        select(PaymentDispute).where(PaymentDispute.invoice_id == lost.id)
    ).one()
    dispute.state = LOST
    dispute.status = "lost"
    dispute.closed_at = datetime(2027, 2, 20, 15, tzinfo=UTC)
    dispute.owed_again_on = date(2027, 3, 22)
    session.commit()
    return owed, disputed, lost


def test_the_apis_overdue_filter_leaves_out_an_invoice_a_dispute_holds_and_held_lists_it(
    client: FlaskClient,
    vendor: Any,
    billing_staff: Any,
    invoice_for: Callable[..., Invoice],
) -> None:
    owed, disputed, lost = _three(vendor, invoice_for)
    not_due = invoice_for(vendor, ("100.00",), at=OVERDUE)
    with time_machine.travel(OVERDUE, tick=False):
        for caller in (vendor, billing_staff):
            headers = bearer(caller)
            overdue = client.get("/api/v1/invoices?overdue=true", headers=headers)
            assert overdue.status_code == 200
            assert [i["number"] for i in overdue.get_json()] == [owed.number]
            held = client.get("/api/v1/invoices?held=true", headers=headers)
            assert held.status_code == 200
            assert sorted(i["number"] for i in held.get_json()) == sorted(
                [disputed.number, lost.number]
            )
            everything = client.get("/api/v1/invoices", headers=headers).get_json()
            assert {i["number"] for i in everything} == {
                owed.number,
                disputed.number,
                lost.number,
                not_due.number,
            }
        refused = client.get("/api/v1/invoices?held=maybe", headers=bearer(billing_staff))
    assert refused.status_code == 422
    assert "query.held" in refused.get_json()["errors"]


def test_the_consoles_overdue_list_and_home_count_leave_out_an_invoice_a_dispute_holds(
    app: Flask,
    vendor: Any,
    billing_staff: Any,
    signed_in: Callable[..., FlaskClient],
    invoice_for: Callable[..., Invoice],
) -> None:
    owed, disputed, lost = _three(vendor, invoice_for)
    with time_machine.travel(OVERDUE, tick=False):
        staff = signed_in(app.test_client(), billing_staff)
        overdue = text_of(staff.get("/console/invoices?overdue=1"))
        held_page = staff.get("/console/invoices?held=1")
        held = text_of(held_page)
        everything = text_of(staff.get("/console/invoices"))
        home = text_of(staff.get("/console/"))
    # The list's rows, below the flagged payments' banner (round 55 names each
    # flagged payment by its invoice there, the disputed one among them).
    overdue = overdue[overdue.index("Number Organization For Due") :]
    assert owed.number in overdue
    assert disputed.number not in overdue
    assert lost.number not in overdue
    assert held_page.status_code == 200
    assert owed.number not in held
    assert disputed.number in held
    assert lost.number in held
    # The whole list marks them held, not "N days overdue" (the portal's badge too).
    assert everything.count("days overdue") == 1
    assert "disputed: not chased" in everything
    assert "dispute lost: owed again on 2027-03-22" in everything
    assert 'id="held" name="held" value="1" checked' in held_page.get_data(as_text=True)
    # The home's count is the list's it links to.
    assert "Overdue invoices 1 1 overdue due 2027-02-14" in home


def _lost_owed_again_on(invoice: Invoice, day: date) -> None:
    """The invoice's dispute (`held_by_disputes`) lost, its balance owed again on `day`."""
    session = db.session()
    dispute = session.scalars(
        select(PaymentDispute).where(PaymentDispute.invoice_id == invoice.id)
    ).one()
    dispute.state = LOST
    dispute.status = "lost"
    dispute.closed_at = datetime(2027, 1, 30, 15, tzinfo=UTC)
    dispute.owed_again_on = day
    session.commit()


def test_on_the_day_owed_again_a_lost_disputes_balance_is_neither_chased_nor_listed_overdue(
    app: Flask,
    client: FlaskClient,
    vendor: Any,
    billing_staff: Any,
    signed_in: Callable[..., FlaskClient],
    invoice_for: Callable[..., Invoice],
) -> None:
    """Round 51: the overdue run held such a balance through its day owed again
    (`owed_again_on >= today`) while the lists called it overdue on the day itself
    (`> today`); one rule now (`queries.overdue_on`): owed that day, overdue the next,
    as any invoice on its due date."""
    owed, lost = invoice_for(vendor, ("100.00",)), invoice_for(vendor, ("250.00",))
    held_by_disputes([lost])
    _lost_owed_again_on(lost, OVERDUE.date())

    def overdue_now(now: datetime) -> tuple[list[str], list[str], str, str, int]:
        with time_machine.travel(now, tick=False):
            staff = signed_in(app.test_client(), billing_staff)
            portal = signed_in(app.test_client(), vendor)
            listed = client.get("/api/v1/invoices?overdue=true", headers=bearer(billing_staff))
            held = client.get("/api/v1/invoices?held=true", headers=bearer(vendor))
            console = text_of(staff.get("/console/invoices?overdue=1"))
            mine = text_of(portal.get("/portal/invoices"))
        chased = services.process_overdue(standing_days=30, now=now).overdue
        return (
            [i["number"] for i in listed.get_json()],
            [i["number"] for i in held.get_json()],
            console,
            mine,
            chased,
        )

    # The day owed again: asked for by today, so neither chased nor listed as overdue.
    listed, held, console, mine, chased = overdue_now(OVERDUE)
    assert listed == [owed.number]
    assert held == [lost.number]
    assert owed.number in console
    assert lost.number not in console
    assert "owed again by 2027-03-01" in mine
    assert mine.count("overdue") == 1  # the other invoice's badge
    assert chased == 1
    # The day after: overdue everywhere, and chased.
    listed, held, console, mine, chased = overdue_now(OVERDUE + timedelta(days=1))
    assert sorted(listed) == sorted([owed.number, lost.number])
    assert held == []
    assert lost.number in console
    assert "owed again by" not in mine
    assert chased == 2
