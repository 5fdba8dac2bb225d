"""The monthly statement run (`licensing statements send`): after a month's end each
organization that owes or moved in it is emailed its statement of that month, one a
currency, PDF attached; exactly once, however often and on however many hosts it
runs; staff see what was sent on the organization's page and may send one again."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from licensing import db
from licensing.accounts import services as accounts
from licensing.accounts.models import User
from licensing.actors import Actor
from licensing.audit import services as audit
from licensing.audit.models import AuditEvent
from licensing.billing import services
from licensing.billing.models import CreditNote, SentStatement
from licensing.billing.services import monthly_statements
from licensing.errors import InvalidInput
from licensing.filenames import slug
from licensing.mail.models import OutboxMessage
from tests.support import factories
from tests.support.billing import credited, paid_offline
from tests.support.documents import pdf_text
from tests.support.factories import billing_clerk
from tests.support.hosts import run_as_hosts
from tests.support.monthly_statements import (
    IN_DECEMBER,
    IN_JANUARY,
    JANUARY,
    RUN,
    invoice,
    organization,
    paid,
    statement_emails,
)
from tests.support.pages import text_of


def test_each_organization_owing_or_moved_in_the_month_is_emailed_its_statement_once_a_currency(
    app: Flask,
) -> None:
    owing = organization("Quillfeather Analytics")
    overdue = invoice(owing.id, "400.00", IN_DECEMBER)  # due 2026-12-31: overdue now
    invoice(owing.id, "1200.00", IN_JANUARY)
    invoice(owing.id, "90.00", IN_JANUARY, currency="EUR")
    settled_in_january = organization("Brindle Harbor Labs")
    paid(invoice(settled_in_january.id, "300.00", IN_DECEMBER), date(2027, 1, 10))
    quiet = organization("Sorrel Point Systems")  # paid in December: nothing in January
    paid(invoice(quiet.id, "250.00", IN_DECEMBER), date(2026, 12, 20))
    closed = organization("Larkspur Devices")
    paid(invoice(closed.id, "80.00", IN_JANUARY), date(2027, 1, 20))
    accounts.change_standing(
        db.session(), closed, "close", reason="ceased trading", notify=False, actor=Actor.SYSTEM
    )
    db.session().commit()

    run = services.send_monthly_statements(JANUARY, now=RUN)

    messages = statement_emails()
    assert [(m.to, m.subject) for m in messages] == [
        (
            [owing.billing_email],
            f"Statement of account of {owing.legal_name}, January 2027 (EUR): 90.00 EUR owed "
            "at the month's end",
        ),
        (
            [owing.billing_email],
            f"Statement of account of {owing.legal_name}, January 2027 (USD): 1,600.00 USD "
            "owed at the month's end",
        ),
        (
            [settled_in_january.billing_email],
            f"Statement of account of {settled_in_january.legal_name}, January 2027 (USD): "
            "nothing owed at the month's end",
        ),
    ]
    assert len(run.sent) == 3
    assert run.nothing_to_send == 2  # the quiet one, and the closed one owing nothing
    usd = messages[1]
    assert "Opening balance (January 1, 2027): 400.00 USD" in usd.body_text
    assert "Closing balance (January 31, 2027): 1,600.00 USD" in usd.body_text
    assert f"Invoice {overdue.number}, due December 31, 2026: 400.00 USD" in usd.body_text
    assert "How to pay" in usd.body_text
    assert "/portal/statement?from=2027-01-01&to=2027-01-31&currency=USD" in usd.body_text
    [attachment] = usd.attachments
    assert attachment.filename == f"statement-{slug(owing.legal_name)}-USD-2027-01.pdf"
    assert attachment.content_type == "application/pdf"
    text = pdf_text(attachment.content)
    assert "Opening balance on January 1, 2027" in text
    assert "1,600.00 USD" in text
    recorded = db.session().scalars(select(SentStatement).order_by(SentStatement.id)).all()
    assert [(s.organization_id, s.currency, s.month, s.closing) for s in recorded] == [
        (owing.id, "EUR", JANUARY, Decimal("90.00")),
        (owing.id, "USD", JANUARY, Decimal("1600.00")),
        (settled_in_january.id, "USD", JANUARY, Decimal("0.00")),
    ]
    audited = db.session().scalars(
        select(AuditEvent).where(AuditEvent.action == "statement.sent").order_by(AuditEvent.id)
    )
    assert [event.entity_id for event in audited] == [str(s.id) for s in recorded]


def test_running_it_again_sends_nothing_twice(app: Flask) -> None:
    owing = organization("Quillfeather Analytics")
    invoice(owing.id, "1200.00", IN_JANUARY)
    first = services.send_monthly_statements(JANUARY, now=RUN)
    again = services.send_monthly_statements(JANUARY, now=RUN.replace(day=2))
    assert len(first.sent) == 1
    assert again.sent == []
    # Another host that read the statement as due before this one's commit meets the
    # unique constraint and moves on.
    late = services.send_monthly_statements(JANUARY, now=RUN, due=[(owing.id, "USD")])
    assert (late.sent, late.already_sent) == ([], 1)
    assert len(statement_emails()) == 1


def test_a_run_stopped_part_way_is_finished_by_the_next(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = organization("Quillfeather Analytics")
    second = organization("Brindle Harbor Labs")
    invoice(first.id, "1200.00", IN_JANUARY)
    invoice(second.id, "300.00", IN_JANUARY)
    render = monthly_statements.documents.render_statement_pdf
    calls: list[int] = []

    def dies_on_the_second(statement: object, **kwargs: object) -> bytes:
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("the host went down")
        return render(statement, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(monthly_statements.documents, "render_statement_pdf", dies_on_the_second)
    with pytest.raises(RuntimeError):
        services.send_monthly_statements(JANUARY, now=RUN)
    assert [m.to for m in statement_emails()] == [[first.billing_email]]
    monkeypatch.setattr(monthly_statements.documents, "render_statement_pdf", render)
    rest = services.send_monthly_statements(JANUARY, now=RUN)
    assert len(rest.sent) == 1
    assert [m.to for m in statement_emails()] == [[first.billing_email], [second.billing_email]]


def test_two_hosts_running_it_at_once_send_each_statement_once(committed_app: Flask) -> None:
    with committed_app.app_context():
        organizations = [organization(f"Host Test Labs {n}").id for n in range(4)]
        for organization_id in organizations:
            invoice(organization_id, "500.00", IN_JANUARY)
    runs = run_as_hosts(
        committed_app,
        lambda: services.send_monthly_statements(JANUARY, now=RUN),
    )
    assert sum(len(run.sent) for run in runs) == len(organizations)
    with committed_app.app_context():
        assert len(statement_emails()) == len(organizations)
        assert db.session().scalar(select(func.count()).select_from(SentStatement)) == len(
            organizations
        )


def test_a_month_not_over_is_refused(app: Flask) -> None:
    with pytest.raises(InvalidInput) as refused:
        services.send_monthly_statements(date(2027, 2, 1), now=RUN)
    assert refused.value.errors == {
        "month": ["2027-02 is not over yet: its statements go after its last day."]
    }
    assert services.month_just_ended(RUN) == JANUARY
    # Just after midnight UTC on 1 February it is still January at the office.
    assert services.month_just_ended(datetime(2027, 2, 1, 3, 0, tzinfo=UTC)) == date(2026, 12, 1)


def test_the_command_sends_the_month_just_ended_with_a_summary(app: Flask) -> None:
    owing = organization("Quillfeather Analytics")
    invoice(owing.id, "1200.00", IN_JANUARY)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["statements", "send", "--now", RUN.isoformat()])
    assert result.exit_code == 0, result.output
    assert "sent: Quillfeather Analytics (USD): 1,200.00 USD to " in result.output
    assert "2027-01: 1 statement(s) sent" in result.output
    assert "Statements of 2027-01" in result.stderr  # the progress, beside the output
    again = runner.invoke(
        args=["statements", "send", "--month", "2027-01", "--now", RUN.isoformat()]
    )
    assert "2027-01: 0 statement(s) sent" in again.output
    early = runner.invoke(
        args=["statements", "send", "--month", "2027-02", "--now", RUN.isoformat()]
    )
    assert early.exit_code == 2
    assert "2027-02 is not over yet" in early.output
    garbled = runner.invoke(args=["statements", "send", "--month", "January"])
    assert garbled.exit_code == 2
    assert "use YYYY-MM" in garbled.output


def test_the_organization_page_lists_the_statements_sent_and_billing_staff_send_one_again(
    app: Flask,
    signed_in: Callable[..., FlaskClient],
    billing_staff: User,
    licensing_staff: User,
    admin: User,
    vendor: User,
) -> None:
    organization = vendor.organization
    invoice(organization.id, "1200.00", IN_JANUARY)
    services.send_monthly_statements(JANUARY, now=RUN)
    sent = db.session().scalars(select(SentStatement)).one()
    page_url = f"/console/organizations/{organization.id}"
    resend_url = f"{page_url}/statements/{sent.id}/resend"

    reader = signed_in(app.test_client(), licensing_staff)
    listed = reader.get(page_url).text
    assert 'id="statements-sent"' in listed
    assert "2027-01" in listed
    assert "1,200.00" in listed
    assert resend_url not in listed  # licensing staff read statements, billing sends them
    assert reader.post(resend_url).status_code == 403

    clerk = signed_in(app.test_client(), billing_staff)
    assert resend_url in clerk.get(page_url).text
    answer = clerk.post(resend_url, follow_redirects=True)
    assert answer.status_code == 200
    assert (
        f"The January 2027 statement (USD) of {organization.legal_name} is sent again to "
        f"{organization.billing_email}"
    ) in answer.text
    assert len(statement_emails()) == 2
    db.session().refresh(sent)
    assert sent.resends == 1
    resent = (
        db.session()
        .scalars(select(AuditEvent).where(AuditEvent.action == "statement.resent"))
        .one()
    )
    assert resent.actor == billing_staff.email
    auditor = signed_in(app.test_client(), admin)
    audit_log = auditor.get("/console/audit", query_string={"entity_type": "statement"}).text
    assert f"Statement of account 2027-01 (USD) of {organization.legal_name}" in audit_log
    assert f"{page_url}#statements-sent" in audit_log
    assert signed_in(app.test_client(), vendor).post(resend_url).status_code == 403
    assert clerk.post(f"{page_url}/statements/999999/resend").status_code == 404


def test_an_address_the_outbox_refuses_holds_back_that_statement_alone(app: Flask) -> None:
    unreachable = organization("Quillfeather Analytics")
    reachable = organization("Brindle Harbor Labs")
    invoice(unreachable.id, "1200.00", IN_JANUARY)
    invoice(reachable.id, "300.00", IN_JANUARY)
    # An address stored before the profile checked it (the form refuses it now).
    unreachable.billing_email = "accounts at quillfeather"
    db.session().commit()
    run = services.send_monthly_statements(JANUARY, now=RUN)
    assert [m.to for m in statement_emails()] == [[reachable.billing_email]]
    assert len(run.not_sent) == 1
    assert run.not_sent[0].startswith("Quillfeather Analytics (USD): 'accounts at quillfeather'")
    assert "1 not sent" in run.summary()
    assert db.session().scalar(select(func.count()).select_from(SentStatement)) == 1


def test_the_portal_lists_the_statements_emailed_each_opening_its_month(
    app: Flask, signed_in: Callable[..., FlaskClient], vendor: User, other_vendor: User
) -> None:
    """Round 27: a licensee's accountant finds the statement they were sent on the
    portal's statement page: month, currency, closing balance, when and to whom, each
    linked to that month's statement; another organization's are not listed."""
    organization = vendor.organization
    invoice(organization.id, "1200.00", IN_JANUARY)
    invoice(organization.id, "90.00", IN_JANUARY, currency="EUR")
    invoice(other_vendor.organization.id, "777.00", IN_JANUARY)
    services.send_monthly_statements(JANUARY, now=RUN)
    with time_machine.travel(RUN, tick=False):  # January is over
        reader = signed_in(app.test_client(), vendor)
        page = reader.get("/portal/statement").text
        month = reader.get("/portal/statement?from=2027-01-01&to=2027-01-31&currency=USD")
    assert 'id="statements-emailed"' in page
    emailed = page[page.index('id="statements-emailed"') :]
    link = 'href="/portal/statement?from=2027-01-01&amp;to=2027-01-31&amp;currency=USD"'
    assert link in emailed
    assert "currency=EUR" in emailed
    assert "1,200.00" in emailed
    assert "90.00" in emailed
    assert f"to {organization.billing_email}" in emailed
    assert "777.00" not in emailed

    assert month.status_code == 200
    assert "Closing balance on 2027-01-31" in month.text

    nothing_yet = signed_in(app.test_client(), factories.make_vendor(db.session()))
    assert "None emailed yet" in nothing_yet.get("/portal/statement").text


def test_the_audit_log_gives_a_statements_balances_in_the_currencys_minor_units(
    app: Flask,
) -> None:
    """Round 28: the audit log read "closing: 750.0000" and an opening of "0": money
    leaves with the currency's minor-unit digits, in the audit log as anywhere."""
    owing = organization("Quillfeather Analytics")
    invoice(owing.id, "1200.00", IN_DECEMBER)
    invoice(owing.id, "90.00", IN_JANUARY, currency="EUR")
    services.send_monthly_statements(JANUARY, now=RUN)
    eur = db.session().scalars(select(SentStatement).where(SentStatement.currency == "EUR")).one()
    services.resend_statement(eur.id, actor=billing_clerk(), now=RUN.replace(day=3))
    events = db.session().scalars(
        select(AuditEvent)
        .where(AuditEvent.action.in_(["statement.sent", "statement.resent"]))
        .order_by(AuditEvent.id)
    )
    assert [
        (event.action, event.after_data["opening"], event.after_data["closing"]) for event in events
    ] == [
        ("statement.sent", "0.00", "90.00"),
        ("statement.sent", "1200.00", "1200.00"),
        ("statement.resent", "0.00", "90.00"),
    ]


