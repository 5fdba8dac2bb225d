"""A billing member of a vendor organization (an accounts-payable clerk): reads and
pays the invoices and reads what they are for, takes no licensing step, and manages
nothing (docs/accounts.md, "Roles inside a vendor organization")."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from licensing import access, db
from licensing.access import ADMINISTRATOR, BILLING, MEMBER, Principal
from licensing.accounts import services
from licensing.accounts.models import User
from licensing.actors import Actor
from licensing.agreements import services as agreements
from licensing.agreements.models import Agreement
from licensing.audit.models import AuditEvent
from licensing.billing.models import Invoice, StripeEvent
from licensing.errors import Conflict, PermissionDenied
from licensing.mail.models import OutboxMessage
from licensing.ratecards import services as ratecards
from licensing.royalties.models import RoyaltyReport
from tests.integration.agreements.conftest import NOW
from tests.integration.pricing.conftest import example_document
from tests.integration.royalties.conftest import SMALL_SOFTWARE, SOFTWARE, file_quarter, row
from tests.support import factories
from tests.support.agreements import (
    accept,
    issued_agreement,
    make_active_agreement,
    upfront_invoice,
)
from tests.support.billing import credited, paid_offline
from tests.support.factories import bearer

ROLES_DOC = Path(__file__).resolve().parents[2] / "docs" / "accounts.md"
ROLE_COLUMNS = (ADMINISTRATOR, MEMBER, BILLING)


def _actor(user: User) -> Actor:
    return Actor.of(services.principal_for(user))


def _asked(user: User) -> str:
    return f"{user.full_name} ({user.email})"


def _words(response: Any) -> str:
    return " ".join(response.get_data(as_text=True).split())


def _example_path(rule: str) -> str:
    return re.sub(r"<(?:[^:<>]+:)?[^<>]+>", "1", rule)


@pytest.fixture
def clerk(app: Flask, vendor: User) -> User:
    """A billing member of `vendor`'s organization (`vendor` administers it)."""
    return factories.make_vendor(
        db.session(), organization=vendor.organization, role=BILLING, full_name="Ines Clerk"
    )


# --- the table in the docs is the declarations ----------------------------------------


def _roles_table() -> dict[str, dict[str, bool]]:
    """docs/accounts.md's table: each endpoint and whether each role may call it."""
    text = ROLES_DOC.read_text(encoding="utf-8")
    section = text.split("## Roles inside a vendor organization", 1)[1].split("\n## ", 1)[0]
    table: dict[str, dict[str, bool]] = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 5 or cells[0] in ("ability", "---"):
            continue
        answers = {role: cells[2 + index] == "yes" for index, role in enumerate(ROLE_COLUMNS)}
        for endpoint in re.findall(r"`([a-z_]+\.[a-z_]+)`", cells[1]):
            table[endpoint] = answers
    return table


def _principal(role: str) -> Principal:
    return Principal(
        user_id=1, email="x@kestrel.example", organization_id=1, organization_role=role
    )


def test_the_roles_table_in_the_docs_is_what_every_vendor_route_declares(app: Flask) -> None:
    table = _roles_table()
    assert len(table) > 60
    vendor_endpoints = {
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if (found := access.declaration_for(app, rule.endpoint)) is not None and found.vendor
    }
    assert sorted(vendor_endpoints - set(table)) == [], "vendor routes missing from the table"
    assert sorted(set(table) - vendor_endpoints) == [], "the table names routes that are not"
    differing = []
    for endpoint, answers in sorted(table.items()):
        declaration = access.declaration_for(app, endpoint)
        assert declaration is not None
        for role, allowed in answers.items():
            if declaration.admits(_principal(role)) != allowed:
                differing.append(f"{endpoint} {role}: the table says {allowed}")
    assert differing == []


# --- refused, and told whom to ask ------------------------------------------------------


