"""Every kind of email the service sends, read as its recipient reads it (round 55):
each driven by the step that sends it, delivered by the outbox to a real SMTP server
(aiosmtpd on loopback), parsed, read (tests/support/emails.py: its subject, sender,
text part, amounts, dates, attachments) and its every link followed with the test
client as the recipient, signed in where the link needs it.

A kind of email added to `templates/emails/` fails here until the walk sends it (or
it is listed in `ELSEWHERE` with the test that does), so no kind goes out unread.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from email.message import EmailMessage
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.accounts import services as accounts
from licensing.accounts.models import Organization, User
from licensing.accounts.services import passkeys as passkey_services
from licensing.accounts.views import two_step_keys
from licensing.actors import Actor
from licensing.billing import services as billing
from licensing.billing.models import Invoice
from licensing.calendar import office_date
from licensing.finance import services as finance
from licensing.mail import services as mail
from licensing.mail.models import OutboxMessage
from licensing.permissions import services as permissions
from licensing.royalties import services as royalties
from tests.integration.agreements.conftest import AUTO_USE, DEVELOPMENT_USE, NOW, STAFF_USE
from tests.integration.billing.dispute_support import charge_of, lost, staff_step
from tests.integration.billing.refund_support import paid_by_card
from tests.integration.billing.stripe_support import flagged_card_payment, stripe_config
from tests.integration.permissions.conftest import request_input
from tests.integration.royalties.conftest import AFTER, MID_MAY, flagged_by_services
from tests.support import factories
from tests.support.agreements import make_active_agreement, up_front_invoice
from tests.support.billing import credited, paid_offline, refunded_offline, reversed_offline
from tests.support.emails import kinds, paths, problems, text_of
from tests.support.factories import DEFAULT_PASSWORD, billing_clerk, staff_actor
from tests.support.passkey_records import passkey_id
from tests.support.passkeys import SoftAuthenticator, add_passkey, sign_in_with_passkey
from tests.support.servers import LocalStripe, SMTPServer
from tests.support.settings import delivery, permission_sla_days, standing_days
from tests.support.two_step import turn_on

PUBLIC_URL = "https://licensing.example.test"
SENDER = "CPT Licensing <licensing@example.test>"

# Kinds this walk does not send, each with the tests that send it: a lost dispute's
# excess sent back needs a remainder accepted first. The list only shrinks: a new kind
# belongs in the walk.
ELSEWHERE = {
    "payment_excess_returned": "tests/integration/billing/test_remainder_excess.py (localstripe)",
}


# A secret in a link: a signed token's characters, long enough to be one.
SECRET = re.compile(r"[A-Za-z0-9_-]{32,}")
# Links that do what they say when opened, and then show another page.
CONFIRMING = ("/verify-email/", "/permissions/confirm/")
# Whom each kind is for, where the kind says (docs/accounts.md, "Who receives which
# email"): money to the organization's billing contact, queues to the office.
TO_BILLING_CONTACT = {
    "invoice_issued",
    "invoices_overdue",
    "late_fees_issued",
    "invoice_credit_note",
    "invoice_voided",
    "invoice_link_renewed",
    "payment_reversed",
    "payment_moved",
    "payment_received",
    "refund_sent",
    "payment_given_back",
    "dispute_lost",
    "statement_of_account",
}
# Besides the billing contact, the vendor user who paid by card hears of it.
PAYER_TOO = {"payment_received", "payment_given_back", "refund_sent"}
TO_STAFF = {
    "application_waiting",
    "permission_staff_notice",
    "royalty_report_flagged",
    "payment_flagged",
    "dispute_opened",
    "dispute_closed",
    "staff_welcome",
}
# Kinds about an organization as a whole, which a reader may receive for several.
NAMES_ITS_ORGANIZATION = {
    "standing_changed",
    "statement_of_account",
    "late_fees_issued",
    "billing_contact_changed",
    "two_step_required",
    "role_changed",
    "access_removed",
    "access_restored",
    "invitation",
    "invitation_existing_account",
    "account_moved",
}


@pytest.fixture
def config_changes(smtp_server: SMTPServer, localstripe: LocalStripe) -> dict[str, Any]:
    # A public address unlike the test client's host: a link built from the request
    # (not PUBLIC_URL) would show here.
    return {
        **stripe_config(localstripe),
        "smtp_url": smtp_server.url,
        "public_url": PUBLIC_URL,
        "auth_rate_limit": "off",
    }


def _actor(user: User) -> Actor:
    return Actor.of(accounts.principal_for(user))


def _accounts(app: Flask, session: Any, admin: User) -> None:
    """Sign-up, invitations, resets, roles, access, the billing contact, staff."""
    accounts.sign_up(
        email="founder@tidewater.example",
        password=DEFAULT_PASSWORD,
        full_name="Rosa Lindqvist",
        organization=factories.organization_fields(billing_email="ap@tidewater.example"),
    )
    accounts.sign_up(
        email=admin.email,
        password=DEFAULT_PASSWORD,
        full_name="Someone Else",
        organization=factories.organization_fields(),
    )
    accounts.request_password_reset(admin.email)
    # Locked after five wrong passwords in a row.
    locked = factories.make_vendor(session)
    for _ in range(5):
        refused = app.test_client().post(
            "/sign-in", data={"email": locked.email, "password": "not-the-password"}
        )
        assert refused.status_code == 422, refused.status_code
    accounts.request_password_reset("nobody@tidewater.example")
    actor = _actor(admin)
    accounts.invite_member(admin.organization_id, "newcomer@northwind.example", actor)
    elsewhere = factories.make_vendor(session)
    accounts.invite_member(admin.organization_id, elsewhere.email, actor)
    colleague = factories.make_vendor(session, admin.organization)
    accounts.set_organization_role(colleague.id, "administrator", actor)
    accounts.set_organization_role(colleague.id, "member", actor)
    accounts.set_user_active(colleague.id, False, actor)
    accounts.set_user_active(colleague.id, True, actor)
    accounts.create_staff_user(
        email="new.clerk@licensing-office.example",
        roles=("billing",),
        full_name="Noor Clerk",
        actor=staff_actor(("admin",)),
    )
    # Two-step sign-in turned on by its owner, and off by the office.
    careful = factories.make_vendor(session, admin.organization)
    codes = turn_on(careful)
    # A recovery code spent, a browser remembered and forgotten by the office.
    accounts.second_step(careful.id, codes[0], two_step_keys())
    accounts.remember_browser(careful.id, "Firefox on a laptop", 30)
    accounts.forget_browsers_for(staff_actor(("admin",)), careful.id)
    accounts.turn_off_for(staff_actor(("admin",)), careful.id, "Lost the phone; called back.")


def _billing(admin: User, invoice_for: Callable[..., Invoice], reader: Reader) -> None:
    """Voids, returned payments, overdue reminders, late fees and the hold, the
    monthly statement, a withdrawn link, the finance report."""
    clerk = billing_clerk()
    void = invoice_for(admin, ("300.00",))
    billing.void_invoice(void.id, reason="Issued in error", actor=clerk)
    returned = invoice_for(admin, ("1200.00",))
    payment = paid_offline(returned.id, "1200.00", "CHK 5521", method="check")
    now = datetime.now(UTC)
    reversed_offline(payment.id, "Bounced.", returned_on=office_date(now), now=now)
    # Round 68: a wire recorded against the wrong invoice, moved to the one it pays.
    # Issued yesterday: a payment is not moved to an invoice issued after it came.
    yesterday = now - timedelta(days=1)
    misapplied = invoice_for(admin, ("400.00",), at=yesterday)
    meant = invoice_for(admin, ("400.00",), at=yesterday)
    wrong_wire = paid_offline(misapplied.id, "400.00", "W-WRONG")
    billing.move_offline_payment(
        wrong_wire.id,
        to_invoice=meant.number,
        reason="Typed the number of the invoice before it.",
        standing_days=standing_days(),
        actor=clerk,
    )
    paid_offline(misapplied.id, "400.00", "W-RIGHT")
    reader.read()  # before its links are withdrawn
    billing.withdraw_invoice_links(returned.id, reason="Forwarded by mistake", actor=clerk)
    invoice_for(admin, ("500.00",))  # a second overdue: its late fees named in one email
    billing.process_overdue(standing_days=standing_days(), now=datetime(2027, 4, 1, 15, tzinfo=UTC))
    billing.send_monthly_statements(date(2027, 3, 1), now=datetime(2027, 4, 2, 15, tzinfo=UTC))
    finance.send_monthly_report(
        finance.ReportOf(month=date(2027, 3, 1), billing_issuer="CPT Licensing Office"),
        "manager@licensing-office.example",
        actor=staff_actor(("billing",)),
    )


def _cards(
    client: FlaskClient,
    localstripe: LocalStripe,
    invoice_for: Callable[..., Invoice],
    reader: Reader,
) -> None:
    """A card payment flagged and given back; one paid, disputed and lost."""
    payer = factories.make_vendor(db.session())
    clerk = factories.make_staff(db.session(), roles=("billing",))
    _invoice, payment = flagged_card_payment(
        client, payer, localstripe, invoice_for, received=29999
    )
    reader.read()
    given = staff_step(
        client, clerk, payment, "give-back", "Not what was asked: the card is paid back."
    )
    assert given.status_code == 200, given.get_data(as_text=True)
    reader.read()
    invoice = invoice_for(payer, ("250.00",))
    paid = paid_by_card(client, payer, localstripe, invoice)
    lost(client, paid, charge_of(localstripe, paid), amount=25000, at=datetime.now(UTC))


def _royalties(reviewer: User) -> None:
    """A royalty report flagged, one sent back for correction, one due and overdue."""
    session = db.session()
    vendor = factories.make_vendor(session)
    report_id = flagged_by_services(vendor, reviewer, AUTO_USE)
    royalties.review(
        report_id, "request_correction", _actor(reviewer), note="Clinic B is missing.", now=AFTER[2]
    )
    late = factories.make_vendor(session)
    make_active_agreement(late, reviewer, AUTO_USE, now=NOW)
    royalties.send_reminders(standing_days=standing_days(), now=MID_MAY)


def _permissions() -> None:
    """An educational request confirmed, asked about, granted; one withdrawn; one
    left unanswered until it expires."""
    requests = []
    for email in (
        "lena.ortiz@cedar-ridge.example",
        "omar@cedar-ridge.example",
        "ida@cedar-ridge.example",
    ):
        permissions.submit_request(request_input(requester_email=email))
        message = (
            db.session()
            .scalars(
                select(OutboxMessage)
                .where(OutboxMessage.template == "permission_confirm")
                .order_by(OutboxMessage.id.desc())
            )
            .first()
        )
        assert message is not None
        raw = message.body_text.split("/permissions/confirm/", 1)[1].split()[0]
        requests.append(permissions.confirm_email(raw, sla_days=permission_sla_days()))
    granted, withdrawn, expiring = requests
    office = staff_actor(("licensing",))
    permissions.ask_for_info(granted.id, "Which course is it for?", office)
    permissions.answer(permissions.status_token(granted), "Unit 4 of the certificate course.")
    today = office_date(datetime.now(UTC))
    permissions.approve(
        granted.id, office, valid_from=today, valid_until=today + timedelta(days=60)
    )
    permissions.withdraw(permissions.status_token(withdrawn), reason="No longer needed")
    permissions.ask_for_info(expiring.id, "Which unit?", office)
    permissions.expire_due(now=datetime.now(UTC) + timedelta(days=40))


def _people(session: Any, admin: User) -> None:
    """A changed address (`email_changed` once the reader opens the confirmation),
    two-step sign-in required, an account moved, signed out everywhere, an API token
    about to expire."""
    person = factories.make_vendor(session, admin.organization)
    link = accounts.request_email_change(
        _actor(person), "robin.new@northwind.example", DEFAULT_PASSWORD
    )
    assert link is not None
    accounts.require_for_organization(_actor(admin), admin.organization_id, True)
    elsewhere = factories.make_vendor(session)
    accounts.move_user(
        person.id,
        elsewhere.organization_id,
        "Joined them as a consultant.",
        staff_actor(("admin",)),
        leaving=admin.organization_id,
    )
    accounts.sign_out_for(staff_actor(("admin",)), admin.id)
    syncing = factories.make_vendor(session)
    accounts.create_api_token(syncing.id, "finance sync", actor=_actor(syncing))
    accounts.remind_expiring_tokens(now=datetime.now(UTC) + timedelta(days=85))


def _passkeys(app: Flask, session: Any, admin: User) -> None:
    """Passkeys added, one refused as a copy, removed by their owner, by the
    organization's administrator and by the office."""
    person = factories.make_vendor(session, admin.organization)
    browser = app.test_client()
    signed = browser.post("/sign-in", data={"email": person.email, "password": DEFAULT_PASSWORD})
    assert signed.status_code == 302
    laptop, phone, tablet = (
        SoftAuthenticator(origin=PUBLIC_URL, rp_id=PUBLIC_URL.split("//")[1]) for _ in range(3)
    )
    for device, name in ((laptop, "Laptop"), (phone, "Phone"), (tablet, "Tablet")):
        assert add_passkey(browser, device, name).status_code == 302
    assert sign_in_with_passkey(app.test_client(), laptop, count_step=5).status_code == 302
    assert sign_in_with_passkey(app.test_client(), laptop, count_step=-2).status_code != 302
    passkey_services.remove_passkey(_actor(person), passkey_id(person, "Tablet"))
    passkey_services.remove_member_passkeys(
        _actor(admin), person.id, "Phone left on a train.", passkey_id=passkey_id(person, "Phone")
    )
    passkey_services.remove_passkeys_for(
        staff_actor(("admin",)), person.id, "Laptop stolen; called back."
    )


