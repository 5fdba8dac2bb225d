"""`licensing reports restore-terminated`: agreements terminated before round 23 had
their reporting periods deleted, so the staff queue, the reminders and the standing
rule did not see the reports still due under them (docs/journeys.md, "Round 23:
restoring the periods of agreements terminated before"). The command lists them, and
with `--apply` stores their periods as a termination now does."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest
from click.testing import Result
from flask import Flask
from sqlalchemy import delete, func, select

from licensing import db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements.models import Agreement
from licensing.audit.models import AuditEvent
from licensing.royalties import restore, services, views
from licensing.royalties.models import ReportingPeriod
from licensing.royalties.queries import QueueFilter
from tests.integration.agreements.conftest import NOW
from tests.integration.royalties.conftest import (
    AFTER,
    DEVELOPMENT,
    SOFTWARE,
    file_quarter,
    row,
    vendor_and_reviewer,
)
from tests.support.agreements import make_active_agreement
from tests.support.hosts import run_as_hosts
from tests.support.locks import write_lock_is_free
from tests.support.periods import stored, terminate

TERMINATED = datetime(2027, 8, 15, 15, 0, tzinfo=UTC)
EARLIER = datetime(2027, 5, 20, 15, 0, tzinfo=UTC)
# The day the office runs the command: the second quarter is 63 days overdue.
RUN_AT = "2027-10-01T12:00:00+00:00"
RUN_DAY = date(2027, 10, 1)


def _terminate(licensing_staff: Any, agreement: Agreement, at: datetime = TERMINATED) -> None:
    terminate(licensing_staff, agreement, at)


def _as_terminated_before(agreement: Agreement) -> None:
    """What a termination before round 23 left: the agreement's periods deleted."""
    with db.transaction() as session:
        session.execute(delete(ReportingPeriod).where(ReportingPeriod.agreement_id == agreement.id))


def _restored_events() -> list[AuditEvent]:
    return list(
        db.session().scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "agreement.periods_restored")
            .order_by(AuditEvent.seq)
        )
    )


def _run(app: Flask, *arguments: str) -> Result:
    result = app.test_cli_runner().invoke(
        args=["reports", "restore-terminated", "--now", RUN_AT, *arguments]
    )
    db.session().rollback()  # read what the command committed
    return result


@pytest.fixture
def terminated_before(
    vendor: Any, licensing_staff: Any, active_agreement: Callable[..., Agreement]
) -> Agreement:
    """`vendor`'s SaaS agreement for 2027, terminated on 2027-08-15 the old way."""
    agreement = active_agreement(vendor, SOFTWARE)
    _terminate(licensing_staff, agreement)
    _as_terminated_before(agreement)
    return agreement


def test_the_dry_run_lists_the_periods_with_how_long_each_is_overdue_and_stores_nothing(
    app: Flask, terminated_before: Agreement
) -> None:
    result = _run(app)

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith(f"{terminated_before.number} (")
    assert lines[0].endswith("terminated 2027-08-15: 3 period(s)")
    assert lines[1:4] == [
        "  2027-01-01 to 2027-03-31, due 2027-04-30: overdue 154 days (more than 30: the "
        "next reminders run holds the organization, if in good standing)",
        "  2027-04-01 to 2027-06-30, due 2027-07-30: overdue 63 days (more than 30: the "
        "next reminders run holds the organization, if in good standing)",
        "  2027-07-01 to 2027-08-15, due 2027-09-14: overdue 17 days",
    ]
    assert "nothing changed: run again with --apply" in lines[-1]
    assert stored(terminated_before) == []
    assert _restored_events() == []


def test_apply_stores_the_periods_a_termination_now_stores(
    app: Flask,
    vendor: Any,
    licensing_staff: Any,
    active_agreement: Callable[..., Agreement],
    terminated_before: Agreement,
) -> None:
    twin = active_agreement(vendor, SOFTWARE)
    _terminate(licensing_staff, twin)

    result = _run(app, "--apply")

    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == (
        "1 agreement(s) terminated before round 23: periods stored."
    )
    restored = stored(terminated_before)
    assert restored == stored(twin)
    assert restored[-1][2:] == (date(2027, 8, 15), date(2027, 9, 14))