def _sent_again_on_3_february(
    app: Flask, signed_in: Callable[..., FlaskClient], billing_staff: User, vendor: User
) -> tuple[str, str]:
    """Billing staff send the vendor's one statement again on 3 February: the
    console's organization page and the portal's statement page then, as text."""
    sent = db.session().scalars(select(SentStatement)).one()
    with time_machine.travel(datetime(2027, 2, 3, 17, 0, tzinfo=UTC), tick=False):
        clerk = signed_in(app.test_client(), billing_staff)
        page_url = f"/console/organizations/{sent.organization_id}"
        assert clerk.post(f"{page_url}/statements/{sent.id}/resend").status_code == 302
        console = text_of(clerk.get(page_url))
        portal = text_of(signed_in(app.test_client(), vendor).get("/portal/statement"))
    return console, portal


def test_a_statement_sent_again_is_listed_with_the_balance_and_address_it_was_sent_again_with(
    app: Flask,
    signed_in: Callable[..., FlaskClient],
    billing_staff: User,
    vendor: User,
) -> None:
    """Round 28: after a backdated payment billing staff sent January's statement
    again (800.00 owed, not 1,200.00), to the billing contact the licensee had changed
    to meanwhile; both lists still said only "1,200.00 USD ... to" the first address,
    which is not what the accountant last received."""
    licensee = vendor.organization
    billed = invoice(licensee.id, "1200.00", IN_JANUARY)
    services.send_monthly_statements(JANUARY, now=RUN)
    first_address = licensee.billing_email
    paid_offline(
        billed.id, "400.00", "W-late", received_on=date(2027, 1, 29), now=RUN.replace(day=3)
    )
    licensee.billing_email = "accounts.payable@quillfeather.example"
    db.session().commit()
    console, portal = _sent_again_on_3_february(app, signed_in, billing_staff, vendor)
    # The balance column gives what was last emailed; the first send is named beside it.
    first = f"800.00 USD February 1, 2027 at 8:00 AM (US Central time) to {first_address}"
    again = (
        "sent again 1 time, last February 3, 2027 at 11:00 AM (US Central time)"
        " to accounts.payable@quillfeather.example with 800.00 USD owed at the month's end"
    )
    assert f"{first}; {again}" in console
    assert f"{first}; {again}" in portal


