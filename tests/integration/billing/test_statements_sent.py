"""Round 28: the statements sent, for finance systems and for late entries. The API
lists them (`GET /api/v1/organizations/{id}/statements/sent`) and billing staff send
one again through it; each says whether its month now reads differently from what
was emailed (an entry dated into the month since), on the API, the console's
organization page, one list of every organization's, and the portal's paginated
*Statements emailed*."""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import calendar, db
from licensing.access import BILLING
from licensing.accounts.models import User
from licensing.audit.models import AuditEvent
from licensing.billing import sent_statements, services
from licensing.billing.models import Invoice, Payment, SentStatement
from licensing.mail import services as mail
from tests.support import factories
from tests.support.billing import credited, paid_offline, refunded_offline, reversed_offline
from tests.support.factories import bearer, billing_clerk
from tests.support.monthly_statements import (
    IN_DECEMBER,
    IN_JANUARY,
    JANUARY,
    RUN,
    invoice,
    months_back,
    organization,
    paid,
    sent_row,
    statement_emails,
)
from tests.support.pages import text_of
from tests.support.servers import SMTPServer, message_text
from tests.support.settings import delivery
from tests.support.statements import statements_for

# Ten days after the January statements went: a wire received in January is recorded.
LATE = datetime(2027, 2, 10, 15, 0, tzinfo=UTC)


@pytest.fixture
def config_changes(smtp_server: SMTPServer) -> dict[str, Any]:
    return {"smtp_url": smtp_server.url}


def _january_sent(organization_id: int, amount: str = "1200.00") -> SentStatement:
    """An invoice issued in January, and January's statement sent (owing it)."""
    invoice(organization_id, amount, IN_JANUARY)
    services.send_monthly_statements(JANUARY, now=RUN)
    sent = db.session().scalars(
        select(SentStatement).where(
            SentStatement.organization_id == organization_id, SentStatement.currency == "USD"
        )
    )
    return sent.one()


def _january_invoice(sent: SentStatement) -> Invoice:
    """The organization's invoice in the statement's currency (one in these tests)."""
    found = select(Invoice).where(
        Invoice.organization_id == sent.organization_id, Invoice.currency == sent.currency
    )
    return db.session().scalars(found).one()


def _paid_late(sent: SentStatement, on: date = date(2027, 1, 25)) -> None:
    """The January invoice's wire, received `on` a January day, recorded on `LATE`."""
    paid(_january_invoice(sent), on, recorded=LATE)


# --- changed since sent ------------------------------------------------------------


def test_a_payment_recorded_late_for_a_month_sent_marks_its_statement_changed_since_sent(
    app: Flask,
) -> None:
    late = _january_sent(organization("Quillfeather Analytics").id)
    on_time = _january_sent(organization("Brindle Harbor Labs").id, "300.00")
    assert not sent_statements.read_now(db.session(), [late])[0].changed

    _paid_late(late)

    now = sent_statements.read_now(db.session(), [late, on_time])
    assert [(each.changed, each.opening, each.closing) for each in now] == [
        (True, Decimal("0.00"), Decimal("0.00")),
        (False, Decimal("0.00"), Decimal("300.00")),
    ]
    changed = sent_statements.changed_since_sent(db.session())
    assert [each.sent.id for each in changed.readings] == [late.id]
    assert changed.names == {late.organization_id: "Quillfeather Analytics"}