def test_each_agreement_restored_is_audited_as_the_system_with_the_operators_login(
    app: Flask, monkeypatch: pytest.MonkeyPatch, terminated_before: Agreement
) -> None:
    monkeypatch.setattr("licensing.royalties.cli.operator_login", lambda: "dana")

    _run(app, "--apply")

    (event,) = _restored_events()
    assert event.actor == "system"
    assert event.entity_id == str(terminated_before.id)
    assert event.note == "licensing reports restore-terminated on the command line (user dana)"
    assert '"due_on":"2027-09-14","end":"2027-08-15","start":"2027-07-01"' in (event.after or "")


def test_a_second_run_finds_nothing_and_records_nothing(
    app: Flask, terminated_before: Agreement
) -> None:
    _run(app, "--apply")
    first = stored(terminated_before)

    again = _run(app, "--apply")
    listed = _run(app)

    assert again.output == (
        "No agreement terminated before round 23 is missing its periods: none stored.\n"
    )
    assert listed.output == "No agreement terminated before round 23 is missing its periods.\n"
    assert stored(terminated_before) == first
    assert len(_restored_events()) == 1


def test_the_reports_already_filed_under_the_agreement_are_listed_as_filed_and_kept(
    app: Flask,
    vendor: Any,
    licensing_staff: Any,
    active_agreement: Callable[..., Agreement],
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    filed = file_quarter(vendor, agreement.id, 1, [row(1, "A", quantity=2500)], now=AFTER[1])
    _terminate(licensing_staff, agreement)
    # The periods stored again by the termination know the first was filed (round 53:
    # the vendor dashboard reads the periods not filed), and so do those restored.
    assert _filed(agreement) == [True, False, False]
    _as_terminated_before(agreement)

    result = _run(app, "--apply")

    assert "  2027-01-01 to 2027-03-31, due 2027-04-30: report filed" in result.output
    assert filed.report is not None
    assert db.session().get(type(filed.report), filed.report.id) is not None
    assert _filed(agreement) == [True, False, False]


def _filed(agreement: Agreement) -> list[bool]:
    """Whether each stored period of the agreement is marked filed, in period order."""
    db.session().expire_all()
    return list(
        db.session().scalars(
            select(ReportingPeriod.filed)
            .where(ReportingPeriod.agreement_id == agreement.id)
            .order_by(ReportingPeriod.period_start)
        )
    )


def test_the_staff_queue_lists_the_restored_periods_due(
    app: Flask, licensing_staff: Any, terminated_before: Agreement
) -> None:
    staff = Actor.of(accounts.principal_for(licensing_staff))
    chosen = QueueFilter(agreement=terminated_before.number)

    def queued() -> list[tuple[date, str]]:
        with app.test_request_context("/console/royalty-reports"):
            page = views.staff_queue_page(staff, chosen, RUN_DAY).items
        return [(status.period.start, status.state) for status in page]

    assert queued() == []
    _run(app, "--apply")
    assert queued() == [
        (date(2027, 1, 1), "overdue"),
        (date(2027, 4, 1), "overdue"),
        (date(2027, 7, 1), "overdue"),
    ]


def test_terminated_since_leaves_the_earlier_terminations_unrestored(
    app: Flask,
    vendor: Any,
    licensing_staff: Any,
    active_agreement: Callable[..., Agreement],
    terminated_before: Agreement,
) -> None:
    earlier = active_agreement(vendor, SOFTWARE)
    _terminate(licensing_staff, earlier, EARLIER)
    _as_terminated_before(earlier)

    result = _run(app, "--apply", "--terminated-since", "2027-08-01")

    assert result.exit_code == 0, result.output
    assert f"{terminated_before.number} (" in result.output
    assert earlier.number not in result.output
    assert stored(earlier) == []
    assert len(stored(terminated_before)) == 3


def test_a_malformed_terminated_since_is_refused_with_exit_code_2(app: Flask) -> None:
    result = _run(app, "--terminated-since", "last year")
    assert result.exit_code == 2
    assert "--terminated-since" in result.output


def test_the_next_reminders_run_holds_the_organization_the_dry_run_said_it_would(
    app: Flask, vendor: Any, terminated_before: Agreement
) -> None:
    moment = datetime.fromisoformat(RUN_AT)
    assert services.send_reminders(standing_days=30, now=moment).pending_payment == []

    _run(app, "--apply")
    run = services.send_reminders(standing_days=30, now=moment)

    assert run.pending_payment == [vendor.organization.legal_name]
    assert run.reminders == 3


def test_an_agreement_with_no_line_reporting_usage_is_recorded_once_and_not_read_again(
    app: Flask,
    vendor: Any,
    licensing_staff: Any,
    active_agreement: Callable[..., Agreement],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    flat_only = active_agreement(vendor, DEVELOPMENT)
    _terminate(licensing_staff, flat_only)
    _as_terminated_before(flat_only)
    _run(app, "--apply")
    read: list[int] = []
    original = restore.store_terminated_periods

    def counted(session: Any, agreement: Agreement) -> Any:
        read.append(agreement.id)
        return original(session, agreement)

    monkeypatch.setattr(restore, "store_terminated_periods", counted)

    again = _run(app, "--apply")

    assert read == []
    assert again.output == (
        "No agreement terminated before round 23 is missing its periods: none stored.\n"
    )
    (event,) = _restored_events()
    assert event.entity_id == str(flat_only.id)
    assert event.after == '{"reporting_periods":[]}'
    assert (event.note or "").endswith("no line of it reports usage, no period to store")
    assert stored(flat_only) == []


def _terminated_before_round_23(app: Flask, count: int) -> list[int]:
    """For a database of its own: `count` agreements terminated the old way, committed."""
    with app.app_context():
        session = db.session()
        vendor, reviewer = vendor_and_reviewer(session)
        ids = []
        for _ in range(count):
            agreement = make_active_agreement(vendor, reviewer, SOFTWARE, now=NOW)
            terminate(reviewer, agreement, TERMINATED)
            _as_terminated_before(agreement)
            ids.append(agreement.id)
        session.commit()
    return ids


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_dry_run_holds_no_write_lock_while_it_works_out_the_periods(
    committed_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    _terminated_before_round_23(committed_app, 1)
    writable: list[bool] = []
    original = restore.terminated_periods

    def watched(session: Any, agreement: Agreement) -> Any:
        writable.append(write_lock_is_free(committed_app, "reporting_periods"))
        return original(session, agreement)

    monkeypatch.setattr(restore, "terminated_periods", watched)
    with committed_app.app_context():
        listed = list(restore.restorations(apply=False))

    assert len(listed) == 1
    assert writable == [True]


def test_two_hosts_restoring_at_once_store_and_audit_each_agreement_once(
    committed_app: Flask,
) -> None:
    ids = _terminated_before_round_23(committed_app, 4)

    runs = run_as_hosts(
        committed_app, lambda: list(restore.restorations(apply=True, operator="dana"))
    )

    restored = sorted(found.agreement_id for found in [*runs[0], *runs[1]])
    assert restored == ids
    with committed_app.app_context():
        session = db.session()
        events = session.scalars(
            select(AuditEvent.entity_id).where(AuditEvent.action == "agreement.periods_restored")
        ).all()
        periods = session.scalar(select(func.count()).select_from(ReportingPeriod))
    assert sorted(events) == sorted(str(found) for found in ids)
    assert periods == 3 * len(ids)


def test_the_dry_run_counts_a_period_due_before_the_acceptance_late_from_the_acceptance(
    app: Flask, terminated_before: Agreement
) -> None:
    # Round 52: accepted on 2027-06-01, after the first quarter's due date: its report
    # is late from that day (`late_from`), as the queue and the reminders count it,
    # not 154 days from 2027-04-30.
    with db.transaction() as session:
        agreement = session.get(Agreement, terminated_before.id)
        assert agreement is not None
        agreement.activated_at = datetime(2027, 6, 1, 15, 0, tzinfo=UTC)

    result = _run(app)

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[1] == (
        "  2027-01-01 to 2027-03-31, due 2027-04-30, due from the acceptance on 2027-06-01: "
        "overdue 122 days (more than 30: the next reminders run holds the organization, if "
        "in good standing)"
    )
    assert lines[2].startswith("  2027-04-01 to 2027-06-30, due 2027-07-30: overdue 63 days")