def _walk(app: Flask, roles: frozenset[str]) -> list[tuple[str, str, bool]]:
    """Every (method, path, on_api) of the routes declared for exactly `roles`."""
    calls = []
    for rule in app.url_map.iter_rules():
        declaration = access.declaration_for(app, rule.endpoint)
        if declaration is None or declaration.vendor_roles != roles:
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            calls.append((method, _example_path(rule.rule), rule.rule.startswith("/api/")))
    return calls


def test_every_licensing_step_refuses_a_billing_member_naming_the_administrators_to_ask(
    app: Flask, vendor: User, clerk: User, signed_in: Callable[..., FlaskClient]
) -> None:
    api, headers = app.test_client(), bearer(clerk)
    pages = signed_in(app.test_client(), clerk)
    calls = _walk(app, access.LICENSING_WORK)
    assert len(calls) >= 25
    for method, path, on_api in calls:
        response = (api if on_api else pages).open(
            path, method=method, headers=headers if on_api else {}
        )
        assert response.status_code == 403, (method, path, response.status_code)
        said = _words(response)
        assert "Billing members of" in said, (method, path)
        assert _asked(vendor) in said, (method, path)
        if on_api:
            assert response.mimetype == "application/problem+json"


def test_every_administrators_route_refuses_a_billing_member_as_it_refuses_a_member(
    app: Flask, vendor: User, clerk: User, signed_in: Callable[..., FlaskClient]
) -> None:
    api, headers = app.test_client(), bearer(clerk)
    pages = signed_in(app.test_client(), clerk)
    calls = _walk(app, frozenset({ADMINISTRATOR}))
    assert len(calls) >= 10
    for method, path, on_api in calls:
        response = (api if on_api else pages).open(
            path, method=method, headers=headers if on_api else {}
        )
        assert response.status_code == 403, (method, path, response.status_code)
        assert "Only administrators of" in _words(response), (method, path)
        assert _asked(vendor) in _words(response), (method, path)


# --- what a billing member reads -----------------------------------------------------------


@dataclass
class Billed:
    agreement: Agreement
    invoice: Invoice
    report: RoyaltyReport
    credit_note_id: int
    payment_id: int


@pytest.fixture
def billed(app: Flask, vendor: User, licensing_staff: Any) -> Billed:
    """`vendor`'s organization with an active agreement, its up-front invoice
    credited in part and paid in part offline, and a royalty report filed."""
    ratecards.import_card(example_document(), published_by="tests")
    agreement = make_active_agreement(vendor, licensing_staff, SMALL_SOFTWARE, now=NOW)
    invoice = upfront_invoice(agreement)
    assert invoice is not None
    credit = credited(invoice.id, "10.00", "A goodwill credit")
    payment = paid_offline(invoice.id, "100.00", "WIRE-1", received_on=date(2026, 11, 10))
    report = file_quarter(vendor, agreement.id, 1, [row(1, "A", quantity=100)]).report
    return Billed(agreement, invoice, report, credit.id, payment.id)


def test_a_billing_member_reads_invoices_agreements_and_reports_on_the_pages(
    app: Flask, clerk: User, billed: Billed, signed_in: Callable[..., FlaskClient]
) -> None:
    pages = signed_in(app.test_client(), clerk)
    invoice, agreement, report = billed.invoice, billed.agreement, billed.report
    for path in (
        "/portal/",
        "/portal/invoices",
        f"/portal/invoices/{invoice.id}",
        f"/invoices/{invoice.id}.pdf",
        f"/credit-notes/{billed.credit_note_id}.pdf",
        "/portal/agreements",
        f"/portal/agreements/{agreement.id}",
        f"/portal/agreements/{agreement.id}/agreement.pdf",
        "/portal/royalty-reports",
        f"/portal/royalty-reports/report/{report.id}",
        f"/royalty-reports/report/{report.id}/rows.csv",
        "/organization",
    ):
        response = pages.get(path)
        assert response.status_code == 200, (path, response.status_code)
    assert invoice.number in _words(pages.get("/portal/invoices"))
    # Paying is theirs: without a card gateway (this app has none) the page says why
    # and returns to the invoice, as it does for anyone; it refuses nobody for a role.
    paying = pages.get(f"/portal/invoices/{invoice.id}/pay")
    assert paying.headers["Location"].endswith(f"/portal/invoices/{invoice.id}")