def test_a_payment_the_bank_returned_on_a_day_of_a_month_sent_marks_it_changed(
    app: Flask,
) -> None:
    """Paid on 20 January, January's statement went owing nothing; the bank's return of
    30 January, recorded on 10 February, has January read 1,200.00 owed."""
    organization_id = organization("Quillfeather Analytics").id
    issued = invoice(organization_id, "1200.00", IN_JANUARY)
    paid(issued, date(2027, 1, 20))
    services.send_monthly_statements(JANUARY, now=RUN)
    sent = db.session().scalars(select(SentStatement)).one()
    assert sent.closing == 0
    payment = db.session().scalars(select(Payment).where(Payment.invoice_id == issued.id)).one()
    with time_machine.travel(LATE, tick=False):
        services.reverse_offline_payment(
            payment.id,
            reason="Wire recalled by the payer's bank.",
            returned_on=date(2027, 1, 30),
            standing_days=30,
            now=LATE,
            actor=billing_clerk(),
        )
    changed = sent_statements.changed_since_sent(db.session()).readings
    assert [(each.sent.id, each.closing) for each in changed] == [(sent.id, Decimal("1200.00"))]
    [why] = sent_statements.late_entries(db.session(), [sent]).values()
    assert [(each.what, each.amount, each.dated) for each in why] == [
        ("Payment returned by the bank", Decimal("1200.00"), date(2027, 1, 30))
    ]


def test_a_payment_moved_off_a_month_sent_is_named_taken_off_not_returned_by_the_bank(
    app: Flask,
) -> None:
    """Round 68: a wire recorded against the wrong invoice and moved (on 10 February)
    changes January's statement; the page naming why says it was taken off, not that
    the bank returned it (nothing came back from the bank)."""
    organization_id = organization("Quillfeather Analytics").id
    issued = invoice(organization_id, "1200.00", IN_JANUARY)
    paid(issued, date(2027, 1, 20))
    services.send_monthly_statements(JANUARY, now=RUN)
    sent = db.session().scalars(select(SentStatement)).one()
    right = invoice(organization_id, "1200.00", IN_JANUARY)
    payment = db.session().scalars(select(Payment).where(Payment.invoice_id == issued.id)).one()
    with time_machine.travel(LATE, tick=False):
        services.move_offline_payment(
            payment.id,
            to_invoice=right.number,
            reason="The remittance named the other invoice.",
            standing_days=30,
            now=LATE,
            actor=billing_clerk(),
        )
    why = sent_statements.late_entries(db.session(), [sent])[sent.id]
    assert ("Payment taken off (recorded against the wrong invoice)", Decimal("1200.00")) in [
        (each.what, each.amount) for each in why
    ]
    assert "Payment returned by the bank" not in [each.what for each in why]


def test_a_refund_sent_recorded_late_and_dated_in_a_month_sent_marks_it_changed_and_is_named(
    app: Flask,
) -> None:
    """Round 54: a refund can change a month already emailed. 1,000.00 issued on 15
    January, 900.00 received by wire on 16 January, a 150.00 credit note on 20 January
    (50.00 of it owed back), the wire returned on 22 January: January's statement went
    owing 850.00. Paid 850.00 on 5 February and credited 100.00 more on 6 February
    (the first note's 50.00 owed back again), the clerk records on 10 February the wire
    refund of the 50.00, dated 25 January (the service takes any day from the credit
    note's issue). January's balance counts a refund from its day: January now closes
    at 900.00, and the list names the refund, the only entry dated into January."""
    organization_id = organization("Quillfeather Analytics").id
    issued = invoice(organization_id, "1000.00", IN_JANUARY)
    wire = paid_offline(
        issued.id, "900.00", "W-1", received_on=date(2027, 1, 16), now=_in_january(16)
    )
    note = credited(issued.id, "150.00", "Seats removed", now=_in_january(20))
    assert note.refund_due == Decimal("50.00")
    reversed_offline(wire.id, "Wire recalled", returned_on=date(2027, 1, 22), now=_in_january(22))
    services.send_monthly_statements(JANUARY, now=RUN)
    sent = db.session().scalars(select(SentStatement)).one()
    assert sent.closing == Decimal("850.00")
    # Paid again what it owed, and credited 100.00 more: 100.00 owed back, the first
    # credit note's 50.00 first (they share it in the order issued).
    paid_offline(issued.id, "850.00", "W-2", received_on=date(2027, 2, 5), now=_in_january(36))
    credited(issued.id, "100.00", "Late delivery", now=_in_january(37))
    db.session().refresh(note)
    assert note.refund_outstanding == Decimal("50.00")
    assert sent_statements.changed_since_sent(db.session()).readings == []
    refunded_offline(note.id, "50.00", "RF-0125", sent_on=date(2027, 1, 25), now=LATE)
    changed = sent_statements.changed_since_sent(db.session()).readings
    assert [(each.sent.id, each.closing) for each in changed] == [(sent.id, Decimal("900.00"))]
    [why] = sent_statements.late_entries(db.session(), [sent]).values()
    assert [(each.what, each.amount, each.dated) for each in why] == [
        ("Refund sent", Decimal("50.00"), date(2027, 1, 25))
    ]


