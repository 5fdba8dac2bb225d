"""One overdue reminder an organization a run, not one an invoice (round 50): an
organization with 50 overdue invoices got 50 reminder emails a week, and the monthly
late-fee run emailed each late-fee invoice. Sent through the real SMTP server on
loopback: each run one email naming the first `overdue.NAMED` due and the rest in a
line, every invoice's reminder recorded and audited, the run's statements as many at
many invoices as at 1.

Round 65: the tests of "the first named, the rest in a line" name 3 (`few_named`),
not 20, with 2 more invoices than named (`MANY`), not 50: what they prove is the line
after the named, which 5 invoices prove as 50 did (each invoice and its late fee,
numbered, PDF drawn and audited, was a third of a second of the set-up)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, select

from licensing import db
from licensing.audit.models import AuditEvent
from licensing.billing import links, services
from licensing.billing.models import Invoice
from licensing.billing.services import overdue
from licensing.calendar import day_text
from licensing.mail import services as mail
from tests.support.billing import paid_offline
from tests.support.servers import SMTPServer, message_text
from tests.support.settings import delivery, standing_days
from tests.support.statements import sent_on

# The invoices are due 2027-02-14: on 2027-03-01 each is 15 days overdue, not yet a
# month (no late fee) nor beyond the 30-day standing threshold.
OVERDUE = datetime(2027, 3, 1, 18, 0, tzinfo=UTC)
# On 2027-03-17 each is 31 days overdue: its first month's late fee.
A_MONTH = datetime(2027, 3, 17, 18, 0, tzinfo=UTC)


@pytest.fixture
def config_changes(smtp_server: SMTPServer) -> dict[str, Any]:
    return {"smtp_url": smtp_server.url}


# How many invoices a reminder names in these tests (`few_named`), and how many the
# "many" tests owe: two more than named, so the email has its line of the rest.
FEW_NAMED = 3
MANY = FEW_NAMED + 2


@pytest.fixture
def few_named(monkeypatch: pytest.MonkeyPatch) -> None:
    """A reminder and the late fees' email name the first 3 due, not 20."""
    monkeypatch.setattr(overdue, "NAMED", FEW_NAMED)


def _run(now: datetime) -> overdue.OverdueReport:
    return services.process_overdue(standing_days=standing_days(), now=now)


def _delivered(mailbox: SMTPServer, address: str) -> list[Any]:
    mail.deliver_due(delivery())
    return mailbox.to(address)


def _owing(
    vendor: Any, invoice_for: Callable[..., Invoice], mailbox: SMTPServer, count: int
) -> tuple[list[Invoice], str]:
    """`count` invoices of 1,000.00 USD due 2027-02-14, their issuing emails sent and
    cleared from the mailbox; and the billing contact's address."""
    invoices = [invoice_for(vendor, ("1000.00",)) for _ in range(count)]
    mail.deliver_due(delivery())
    mailbox.clear()
    return invoices, vendor.organization.billing_email


def _reminder_events() -> list[AuditEvent]:
    return list(
        db.session().scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "invoice.reminder_sent")
            .order_by(AuditEvent.seq)
        )
    )


def test_one_overdue_invoice_is_reminded_in_one_email_naming_it_once_a_week(
    vendor: Any, invoice_for: Callable[..., Invoice], mailbox: SMTPServer
) -> None:
    [invoice], contact = _owing(vendor, invoice_for, mailbox, 1)

    report = _run(OVERDUE)
    assert (report.overdue, report.reminders, report.reminder_emails) == (1, 1, 1)
    [email] = _delivered(mailbox, contact)
    assert email["Subject"] == f"Reminder: invoice {invoice.number} is 15 days overdue"
    text = message_text(email)
    # The due day in words, as every email says a day (round 56).
    assert (
        f"Invoice {invoice.number}, due February 14, 2027, 15 days overdue: 1,000.00 USD due."
        in text
    )
    assert links.invoice_url(invoice) in text
    assert "more overdue invoice" not in text
    assert "/portal/invoices?overdue=1" in text
    assert "a late fee of 1.5% per month" in text
    [event] = _reminder_events()
    # Round 57: with whom it went to, the billing contact's name and address then.
    organization = vendor.organization
    sent_to = f"{organization.billing_contact_name} <{contact}>"
    assert (event.entity_id, json.loads(event.after or "{}")) == (
        str(invoice.id),
        {"reminder_count": 1, "sent_to": sent_to},
    )
    db.session().refresh(invoice)
    assert (invoice.reminder_count, invoice.last_reminder_at) == (1, OVERDUE)

    # Reminded this week: not again until seven days have passed.
    mailbox.clear()
    assert _run(OVERDUE + timedelta(days=6)).reminder_emails == 0
    assert _delivered(mailbox, contact) == []
    assert _run(OVERDUE + timedelta(days=7)).reminder_emails == 1
    assert len(_delivered(mailbox, contact)) == 1
    assert len(_reminder_events()) == 2


