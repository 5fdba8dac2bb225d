"""Round 18, follow-ups: what the round's walks of renewals and of an organization's
administrator found and left."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from licensing import db
from licensing.accounts import services as accounts
from licensing.accounts.models import OneTimeToken
from licensing.actors import Actor
from licensing.agreements.models import Application
from licensing.mail.models import OutboxMessage
from tests.integration.agreements.conftest import AUTO_USE, NOW
from tests.support import factories
from tests.support.agreements import accept, agreement_of
from tests.support.factories import bearer


@pytest.mark.parametrize(
    ("steps", "reason"),
    [
        (("suspend",), "account is suspended"),
        (("close",), "account is closed"),
        (("mark_pending_payment",), "new license applications are on hold"),
    ],
)
def test_an_agreement_of_an_organization_not_in_good_standing_is_not_available_to_renew(
    app: Flask,
    client: FlaskClient,
    apply: Callable[..., Application],
    vendor: Any,
    licensing_staff: Any,
    signed_in: Callable[..., FlaskClient],
    steps: tuple[str, ...],
    reason: str,
) -> None:
    # A suspended organization read `available: true` and its POST got a 409.
    agreement = accept(agreement_of(apply(vendor, AUTO_USE)), vendor, now=NOW)
    session = db.session()
    organization = vendor.organization
    for step in steps:
        accounts.change_standing(
            session, organization, step, reason="Held by the office.", actor=Actor.SYSTEM
        )
    session.commit()
    path = f"/api/v1/agreements/{agreement.id}"
    one = client.get(path, headers=bearer(vendor)).get_json()["renewal"]
    listed = client.get("/api/v1/agreements", headers=bearer(vendor)).get_json()
    staff = client.get(path, headers=bearer(licensing_staff)).get_json()["renewal"]
    assert one["available"] is False
    assert [item["renewal"]["available"] for item in listed] == [False]
    assert staff["available"] is False
    refused = client.post(f"{path}/renewal", headers=bearer(vendor))
    assert refused.status_code == 409
    assert reason in refused.get_json()["detail"].lower()

    # The portal's Renewal panel says why instead of offering a button that fails.
    page = signed_in(app.test_client(), vendor).get(f"/portal/agreements/{agreement.id}")
    text = page.get_data(as_text=True)
    assert "Renew for the next rate card year" not in text
    assert reason in " ".join(text.split()).lower()


def _audit_rows(page: str) -> list[str]:
    """The audit table's Record cells, in words."""
    cells = re.findall(r"<tr>\s*<td class=\"num\">.*?</tr>", page, re.S)
    return [" ".join(html.unescape(re.sub(r"<[^>]+>", " ", cell)).split()) for cell in cells]


def test_the_audit_log_names_an_api_token_by_its_name_and_owner_and_its_filter_reads_alike(
    app: Flask, vendor: Any, admin: Any, signed_in: Callable[..., FlaskClient]
) -> None:
    # A token read "API token 3", with neither its name nor whose it was, and the
    # record-type filter offered "API token" beside "invitation".
    token, _raw = accounts.create_api_token(
        vendor.id, "nightly sync", actor=Actor.of(accounts.principal_for(vendor))
    )
    accounts.invite_member(
        vendor.organization.id, "newcomer@kestrel.example", Actor.of(accounts.principal_for(vendor))
    )
    client = signed_in(app.test_client(), admin)
    page = client.get("/console/audit", query_string={"entity_type": "api_token"}).get_data(
        as_text=True
    )
    rows = _audit_rows(page)
    assert rows, page
    named = f'API token "nightly sync" ({token.prefix}…) of {vendor.full_name} ({vendor.email})'
    assert all(named in row for row in rows), rows
    assert f'href="/console/users/{vendor.id}#tokens"' in page

    # An invitation reads as whom it invited where, as the organization page lists it.
    invited = client.get("/console/audit", query_string={"entity_type": "invitation"})
    organization = vendor.organization.legal_name
    assert [
        "newcomer@kestrel.example" in row and f"to join {organization}" in row
        for row in _audit_rows(invited.get_data(as_text=True))
    ] == [True]

    everything = client.get("/console/audit").get_data(as_text=True)
    options = re.findall(r'<option value="([a-z_]+)"[^>]*>([^<]+)</option>', everything)
    types = {value: label for value, label in options if value in ("api_token", "invitation")}
    assert types == {"api_token": "API token", "invitation": "Invitation"}


