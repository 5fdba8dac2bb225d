"""Round 22's walk of the billing clerk (docs/journeys.md, "Round 22: the billing
clerk walked"): what a billing member is emailed and what they are not, what their
pages say, and the refusals a program of theirs meets."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.access import ADMINISTRATOR, BILLING, MEMBER
from licensing.accounts import services
from licensing.accounts.models import Organization, User
from licensing.actors import Actor
from licensing.agreements import services as agreements
from licensing.agreements.models import Agreement
from licensing.mail.models import OutboxMessage
from licensing.ratecards import services as ratecards
from licensing.royalties.services import send_reminders
from tests.integration.agreements.conftest import NOW
from tests.integration.pricing.conftest import example_document
from tests.integration.royalties.conftest import SMALL_SOFTWARE, SOFTWARE
from tests.support import factories
from tests.support.agreements import issued_agreement, make_active_agreement, upfront_invoice
from tests.support.billing import paid_offline
from tests.support.factories import bearer
from tests.support.settings import issuing


@pytest.fixture
def clerk(app: Flask, vendor: User) -> User:
    """A billing member of `vendor`'s organization (`vendor` administers it)."""
    return factories.make_vendor(
        db.session(), organization=vendor.organization, role=BILLING, full_name="Ines Clerk"
    )


def _sent(template: str) -> list[OutboxMessage]:
    return list(
        db.session().scalars(
            select(OutboxMessage)
            .where(OutboxMessage.template == template)
            .order_by(OutboxMessage.id)
        )
    )


def _active_agreement(vendor: User, staff: Any, use: dict[str, Any]) -> Agreement:
    """An active 2027 agreement of `vendor`'s for `use`, on the example rate card."""
    ratecards.import_card(example_document(), published_by="tests")
    return make_active_agreement(vendor, staff, use, now=NOW)


def _actor(user: User) -> Actor:
    return Actor.of(services.principal_for(user))


def _words(response: Any) -> str:
    return " ".join(html.unescape(response.get_data(as_text=True)).split())


def _text(response: Any) -> str:
    """A page's words without its markup."""
    return " ".join(re.sub(r"<[^>]+>", " ", _words(response)).split())


def _recipients(message: OutboxMessage) -> list[str]:
    found: list[str] = json.loads(message.recipients)
    return found


# --- what a clerk is emailed, and what they are not ---------------------------------------


def test_a_royalty_report_reminder_goes_to_those_who_file_and_not_to_the_billing_member(
    app: Flask, vendor: User, clerk: User, licensing_staff: Any
) -> None:
    _active_agreement(vendor, licensing_staff, SOFTWARE)
    member = factories.make_vendor(db.session(), organization=vendor.organization)
    send_reminders(standing_days=30, now=datetime(2027, 4, 30, 15, 0, tzinfo=UTC))
    (reminder,) = _sent("royalty_report_reminder")
    assert _recipients(reminder) == [vendor.email, member.email]


def test_an_agreement_ready_to_accept_is_emailed_to_those_who_may_accept_it_not_the_clerk(
    app: Flask, vendor: User, clerk: User, licensing_staff: Any
) -> None:
    ratecards.import_card(example_document(), published_by="tests")
    issued_agreement(vendor, licensing_staff, SOFTWARE, now=NOW)
    news = _sent("application_update") + _sent("agreement_update")
    ready = [message for message in news if "is ready to accept" in message.subject]
    assert ready
    for message in news:
        assert clerk.email not in _recipients(message), message.subject


def test_with_only_billing_members_active_a_reminder_still_reaches_the_billing_contact(
    app: Flask, vendor: User, clerk: User, licensing_staff: Any
) -> None:
    """Nobody left may file (the office removed the administrator's access): the
    organization still hears of the report due, through its billing contact, who
    can ask the office to make someone administrator."""
    _active_agreement(vendor, licensing_staff, SOFTWARE)
    vendor.is_active = False
    db.session().commit()
    send_reminders(standing_days=30, now=datetime(2027, 4, 30, 15, 0, tzinfo=UTC))
    (reminder,) = _sent("royalty_report_reminder")
    organization = db.session().get(Organization, vendor.organization_id)
    assert organization is not None
    assert _recipients(reminder) == [organization.billing_email]
    # Read as its recipient (round 23): the contact files nothing, and is told why it
    # comes to them and whom to ask.
    # Round 61: greeted by name, as the billing contact's other emails are.
    assert reminder.body_text.startswith(
        f"Hello {organization.billing_contact_name},\n\n"
        "You receive this as your organization's billing contact: it has no "
        "active administrator or member to take this step. Reply to this email to ask "
        "the CPT Licensing Office to make one of its users an administrator.\n\n"
    )