def test_a_credit_notes_console_page_is_for_staff_who_read_its_invoice_not_a_billing_member(
    app: Flask,
    clerk: User,
    billed: Billed,
    billing_staff: Any,
    licensing_staff: Any,
    signed_in: Callable[..., FlaskClient],
) -> None:
    """Round 56: the credit note's page is the console's, for the staff who open its
    invoice's page; the billing member reads the credit note's PDF from their invoice."""
    path = f"/console/credit-notes/{billed.credit_note_id}"
    pages = signed_in(app.test_client(), clerk)
    assert pages.get(path).status_code == 403
    assert pages.get(f"/credit-notes/{billed.credit_note_id}.pdf").status_code == 200
    for staff in (billing_staff, licensing_staff):
        staff_pages = signed_in(app.test_client(), staff)
        assert staff_pages.get(path).status_code == 200
        assert staff_pages.get(f"/console/invoices/{billed.invoice.id}").status_code == 200
    declared = access.declaration_for(app, "billing_console.credit_note_detail")
    invoice_page = access.declaration_for(app, "billing_console.invoice_detail")
    assert declared is not None
    assert invoice_page is not None
    assert (declared.vendor, declared.staff) == (False, invoice_page.staff)


def test_the_credit_notes_list_is_for_staff_who_read_a_credit_notes_page_not_a_billing_member(
    app: Flask,
    clerk: User,
    billed: Billed,
    billing_staff: Any,
    licensing_staff: Any,
    signed_in: Callable[..., FlaskClient],
) -> None:
    """Round 57: the console's list of every credit note admits the staff a credit
    note's page admits; the billing member reads their credit notes on their invoices."""
    pages = signed_in(app.test_client(), clerk)
    assert pages.get("/console/credit-notes").status_code == 403
    for staff in (billing_staff, licensing_staff):
        listed = signed_in(app.test_client(), staff).get("/console/credit-notes")
        assert listed.status_code == 200
        assert f"/console/credit-notes/{billed.credit_note_id}" in listed.get_data(as_text=True)
    declared = access.declaration_for(app, "billing_console.credit_notes")
    one = access.declaration_for(app, "billing_console.credit_note_detail")
    assert declared is not None
    assert one is not None
    assert (declared.vendor, declared.staff) == (False, one.staff)


def test_the_stripe_events_list_is_for_staff_who_read_a_payments_page_not_a_billing_member(
    app: Flask,
    clerk: User,
    billing_staff: Any,
    licensing_staff: Any,
    signed_in: Callable[..., FlaskClient],
) -> None:
    """Round 58: the console's list of every Stripe event admits the staff a card
    payment's page admits (which lists the payment's own events); a billing member of
    a licensee reads none."""
    assert signed_in(app.test_client(), clerk).get("/console/stripe-events").status_code == 403
    for staff in (billing_staff, licensing_staff):
        listed = signed_in(app.test_client(), staff).get("/console/stripe-events")
        assert listed.status_code == 200
    declared = access.declaration_for(app, "billing_console.stripe_events")
    one = access.declaration_for(app, "billing_console.payment_detail")
    assert declared is not None
    assert one is not None
    assert (declared.vendor, declared.staff) == (False, one.staff)