def _removal_notices(address: str) -> list[OutboxMessage]:
    return [
        message
        for message in db.session().scalars(
            select(OutboxMessage)
            .where(OutboxMessage.template == "access_removed")
            .order_by(OutboxMessage.id)
        )
        if address in message.recipients
    ]


def test_a_removed_member_is_told_who_removed_their_access_and_whom_to_ask(
    app: Flask, vendor: Any, admin: Any
) -> None:
    # Removal stopped the member's sign-in and tokens without a word to them.
    leaver = factories.make_vendor(db.session(), organization=vendor.organization)
    accounts.create_api_token(
        leaver.id, "nightly sync", actor=Actor.of(accounts.principal_for(leaver))
    )
    colleague = Actor.of(accounts.principal_for(vendor))
    accounts.set_user_active(leaver.id, False, colleague)
    organization = vendor.organization.legal_name
    (notice,) = _removal_notices(leaver.email)
    assert json.loads(notice.recipients) == [leaver.email]
    assert notice.subject == f"Your access to {organization} was removed"
    body = " ".join(notice.body_text.split())
    assert f"{vendor.full_name} ({vendor.email}) removed your access to {organization}" in body
    assert f"You can no longer sign in to the CPT Licensing Office as {leaver.email}" in body
    assert 'Your API token "nightly sync" is revoked' in body
    assert (
        f"ask {vendor.full_name} ({vendor.email}) or another administrator of {organization}"
        in body
    )

    # Restored and removed by the office: the office is whom to ask.
    office = Actor.of(accounts.principal_for(admin))
    accounts.set_user_active(leaver.id, True, colleague)
    accounts.set_user_active(leaver.id, False, office)
    notice = _removal_notices(leaver.email)[-1]
    body = " ".join(notice.body_text.split())
    assert f"The CPT Licensing Office removed your access to {organization}" in body
    assert "You had no API tokens in use." in body
    assert "contact the CPT Licensing Office at " in body

    # The office's own accounts are the office's business: no such email.
    staff = factories.make_staff(db.session())
    accounts.set_user_active(staff.id, False, office)
    assert _removal_notices(staff.email) == []


def _expire(link_id: int, ago: timedelta) -> None:
    session = db.session()
    session.execute(
        update(OneTimeToken).where(OneTimeToken.id == link_id).values(expires_at=db.utcnow() - ago)
    )
    session.commit()


def test_the_dashboard_lists_an_invitation_that_expired_unanswered_with_a_link_to_send_it_again(
    app: Flask, vendor: Any, signed_in: Callable[..., FlaskClient]
) -> None:
    # It listed pending invitations and then, once one expired, nothing at all.
    organization = vendor.organization
    actor = Actor.of(accounts.principal_for(vendor))
    late = accounts.invite_member(organization.id, "late@kestrel.example", actor)
    joined = accounts.invite_member(organization.id, "joined@kestrel.example", actor)
    old = accounts.invite_member(organization.id, "long-ago@kestrel.example", actor)
    withdrawn = accounts.invite_member(organization.id, "withdrawn@kestrel.example", actor)
    accounts.revoke_invitation(withdrawn.id, actor)
    for link in (late, joined):
        _expire(link.id, timedelta(days=2))
    _expire(old.id, timedelta(days=40))
    factories.make_vendor(db.session(), organization=organization, email="joined@kestrel.example")
    client = signed_in(app.test_client(), vendor)
    page = " ".join(html.unescape(client.get("/portal/").get_data(as_text=True)).split())
    assert "Invitation to late@kestrel.example expired unanswered" in page
    assert f'href="/organization#invitation-{late.id}"' in page
    assert "Send it again from its row on the organization page" in page
    # Not one whose address joined since, one withdrawn, or one long expired.
    for address in ("joined@", "withdrawn@", "long-ago@"):
        assert f"Invitation to {address}" not in page

    # The row it links to is there and offers Send again.
    row = client.get("/organization").get_data(as_text=True)
    found = re.search(rf'<tr id="invitation-{late.id}">.*?</tr>', row, re.S)
    assert found
    assert "Send again" in found.group(0)

    # Sent again: the new invitation is pending, the expired one no longer listed.
    sent = client.post("/organization/invitations", data={"email": "late@kestrel.example"})
    assert sent.status_code == 302
    page = " ".join(html.unescape(client.get("/portal/").get_data(as_text=True)).split())
    assert "late@kestrel.example expired" not in page
    assert "Invitation to late@kestrel.example" in page
