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
from licensing.accounts.models import Organization, User
from licensing.actors import Actor
from licensing.audit.models import AuditEvent
from licensing.billing import services
from licensing.billing.models import Invoice, SentStatement
from licensing.billing.services import monthly_statements
from licensing.errors import InvalidInput
from licensing.mail.models import OutboxMessage
from tests.integration.billing.conftest import activated, send_activation
from tests.support import factories
from tests.support.billing import paid_offline
from tests.support.documents import pdf_text
from tests.support.factories import billing_clerk
from tests.support.hosts import run_as_hosts
from tests.support.pages import text_of

JANUARY = date(2027, 1, 1)
# The morning of 1 February at the office (Chicago): January is over.
RUN = datetime(2027, 2, 1, 14, 0, tzinfo=UTC)
IN_JANUARY = datetime(2027, 1, 15, 15, 0, tzinfo=UTC)
IN_DECEMBER = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)


def _statements() -> list[OutboxMessage]:
    return list(
        db.session().scalars(
            select(OutboxMessage)
            .where(OutboxMessage.template == "statement_of_account")
            .order_by(OutboxMessage.id)
        )
    )


def _invoice(organization_id: int, amount: str, at: datetime, currency: str = "USD") -> Invoice:
    invoice = send_activation(activated(organization_id, (amount,), at=at, currency=currency))
    assert invoice is not None
    return invoice


def _paid(invoice: Invoice, on: date) -> None:
    services.record_offline_payment(
        invoice.id,
        method="wire",
        amount=invoice.total,
        reference=f"W-{invoice.id}",
        received_on=on,
        now=datetime(on.year, on.month, on.day, 18, 0, tzinfo=UTC),
        actor=billing_clerk(),
    )


def _organization(name: str) -> Organization:
    return factories.make_vendor(
        db.session(), organization=factories.make_organization(db.session(), legal_name=name)
    ).organization


def test_each_organization_owing_or_moved_in_the_month_is_emailed_its_statement_once_a_currency(
    app: Flask,
) -> None:
    owing = _organization("Quillfeather Analytics")
    overdue = _invoice(owing.id, "400.00", IN_DECEMBER)  # due 2026-12-31: overdue now
    _invoice(owing.id, "1200.00", IN_JANUARY)
    _invoice(owing.id, "90.00", IN_JANUARY, currency="EUR")
    settled_in_january = _organization("Brindle Harbor Labs")
    _paid(_invoice(settled_in_january.id, "300.00", IN_DECEMBER), date(2027, 1, 10))
    quiet = _organization("Sorrel Point Systems")  # paid in December: nothing in January
    _paid(_invoice(quiet.id, "250.00", IN_DECEMBER), date(2026, 12, 20))
    closed = _organization("Larkspur Devices")
    _paid(_invoice(closed.id, "80.00", IN_JANUARY), date(2027, 1, 20))
    accounts.change_standing(
        db.session(), closed, "close", reason="ceased trading", notify=False, actor=Actor.SYSTEM
    )
    db.session().commit()

    run = services.send_monthly_statements(JANUARY, now=RUN)

    messages = _statements()
    assert [(m.to, m.subject) for m in messages] == [
        (
            [owing.billing_email],
            "Statement of account, January 2027 (EUR): 90.00 EUR owed at the month's end",
        ),
        (
            [owing.billing_email],
            "Statement of account, January 2027 (USD): 1,600.00 USD owed at the month's end",
        ),
        (
            [settled_in_january.billing_email],
            "Statement of account, January 2027 (USD): 0.00 USD owed at the month's end",
        ),
    ]
    assert len(run.sent) == 3
    assert run.nothing_to_send == 2  # the quiet one, and the closed one owing nothing
    usd = messages[1]
    assert "Opening balance (2027-01-01): 400.00 USD" in usd.body_text
    assert "Closing balance (2027-01-31): 1,600.00 USD" in usd.body_text
    assert f"Invoice {overdue.number}, due 2026-12-31: 400.00 USD" in usd.body_text
    assert "How to pay" in usd.body_text
    assert "/portal/statement?from=2027-01-01&to=2027-01-31&currency=USD" in usd.body_text
    [attachment] = usd.attachments
    assert attachment.filename == f"statement-{owing.id}-USD-2027-01.pdf"
    assert attachment.content_type == "application/pdf"
    text = pdf_text(attachment.content)
    assert "Opening balance on 2027-01-01" in text
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
    owing = _organization("Quillfeather Analytics")
    _invoice(owing.id, "1200.00", IN_JANUARY)
    first = services.send_monthly_statements(JANUARY, now=RUN)
    again = services.send_monthly_statements(JANUARY, now=RUN.replace(day=2))
    assert len(first.sent) == 1
    assert again.sent == []
    # Another host that read the statement as due before this one's commit meets the
    # unique constraint and moves on.
    late = services.send_monthly_statements(JANUARY, now=RUN, due=[(owing.id, "USD")])
    assert (late.sent, late.already_sent) == ([], 1)
    assert len(_statements()) == 1