@pytest.mark.usefixtures("few_named")
def test_more_overdue_invoices_than_named_are_reminded_in_one_email_each_run_each_audited(
    vendor: Any, invoice_for: Callable[..., Invoice], mailbox: SMTPServer
) -> None:
    """Round 65: 5 invoices, 3 named (`few_named`); 50 and 20 before."""
    invoices, contact = _owing(vendor, invoice_for, mailbox, MANY)

    for week, now in enumerate((OVERDUE, OVERDUE + timedelta(days=7)), start=1):
        mailbox.clear()
        report = _run(now)
        assert (report.overdue, report.reminders, report.reminder_emails) == (MANY, MANY, 1)
        [email] = _delivered(mailbox, contact)
        days = (now.date() - invoices[0].due_date).days  # type: ignore[operator]
        assert email["Subject"] == f"Reminder: {MANY} invoices are overdue, the oldest {days} days"
        text = message_text(email)
        assert f"{MANY} invoices of" in text
        # The first 3 due named, each with its link; the other 2 in a line.
        for invoice in invoices[:FEW_NAMED]:
            assert f"Invoice {invoice.number}, due" in text
            assert links.invoice_url(invoice) in text
        for invoice in invoices[FEW_NAMED:]:
            assert invoice.number not in text
        assert "And 2 more overdue invoices, due later than these, 2,000.00 USD in all." in text
        assert "/portal/invoices?overdue=1" in text
        sent_to = f"{vendor.organization.billing_contact_name} <{contact}>"
        events = [
            e
            for e in _reminder_events()
            if json.loads(e.after or "{}") == {"reminder_count": week, "sent_to": sent_to}
        ]
        assert sorted(int(e.entity_id) for e in events) == sorted(i.id for i in invoices)
    # A day later nobody is reminded again.
    mailbox.clear()
    assert _run(OVERDUE + timedelta(days=8)).reminders == 0
    assert _delivered(mailbox, contact) == []


TRANSACTION_CONTROL = ("SAVEPOINT", "RELEASE", "ROLLBACK", "BEGIN", "COMMIT")


def _statements(now: datetime) -> tuple[int, int]:
    with sent_on(db.session().connection().engine) as statements:
        report = _run(now)
    # SQL, not the test's savepoints around each transaction.
    sql = [s for s in statements if not s.lstrip().upper().startswith(TRANSACTION_CONTROL)]
    return len(sql), report.reminders


@pytest.mark.usefixtures("few_named")
def test_a_reminder_run_sends_as_many_statements_for_many_invoices_as_for_1(
    vendor: Any, other_vendor: Any, invoice_for: Callable[..., Invoice]
) -> None:
    """Round 65: 5 invoices (3 named, `few_named`) where 50 were (20 named): a
    statement an invoice, named or in the line, shows at 5 as at 50."""
    invoice_for(vendor, ("1000.00",))
    one, reminded = _statements(OVERDUE)
    assert reminded == 1
    for _ in range(MANY):
        invoice_for(other_vendor, ("1000.00",))
    # A day later the first organization's invoice is not reminded again (its claim and
    # its invoices' claim, which finds it reminded this week: two statements; round 58:
    # no turn on the audit log before the claim, the log's head is locked at commit by
    # a transaction with events); the other's 5 are, in the statements the one took.
    many, reminded = _statements(OVERDUE + timedelta(days=1))
    assert reminded == MANY
    assert many - one == 2, (one, many)


def _late_fees() -> list[Invoice]:
    return list(
        db.session().scalars(
            select(Invoice).where(Invoice.source_type == "late_fee").order_by(Invoice.id)
        )
    )


