"""Round 23: an organization's last year walked (docs/journeys.md, "Round 23: an
organization's last year walked"): what a suspended and a closed organization is
told, what it may still do (pay, file, read), the runs that stop asking it to renew,
and what someone of a closed organization who signs up again is told."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.accounts import services as accounts
from licensing.accounts.models import Organization
from licensing.actors import Actor
from licensing.agreements import services as agreement_services
from licensing.agreements import views as agreement_views
from licensing.agreements.models import Agreement, Application
from licensing.billing.models import Invoice
from licensing.errors import Conflict
from licensing.mail.models import OutboxMessage
from tests.integration.agreements.conftest import AUTO_USE, NOW, STAFF_USE
from tests.support import factories
from tests.support.agreements import accept, agreement_of, issued_agreement, upfront_invoice
from tests.support.billing import credited, paid_offline, refunded_offline
from tests.support.exports import exporter
from tests.support.factories import bearer
from tests.support.settings import issuing

# 10 end users: below the rule's minimum, so an up-front invoice is issued.
SMALL_USE = {**AUTO_USE, "product_name": "Scrubber Lite", "quantity": {"end_users": 10}}
AFTER_Q1 = datetime(2027, 4, 2, 15, 0, tzinfo=UTC)


def _active(apply: Callable[..., Application], vendor: Any, use: Any = AUTO_USE) -> Agreement:
    return accept(agreement_of(apply(vendor, use)), vendor, now=NOW)


def _owing(apply: Callable[..., Application], vendor: Any) -> tuple[Agreement, Invoice]:
    """An active agreement of `vendor`'s with its up-front invoice, unpaid."""
    agreement = _active(apply, vendor, SMALL_USE)
    invoice = upfront_invoice(agreement)
    assert invoice is not None
    return agreement, invoice


def _standing(vendor: Any, action: str, reason: str = "The vendor stopped paying.") -> None:
    organization = db.session().get(Organization, vendor.organization_id)
    assert organization is not None
    accounts.change_standing(db.session(), organization, action, reason=reason, actor=Actor.SYSTEM)
    db.session().commit()


def _last_email(subject: str) -> OutboxMessage:
    message = (
        db.session()
        .scalars(
            select(OutboxMessage)
            .where(OutboxMessage.subject.contains(subject))
            .order_by(OutboxMessage.id.desc())
        )
        .first()
    )
    assert message is not None
    return message


def _words(text: str) -> str:
    return " ".join(text.split())


def test_a_closed_organization_is_told_its_account_is_not_reopened_and_how_to_license_again(
    app: Any, vendor: Any
) -> None:
    _standing(vendor, "close")
    organization = db.session().get(Organization, vendor.organization_id)
    assert organization is not None
    reason = accounts.standing_block_reason(organization)
    assert reason is not None
    assert "reopen" not in reason.replace("is not reopened", "")
    assert "a closed account is not reopened" in reason
    assert "To license again, sign up a new organization" in reason
    body = _words(_last_email("standing is now closed").body_text)
    assert "What it owes is still due: sign in to pay open invoices" in body
    assert "a closed account is not reopened" in body
    # Money owed to it is not closed over either (the closing list names the refund).
    assert "Any refund the office owes it on a credit note is still sent." in body


def test_a_closed_organization_still_reads_pays_and_files_what_it_owes(
    client: FlaskClient, apply: Callable[..., Application], vendor: Any
) -> None:
    agreement, invoice = _owing(apply, vendor)
    _standing(vendor, "close")
    headers = bearer(vendor)
    with time_machine.travel(AFTER_Q1, tick=False):
        agreements = client.get(f"/api/v1/agreements/{agreement.id}", headers=headers)
        invoices = client.get(f"/api/v1/invoices/{invoice.id}", headers=headers)
        filed = client.post(
            f"/api/v1/agreements/{agreement.id}/royalty-reports/2027-01-01",
            json={"attest": True, "rows": []},
            headers=headers,
        )
    assert agreements.status_code == 200
    assert invoices.status_code == 200
    assert filed.status_code == 201