def test_a_run_stopped_part_way_is_finished_by_the_next(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _organization("Quillfeather Analytics")
    second = _organization("Brindle Harbor Labs")
    _invoice(first.id, "1200.00", IN_JANUARY)
    _invoice(second.id, "300.00", IN_JANUARY)
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
    assert [m.to for m in _statements()] == [[first.billing_email]]
    monkeypatch.setattr(monthly_statements.documents, "render_statement_pdf", render)
    rest = services.send_monthly_statements(JANUARY, now=RUN)
    assert len(rest.sent) == 1
    assert [m.to for m in _statements()] == [[first.billing_email], [second.billing_email]]


def test_two_hosts_running_it_at_once_send_each_statement_once(committed_app: Flask) -> None:
    with committed_app.app_context():
        organizations = [_organization(f"Host Test Labs {n}").id for n in range(4)]
        for organization_id in organizations:
            _invoice(organization_id, "500.00", IN_JANUARY)
    runs = run_as_hosts(
        committed_app,
        lambda: services.send_monthly_statements(JANUARY, now=RUN),
    )
    assert sum(len(run.sent) for run in runs) == len(organizations)
    with committed_app.app_context():
        assert len(_statements()) == len(organizations)
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
    owing = _organization("Quillfeather Analytics")
    _invoice(owing.id, "1200.00", IN_JANUARY)
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
    _invoice(organization.id, "1200.00", IN_JANUARY)
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
    assert f"The January 2027 statement (USD) is sent again to {organization.billing_email}" in (
        answer.text
    )
    assert len(_statements()) == 2
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
    unreachable = _organization("Quillfeather Analytics")
    reachable = _organization("Brindle Harbor Labs")
    _invoice(unreachable.id, "1200.00", IN_JANUARY)
    _invoice(reachable.id, "300.00", IN_JANUARY)
    # An address stored before the profile checked it (the form refuses it now).
    unreachable.billing_email = "accounts at quillfeather"
    db.session().commit()
    run = services.send_monthly_statements(JANUARY, now=RUN)
    assert [m.to for m in _statements()] == [[reachable.billing_email]]
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
    _invoice(organization.id, "1200.00", IN_JANUARY)
    _invoice(organization.id, "90.00", IN_JANUARY, currency="EUR")
    _invoice(other_vendor.organization.id, "777.00", IN_JANUARY)
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
    owing = _organization("Quillfeather Analytics")
    _invoice(owing.id, "1200.00", IN_DECEMBER)
    _invoice(owing.id, "90.00", IN_JANUARY, currency="EUR")
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
    organization = vendor.organization
    invoice = _invoice(organization.id, "1200.00", IN_JANUARY)
    services.send_monthly_statements(JANUARY, now=RUN)
    first_address = organization.billing_email
    paid_offline(
        invoice.id, "400.00", "W-late", received_on=date(2027, 1, 29), now=RUN.replace(day=3)
    )
    organization.billing_email = "accounts.payable@quillfeather.example"
    db.session().commit()
    sent = db.session().scalars(select(SentStatement)).one()
    with time_machine.travel(datetime(2027, 2, 3, 17, 0, tzinfo=UTC), tick=False):
        clerk = signed_in(app.test_client(), billing_staff)
        page_url = f"/console/organizations/{organization.id}"
        assert clerk.post(f"{page_url}/statements/{sent.id}/resend").status_code == 302
        console = text_of(clerk.get(page_url))
        portal = text_of(signed_in(app.test_client(), vendor).get("/portal/statement"))
    first = f"1,200.00 USD 2027-02-01 08:00 (US Central time) to {first_address}"
    again = (
        "sent again 1 time, last 2027-02-03 11:00 (US Central time)"
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
    organization = vendor.organization
    _invoice(organization.id, "1200.00", IN_JANUARY)
    services.send_monthly_statements(JANUARY, now=RUN)
    organization.billing_email = "accounts at quillfeather"
    db.session().commit()
    sent = db.session().scalars(select(SentStatement)).one()
    clerk = signed_in(app.test_client(), billing_staff)

    refused = clerk.post(f"/console/organizations/{organization.id}/statements/{sent.id}/resend")

    assert refused.status_code == 422
    assert (
        f"Not sent again: {organization.legal_name}'s billing contact address, "
        "'accounts at quillfeather', is refused ("
    ) in text_of(refused)
    assert "Correct the billing contact on the organization's page, then send it again." in (
        text_of(refused)
    )
    db.session().refresh(sent)
    assert sent.resends == 0
    assert len(_statements()) == 1