def test_a_reminder_to_those_who_file_says_nothing_of_a_stand_in(
    app: Flask, vendor: User, clerk: User, licensing_staff: Any
) -> None:
    _active_agreement(vendor, licensing_staff, SOFTWARE)
    send_reminders(standing_days=30, now=datetime(2027, 4, 30, 15, 0, tzinfo=UTC))
    (reminder,) = _sent("royalty_report_reminder")
    assert reminder.body_text.startswith(f"Hello {vendor.full_name},\n\nYour royalty report")
    assert "billing contact" not in reminder.body_text


# --- what their pages say ---------------------------------------------------------------


def test_the_token_page_does_not_offer_a_billing_member_filing_reports_or_accepting_agreements(
    app: Flask, clerk: User, signed_in: Callable[..., FlaskClient]
) -> None:
    page = _words(signed_in(app.test_client(), clerk).get("/account/tokens"))
    assert "file reports, accept agreements" not in page
    assert "Read and write: adds nothing a billing member's program needs" in page
    assert "Read only: fetch records and exports" in page


def test_the_token_page_still_tells_a_member_what_a_write_token_does(
    app: Flask, vendor: User, signed_in: Callable[..., FlaskClient]
) -> None:
    page = _words(signed_in(app.test_client(), vendor).get("/account/tokens"))
    assert "Read and write: everything you may do (file reports, accept agreements)" in page


def test_the_royalty_reports_list_tells_a_billing_member_who_files_a_report_due(
    app: Flask,
    vendor: User,
    clerk: User,
    licensing_staff: Any,
    signed_in: Callable[..., FlaskClient],
) -> None:
    """A period due and not filed read "Filed by a member", as if it had been."""
    _active_agreement(vendor, licensing_staff, SOFTWARE)
    with time_machine.travel(datetime(2027, 4, 30, 15, 0, tzinfo=UTC), tick=False):
        clerks = _words(signed_in(app.test_client(), clerk).get("/portal/royalty-reports"))
        members = _words(signed_in(app.test_client(), vendor).get("/portal/royalty-reports"))
    assert "Filed by a member" not in clerks
    assert "Not filed yet: a member or administrator files it" in clerks
    assert "Your organization's members and administrators file each report" in clerks
    assert "waiting on you first" not in clerks
    assert "File the report" in members
    assert "File a report with the form" in members


# --- refusals of a caller of the wrong kind -------------------------------------------------


def _problem(response: Any) -> str:
    assert response.status_code == 403, response.status_code
    assert response.mimetype == "application/problem+json"
    detail: str = response.get_json()["detail"]
    return detail


def test_staff_calling_a_vendors_route_are_told_whom_it_is_for_and_where_to_look(
    app: Flask, billing_staff: Any, signed_in: Callable[..., FlaskClient]
) -> None:
    """It said "Your account may not use this page or endpoint.", naming neither."""
    detail = _problem(app.test_client().post("/api/v1/applications", headers=bearer(billing_staff)))
    assert detail == (
        "This endpoint is for vendor users who are their organization's administrators "
        "or members. A staff account belongs to no organization: the console shows every "
        "organization's records."
    )
    page = _words(signed_in(app.test_client(), billing_staff).get("/portal/applications"))
    assert "This page is for vendor users who are their organization's administrators" in page


def test_staff_without_the_role_are_told_the_role_theirs_and_who_gives_one(
    app: Flask, billing_staff: Any, signed_in: Callable[..., FlaskClient]
) -> None:
    detail = _problem(app.test_client().get("/api/v1/audit-events", headers=bearer(billing_staff)))
    assert detail == (
        "This endpoint is for admins. Your staff roles: billing. An admin gives a role on "
        "the console's Users page, if your work needs it."
    )
    response = signed_in(app.test_client(), billing_staff).get("/console/applications")
    assert response.status_code == 403
    assert "This page is for staff with the licensing role (and admins)." in _words(response)


def test_a_vendor_calling_a_console_route_is_sent_back_to_the_vendor_portal(
    app: Flask, clerk: User, signed_in: Callable[..., FlaskClient]
) -> None:
    response = signed_in(app.test_client(), clerk).get("/console/applications")
    assert response.status_code == 403
    assert "Your organization's own records are in the vendor portal." in _words(response)
    detail = _problem(app.test_client().get("/api/v1/audit-events", headers=bearer(clerk)))
    assert detail.startswith("This endpoint is for admins. Your organization's own records")