def test_a_wire_refund_returned_on_a_day_of_a_month_sent_marks_it_changed_and_is_named(
    app: Flask,
) -> None:
    """Round 55: 1,000.00 issued and paid by wire in January, a 100.00 credit note on 20
    January and its refund sent by wire on 21 January, the wire payment returned on 22
    January: January's statement went owing 1,000.00 (the licensee had the refund and
    their wire back). The bank returned the refund on 28 January; the clerk records it
    on 10 February, dated on the bank's day. January now closes at 900.00, and the list
    names the return, the only entry dated into January."""
    organization_id = organization("Quillfeather Analytics").id
    issued = invoice(organization_id, "1000.00", IN_JANUARY)
    wire = paid_offline(
        issued.id, "1000.00", "W-1", received_on=date(2027, 1, 16), now=_in_january(16)
    )
    note = credited(issued.id, "100.00", "Seats removed", now=_in_january(20))
    refund_id = refunded_offline(
        note.id, "100.00", "RF-0121", sent_on=date(2027, 1, 21), now=_in_january(21)
    ).id
    reversed_offline(wire.id, "Wire recalled", returned_on=date(2027, 1, 22), now=_in_january(22))
    services.send_monthly_statements(JANUARY, now=RUN)
    sent = db.session().scalars(select(SentStatement)).one()
    assert sent.closing == Decimal("1000.00")
    services.return_offline_refund(
        refund_id,
        reason="Beneficiary account closed",
        returned_on=date(2027, 1, 28),
        now=LATE,
        actor=billing_clerk(),
    )
    changed = sent_statements.changed_since_sent(db.session()).readings
    assert [(each.sent.id, each.closing) for each in changed] == [(sent.id, Decimal("900.00"))]
    [why] = sent_statements.late_entries(db.session(), [sent]).values()
    assert [(each.what, each.amount, each.dated) for each in why] == [
        ("Refund returned by the bank", Decimal("100.00"), date(2027, 1, 28))
    ]


def _in_january(day: int) -> datetime:
    """15:00 UTC on `day` January 2027 (36, 37: 5, 6 February), 09:00 at the office."""
    return datetime(2027, 1, 1, 15, tzinfo=UTC) + timedelta(days=day - 1)


def test_a_payment_recorded_late_but_received_after_the_month_changes_nothing_sent(
    app: Flask,
) -> None:
    """Received on 3 February: February's statement has it, January's still reads as sent."""
    sent = _january_sent(organization("Quillfeather Analytics").id)
    _paid_late(sent, on=date(2027, 2, 3))
    assert not sent_statements.read_now(db.session(), [sent])[0].changed
    assert sent_statements.changed_since_sent(db.session()).readings == []


def test_an_invoice_voided_after_its_month_was_sent_leaves_that_month_as_sent(
    app: Flask,
) -> None:
    """A void is a movement of the office day it is made (docs/billing.md, the
    statement's movements): the month sent before it still reads as sent; the month
    of the void has it."""
    sent = _january_sent(organization("Quillfeather Analytics").id)
    with time_machine.travel(LATE, tick=False):
        services.void_invoice(
            _january_invoice(sent).id,
            reason="issued in error",
            now=LATE,
            actor=billing_clerk(),
        )
    [reading] = sent_statements.read_now(db.session(), [sent])
    assert (reading.changed, reading.closing) == (False, Decimal("1200.00"))
    assert sent_statements.changed_since_sent(db.session()).readings == []


