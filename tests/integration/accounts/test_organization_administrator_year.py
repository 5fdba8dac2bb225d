"""What an organization's administrator met over a year (round 58, orgwalk58): the
audit log's record of an email change asked for, the confirmation read while still
signed in, the billing contact's email naming who changed it, and the dashboard's
invitation dates on the office's day, in words."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.accounts import services
from licensing.accounts.models import User
from licensing.actors import Actor
from licensing.audit.models import AuditEvent
from licensing.mail.models import OutboxMessage
from tests.support import factories
from tests.support.factories import DEFAULT_PASSWORD
from tests.support.pages import text_of

# 9 PM on Tuesday, March 9, 2027 in the office's zone: already March 10 in UTC.
EVENING = datetime(2027, 3, 10, 3, 0, tzinfo=UTC)


def _requested(user_id: int) -> list[AuditEvent]:
    return list(
        db.session().scalars(
            select(AuditEvent)
            .where(
                AuditEvent.action == "user.email_change_requested",
                AuditEvent.entity_id == str(user_id),
            )
            .order_by(AuditEvent.seq)
        )
    )


def _newest_to(address: str, template: str) -> OutboxMessage:
    found = [
        message
        for message in db.session().scalars(
            select(OutboxMessage)
            .where(OutboxMessage.template == template)
            .order_by(OutboxMessage.id)
        )
        if address in message.recipients
    ]
    assert found, f"no {template} email to {address}"
    return found[-1]


def _ask_for(client: FlaskClient, address: str) -> None:
    asked = client.post(
        "/account/email", data={"new_email": address, "current_password": DEFAULT_PASSWORD}
    )
    assert asked.status_code == 302


def test_an_email_change_asked_for_is_logged_as_an_address_waiting_not_as_the_address_erased(
    app: Flask, signed_in: Callable[..., FlaskClient]
) -> None:
    vendor = factories.make_vendor(db.session(), email="ines.varga@tallowmere.example")
    db.session().commit()
    client = signed_in(app.test_client(), vendor)

    _ask_for(client, "ines@tallowmere-health.example")
    _ask_for(client, "ines.v@tallowmere-health.example")  # a second thought

    first, second = _requested(vendor.id)
    # The account's address did not change: the log does not say it went to nothing.
    assert first.changes() == [("pending_email", None, "ines@tallowmere-health.example")]
    assert ("email", vendor.email, None) not in second.changes()
    assert (
        "pending_email",
        "ines@tallowmere-health.example",
        "ines.v@tallowmere-health.example",
    ) in second.changes()
    assert first.before_data["email"] == first.after_data["email"] == vendor.email


def test_a_new_address_confirmed_while_signed_in_says_to_sign_in_with_it_from_now_on(
    app: Flask, signed_in: Callable[..., FlaskClient]
) -> None:
    vendor = factories.make_vendor(db.session(), email="ines.varga@tallowmere.example")
    db.session().commit()
    client = signed_in(app.test_client(), vendor)
    _ask_for(client, "ines@tallowmere-health.example")
    mailed = _newest_to("ines@tallowmere-health.example", "confirm_new_email")
    found = re.search(r"http://testserver(/\S+)", mailed.body_text)
    assert found

    page = text_of(client.get(found.group(1), follow_redirects=True))

    assert (
        "Thank you: ines@tallowmere-health.example is confirmed, and is your account's "
        "address now: sign in with it from now on."
    ) in page
    assert "You can sign in now" not in page  # they are signed in, on their dashboard


def test_the_billing_contact_email_names_the_administrator_by_name_and_address(
    app: Flask, signed_in: Callable[..., FlaskClient]
) -> None:
    vendor = factories.make_vendor(
        db.session(), email="ines.varga@tallowmere.example", full_name="Ines Varga"
    )
    db.session().commit()
    organization = vendor.organization
    assert organization is not None
    client = signed_in(app.test_client(), vendor)
    fields = factories.billing_contact_form(
        organization, "Accounts payable", "ap@tallowmere.example"
    )
    assert client.post("/organization/profile", data=fields).status_code == 302

    body = " ".join(
        _newest_to("ap@tallowmere.example", "billing_contact_changed").body_text.split()
    )
    assert body.startswith(
        "Hello, Ines Varga (ines.varga@tallowmere.example) changed the billing contact of "
        f"{organization.legal_name}"
    )


def test_the_dashboard_gives_an_invitations_last_day_on_the_offices_day_in_words(
    app: Flask, signed_in: Callable[..., FlaskClient]
) -> None:
    with time_machine.travel(EVENING, tick=False):
        vendor = factories.make_vendor(db.session())
        db.session().commit()
        actor = Actor.of(services.principal_for(db.session().get(User, vendor.id)))
        services.invite_member(
            vendor.organization_id or 0, "lena.moravec@tallowmere.example", actor
        )

    with time_machine.travel(EVENING + timedelta(days=2), tick=False):
        waiting = text_of(signed_in(app.test_client(), vendor).get("/portal/"))
    # Seven days from 9 PM on March 9 (US Central): the UTC day, 2027-03-17, was printed.
    assert (
        "They have until Tuesday, March 16, 2027 at 10:00 PM (US Central time) to accept."
    ) in waiting
    assert "2027-03-17" not in waiting

    with time_machine.travel(EVENING + timedelta(days=9), tick=False):
        waiting = text_of(signed_in(app.test_client(), vendor).get("/portal/"))
    assert (
        "It expired on Tuesday, March 16, 2027 at 10:00 PM (US Central time). Send it "
        "again from its row on the organization page."
    ) in waiting


def test_a_members_organization_page_names_its_invitations_once(
    app: Flask, signed_in: Callable[..., FlaskClient]
) -> None:
    administrator = factories.make_vendor(db.session())
    organization = administrator.organization
    member = factories.make_vendor(db.session(), organization, role="member")
    db.session().commit()
    actor = Actor.of(services.principal_for(administrator))
    services.invite_member(organization.id if organization else 0, "lena@tallowmere.example", actor)

    page = signed_in(app.test_client(), member).get("/organization").get_data(as_text=True)

    # The heading, and the table named by it: not a caption saying "Invitations" again.
    assert page.count(">Invitations<") == 1
    assert '<h2 id="invitations">Invitations</h2>' in page
    assert '<table aria-labelledby="invitations">' in page