def test_the_payments_list_is_for_staff_who_read_a_payments_page_not_a_billing_member(
    app: Flask,
    clerk: User,
    billed: Billed,
    billing_staff: Any,
    licensing_staff: Any,
    signed_in: Callable[..., FlaskClient],
) -> None:
    """Round 57 (payments57): the console's list of every payment admits the staff a
    payment's page admits; the billing member reads their payments on their invoices."""
    pages = signed_in(app.test_client(), clerk)
    assert pages.get("/console/payments").status_code == 403
    for staff in (billing_staff, licensing_staff):
        listed = signed_in(app.test_client(), staff).get("/console/payments")
        assert listed.status_code == 200
        assert f"/console/payments/{billed.payment_id}" in listed.get_data(as_text=True)
    declared = access.declaration_for(app, "billing_console.payments")
    one = access.declaration_for(app, "billing_console.payment_detail")
    assert declared is not None
    assert one is not None
    assert (declared.vendor, declared.staff) == (False, one.staff)


def test_a_billing_members_api_token_reads_what_their_pages_show(
    app: Flask, clerk: User, billed: Billed
) -> None:
    api, headers = app.test_client(), bearer(clerk)
    invoice, agreement, report = billed.invoice, billed.agreement, billed.report
    organization_id = clerk.organization_id
    for path in (
        "/api/v1/invoices",
        f"/api/v1/invoices/{invoice.id}",
        f"/api/v1/invoices/{invoice.id}/pdf",
        f"/api/v1/invoices/{invoice.id}/payments",
        f"/api/v1/invoices/{invoice.id}/credit-notes",
        f"/api/v1/credit-notes/{billed.credit_note_id}",
        f"/api/v1/credit-notes/{billed.credit_note_id}/pdf",
        f"/api/v1/payments/{billed.payment_id}",
        "/api/v1/agreements",
        f"/api/v1/agreements/{agreement.id}",
        f"/api/v1/agreements/{agreement.id}/pdf",
        f"/api/v1/agreements/{agreement.id}/royalty-reports",
        f"/api/v1/royalty-reports/{report.id}",
        f"/api/v1/royalty-reports/{report.id}/rows",
        f"/api/v1/organizations/{organization_id}",
        f"/api/v1/organizations/{organization_id}/members",
        "/api/v1/me",
    ):
        response = api.get(path, headers=headers)
        assert response.status_code == 200, (path, response.status_code)
    me = api.get("/api/v1/me", headers=headers).get_json()
    assert me["user"]["role"] == BILLING


def test_an_agreement_read_by_a_billing_member_offers_no_step_of_theirs(
    app: Flask, clerk: User, billed: Billed
) -> None:
    """`allowed_actions` lists only the steps the caller's routes admit."""
    found = (
        app.test_client()
        .get(f"/api/v1/agreements/{billed.agreement.id}", headers=bearer(clerk))
        .get_json()
    )
    assert "renew" not in found.get("allowed_actions", [])


# --- what their pages offer -----------------------------------------------------------------


def test_a_billing_members_navigation_has_no_applications_or_permissions(
    app: Flask, clerk: User, signed_in: Callable[..., FlaskClient]
) -> None:
    page = _words(signed_in(app.test_client(), clerk).get("/portal/"))
    assert 'href="/portal/invoices"' in page
    assert 'href="/portal/applications"' not in page
    assert 'href="/portal/permissions/"' not in page
    assert "Start an application" not in page
    assert "may apply for licenses" not in page


def test_an_issued_agreement_says_who_accepts_it_to_a_billing_member_instead_of_the_form(
    app: Flask,
    vendor: User,
    clerk: User,
    signed_in: Callable[..., FlaskClient],
    licensing_staff: Any,
) -> None:
    ratecards.import_card(example_document(), published_by="tests")
    agreement = issued_agreement(vendor, licensing_staff, SOFTWARE, now=NOW)
    pages = signed_in(app.test_client(), clerk)
    page = _words(pages.get(f"/portal/agreements/{agreement.id}"))
    assert "Accept the agreement" not in page
    assert "waits for a member or administrator of" in page
    dashboard = _words(pages.get("/portal/"))
    assert f"Agreement {agreement.number} waits for your acceptance" not in dashboard
    # The member who may accept it is still offered the form and the dashboard item.
    administrator = _words(signed_in(app.test_client(), vendor).get("/portal/"))
    assert f"Agreement {agreement.number} waits for your acceptance" in administrator