# --- the API -----------------------------------------------------------------------


def _url(organization_id: int) -> str:
    return f"/api/v1/organizations/{organization_id}/statements/sent"


def test_the_api_lists_the_statements_sent_newest_first_a_page_at_a_time_with_filters(
    client: FlaskClient, vendor: User
) -> None:
    organization_id = vendor.organization_id
    invoice(organization_id, "90.00", IN_JANUARY, currency="EUR")
    sent = _january_sent(organization_id)
    for month in months_back(date(2026, 12, 1), 12):
        sent_row(organization_id, month, closing="400.00", sent_at=datetime(2026, 1, 1, tzinfo=UTC))
    _paid_late(sent)
    headers = bearer(vendor)

    first = client.get(_url(organization_id), query_string={"per_page": 5}, headers=headers)
    assert first.status_code == 200, first.get_json()
    assert first.headers["X-Total-Count"] == "14"
    assert 'rel="next"' in first.headers["Link"]
    body = first.get_json()
    assert [(each["month"], each["currency"]) for each in body[:3]] == [
        ("2027-01", "EUR"),
        ("2027-01", "USD"),
        ("2026-12", "USD"),
    ]
    usd = body[1]
    assert usd["id"] == sent.id
    assert (usd["opening_balance"], usd["closing_balance"]) == ("0.00", "1200.00")
    assert usd["last_sent_closing_balance"] == "1200.00"
    assert (usd["changed_since_sent"], usd["current_closing_balance"]) == (True, "0.00")
    assert usd["sent_to"] == vendor.organization.billing_email
    assert (usd["resends"], usd["resent_at"]) == (0, None)
    assert usd["sent_at"].startswith("2027-02-01T14:00:00")
    assert usd["statement_url"] == (
        f"/api/v1/organizations/{organization_id}/statement"
        "?from=2027-01-01&to=2027-01-31&currency=USD"
    )
    with time_machine.travel(LATE, tick=False):  # January is over
        month = client.get(usd["statement_url"], headers=headers).get_json()
    assert month["closing_balance"] == usd["current_closing_balance"]
    eur = body[0]
    assert (eur["closing_balance"], eur["changed_since_sent"]) == ("90.00", False)

    last = client.get(
        _url(organization_id), query_string={"per_page": 5, "page": 3}, headers=headers
    )
    assert [each["month"] for each in last.get_json()] == [
        "2026-04",
        "2026-03",
        "2026-02",
        "2026-01",
    ]

    def months(**query: str) -> list[str]:
        answer = client.get(_url(organization_id), query_string=query, headers=headers)
        assert answer.status_code == 200, answer.get_json()
        return [f"{each['month']} {each['currency']}" for each in answer.get_json()]

    assert months(currency="EUR") == ["2027-01 EUR"]
    assert months(**{"from": "2026-06", "to": "2026-08"}) == [
        "2026-08 USD",
        "2026-07 USD",
        "2026-06 USD",
    ]
    assert months(**{"from": "2027-01", "currency": "USD"}) == ["2027-01 USD"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"from": "2027-13"}, "query.from"),
        ({"to": "January"}, "query.to"),
        ({"from": "2027-03", "to": "2027-01"}, "query.from"),
        ({"currency": "XYZ"}, "query.currency"),
        ({"currency": "dollars"}, "query.currency"),
        ({"per_page": "0"}, "query.per_page"),
    ],
)
def test_the_api_refuses_bad_filters_naming_each_as_a_problem(
    client: FlaskClient, vendor: User, query: dict[str, str], field: str
) -> None:
    answer = client.get(_url(vendor.organization_id), query_string=query, headers=bearer(vendor))
    assert answer.status_code == 422
    assert answer.content_type == "application/problem+json"
    assert field in answer.get_json()["errors"]