def test_sending_one_again_to_an_address_the_outbox_refuses_says_what_to_correct_and_stores_nothing(
    app: Flask, signed_in: Callable[..., FlaskClient], billing_staff: User, vendor: User
) -> None:
    """Round 28: billing staff pressing *Send again* for an organization whose billing
    contact's address was stored before the profile checked it met a bare "Invalid
    input: 'accounts at quillfeather' is not an email address" page, with nothing
    saying whose address it was or what to do."""
    licensee = vendor.organization
    invoice(licensee.id, "1200.00", IN_JANUARY)
    services.send_monthly_statements(JANUARY, now=RUN)
    licensee.billing_email = "accounts at quillfeather"
    db.session().commit()
    sent = db.session().scalars(select(SentStatement)).one()
    clerk = signed_in(app.test_client(), billing_staff)

    refused = clerk.post(f"/console/organizations/{licensee.id}/statements/{sent.id}/resend")

    assert refused.status_code == 422
    assert (
        f"Not sent again: {licensee.legal_name}'s billing contact address, "
        "'accounts at quillfeather', is refused ("
    ) in text_of(refused)
    assert "Correct the billing contact on the organization's page, then send it again." in (
        text_of(refused)
    )
    db.session().refresh(sent)
    assert sent.resends == 0
    assert len(statement_emails()) == 1