def test_a_billing_member_sees_reports_filed_and_due_without_the_filing_links(
    app: Flask,
    vendor: User,
    clerk: User,
    billed: Billed,
    signed_in: Callable[..., FlaskClient],
) -> None:
    pages = signed_in(app.test_client(), clerk)
    listed = _words(pages.get("/portal/royalty-reports"))
    assert f"Report {billed.report.reference}" in listed
    assert "File the report" not in listed
    assert "Amend this report" not in _words(
        pages.get(f"/portal/royalty-reports/report/{billed.report.id}")
    )
    agreement_page = _words(pages.get(f"/portal/agreements/{billed.agreement.id}"))
    assert "Renew for the next rate card year" not in agreement_page
    assert "Invoice" in _words(pages.get("/portal/"))


def test_a_billing_members_organization_page_says_their_role_and_whom_to_ask(
    app: Flask, vendor: User, clerk: User, signed_in: Callable[..., FlaskClient]
) -> None:
    page = _words(signed_in(app.test_client(), clerk).get("/organization"))
    assert "You are a billing member:" in page
    assert _asked(vendor) in page
    assert "Send the invitation" not in page
    assert "<td>Billing member</td>" in page


# --- becoming one, and back ----------------------------------------------------------------


def test_an_invitation_as_a_billing_member_says_so_and_joins_with_the_role(
    client: FlaskClient, vendor: User
) -> None:
    services.invite_member(
        vendor.organization_id or 0, "ap@kestrel.example", _actor(vendor), role=BILLING
    )
    (mail,) = db.session().scalars(
        select(OutboxMessage).where(OutboxMessage.template == "invitation")
    )
    assert "as a billing member: to read and pay its invoices" in " ".join(mail.body_text.split())
    found = re.search(r"/invitations/([A-Za-z0-9_-]+)", mail.body_text)
    assert found is not None
    page = _words(client.get(f"/invitations/{found.group(1)}"))
    assert "as a billing member: you will read and pay its invoices" in page
    joined = services.accept_invitation(
        found.group(1), full_name="Ines Clerk", password=factories.DEFAULT_PASSWORD
    )
    assert joined.organization_role == BILLING


def test_the_invitation_form_and_the_api_offer_the_billing_role(
    app: Flask, vendor: User, signed_in: Callable[..., FlaskClient]
) -> None:
    pages = signed_in(app.test_client(), vendor)
    assert 'value="billing"' in _words(pages.get("/organization"))
    response = pages.post(
        "/organization/invitations", data={"email": "ap@kestrel.example", "role": "billing"}
    )
    assert response.status_code == 302
    response = app.test_client().post(
        f"/api/v1/organizations/{vendor.organization_id}/invitations",
        json={"email": "ap2@kestrel.example", "role": "billing"},
        headers=bearer(vendor),
    )
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["role"] == BILLING


def test_an_administrator_makes_a_member_a_billing_member_and_back_audited_and_emailed(
    app: Flask, vendor: User, signed_in: Callable[..., FlaskClient]
) -> None:
    member = factories.make_vendor(db.session(), organization=vendor.organization, role=MEMBER)
    pages = signed_in(app.test_client(), vendor)
    assert f'aria-label="Make them a billing member: {member.full_name}"' in _words(
        pages.get("/organization")
    )
    response = pages.post(f"/organization/members/{member.id}/role", data={"role": "billing"})
    assert response.status_code == 302
    assert db.session().get(User, member.id, populate_existing=True).organization_role == BILLING
    (mail,) = db.session().scalars(
        select(OutboxMessage).where(OutboxMessage.template == "role_changed")
    )
    assert mail.subject.startswith("You are now a billing member of")
    assert "As a billing member you read the organization's invoices" in " ".join(
        mail.body_text.split()
    )
    response = app.test_client().patch(
        f"/api/v1/users/{member.id}", json={"role": "member"}, headers=bearer(vendor)
    )
    assert response.status_code == 200, response.get_json()
    changes = [
        event.changes()
        for event in db.session().scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "user.role_changed")
            .order_by(AuditEvent.id)
        )
    ]
    assert changes == [
        [("organization_role", MEMBER, BILLING)],
        [("organization_role", BILLING, MEMBER)],
    ]