def test_one_late_fee_is_emailed_as_any_invoice_with_its_pdf(
    vendor: Any, invoice_for: Callable[..., Invoice], mailbox: SMTPServer
) -> None:
    [invoice], contact = _owing(vendor, invoice_for, mailbox, 1)

    report = _run(A_MONTH)
    assert (len(report.late_fee_invoices), report.late_fee_emails) == (1, 1)
    [fee] = _late_fees()
    received = {m["Subject"]: m for m in _delivered(mailbox, contact)}
    issued = received[f"Invoice {fee.number}: 15.00 USD due April 16, 2027"]
    assert [a.get_filename() for a in issued.iter_attachments()] == [f"{fee.number}.pdf"]
    assert f"Late fee {invoice.number}" in message_text(issued)
    assert f"Reminder: invoice {invoice.number} is 31 days overdue" in received


@pytest.mark.usefixtures("few_named")
def test_more_late_fees_than_named_are_named_in_one_email_each_invoice_still_issued(
    vendor: Any, invoice_for: Callable[..., Invoice], mailbox: SMTPServer
) -> None:
    """Round 65: 5 late fees, 3 named (`few_named`); 50 and 20 before."""
    invoices, contact = _owing(vendor, invoice_for, mailbox, MANY)

    report = _run(A_MONTH)
    # One late-fee invoice an overdue invoice, as the terms say; one email for them.
    assert (len(report.late_fee_invoices), report.late_fee_emails) == (MANY, 1)
    fees = _late_fees()
    assert [fee.parent_invoice_id for fee in fees] == [invoice.id for invoice in invoices]
    received = _delivered(mailbox, contact)
    subjects = [m["Subject"] for m in received]
    assert [s for s in subjects if s.startswith("Invoice ")] == []
    [email] = [m for m in received if "late-fee invoices issued" in m["Subject"]]
    assert email["Subject"] == (
        f"{MANY} late-fee invoices issued to {vendor.organization.legal_name}"
    )
    text = message_text(email)
    for fee in fees[:FEW_NAMED]:
        assert f"Invoice {fee.number}, the late fee on invoice {fee.source_reference}:" in text
        assert links.invoice_url(fee) in text
    for fee in fees[FEW_NAMED:]:
        assert fee.number not in text
    assert "And 2 more late-fee invoices, 30.00 USD in all." in text
    assert len([s for s in subjects if s.startswith(f"Reminder: {MANY} invoices")]) == 1
    # Each late-fee invoice is issued as any: numbered, its PDF kept for its pages.
    page = fees[-1]
    assert (page.state, page.total) == ("open", 15)


# Round 51: invoices due on a Monday, a Wednesday and a Friday (30 days after these).
ACTIVATED_ON = {
    "monday": datetime(2027, 1, 16, 15, 0, tzinfo=UTC),  # due 2027-02-15
    "wednesday": datetime(2027, 1, 18, 15, 0, tzinfo=UTC),  # due 2027-02-17
    "friday": datetime(2027, 1, 20, 15, 0, tzinfo=UTC),  # due 2027-02-19
}


def test_an_organization_is_reminded_once_a_week_naming_every_invoice_whatever_day_each_fell_due(
    vendor: Any, invoice_for: Callable[..., Invoice], mailbox: SMTPServer
) -> None:
    """Round 50 reminded each invoice weekly, one email a run: invoices due on a
    Monday, a Wednesday and a Friday brought three emails every week. Now at most one
    an organization every 7 days, naming every overdue invoice, so each is still
    reminded weekly, a newly overdue one within the week."""
    monday, wednesday, friday = (
        invoice_for(vendor, ("1000.00",), at=at) for at in ACTIVATED_ON.values()
    )
    assert [i.due_date.isoformat() for i in (monday, wednesday, friday)] == [  # type: ignore[union-attr]
        "2027-02-15",
        "2027-02-17",
        "2027-02-19",
    ]
    mail.deliver_due(delivery())
    mailbox.clear()
    contact = vendor.organization.billing_email
    sent: dict[str, str] = {}
    for day in range(21):  # the daily run, 2027-02-16 to 2027-03-08
        now = datetime(2027, 2, 16, 18, 0, tzinfo=UTC) + timedelta(days=day)
        _run(now)
        for email in _delivered(mailbox, contact):
            sent[now.date().isoformat()] = message_text(email)
            assert email["Subject"].startswith("Reminder:")
        mailbox.clear()
    assert list(sent) == ["2027-02-16", "2027-02-23", "2027-03-02"]
    # The first names the one overdue then; each later one all three.
    assert monday.number in sent["2027-02-16"]
    assert wednesday.number not in sent["2027-02-16"]
    for day in ("2027-02-23", "2027-03-02"):
        assert "3 invoices of" in sent[day]
        for invoice, days in ((monday, 8), (wednesday, 6), (friday, 4)):
            late = days + (7 if day == "2027-03-02" else 0)
            assert (
                f"Invoice {invoice.number}, due {day_text(invoice.due_date)}, {late} days overdue"
                in (sent[day])
            )
    # Each reminder recorded and audited on each invoice it named.
    reminded = {
        int(e.entity_id): json.loads(e.after or "{}")["reminder_count"] for e in _reminder_events()
    }
    assert reminded == {monday.id: 3, wednesday.id: 2, friday.id: 2}
    for invoice, count in ((monday, 3), (wednesday, 2), (friday, 2)):
        db.session().refresh(invoice)
        assert (invoice.reminder_count, invoice.last_reminder_at) == (
            count,
            datetime(2027, 3, 2, 18, 0, tzinfo=UTC),
        )


