"""The email outbox delivers to a real SMTP server (aiosmtpd on loopback) with
retries and backoff; nothing is lost when the server refuses or is down."""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.accounts.models import User
from licensing.accounts.services import principal_for
from licensing.actors import Actor
from licensing.audit.models import AuditEvent
from licensing.config import current_config
from licensing.db import utcnow
from licensing.errors import Conflict, InvalidInput, PermissionDenied
from licensing.mail import services as mail
from licensing.mail.models import OutboxMessage
from licensing.mail.smtp import Delivery, SMTPSettings, SMTPTransport
from tests.support import factories
from tests.support.factories import bearer
from tests.support.hosts import run_as_hosts
from tests.support.servers import SMTPServer, free_port, message_text
from tests.support.settings import delivery


@pytest.fixture
def config_changes(smtp_server: SMTPServer) -> dict[str, Any]:
    return {"smtp_url": smtp_server.url}


def _queue(to: str = "robin@northwind.example", name: str = "Robin") -> OutboxMessage:
    with db.transaction() as session:
        return mail.enqueue(
            session,
            to=to,
            subject="Reset your password",
            template="reset_password",
            context={
                "user": {"full_name": name, "email": to},
                "link": "http://x/y",
                "expires_at": utcnow(),
            },
        )


def _reload(message: OutboxMessage) -> OutboxMessage:
    found = db.session().get(OutboxMessage, message.id, populate_existing=True)
    assert found is not None
    return found


def _without_smtp(app: Flask) -> None:
    app.config["LICENSING"] = dataclasses.replace(app.config["LICENSING"], smtp_url="")


def test_a_queued_message_is_rendered_from_its_template(app: Flask) -> None:
    message = _queue(name="Robin Castellanos")
    assert message.state == "queued"
    assert message.to == ["robin@northwind.example"]
    assert "Hello Robin Castellanos," in message.body_text
    assert "http://x/y" in message.body_text
    assert message.message_id is not None
    assert message.message_id.endswith("@example.test>")


def _queue_then_fail() -> None:
    with db.transaction() as session:
        mail.enqueue(
            session,
            to="robin@northwind.example",
            subject="x",
            template="reset_password",
            context={"user": {"full_name": "R"}, "link": "l", "expires_at": utcnow()},
        )
        raise Conflict("the change failed")


def test_a_message_is_not_queued_when_its_change_rolls_back(app: Flask) -> None:
    with pytest.raises(Conflict):
        _queue_then_fail()
    assert db.session().scalars(select(OutboxMessage)).all() == []


def test_an_address_that_is_not_one_is_refused(app: Flask) -> None:
    with pytest.raises(InvalidInput) as refused:
        _queue(to="robin at northwind")
    assert "to" in refused.value.errors


def test_due_messages_are_delivered_to_the_smtp_server(app: Flask, mailbox: SMTPServer) -> None:
    message = _queue()
    report = mail.deliver_due(delivery())
    assert (report.sent, report.deferred, report.failed) == (1, 0, 0)
    received = mailbox.wait_for(1)[0]
    assert received["To"] == "robin@northwind.example"
    assert received["From"] == "CPT Licensing <licensing@example.test>"
    assert received["Subject"] == "Reset your password"
    assert received["Message-ID"] == message.message_id
    assert "http://x/y" in message_text(received)
    sent = _reload(message)
    assert (sent.state, sent.attempts) == ("sent", 1)
    assert sent.sent_at is not None
    assert mail.deliver_due(delivery()).attempted == 0  # never sent twice


def test_a_refusing_server_leaves_the_message_queued_for_a_retry(
    app: Flask, mailbox: SMTPServer
) -> None:
    message = _queue()
    mailbox.refuse = True
    now = utcnow()
    report = mail.deliver_due(delivery(), now=now)
    assert (report.sent, report.deferred) == (0, 1)
    waiting = _reload(message)
    assert (waiting.state, waiting.attempts) == ("queued", 1)
    assert "451" in (waiting.last_error or "")
    assert waiting.next_attempt_at == now + mail.backoff(1)
    mailbox.refuse = False
    assert (
        mail.deliver_due(delivery(), now=now + timedelta(seconds=30)).attempted == 0
    )  # not due yet
    later = mail.deliver_due(delivery(), now=now + timedelta(minutes=2))
    assert later.sent == 1
    assert len(mailbox.wait_for(1)) == 1
    assert _reload(message).attempts == 2


