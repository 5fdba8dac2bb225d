"""Issue 15, item 14: a signed-in user changes their own name, password and email
address from the profile page."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from licensing import db
from licensing.accounts import passwords, services
from licensing.accounts.models import OneTimeToken, User
from licensing.audit.models import AuditEvent
from licensing.mail.models import OutboxMessage
from tests.support import factories
from tests.support.factories import DEFAULT_PASSWORD

NEW_PASSWORD = "a much longer passphrase 42"
COOKIE = "licensing_session"


def _user(user_id: int) -> User:
    db.session().expire_all()
    found = db.session().get(User, user_id)
    assert found is not None
    return found


def _events(action: str, user_id: int) -> list[AuditEvent]:
    return list(
        db.session().scalars(
            select(AuditEvent).where(
                AuditEvent.action == action, AuditEvent.entity_id == str(user_id)
            )
        )
    )


def _messages_to(address: str) -> list[OutboxMessage]:
    return [
        message
        for message in db.session().scalars(select(OutboxMessage).order_by(OutboxMessage.id))
        if address in message.recipients
    ]


def _link_in(message: OutboxMessage) -> str:
    found = re.search(r"http://testserver(/\S+)", message.body_text)
    assert found, message.body_text
    return found.group(1)


def _outbox_count() -> int:
    return int(db.session().scalar(select(func.count(OutboxMessage.id))) or 0)


def test_a_user_changes_their_own_name_and_it_is_audited(
    app: Flask, vendor: User, signed_in: Callable[..., FlaskClient]
) -> None:
    client = signed_in(app.test_client(), vendor)
    response = client.post("/account/name", data={"full_name": "  Robin Example-Vendor "})
    assert response.status_code == 302
    assert _user(vendor.id).full_name == "Robin Example-Vendor"
    [event] = _events("user.name_changed", vendor.id)
    assert json.loads(event.after or "{}") == {"full_name": "Robin Example-Vendor"}
    assert "Robin Example-Vendor" in client.get("/account/").get_data(as_text=True)


def test_an_empty_name_is_refused_beside_the_field(
    app: Flask, vendor: User, signed_in: Callable[..., FlaskClient]
) -> None:
    client = signed_in(app.test_client(), vendor)
    name = vendor.full_name
    response = client.post("/account/name", data={"full_name": "   "})
    assert response.status_code == 422
    assert 'id="full_name-error"' in response.get_data(as_text=True)
    assert _user(vendor.id).full_name == name


def test_a_name_of_several_lines_is_refused_beside_the_field(
    app: Flask, vendor: User, signed_in: Callable[..., FlaskClient]
) -> None:
    client = signed_in(app.test_client(), vendor)
    name = vendor.full_name
    response = client.post("/account/name", data={"full_name": "Ana\r\nVisit evil.example"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="full_name-error"' in page
    assert "one line" in page
    assert _user(vendor.id).full_name == name


def test_a_password_changes_in_place_and_other_sessions_end(
    app: Flask, vendor: User, signed_in: Callable[..., FlaskClient]
) -> None:
    client = signed_in(app.test_client(), vendor)
    other = signed_in(app.test_client(), vendor)
    generation = _user(vendor.id).session_generation
    response = client.post(
        "/account/password",
        data={
            "current_password": DEFAULT_PASSWORD,
            "new_password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
        },
    )
    assert response.status_code == 302
    user = _user(vendor.id)
    assert passwords.verify_password(user.password_hash, NEW_PASSWORD)
    assert user.session_generation == generation + 1
    assert client.get("/account/").status_code == 200  # the changer stays signed in
    assert other.get("/account/").status_code == 302  # every other session ends
    assert len(_events("user.password_changed", vendor.id)) == 1
    signed_in(app.test_client(), vendor, password=NEW_PASSWORD)


def test_a_wrong_current_password_changes_nothing_and_counts_as_a_failure(
    app: Flask, vendor: User, signed_in: Callable[..., FlaskClient]
) -> None:
    client = signed_in(app.test_client(), vendor)
    before = _user(vendor.id).password_hash
    response = client.post(
        "/account/password",
        data={
            "current_password": "not the password at all",
            "new_password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
        },
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="password-current-password-error"' in page
    assert "This is not your current password" in page
    user = _user(vendor.id)
    assert user.password_hash == before
    assert user.failed_login_count == 1
    assert _events("user.password_changed", vendor.id) == []


def test_a_weak_or_mistyped_new_password_is_refused_with_every_problem_at_once(
    app: Flask, vendor: User, signed_in: Callable[..., FlaskClient]
) -> None:
    client = signed_in(app.test_client(), vendor)
    mistyped = client.post(
        "/account/password",
        data={"current_password": "wrong", "new_password": NEW_PASSWORD, "confirm": "other"},
    )
    assert mistyped.status_code == 422
    assert "The two passwords differ." in mistyped.get_data(as_text=True)
    weak = client.post(
        "/account/password",
        data={"current_password": "wrong", "new_password": "short", "confirm": "short"},
    )
    page = weak.get_data(as_text=True)
    assert weak.status_code == 422
    assert 'id="new_password-error"' in page
    assert 'id="password-current-password-error"' in page
    assert passwords.verify_password(_user(vendor.id).password_hash, DEFAULT_PASSWORD)


def test_a_new_email_address_takes_effect_only_once_its_link_is_followed(
    app: Flask, vendor: User, signed_in: Callable[..., FlaskClient]
) -> None:
    client = signed_in(app.test_client(), vendor)
    old = vendor.email
    response = client.post(
        "/account/email",
        data={"new_email": "Robin.New@Northwind.example", "current_password": DEFAULT_PASSWORD},
    )
    assert response.status_code == 302
    assert _user(vendor.id).email == old  # not yet
    [message] = _messages_to("robin.new@northwind.example")
    link = _link_in(message)
    assert link.startswith("/verify-email/")
    assert link.rsplit("/", 1)[-1] not in message.display_text
    assert len(_events("user.email_change_requested", vendor.id)) == 1

    followed = app.test_client().get(link)
    assert followed.status_code == 302
    user = _user(vendor.id)
    assert user.email == "robin.new@northwind.example"
    assert user.email_verified_at is not None
    [event] = _events("user.email_changed", vendor.id)
    assert json.loads(event.before or "{}")["email"] == old
    assert [m.subject for m in _messages_to(old)][-1] == "Your email address was changed"
    # Used once only: followed again, it changes nothing and says the address is confirmed.
    assert app.test_client().get(link).status_code == 302
    assert len(_events("user.email_changed", vendor.id)) == 1
    signed_in(app.test_client(), user)


def test_an_email_change_needs_the_current_password_and_a_free_address(
    app: Flask, vendor: User, other_vendor: User, signed_in: Callable[..., FlaskClient]
) -> None:
    client = signed_in(app.test_client(), vendor)
    before = _outbox_count()
    taken = client.post(
        "/account/email",
        data={"new_email": other_vendor.email, "current_password": "not the password"},
    )
    page = taken.get_data(as_text=True)
    assert taken.status_code == 422
    assert "Another account already uses this email address." in page
    assert 'id="email-current-password-error"' in page
    not_an_address = client.post(
        "/account/email", data={"new_email": "nobody at all", "current_password": DEFAULT_PASSWORD}
    )
    assert not_an_address.status_code == 422
    assert 'id="new_email-error"' in not_an_address.get_data(as_text=True)
    assert _outbox_count() == before
    assert _user(vendor.id).email == vendor.email


def test_a_newer_email_change_withdraws_the_link_of_the_earlier_one(
    app: Flask, vendor: User, signed_in: Callable[..., FlaskClient]
) -> None:
    client = signed_in(app.test_client(), vendor)
    for address in ("first@northwind.example", "second@northwind.example"):
        client.post(
            "/account/email", data={"new_email": address, "current_password": DEFAULT_PASSWORD}
        )
    first = _link_in(_messages_to("first@northwind.example")[0])
    assert app.test_client().get(first).status_code == 400
    assert _user(vendor.id).email == vendor.email
    second = _link_in(_messages_to("second@northwind.example")[0])
    assert app.test_client().get(second).status_code == 302
    assert _user(vendor.id).email == "second@northwind.example"


def test_a_reset_link_sent_to_the_old_address_stops_working_once_the_address_changes(
    app: Flask, vendor: User, signed_in: Callable[..., FlaskClient]
) -> None:
    # A reset link mailed to the old address (a mailbox the user is leaving, or one
    # someone else reads) still set the password within its hour after the
    # account had moved to a new address: whoever read the old mailbox took over.
    old = vendor.email
    services.request_password_reset(old)
    reset = _link_in(_messages_to(old)[-1])
    assert reset.startswith("/reset/")
    client = signed_in(app.test_client(), vendor)
    client.post(
        "/account/email",
        data={"new_email": "robin.moved@northwind.example", "current_password": DEFAULT_PASSWORD},
    )
    verify = _link_in(_messages_to("robin.moved@northwind.example")[-1])
    assert app.test_client().get(verify).status_code == 302
    assert _user(vendor.id).email == "robin.moved@northwind.example"

    taken_over = app.test_client().post(
        reset, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    )
    assert taken_over.status_code == 400
    assert "This link has been withdrawn." in taken_over.get_data(as_text=True)
    assert passwords.verify_password(_user(vendor.id).password_hash, DEFAULT_PASSWORD)


def test_a_link_to_an_address_taken_meanwhile_changes_nothing(
    app: Flask, vendor: User, other_vendor: User, signed_in: Callable[..., FlaskClient]
) -> None:
    client = signed_in(app.test_client(), vendor)
    client.post(
        "/account/email",
        data={"new_email": "wanted@northwind.example", "current_password": DEFAULT_PASSWORD},
    )
    link = _link_in(_messages_to("wanted@northwind.example")[0])
    with db.transaction() as session:
        taker = session.get(User, other_vendor.id)
        assert taker is not None
        taker.email = "wanted@northwind.example"
    response = app.test_client().get(link)
    assert response.status_code == 400
    assert "Another account already uses this email address." in response.get_data(as_text=True)
    assert _user(vendor.id).email == vendor.email


def test_staff_change_their_own_name_too(
    app: Flask, licensing_staff: User, signed_in: Callable[..., FlaskClient]
) -> None:
    client = signed_in(app.test_client(), licensing_staff)
    assert client.post("/account/name", data={"full_name": "Sam Reviewer"}).status_code == 302
    assert _user(licensing_staff.id).full_name == "Sam Reviewer"


def _change_address(
    app: Flask, user: User, signed_in: Callable[..., FlaskClient], new: str
) -> None:
    client = signed_in(app.test_client(), user)
    client.post("/account/email", data={"new_email": new, "current_password": DEFAULT_PASSWORD})
    [message] = _messages_to(new)
    assert app.test_client().get(_link_in(message)).status_code == 302


def _now_the_billing_contact(user: User) -> str:
    with db.transaction() as session:
        found = session.get(User, user.id)
        assert found is not None
        assert found.organization is not None
        found.organization.billing_email = found.email
        return found.email


def test_an_administrator_who_was_the_billing_contact_is_told_invoices_still_go_to_the_old_address(
    app: Flask, vendor: User, signed_in: Callable[..., FlaskClient]
) -> None:
    # Their invoices went on to the address they had left, without a word.
    old = _now_the_billing_contact(vendor)

    _change_address(app, vendor, signed_in, "robin.new@northwind.example")

    body = _messages_to(old)[-1].body_text
    assert (
        f"Invoices and payment emails of {vendor.organization.legal_name} still go to {old}: "
        in (body)
    )
    assert "change the billing contact on its Organization page, signed in:\n" in body
    assert "http://testserver/portal" in body


def test_a_member_who_was_the_billing_contact_is_told_whom_to_ask_to_change_it(
    app: Flask, vendor: User, signed_in: Callable[..., FlaskClient]
) -> None:
    member = factories.make_vendor(db.session(), vendor.organization)
    old = _now_the_billing_contact(member)

    _change_address(app, member, signed_in, "sam.new@northwind.example")

    body = _messages_to(old)[-1].body_text
    assert f"still go to {old}: it is the organization's billing contact" in body
    assert f"ask {vendor.full_name} ({vendor.email}) to change the billing contact" in body


def test_a_user_who_is_not_the_billing_contact_reads_nothing_about_invoices(
    app: Flask, vendor: User, signed_in: Callable[..., FlaskClient]
) -> None:
    old = vendor.email

    _change_address(app, vendor, signed_in, "robin.new@northwind.example")

    assert "billing contact" not in _messages_to(old)[-1].body_text


def test_a_billing_contact_changing_their_address_reads_at_the_new_one_that_invoices_stay(
    app: Flask, vendor: User, signed_in: Callable[..., FlaskClient]
) -> None:
    # Only the old address was told, and the person reads the new one from now on.
    member = factories.make_vendor(db.session(), vendor.organization)
    old = _now_the_billing_contact(member)
    new = "sam.new@northwind.example"
    client = signed_in(app.test_client(), member)

    client.post("/account/email", data={"new_email": new, "current_password": DEFAULT_PASSWORD})

    [confirmation] = _messages_to(new)
    body = confirmation.body_text
    assert (
        f"Invoices and payment emails of {vendor.organization.legal_name} still go to {old}, "
        "and will after you confirm this address: it is the organization's billing contact" in body
    )
    assert f"ask {vendor.full_name} ({vendor.email}) to change the billing contact" in body


def test_the_confirmation_of_a_new_address_says_nothing_of_invoices_to_one_not_the_contact(
    app: Flask, vendor: User, signed_in: Callable[..., FlaskClient]
) -> None:
    client = signed_in(app.test_client(), vendor)
    new = "robin.new@northwind.example"

    client.post("/account/email", data={"new_email": new, "current_password": DEFAULT_PASSWORD})

    [confirmation] = _messages_to(new)
    assert "billing contact" not in confirmation.body_text


def _links(user_id: int, purpose: str) -> list[OneTimeToken]:
    db.session().expire_all()
    return list(
        db.session().scalars(
            select(OneTimeToken)
            .where(OneTimeToken.user_id == user_id, OneTimeToken.purpose == purpose)
            .order_by(OneTimeToken.id)
        )
    )


def _new_password(client: FlaskClient) -> None:
    """The profile's password form, the current password right."""
    client.post(
        "/account/password",
        data={
            "current_password": DEFAULT_PASSWORD,
            "new_password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
        },
    )