def test_the_last_administrator_cannot_become_a_billing_member(
    app: Flask, vendor: User, clerk: User
) -> None:
    with pytest.raises(Conflict, match="last active administrator"):
        services.set_organization_role(vendor.id, BILLING, _actor(vendor))


def test_the_office_makes_a_member_a_billing_member_on_the_console_and_the_command_line(
    app: Flask, vendor: User, licensing_staff: Any, signed_in: Callable[..., FlaskClient]
) -> None:
    member = factories.make_vendor(db.session(), organization=vendor.organization, role=MEMBER)
    console = signed_in(app.test_client(), licensing_staff)
    path = f"/console/organizations/{vendor.organization_id}"
    assert f'aria-label="Make them a billing member: {member.full_name}"' in _words(
        console.get(path)
    )
    response = console.post(f"{path}/members/{member.id}/role", data={"role": "billing"})
    assert response.status_code == 302
    assert db.session().get(User, member.id, populate_existing=True).organization_role == BILLING
    result = app.test_cli_runner().invoke(args=["users", "set-role", member.email, "member"])
    assert result.exit_code == 0, result.output
    assert "is now a member" in result.output
    assert "(was a billing member)" in result.output


# --- the use cases keep the rule whichever edge calls --------------------------------------


def test_the_licensing_use_cases_refuse_a_billing_member_too(
    app: Flask, vendor: User, clerk: User, licensing_staff: Any
) -> None:
    ratecards.import_card(example_document(), published_by="tests")
    agreement = issued_agreement(vendor, licensing_staff, SOFTWARE, now=NOW)
    actor = _actor(clerk)
    draft = agreements.ApplicationDraft.from_fields(
        {"term_start": date(2027, 1, 1), "term_end": date(2027, 12, 31), "uses": [SOFTWARE]}
    )
    with pytest.raises(PermissionDenied, match="Billing members read and pay"):
        agreements.create_draft(actor, draft, now=NOW)
    with pytest.raises(PermissionDenied, match="Billing members read and pay"):
        accept(agreement, clerk)
    assert db.session().get(Agreement, agreement.id, populate_existing=True).state == "issued"
    accept(agreement, vendor)
    with pytest.raises(PermissionDenied, match="Billing members read and pay"):
        file_quarter(clerk, agreement.id, 1, [row(1, "A", quantity=100)])
    assert db.session().scalars(select(RoyaltyReport)).all() == []