@pytest.mark.parametrize("action", ["suspend", "close", "mark_pending_payment"])
def test_an_organization_out_of_good_standing_is_not_asked_to_renew_what_it_cannot(
    apply: Callable[..., Application], vendor: Any, action: str
) -> None:
    # The 60-day email told a closed organization to renew from the agreement's page,
    # whose renewal it refuses.
    _active(apply, vendor)
    _standing(vendor, action)
    report = agreement_services.expire(now=datetime(2027, 11, 1, 15, 0, tzinfo=UTC))
    assert report.ending_reminded == []


def test_a_reinstated_organization_is_asked_to_renew_on_the_next_run_in_time(
    apply: Callable[..., Application], vendor: Any
) -> None:
    agreement = _active(apply, vendor)
    _standing(vendor, "suspend")
    assert (
        agreement_services.expire(now=datetime(2027, 11, 1, 15, 0, tzinfo=UTC)).ending_reminded
        == []
    )
    _standing(vendor, "reinstate", reason="Settled.")
    later = agreement_services.expire(now=datetime(2027, 11, 5, 15, 0, tzinfo=UTC))
    assert later.ending_reminded == [agreement.number]


def test_signing_up_again_with_a_closed_organizations_address_says_what_to_do(
    client: FlaskClient, vendor: Any
) -> None:
    _standing(vendor, "close")
    organization = db.session().get(Organization, vendor.organization_id)
    assert organization is not None
    accounts.sign_up(
        organization=factories.organization_fields(legal_name="Fresh Start Software LLC"),
        email=vendor.email,
        password="a long enough passphrase 42",
        full_name="Vera Vendor",
    )
    body = _words(_last_email("Confirm your email address").body_text)
    assert (
        f"This address's account belongs to {organization.legal_name}, whose account the "
        "licensing office closed; a closed account is not reopened."
    ) in body
    assert "sign up with an email address no account uses" in body


def test_an_application_of_a_closed_organization_is_not_approved_and_may_be_rejected(
    apply: Callable[..., Application], vendor: Any, licensing_staff: Any
) -> None:
    application = apply(vendor, STAFF_USE)
    assert application.state == "submitted"
    # Closed as before round 48: closing now withdraws its undecided applications
    # (test_round48_organizations_that_left.py), so one is left only by a closing
    # before then (or a rejection's reconsideration granted after).
    organization = db.session().get(Organization, vendor.organization_id)
    assert organization is not None
    organization.standing = "closed"
    db.session().commit()
    staff = Actor.of(accounts.principal_for(licensing_staff))
    with pytest.raises(Conflict) as refused:
        agreement_services.approve(application.id, staff, policy=issuing(), now=NOW)
    assert f"closed, so {application.reference} is not approved (reject it" in (
        refused.value.detail
    )
    db.session().rollback()
    rejected = agreement_services.reject(
        application.id, "The organization's account is closed.", staff, now=NOW
    )
    assert rejected.state == "rejected"


def test_an_agreement_issued_before_closing_cannot_be_accepted_after(
    app: Any, vendor: Any, licensing_staff: Any, example_card: str
) -> None:
    agreement = issued_agreement(vendor, licensing_staff, AUTO_USE, now=NOW)
    _standing(vendor, "close")
    with pytest.raises(Conflict) as refused:
        accept(agreement, vendor, now=NOW)
    assert f"closed, so it cannot accept agreement {agreement.number}" in refused.value.detail
    db.session().rollback()
    assert db.session().get(Agreement, agreement.id).state == "issued"  # type: ignore[union-attr]


