"""Password reset by an emailed one-time link."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from datetime import timedelta

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, insert, select

from licensing import db, migrations
from licensing.accounts import services
from licensing.accounts.models import OneTimeToken, User
from licensing.actors import Actor
from licensing.db import utcnow
from licensing.errors import DomainError
from licensing.mail.models import OutboxMessage
from tests.support import factories
from tests.support.factories import DEFAULT_PASSWORD

NEW_PASSWORD = "amber-orchard-violin-88"


def _messages_to(address: str) -> list[OutboxMessage]:
    return [
        message
        for message in db.session().scalars(select(OutboxMessage).order_by(OutboxMessage.id))
        if address in message.to
    ]


def _reset_link(address: str) -> str:
    message = _messages_to(address)[-1]
    assert message.subject == "Reset your password"
    found = re.search(r"http://testserver(/reset/\S+)", message.body_text)
    assert found, message.body_text
    return found.group(1)


def _reset_tokens() -> int:
    return int(
        db.session().scalar(
            select(func.count(OneTimeToken.id)).where(OneTimeToken.purpose == "reset_password")
        )
        or 0
    )


def test_asking_for_a_reset_emails_a_link_that_sets_a_new_password(
    client: FlaskClient, vendor: User
) -> None:
    response = client.post("/reset", data={"email": vendor.email})
    assert response.status_code == 302
    link = _reset_link(vendor.email)
    assert client.get(link).status_code == 200
    done = client.post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert done.status_code == 302
    assert services.sign_in(vendor.email, NEW_PASSWORD).id == vendor.id
    with pytest.raises(DomainError):
        services.sign_in(vendor.email, DEFAULT_PASSWORD)


def test_the_answer_and_the_work_are_the_same_whether_or_not_the_address_has_an_account(
    client: FlaskClient, vendor: User
) -> None:
    known = client.post("/reset", data={"email": vendor.email})
    unknown = client.post("/reset", data={"email": "nobody@nowhere.example"})
    assert known.status_code == unknown.status_code
    assert known.headers["Location"] == unknown.headers["Location"]
    assert known.get_data() == unknown.get_data()
    page = client.get(known.headers["Location"]).get_data(as_text=True)
    assert "If an account uses that address" in page
    # The same work on both paths (one email queued, in one write transaction),
    # so the time taken does not tell either: the unknown address is told that
    # no account uses it, and gets no link.
    [to_vendor] = _messages_to(vendor.email)
    [to_nobody] = _messages_to("nobody@nowhere.example")
    assert to_vendor.subject == to_nobody.subject == "Reset your password"
    assert to_nobody.template == "reset_no_account"
    assert "no account that can sign in uses this address" in to_nobody.body_text
    assert "/reset/" not in to_nobody.body_text


def test_reset_emails_to_an_unknown_address_are_limited_per_hour_too(app: Flask) -> None:
    for _ in range(services.LINKS_PER_HOUR + 2):
        services.request_password_reset("nobody@nowhere.example")
    assert len(_messages_to("nobody@nowhere.example")) == services.LINKS_PER_HOUR


def test_a_reset_link_works_only_once(client: FlaskClient, vendor: User) -> None:
    client.post("/reset", data={"email": vendor.email})
    link = _reset_link(vendor.email)
    client.post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    again = client.post(link, data={"password": "another-fine-password-5", "confirm": "x"})
    assert again.status_code == 400
    assert "already been used" in again.get_data(as_text=True)


def test_a_reset_link_expires_after_an_hour(client: FlaskClient, vendor: User) -> None:
    client.post("/reset", data={"email": vendor.email})
    link = _reset_link(vendor.email)
    with time_machine.travel(utcnow() + timedelta(minutes=61), tick=False):
        response = client.post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 400
    assert "expired" in response.get_data(as_text=True)
    assert services.sign_in(vendor.email, DEFAULT_PASSWORD).id == vendor.id


def test_a_weak_new_password_is_refused_and_the_link_stays_usable(
    client: FlaskClient, vendor: User
) -> None:
    client.post("/reset", data={"email": vendor.email})
    link = _reset_link(vendor.email)
    weak = client.post(link, data={"password": "aaaaaaaaaaaa", "confirm": "aaaaaaaaaaaa"})
    assert weak.status_code == 422
    assert "different characters" in weak.get_data(as_text=True)
    assert (
        client.post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}).status_code
        == 302
    )


def test_a_short_new_password_and_a_missing_repeat_are_reported_together(
    client: FlaskClient, vendor: User
) -> None:
    # The password's rules used to be checked only once the repeat was given.
    client.post("/reset", data={"email": vendor.email})
    page = client.post(_reset_link(vendor.email), data={"password": "short"})
    assert page.status_code == 422
    text = page.get_data(as_text=True)
    assert 'id="password-error"' in text
    assert "Use at least 12 characters" in text
    assert 'id="confirm-error"' in text


def test_a_newer_reset_link_withdraws_the_older_ones_once_used(
    client: FlaskClient, vendor: User
) -> None:
    client.post("/reset", data={"email": vendor.email})
    first = _reset_link(vendor.email)
    client.post("/reset", data={"email": vendor.email})
    second = _reset_link(vendor.email)
    client.post(second, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert client.get(first).status_code == 400


def test_reset_emails_to_one_account_are_capped_per_hour(client: FlaskClient, vendor: User) -> None:
    for _ in range(5):
        client.post("/reset", data={"email": vendor.email})
    assert _reset_tokens() == services.LINKS_PER_HOUR
    with time_machine.travel(utcnow() + timedelta(minutes=61), tick=False):
        services.request_password_reset(vendor.email)
    assert _reset_tokens() == services.LINKS_PER_HOUR + 1


def test_resetting_the_password_unlocks_a_locked_account(app: Flask, vendor: User) -> None:
    for _ in range(services.LOCKOUT_THRESHOLD):
        with pytest.raises(DomainError):
            services.sign_in(vendor.email, "not-the-password-at-all")
    services.request_password_reset(vendor.email)
    token = _reset_link(vendor.email).rsplit("/", 1)[-1]
    services.reset_password(token, NEW_PASSWORD)
    assert services.sign_in(vendor.email, NEW_PASSWORD).id == vendor.id


def test_a_reset_that_lifts_a_lockout_is_audited_as_lifting_it_as_staff_unlocking_is(
    app: Flask, vendor: User
) -> None:
    # The reset was audited only as `user.password_reset`: the log did not say why
    # the lock ended before its time, as it does when an admin lifts it.
    from licensing.audit.models import AuditEvent

    for _ in range(services.LOCKOUT_THRESHOLD):
        with pytest.raises(DomainError):
            services.sign_in(vendor.email, "not-the-password-at-all")
    locked_until = db.session().get(User, vendor.id, populate_existing=True).locked_until
    assert locked_until is not None
    services.request_password_reset(vendor.email)
    token = _reset_link(vendor.email).rsplit("/", 1)[-1]
    services.reset_password(token, NEW_PASSWORD)
    events = db.session().scalars(
        select(AuditEvent)
        .where(AuditEvent.entity_type == "user", AuditEvent.entity_id == str(vendor.id))
        .order_by(AuditEvent.seq)
    )
    tail = [(event.action, event.actor, event.note) for event in events][-2:]
    assert tail == [
        ("user.password_reset", vendor.email, None),
        (
            "user.unlocked",
            vendor.email,
            "The password was reset: the sign-in lockout is lifted.",
        ),
    ]
    unlocked = (
        db.session().scalars(select(AuditEvent).where(AuditEvent.action == "user.unlocked")).one()
    )
    assert json.loads(unlocked.after) == {"locked_until": None}
    assert json.loads(unlocked.before or "{}")["locked_until"] is not None

    # A reset with no lockout to lift records none.
    services.request_password_reset(vendor.email)
    token = _reset_link(vendor.email).rsplit("/", 1)[-1]
    services.reset_password(token, NEW_PASSWORD + "-again")
    count = select(func.count()).where(AuditEvent.action == "user.unlocked")
    assert db.session().scalar(count) == 1


def test_a_new_password_signs_out_other_sessions(
    app: Flask, vendor: User, signed_in: Callable[..., FlaskClient]
) -> None:
    elsewhere = signed_in(app.test_client(), vendor)
    assert elsewhere.get("/portal/").status_code == 200
    services.request_password_reset(vendor.email)
    token = _reset_link(vendor.email).rsplit("/", 1)[-1]
    services.reset_password(token, NEW_PASSWORD)
    assert elsewhere.get("/portal/").status_code == 302


def test_a_password_reset_is_audited_without_the_password(app: Flask, vendor: User) -> None:
    from licensing.audit.models import AuditEvent

    services.request_password_reset(vendor.email)
    token = _reset_link(vendor.email).rsplit("/", 1)[-1]
    services.reset_password(token, NEW_PASSWORD)
    event = (
        db.session()
        .scalars(select(AuditEvent).where(AuditEvent.action == "user.password_reset"))
        .one()
    )
    assert event.actor == vendor.email
    assert NEW_PASSWORD not in f"{event.before}{event.after}{event.note}"


# --- the link's purpose words the page ---------------------------------------------


def _welcome_link(email: str) -> str:
    services.create_staff_user(
        email=email, roles=("billing",), full_name="Dana Ruiz", actor=Actor.SYSTEM
    )
    message = _messages_to(email)[-1]
    found = re.search(r"http://testserver(/reset/\S+)", message.body_text)
    assert found, message.body_text
    return found.group(1)


def test_a_reset_for_an_account_that_never_signed_in_reads_as_a_reset(
    client: FlaskClient, app: Flask
) -> None:
    """A staff member who let the welcome link lapse asks for a reset: the page
    says what the email said, not "Welcome"."""
    _welcome_link("dana.ruiz@licensing.example")
    client.post("/reset", data={"email": "dana.ruiz@licensing.example"})
    page = client.get(_reset_link("dana.ruiz@licensing.example")).get_data(as_text=True)
    assert "<h1>Choose a new password</h1>" in page
    assert "Welcome" not in page
    done = client.post(
        _reset_link("dana.ruiz@licensing.example"),
        data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert done.headers["Location"].endswith("/sign-in")  # a reset: sign in with it


def test_a_welcome_link_is_stored_as_a_welcome_and_spent_by_a_reset(
    client: FlaskClient, app: Flask
) -> None:
    welcome = _welcome_link("dana.ruiz@licensing.example")
    purposes = db.session().scalars(
        select(OneTimeToken.purpose).where(OneTimeToken.email == "dana.ruiz@licensing.example")
    )
    assert list(purposes) == ["welcome"]
    assert "<h1>Choose your password</h1>" in client.get(welcome).get_data(as_text=True)
    client.post("/reset", data={"email": "dana.ruiz@licensing.example"})
    reset = _reset_link("dana.ruiz@licensing.example")
    client.post(reset, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert "already been used" not in client.get(welcome).get_data(as_text=True)
    assert "withdrawn" in client.get(welcome).get_data(as_text=True)


def test_links_issued_before_accounts_0003_keep_working_and_welcomes_read_as_welcomes(
    committed_app: Flask,
) -> None:
    url = committed_app.config["LICENSING"].database_url
    with committed_app.app_context():
        staff = factories.make_staff(db.session(), roles=("billing",))
        vendor = factories.make_vendor(db.session())
        users = {"welcome": staff.id, "reset": vendor.id}
    committed_app.extensions["licensing.db"].engine.dispose()
    migrations.downgrade(url, "accounts_0002")
    now = utcnow()
    with committed_app.app_context(), db.transaction() as session:
        for raw, lifetime in (("welcome", timedelta(days=7)), ("reset", timedelta(hours=1))):
            session.execute(
                insert(OneTimeToken.__table__).values(
                    purpose="reset_password",
                    token_hash=hashlib.sha256(raw.encode()).hexdigest(),
                    email=f"{raw}@example.test",
                    user_id=users[raw],
                    created_at=now,
                    expires_at=now + lifetime,
                )
            )
    committed_app.extensions["licensing.db"].engine.dispose()
    migrations.upgrade(url)
    client = committed_app.test_client()
    with committed_app.app_context():
        rows = db.session().execute(
            select(OneTimeToken.email, OneTimeToken.purpose).where(
                OneTimeToken.email.like("%@example.test")
            )
        )
        purposes = {row.email: row.purpose for row in rows}
        assert purposes == {
            "welcome@example.test": "welcome",
            "reset@example.test": "reset_password",
        }
        assert "<h1>Choose your password</h1>" in client.get("/reset/welcome").get_data(True)
        assert "<h1>Choose a new password</h1>" in client.get("/reset/reset").get_data(True)
        done = client.post(
            "/reset/welcome", data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
        )
        assert done.headers["Location"].endswith("/console/")  # signed in, as welcomes are
    committed_app.extensions["licensing.db"].engine.dispose()
    migrations.downgrade(url, "accounts_0002")
    with committed_app.app_context():
        left = set(db.session().scalars(select(OneTimeToken.purpose).distinct()))
    committed_app.extensions["licensing.db"].engine.dispose()
    assert "welcome" not in left
    migrations.upgrade(url)


def test_a_reset_audits_the_other_reset_links_it_withdraws(app: Flask, vendor: User) -> None:
    from licensing.audit.models import AuditEvent

    services.request_password_reset(vendor.email)
    services.request_password_reset(vendor.email)
    first, followed = db.session().scalars(
        select(OneTimeToken)
        .where(OneTimeToken.user_id == vendor.id, OneTimeToken.purpose == "reset_password")
        .order_by(OneTimeToken.id)
    )
    token = _reset_link(vendor.email).rsplit("/", 1)[-1]
    services.reset_password(token, NEW_PASSWORD)
    event = (
        db.session()
        .scalars(select(AuditEvent).where(AuditEvent.action == "user.password_reset"))
        .one()
    )
    assert event.after_data["links_withdrawn"] == [{"id": first.id, "purpose": "reset_password"}]
    db.session().expire_all()
    assert first.revoked_at is not None
    assert followed.revoked_at is None
    assert followed.used_at is not None
