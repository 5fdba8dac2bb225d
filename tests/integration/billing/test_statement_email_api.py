"""Round 54: a statement of account emailed on request through the API, as billing
staff do on the console (round 53): `POST /api/v1/organizations/{id}/statement/email`
with the days and currency, billing role only, within the same bounds read from the
audit log (the same statement to the same address once in 10 minutes, 10 an
organization in 24 hours, whichever edge sent the others), audited, problem+json for
bad days, a bad currency and past the bounds (docs/api.md, "A statement emailed on
request")."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from licensing import db
from licensing.accounts.models import User
from licensing.audit.models import AuditEvent
from licensing.filenames import slug
from licensing.mail.models import OutboxMessage
from tests.support.factories import bearer
from tests.support.monthly_statements import IN_JANUARY, invoice, paid

# A morning in March at the office (Chicago): the licensee's finance system asks.
CALL = datetime(2027, 3, 15, 15, 0, tzinfo=UTC)
QUARTER = {"from": "2027-01-01", "to": "2027-03-15", "currency": "USD"}
EMAILED = "organization.statement_emailed"


def _url(organization_id: int) -> str:
    return f"/api/v1/organizations/{organization_id}/statement/email"


def _emails() -> list[OutboxMessage]:
    return list(
        db.session().scalars(
            select(OutboxMessage)
            .where(OutboxMessage.template == "statement_of_account")
            .order_by(OutboxMessage.id)
        )
    )


def _events() -> int:
    found = select(func.count()).select_from(AuditEvent).where(AuditEvent.action == EMAILED)
    return int(db.session().scalar(found) or 0)


def _post(client: FlaskClient, user: User, organization_id: int, body: Any, **headers: str) -> Any:
    return client.post(_url(organization_id), json=body, headers={**bearer(user), **headers})


def test_billing_staff_email_a_statement_by_api_to_the_billing_contact_audited(
    client: FlaskClient, billing_staff: User, vendor: User
) -> None:
    organization = vendor.organization
    with time_machine.travel(CALL, tick=False):
        invoice(organization.id, "1200.00", IN_JANUARY)
        paid(invoice(organization.id, "300.00", IN_JANUARY), IN_JANUARY.date())
        answer = _post(client, billing_staff, organization.id, QUARTER)

    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json() == {
        "organization_id": organization.id,
        "organization": organization.legal_name,
        "currency": "USD",
        "from": "2027-01-01",
        "to": "2027-03-15",
        "opening_balance": "0.00",
        "closing_balance": "1200.00",
        "movements": 3,
        "sent_to": organization.billing_email,
        "statement_url": (
            f"/api/v1/organizations/{organization.id}/statement?from=2027-01-01&to=2027-03-15"
            "&currency=USD"
        ),
    }
    [email] = _emails()
    assert email.to == [organization.billing_email]
    assert email.subject == (
        f"Statement of account of {organization.legal_name}, January 1, 2027 to March 15, "
        "2027 (USD): 1,200.00 USD owed as of March 15, 2027"
    )
    [attachment] = email.attachments
    assert attachment.filename == (
        f"statement-{slug(organization.legal_name)}-USD-2027-01-01-2027-03-15.pdf"
    )
    event = db.session().scalars(select(AuditEvent).where(AuditEvent.action == EMAILED)).one()
    assert event.actor == billing_staff.email
    after = json.loads(event.after or "{}")
    assert (after["from"], after["to_day"], after["closing"]) == (
        "2027-01-01",
        "2027-03-15",
        "1200.00",
    )
    assert after["outbox_message_id"] == email.id


def test_an_empty_body_emails_this_year_so_far(
    client: FlaskClient, billing_staff: User, vendor: User
) -> None:
    organization = vendor.organization
    with time_machine.travel(CALL, tick=False):
        invoice(organization.id, "1200.00", IN_JANUARY)
        answer = _post(client, billing_staff, organization.id, {})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert (answer.get_json()["from"], answer.get_json()["to"]) == ("2027-01-01", "2027-03-15")
    assert len(_emails()) == 1


def test_only_billing_staff_may_email_a_statement_by_api(
    client: FlaskClient,
    licensing_staff: User,
    billing_staff: User,
    vendor: User,
) -> None:
    organization = vendor.organization
    with time_machine.travel(CALL, tick=False):
        invoice(organization.id, "1200.00", IN_JANUARY)
        for caller in (licensing_staff, vendor):  # a vendor, even of its own organization
            refused = _post(client, caller, organization.id, QUARTER)
            assert refused.status_code == 403
            assert refused.mimetype == "application/problem+json"
        missing = _post(client, billing_staff, 999999, QUARTER)
        assert missing.status_code == 404
        assert client.post(_url(organization.id), json=QUARTER).status_code == 401
    assert _emails() == []
    assert _events() == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"from": "2027-03-16", "to": "2027-03-15"}, "from"),  # reversed
        ({"from": "2026-01-01", "to": "2027-03-15"}, "to"),  # more than 366 days
        ({"to": "2027-03-16"}, "to"),  # after today
        ({"from": "15/03/2027"}, "from"),  # not YYYY-MM-DD
        ({"from": "\uff12\uff10\uff12\uff17-01-01"}, "from"),  # full-width digits
        ({"currency": "XXX"}, "currency"),  # no ISO 4217 currency
        ({"currency": "EUR"}, "currency"),  # one it was never invoiced in
        ({"currency": "US\nD"}, "currency"),
        ({"currency": "U" * 100_000}, "currency"),
        ({"reason": "unasked"}, "reason"),  # a field the operation does not take
    ],
)
def test_bad_days_or_currency_are_a_422_problem_naming_the_field_and_nothing_is_sent(
    client: FlaskClient, billing_staff: User, vendor: User, body: dict[str, str], field: str
) -> None:
    organization = vendor.organization
    with time_machine.travel(CALL, tick=False):
        invoice(organization.id, "1200.00", IN_JANUARY)
        refused = _post(client, billing_staff, organization.id, body)
    assert refused.status_code == 422, refused.get_data(as_text=True)
    assert refused.mimetype == "application/problem+json"
    assert field in refused.get_json()["errors"]
    assert _emails() == []
    assert _events() == 0


def test_the_same_statement_sent_on_the_console_is_not_sent_again_by_api_within_ten_minutes(
    app: Flask,
    client: FlaskClient,
    signed_in: Callable[..., FlaskClient],
    billing_staff: User,
    vendor: User,
) -> None:
    organization = vendor.organization
    with time_machine.travel(CALL, tick=False):
        invoice(organization.id, "1200.00", IN_JANUARY)
        clerk = signed_in(app.test_client(), billing_staff)
        asked = "&".join(f"{name}={value}" for name, value in QUARTER.items())
        console = clerk.post(f"/console/organizations/{organization.id}/statement/email?{asked}")
        assert console.status_code == 302
    with time_machine.travel(CALL + timedelta(minutes=4), tick=False):
        again = _post(client, billing_staff, organization.id, {**QUARTER, "currency": "usd"})
        assert again.status_code == 429
        assert again.mimetype == "application/problem+json"
        assert again.headers["Retry-After"] == str(6 * 60 + 1)
        assert again.get_json()["detail"].startswith(
            "Not sent: the statement of 2027-01-01 to 2027-03-15 (USD) went to "
            f"{organization.billing_email} at 2027-03-15 10:00 (US Central time)"
        )
    with time_machine.travel(CALL + timedelta(minutes=11), tick=False):
        assert _post(client, billing_staff, organization.id, QUARTER).status_code == 200
    assert len(_emails()) == 2
    assert _events() == 2


def test_past_ten_statements_a_day_by_either_edge_the_api_is_refused(
    client: FlaskClient, billing_staff: User, vendor: User
) -> None:
    organization = vendor.organization
    with time_machine.travel(CALL, tick=False):
        invoice(organization.id, "1200.00", IN_JANUARY)
        for day in range(1, 11):
            sent = _post(client, billing_staff, organization.id, {"to": f"2027-03-{day:02d}"})
            assert sent.status_code == 200, day
        refused = _post(client, billing_staff, organization.id, {"to": "2027-03-11"})
    assert refused.status_code == 429
    assert refused.headers["X-RateLimit-Limit"] == "10"
    assert "10 statements were emailed to" in refused.get_json()["detail"]
    assert len(_emails()) == 10


def test_a_retry_with_the_same_idempotency_key_emails_once(
    client: FlaskClient, billing_staff: User, vendor: User
) -> None:
    organization = vendor.organization
    with time_machine.travel(CALL, tick=False):
        invoice(organization.id, "1200.00", IN_JANUARY)
        key = {"Idempotency-Key": "statement-2027-q1"}
        first = _post(client, billing_staff, organization.id, QUARTER, **key)
        retry = _post(client, billing_staff, organization.id, QUARTER, **key)
    assert first.status_code == retry.status_code == 200
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert retry.get_json() == first.get_json()
    assert len(_emails()) == 1
    assert _events() == 1