def test_an_application_of_a_suspended_organization_waits_for_its_reinstatement(
    apply: Callable[..., Application], vendor: Any, licensing_staff: Any
) -> None:
    application = apply(vendor, STAFF_USE)
    _standing(vendor, "suspend", "The office is auditing its reports.")
    staff = Actor.of(accounts.principal_for(licensing_staff))
    with pytest.raises(Conflict) as refused:
        agreement_services.approve(application.id, staff, policy=issuing(), now=NOW)
    assert f"suspended, so {application.reference} is not approved" in refused.value.detail
    assert "until licensing staff reinstate it" in refused.value.detail
    db.session().rollback()
    _standing(vendor, "reinstate")
    approved = agreement_services.approve(application.id, staff, policy=issuing(), now=NOW)
    assert approved.state == "approved"


def test_an_agreement_issued_before_suspending_is_accepted_only_once_reinstated(
    app: Any, vendor: Any, licensing_staff: Any, signed_in: Any, example_card: str
) -> None:
    agreement = issued_agreement(vendor, licensing_staff, AUTO_USE, now=NOW)
    _standing(vendor, "suspend", "The office is auditing its reports.")
    page = _text(signed_in(app.test_client(), vendor).get(f"/portal/agreements/{agreement.id}"))
    assert "is suspended, so it cannot accept this agreement until licensing staff" in page
    assert "Accept the agreement" not in page
    with pytest.raises(Conflict) as refused:
        accept(agreement, vendor, now=NOW)
    assert f"suspended, so it cannot accept agreement {agreement.number}" in refused.value.detail
    db.session().rollback()
    _standing(vendor, "reinstate")
    assert accept(agreement, vendor, now=NOW).state == "active"


def test_a_suspended_organization_is_told_what_waits_and_what_is_still_due_by_role(
    app: Any, vendor: Any
) -> None:
    # "While suspended, your organization cannot apply for licenses": nothing of the
    # acceptance it is refused, nor of the invoices and reports still due.
    _standing(vendor, "suspend", "The office is auditing its reports.")
    told = {
        message.to[0]: _words(message.body_text)
        for message in db.session().scalars(
            select(OutboxMessage).where(OutboxMessage.template == "standing_changed")
        )
    }
    organization = db.session().get(Organization, vendor.organization_id)
    assert organization is not None
    filer, payer = told[vendor.email], told[organization.billing_email]
    waits = "cannot apply for licenses or accept agreements"
    assert waits in filer
    assert waits in payer
    assert "an agreement waiting for your acceptance wait until the licensing office" in filer
    assert "file royalty reports from the Royalty reports page" in filer
    assert "pay open invoices from the Invoices page, or by the link" in payer
    assert "Royalty reports page" not in payer


def _closing_page(signed_in: Any, app: Any, staff_user: Any, organization_id: int) -> str:
    console = signed_in(app.test_client(), staff_user)
    asked = console.post(
        f"/console/organizations/{organization_id}/standing",
        data={"action": "close", "reason": "The licensee stopped trading."},
    )
    assert asked.status_code == 200
    return _text(asked)


def _text(page: Any) -> str:
    """A page's words without its markup."""
    return _words(re.sub(r"<[^>]+>", " ", html.unescape(page.get_data(as_text=True))))


def test_the_closing_confirmation_lists_what_stays_open_with_the_organization(
    apply: Callable[..., Application],
    vendor: Any,
    licensing_staff: Any,
    signed_in: Any,
    app: Any,
) -> None:
    # It said only that the organization could no longer apply: an unpaid invoice,
    # an unfiled report and an undecided application were closed over unseen.
    agreement, invoice = _owing(apply, vendor)
    waiting = apply(vendor, STAFF_USE)
    with time_machine.travel(AFTER_Q1, tick=False):
        page = _closing_page(signed_in, app, licensing_staff, vendor.organization_id)
    assert "Still open with it, and still its business after closing:" in page
    assert f"Invoice {invoice.number}: 815.00 USD to pay (due {invoice.due_date})." in page
    assert (
        f"Royalty report of {agreement.number} for 2027-01-01 to 2027-03-31 not filed "
        "(due 2027-04-30)."
    ) in page
    assert f"Agreement {agreement.number} is in force until 2027-12-31" in page
    # Round 48: closing withdraws it, and the confirmation says so.
    assert f"Application {waiting.reference} is submitted: closing withdraws it" in page


