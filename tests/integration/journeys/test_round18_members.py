"""Round 18: an organization's administrator manages its people and their access."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.accounts import services
from licensing.accounts.models import ApiToken, OneTimeToken, User
from licensing.actors import Actor
from licensing.audit.models import AuditEvent
from licensing.db import utcnow
from licensing.errors import DomainError
from licensing.mail.models import OutboxMessage
from tests.support import factories
from tests.support.factories import bearer


def _token(token_id: int) -> ApiToken:
    found = db.session().get(ApiToken, token_id, populate_existing=True)
    assert found is not None
    return found


def _revocations(token_ids: list[int]) -> list[tuple[str, str, str | None]]:
    events = db.session().scalars(
        select(AuditEvent)
        .where(
            AuditEvent.action == "api_token.revoked",
            AuditEvent.entity_id.in_([str(token_id) for token_id in token_ids]),
        )
        .order_by(AuditEvent.seq)
    )
    return [(event.entity_id, event.actor, event.note) for event in events]


def _tokens_of(user: User, *names: str) -> list[tuple[ApiToken, dict[str, str]]]:
    made = []
    for name in names:
        token, raw = services.create_api_token(
            user.id, name, actor=Actor.of(services.principal_for(user))
        )
        made.append((token, {"Authorization": f"Bearer {raw}"}))
    return made


def test_removing_a_member_revokes_their_tokens_for_good_and_restoring_brings_none_back(
    app: Flask, client: FlaskClient, vendor: User, signed_in: Callable[..., FlaskClient]
) -> None:
    # Removal once only stopped the tokens while the account was off: restoring the
    # member made every unrevoked token work again, though it may have leaked since.
    leaver = factories.make_vendor(db.session(), organization=vendor.organization)
    (erp, erp_headers), (sync, _sync_headers) = _tokens_of(leaver, "ERP", "nightly sync")
    services.revoke_api_token(sync.id, Actor.of(services.principal_for(leaver)))
    admin_page = signed_in(app.test_client(), vendor)

    asked = admin_page.post(f"/organization/members/{leaver.id}/deactivate")
    question = asked.get_data(as_text=True)
    assert "their API tokens are revoked for good" in question
    assert "their revoked tokens stay revoked, and they create new ones" in question
    removed = admin_page.post(
        f"/organization/members/{leaver.id}/deactivate",
        data={"confirmed": "yes"},
        follow_redirects=True,
    )
    assert "can no longer sign in, and their API tokens are revoked." in removed.get_data(
        as_text=True
    )
    assert _token(erp.id).revoked_at is not None
    # Each token revoked with the access is audited with who did it and why; the
    # one its owner had revoked already is not revoked twice.
    assert _revocations([erp.id, sync.id]) == [
        (str(sync.id), leaver.email, None),
        (
            str(erp.id),
            vendor.email,
            f"{leaver.email} was deactivated: their API tokens are revoked.",
        ),
    ]

    restored = admin_page.post(f"/organization/members/{leaver.id}/restore", follow_redirects=True)
    said = restored.get_data(as_text=True)
    assert "can sign in again" in said
    assert "they create new ones on the API tokens page" in said
    assert client.get("/api/v1/me", headers=erp_headers).status_code == 401
    ((_new, new_headers),) = _tokens_of(db.session().get(User, leaver.id), "ERP again")
    assert client.get("/api/v1/me", headers=new_headers).status_code == 200


def test_an_admin_deactivating_an_account_through_the_api_revokes_its_tokens(
    client: FlaskClient, vendor: User, admin: User
) -> None:
    headers = bearer(vendor)
    (token,) = db.session().scalars(select(ApiToken).where(ApiToken.user_id == vendor.id))
    admin_headers = bearer(admin)
    off = client.patch(
        f"/api/v1/users/{vendor.id}", json={"is_active": False}, headers=admin_headers
    )
    assert off.status_code == 200
    on = client.patch(f"/api/v1/users/{vendor.id}", json={"is_active": True}, headers=admin_headers)
    assert on.get_json()["is_active"] is True
    assert client.get("/api/v1/me", headers=headers).status_code == 401
    assert _revocations([token.id]) == [
        (
            str(token.id),
            admin.email,
            f"{vendor.email} was deactivated: their API tokens are revoked.",
        )
    ]


def test_restoring_a_member_removed_before_the_rule_revokes_the_tokens_left_unrevoked(
    app: Flask, client: FlaskClient, vendor: User
) -> None:
    leaver = factories.make_vendor(db.session(), organization=vendor.organization)
    ((token, headers),) = _tokens_of(leaver, "ERP")
    colleague = Actor.of(services.principal_for(vendor))
    services.set_user_active(leaver.id, False, colleague)
    # As a removal made before this release left it: the token unrevoked.
    _token(token.id).revoked_at = None
    db.session().flush()

    services.set_user_active(leaver.id, True, colleague)
    assert client.get("/api/v1/me", headers=headers).status_code == 401
    assert _revocations([token.id])[-1] == (
        str(token.id),
        vendor.email,
        f"{leaver.email} was reactivated: tokens from before their deactivation are revoked; "
        "they create new ones.",
    )


def test_a_removed_members_pending_invitations_are_withdrawn(
    app: Flask, vendor: User, signed_in: Callable[..., FlaskClient]
) -> None:
    # A leaver who invited an address of their own before going could accept the
    # invitation afterwards and be back in the organization.
    leaver = factories.make_vendor(
        db.session(), organization=vendor.organization, role="administrator"
    )
    as_leaver = Actor.of(services.principal_for(leaver))
    organization_id = vendor.organization_id
    assert organization_id is not None
    own = services.invite_member(organization_id, "leaver.private@example.org", as_leaver)
    colleague = services.invite_member(
        organization_id, "newcomer@example.org", Actor.of(services.principal_for(vendor))
    )
    client = signed_in(app.test_client(), vendor)
    asked = client.post(f"/organization/members/{leaver.id}/deactivate")
    assert "Invitations they sent that are still waiting are withdrawn." in asked.get_data(
        as_text=True
    )
    client.post(f"/organization/members/{leaver.id}/deactivate", data={"confirmed": "yes"})

    now = utcnow()
    assert db.session().get(OneTimeToken, own.id, populate_existing=True).status(now) == "revoked"
    assert db.session().get(OneTimeToken, colleague.id).status(now) == "pending"
    (event,) = db.session().scalars(
        select(AuditEvent).where(
            AuditEvent.action == "invitation.revoked", AuditEvent.entity_id == str(own.id)
        )
    )
    assert (event.actor, event.note) == (
        vendor.email,
        f"{leaver.email} was deactivated: the invitations they sent are withdrawn.",
    )
    page = client.get("/organization").get_data(as_text=True)
    assert "leaver.private@example.org" in page


def _expire(link: OneTimeToken) -> None:
    found = db.session().get(OneTimeToken, link.id)
    assert found is not None
    found.expires_at = utcnow() - timedelta(days=1)
    db.session().flush()


def test_an_expired_invitation_is_sent_again_from_its_row(
    app: Flask, vendor: User, signed_in: Callable[..., FlaskClient]
) -> None:
    # The row said "expired" with no date and no action: the admin had to guess
    # that typing the address again would send a new invitation.
    organization_id = vendor.organization_id
    assert organization_id is not None
    actor = Actor.of(services.principal_for(vendor))
    silent = services.invite_member(organization_id, "jordan@example.org", actor)
    answered = services.invite_member(organization_id, "pat@example.org", actor)
    _expire(silent)
    _expire(answered)
    services.invite_member(organization_id, "pat@example.org", actor)  # sent again already
    client = signed_in(app.test_client(), vendor)
    page = client.get("/organization").get_data(as_text=True)
    assert page.count(">Send again</button>") == 1
    assert (
        'value="jordan@example.org"><input type="hidden" name="role" value="member">'
        '<button type="submit" class="small secondary" aria-label="Send again: jordan@example.org">'
    ) in page
    assert "expired on " in page

    sent = client.post(
        "/organization/invitations", data={"email": "jordan@example.org"}, follow_redirects=True
    )
    assert (
        "Invitation sent to jordan@example.org to join as a member; the link works for 7 days."
        in sent.get_data(as_text=True)
    )
    assert ">Send again</button>" not in sent.get_data(as_text=True)
    (mail,) = [
        message
        for message in db.session().scalars(select(OutboxMessage).order_by(OutboxMessage.id))
        if message.to == ["jordan@example.org"]
    ][1:]
    assert mail.template == "invitation"


def test_an_expired_invitation_link_names_whom_to_ask(
    app: Flask, client: FlaskClient, vendor: User
) -> None:
    # It said "This link expired on ... Ask for a new one.", with no way to ask: only
    # a member of the organization can invite.
    organization_id = vendor.organization_id
    assert organization_id is not None
    link = services.invite_member(
        organization_id, "jordan@example.org", Actor.of(services.principal_for(vendor))
    )
    (message,) = db.session().scalars(
        select(OutboxMessage).where(OutboxMessage.template == "invitation")
    )
    found = re.search(r"http://testserver(/invitations/\S+)", message.body_text)
    assert found is not None
    path = found.group(1)
    _expire(link)
    answer = client.get(path)
    assert answer.status_code == 400
    said = answer.get_data(as_text=True)
    assert f"This invitation to join {vendor.organization.legal_name} expired on" in said
    assert f"Ask {vendor.full_name} ({vendor.email}) to invite you again." in said


def test_a_locked_out_colleague_reads_as_locked_on_both_organization_pages(
    app: Flask, vendor: User, admin: User, signed_in: Callable[..., FlaskClient]
) -> None:
    # The API's members list gave `locked_until`; both pages said only "active", and
    # the console's members were not links to the account's page that unlocks them.
    colleague = factories.make_vendor(db.session(), organization=vendor.organization)
    for _ in range(services.LOCKOUT_THRESHOLD):
        with pytest.raises(DomainError):
            services.sign_in(colleague.email, "not-the-password-at-all")
    vendor_page = signed_in(app.test_client(), vendor).get("/organization").get_data(as_text=True)
    assert "active; sign-in locked until " in vendor_page
    assert "after failed attempts (a password reset unlocks it sooner)" in vendor_page

    console = signed_in(app.test_client(), admin)
    page = console.get(f"/console/organizations/{vendor.organization_id}").get_data(as_text=True)
    assert "active; sign-in locked until " in page
    assert f'<a href="/console/users/{colleague.id}">{colleague.full_name}</a>' in page
    assert console.post(f"/console/users/{colleague.id}/unlock").status_code == 302
    page = console.get(f"/console/organizations/{vendor.organization_id}").get_data(as_text=True)
    assert "sign-in locked" not in page


def test_licensing_staff_see_members_without_links_to_the_admins_account_pages(
    app: Flask, vendor: User, licensing_staff: User, signed_in: Callable[..., FlaskClient]
) -> None:
    page = signed_in(app.test_client(), licensing_staff).get(
        f"/console/organizations/{vendor.organization_id}"
    )
    assert page.status_code == 200
    assert vendor.full_name in page.get_data(as_text=True)
    assert f'href="/console/users/{vendor.id}"' not in page.get_data(as_text=True)


def test_the_organization_page_says_what_the_billing_contact_receives_as_sign_up_does(
    app: Flask, client: FlaskClient, vendor: User, signed_in: Callable[..., FlaskClient]
) -> None:
    hint = "Invoices and payment reminders go here."
    assert hint in client.get("/sign-up").get_data(as_text=True)
    page = signed_in(app.test_client(), vendor).get("/organization").get_data(as_text=True)
    assert hint in page


def test_the_office_sees_an_accounts_tokens_and_when_each_was_last_used_or_revoked(
    app: Flask, vendor: User, admin: User, signed_in: Callable[..., FlaskClient]
) -> None:
    # The account's page counted its active tokens ("0 active" once removed) but
    # named none: which integration had the leaver's token, and when it last called.
    ((token, headers),) = _tokens_of(vendor, "Warehouse sync")
    client = signed_in(app.test_client(), admin)
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    services.set_user_active(vendor.id, False, Actor.of(services.principal_for(admin)))
    page = client.get(f"/console/users/{vendor.id}").get_data(as_text=True)
    row = page[page.index("Warehouse sync") :]
    row = row[: row.index("</tr>")]
    assert f"<code>{token.prefix}…</code>" in row
    assert row.count("(US Central time)") == 4  # created, last used, expires, revoked
    assert "revoked " in row


def test_an_administrators_own_row_says_another_administrator_removes_their_access(
    app: Flask, vendor: User, signed_in: Callable[..., FlaskClient]
) -> None:
    # The row had no action and no word: nobody removes themselves.
    page = signed_in(app.test_client(), vendor).get("/organization").get_data(as_text=True)
    assert "You: when you leave, another administrator removes your access (the licensing" in page


def test_revoking_a_token_asks_first_saying_when_it_was_last_used_and_how_to_rotate(
    app: Flask, vendor: User, signed_in: Callable[..., FlaskClient]
) -> None:
    # One click revoked a token for good, a production integration's included, and
    # nothing said how to replace a token without stopping the program.
    ((old, headers),) = _tokens_of(vendor, "ERP integration")
    client = signed_in(app.test_client(), vendor)
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    page = client.get("/account/tokens").get_data(as_text=True)
    assert "To rotate a token, create the new one, switch the program to it, then revoke" in page
    asked = client.post(f"/account/tokens/{old.id}/revoke").get_data(as_text=True)
    assert f"A program sending it ({old.prefix}…) is refused from its next call" in asked
    assert "it was last used 20" in asked
    assert "Keep the token" in asked
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    done = client.post(
        f"/account/tokens/{old.id}/revoke", data={"confirmed": "yes"}, follow_redirects=True
    )
    assert "Token “ERP integration” is revoked." in done.get_data(as_text=True)
    assert client.get("/api/v1/me", headers=headers).status_code == 401


def test_changing_the_billing_contacts_address_tells_the_old_and_the_new_one(
    app: Flask, vendor: User, signed_in: Callable[..., FlaskClient]
) -> None:
    # Invoices and reminders went to the new address without a word to either: a
    # typo'd address, or a change the old contact did not expect, went unnoticed
    # until an invoice was overdue.
    organization = vendor.organization
    assert organization is not None
    old_email, old_name = organization.billing_email, organization.billing_contact_name
    client = signed_in(app.test_client(), vendor)
    fields = factories.billing_contact_form(organization, "Dana Whitfield", "dana.w@example.org")
    saved = client.post("/organization/profile", data=fields, follow_redirects=True)
    # Round 33: the page says whom it emailed, not only "saved".
    assert (
        "The organization&#39;s profile is saved. We emailed the old and the new billing "
        f"contact: {old_email}, dana.w@example.org."
    ) in saved.get_data(as_text=True)
    (told,) = db.session().scalars(
        select(OutboxMessage).where(OutboxMessage.template == "billing_contact_changed")
    )
    assert told.to == [old_email, "dana.w@example.org"]
    assert told.subject.endswith(f"Billing contact of {organization.legal_name} changed")
    body = told.body_text
    assert (
        f"{vendor.full_name} ({vendor.email}) changed the billing contact of "
        f"{organization.legal_name}"
    ) in body
    assert f"from {old_name} <{old_email}>" in body
    assert "to   Dana Whitfield <dana.w@example.org>" in body
    assert "invoices and payment reminders for" in body
    assert "go to dana.w@example.org, the reminders of invoices issued before" in body
    # Only administrators change it (round 23: it said "Members of ... change").
    assert f"Administrators of {organization.legal_name} change the billing contact" in body

    # A change of name alone, or of the address, sends nothing.
    fields["billing_contact_name"] = "Dana W. Whitfield"
    fields["city"] = "Elsewhere"
    quiet = client.post("/organization/profile", data=fields, follow_redirects=True)
    assert "We emailed" not in quiet.get_data(as_text=True)
    count = db.session().scalars(
        select(OutboxMessage).where(OutboxMessage.template == "billing_contact_changed")
    )
    assert len(list(count)) == 1