def test_applying_a_stripe_event_again_or_marking_it_looked_at_is_billing_staffs_alone(
    app: Flask,
    clerk: User,
    billing_staff: Any,
    licensing_staff: Any,
    signed_in: Callable[..., FlaskClient],
) -> None:
    """Round 58 (replay58): a failed Stripe event's page is read by the staff who read
    the list; its two steps are billing staff's, as a refund's return is: licensing staff
    and a licensee's billing member are refused them (403), nothing changed."""
    stored = StripeEvent(
        event_id="evt_roles_failed",
        event_type="payment_intent.succeeded",
        received_at=db.utcnow(),
    )
    stored.said("failed: the event is not what its type says. Nothing was applied")
    db.session().add(stored)
    db.session().commit()
    page = f"/console/stripe-events/{stored.id}"
    assert signed_in(app.test_client(), clerk).get(page).status_code == 403
    reader = signed_in(app.test_client(), licensing_staff)
    assert reader.get(page).status_code == 200
    assert "Apply again" not in reader.get(page).get_data(as_text=True)
    for staff in (clerk, licensing_staff):
        client = signed_in(app.test_client(), staff)
        for step, form in (
            ("apply-again", {}),
            ("looked-at", {"looked_at-note": "Resent from Stripe's dashboard"}),
        ):
            refused = client.post(f"{page}/{step}", data={**form, "confirmed": "yes"})
            assert refused.status_code == 403
    db.session().expire_all()
    assert db.session().get(StripeEvent, stored.id).kind == "failed"
    for endpoint in (
        "billing_console.apply_stripe_event_again",
        "billing_console.mark_stripe_event_looked_at",
    ):
        declared = access.declaration_for(app, endpoint)
        returns = access.declaration_for(app, "billing_console.return_refund")
        assert declared is not None
        assert returns is not None
        assert (declared.vendor, declared.staff) == (False, returns.staff)
    listed = signed_in(app.test_client(), billing_staff).get(page)
    assert "Apply again" in listed.get_data(as_text=True)


def test_the_deliveries_not_read_are_listed_for_billing_readers_and_marked_by_billing_staff(
    app: Flask,
    clerk: User,
    billing_staff: Any,
    licensing_staff: Any,
    signed_in: Callable[..., FlaskClient],
) -> None:
    """Round 60 (stripe60): the list of signed Stripe deliveries not read is read by the
    staff who read *Stripe's events*; marking a body looked at is billing staff's, as a
    failed event's mark is: licensing staff and a licensee's billing member are refused
    it (403), nothing recorded."""
    from licensing.audit import services as audit
    from licensing.billing.models import UNREADABLE_ACTION, UNREADABLE_LOOKED_AT_ACTION

    digest = "cd" * 32
    audit.record_event(
        db.session(),
        UNREADABLE_ACTION,
        digest,
        after={"bytes": 3, "start": "abc", "why": "not JSON"},
        actor=None,
    )
    db.session().commit()
    listed = "/console/stripe-events/unreadable"
    mark = f"{listed}/{digest}/looked-at"
    assert signed_in(app.test_client(), clerk).get(listed).status_code == 403
    reader = signed_in(app.test_client(), licensing_staff)
    assert reader.get(listed).status_code == 200
    assert "Mark looked at" not in reader.get(listed).get_data(as_text=True)
    for staff in (clerk, licensing_staff):
        refused = signed_in(app.test_client(), staff).post(
            mark, data={"delivery-note": "A test of ours", "confirmed": "yes"}
        )
        assert refused.status_code == 403
    marks = select(func.count()).where(AuditEvent.action == UNREADABLE_LOOKED_AT_ACTION)
    assert db.session().scalar(marks) == 0
    for endpoint, like in (
        ("billing_console.unreadable_deliveries", "billing_console.stripe_events"),
        ("billing_console.mark_delivery_looked_at", "billing_console.mark_stripe_event_looked_at"),
        # Round 61 (payments61): a PaymentIntent Stripe does not know, marked looked at.
        ("billing_console.mark_intent_looked_at", "billing_console.mark_stripe_event_looked_at"),
        # Round 65 (ops65): the reports of PaymentIntents Stripe did not know withdrawn.
        (
            "billing_console.withdraw_unknown_intents",
            "billing_console.mark_stripe_event_looked_at",
        ),
    ):
        declared = access.declaration_for(app, endpoint)
        alike = access.declaration_for(app, like)
        assert declared is not None
        assert alike is not None
        assert (declared.vendor, declared.staff) == (alike.vendor, alike.staff)
    assert "Mark looked at" in signed_in(app.test_client(), billing_staff).get(listed).get_data(
        as_text=True
    )