def test_the_closing_confirmation_says_when_nothing_is_open(
    vendor: Any, licensing_staff: Any, signed_in: Any, app: Any
) -> None:
    page = _closing_page(signed_in, app, licensing_staff, vendor.organization_id)
    assert "Nothing is open with it: no money either way" in page


def test_a_closed_organizations_console_page_keeps_listing_what_is_still_open(
    apply: Callable[..., Application],
    vendor: Any,
    licensing_staff: Any,
    signed_in: Any,
    app: Any,
) -> None:
    _, invoice = _owing(apply, vendor)
    _standing(vendor, "close")
    console = signed_in(app.test_client(), licensing_staff)
    text = _text(console.get(f"/console/organizations/{vendor.organization_id}"))
    assert "Still open after closing" in text
    assert f"Invoice {invoice.number}: 815.00 USD to pay" in text
    # A payment that arrives after closing is recorded as any other, and settles it.
    payment = paid_offline(invoice.id, "815.00", "WIRE-AFTER-CLOSING")
    assert payment.invoice.state == "paid"
    text = _text(console.get(f"/console/organizations/{vendor.organization_id}"))
    assert f"Invoice {invoice.number}: " not in text


@pytest.mark.parametrize("action", ["suspend", "close"])
def test_the_dashboard_asks_no_renewal_out_of_good_standing_nor_an_acceptance_it_is_refused(
    client: FlaskClient,
    signed_in: Callable[..., FlaskClient],
    apply: Callable[..., Application],
    vendor: Any,
    licensing_staff: Any,
    monkeypatch: Any,
    action: str,
) -> None:
    # It listed "renew it to stay licensed" and "waits for your acceptance" to an
    # organization whose renewal and acceptance are refused.
    ending = _active(apply, vendor)
    issued = issued_agreement(vendor, licensing_staff, AUTO_USE, now=NOW)
    _standing(vendor, action)
    signed_in(client, vendor)
    monkeypatch.setattr(
        agreement_views, "utcnow", lambda: datetime(2027, 11, 15, 15, 0, tzinfo=UTC)
    )
    page = _text(client.get("/portal/"))
    assert f"Agreement {ending.number} ends on 2027-12-31: renew it" not in page
    assert f"Agreement {issued.number} waits for your acceptance" not in page


def test_money_after_closing_is_in_finances_exports_and_the_closed_page_until_refunded(
    client: FlaskClient,
    apply: Callable[..., Application],
    vendor: Any,
    licensing_staff: Any,
    billing_staff: Any,
    signed_in: Any,
    app: Any,
) -> None:
    # A payment that arrives after closing, and a credit note that then owes money
    # back: finance reads both, and the office sees the refund it still owes.
    _, invoice = _owing(apply, vendor)
    _standing(vendor, "close")
    payment = paid_offline(invoice.id, "815.00", "WIRE-AFTER-CLOSING")
    credit = credited(invoice.id, "100.00", "Ended early by agreement with the office.")
    payments = exporter(client, billing_staff, "payments")().decode()
    credit_notes = exporter(client, billing_staff, "credit_notes")().decode()
    assert payment.reference in payments
    assert credit.number in credit_notes
    console = signed_in(app.test_client(), licensing_staff)
    page = _text(console.get(f"/console/organizations/{vendor.organization_id}"))
    assert f"Credit note {credit.number}: 100.00 USD to refund to the licensee." in page
    refunded_offline(credit.id, "100.00", "WIRE-REFUND-1")
    page = _text(console.get(f"/console/organizations/{vendor.organization_id}"))
    assert f"Credit note {credit.number}: " not in page