def test_whoever_reads_the_statement_reads_the_list_and_no_vendor_reads_anothers(
    client: FlaskClient,
    vendor: User,
    other_vendor: User,
    licensing_staff: User,
    billing_staff: User,
) -> None:
    sent = _january_sent(vendor.organization_id)
    url = _url(vendor.organization_id)
    billing_member = factories.make_vendor(
        db.session(), organization=vendor.organization, role=BILLING
    )
    for reader in (vendor, billing_member, licensing_staff, billing_staff):
        answer = client.get(url, headers=bearer(reader))
        assert answer.status_code == 200, (reader.email, answer.get_json())
        assert [each["id"] for each in answer.get_json()] == [sent.id]
    assert client.get(url, headers=bearer(other_vendor)).status_code == 404
    assert client.get(_url(other_vendor.organization_id), headers=bearer(other_vendor)).json == []
    assert client.get(url).status_code == 401


def test_billing_staff_send_one_again_through_the_api_audited_and_emailed(
    client: FlaskClient,
    vendor: User,
    other_vendor: User,
    licensing_staff: User,
    billing_staff: User,
    mailbox: SMTPServer,
) -> None:
    sent = _january_sent(vendor.organization_id)
    _paid_late(sent)
    mail.deliver_due(delivery())
    mailbox.clear()
    resend = f"{_url(vendor.organization_id)}/{sent.id}/resend"
    for refused in (vendor, licensing_staff):
        assert client.post(resend, headers=bearer(refused)).status_code == 403
    elsewhere = f"{_url(other_vendor.organization_id)}/{sent.id}/resend"
    clerk = bearer(billing_staff)
    assert client.post(elsewhere, headers=clerk).status_code == 404

    first_contact = vendor.organization.billing_email
    vendor.organization.billing_email = "payables@changed.example"  # changed since sent
    db.session().commit()

    keyed = {**clerk, "Idempotency-Key": "resend-january-1"}
    answer = client.post(resend, headers=keyed)
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["resends"] == 1
    assert body["closing_balance"] == "1200.00"  # first sent
    assert body["last_sent_closing_balance"] == "0.00"  # sent again as it reads now
    assert body["changed_since_sent"] is False
    assert (body["sent_to"], body["last_sent_to"]) == (first_contact, "payables@changed.example")
    retried = client.post(resend, headers=keyed)
    assert retried.get_json() == body
    assert retried.headers["Idempotent-Replayed"] == "true"

    events = db.session().scalars(select(AuditEvent).where(AuditEvent.action == "statement.resent"))
    [event] = list(events)
    assert event.actor == billing_staff.email
    assert Decimal(json.loads(event.after)["closing"]) == 0
    assert mail.deliver_due(delivery()).sent == 1
    [received] = mailbox.wait_for(1)
    assert received["To"] == "payables@changed.example"
    assert "nothing owed at the month's end" in received["Subject"]
    assert "Closing balance (January 31, 2027): 0.00 USD" in message_text(received)
    assert len(statement_emails()) == 2  # the first, and the one re-send


# --- the console ---------------------------------------------------------------------


def test_the_console_says_which_statements_changed_and_lists_every_one_to_send_again(
    app: Flask,
    signed_in: Callable[..., FlaskClient],
    billing_staff: User,
    licensing_staff: User,
    vendor: User,
) -> None:
    organization = vendor.organization
    sent = _january_sent(organization.id)
    _january_sent(factories.make_organization(db.session(), legal_name="Sorrel Point").id)
    _paid_late(sent)
    page_url = f"/console/organizations/{organization.id}"

    reader = signed_in(app.test_client(), licensing_staff)
    listed = text_of(reader.get(page_url))
    assert "1,200.00 USD now reads 0.00 USD : changed since sent" in listed
    changed = reader.get("/console/billing/statements-changed")
    assert changed.status_code == 200
    assert organization.legal_name in changed.text
    assert "Sorrel Point" not in changed.text
    assert "Send again" not in changed.text  # licensing staff read; billing sends

    clerk = signed_in(app.test_client(), billing_staff)
    answer = clerk.post(
        f"{page_url}/statements/{sent.id}/resend", data={"back": "changed"}, follow_redirects=True
    )
    assert answer.request.path == "/console/billing/statements-changed"
    assert f"is sent again to {organization.billing_email}" in answer.text
    assert "Every statement sent still reads as it was sent." in answer.text
    assert "now reads" not in text_of(clerk.get(page_url))
    vendors = signed_in(app.test_client(), vendor)
    assert vendors.get("/console/billing/statements-changed").status_code == 403


