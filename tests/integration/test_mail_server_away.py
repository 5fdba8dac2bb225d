"""Round 61 (outage61): the SMTP server down for a while, then back.

The outbox keeps every message and sends each once when the server returns. Before,
neither `/readyz` nor the Jobs page said mail was behind while the server was down:
the outbox's runs are recorded ok (they tried every message, round 49), and
`outbox: stuck` looks for mail due and untried, while each failed try moves a message's
next attempt ahead by its backoff, so with the worker running it never fired."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.db import utcnow
from licensing.mail import services as mail
from licensing.mail.models import OutboxMessage
from tests.support import factories
from tests.support.factories import DEFAULT_PASSWORD
from tests.support.servers import SMTPServer, free_port

PORT = free_port()
ADDRESSES = ("robin@northwind.example", "sam@bluefin.example")


@pytest.fixture
def config_changes() -> dict[str, Any]:
    return {"smtp_url": f"smtp://127.0.0.1:{PORT}"}


@pytest.fixture
def back_later() -> Iterator[list[SMTPServer]]:
    """The SMTP server the app names, once a test starts it; stopped after."""
    started: list[SMTPServer] = []
    yield started
    for server in started:
        server.stop()


@pytest.fixture
def office(committed_app: Flask) -> Iterator[Flask]:
    """The app on a database of its own (`/readyz` probes on a connection of its own),
    its context pushed."""
    with committed_app.app_context():
        yield committed_app


def _queue(to: str) -> None:
    with db.transaction() as session:
        mail.enqueue(
            session,
            to=to,
            subject="Your royalty report was received",
            template="reset_password",
            context={
                "user": {"full_name": "Robin", "email": to},
                "link": "http://x/y",
                "expires_at": utcnow(),
            },
        )


def _send(app: Flask, at: datetime) -> str:
    """`licensing outbox send` as cron or the worker runs it, at `at`."""
    with time_machine.travel(at, tick=False):
        result = app.test_cli_runner().invoke(args=["outbox", "send"])
    return result.output


def _readyz(client: FlaskClient, at: datetime) -> dict[str, Any]:
    with time_machine.travel(at, tick=False):
        answer = client.get("/readyz")
    assert answer.status_code == 200  # requests are served; mail waits
    found: dict[str, Any] = answer.get_json()
    return found


def _jobs_page(client: FlaskClient, at: datetime) -> str:
    with time_machine.travel(at, tick=False):
        answer = client.get("/console/jobs")
    assert answer.status_code == 200
    return answer.get_data(as_text=True)


def test_mail_queued_while_the_smtp_server_is_down_is_said_behind_then_sent_once_when_it_returns(
    office: Flask, back_later: list[SMTPServer]
) -> None:
    app = office
    admin = factories.make_staff(db.session(), roles=("admin",))
    for address in ADDRESSES:
        _queue(address)
    start = utcnow()
    staff = app.test_client()
    signed = staff.post("/sign-in", data={"email": admin.email, "password": DEFAULT_PASSWORD})
    assert signed.status_code == 302

    # Down for 20 minutes, the worker's run each minute: each run tries what is due,
    # keeps it, and is no failure of the job's.
    said = [_send(app, start + timedelta(minutes=minute)) for minute in range(16)]
    assert "0 sent, 2 to retry later, 0 failed after 8 attempts" in said[0]
    assert all(" 0 failed" in line and "0 sent" in line for line in said)
    assert _readyz(staff, start + timedelta(minutes=3))["outbox"] == "ok"  # not yet 10 minutes

    later = start + timedelta(minutes=15)
    ready = _readyz(staff, later)
    assert (ready["status"], ready["outbox"]) == ("degraded", "behind")
    assert ready["outbox_detail"] == (
        "2 emails are waiting to be sent, the oldest queued 15 minutes ago: each try failed "
        "(the SMTP server refused or could not be reached); each is tried again with a "
        "growing wait and sent once, when the server takes it"
    )
    assert "127.0.0.1" not in str(ready)  # public: no address, no error's words
    page = _jobs_page(staff, later)
    assert 'id="mail-behind"' in page
    assert "2 emails are waiting to be sent, the oldest queued 15 minutes ago" in page
    assert "/console/outbox?state=queued" in page
    said += [_send(app, start + timedelta(minutes=minute)) for minute in range(16, 20)]

    # Back at minute 20: the runs after it send each message once, at its next try.
    server = SMTPServer(port=PORT).start()
    back_later.append(server)
    said += [_send(app, start + timedelta(minutes=minute)) for minute in range(20, 40)]
    sent = [line.split(" sent")[0] for line in said]
    assert sum(int(count) for count in sent) == 2
    received = server.wait_for(2)
    assert sorted(str(message["To"]) for message in received) == sorted(ADDRESSES)
    db.session().expire_all()
    kept = db.session().scalars(select(OutboxMessage)).all()
    assert [message.state for message in kept] == ["sent", "sent"]
    assert _readyz(staff, start + timedelta(minutes=40))["outbox"] == "ok"
    assert 'id="mail-behind"' not in _jobs_page(staff, start + timedelta(minutes=40))
