"""A change of standing, read by each of its recipients: those who file royalty
reports and pay are told to do both, those who only pay (billing members, the
billing contact) to pay and whom to ask for the reports."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select

from licensing import db
from licensing.access import BILLING, MEMBER
from licensing.accounts import services
from licensing.accounts.models import Organization, User
from licensing.actors import Actor
from licensing.mail.models import OutboxMessage
from tests.support import factories

HOLD = "Royalty report for 2027-Q1 is 45 days overdue."


def _organization(user: User) -> Organization:
    found = db.session().get(Organization, user.organization_id, populate_existing=True)
    assert found is not None
    return found


def _held(user: User, action: str = "mark_pending_payment") -> dict[str, str]:
    """Hold the user's organization at pending payment (or take `action`): each
    recipient's message."""
    services.change_standing(
        db.session(), _organization(user), action, reason=HOLD, actor=Actor.SYSTEM
    )
    db.session().commit()
    messages = db.session().scalars(
        select(OutboxMessage).where(OutboxMessage.template == "standing_changed")
    )
    return {address: message.body_text for message in messages for address in message.to}


def test_a_billing_member_is_told_to_pay_and_whom_to_ask_for_the_overdue_report(
    app: Flask, vendor: User
) -> None:
    clerk = factories.make_vendor(db.session(), _organization(vendor), role=BILLING)
    member = factories.make_vendor(db.session(), _organization(vendor), role=MEMBER)
    contact = _organization(vendor).billing_email

    told = _held(vendor)

    assert set(told) == {vendor.email, member.email, clerk.email, contact}
    for payer in (clerk.email, contact):
        assert "Pay overdue invoices from the Invoices page" in told[payer]
        assert f"ask {vendor.full_name} ({vendor.email}) to file it" in told[payer]
        assert "file overdue royalty reports from the Royalty reports page" not in told[payer]
    for filer in (vendor.email, member.email):
        assert "file overdue royalty reports from the Royalty reports page" in told[filer]
        assert "ask " not in told[filer]
    assert told[vendor.email] == told[member.email]
    assert told[clerk.email] == told[contact]


def test_a_billing_contact_who_is_an_administrator_is_sent_the_filers_message_once(
    app: Flask,
) -> None:
    organization = factories.make_organization(db.session())
    administrator = factories.make_vendor(
        db.session(), organization, email=organization.billing_email.upper()
    )

    told = _held(administrator)

    assert list(told) == [administrator.email]
    assert "file overdue royalty reports from the Royalty reports page" in told[administrator.email]


def test_with_nobody_left_to_file_the_billing_contact_is_told_to_ask_the_office(
    app: Flask, vendor: User
) -> None:
    with db.transaction() as session:
        found = session.get(User, vendor.id)
        assert found is not None
        found.is_active = False  # the office removed the organization's only user

    told = _held(vendor)

    contact = _organization(vendor).billing_email
    assert list(told) == [contact]
    assert "ask the CPT Licensing Office (" in told[contact]


def test_a_closed_organization_s_billing_member_is_told_to_pay_and_whom_to_ask_for_reports(
    app: Flask, vendor: User
) -> None:
    clerk = factories.make_vendor(db.session(), _organization(vendor), role=BILLING)

    told = _held(vendor, "close")

    assert "a closed account is not reopened" in told[clerk.email]
    assert "sign in to pay open invoices from the Invoices page" in told[clerk.email]
    assert f"ask {vendor.full_name} ({vendor.email}) to file it" in told[clerk.email]
    assert "from the Royalty reports page" not in told[clerk.email]
    assert "file the royalty reports still due from the Royalty reports page" in told[vendor.email]
