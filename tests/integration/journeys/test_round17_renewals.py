"""Round 17: a licensee is emailed that an agreement nothing renews is ending."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from licensing import db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import services as agreement_services
from licensing.agreements.models import Agreement, Application
from licensing.audit.models import AuditEvent
from licensing.mail.models import OutboxMessage
from tests.integration.agreements.conftest import AUTO_USE, NOW
from tests.support.agreements import accept, agreement_of, renewal_window

SUBJECT = "Agreement {number}: ends on December 31, 2027"


def _active(apply: Callable[..., Application], vendor: Any) -> Agreement:
    return accept(agreement_of(apply(vendor, AUTO_USE)), vendor, now=NOW)


def _reminders(number: str) -> list[OutboxMessage]:
    subject = SUBJECT.format(number=number)
    return [
        message
        for message in db.session().scalars(select(OutboxMessage).order_by(OutboxMessage.id))
        if message.subject.endswith(subject)
    ]


def _run(month: int, day: int, year: int = 2027) -> agreement_services.ExpiryReport:
    return agreement_services.expire(now=datetime(year, month, day, 15, 0, tzinfo=UTC))


def test_the_licensee_is_emailed_once_60_days_before_an_unrenewed_agreement_ends(
    apply: Callable[..., Application], vendor: Any
) -> None:
    # Only the dashboard said an agreement was ending: a licensing office that did
    # not sign in heard nothing until the "expired" email.
    agreement = _active(apply, vendor)
    assert _run(10, 31).ending_reminded == []

    due = _run(11, 1)
    assert due.ending_reminded == [agreement.number]
    assert "1 licensees told their agreement ends soon" in str(due)
    # The renewers are told to renew; the billing contact who renews nothing, who
    # does, and that the invoice is theirs (round 23: one email read "renew it").
    message, to_contact = _reminders(agreement.number)
    billing = agreement.organization.billing_email
    assert message.to == [vendor.email]
    assert to_contact.to == [billing]
    assert (
        "nothing renews it yet. Its administrators and members renew it (ask "
        f"{vendor.full_name} ({vendor.email})): the renewal is a new application for the "
        "term from January 1, 2028, priced on the rate card in effect then in USD (the "
        "agreement's currency), and its invoice "
        "comes to you."
    ) in to_contact.body_text
    assert "renew it from the agreement's page" not in to_contact.body_text
    body = message.body_text
    assert "The term ends on December 31, 2027 and nothing renews it yet." in body
    assert "a new application for the term from January 1, 2028" in body
    assert "priced on the rate card in effect then" in body
    assert f"/portal/agreements/{agreement.id}#renew-heading" in body
    events = db.session().scalars(
        select(AuditEvent).where(AuditEvent.action == "agreement.ending_reminder_sent")
    )
    assert [event.entity_id for event in events] == [str(agreement.id)]

    # Once: later runs within the window send nothing more.
    assert _run(11, 2).ending_reminded == []
    assert _run(12, 20).ending_reminded == []
    assert len(_reminders(agreement.number)) == 2


def test_an_agreement_whose_renewal_is_drawn_is_not_announced_as_ending(
    apply: Callable[..., Application], vendor: Any
) -> None:
    agreement = _active(apply, vendor)
    agreement_services.start_renewal(
        agreement.id, Actor.of(accounts.principal_for(vendor)), now=renewal_window(agreement)
    )
    assert _run(11, 1).ending_reminded == []
    assert _reminders(agreement.number) == []


def test_a_terminated_agreement_is_not_announced_as_ending(
    apply: Callable[..., Application], vendor: Any, licensing_staff: Any
) -> None:
    agreement = _active(apply, vendor)
    staff = Actor.of(accounts.principal_for(licensing_staff))
    agreement_services.terminate(agreement.id, "Breach of terms.", staff, now=NOW)
    assert _run(11, 1).ending_reminded == []


def test_an_agreement_accepted_inside_the_60_days_is_not_announced_at_once(
    apply: Callable[..., Application], vendor: Any
) -> None:
    agreement = accept(
        agreement_of(apply(vendor, AUTO_USE)),
        vendor,
        now=datetime(2027, 11, 10, 15, 0, tzinfo=UTC),
    )
    assert _run(11, 11).ending_reminded == []
    assert _reminders(agreement.number) == []
