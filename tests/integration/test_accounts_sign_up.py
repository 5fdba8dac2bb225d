"""Vendors sign up (page and API), confirm their email by link, and bad input stores nothing."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from licensing import db
from licensing.accounts import queries, services
from licensing.accounts.models import OneTimeToken, Organization, User
from licensing.audit.models import AuditEvent
from licensing.db import utcnow
from licensing.errors import InvalidInput
from licensing.mail.models import OutboxMessage
from tests.integration.pricing.conftest import example_card  # noqa: F401 - the fixture
from tests.support import factories

PROBLEM = "application/problem+json"
PASSWORD = "quiet-meadow-copper-17"


def _count(model: type[Any]) -> int:
    return int(db.session().scalar(select(func.count()).select_from(model)) or 0)


def _form(**overrides: Any) -> dict[str, str]:
    fields = factories.organization_fields(legal_name="Bluefin Claims Analytics LLC")
    data = {name: value or "" for name, value in fields.items()}
    data.update(
        full_name="Samira Haddad",
        email="samira@bluefin.example",
        password=PASSWORD,
        confirm=PASSWORD,
    )
    data.update(overrides)
    return data


def _api_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "email": "samira@bluefin.example",
        "password": PASSWORD,
        "full_name": "Samira Haddad",
        "organization": {
            key: value
            for key, value in factories.organization_fields(
                legal_name="Bluefin Claims Analytics LLC"
            ).items()
            if value is not None
        },
    }
    body.update(overrides)
    return body


def _link_in(message: OutboxMessage) -> str:
    found = re.search(r"http://testserver(/\S+)", message.body_text)
    assert found, message.body_text
    return found.group(1)


def _last_message() -> OutboxMessage:
    message = db.session().scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc())).first()
    assert message is not None
    return message


def test_signing_up_creates_an_applying_organization_and_an_unconfirmed_user(
    client: FlaskClient,
) -> None:
    response = client.post("/sign-up", data=_form())
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/sign-in")
    user = db.session().scalars(select(User).where(User.email == "samira@bluefin.example")).one()
    assert user.organization is not None
    assert user.organization.legal_name == "Bluefin Claims Analytics LLC"
    assert user.organization.standing == "applying"
    assert user.email_verified_at is None
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash


def test_signing_up_queues_a_verification_email_in_the_same_transaction(
    client: FlaskClient,
) -> None:
    client.post("/sign-up", data=_form())
    message = _last_message()
    assert message.to == ["samira@bluefin.example"]
    assert message.subject == "Confirm your email address"
    assert message.state == "queued"
    assert _link_in(message).startswith("/verify-email/")


def test_signing_up_is_audited_with_the_new_user_as_actor(client: FlaskClient) -> None:
    client.post("/sign-up", data=_form())
    events = db.session().scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
    assert [event.action for event in events][-2:] == ["organization.created", "user.created"]
    assert {event.actor for event in events[-2:]} == {"samira@bluefin.example"}
    assert events[-1].actor_user_id == int(events[-1].entity_id)
    # Round 59: the organization's event names its actor by the account too (it kept
    # the address alone, an actor with no account, the user not yet made).
    assert events[-2].actor_user_id == events[-1].actor_user_id
    assert "password" not in (events[-1].after or "")


def test_an_organization_signed_up_names_who_created_it_as_every_event_does(
    app: Flask, client: FlaskClient, signed_in: Any, licensing_staff: User
) -> None:
    """Round 59: the console's organization history (and the audit log) named the
    person who signed it up by their address alone, "samira@bluefin.example",
    where every other event names "Name (address)"; through the API too."""
    assert client.post("/api/v1/signups", json=_api_body()).status_code == 202
    organization = (
        db.session()
        .scalars(
            select(Organization).where(Organization.legal_name == "Bluefin Claims Analytics LLC")
        )
        .one()
    )
    created = (
        db.session()
        .scalars(
            select(AuditEvent).where(
                AuditEvent.action == "organization.created",
                AuditEvent.entity_id == str(organization.id),
            )
        )
        .one()
    )
    samira = queries.user_by_email(db.session(), "samira@bluefin.example")
    assert samira is not None
    assert (created.actor, created.actor_user_id) == ("samira@bluefin.example", samira.id)
    staff = signed_in(app.test_client(), licensing_staff)
    page = staff.get(f"/console/organizations/{organization.id}").get_data(as_text=True)
    row = re.search(r"<tr>(?:(?!</tr>).)*Organization created(?:(?!</tr>).)*</tr>", page, re.S)
    assert row is not None, page[-3000:]
    assert "Samira Haddad (samira@bluefin.example)" in row.group(0)


def test_following_the_verification_link_confirms_the_address_once(client: FlaskClient) -> None:
    client.post("/sign-up", data=_form())
    link = _link_in(_last_message())
    first = client.get(link)
    assert first.status_code == 302
    user = db.session().scalars(select(User).where(User.email == "samira@bluefin.example")).one()
    db.session().refresh(user)
    assert user.email_verified_at is not None
    # Followed again (a second click, or a mail scanner that opened it first): the
    # address is confirmed, so the page says so and leads to sign-in; it used to
    # refuse the link and offer a new one that never came.
    again = client.get(link, follow_redirects=True)
    assert again.request.path == "/sign-in"
    assert "samira@bluefin.example is confirmed" in again.get_data(as_text=True)
    actions = db.session().scalars(select(AuditEvent.action)).all()
    assert actions.count("user.email_verified") == 1


def test_an_expired_verification_link_is_refused_and_offers_a_new_one(client: FlaskClient) -> None:
    client.post("/sign-up", data=_form())
    link = _link_in(_last_message())
    with time_machine.travel(utcnow() + timedelta(hours=49), tick=False):
        response = client.get(link)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "expired" in page
    assert "(US Central time)" in page  # at the office, as the email said, not UTC
    assert "/verify-email" in page


def test_a_made_up_verification_link_is_refused(client: FlaskClient) -> None:
    response = client.get("/verify-email/not-a-real-token")
    assert response.status_code == 400
    assert "not valid" in response.get_data(as_text=True)


def test_a_new_verification_link_is_sent_only_to_unconfirmed_accounts(
    client: FlaskClient, vendor: User
) -> None:
    client.post("/sign-up", data=_form())
    before = _count(OutboxMessage)
    assert client.post("/verify-email", data={"email": "SAMIRA@bluefin.example"}).status_code == 302
    assert client.post("/verify-email", data={"email": vendor.email}).status_code == 302
    assert client.post("/verify-email", data={"email": "nobody@nowhere.example"}).status_code == 302
    assert _count(OutboxMessage) == before + 1
    assert _last_message().to == ["samira@bluefin.example"]


def test_verification_emails_to_one_account_are_capped_per_hour(client: FlaskClient) -> None:
    client.post("/sign-up", data=_form())
    for _ in range(5):
        client.post("/verify-email", data={"email": "samira@bluefin.example"})
    links = db.session().scalar(
        select(func.count(OneTimeToken.id)).where(OneTimeToken.purpose == "verify_email")
    )
    assert links == services.LINKS_PER_HOUR


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"password": "short", "confirm": "short"}, "password", "at least 12 characters"),
        (
            {"password": "password1234", "confirm": "password1234"},
            "password",
            "commonly used",
        ),
        ({"confirm": "something-else-entirely"}, "confirm", "The two passwords differ"),
        ({"email": "not-an-address"}, "email", "not an email address"),
        ({"organization_type": "pirate"}, "organization_type", "Unknown organization type"),
        ({"country": "XX"}, "country", "Unknown country code"),
        ({"legal_name": "N" * 201}, "legal_name", "200"),
        ({"legal_name": ""}, "legal_name", "required"),
    ],
)
def test_bad_sign_up_input_is_explained_beside_the_field_and_nothing_is_stored(
    client: FlaskClient, overrides: dict[str, str], field: str, message: str
) -> None:
    counts = (_count(Organization), _count(User), _count(OutboxMessage), _count(AuditEvent))
    response = client.post("/sign-up", data=_form(**overrides))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    error = re.search(rf'<p class="error" id="{field}-error">([^<]*)</p>', page)
    assert error, page
    assert message in error.group(1)
    assert (_count(Organization), _count(User), _count(OutboxMessage), _count(AuditEvent)) == counts


# A taken address gets the answer a new one gets (round 8):
# tests/integration/journeys/test_security_round8.py.


def test_the_password_rule_is_explained_on_the_form(client: FlaskClient) -> None:
    page = client.get("/sign-up").get_data(as_text=True)
    assert "At least 12 characters" in page
    assert 'id="password-hint"' in page


# --- the API ------------------------------------------------------------------------


def test_signing_up_through_the_api_answers_202_with_the_address_and_the_next_step(
    client: FlaskClient,
) -> None:
    # It answered 201 with the new user and organization, which an address that
    # already has an account cannot get: the answer is now the same for both.
    response = client.post("/api/v1/signups", json=_api_body(email="Samira@Bluefin.example"))
    assert response.status_code == 202, response.get_json()
    assert response.get_json() == {
        "email": "samira@bluefin.example",
        "next_step": "Follow the link emailed to samira@bluefin.example to confirm the address.",
    }
    user = db.session().scalars(select(User).where(User.email == "samira@bluefin.example")).one()
    assert user.email_verified_at is None
    assert user.organization is not None
    assert user.organization.standing == "applying"
    assert _last_message().subject == "Confirm your email address"


@pytest.mark.parametrize(
    ("change", "path", "message"),
    [
        ({"password": "short"}, "password", "at least 12 characters"),
        ({"email": "nope"}, "email", "email"),
        (
            {"organization": {**_api_body()["organization"], "organization_type": "pirate"}},
            "organization.organization_type",
            "Must be one of",
        ),
        (
            {"organization": {**_api_body()["organization"], "legal_name": "N" * 201}},
            "organization.legal_name",
            "200",
        ),
        (
            {"organization": {**_api_body()["organization"], "country": "XX"}},
            "organization.country",
            "Unknown country code",
        ),
        ({"full_name": "F" * 201}, "full_name", "200"),
        ({"surprise": True}, "surprise", "Unknown field"),
    ],
)
def test_bad_api_sign_up_is_a_422_with_errors_by_field_path_and_stores_nothing(
    client: FlaskClient, change: dict[str, Any], path: str, message: str
) -> None:
    before = (_count(Organization), _count(User), _count(OutboxMessage))
    response = client.post("/api/v1/signups", json=_api_body(**change))
    assert response.status_code == 422
    assert response.mimetype == PROBLEM
    errors = response.get_json()["errors"]
    assert path in errors, errors
    assert any(message in text for text in errors[path]), errors[path]
    assert (_count(Organization), _count(User), _count(OutboxMessage)) == before


SPOOF = "Ana\n\nYour account is suspended: confirm it at http://evil.example\n\nThe office"


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"full_name": SPOOF}, "full_name"),
        ({"full_name": "Ana\tLee"}, "full_name"),
        ({"full_name": "Ana\u2028Lee"}, "full_name"),
        (
            {"organization": {**_api_body()["organization"], "legal_name": "Bluefin\r\nLtd"}},
            "organization.legal_name",
        ),
        (
            {"organization": {**_api_body()["organization"], "address_line1": "1 Main\nSt"}},
            "organization.address_line1",
        ),
    ],
)
def test_a_name_or_address_line_of_several_lines_is_refused(
    client: FlaskClient, change: dict[str, Any], path: str
) -> None:
    # Names go into the emails the office sends (an invitation reaches any address
    # a vendor names, with the inviter's and organization's names): one with line
    # breaks wrote paragraphs of the vendor's own into the office's email.
    before = (_count(Organization), _count(User), _count(OutboxMessage))
    response = client.post("/api/v1/signups", json=_api_body(**change))
    assert response.status_code == 422
    assert "one line" in response.get_json()["errors"][path][0]
    assert (_count(Organization), _count(User), _count(OutboxMessage)) == before


def test_a_sign_up_that_loses_a_race_for_its_email_is_refused_by_the_database(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    services.sign_up(
        email="race@bluefin.example",
        password=PASSWORD,
        full_name="Ray Chen",
        organization=factories.organization_fields(),
    )
    before = _count(Organization)
    # The second request checked before the first committed: only the unique
    # constraint stands between them.
    monkeypatch.setattr(queries, "user_by_email", lambda session, email: None)
    with pytest.raises(InvalidInput) as refused:
        services.sign_up(
            email="Race@Bluefin.example",
            password=PASSWORD,
            full_name="Ray Chen",
            organization=factories.organization_fields(),
        )
    assert "already uses" in refused.value.errors["email"][0]
    assert _count(Organization) == before
    found = db.session().scalar(
        select(func.count(User.id)).where(User.email == "race@bluefin.example")
    )
    assert found == 1