def test_the_changed_list_names_the_entries_that_changed_each_statement(
    app: Flask, signed_in: Callable[..., FlaskClient], billing_staff: User, vendor: User
) -> None:
    # Billing staff decide whether to send a statement again by why it changed: the
    # figures alone sent them to the month's statement to find the entry.
    sent = _january_sent(vendor.organization_id)
    untouched = _january_sent(factories.make_organization(db.session()).id)
    _paid_late(sent)

    clerk = signed_in(app.test_client(), billing_staff)
    listed = text_of(clerk.get("/console/billing/statements-changed"))

    assert "Entered since sent" in listed
    assert (
        "Payment received: 1,200.00 USD dated 2027-01-25, "
        "recorded 2027-02-10 09:00 (US Central time)" in listed
    )
    assert sent_statements.late_entries(db.session(), [untouched]) == {}


# --- the portal ----------------------------------------------------------------------


def test_the_portal_lists_every_statement_emailed_a_page_at_a_time_marking_those_changed(
    app: Flask, signed_in: Callable[..., FlaskClient], vendor: User
) -> None:
    organization_id = vendor.organization_id
    sent = _january_sent(organization_id)
    for month in months_back(date(2026, 12, 1), 29):
        sent_row(organization_id, month, sent_at=datetime(2024, 1, 1, tzinfo=UTC))
    _paid_late(sent)
    with time_machine.travel(LATE, tick=False):
        reader = signed_in(app.test_client(), vendor)
        first_answer = reader.get("/portal/statement")
        assert first_answer.status_code == 200, first_answer.status_code
        first = first_answer.text
        second = reader.get("/portal/statement?page=2").text
    emailed = first[first.index('id="statements-emailed"') :]
    assert "Statements emailed 1\u201324 of 30" in emailed
    assert "Changed since it was emailed:" in emailed
    assert "currency=USD" in emailed
    assert "2027-01" in emailed
    assert 'rel="next"' in emailed
    later = second[second.index('id="statements-emailed"') :]
    assert "Statements emailed 25\u201330 of 30" in later
    assert "2024-08" in later
    assert "2024-07" not in later
    assert "Changed since it was emailed:" not in later


# --- no query a row ------------------------------------------------------------------


def _organizations_with_late_payments(first: int, count: int) -> list[int]:
    """Organizations invoiced in December 2026, each with five statements sent in May
    2027 (December to April) that a wire recorded in June, received in December,
    changed."""
    ids = []
    for index in range(first, first + count):
        organization_id = organization(f"Ledger Test {index}").id
        issued = invoice(organization_id, "500.00", IN_DECEMBER)
        for month in months_back(date(2027, 4, 1), 5):
            sent_row(organization_id, month, closing="500.00", sent_at=SENT_IN_MAY)
        paid(issued, date(2026, 12, 20), recorded=datetime(2027, 6, 10, 15, 0, tzinfo=UTC))
        ids.append(organization_id)
    return ids


SENT_IN_MAY = datetime(2027, 5, 5, tzinfo=UTC)


