"""The README's "First steps on `make run`", followed as written (round 50): on what
`licensing setup` leaves in development (the sample cards and an admin, no other
account; the README said "every sample account"), the quote it shows with `curl`, the
admin's sign-in with the printed password, a staff member and a vendor made as it
says with their links read from the mail, and an API token from the command line."""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from licensing import db
from licensing.accounts.models import Organization, User
from licensing.commands import _setup_steps
from licensing.config import PROJECT_ROOT
from licensing.mail.models import OutboxMessage
from tests.support import factories

README = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
FIRST_STEPS = README.split("### First steps on `make run`", 1)[1].split("\n## ", 1)[0]
PASSWORD = "quiet-meadow-copper-17"


@pytest.fixture
def config_changes() -> dict[str, Any]:
    return {"dev_mail_viewer": True, "smtp_url": ""}


@pytest.fixture
def set_up(app: Flask) -> str:
    """`licensing setup`'s steps in development; what it printed."""
    app.config["LICENSING"] = dataclasses.replace(
        app.config["LICENSING"], environment="development"
    )
    return "\n".join(f"{label}: {step()}" for label, step in _setup_steps())


def _link_to(address: str, path: str) -> str:
    message = db.session().scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc())).first()
    assert message is not None
    assert message.to == [address]
    found = re.search(rf"http://testserver({re.escape(path)}\S+)", message.body_text)
    assert found, message.body_text
    return found.group(1)


def test_setup_leaves_the_sample_cards_and_the_admin_and_no_other_account(
    app: Flask, set_up: str
) -> None:
    assert "Sample rate cards: published 2026.1, 2027.1" in set_up
    assert db.session().scalar(select(func.count()).select_from(User)) == 1
    assert db.session().scalar(select(func.count()).select_from(Organization)) == 0
    assert "no vendor or staff account comes\nwith it" in FIRST_STEPS
    assert "sample account" not in README


def test_the_readmes_quote_is_priced_as_it_says(client: FlaskClient, set_up: str) -> None:
    command = re.search(r"```sh\n\s*(curl .*?/api/v1/quotes -d '(.*?)')\n\s*```", FIRST_STEPS, re.S)
    assert command, FIRST_STEPS
    response = client.post("/api/v1/quotes", json=json.loads(command.group(2)))
    assert response.status_code == 200, response.get_json()
    answer = response.get_json()
    assert '`"rate_card": "2027.1"` and `"total": "33800.00"`' in FIRST_STEPS
    assert (answer["rate_card"], answer["total"]) == ("2027.1", "33800.00")
    assert answer["lines"][0]["explanation"]


def test_the_admin_signs_in_with_the_printed_password(app: Flask, set_up: str) -> None:
    found = re.search(r"created admin@example\.com with password (\S+) ", set_up)
    assert found, set_up
    client = app.test_client()
    response = client.post(
        "/sign-in", data={"email": "admin@example.com", "password": found.group(1)}
    )
    assert response.headers["Location"].endswith("/console/")
    assert "Work waiting" in client.get("/console/").get_data(as_text=True)


def test_a_staff_member_and_a_vendor_are_made_as_the_readme_says(app: Flask, set_up: str) -> None:
    admin = app.test_client()
    password = re.search(r"created admin@example\.com with password (\S+) ", set_up)
    assert password
    admin.post("/sign-in", data={"email": "admin@example.com", "password": password.group(1)})
    users_page = admin.get("/console/users").get_data(as_text=True)
    assert "Add a staff member" in users_page
    assert "*Add a staff member*" in FIRST_STEPS
    admin.post(
        "/console/users",
        data={"full_name": "Lena Ortiz", "email": "lena@office.example", "roles": ["licensing"]},
    )
    link = _link_to("lena@office.example", "/reset/")
    staff = app.test_client()
    staff.post(link, data={"password": PASSWORD, "confirm": PASSWORD})
    signed = staff.post("/sign-in", data={"email": "lena@office.example", "password": PASSWORD})
    assert signed.headers["Location"].endswith("/console/")

    vendor = app.test_client()
    assert "Create an account" in vendor.get("/").get_data(as_text=True)
    fields = factories.organization_fields(legal_name="Acme Health Software Inc.")
    vendor.post(
        "/sign-up",
        data={
            **{name: value or "" for name, value in fields.items()},
            "full_name": "Sam Rivera",
            "email": "sam@acme.example",
            "password": PASSWORD,
            "confirm": PASSWORD,
        },
    )
    vendor.get(_link_to("sam@acme.example", "/verify-email/"))
    signed = vendor.post("/sign-in", data={"email": "sam@acme.example", "password": PASSWORD})
    assert signed.headers["Location"].endswith("/portal/")
    assert "(`/portal/`)" in FIRST_STEPS


@pytest.mark.usefixtures("set_up")
def test_a_token_from_the_command_line_reads_the_callers_account(app: Flask) -> None:
    assert "`licensing tokens create EMAIL --name NAME`" in FIRST_STEPS
    result = app.test_cli_runner().invoke(
        args=["tokens", "create", "admin@example.com", "--name", "first steps"]
    )
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()  # the token alone on standard output
    response = app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.get_json()["user"]["email"] == "admin@example.com"


@pytest.mark.usefixtures("set_up")
def test_every_address_the_readme_links_on_this_computer_opens(client: FlaskClient) -> None:
    """The README's `<http://127.0.0.1:5000/...>` links: each page opens (the signed-in
    ones lead to sign-in), on the development server with its mail viewer."""
    paths = sorted(set(re.findall(r"<http://127\.0\.0\.1:5000(/[^>]*)?>", README)) - {""})
    assert {"/", "/estimate", "/sign-up", "/sign-in", "/dev/mail", "/api/v1/docs"} <= set(paths)
    answers = {path: client.get(path, follow_redirects=True).status_code for path in paths}
    assert answers == dict.fromkeys(paths, 200)
