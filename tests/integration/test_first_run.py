"""A first run without an SMTP server or an admin: in development, mail is
delivered to the mail viewer at /dev/mail (which exists nowhere else), and
`licensing setup` creates an admin whose password it prints once."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from licensing import db
from licensing.accounts import cli as accounts_cli
from licensing.accounts import queries as accounts_queries
from licensing.app import create_app
from licensing.db import utcnow
from licensing.mail import services as mail
from licensing.mail.models import OutboxMessage
from tests.conftest import DatabaseTemplate, make_config
from tests.support.settings import delivery


@pytest.fixture
def config_changes() -> dict[str, Any]:
    return {"dev_mail_viewer": True, "smtp_url": ""}


def _development(app: Flask) -> None:
    app.config["LICENSING"] = dataclasses.replace(
        app.config["LICENSING"], environment="development"
    )


def _queue(link: str) -> OutboxMessage:
    with db.transaction() as session:
        return mail.enqueue(
            session,
            to="robin@northwind.example",
            subject="Reset your password",
            template="reset_password",
            context={
                "user": {"full_name": "Robin", "email": "robin@northwind.example"},
                "link": link,
                "expires_at": utcnow(),
            },
        )


def test_the_mail_viewer_lists_every_message_with_its_links_clickable(app: Flask) -> None:
    _queue("http://127.0.0.1:5000/reset-password/first-token")
    _queue("http://127.0.0.1:5000/reset-password/second-<token>")
    page = app.test_client().get("/dev/mail/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert html.count("Reset your password</h2>") == 2
    assert (
        '<a href="http://127.0.0.1:5000/reset-password/first-token">'
        "http://127.0.0.1:5000/reset-password/first-token</a>"
    ) in html
    assert "&lt;token&gt;" in html
    assert "<token>" not in html
    assert "answers only to this computer" in html


def test_the_mail_viewer_answers_only_on_this_computer(app: Flask) -> None:
    remote = app.test_client().get("/dev/mail/", environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert remote.status_code == 404


def test_in_development_without_smtp_mail_is_delivered_to_the_viewer(app: Flask) -> None:
    message = _queue("http://127.0.0.1:5000/x")
    report = mail.deliver_due(delivery())
    assert str(report).startswith("1 sent to the development mail viewer (/dev/mail)")
    db.session().refresh(message)
    assert message.state == "sent"


def _queue_with_secret(token: str) -> OutboxMessage:
    with db.transaction() as session:
        return mail.enqueue(
            session,
            to="robin@northwind.example",
            subject="Confirm your email address",
            template="reset_password",
            context={
                "user": {"full_name": "Robin", "email": "robin@northwind.example"},
                "link": f"http://127.0.0.1:5000/verify-email/{token}",
                "expires_at": utcnow(),
            },
            secrets=[token],
        )


def test_a_link_delivered_to_the_mail_viewer_stays_clickable_there(app: Flask) -> None:
    # `make run` runs the worker, which delivers every minute: a newcomer who opens
    # /dev/mail after that must still find the whole confirmation link.
    token = "first-run-token-0123456789abcdef"
    message = _queue_with_secret(token)
    mail.deliver_due(delivery())
    db.session().refresh(message)
    assert message.state == "sent"
    html = app.test_client().get("/dev/mail/").get_data(as_text=True)
    assert f'<a href="http://127.0.0.1:5000/verify-email/{token}">' in html
    # Staff still read it masked on the outbox page.
    assert token not in (message.display_text or "")


@pytest.fixture
def production_app(database_template: DatabaseTemplate) -> Iterator[Flask]:
    application = create_app(make_config(database_template.url, environment="production"))
    yield application
    application.extensions["licensing.db"].engine.dispose()


def test_there_is_no_mail_viewer_in_production(production_app: Flask) -> None:
    assert "dev_mail.inbox" not in production_app.view_functions
    assert production_app.test_client().get("/dev/mail/").status_code == 404


def test_setup_in_development_creates_an_admin_and_prints_its_password_once(app: Flask) -> None:
    _development(app)
    said = accounts_cli.first_admin()
    found = re.search(r"created admin@example\.com with password (\S+) ", said)
    assert found, said
    response = app.test_client().post(
        "/sign-in", data={"email": "admin@example.com", "password": found.group(1)}
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/console/")
    again = accounts_cli.first_admin()
    assert "an admin exists" in again
    assert found.group(1) not in again
    assert accounts_queries.active_admin_count(db.session()) == 1


def test_setup_outside_development_creates_no_admin_and_says_how(app: Flask) -> None:
    said = accounts_cli.first_admin()
    assert said == "none yet; create the first with `licensing users create-admin EMAIL`"
    assert accounts_queries.active_admin_count(db.session()) == 0


def test_the_console_outbox_points_admins_to_the_mail_viewer(
    app: Flask, admin: Any, signed_in: Any
) -> None:
    client = signed_in(app.test_client(), admin)
    page = client.get("/console/outbox").get_data(as_text=True)
    assert '<a href="/dev/mail/">development mail viewer</a>' in page


def test_the_mail_viewer_reads_a_page_number_out_of_range_as_the_first_page(app: Flask) -> None:
    _queue("http://127.0.0.1:5000/x")
    for page in ("99999999999999999999999", "-3", "\u0661"):
        found = app.test_client().get(f"/dev/mail/?page={page}")
        assert found.status_code == 200, page
        assert "Reset your password</h2>" in found.get_data(as_text=True), page


def test_the_mail_viewer_names_the_files_a_message_carries(app: Flask) -> None:
    # A decision letter or an invoice went out attached, and the viewer showed no
    # sign of it: a developer could not tell the email carried the PDF.
    with db.transaction() as session:
        mail.enqueue(
            session,
            to="robin@northwind.example",
            subject="Your permission request is granted",
            template="reset_password",
            context={
                "user": {"full_name": "Robin", "email": "robin@northwind.example"},
                "link": "http://127.0.0.1:5000/x",
                "expires_at": utcnow(),
            },
            attachments=[mail.Attachment("PR-2027-000001-G1.pdf", "application/pdf", b"%PDF-1.4")],
        )
    html = app.test_client().get("/dev/mail/").get_data(as_text=True)
    assert "<dt>Attached</dt><dd>PR-2027-000001-G1.pdf (PDF, 8 bytes)</dd>" in html