def test_the_lists_send_as_many_queries_at_100_rows_as_at_10(
    app: Flask, signed_in: Callable[..., FlaskClient], billing_staff: User
) -> None:
    """The changed list (every organization's), the API's list and the console's
    organization page read the ledger once a currency, not once a row."""
    client = signed_in(app.test_client(), billing_staff)
    api = app.test_client()
    token = bearer(billing_staff)

    def counted(organization_id: int) -> tuple[int, int, int]:
        return (
            statements_for(app, client, "/console/billing/statements-changed"),
            statements_for(
                app, api, _url(organization_id), query_string={"per_page": 100}, headers=token
            ),
            statements_for(app, client, f"/console/organizations/{organization_id}"),
        )

    [one, _] = _organizations_with_late_payments(0, 2)
    for month in months_back(date(2026, 11, 1), 5):  # before its invoice: owing nothing
        sent_row(one, month, sent_at=SENT_IN_MAY)
    assert len(sent_statements.changed_since_sent(db.session()).readings) == 10
    at_ten = counted(one)  # one organization's 10 statements; 10 changed in all

    _organizations_with_late_payments(2, 18)
    for month in months_back(date(2026, 6, 1), 90):
        sent_row(one, month, sent_at=SENT_IN_MAY)
    assert len(sent_statements.changed_since_sent(db.session()).readings) == 100
    at_hundred = counted(one)  # its 100 statements; 100 changed in all
    assert at_hundred == at_ten


# --- work waiting (round 30) ---------------------------------------------------------

CHANGED_QUEUE = "Statements changed since they were emailed (send again?)"


def _queue_row(home: str) -> str:
    """The changed statements' row of the console home's *Work waiting* table."""
    at = home.index(CHANGED_QUEUE)
    return home[home.rindex("<tr", 0, at) : home.index("</tr>", at)]


def test_work_waiting_shows_billing_staff_the_statements_changed_since_sent(
    app: Flask,
    signed_in: Callable[..., FlaskClient],
    billing_staff: User,
    licensing_staff: User,
    vendor: User,
) -> None:
    """Billing staff met the changed statements only by opening *Invoices* and its link;
    the console's home, where every other queue of theirs is, did not name them."""
    sent = _january_sent(vendor.organization_id)
    _january_sent(factories.make_organization(db.session(), legal_name="Sorrel Point").id)
    _paid_late(sent)

    clerk = signed_in(app.test_client(), billing_staff)
    row = _queue_row(clerk.get("/console/").text)
    assert 'href="/console/billing/statements-changed"' in row
    assert '<td class="num">1</td>' in row
    assert "1 changed" in row
    assert "The oldest month changed: 2027-01" in row

    # Licensing officers read the list but send nothing: not work waiting on them.
    assert CHANGED_QUEUE not in signed_in(app.test_client(), licensing_staff).get("/console/").text

    services.resend_statement(sent.id, actor=billing_clerk())
    assert '<td class="num">0</td>' in _queue_row(clerk.get("/console/").text)
    # Round 31: the emptied list leads back to Work waiting, where the clerk came from.
    emptied = html.unescape(clerk.get("/console/billing/statements-changed").text)
    assert (
        'Every statement sent still reads as it was sent. Back to <a href="/console/">the '
        "console's Work waiting</a>." in emptied
    )


def test_the_changed_list_names_the_address_last_sent_to_beside_when_it_was(
    app: Flask, signed_in: Callable[..., FlaskClient], billing_staff: User, vendor: User
) -> None:
    """Round 31 walk: sent again to a new billing contact, then changed by a late
    entry, the row read "<when sent again> to <the first address>": a time of one send
    and the address of another, so the clerk could not tell whom the licensee's copy
    went to."""
    sent = _january_sent(vendor.organization_id)
    first_contact = sent.sent_to
    assert vendor.organization is not None
    vendor.organization.billing_email = "payables@changed.example"
    db.session().commit()
    services.resend_statement(sent.id, actor=billing_clerk(), now=datetime(2027, 2, 5, tzinfo=UTC))
    _paid_late(sent)

    page = signed_in(app.test_client(), billing_staff).get("/console/billing/statements-changed")

    [row] = [row for row in page.text.split("<tr>") if "Send again" in row and "2027-01" in row]
    assert "to payables@changed.example (sent again 1 time)" in row
    assert first_contact not in row