def test_a_server_that_is_down_leaves_every_message_queued(app: Flask) -> None:
    first, second = _queue(), _queue(to="sam@bluefin.example")
    closed = SMTPTransport(SMTPSettings.from_url(f"smtp://127.0.0.1:{free_port()}", timeout=2))
    report = mail.deliver_due(Delivery(closed, current_config().mail_from))
    assert (report.sent, report.deferred, report.failed) == (0, 2, 0)
    for message in (first, second):
        waiting = _reload(message)
        assert waiting.state == "queued"
        assert waiting.attempts == 1
        assert "Connection refused" in (waiting.last_error or "") or "Errno" in (
            waiting.last_error or ""
        )


def test_a_server_that_is_down_is_logged_by_the_outboxs_own_logger(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    # Delivery read the running app for its logger (`current_app.logger`); its module
    # logger is a child of the app's, so the warning reaches the same handlers.
    _queue()
    closed = SMTPTransport(SMTPSettings.from_url(f"smtp://127.0.0.1:{free_port()}", timeout=2))
    with caplog.at_level(logging.WARNING, logger="licensing"):
        mail.deliver_due(Delivery(closed, current_config().mail_from))
    (record,) = [r for r in caplog.records if "SMTP server unavailable" in r.getMessage()]
    assert (record.name, record.levelname) == ("licensing.mail.services", "WARNING")
    assert logging.getLogger(record.name).parent is app.logger


def test_backoff_grows_then_stops_at_an_hour() -> None:
    assert [mail.backoff(n).total_seconds() / 60 for n in range(1, 9)] == [
        1, 2, 4, 8, 16, 32, 60, 60
    ]  # fmt: skip


def test_a_message_fails_after_the_last_attempt_and_staff_can_retry_it(
    app: Flask, mailbox: SMTPServer, admin: User, signed_in: Callable[..., FlaskClient]
) -> None:
    message = _queue()
    mailbox.refuse = True
    moment = utcnow()
    for _ in range(mail.MAX_ATTEMPTS):
        mail.deliver_due(delivery(), now=moment)
        moment = _reload(message).next_attempt_at
    failed = _reload(message)
    assert (failed.state, failed.attempts) == ("failed", mail.MAX_ATTEMPTS)
    assert mail.deliver_due(delivery(), now=moment + timedelta(days=1)).attempted == 0

    client = signed_in(app.test_client(), admin)
    page = client.get(f"/console/outbox/{message.id}").get_data(as_text=True)
    assert "451" in page
    assert client.post(f"/console/outbox/{message.id}/retry").status_code == 302
    retried = _reload(message)
    assert (retried.state, retried.attempts) == ("queued", 0)
    mailbox.refuse = False
    assert mail.deliver_due(delivery()).sent == 1
    assert _reload(message).state == "sent"


def test_a_retry_is_audited_as_the_admin_who_asked_and_refused_to_anyone_else(
    app: Flask, mailbox: SMTPServer, admin: User, billing_staff: User
) -> None:
    message = _queue()
    mailbox.refuse = True
    moment = utcnow()
    for _ in range(mail.MAX_ATTEMPTS):
        mail.deliver_due(delivery(), now=moment)
        moment = _reload(message).next_attempt_at
    with pytest.raises(PermissionDenied):
        mail.retry_message(message.id, actor=Actor.of(principal_for(billing_staff)))
    assert _reload(message).state == "failed"
    mail.retry_message(message.id, actor=Actor.of(principal_for(admin)))
    event = (
        db.session()
        .scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "outbox_message.retried")
            .order_by(AuditEvent.seq.desc())
        )
        .first()
    )
    assert event is not None
    assert (event.actor, event.actor_user_id) == (admin.email, admin.id)


def test_retrying_a_message_that_has_not_failed_is_a_409(client: FlaskClient, admin: User) -> None:
    message = _queue()
    response = client.post(f"/api/v1/outbox-messages/{message.id}/retry", headers=bearer(admin))
    assert response.status_code == 409
    # Round 58: none of the delivery's own steps (`defer`, `deliver`, `give_up`) is
    # listed as if the admin could take it: `retry` is theirs, and not from `queued`.
    assert response.get_json()["allowed_actions"] == []