def test_a_statement_of_a_month_paid_in_full_says_nothing_is_owed_rather_than_a_zero(
    app: Flask,
) -> None:
    """Round 29: an organization that paid everything in the month was told "0.00 USD
    owed at the month's end"; people say "nothing owed"."""
    settled = organization("Brindle Harbor Labs")
    paid(invoice(settled.id, "300.00", IN_DECEMBER), date(2027, 1, 10))

    services.send_monthly_statements(JANUARY, now=RUN)

    (message,) = statement_emails()
    assert message.subject == (
        "Statement of account of Brindle Harbor Labs, January 2027 (USD): nothing owed at "
        "the month's end"
    )
    assert "Nothing was owed at the month's end." in message.body_text
    assert "How to pay" not in message.body_text


def _january_with_a_paid_invoice_credited(also_owed: str | None = None) -> OutboxMessage:
    """January's statement email of an organization whose December invoice of 300.00,
    paid on 10 January, was credited 50.00 on the 20th (a refund due to it), with
    another invoice of `also_owed` issued in January."""
    licensee = organization("Brindle Harbor Labs")
    billed = invoice(licensee.id, "300.00", IN_DECEMBER)
    paid(billed, date(2027, 1, 10))
    if also_owed:
        invoice(licensee.id, also_owed, IN_JANUARY)
    credited(billed.id, "50.00", "Seat count lowered", now=datetime(2027, 1, 20, 16, tzinfo=UTC))
    services.send_monthly_statements(JANUARY, now=RUN)
    (message,) = statement_emails()
    return message


