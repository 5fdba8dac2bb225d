"""Issue 15, item 12: vendor-facing words on the pages and emails reached without
a browser journey of their own."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements.models import Application
from licensing.mail.models import OutboxMessage
from licensing.permissions import services as permissions
from tests.integration.agreements.conftest import AUTO_USE
from tests.integration.permissions.conftest import (
    last_mail,
    request_input,
    token_in,
)
from tests.support import factories
from tests.support.settings import permission_sla_days


def test_the_reconsideration_field_asks_for_the_grounds_not_an_answer(
    client: FlaskClient, app: Any
) -> None:
    created = permissions.submit_request(request_input())
    confirmed = permissions.confirm_email(
        token_in(last_mail(created.requester_email), "/permissions/confirm/"),
        sla_days=permission_sla_days(),
    )
    permissions.deny(confirmed.id, "The audience is a paying public.", Actor.SYSTEM)
    page = client.get(f"/permissions/status/{permissions.status_token(confirmed)}")
    text = page.get_data(as_text=True)
    assert "Why should the decision be reconsidered?" in text
    assert "Your answer" not in text


def test_a_new_staff_member_chooses_a_password_and_is_signed_in(
    client: FlaskClient, app: Any
) -> None:
    accounts.create_staff_user(
        email="dana.ruiz@licensing.example",
        roles=("billing",),
        full_name="Dana Ruiz",
        actor=Actor.SYSTEM,
    )
    welcome = last_mail("dana.ruiz@licensing.example")
    path = re.search(r"http://[^/\s]+(/reset/\S+)", welcome.body_text)
    assert path is not None
    page = client.get(path.group(1)).get_data(as_text=True)
    assert "<h1>Choose your password</h1>" in page
    assert "Choose a new password" not in page
    password = "harbor-lantern-thistle-58"
    chosen = client.post(path.group(1), data={"password": password, "confirm": password})
    assert chosen.status_code == 302
    assert chosen.headers["Location"].endswith("/console/")
    assert client.get("/console/").status_code == 200  # signed in


def test_the_approval_email_keeps_the_agreement_number_and_one_full_stop(
    apply: Callable[..., Application],
) -> None:
    session = db.session()
    organization = factories.make_organization(session, legal_name="Acme Health Software, Inc.")
    vendor = factories.make_vendor(session, organization=organization)
    session.commit()
    application = apply(vendor, AUTO_USE)
    message = (
        db.session()
        .scalars(
            select(OutboxMessage)
            .where(OutboxMessage.template == "application_update")
            .order_by(OutboxMessage.id.desc())
        )
        .first()
    )
    assert message is not None
    assert "Acme Health Software, Inc.." not in message.body_text
    assert f"application {application.reference} of Acme Health Software, Inc." in (
        message.body_text
    )
    assert re.search(r"Approved automatically: agreement CPT-\d{4}-\d{6}", message.body_text)


def test_emails_state_when_their_link_stops_working_at_the_office_not_in_utc(
    client: FlaskClient, vendor: Any
) -> None:
    # "The link works until 2026-12-03 18:23 UTC" left a requester to convert it,
    # while the same journey's other emails state deadlines at the office.
    permissions.submit_request(request_input())
    accounts.request_password_reset(vendor.email)
    accounts.invite_member(
        vendor.organization_id, "priya@northwind.example", Actor.of(accounts.principal_for(vendor))
    )
    for to in ("lena.ortiz@cedar-ridge.example", vendor.email, "priya@northwind.example"):
        body = last_mail(to).body_text
        assert "The link works" in body, to
        assert "(US Central time)" in body, to
        assert "UTC" not in body, to