# --- a role changed under work begun ----------------------------------------------------------


def test_a_billing_member_made_a_member_again_is_told_the_licensing_is_theirs_now(
    app: Flask, vendor: User, clerk: User
) -> None:
    """It read "As a member you go on applying for licenses", to someone who never had."""
    services.set_organization_role(clerk.id, MEMBER, _actor(vendor))
    (mail,) = _sent("role_changed")
    body = " ".join(mail.body_text.split())
    assert "go on applying" not in body
    assert "As a member you now also apply for licenses, accept agreements and report usage" in body


def test_a_member_who_steps_down_to_member_still_reads_that_they_go_on(
    app: Flask, vendor: User
) -> None:
    colleague = factories.make_vendor(db.session(), organization=vendor.organization)
    services.set_organization_role(colleague.id, ADMINISTRATOR, _actor(vendor))
    services.set_organization_role(colleague.id, MEMBER, _actor(vendor))
    body = " ".join(_sent("role_changed")[-1].body_text.split())
    assert "As a member you go on applying for licenses" in body


def test_a_draft_begun_by_a_member_made_a_billing_member_is_finished_by_a_colleague(
    app: Flask, vendor: User, signed_in: Callable[..., FlaskClient]
) -> None:
    """The clerk's dashboard no longer lists it (nor may they open it); the
    organization's administrator finds it waiting on their dashboard and submits it,
    and the news of it goes to them, not to the clerk who began it."""
    ratecards.import_card(example_document(), published_by="tests")
    starter = factories.make_vendor(db.session(), organization=vendor.organization)
    draft = agreements.ApplicationDraft.from_fields(
        {"term_start": date(2027, 1, 1), "term_end": date(2027, 12, 31), "uses": [SOFTWARE]}
    )
    application = agreements.create_draft(_actor(starter), draft)
    services.set_organization_role(starter.id, BILLING, _actor(vendor))
    clerks = signed_in(app.test_client(), starter)
    assert f"{application.reference} is a draft" not in _words(clerks.get("/portal/"))
    assert clerks.get(f"/portal/applications/{application.id}").status_code == 403
    administrators = signed_in(app.test_client(), vendor)
    assert f"{application.reference} is a draft" in _words(administrators.get("/portal/"))
    agreements.submit(application.id, _actor(vendor), policy=issuing(), attest=True)
    for message in _sent("application_update"):
        assert starter.email not in _recipients(message), message.subject


# --- the office's console -----------------------------------------------------------------


def test_the_console_lists_each_vendor_users_role_and_the_audit_log_names_it(
    app: Flask, vendor: User, clerk: User, admin: Any, signed_in: Callable[..., FlaskClient]
) -> None:
    """The users list gave only the organization; the log read "member → billing",
    the staff role's name."""
    member = factories.make_vendor(db.session(), organization=vendor.organization)
    services.set_organization_role(member.id, BILLING, _actor(vendor))
    console = signed_in(app.test_client(), admin)
    listed = _text(console.get("/console/users"))
    legal_name = vendor.organization.legal_name
    assert f"{clerk.full_name} {legal_name} (billing member)" in listed
    assert f"{vendor.full_name} {legal_name} (administrator)" in listed
    log = _text(console.get("/console/audit?action=user.role_changed"))
    assert "organization role: member → billing member" in log
    history = _text(console.get(f"/console/users/{member.id}"))
    assert "organization role: member → billing member" in history


def test_a_paid_invoice_tells_the_clerk_its_pdf_is_the_receipt(
    app: Flask,
    vendor: User,
    clerk: User,
    licensing_staff: Any,
    signed_in: Callable[..., FlaskClient],
) -> None:
    """A clerk who paid looks for a receipt; the page said only "Paid. Thank you."."""
    agreement = _active_agreement(vendor, licensing_staff, SMALL_SOFTWARE)
    invoice = upfront_invoice(agreement)
    assert invoice is not None
    paid_offline(invoice.id, str(invoice.total), "WIRE-2", received_on=date(2026, 11, 10))
    page = _text(signed_in(app.test_client(), clerk).get(f"/portal/invoices/{invoice.id}"))
    assert "Thank you. The PDF, marked paid, is your receipt." in page
    assert "Download PDF" in page