def test_without_smtp_mail_stays_queued_and_readable_by_staff(
    app: Flask, admin: User, signed_in: Callable[..., FlaskClient]
) -> None:
    _without_smtp(app)
    message = _queue()
    report = mail.deliver_due(delivery())
    assert report.skipped
    assert _reload(message).state == "queued"
    client = signed_in(app.test_client(), admin)
    outbox = client.get("/console/outbox").get_data(as_text=True)
    assert "No <code>SMTP_URL</code> is configured" in outbox
    assert "Reset your password" in outbox
    body = client.get(f"/console/outbox/{message.id}").get_data(as_text=True)
    assert "http://x/y" in body
    listed = client.get(
        "/api/v1/outbox-messages", query_string={"state": "queued"}, headers=bearer(admin)
    ).get_json()
    assert [item["id"] for item in listed["items"]] == [message.id]


def test_a_claimed_message_is_left_alone_by_other_senders_until_its_lease_lapses(
    app: Flask, mailbox: SMTPServer
) -> None:
    message = _queue()
    now = utcnow()
    assert mail._claim(now, 10) == [message.id]  # a sender that then crashed
    assert mail.deliver_due(delivery(), now=now).attempted == 0
    later = mail.deliver_due(delivery(), now=now + mail.CLAIM_LEASE + timedelta(seconds=1))
    assert later.sent == 1
    assert _reload(message).attempts == 2


def test_senders_running_at_once_deliver_each_message_exactly_once(
    committed_app: Flask, mailbox: SMTPServer
) -> None:
    committed_app.config["LICENSING"] = dataclasses.replace(
        committed_app.config["LICENSING"], smtp_url=mailbox.url
    )
    count, senders = 24, 4
    with committed_app.app_context():
        for number in range(count):
            _queue(to=f"reader{number}@northwind.example")
    run_as_hosts(committed_app, lambda: mail.deliver_due(delivery()), hosts=senders)
    received = mailbox.wait_for(count)
    assert sorted(str(m["To"]) for m in received) == sorted(
        f"reader{n}@northwind.example" for n in range(count)
    )
    with committed_app.app_context():
        states = {m.state for m in db.session().scalars(select(OutboxMessage))}
        assert states == {"sent"}


def test_the_outbox_send_command_reports_and_fails_when_the_server_refuses(
    app: Flask, mailbox: SMTPServer
) -> None:
    _queue()
    mailbox.refuse = True
    refused = app.test_cli_runner().invoke(args=["outbox", "send"])
    assert refused.exit_code == 1
    assert "0 sent, 1 to retry later" in refused.output
    mailbox.refuse = False
    db.session().execute(
        OutboxMessage.__table__.update().values(next_attempt_at=utcnow() - timedelta(seconds=1))
    )
    sent = app.test_cli_runner().invoke(args=["outbox", "send"])
    assert sent.exit_code == 0, sent.output
    assert "1 sent" in sent.output
    assert len(mailbox.wait_for(1)) == 1


def test_staff_recipients_are_the_holders_of_a_role_or_else_the_admins(
    app: Flask, billing_staff: User, admin: User
) -> None:
    assert mail.staff_recipients("billing") == [billing_staff.email]
    assert mail.staff_recipients("licensing") == [admin.email]


def _join_deliveries() -> None:
    for thread in threading.enumerate():
        if thread.name == "outbox":
            thread.join(timeout=30)
            assert not thread.is_alive(), "a delivery after the request did not finish"


class TestDeliveryAfterTheRequest:
    """Delivery runs in a thread of its own, so these tests use an app whose engine
    is their own (`committed_app`): a thread sharing the `app` fixture's single
    connection ran SQL on it while the test rolled it back, and SQLite's driver
    crashed the process (a segmentation fault, now and then in CI)."""

    @pytest.fixture
    def config_changes(self, smtp_server: SMTPServer) -> dict[str, Any]:
        return {"smtp_url": smtp_server.url, "send_mail_after_request": True}

    @pytest.fixture
    def delivering_app(self, committed_app: Flask) -> Iterator[Flask]:
        """`committed_app` in an app context; its deliveries are joined before
        `committed_app` disposes of the engine (this fixture is torn down first)."""
        with committed_app.app_context():
            yield committed_app
        _join_deliveries()

    def test_mail_queued_by_a_request_is_sent_right_after_it(
        self, delivering_app: Flask, mailbox: SMTPServer, caplog: pytest.LogCaptureFixture
    ) -> None:
        vendor = factories.make_vendor(db.session())
        caplog.set_level(logging.INFO)
        response = delivering_app.test_client().post("/reset", data={"email": vendor.email})
        assert response.status_code == 302
        received = mailbox.wait_for(1)
        assert received[0]["Subject"] == "Reset your password"
        assert str(received[0]["To"]) == vendor.email
        _join_deliveries()
        # Round 32: the delivery thread's line carries the id of the request that queued it.
        (delivered,) = [r for r in caplog.records if r.getMessage().startswith("outbox: 1 sent")]
        assert delivered.threadName == "outbox"
        assert delivered.request_id == response.headers["X-Request-Id"]  # type: ignore[attr-defined]

    def test_a_request_that_queued_nothing_sends_nothing(
        self, delivering_app: Flask, mailbox: SMTPServer
    ) -> None:
        _queue()  # outside the request: the request itself queues nothing
        delivering_app.test_client().get("/").close()
        _join_deliveries()  # had the request started a delivery, it is done now
        assert mailbox.messages == []

    def test_an_app_bound_to_one_connection_refuses_to_deliver_in_a_thread(
        self, app: Flask, vendor: User, mailbox: SMTPServer
    ) -> None:
        with pytest.raises(RuntimeError, match="engine is its own"):
            app.test_client().post("/reset", data={"email": vendor.email})
        assert not any(thread.name == "outbox" for thread in threading.enumerate())
        assert mailbox.messages == []


