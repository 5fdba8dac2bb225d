"""Round 49: organizations that left. The undecided applications of organizations
closed before round 48 (whose closing left them) are withdrawn by a one-off command,
`licensing applications withdraw-closed`, through the state machine, audited as the
system, in bounded batches; the closing email names the applications closing
withdraws (docs/journeys.md)."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from licensing import db
from licensing.accounts import services as accounts
from licensing.accounts.models import Organization
from licensing.accounts.services import standing
from licensing.actors import Actor
from licensing.agreements import services
from licensing.agreements.models import Application
from licensing.agreements.services import submission
from licensing.audit.models import AuditEvent
from licensing.mail import services as mail
from tests.integration.agreements.conftest import (  # noqa: F401 - the fixture
    STAFF_USE,
    apply,
)
from tests.integration.pricing.conftest import example_card as example_card
from tests.support import factories, settings
from tests.support.servers import SMTPServer, message_text

pytestmark = pytest.mark.usefixtures("in_december_2026")


@pytest.fixture
def config_changes(smtp_server: SMTPServer) -> dict[str, Any]:
    """The outbox delivers to the loopback SMTP server: the emails are read as sent."""
    return {"smtp_url": smtp_server.url}


def _closed_before_round_48(user: Any) -> str:
    """Closed as before round 48, when closing left its applications undecided; its
    legal name."""
    organization = db.session().get(Organization, user.organization_id)
    assert organization is not None
    organization.standing = "closed"
    db.session().commit()
    return organization.legal_name


def _states(*applications: Application) -> list[str]:
    db.session().expire_all()
    return [db.session().get(Application, a.id).state for a in applications]  # type: ignore[union-attr]


def _withdrawals(*applications: Application) -> list[AuditEvent]:
    return list(
        db.session().scalars(
            select(AuditEvent)
            .where(
                AuditEvent.action == "application.withdrawn",
                AuditEvent.entity_id.in_([str(a.id) for a in applications]),
            )
            .order_by(AuditEvent.id)
        )
    )


# --- item 1: the applications closings before round 48 left undecided ----------------------


def test_the_one_off_withdraws_what_closings_before_round_48_left_in_batches_as_the_system(
    app: Flask,
    apply: Any,  # noqa: F811
    vendor: Any,
    other_vendor: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Staff could only reject them one by one; the command withdraws them all, a
    # batch of 2 per transaction here (100 in production), so 3 take two batches.
    monkeypatch.setattr(submission, "WITHDRAW_BATCH", 2)
    third = factories.make_vendor(db.session())
    db.session().commit()
    first = apply(vendor, STAFF_USE)
    draft = apply(vendor, STAFF_USE, submit=False)
    also_closed = apply(third, STAFF_USE)
    active = apply(other_vendor, STAFF_USE)
    name = _closed_before_round_48(vendor)
    third_name = _closed_before_round_48(third)
    assert _states(first, draft, also_closed) == ["submitted", "draft", "submitted"]

    run = app.test_cli_runner().invoke(args=["applications", "withdraw-closed"])
    assert run.exit_code == 0, run.output
    assert run.output.splitlines() == [
        "3 undecided applications of closed organizations withdrawn.",
        f"  withdrawn: {first.reference}",
        f"  withdrawn: {draft.reference}",
        f"  withdrawn: {also_closed.reference}",
    ]
    assert _states(first, draft, also_closed, active) == [
        "withdrawn",
        "withdrawn",
        "withdrawn",
        "submitted",  # an active organization's waits for its decision
    ]
    events = _withdrawals(first, draft, also_closed)
    assert [(e.entity_id, e.actor, e.actor_user_id) for e in events] == [
        (str(first.id), "system", None),
        (str(draft.id), "system", None),
        (str(also_closed.id), "system", None),
    ]
    assert events[0].before_data == {"state": "submitted"}
    assert events[1].before_data == {"state": "draft"}
    assert events[0].after_data == {"state": "withdrawn"}
    said = (
        "'s account is closed, and a closed organization's application is not approved "
        "(closed before closing withdrew its applications): licensing applications "
        "withdraw-closed."
    )
    assert [e.note for e in events] == [name + said, name + said, third_name + said]

    # Idempotent: a second run finds nothing and writes nothing.
    again = app.test_cli_runner().invoke(args=["applications", "withdraw-closed"])
    assert again.exit_code == 0, again.output
    assert again.output == "0 undecided applications of closed organizations withdrawn.\n"
    assert len(_withdrawals(first, draft, also_closed, active)) == 3


def test_the_one_off_leaves_decided_applications_and_open_organizations_alone(
    app: Flask,
    apply: Any,  # noqa: F811
    vendor: Any,
    other_vendor: Any,
) -> None:
    withdrawn_before = apply(vendor, STAFF_USE)
    suspended = apply(other_vendor, STAFF_USE)
    services.withdraw(withdrawn_before.id, Actor.of(accounts.principal_for(vendor)))
    _closed_before_round_48(vendor)
    organization = db.session().get(Organization, other_vendor.organization_id)
    assert organization is not None
    accounts.change_standing(
        db.session(), organization, "suspend", reason="Unpaid.", actor=Actor.SYSTEM
    )
    db.session().commit()

    assert services.withdraw_left_by_closed() == []
    assert _states(withdrawn_before, suspended) == ["withdrawn", "submitted"]
    # The vendor's own withdrawal only: nothing more recorded.
    assert [e.actor for e in _withdrawals(withdrawn_before)] == [vendor.email]


# --- item 2: the closing email names what closing withdrew -------------------------------


def _close(user: Any) -> None:
    organization = db.session().get(Organization, user.organization_id)
    assert organization is not None
    accounts.change_standing(
        db.session(),
        organization,
        "close",
        reason="The licensee stopped trading.",
        actor=Actor.SYSTEM,
    )
    db.session().commit()


def _closing_emails(mailbox: SMTPServer, count: int) -> dict[str, str]:
    """The closing emails over SMTP: each recipient's text, one line per paragraph."""
    mail.deliver_due(settings.delivery())
    return {
        str(message["To"]): " ".join(message_text(message).split())
        for message in mailbox.wait_for(count)
        if "standing is now closed" in str(message["Subject"])
    }