def test_work_waiting_sends_as_many_queries_at_100_changed_statements_as_at_10(
    app: Flask, signed_in: Callable[..., FlaskClient], billing_staff: User
) -> None:
    """The queue reads the statements with a late entry in one query and the ledger
    once a currency: the home page's statements do not grow with them."""
    client = signed_in(app.test_client(), billing_staff)
    _organizations_with_late_payments(0, 2)
    assert len(sent_statements.changed_since_sent(db.session()).readings) == 10
    at_ten = statements_for(app, client, "/console/")
    assert "<strong>10 changed</strong>" in client.get("/console/").text

    _organizations_with_late_payments(2, 18)
    assert len(sent_statements.changed_since_sent(db.session()).readings) == 100
    at_hundred = statements_for(app, client, "/console/")
    assert "<strong>100 changed</strong>" in client.get("/console/").text
    assert at_hundred == at_ten


def test_a_statement_is_sent_again_to_one_address_at_most_once_in_ten_minutes(
    client: FlaskClient, vendor: User, billing_staff: User
) -> None:
    """Round 30: a second press (or a retry without an Idempotency-Key) emailed the
    licensee the same statement again each time. A new billing contact gets it at once."""
    sent = _january_sent(vendor.organization_id)
    resend = f"{_url(vendor.organization_id)}/{sent.id}/resend"
    clerk = bearer(billing_staff)
    before = len(statement_emails())
    with time_machine.travel(LATE, tick=False):
        assert client.post(resend, headers=clerk).status_code == 200
        again = client.post(resend, headers=clerk)
        assert again.status_code == 409
        assert again.mimetype == "application/problem+json"
        # Round 32: the day and the zone, in ISO 8601 (it said "15:00 UTC", no day).
        assert again.get_json()["detail"].endswith(
            "at 2027-02-10T15:00:00+00:00; it can be sent to that address again from "
            "2027-02-10T15:10:00+00:00. Nothing was sent now."
        )
        assert len(statement_emails()) == before + 1
        vendor.organization.billing_email = "payables@changed.example"
        db.session().commit()
        assert client.post(resend, headers=clerk).status_code == 200
    with time_machine.travel(LATE.replace(minute=10), tick=False):
        assert client.post(resend, headers=clerk).status_code == 200
    assert len(statement_emails()) == before + 3
    db.session().refresh(sent)
    assert sent.resends == 3


def test_a_second_press_of_send_again_on_the_page_says_why_nothing_was_sent(
    app: Flask, vendor: User, billing_staff: User, signed_in: Callable[..., FlaskClient]
) -> None:
    sent = _january_sent(vendor.organization_id)
    clerk = signed_in(app.test_client(), billing_staff)
    url = f"/console/organizations/{vendor.organization_id}/statements/{sent.id}/resend"
    assert clerk.post(url).status_code == 302
    before = len(statement_emails())

    again = clerk.post(url, follow_redirects=True)

    # Round 31: back on the organization's page, told in the office's time (it was a
    # bare 409 page giving UTC, where every console page gives the office's time).
    assert again.status_code == 200
    assert again.request.path == f"/console/organizations/{vendor.organization_id}"
    db.session().refresh(sent)
    assert sent.resent_at is not None
    assert (
        f"Not sent again: the January 2027 statement (USD) went to "
        f"{vendor.organization.billing_email} at {calendar.moment_text(sent.resent_at)}, less "
        "than 10 minutes ago; it can go to that address again from "
        f"{calendar.moment_text(sent.resent_at + timedelta(minutes=10))}. Nothing was sent now."
    ) in html.unescape(again.text)
    assert len(statement_emails()) == before
    # From the changed list, back to the changed list.
    from_list = clerk.post(url, data={"back": "changed"})
    assert from_list.headers["Location"].endswith("/console/billing/statements-changed")
