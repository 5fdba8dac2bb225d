"""Round 32: one request followed through the logs. Every line written while a
request is served carries its request id (and the signed-in caller's user id);
every line of a periodic job's run, or of a command, carries the job's name and a
run id; and no line a request writes holds a secret it handled
(docs/operations.md, "The app's log")."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from licensing import db, log_context
from licensing.billing import links
from licensing.worker import MINUTE, Job, Worker
from tests.integration.billing.conftest import activated, send_activation
from tests.support import factories
from tests.support.factories import DEFAULT_PASSWORD

FORMAT = log_context.Formatter()


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [FORMAT.format(record) for record in caplog.records]


def _records(caplog: pytest.LogCaptureFixture, starting: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage().startswith(starting)]


def _new_token(client: FlaskClient) -> str:
    page = client.post("/account/tokens", data={"name": "logs"})
    assert page.status_code == 200
    found = re.search(r'<p class="secret" id="new-token">([^<]+)</p>', page.get_data(as_text=True))
    assert found
    return found.group(1)


def test_a_line_logged_in_a_request_carries_its_request_id_and_the_callers_user_id(
    app: Flask, vendor: Any, signed_in: Callable[..., FlaskClient], caplog: pytest.LogCaptureFixture
) -> None:
    client = signed_in(app.test_client(), vendor)
    caplog.set_level(logging.INFO)
    response = client.post(
        "/account/tokens", data={"name": "logs"}, headers={"X-Request-Id": "support-ticket-42"}
    )
    assert response.status_code == 200
    (audited,) = _records(caplog, "audit: api_token.created")
    assert audited.request_id == "support-ticket-42"  # type: ignore[attr-defined]
    assert audited.user_id == str(vendor.id)  # type: ignore[attr-defined]
    assert audited.job == "-"  # type: ignore[attr-defined]
    line = FORMAT.format(audited)
    assert line.startswith(
        f"INFO:licensing.audit.services:[request_id=support-ticket-42 user_id={vendor.id}] audit: "
    )
    # The id the client reads back is the one the lines carry.
    assert response.headers["X-Request-Id"] == "support-ticket-42"


def test_a_request_without_an_id_gets_one_and_its_lines_and_answer_share_it(
    client: FlaskClient, vendor: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    response = client.post("/reset", data={"email": vendor.email})
    assert response.status_code == 302
    given = response.headers["X-Request-Id"]
    lines = [r for r in caplog.records if r.name.startswith("licensing")]
    assert _records(caplog, "outbox: queued reset_password")  # the reset email
    assert {r.request_id for r in lines} == {given}  # type: ignore[attr-defined]
    assert {r.user_id for r in lines} == {"-"}  # type: ignore[attr-defined]  # nobody signed in
    # After the request, a line of the test's own carries no request's id.
    logging.getLogger("licensing.test").warning("between requests")
    assert caplog.records[-1].request_id == "-"  # type: ignore[attr-defined]
    assert FORMAT.format(caplog.records[-1]) == "WARNING:licensing.test:between requests"


def test_every_line_of_a_job_run_carries_the_jobs_name_and_a_run_id_of_its_own(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    def work() -> str:
        logging.getLogger("licensing.mail.services").info("inside the job")
        return "done"

    caplog.set_level(logging.INFO)
    worker = Worker(app, (Job("outbox send", MINUTE, work),))
    worker.run_due()
    worker.next_due["outbox send"] = 0.0
    worker.run_due()
    inside = _records(caplog, "inside the job")
    closing = _records(caplog, "worker: outbox send: done")
    assert len(inside) == len(closing) == 2
    runs = [r.run_id for r in inside]  # type: ignore[attr-defined]
    assert runs == [r.run_id for r in closing]  # type: ignore[attr-defined]
    assert runs[0] != runs[1]
    assert all(re.fullmatch(r"[0-9a-f]{12}", run) for run in runs)
    assert {r.job for r in inside + closing} == {"outbox send"}  # type: ignore[attr-defined]
    assert {r.request_id for r in inside} == {"-"}  # type: ignore[attr-defined]
    assert FORMAT.format(inside[0]) == (
        f'INFO:licensing.mail.services:[job="outbox send" run_id={runs[0]}] inside the job'
    )
    # Once the run is over, lines carry no job.
    logging.getLogger("licensing.test").warning("after")
    assert caplog.records[-1].job == "-"  # type: ignore[attr-defined]


def test_a_commands_lines_carry_its_name_and_a_run_id(
    app: Flask, vendor: Any, caplog: pytest.LogCaptureFixture
) -> None:
    colleague = factories.make_vendor(db.session(), vendor.organization)
    caplog.set_level(logging.INFO)
    caplog.clear()
    result = app.test_cli_runner().invoke(args=["users", "set-role", colleague.email, "billing"])
    assert result.exit_code == 0, result.output
    lines = [r for r in caplog.records if r.getMessage().startswith(("audit:", "outbox:"))]
    assert len(lines) >= 2  # the change audited, the user emailed
    assert {r.job for r in lines} == {"users set-role"}  # type: ignore[attr-defined]
    assert len({r.run_id for r in lines}) == 1  # type: ignore[attr-defined]


def test_no_line_a_request_writes_holds_a_secret_it_handled(
    app: Flask, vendor: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A sign-in (password, session cookie), a token made and used, and an
    emailed invoice link opened, with every logger at DEBUG."""
    caplog.set_level(logging.DEBUG)
    client = app.test_client()
    signed = client.post("/sign-in", data={"email": vendor.email, "password": DEFAULT_PASSWORD})
    assert signed.status_code == 302
    cookie = client.get_cookie("licensing_session")
    assert cookie is not None
    token = _new_token(client)
    me = app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    invoice = send_activation(activated(vendor.organization_id))
    assert invoice is not None
    url = links.invoice_url(invoice)
    link_secret = url.rstrip("/").rsplit("/", 1)[1]
    opened = app.test_client().get("/" + url.split("://", 1)[1].split("/", 1)[1])
    assert opened.status_code == 200

    text = "\n".join(_lines(caplog))
    assert "audit: api_token.created" in text  # lines were written, and read here
    request_lines = [r for r in caplog.records if r.request_id != "-"]  # type: ignore[attr-defined]
    assert request_lines
    for secret in (DEFAULT_PASSWORD, cookie.value, token, link_secret):
        assert len(secret) >= 8
        assert secret not in text
    assert vendor.email not in text