# --- secrets in mail -------------------------------------------------------------


def _reset_message_for(vendor: User) -> tuple[OutboxMessage, str]:
    """A real password reset email, and the secret token its link carries."""
    import re

    from licensing.accounts import services as accounts

    accounts.request_password_reset(vendor.email)
    message = (
        db.session()
        .scalars(select(OutboxMessage).where(OutboxMessage.template == "reset_password"))
        .one()
    )
    found = re.search(r"/reset/(\S+)", message.body_text)
    assert found, message.body_text
    return message, found.group(1)


def test_admins_see_one_time_links_masked_on_the_outbox_page_and_api(
    app: Flask, admin: User, vendor: User, signed_in: Callable[..., FlaskClient]
) -> None:
    _without_smtp(app)
    message, secret = _reset_message_for(vendor)
    client = signed_in(app.test_client(), admin)
    page = client.get(f"/console/outbox/{message.id}").get_data(as_text=True)
    assert secret not in page
    assert f"/reset/{secret[:4]}…[hidden]" in page
    api = client.get(f"/api/v1/outbox-messages/{message.id}", headers=bearer(admin)).get_json()
    assert secret not in api["body_text"]
    assert "…[hidden]" in api["body_text"]
    listed = client.get("/api/v1/outbox-messages", headers=bearer(admin)).get_json()
    assert secret not in str(listed)


def test_the_recipient_gets_the_whole_link_and_it_is_erased_once_sent(
    app: Flask, vendor: User, mailbox: SMTPServer
) -> None:
    message, secret = _reset_message_for(vendor)
    assert mail.deliver_due(delivery()).sent == 1
    assert f"/reset/{secret}" in message_text(mailbox.wait_for(1)[0])
    sent = _reload(message)
    assert secret not in sent.body_text
    assert secret not in (sent.body_html or "")
    assert "…[hidden]" in sent.body_text


@pytest.mark.parametrize("template", ["verify_email", "invitation", "staff_welcome"])
def test_every_one_time_link_is_masked_for_staff(app: Flask, vendor: User, template: str) -> None:
    import re

    from licensing.accounts import services as accounts

    if template == "verify_email":
        accounts.resend_verification(
            accounts.sign_up(
                email="new.person@contoso.example",
                password="amber-orchard-violin-88",
                full_name="New Person",
                organization={
                    "legal_name": "Contoso Health Software",
                    "organization_type": "commercial",
                    "address_line1": "1 Main St",
                    "city": "Springfield",
                    "country": "US",
                    "billing_contact_name": "New Person",
                    "billing_email": "billing@contoso.example",
                },
            )
        )
    elif template == "invitation":
        accounts.invite_member(
            vendor.organization_id or 0,
            "colleague@northwind.example",
            Actor.of(accounts.principal_for(vendor)),
        )
    else:
        accounts.create_staff_user(
            email="new.staff@licensing.example",
            roles=("billing",),
            full_name="New Staff",
            actor=Actor.SYSTEM,
        )
    message = (
        db.session()
        .scalars(select(OutboxMessage).where(OutboxMessage.template == template))
        .first()
    )
    assert message is not None
    found = re.search(r"http://testserver/\S+/(\S+)", message.body_text)
    assert found, message.body_text
    assert found.group(1) not in message.display_text
    assert "…[hidden]" in message.display_text