def test_a_hold_for_an_overdue_report_tells_the_clerk_whom_to_ask_not_to_file_it(
    app: Flask,
    vendor: User,
    clerk: User,
    licensing_staff: Any,
    signed_in: Callable[..., FlaskClient],
) -> None:
    """The clerk's dashboard said "file overdue royalty reports from the Royalty
    reports page", waiting on them, where they may file nothing."""
    _active_agreement(vendor, licensing_staff, SOFTWARE)
    when = datetime(2027, 6, 1, 15, 0, tzinfo=UTC)
    send_reminders(standing_days=30, now=when)
    with time_machine.travel(when, tick=False):
        clerks = _text(signed_in(app.test_client(), clerk).get("/portal/"))
        members = _text(signed_in(app.test_client(), vendor).get("/portal/"))
    assert "file overdue royalty reports from the Royalty reports page" not in clerks
    assert (
        "Pay overdue invoices from the Invoices page; its members and administrators file "
        f"overdue royalty reports, so ask {vendor.full_name} ({vendor.email}) to file them."
    ) in clerks
    assert "file overdue royalty reports from the Royalty reports page" in members


def test_a_clerks_read_only_token_uploading_a_report_is_told_whom_to_ask_not_to_get_a_write_token(
    app: Flask, vendor: User, clerk: User, licensing_staff: Any
) -> None:
    """A write token would be refused too: the role's refusal comes first."""
    agreement = _active_agreement(vendor, licensing_staff, SOFTWARE)
    _, secret = services.create_api_token(clerk.id, "ERP", actor=Actor.SYSTEM, scope="read")
    for query in ("", "?note=a%00b"):
        detail = _problem(
            app.test_client().post(
                f"/api/v1/agreements/{agreement.id}/royalty-reports/2027-01-01{query}",
                json={"rows": []},
                headers={"Authorization": f"Bearer {secret}"},
            )
        )
        assert "scope `write`" not in detail
        assert detail.startswith("Billing members of")
        assert f"Ask {vendor.full_name} ({vendor.email}) to do it" in detail
    listed = app.test_client().get(
        "/api/v1/invoices", headers={"Authorization": f"Bearer {secret}"}
    )
    assert listed.status_code == 200


def test_an_administrator_who_makes_themselves_a_billing_member_is_told_so_as_themselves(
    app: Flask, vendor: User, signed_in: Callable[..., FlaskClient]
) -> None:
    """The flash named them in the third person ("Alex Moreno is now a billing
    member."), as if a colleague had been changed."""
    colleague = factories.make_vendor(
        db.session(), organization=vendor.organization, role=ADMINISTRATOR
    )
    pages = signed_in(app.test_client(), vendor)
    response = pages.post(f"/organization/members/{vendor.id}/role", data={"role": "billing"})
    assert response.status_code == 302
    page = _text(pages.get(response.headers["Location"]))
    assert "You are now a billing member." in page
    assert f"{vendor.full_name} is now" not in page
    # A colleague changed is still named.
    other = signed_in(app.test_client(), colleague)
    response = other.post(f"/organization/members/{vendor.id}/role", data={"role": "member"})
    assert f"{vendor.full_name} is now a member." in _text(other.get(response.headers["Location"]))


def test_the_console_lists_the_vendor_users_of_one_role(
    app: Flask, vendor: User, clerk: User, admin: Any, signed_in: Callable[..., FlaskClient]
) -> None:
    """The office looking for an organization's billing members had only "Vendor
    users" to filter by."""
    console = signed_in(app.test_client(), admin)
    page = console.get("/console/users?kind=billing")
    listed = _text(page)
    assert clerk.email in listed
    assert vendor.email not in listed
    assert '<option value="billing" selected>Vendor users: billing members</option>' in (
        page.get_data(as_text=True)
    )
    administrators = _text(console.get("/console/users?kind=administrator"))
    assert vendor.email in administrators
    assert clerk.email not in administrators
    listed = app.test_client().get("/api/v1/users?kind=billing", headers=bearer(admin)).get_json()
    assert [user["email"] for user in listed] == [clerk.email]


def test_the_token_page_tells_staff_what_a_write_token_does_for_them(
    app: Flask, billing_staff: Any, signed_in: Callable[..., FlaskClient]
) -> None:
    """Staff read the vendor's examples, "file reports, accept agreements"."""
    page = _words(signed_in(app.test_client(), billing_staff).get("/account/tokens"))
    assert "file reports, accept agreements" not in page
    assert "Read and write: everything your staff roles allow" in page
