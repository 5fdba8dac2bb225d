"""Round 8's security decisions (docs/journeys.md, "Round 8: security decisions")."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.accounts import services
from licensing.accounts.models import Organization, User
from licensing.app import create_app
from licensing.mail.models import OutboxMessage
from tests.conftest import (
    TEST_AUDIT_KEY,
    TEST_SECRET_KEY,
    DatabaseTemplate,
    make_config,
    unavailable,
)
from tests.support import factories
from tests.support.factories import bearer
from tests.support.pages import text_of
from tests.support.servers import GunicornServer, ServerUnavailable

SignIn = Callable[..., FlaskClient]

# --- rate limits: one worker while they are counted in memory -----------------------


class _Replaced(Exception):
    """`os.execv` in `licensing serve`: the test stops there, the server unstarted."""


def _workers_served(app: Any, monkeypatch: pytest.MonkeyPatch, *options: str) -> int:
    """The worker count `licensing serve` hands gunicorn."""
    from licensing import cli

    def replace(path: str, argv: list[str]) -> None:
        raise _Replaced(argv)

    monkeypatch.setattr("licensing.cli.os.execv", replace)
    result = app.test_cli_runner().invoke(cli.serve, ["--bind", "127.0.0.1:5260", *options])
    assert isinstance(result.exception, _Replaced), result.output
    argv = result.exception.args[0]
    return int(json.loads(argv[-1])["options"]["workers"])


def test_serving_without_workers_runs_one_while_limits_are_counted_in_memory(
    app: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # `make run` started several workers, each counting the limits on its own:
    # 26 of 30 sign-ups passed a 10-a-minute limit.
    app.config.update(RATELIMIT_STORAGE_URI="memory://", RATELIMIT_ENABLED=True)
    with caplog.at_level("INFO", logger="licensing.serve"):
        assert _workers_served(app, monkeypatch) == 1
    # Round 36 logs "Serving on ..." under the same logger: the one other line.
    [said] = [
        message
        for r in caplog.records
        if r.name == "licensing.serve" and not (message := r.getMessage()).startswith("Serving on")
    ]
    assert said.startswith("One worker process: rate limits are counted in its memory")


@pytest.mark.parametrize(
    "config",
    [
        {"RATELIMIT_STORAGE_URI": "redis://localhost:6379/0", "RATELIMIT_ENABLED": True},
        {"RATELIMIT_STORAGE_URI": "memory://", "RATELIMIT_ENABLED": False},
    ],
)
def test_serving_with_a_shared_store_or_no_limits_runs_several_workers(
    app: Any, monkeypatch: pytest.MonkeyPatch, config: dict[str, Any]
) -> None:
    app.config.update(config)
    assert _workers_served(app, monkeypatch) > 1


def test_an_explicit_worker_count_is_obeyed_and_still_warned_about(
    app: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    app.config.update(RATELIMIT_STORAGE_URI="memory://", RATELIMIT_ENABLED=True)
    with caplog.at_level("WARNING", logger="licensing.serve"):
        assert _workers_served(app, monkeypatch, "--workers", "3") == 3
    [warning] = [r.getMessage() for r in caplog.records if r.name == "licensing.serve"]
    assert "up to 3 times what a limit allows" in warning


@pytest.fixture
def served_with_defaults(sqlite_template: DatabaseTemplate) -> Iterator[GunicornServer]:
    """`licensing serve` as `make run` starts it: no `--workers`, limits in memory."""
    database_url = sqlite_template.new_url()
    app = create_app(make_config(database_url))
    app.extensions["licensing.db"].engine.dispose()
    server = GunicornServer(
        {
            "LICENSING_ENV": "testing",
            "DATABASE_URL": database_url,
            "SECRET_KEY": TEST_SECRET_KEY,
            "AUDIT_HMAC_KEY": TEST_AUDIT_KEY,
            "AUTH_RATE_LIMIT": "10 per minute",
            "RATELIMIT_STORAGE_URI": "memory://",
            "LOG_LEVEL": "WARNING",
        },
        workers=None,
    )
    try:
        server.start()
    except ServerUnavailable as exc:
        unavailable(f"gunicorn: {exc}")
    yield server
    server.stop()


def test_thirty_sign_ups_to_a_served_process_pass_no_more_than_the_limit(
    served_with_defaults: GunicornServer,
) -> None:
    statuses = []
    with requests.Session() as http:
        for n in range(30):
            body = {
                "email": f"applicant{n}@larkspur.example",
                "password": "Tidewater-Ledger-Quartz-41",
                "full_name": f"Applicant {n}",
                "organization": {
                    key: value
                    for key, value in factories.organization_fields(
                        legal_name=f"Larkspur Health Tools {n} LLC"
                    ).items()
                    if value is not None
                },
            }
            response = http.post(
                f"{served_with_defaults.url}/api/v1/signups", json=body, timeout=60
            )
            statuses.append(response.status_code)
    # The limiter's window starts at the first attempt, so thirty in under a
    # minute meet one budget of 10 (three workers let 26 through).
    assert statuses.count(429) == 20, statuses
    assert set(statuses[:10]) == {202}, statuses  # the sign-up API's answer (round 8)


# --- invitations: the same answer for an address with an account ---------------------


def _invite_on_page(client: FlaskClient, address: str) -> tuple[int, str, str]:
    """The status and redirect of inviting `address`, and the message the next page
    flashes, with the address written as ADDRESS."""
    response = client.post("/organization/invitations", data={"email": address})
    flashed = re.search(
        r"Invitation sent to [^;]+; the link works for \d+ days\.",
        text_of(client.get(response.headers["Location"])),
    )
    assert flashed, "no confirmation flashed"
    return (
        response.status_code,
        response.headers["Location"],
        flashed.group(0).replace(address, "ADDRESS"),
    )


def _messages_to(address: str) -> list[OutboxMessage]:
    return [m for m in db.session().scalars(select(OutboxMessage)) if m.to == [address]]


def test_inviting_an_address_with_an_account_answers_as_for_a_new_address(
    app: Flask, vendor: User, other_vendor: User, signed_in: SignIn
) -> None:
    # The page said "This address already has an account", so a vendor could
    # probe any address for an account with the office.
    client = signed_in(app.test_client(), vendor)
    new = _invite_on_page(client, "newcomer@larkspur.example")
    existing = _invite_on_page(client, other_vendor.email)
    assert new == existing
    assert new[0] == 302
    listed = {
        item["email"]: item["status"]
        for item in app.test_client()
        .get(f"/api/v1/organizations/{vendor.organization_id}/invitations", headers=bearer(vendor))
        .get_json()
    }
    assert listed == {"newcomer@larkspur.example": "pending", other_vendor.email: "pending"}


def test_the_api_answers_an_invitation_to_an_address_with_an_account_as_any_other(
    client: FlaskClient, vendor: User, other_vendor: User
) -> None:
    url = f"/api/v1/organizations/{vendor.organization_id}/invitations"
    answers = [
        client.post(url, json={"email": address}, headers=bearer(vendor))
        for address in ("newcomer@larkspur.example", other_vendor.email)
    ]
    assert [answer.status_code for answer in answers] == [201, 201]
    new, existing = (answer.get_json() for answer in answers)
    assert new.keys() == existing.keys()
    different = {key for key in new if new[key] != existing[key]}
    assert different <= {"id", "email", "created_at", "expires_at"}, different


def test_the_owner_of_an_invited_account_is_told_by_email_without_a_link(
    client: FlaskClient, vendor: User, other_vendor: User
) -> None:
    url = f"/api/v1/organizations/{vendor.organization_id}/invitations"
    client.post(url, json={"email": "newcomer@larkspur.example"}, headers=bearer(vendor))
    client.post(url, json={"email": other_vendor.email}, headers=bearer(vendor))
    [invited] = _messages_to("newcomer@larkspur.example")
    [told] = _messages_to(other_vendor.email)
    assert invited.subject == told.subject
    assert "/invitations/" in invited.body_text
    assert "/invitations/" not in told.body_text
    assert "already uses this address" in told.body_text
    assert "cannot be accepted" in told.body_text
    # The account stays where it was.
    db.session().refresh(other_vendor)
    assert other_vendor.organization_id != vendor.organization_id


def test_inviting_a_member_of_ones_own_organization_is_refused_by_name(
    client: FlaskClient, vendor: User
) -> None:
    # The vendor sees its own members: saying so tells nothing new.
    url = f"/api/v1/organizations/{vendor.organization_id}/invitations"
    response = client.post(url, json={"email": vendor.email}, headers=bearer(vendor))
    assert response.status_code == 422
    [said] = response.get_json()["errors"]["email"]
    assert said == f"{vendor.email} is already a member of your organization."
    assert _messages_to(vendor.email) == []


# --- sign-up: the same answer for a taken address ------------------------------------

PASSWORD = "Tidewater-Ledger-Quartz-41"


def _sign_up_form(email: str) -> dict[str, str]:
    fields = factories.organization_fields(legal_name="Larkspur Health Tools LLC")
    data = {name: value or "" for name, value in fields.items()}
    data.update(full_name="Ines Okafor", email=email, password=PASSWORD, confirm=PASSWORD)
    return data


def _sign_up_body(email: str) -> dict[str, Any]:
    fields = factories.organization_fields(legal_name="Larkspur Health Tools LLC")
    return {
        "email": email,
        "password": PASSWORD,
        "full_name": "Ines Okafor",
        "organization": {key: value for key, value in fields.items() if value is not None},
    }


def _count(model: type[Any]) -> int:
    return len(db.session().scalars(select(model)).all())


def test_signing_up_with_a_taken_address_answers_as_for_a_new_one_on_the_page(
    app: Flask, vendor: User
) -> None:
    # The form said "An account already uses this email address": anyone could
    # learn who has an account, behind only the per-address rate limit.
    answers = []
    for address in ("ines@larkspur.example", vendor.email.upper()):
        client = app.test_client()
        response = client.post("/sign-up", data=_sign_up_form(address))
        page = text_of(client.get(response.headers["Location"]))
        flashed = re.search(r"Almost done: we sent a link to \S+ Follow it [^.]+\.", page)
        assert flashed, page
        normalized = address.lower()
        answers.append((response.status_code, response.headers["Location"], flashed.group(0)))
        answers[-1] = tuple(str(part).replace(normalized, "ADDRESS") for part in answers[-1])
    assert answers[0] == answers[1]
    assert answers[0][0] == "302"


def test_signing_up_with_a_taken_address_answers_as_for_a_new_one_on_the_api(
    client: FlaskClient, vendor: User
) -> None:
    new = client.post("/api/v1/signups", json=_sign_up_body("ines@larkspur.example"))
    taken = client.post("/api/v1/signups", json=_sign_up_body(vendor.email))
    assert new.status_code == taken.status_code == 202
    assert new.get_data(as_text=True).replace("ines@larkspur.example", "ADDRESS") == (
        taken.get_data(as_text=True).replace(vendor.email, "ADDRESS")
    )


def test_a_taken_address_creates_nothing_and_its_owner_is_told_without_a_link(
    client: FlaskClient, vendor: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    from licensing.accounts import passwords

    hashed: list[str] = []
    real = passwords.hash_password
    monkeypatch.setattr(passwords, "hash_password", lambda p: hashed.append(p) or real(p))
    counts = (_count(Organization), _count(User))
    client.post("/api/v1/signups", json=_sign_up_body(vendor.email))
    assert (_count(Organization), _count(User)) == counts
    assert hashed == [PASSWORD]  # the slow step a new account takes, taken all the same
    [told] = _messages_to(vendor.email)
    assert told.template == "sign_up_existing_account"
    assert told.subject == "Confirm your email address"  # as a new address's email
    assert "an account already uses this address" in told.body_text
    assert "/verify-email/" not in told.body_text
    assert "/reset" in told.body_text


def test_notes_about_sign_ups_with_a_taken_address_are_capped_per_hour(
    client: FlaskClient, vendor: User
) -> None:
    for _ in range(5):
        assert client.post("/api/v1/signups", json=_sign_up_body(vendor.email)).status_code == 202
    assert len(_messages_to(vendor.email)) == services.LINKS_PER_HOUR


def test_a_taken_address_with_a_weak_password_is_told_only_of_the_password(
    client: FlaskClient, vendor: User
) -> None:
    body = {**_sign_up_body(vendor.email), "password": "short"}
    response = client.post("/api/v1/signups", json=body)
    assert response.status_code == 422
    assert list(response.get_json()["errors"]) == ["password"]
    assert _messages_to(vendor.email) == []