def test_the_closing_email_names_the_applications_it_withdrew_the_first_few_and_how_many_more(
    app: Flask,
    apply: Any,  # noqa: F811
    vendor: Any,
    mailbox: SMTPServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The email said the applications were withdrawn, not which. It names the first
    # `WITHDRAWN_NAMED` (10; 2 here) and counts the rest.
    monkeypatch.setattr(standing, "WITHDRAWN_NAMED", 2)
    applications = [apply(vendor, STAFF_USE) for _ in range(2)]
    applications.append(apply(vendor, STAFF_USE, submit=False))
    _close(vendor)

    received = _closing_emails(mailbox, 2)
    contact = db.session().get(Organization, vendor.organization_id).billing_email  # type: ignore[union-attr]
    to_vendor = received[vendor.email]
    first, second, _ = (a.reference for a in applications)
    assert (
        "Its 3 applications not yet decided, drafts included, are withdrawn, since no closed "
        f"organization's application is approved: {first}, {second} and 1 more."
    ) in to_vendor
    # The billing contact applies for nothing: not told of applications.
    assert "not yet decided" not in received[contact]


def test_the_closing_email_names_one_application_or_says_nothing_of_none(
    app: Flask,
    apply: Any,  # noqa: F811
    vendor: Any,
    other_vendor: Any,
    mailbox: SMTPServer,
) -> None:
    one = apply(vendor, STAFF_USE)
    _close(vendor)
    _close(other_vendor)

    received = _closing_emails(mailbox, 4)
    assert (
        f"Its application not yet decided, {one.reference}, is withdrawn, since no closed "
        "organization's application is approved."
    ) in received[vendor.email]
    assert "withdrawn" not in received[other_vendor.email]
    assert "Your organization's account is closed" in received[other_vendor.email]


def test_the_sentence_names_up_to_ten_and_counts_the_rest() -> None:
    references = [f"APP-2026-{n:06}" for n in range(1, 13)]
    assert standing.withdrawn_in_words([]) is None
    assert standing.withdrawn_in_words(references[:3]) == (
        "Its 3 applications not yet decided, drafts included, are withdrawn, since no closed "
        "organization's application is approved: APP-2026-000001, APP-2026-000002 and "
        "APP-2026-000003."
    )
    twelve = standing.withdrawn_in_words(references)
    assert twelve is not None
    assert twelve.endswith("APP-2026-000009, APP-2026-000010 and 2 more.")
    assert "APP-2026-000011" not in twelve
