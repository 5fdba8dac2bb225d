"""Round 53: a statement of account emailed on request. A licensee on the phone asks
for its statement of some days; billing staff email the statement shown on the
console's statement page to the organization's billing contact (PDF attached,
through the outbox, audited), within bounds: the same statement to the same address
once in 10 minutes, at most 10 an organization in 24 hours (docs/billing.md,
"Statement of account")."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from licensing import db
from licensing.accounts.models import User
from licensing.audit.models import AuditEvent
from licensing.filenames import slug
from licensing.mail.models import OutboxMessage
from tests.support.documents import pdf_text
from tests.support.monthly_statements import IN_JANUARY, invoice, paid
from tests.support.pages import text_of

# A morning in March at the office (Chicago): the licensee calls.
CALL = datetime(2027, 3, 15, 15, 0, tzinfo=UTC)
QUARTER = {"from": "2027-01-01", "to": "2027-03-15", "currency": "USD"}
EMAILED = "organization.statement_emailed"


def _emails() -> list[OutboxMessage]:
    return list(
        db.session().scalars(
            select(OutboxMessage)
            .where(OutboxMessage.template == "statement_of_account")
            .order_by(OutboxMessage.id)
        )
    )


def _events() -> int:
    found = select(func.count()).select_from(AuditEvent).where(AuditEvent.action == EMAILED)
    return int(db.session().scalar(found) or 0)


def _url(organization_id: int, **query: str) -> str:
    asked = "&".join(f"{name}={value}" for name, value in {**QUARTER, **query}.items())
    return f"/console/organizations/{organization_id}/statement/email?{asked}"


def test_billing_staff_email_the_statement_shown_to_the_billing_contact_with_its_pdf(
    app: Flask, signed_in: Callable[..., FlaskClient], billing_staff: User, vendor: User
) -> None:
    organization = vendor.organization
    with time_machine.travel(CALL, tick=False):
        owed = invoice(organization.id, "1200.00", IN_JANUARY)
        paid(invoice(organization.id, "300.00", IN_JANUARY), IN_JANUARY.date())
        clerk = signed_in(app.test_client(), billing_staff)
        page = clerk.get(
            f"/console/organizations/{organization.id}/statement", query_string=QUARTER
        )
        shown = text_of(page)
        assert (
            f"To the organization's billing contact, {organization.billing_contact_name} "
            f"<{organization.billing_email}>, with the PDF attached: the statement shown, "
            "January 1, 2027 to March 15, 2027 in USD, closing balance 1,200.00 USD"
        ) in shown
        assert _url(organization.id).replace("&", "&amp;") in page.text
        answer = clerk.post(_url(organization.id), follow_redirects=True)

    assert answer.status_code == 200
    assert answer.request.path == f"/console/organizations/{organization.id}/statement"
    assert (
        f"The statement of account of {organization.legal_name}, January 1, 2027 to March 15, 2027 "
        f"(USD), is emailed to {organization.billing_email} with its PDF (closing balance "
        "1,200.00 USD)."
    ) in text_of(answer)
    [email] = _emails()
    assert email.to == [organization.billing_email]
    assert email.subject == (
        f"Statement of account of {organization.legal_name}, January 1, 2027 to March 15, "
        "2027 (USD): 1,200.00 USD owed as of March 15, 2027"
    )
    body = email.body_text
    assert (
        f"Here is the statement of account of {organization.legal_name} for January 1, 2027 to "
        "March 15, 2027 in USD, attached as a PDF: every invoice, credit note, payment and refund "
        "of those days."
    ) in body
    assert "send it as asked for on March 15, 2027" in body
    assert "Movements in those days: 3" in body
    assert "Closing balance (March 15, 2027): 1,200.00 USD" in body
    assert f"Invoice {owed.number}, due" in body  # overdue today: what to pay now
    [attachment] = email.attachments
    assert attachment.filename == (
        f"statement-{slug(organization.legal_name)}-USD-2027-01-01-2027-03-15.pdf"
    )
    assert "Closing balance on March 15, 2027" in pdf_text(attachment.content)
    event = db.session().scalars(select(AuditEvent).where(AuditEvent.action == EMAILED)).one()
    assert event.actor == billing_staff.email
    assert (event.entity_type, event.entity_id) == ("organization", str(organization.id))
    after = json.loads(event.after or "{}")
    assert after["from"] == "2027-01-01"
    assert after["to_day"] == "2027-03-15"
    assert after["closing"] == "1200.00"
    assert after["to"] == organization.billing_email
    assert after["outbox_message_id"] == email.id


def test_only_billing_staff_may_email_a_statement(
    app: Flask,
    signed_in: Callable[..., FlaskClient],
    licensing_staff: User,
    vendor: User,
    billing_staff: User,
) -> None:
    organization = vendor.organization
    with time_machine.travel(CALL, tick=False):
        invoice(organization.id, "1200.00", IN_JANUARY)
        reader = signed_in(app.test_client(), licensing_staff)
        page = reader.get(f"/console/organizations/{organization.id}/statement").text
        assert "Email this statement" not in page  # licensing staff read statements only
        assert reader.post(_url(organization.id)).status_code == 403
        assert signed_in(app.test_client(), vendor).post(_url(organization.id)).status_code == 403
        clerk = signed_in(app.test_client(), billing_staff)
        assert clerk.post(_url(999999)).status_code == 404
    assert _emails() == []
    assert _events() == 0


def test_the_same_statement_again_within_ten_minutes_is_refused_and_other_days_go(
    app: Flask, signed_in: Callable[..., FlaskClient], billing_staff: User, vendor: User
) -> None:
    organization = vendor.organization
    with time_machine.travel(CALL, tick=False):
        invoice(organization.id, "1200.00", IN_JANUARY)
        clerk = signed_in(app.test_client(), billing_staff)
        assert clerk.post(_url(organization.id)).status_code == 302
    with time_machine.travel(CALL + timedelta(minutes=4), tick=False):
        again = clerk.post(_url(organization.id))
        assert again.status_code == 429
        assert (
            "Not sent: the statement of January 1, 2027 to March 15, 2027 (USD) went to "
            # Round 59: the instant after "at" says its clock first (it read "at March 15,
            # 2027 at 10:00 AM").
            f"{organization.billing_email} at 10:00 AM on March 15, 2027 (US Central time), "
            "less than 10 minutes ago; it can go to that address again from March 15, 2027 "
            "at 10:10 AM (US Central time). Nothing was sent now."
        ) in text_of(again)
        assert "Closing balance on 2027-03-15" in text_of(again)  # the statement, still shown
        # Other days are another statement: they go.
        assert clerk.post(_url(organization.id, to="2027-02-28")).status_code == 302
    with time_machine.travel(CALL + timedelta(minutes=11), tick=False):
        assert clerk.post(_url(organization.id)).status_code == 302
    whose = f"Statement of account of {organization.legal_name}"
    assert [email.subject.split(":")[0] for email in _emails()] == [
        f"{whose}, January 1, 2027 to March 15, 2027 (USD)",
        f"{whose}, January 1, 2027 to February 28, 2027 (USD)",
        f"{whose}, January 1, 2027 to March 15, 2027 (USD)",
    ]
    assert _events() == 3


def test_the_same_statement_to_the_address_written_in_other_capitals_is_the_same_address(
    app: Flask, signed_in: Callable[..., FlaskClient], billing_staff: User, vendor: User
) -> None:
    """Security53: the billing contact rewritten in capitals (ACCOUNTS@... for
    accounts@...) is the same inbox; the statement sent to it minutes ago does not go
    again, and the currency asked in small letters is the same statement too."""
    organization = vendor.organization
    with time_machine.travel(CALL, tick=False):
        invoice(organization.id, "1200.00", IN_JANUARY)
        clerk = signed_in(app.test_client(), billing_staff)
        assert clerk.post(_url(organization.id)).status_code == 302
    with time_machine.travel(CALL + timedelta(minutes=4), tick=False):
        organization.billing_email = organization.billing_email.upper()
        db.session().commit()
        assert clerk.post(_url(organization.id)).status_code == 429
        assert clerk.post(_url(organization.id, currency="usd")).status_code == 429
    assert len(_emails()) == 1
    assert _events() == 1


def test_past_ten_statements_a_day_to_one_organization_it_is_refused_until_a_day_has_passed(
    app: Flask, signed_in: Callable[..., FlaskClient], billing_staff: User, vendor: User
) -> None:
    organization = vendor.organization
    with time_machine.travel(CALL, tick=False):
        invoice(organization.id, "1200.00", IN_JANUARY)
        clerk = signed_in(app.test_client(), billing_staff)
        for day in range(1, 11):
            sent = clerk.post(_url(organization.id, to=f"2027-03-{day:02d}"))
            assert sent.status_code == 302, day
        refused = clerk.post(_url(organization.id, to="2027-03-11"))
        assert refused.status_code == 429
        assert (
            f"Not sent: 10 statements were emailed to {organization.legal_name} on request in "
            "the last 24 hours, the most the office sends one licensee in a day; the next can "
            "go from March 16, 2027 at 10:00 AM (US Central time). Nothing was sent now."
        ) in text_of(refused)
    assert len(_emails()) == 10
    with time_machine.travel(CALL + timedelta(hours=24, minutes=1), tick=False):
        clerk = signed_in(app.test_client(), billing_staff)
        assert clerk.post(_url(organization.id, to="2027-03-11")).status_code == 302
    assert len(_emails()) == 11


def test_days_the_statement_refuses_are_the_page_with_the_fields_message_and_nothing_sent(
    app: Flask, signed_in: Callable[..., FlaskClient], billing_staff: User, vendor: User
) -> None:
    organization = vendor.organization
    with time_machine.travel(CALL, tick=False):
        invoice(organization.id, "1200.00", IN_JANUARY)
        clerk = signed_in(app.test_client(), billing_staff)
        later = clerk.post(_url(organization.id, to="2027-03-20"))
        assert later.status_code == 422
        assert "Must be today (March 15, 2027) or earlier: later days are not over." in text_of(
            later
        )
        euro = clerk.post(_url(organization.id, currency="EUR"))
        assert euro.status_code == 422
        assert "was not invoiced in EUR (it was in USD)" in text_of(euro)
    assert _emails() == []
    assert _events() == 0


def test_a_billing_address_the_outbox_refuses_says_what_to_correct_and_sends_nothing(
    app: Flask, signed_in: Callable[..., FlaskClient], billing_staff: User, vendor: User
) -> None:
    organization = vendor.organization
    with time_machine.travel(CALL, tick=False):
        invoice(organization.id, "1200.00", IN_JANUARY)
        # An address stored before the profile checked it (the form refuses it now).
        organization.billing_email = "accounts at quillfeather"
        db.session().commit()
        clerk = signed_in(app.test_client(), billing_staff)
        refused = clerk.post(_url(organization.id))
    assert refused.status_code == 422
    assert (
        f"Not sent: {organization.legal_name}'s billing contact address, 'accounts at "
        "quillfeather', is refused"
    ) in text_of(refused)
    assert "Correct the billing contact on the organization's page, then send it." in (
        text_of(refused)
    )
    assert _emails() == []
    assert _events() == 0