def _billing_contact(admin: User, email: str) -> None:
    organization = db.session().get(Organization, admin.organization_id)
    assert organization is not None
    accounts.update_organization(
        organization.id,
        {"billing_contact_name": "Bea Payne", "billing_email": email},
        _actor(admin),
    )


class Reader:
    """The recipients of the walk's emails: each stage's mail delivered and read as it
    arrives (a link is followed the day it is sent: a later step may withdraw it, as
    changing the billing contact does an invoice's)."""

    def __init__(self, app: Flask, mailbox: SMTPServer) -> None:
        self.app = app
        self.mailbox = mailbox
        self.read_ids: set[int] = set()
        self.sent: dict[str, list[EmailMessage]] = {}
        self.said: list[str] = []
        self.secrets = 0  # secret links checked

    def read(self) -> None:
        report = mail.deliver_due(delivery(), now=datetime(2099, 1, 1, tzinfo=UTC), limit=1000)
        assert report.failed == report.deferred == 0, report.errors
        queued = [
            message
            for message in db.session().scalars(select(OutboxMessage).order_by(OutboxMessage.id))
            if message.id not in self.read_ids
        ]
        received = {
            str(m["Message-ID"]): m for m in self.mailbox.wait_for(len(self.read_ids) + len(queued))
        }
        users = {user.email: user for user in db.session().scalars(select(User))}
        organizations = list(db.session().scalars(select(Organization)))
        contacts = {organization.billing_email for organization in organizations}
        for message in queued:
            self.read_ids.add(message.id)
            email = received[str(message.message_id)]
            self.sent.setdefault(message.template, []).append(email)
            kind = message.template
            self.said += [
                f"{kind}: {problem}"
                for problem in problems(email, public_url=PUBLIC_URL, sender=SENDER)
            ]
            payer = kind in PAYER_TOO and all(
                a in users and not users[a].is_staff for a in message.to
            )
            if kind in TO_BILLING_CONTACT and not set(message.to) & contacts and not payer:
                self.said.append(f"{kind}: to {message.to}, not a billing contact")
            if kind in TO_STAFF and not all(users[a].is_staff for a in message.to if a in users):
                self.said.append(f"{kind}: to {message.to}, not only the office's staff")
            subject = str(email["Subject"])
            if kind in NAMES_ITS_ORGANIZATION and not any(
                organization.legal_name in subject for organization in organizations
            ):
                self.said.append(f"{kind}: {subject!r} names no organization")
            # A link's secret is the recipient's alone: the console's Outbox shows staff
            # the message masked, and once sent the outbox keeps no live copy.
            db.session().refresh(message)
            kept = message.display_text + message.body_text
            for secret in SECRET.findall(" ".join(paths(email, PUBLIC_URL))):
                self.secrets += 1
                if secret in kept:
                    self.said.append(
                        f"{kind}: the outbox keeps the secret of a link ({secret[:6]}...)"
                    )
            recipient = next((users[a] for a in message.to if a in users), None)
            for path in paths(email, PUBLIC_URL):
                status, ended = self.open(path, recipient)
                asked = path.split("?")[0] or "/"
                # A confirmation link confirms when opened, then shows the portal.
                moved = ended != asked and not asked.startswith(CONFIRMING)
                if status != 200 or (moved and not ended.startswith("/sign-in")):
                    self.said.append(f"{kind}: {path} answers {status} at {ended} to {message.to}")

    def open(self, path: str, recipient: User | None) -> tuple[int, str]:
        """`path` opened as its recipient: without signing in first, then signed in if
        the page asks for it; the final status and where it ended. A page a secret
        link opens sends no referrer to another site (the secret would go with it)."""
        client = self.app.test_client()
        response = client.get(path, follow_redirects=True)
        if response.request.path.startswith("/sign-in") and recipient is not None:
            signed = client.post(
                "/sign-in", data={"email": recipient.email, "password": DEFAULT_PASSWORD}
            )
            assert signed.status_code == 302, (path, recipient.email)
            response = client.get(path, follow_redirects=True)
        assert response.headers.get("Referrer-Policy") == "same-origin", path
        return response.status_code, response.request.path


