"""`licensing reports remind`: reminders before, on and after the due date, each once;
a report more than 30 days overdue holds the organization at pending_payment until
it is filed. And `licensing tokens create`, for scripts that drive the API."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, date, datetime
from typing import Any

from flask import Flask
from sqlalchemy import select

from licensing import db
from licensing.accounts.models import Organization
from licensing.actors import Actor
from licensing.audit.models import AuditEvent
from licensing.mail.models import OutboxMessage
from licensing.royalties.services import agreement_periods, send_reminders
from tests.integration.royalties.conftest import SOFTWARE
from tests.support.agreements import make_active_agreement


def reminders() -> list[OutboxMessage]:
    return list(
        db.session().scalars(
            select(OutboxMessage)
            .where(OutboxMessage.template == "royalty_report_reminder")
            .order_by(OutboxMessage.id)
        )
    )


def remind(app: Flask, when: str) -> str:
    result = app.test_cli_runner().invoke(args=["reports", "remind", "--now", when])
    assert result.exit_code == 0, result.output
    return result.output


def test_each_reminder_goes_once_before_on_and_every_fortnight_after_the_due_date(
    app: Flask, vendor: Any, active_agreement: Any
) -> None:
    active_agreement(vendor, SOFTWARE)
    # Q1 2027 is due on 2027-04-30.
    assert "0 reminders" in remind(app, "2027-04-10T15:00:00+00:00")  # 20 days ahead
    assert "1 reminders" in remind(app, "2027-04-17T15:00:00+00:00")  # 13 days ahead
    assert "0 reminders" in remind(app, "2027-04-20T15:00:00+00:00")  # already told
    assert "1 reminders" in remind(app, "2027-04-30T15:00:00+00:00")  # the due date
    assert "0 reminders" in remind(app, "2027-05-10T15:00:00+00:00")
    assert "1 reminders" in remind(app, "2027-05-14T15:00:00+00:00")  # 14 days overdue
    sent = reminders()
    assert [message.subject for message in sent][-1].endswith("overdue")
    assert json.loads(sent[0].recipients) == [vendor.email]
    assert "due on April 30, 2027" in sent[0].body_text  # in words (round 56)


def test_the_reminders_before_and_on_the_due_date_say_from_when_it_holds_the_organization(
    app: Flask, vendor: Any, active_agreement: Any
) -> None:
    # Round 51's vendor, reminded on the due day, read "Your royalty report is due
    # today." and nothing of what a late report does, which only the reminders after
    # the due date said.
    active_agreement(vendor, SOFTWARE)
    remind(app, "2027-04-17T15:00:00+00:00")  # 13 days ahead
    remind(app, "2027-04-30T15:00:00+00:00")  # the due date
    ahead, today = reminders()
    held = (
        "If it is not filed by May 30, 2027, it counts like an overdue invoice from the next "
        "day: the organization cannot apply for new licenses until it is filed."
    )
    assert "Your royalty report is due in 13 days." in ahead.body_text
    assert "Your royalty report is due today." in today.body_text
    for message in (ahead, today):
        assert held in " ".join(message.body_text.split())


def test_a_report_long_overdue_holds_the_standing_until_it_is_filed(
    app: Flask, vendor: Any, active_agreement: Any, file_report: Any
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    organization = db.session().get(Organization, vendor.organization_id)
    assert organization.standing == "active"
    send_reminders(
        standing_days=30, now=datetime(2027, 5, 30, 15, 0, tzinfo=UTC)
    )  # 30 days: not yet
    db.session().refresh(organization)
    assert organization.standing == "active"
    run = send_reminders(standing_days=30, now=datetime(2027, 6, 1, 15, 0, tzinfo=UTC))
    db.session().refresh(organization)
    assert organization.standing == "pending_payment"
    assert run.pending_payment == [organization.legal_name]
    event = (
        db.session()
        .scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "organization.standing_changed")
            .order_by(AuditEvent.seq)
        )
        .all()[-1]
    )
    assert "royalty report" in (event.note or "")
    file_report(vendor, agreement, 1, [], now=datetime(2027, 6, 2, 15, 0, tzinfo=UTC))
    db.session().refresh(organization)
    assert organization.standing == "active"


def test_tokens_create_prints_a_working_token_for_an_active_user(
    app: Flask, client: Any, vendor: Any
) -> None:
    result = app.test_cli_runner().invoke(
        args=["tokens", "create", vendor.email, "--name", "royalty uploader"]
    )
    assert result.exit_code == 0, result.output
    secret = result.stdout.strip()
    response = client.get("/api/v1/agreements", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 200
    unknown = app.test_cli_runner().invoke(
        args=["tokens", "create", "nobody@nowhere.example", "--name", "x"]
    )
    assert unknown.exit_code == 1
    assert "no active user" in unknown.output


def test_the_finance_queue_health_counts_reports_due_and_overdue(
    app: Flask, vendor: Any, active_agreement: Any, billing_staff: Any, client: Any
) -> None:
    from licensing.finance import queries as finance_queries

    active_agreement(vendor, SOFTWARE)
    # 2027-07-02: Q1 (due 2027-04-30) is overdue, Q2 (ended 2027-06-30) is due.
    queues = finance_queries.queue_health(
        db.session(),
        datetime(2027, 7, 2, 15, 0, tzinfo=UTC),
        application_target=10,
        permission_target=10,
    )
    reports = next(queue for queue in queues if queue.key == "royalty_reports")
    assert reports.count == 2
    assert reports.bands["past_target"] == 1
    assert reports.oldest_days == (date(2027, 7, 2) - date(2027, 3, 31)).days


def test_the_remind_command_holds_the_standing_after_the_configured_number_of_days(
    app: Flask, vendor: Any, active_agreement: Any
) -> None:
    active_agreement(vendor, SOFTWARE)
    organization = db.session().get(Organization, vendor.organization_id)
    settings = app.config["LICENSING"]
    app.config["LICENSING"] = dataclasses.replace(settings, overdue_standing_days=60)
    try:
        remind(app, "2027-06-01T15:00:00+00:00")  # 31 days overdue: within 60
        db.session().refresh(organization)
        assert organization.standing == "active"
        output = remind(app, "2027-07-15T15:00:00+00:00")  # beyond 60 days overdue
    finally:
        app.config["LICENSING"] = settings
    db.session().refresh(organization)
    assert organization.standing == "pending_payment"
    assert organization.legal_name in output


def test_a_late_agreements_back_reports_are_reminded_by_when_to_file_them_not_as_215_days_overdue(
    app: Flask, vendor: Any, licensing_staff: Any, example_card: str
) -> None:
    # A 2027 license accepted on 2027-12-01: its first three quarters' reports were
    # due before it was accepted (the first 215 days before). They are `due` on the
    # acceptance's day and `overdue` from the next (round 50: `overdue` at once, by the
    # contract's due dates), hold the standing only 30 days after acceptance, and the
    # reminders count from the acceptance as the standing does.
    accepted = datetime(2027, 12, 1, 15, 0, tzinfo=UTC)
    agreement = make_active_agreement(vendor, licensing_staff, SOFTWARE, now=accepted)
    _, statuses = agreement_periods(agreement.id, Actor.SYSTEM, now=accepted)
    assert [status.state for status in statuses] == ["due", "due", "due", "upcoming"]
    _, statuses = agreement_periods(
        agreement.id, Actor.SYSTEM, now=datetime(2027, 12, 2, 15, 0, tzinfo=UTC)
    )
    assert [status.state for status in statuses] == ["overdue", "overdue", "overdue", "upcoming"]

    run = send_reminders(standing_days=30, now=datetime(2027, 12, 1, 16, 0, tzinfo=UTC))

    assert run.reminders == 3
    sent = reminders()
    # Days in words, as every email says them (round 56).
    dues = ("April 30, 2027", "July 30, 2027", "October 30, 2027")
    for message, due in zip(sent, dues, strict=True):
        assert "days overdue" not in message.body_text
        assert message.subject.endswith(": file by December 31, 2027")
        assert (
            "This period ended before the agreement was accepted on December 1, 2027, so its "
            "report is due now: please file it by December 31, 2027."
        ) in message.body_text
        assert f"was due on {due}." in message.body_text
        assert "If it is not filed by December 31, 2027, it counts like an overdue invoice" in (
            message.body_text
        )
    # Then every fortnight from the acceptance, as an agreement's reports from their
    # due date; past the 30 days the organization is held and the reminder says so.
    assert (
        send_reminders(standing_days=30, now=datetime(2027, 12, 14, 15, 0, tzinfo=UTC)).reminders
        == 0
    )
    assert (
        send_reminders(standing_days=30, now=datetime(2027, 12, 15, 15, 0, tzinfo=UTC)).reminders
        == 3
    )
    late = send_reminders(standing_days=30, now=datetime(2027, 12, 29, 15, 0, tzinfo=UTC))
    assert late.reminders == 3
    assert late.pending_payment == []
    held = send_reminders(standing_days=30, now=datetime(2028, 1, 12, 15, 0, tzinfo=UTC))
    assert held.pending_payment != []
    last = reminders()[-1]
    assert (
        "Your royalty report is still not filed 42 days after the agreement was accepted on "
        in (last.body_text)
    )
    assert last.subject.endswith(": overdue")
    assert "It counts like an overdue invoice" in last.body_text