def test_an_invoice_paid_since_its_reminder_still_counts_as_the_organizations_reminder_this_week(
    vendor: Any, invoice_for: Callable[..., Invoice], mailbox: SMTPServer
) -> None:
    """The organization's last reminder is read from all its invoices: one reminded on
    Tuesday and paid on Wednesday does not let Thursday's newly overdue one send a
    second email that week."""
    monday = invoice_for(vendor, ("1000.00",), at=ACTIVATED_ON["monday"])
    friday = invoice_for(vendor, ("1000.00",), at=ACTIVATED_ON["friday"])
    mail.deliver_due(delivery())
    mailbox.clear()
    contact = vendor.organization.billing_email
    tuesday = datetime(2027, 2, 16, 18, 0, tzinfo=UTC)
    assert _run(tuesday).reminder_emails == 1
    wednesday = tuesday + timedelta(days=1)
    paid_offline(monday.id, "1000.00", "WIRE-51", received_on=wednesday.date(), now=wednesday)
    db.session().refresh(monday)
    assert monday.state == "paid"
    _delivered(mailbox, contact)  # the reminder, and the payment's receipt
    mailbox.clear()
    # Friday's is overdue from Saturday 2027-02-20: reminded with the week's turn.
    for day in range(1, 7):
        assert _run(tuesday + timedelta(days=day)).reminder_emails == 0
    assert _delivered(mailbox, contact) == []
    report = _run(tuesday + timedelta(days=7))
    assert (report.overdue, report.reminders, report.reminder_emails) == (1, 1, 1)
    [email] = _delivered(mailbox, contact)
    assert email["Subject"] == f"Reminder: invoice {friday.number} is 4 days overdue"


@pytest.mark.usefixtures("few_named")
def test_a_run_loads_only_the_invoices_its_email_names_and_none_on_a_day_with_nothing_due(
    vendor: Any, invoice_for: Callable[..., Invoice]
) -> None:
    """Round 50's claim loaded every overdue invoice of the organization each day (an
    organization with 5,000 overdue loaded 5,000 to find nothing due most days). Now
    the reminder is one UPDATE returning ids, its email reads the `NAMED` due first
    and sums the rest in SQL, and only invoices with a late fee due are loaded.
    Round 65: `NAMED` is 3 here (`few_named`), 13 invoices where 30 were."""
    invoices = [invoice_for(vendor, ("1000.00",)) for _ in range(overdue.NAMED + 10)]
    loaded: list[int] = []

    def count(invoice: Invoice, _context: Any) -> None:
        loaded.append(invoice.id)

    db.session().expunge_all()
    event.listen(Invoice, "load", count)
    try:
        report = _run(OVERDUE)
        assert (report.overdue, report.reminders) == (len(invoices), len(invoices))
        assert sorted(loaded) == sorted(i.id for i in invoices[: overdue.NAMED])
        loaded.clear()
        # Reminded this week, no late fee due: nothing to load.
        assert _run(OVERDUE + timedelta(days=1)).overdue == len(invoices)
        assert loaded == []
        # A month overdue: the late fees' invoices are loaded, each to be charged.
        assert len(_run(A_MONTH).late_fee_invoices) == len(invoices)
    finally:
        event.remove(Invoice, "load", count)
    assert set(loaded) >= {i.id for i in invoices}
