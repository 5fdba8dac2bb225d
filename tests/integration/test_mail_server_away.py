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
from licensing.config import current_config
from licensing.db import utcnow
from licensing.mail import services as mail
from licensing.mail.models import OutboxMessage
from licensing.mail.smtp import Delivery
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


def _ids() -> dict[str, int]:
    """Each queued message's id by its address."""
    return {
        message.to[0]: message.id
        for message in db.session().scalars(select(OutboxMessage).order_by(OutboxMessage.id))
    }


def _reread(message_id: int) -> OutboxMessage:
    db.session().expire_all()
    found = db.session().get(OutboxMessage, message_id)
    assert found is not None
    return found


REFUSED = "nobody@bluefin.example"
# What a send refused for the message itself leaves as its last error (a bad address).
REFUSED_FOR_ITSELF = (
    "SMTPRecipientsRefused: {'nobody@bluefin.example': (550, b'5.1.1 No such mailbox')}"
)


def test_mail_held_back_by_the_outage_goes_in_the_first_run_the_server_answers_in_the_order_queued(
    office: Flask, back_later: list[SMTPServer]
) -> None:
    """Round 61 (outage61b): before, each held-back message went at its next backoff
    try: the server back at minute 20, the two messages went at minute 31 (tried at 0,
    1, 3, 7 and 15), after an outage of an hour up to an hour after it ended. A message
    the server refused for itself (a bad address) keeps its own backoff."""
    app = office
    _queue(REFUSED)
    for address in ADDRESSES:
        _queue(address)
    ids = _ids()
    start = utcnow()
    with db.transaction() as session:  # refused for itself five times before the outage
        refused = session.get(OutboxMessage, ids[REFUSED])
        assert refused is not None
        refused.attempts, refused.last_error = 5, REFUSED_FOR_ITSELF
        refused.next_attempt_at = start + timedelta(minutes=50)

    said = [_send(app, start + timedelta(minutes=minute)) for minute in range(20)]
    assert all(line.startswith("0 sent") for line in said)
    held = _reread(ids[ADDRESSES[0]])
    assert held.next_attempt_at == start + timedelta(minutes=31)  # its backoff: 16 minutes
    assert held.last_error is not None
    assert held.last_error.startswith(mail.SERVER_AWAY)  # the Outbox says why it waits

    server = SMTPServer(port=PORT).start()
    back_later.append(server)
    first_back = _send(app, start + timedelta(minutes=20))
    assert first_back.startswith("2 sent, 0 to retry later"), first_back
    received = server.wait_for(2)
    assert [str(message["To"]) for message in received] == list(ADDRESSES)  # order kept
    for address in ADDRESSES:
        sent = _reread(ids[address])
        assert (sent.state, sent.attempts) == ("sent", 6)
    kept = _reread(ids[REFUSED])
    assert (kept.state, kept.attempts, kept.last_error) == ("queued", 5, REFUSED_FOR_ITSELF)
    assert kept.next_attempt_at == start + timedelta(minutes=50)

    # Each once: the runs after it, to the refused message's own next try, send nothing.
    after = [_send(app, start + timedelta(minutes=minute)) for minute in range(21, 50)]
    assert all(line.startswith("0 sent, 0 to retry later") for line in after)
    assert len(server.messages) == 2


def test_a_long_queue_held_back_goes_a_runs_limit_at_a_time_each_once_the_first_queued_first(
    office: Flask, back_later: list[SMTPServer]
) -> None:
    """The held-back messages are let go in a bounded batch: as many as the run may
    still send; the rest the next run, which finds the server answering again."""
    addresses = [f"licensee{number}@northwind.example" for number in range(5)]
    for address in addresses:
        _queue(address)
    start = utcnow()
    delivery = Delivery.from_config(current_config())
    for minute in (0, 1, 3):
        with time_machine.travel(start + timedelta(minutes=minute), tick=False):
            assert mail.deliver_due(delivery).deferred == 5

    server = SMTPServer(port=PORT).start()
    back_later.append(server)
    runs = []
    for minute in (4, 5, 6):
        with time_machine.travel(start + timedelta(minutes=minute), tick=False):
            runs.append(mail.deliver_due(delivery, limit=3).sent)
    assert runs == [3, 2, 0]
    received = server.wait_for(5)
    assert [str(message["To"]) for message in received] == addresses


class _NoSuchMailbox(SMTPServer):
    """The SMTP server refusing one address (550), taking every other."""

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # type: ignore[no-untyped-def]
        if address == REFUSED:
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"


def test_a_message_refused_for_itself_keeps_its_backoff_and_the_rest_of_its_batch_goes(
    office: Flask, back_later: list[SMTPServer]
) -> None:
    """Round 61 (outage61b): smtplib's refusals are OSErrors, which the sender took for
    the server gone: a bad address first in a batch stopped the run there, and every
    message after it waited as though the server were away."""
    server = _NoSuchMailbox(port=PORT).start()
    back_later.append(server)
    _queue(REFUSED)
    for address in ADDRESSES:
        _queue(address)
    ids = _ids()
    start = utcnow()
    said = _send(office, start)
    assert said.startswith("2 sent, 1 to retry later"), said
    assert sorted(str(message["To"]) for message in server.wait_for(2)) == sorted(ADDRESSES)
    refused = _reread(ids[REFUSED])
    assert (refused.state, refused.attempts) == ("queued", 1)
    assert refused.last_error is not None
    assert refused.last_error.startswith("SMTPRecipientsRefused: ")  # not held by an outage
    assert refused.next_attempt_at == start + mail.backoff(1)