def test_a_statement_showing_a_refund_due_says_so_rather_than_nothing_owed(app: Flask) -> None:
    """Round 29: a paid invoice credited in the month leaves a refund due to the
    licensee, which the statement's credit note line shows; the balance never goes
    below zero, so the subject must not read "nothing owed"."""
    message = _january_with_a_paid_invoice_credited()

    assert message.subject == (
        "Statement of account of Brindle Harbor Labs, January 2027 (USD): 50.00 USD due to "
        "you as a refund at the month's end"
    )
    assert (
        "Nothing was owed at the month's end, and 50.00 USD was due to you as a refund"
        in message.body_text
    )


def test_the_refund_sentence_names_the_one_credit_note_whose_line_shows_it(app: Flask) -> None:
    """Round 30: the body pointed at "the credit note's line" without naming it; with
    one credit note it names that one."""
    message = _january_with_a_paid_invoice_credited()

    number = db.session().scalars(select(CreditNote.number)).one()
    assert (
        "50.00 USD was due to you as a refund "
        f"(the line of credit note {number} in the statement)." in message.body_text
    )
    assert "credit note's line" not in message.body_text


def test_the_refund_sentence_with_several_credit_notes_names_each_line(app: Flask) -> None:
    """Round 30: two paid invoices each credited in the month: one refund due of both,
    and the body said "the credit note's line" as if there were one."""
    licensee = organization("Brindle Harbor Labs")
    first = invoice(licensee.id, "300.00", IN_DECEMBER)
    second = invoice(licensee.id, "200.00", IN_DECEMBER)
    paid(first, date(2027, 1, 10))
    paid(second, date(2027, 1, 11))
    one = credited(
        first.id, "50.00", "Seat count lowered", now=datetime(2027, 1, 20, 16, tzinfo=UTC)
    )
    two = credited(second.id, "25.00", "Late delivery", now=datetime(2027, 1, 21, 16, tzinfo=UTC))
    services.send_monthly_statements(JANUARY, now=RUN)
    (message,) = statement_emails()

    assert message.subject.endswith("75.00 USD due to you as a refund at the month's end")
    assert (
        "Nothing was owed at the month's end, and 75.00 USD was due to you as a refund "
        f"(the lines of credit notes {one.number} and {two.number} in the statement)."
        in message.body_text
    )
    assert monthly_statements.refund_lines_words(["CN-1", "CN-2", "CN-3"]) == (
        "the lines of credit notes CN-1, CN-2 and CN-3"
    )


