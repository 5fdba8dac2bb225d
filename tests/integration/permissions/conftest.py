"""Permission requests made through the real services, and helpers to read the
links the service emails (from the outbox: these tests have no SMTP server)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select, update

from licensing import calendar, db
from licensing.accounts.models import Organization, User
from licensing.actors import Actor
from licensing.db import utcnow
from licensing.mail.models import OutboxMessage
from licensing.permissions import services
from licensing.permissions.models import PermissionRequest
from licensing.signals import RoutedUse, use_routed_to_permissions
from tests.support.settings import permission_sla_days
from tests.support.ties import rewritten

# Staff steps taken directly through the services, as the office (no person).
OFFICE = Actor.SYSTEM


@pytest.fixture
def config_changes() -> dict[str, Any]:
    # The public form shares the sign-in rate limit; these tests post it often.
    return {"auth_rate_limit": "off"}


def request_fields(**overrides: Any) -> dict[str, Any]:
    """Valid public form fields for an invented course."""
    fields: dict[str, Any] = {
        "requester_name": "Lena Ortiz",
        "requester_email": "lena.ortiz@cedar-ridge.example",
        "institution": "Cedar Ridge Community College",
        "role": "faculty",
        "organization_type": "academic",
        "purpose": "course_materials",
        "purpose_detail": "Slides for the medical billing certificate course, unit 4.",
        "content_requested": "The section guidelines for evaluation and management services.",
        "medium": "lms",
        "audience_size": "45",
        "duration": "Spring 2027 semester",
        "noncommercial": "y",
    }
    fields.update(overrides)
    return fields


def request_input(**overrides: Any) -> services.PermissionRequestInput:
    """The command the form and the API build from `request_fields()`."""
    fields = {**request_fields(), "audience_size": 45, "noncommercial": True, **overrides}
    return services.PermissionRequestInput.from_fields(fields)


def count(model: Any) -> int:
    return int(db.session().scalar(select(func.count()).select_from(model)) or 0)


def last_mail(to: str | None = None) -> OutboxMessage:
    statement = select(OutboxMessage).order_by(OutboxMessage.id.desc())
    for message in db.session().scalars(statement):
        if to is None or to in message.to:
            return message
    raise AssertionError(f"no email to {to}")


def confirmed_request(institution: str) -> tuple[str, str]:
    """A public request sent for `institution` and confirmed from its email: its
    reference and status token (the confirmation pages' walks, by mouse and keyboard)."""
    created = services.submit_request(request_input(institution=institution))
    link = re.search(r"/permissions/confirm/(\S+)", last_mail(created.requester_email).body_text)
    assert link is not None
    confirmed = services.confirm_email(link.group(1), sla_days=permission_sla_days())
    return confirmed.reference, services.status_token(confirmed)


def link_in(message: OutboxMessage, path: str) -> str:
    found = re.search(rf"http://testserver({re.escape(path)}\S+)", message.body_text)
    assert found, message.body_text
    return found.group(1)


def token_in(message: OutboxMessage, path: str) -> str:
    return link_in(message, path).rsplit("/", 1)[-1]


def send_correction(client: Any, token: str, email: str) -> PermissionRequest:
    """Send and confirm a correction from `token`'s status page, as the requester
    `email` does (round 59: its service level and its median count from the request it
    corrects); the correction as stored."""
    page = client.get(f"/permissions/request?again={token}").get_data(as_text=True)
    hidden = re.search(r'<input id="corrects" name="corrects" type="hidden" value="([^"]*)"', page)
    assert hidden is not None, page
    sent = client.post(
        "/permissions/request", data=request_fields(audience_size="90", corrects=hidden.group(1))
    )
    assert sent.status_code == 302
    client.get(link_in(last_mail(email), "/permissions/confirm/"))
    db.session().expire_all()
    return (
        db.session()
        .scalars(select(PermissionRequest).order_by(PermissionRequest.id.desc()))
        .first()
    )


@pytest.fixture
def submit(app: Flask) -> Callable[..., tuple[PermissionRequest, str]]:
    """`submit(**fields)`: a confirmed public request and its status token."""

    def make(**overrides: Any) -> tuple[PermissionRequest, str]:
        created = services.submit_request(request_input(**overrides))
        raw = token_in(last_mail(created.requester_email), "/permissions/confirm/")
        confirmed = services.confirm_email(raw, sla_days=permission_sla_days())
        return confirmed, services.status_token(confirmed)

    return make


def routed_use(organization_id: int, organization_name: str, **overrides: Any) -> RoutedUse:
    values: dict[str, Any] = {
        "application_id": 4101,
        "application_reference": "APP-2027-000041",
        "organization_id": organization_id,
        "organization_name": organization_name,
        "organization_type": "academic",
        "requester_name": "Samira Haddad",
        "requester_email": "samira@bluefin.example",
        "line_index": 0,
        "product_name": "Coding fundamentals workbook",
        "description": "A non-commercial workbook for a community college course",
        "use": "education",
        "product_type": "print",
        "user_type": "academic",
        "delivery": "print",
        "audience_size": 120,
        "term_start": date(2027, 1, 1),
        "term_end": date(2027, 12, 31),
        "explanation": "Rule EDU-1 routes education by academic organizations to permissions.",
    }
    values.update(overrides)
    return RoutedUse(**values)


def requested_by(requester: User) -> PermissionRequest:
    """A request routed from an application that the vendor user `requester` submitted
    (as the applications package sends it: their address, name and user id)."""
    organization = db.session().get(Organization, requester.organization_id)
    assert organization is not None
    return send_routed(
        routed_use(
            organization.id,
            organization.legal_name,
            requester_email=requester.email,
            requester_name=requester.full_name,
            requester_user_id=requester.id,
        )
    )


def send_routed(use: RoutedUse) -> PermissionRequest:
    """Send the signal as the applications package does, inside a transaction."""
    with db.transaction() as session:
        use_routed_to_permissions.send(use, session=session)
    found = (
        db.session()
        .scalars(
            select(PermissionRequest).where(
                PermissionRequest.application_id == use.application_id,
                PermissionRequest.application_line == use.line_index,
            )
        )
        .one()
    )
    return found


def three_grants_ending(
    submit: Callable[..., tuple[PermissionRequest, str]],
) -> tuple[PermissionRequest, PermissionRequest, PermissionRequest]:
    """Three grants ending within 60 days, one of each kind of ending email (after
    `licensing permissions expire` has run): granted within its last 30 days, so never
    emailed (ends in 20 days); granted 45 days ago and ending in 50, emailed in 20
    days; granted 45 days ago and ending in 10, emailed now."""
    today = calendar.office_date(utcnow())
    earlier = utcnow() - timedelta(days=45)
    short, _ = submit(requester_email="ravi@east.example")
    services.approve(short.id, OFFICE, valid_until=today + timedelta(days=20))
    later, _ = submit(requester_email="amy@westfield.example")
    services.approve(later.id, OFFICE, valid_until=today + timedelta(days=50), now=earlier)
    ending, _ = submit(requester_email="tomas@harbor.example")
    services.approve(ending.id, OFFICE, valid_until=today + timedelta(days=10), now=earlier)
    services.expire_due()
    return short, later, ending


def _due_at(request: PermissionRequest, due: Any) -> None:
    db.session().execute(
        update(PermissionRequest).where(PermissionRequest.id == request.id).values(sla_due_at=due)
    )


def tied_queue(send: Callable[..., tuple[PermissionRequest, str]]) -> tuple[list[int], list[int]]:
    """Requests that tie on the first day and on the decision due, and undated ones
    (two of them tied on the due date too), the first of each tie stored after the
    others (on PostgreSQL: `ties.rewritten`). Returns the ids in the sort's order,
    and in the default order."""
    today = calendar.office_date(utcnow())
    early, late = today + timedelta(days=20), today + timedelta(days=90)
    due = utcnow() + timedelta(days=9)

    def made(use_from: date | None, email: str) -> PermissionRequest:
        if use_from is None:
            return send(requester_email=email)[0]
        until = late + timedelta(days=30)
        return send(requester_email=email, use_from=use_from, use_until=until)[0]

    late_a = made(late, "a@late.example")
    early_a = made(early, "a@early.example")
    early_b = made(early, "b@early.example")
    early_c = made(early, "c@early.example")
    plain_a = made(None, "a@plain.example")
    plain_b = made(None, "b@plain.example")
    plain_c = made(None, "c@plain.example")
    # The three early ones tie on the first day and on the decision due; the late one
    # is due first of all; the undated: two tie on the due date, one is due sooner.
    for request in (early_a, early_b, early_c, plain_a, plain_b):
        _due_at(request, due)
    _due_at(late_a, due - timedelta(days=3))
    _due_at(plain_c, due - timedelta(days=1))
    session = db.session()
    session.commit()
    for request in (early_a, plain_a):
        rewritten(session, request)
    session.commit()
    by_first_day = [early_a.id, early_b.id, early_c.id, late_a.id, plain_c.id, plain_a.id]
    by_first_day.append(plain_b.id)
    by_due = [late_a.id, plain_c.id, early_a.id, early_b.id, early_c.id, plain_a.id, plain_b.id]
    return by_first_day, by_due