@pytest.mark.usefixtures("in_december_2026")  # the 2027 terms and cards ahead, always
def test_every_kind_of_email_reads_right_to_its_recipient(
    app: Flask,
    mailbox: SMTPServer,
    example_card: str,
    invoice_for: Callable[..., Invoice],
    localstripe: LocalStripe,
) -> None:
    session = db.session()
    reader = Reader(app, mailbox)
    # A name beyond ASCII (encoded in headers, RFC 2047) ending in a full stop.
    admin = factories.make_vendor(
        session,
        factories.make_organization(session, legal_name="Ærøskøbing Médical Systèmes S.A."),
        full_name="Søren Kierkegård",
    )
    reviewer = factories.make_staff(session, roles=("licensing",))
    factories.make_staff(session, roles=("billing",))
    _accounts(app, session, admin)
    reader.read()

    # Applications, approvals, agreements to accept, the up-front invoice; one the
    # office reviews first.
    agreement = make_active_agreement(admin, reviewer, DEVELOPMENT_USE, now=NOW)
    invoice = up_front_invoice(agreement)
    make_active_agreement(admin, reviewer, STAFF_USE, now=NOW)
    # Receipts, credit notes, refunds.
    paid_offline(invoice.id, "1000.00", "W-1")
    paid_offline(invoice.id, str(invoice.total - Decimal("1000.00")), "W-2")
    credit = credited(invoice.id, "250.00", "Seat removed")
    refunded_offline(credit.id, "250.00", "C-1", method="check")
    reader.read()
    _billing(admin, invoice_for, reader)
    reader.read()
    _cards(app.test_client(), localstripe, invoice_for, reader)
    reader.read()
    _royalties(reviewer)
    reader.read()
    _permissions()
    reader.read()
    _people(session, admin)
    reader.read()
    _passkeys(app, session, admin)
    reader.read()
    # Last: a new billing contact withdraws the links sent before.
    _billing_contact(admin, "payables@northwind.example")
    reader.read()
    assert reader.said == [], "\n".join(reader.said)
    assert "S.A.." not in "".join(text_of(m) for kind in reader.sent.values() for m in kind)
    assert reader.secrets > 20  # the links with a secret were read
    print("MISSING", kinds() - set(reader.sent) - set(ELSEWHERE))
    assert kinds() - set(reader.sent) - set(ELSEWHERE) == set()