def test_a_password_change_audits_the_reset_link_it_withdraws(
    app: Flask, vendor: User, signed_in: Callable[..., FlaskClient]
) -> None:
    services.request_password_reset(vendor.email)
    [reset] = _links(vendor.id, "reset_password")
    _new_password(signed_in(app.test_client(), vendor))
    [event] = _events("user.password_changed", vendor.id)
    assert event.after_data == {"links_withdrawn": [{"id": reset.id, "purpose": "reset_password"}]}
    assert _links(vendor.id, "reset_password")[0].revoked_at is not None


def test_a_password_change_with_no_link_to_withdraw_audits_nothing_more(
    app: Flask, vendor: User, signed_in: Callable[..., FlaskClient]
) -> None:
    _new_password(signed_in(app.test_client(), vendor))
    [event] = _events("user.password_changed", vendor.id)
    assert event.after is None


def test_an_email_change_audits_the_links_it_replaces_and_withdraws(
    app: Flask, vendor: User, signed_in: Callable[..., FlaskClient]
) -> None:
    client = signed_in(app.test_client(), vendor)
    for address in ("first.new@northwind.example", "second.new@northwind.example"):
        client.post(
            "/account/email", data={"new_email": address, "current_password": DEFAULT_PASSWORD}
        )
    first, _second = _links(vendor.id, "verify_email")
    requested = sorted(_events("user.email_change_requested", vendor.id), key=lambda e: e.seq)
    assert "links_withdrawn" not in requested[0].after_data
    assert requested[1].after_data["links_withdrawn"] == [
        {"id": first.id, "purpose": "verify_email"}
    ]
    assert first.revoked_at is not None

    services.request_password_reset(vendor.email)
    [reset] = _links(vendor.id, "reset_password")
    followed = app.test_client().get(_link_in(_messages_to("second.new@northwind.example")[-1]))
    assert followed.status_code == 302
    [changed] = _events("user.email_changed", vendor.id)
    assert changed.after_data["links_withdrawn"] == [{"id": reset.id, "purpose": "reset_password"}]
    assert _links(vendor.id, "reset_password")[0].revoked_at is not None