def test_a_statement_owing_and_showing_a_refund_due_says_both(app: Flask) -> None:
    """Round 29: another invoice still owed beside a paid one credited: both figures."""
    message = _january_with_a_paid_invoice_credited(also_owed="120.00")

    assert message.subject == (
        "Statement of account of Brindle Harbor Labs, January 2027 (USD): 120.00 USD owed "
        "and 50.00 USD due to you as a refund at the month's end"
    )
    assert "50.00 USD was due to you as a refund at the month's end" in message.body_text


def test_the_audit_log_reads_balances_stored_before_round_28_with_the_currencys_digits(
    app: Flask, signed_in: Callable[..., FlaskClient], admin: User
) -> None:
    """Round 29: `statement.sent` and `statement.resent` events written before round
    28 hold "750.0000" and "0" (`str(Decimal)`); audit rows are never rewritten, so
    the audit log gives them the currency's digits as it reads them (JPY has none)."""
    with db.transaction() as session:
        for action, currency, opening, closing in (
            ("statement.sent", "USD", "0", "750.0000"),
            ("statement.resent", "JPY", "1200.0000", "0"),
        ):
            audit.record_event(
                session,
                action,
                7,
                after={
                    "month": "2026-11",
                    "currency": currency,
                    "opening": opening,
                    "closing": closing,
                },
                actor=Actor.SYSTEM,
            )

    page = text_of(signed_in(app.test_client(), admin).get("/console/audit?entity_type=statement"))

    # Round 67: with their currency, as every history says an amount (`recorded_amount`).
    assert "closing: — → 750.00 USD currency: — → USD" in page
    assert "opening: — → 0.00 USD " in page
    assert "closing: — → 0 JPY currency: — → JPY" in page
    assert "opening: — → 1,200 JPY " in page
    assert "750.0000" not in page


def test_a_statement_sent_again_with_nothing_owed_is_listed_so_rather_than_with_a_zero(
    app: Flask,
    signed_in: Callable[..., FlaskClient],
    billing_staff: User,
    vendor: User,
) -> None:
    """Round 29: as the email's subject, the lists said "with 0.00 USD owed at the
    month's end" of a statement sent again after a backdated payment cleared it."""
    licensee = vendor.organization
    billed = invoice(licensee.id, "1200.00", IN_JANUARY)
    services.send_monthly_statements(JANUARY, now=RUN)
    paid_offline(
        billed.id, "1200.00", "W-late", received_on=date(2027, 1, 29), now=RUN.replace(day=3)
    )
    console, portal = _sent_again_on_3_february(app, signed_in, billing_staff, vendor)
    for page in (console, portal):
        assert f"to {licensee.billing_email} with nothing owed at the month's end" in page
        assert "0.00 USD owed" not in page
