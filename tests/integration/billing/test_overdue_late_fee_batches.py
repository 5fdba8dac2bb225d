"""Round 51: an organization's new months' late fees are issued `LATE_FEE_BATCH` to a
transaction, not all of them in its one (5,000 late-fee invoices and their PDFs in
one transaction, undone whole by an error in the last). Each batch is committed, a
run stopped part way is finished by the next, two hosts at once issue each fee once,
and the organization is still sent one email naming them.

Round 52: one email however the hosts interleave (a second host taking the
organization between two batches named its own in a second email), and the email's
late fees read without a list of their ids (SQLite refuses more bound parameters in a
statement than its limit).

Round 53: one email an organization a day across errors and reruns too (a run
stopped by an error named the batches it had committed, and its rerun that day the
rest in a second email), and none again on the upgrade day (operations_0004)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from licensing import db, migrations
from licensing.accounts.models import Organization
from licensing.audit.models import AuditEvent
from licensing.billing import services
from licensing.billing.models import Invoice, LateFeeEmail
from licensing.billing.services import overdue
from licensing.mail.models import OutboxMessage
from licensing.signals import agreement_activated
from tests.integration.billing.conftest import activated, send_activation
from tests.integration.finance.conftest import issue
from tests.support import factories
from tests.support.copies import copy_rows_since, last_ids
from tests.support.factories import billing_clerk
from tests.support.hosts import run_as_hosts
from tests.support.settings import standing_days

# 2027-03-17: every invoice (due 2027-02-14) is 31 days overdue: its first month's
# late fee.
LATE = datetime(2027, 3, 17, 18, 0, tzinfo=UTC)
BATCH = 2
# Round 65: each test owes as many invoices as it proves: the batch and one more for
# a run of batches, two batches where the fourth fee fails in the second (its first
# fee undone with it), not 5 or 7 (each invoice issued with its PDF and audit events).


@pytest.fixture
def batch_of_two(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(overdue, "LATE_FEE_BATCH", BATCH, raising=False)


def _owing(app: Flask, count: int) -> int:
    """An organization with `count` invoices of 1,000.00 USD due 2027-02-14: its id."""
    with app.app_context():
        organization_id = factories.make_vendor(db.session()).organization_id
        # One transaction for all of them (round 63: a commit and audit chain an
        # invoice were a good part of the set-up): each is issued as on acceptance.
        with db.transaction() as session:
            for _ in range(count):
                agreement_activated.send(activated(organization_id, ("1000.00",)), session=session)
    return organization_id


def _owing_copied(app: Flask, count: int) -> int:
    """As `_owing`, the first invoice issued by the service (a manual one of 15 January,
    due 14 February: an agreement's is one an agreement) and the others copies of its
    rows (`copies.copy_rows_since`: the invoice, its line, its audit events and issuing
    email, each numbered anew). For a test of how many late fees a run issues and names,
    not of how the invoices were issued (round 65: 37 issued, each numbered, its PDF
    drawn and kept and audited, were 7 of the test's 10 seconds)."""
    with app.app_context():
        organization_id = factories.make_vendor(db.session()).organization_id
        since = last_ids()
        first = issue(organization_id, "1000.00", date(2027, 1, 15))
        assert first.due_date == date(2027, 2, 14)
        copy_rows_since(since, count - 1)
    return organization_id


def _run() -> overdue.OverdueReport:
    return services.process_overdue(standing_days=standing_days(), now=LATE)


def _late_fees_by_invoice(app: Flask) -> dict[int, int]:
    """Each invoice charged a late fee: how many late-fee invoices it has."""
    with app.app_context():
        rows = db.session().execute(
            select(Invoice.parent_invoice_id, func.count())
            .where(Invoice.source_type == "late_fee")
            .group_by(Invoice.parent_invoice_id)
        )
        return {parent: count for parent, count in rows if parent is not None}


def _late_fee_emails(app: Flask) -> list[str]:
    with app.app_context():
        return list(
            db.session().scalars(
                select(OutboxMessage.subject)
                .where(OutboxMessage.template == "late_fees_issued")
                .order_by(OutboxMessage.id)
            )
        )


@pytest.fixture
def late_fees_committed(committed_app: Flask) -> Iterator[list[int]]:
    """How many late-fee invoices each transaction the run commits holds."""
    counts: list[int] = []
    pending: dict[int, int] = {}

    def flushed(session: Session, _context: Any, _instances: Any) -> None:
        made = sum(
            1
            for record in session.new
            if isinstance(record, Invoice) and record.source_type == "late_fee"
        )
        pending[id(session)] = pending.get(id(session), 0) + made

    def committed(session: Session) -> None:
        made = pending.pop(id(session), 0)
        if made:
            counts.append(made)

    def rolled_back(session: Session, _previous: Any) -> None:
        pending.pop(id(session), None)

    event.listen(Session, "before_flush", flushed)
    event.listen(Session, "after_commit", committed)
    event.listen(Session, "after_soft_rollback", rolled_back)
    yield counts
    event.remove(Session, "before_flush", flushed)
    event.remove(Session, "after_commit", committed)
    event.remove(Session, "after_soft_rollback", rolled_back)


@pytest.mark.usefixtures("batch_of_two")
def test_an_organizations_late_fees_are_committed_a_batch_at_a_time_and_named_in_one_email(
    committed_app: Flask, late_fees_committed: list[int]
) -> None:
    organization_id = _owing(committed_app, BATCH + 1)

    with committed_app.app_context():
        report = _run()
        organization = db.session().get(Organization, organization_id)
        assert organization is not None
        organization_name = organization.legal_name

    assert len(report.late_fee_invoices) == 3
    assert late_fees_committed == [2, 1]
    assert report.late_fee_emails == 1
    assert _late_fee_emails(committed_app) == [f"3 late-fee invoices issued to {organization_name}"]
    assert sorted(_late_fees_by_invoice(committed_app).values()) == [1] * 3


def _fourth_fee_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    charge = overdue._charge_late_fee
    calls: list[int] = []

    def fourth_fails(*args: Any, **kwargs: Any) -> Invoice:
        calls.append(1)
        if len(calls) == 4:
            raise RuntimeError("the fourth late fee could not be issued")
        return charge(*args, **kwargs)

    monkeypatch.setattr(overdue, "_charge_late_fee", fourth_fails)


@pytest.mark.usefixtures("batch_of_two")
def test_an_error_part_way_keeps_the_batches_before_it_and_a_rerun_that_day_names_all_in_one_email(
    committed_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Round 52 named the first batch as the run stopped, and the rerun the others in
    a second email that day (the worker reruns a job when it starts, and another
    host's worker runs it at its own hour)."""
    organization_id = _owing(committed_app, 4)
    _fourth_fee_fails(monkeypatch)
    with committed_app.app_context(), pytest.raises(RuntimeError):
        _run()
    # The first batch stands, audited; its fees wait for the run that finishes.
    assert sorted(_late_fees_by_invoice(committed_app).values()) == [1, 1]
    assert _named_in_emails(committed_app) == []
    with committed_app.app_context():
        audited = db.session().scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "invoice.created")
            .where(AuditEvent.after.contains('"source":"late_fee'))
        )
    assert audited == 2

    monkeypatch.undo()
    with committed_app.app_context():
        report = _run()
        again = _run()
        organization = db.session().get(Organization, organization_id)
        assert organization is not None
        organization_name = organization.legal_name
    assert (len(report.late_fee_invoices), report.late_fee_emails) == (2, 1)
    assert (len(again.late_fee_invoices), again.late_fee_emails) == (0, 0)
    assert sorted(_late_fees_by_invoice(committed_app).values()) == [1] * 4
    assert _named_in_emails(committed_app) == [f"4 late-fee invoices issued to {organization_name}"]


@pytest.mark.usefixtures("batch_of_two")
def test_late_fees_a_stopped_run_committed_are_named_by_the_next_days_run_when_none_reran_it(
    committed_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    organization_id = _owing(committed_app, 4)
    _fourth_fee_fails(monkeypatch)
    with committed_app.app_context(), pytest.raises(RuntimeError):
        _run()
    monkeypatch.undo()
    with committed_app.app_context():
        report = services.process_overdue(
            standing_days=standing_days(), now=LATE + timedelta(days=1)
        )
        organization = db.session().get(Organization, organization_id)
        assert organization is not None
        organization_name = organization.legal_name
    assert (len(report.late_fee_invoices), report.late_fee_emails) == (2, 1)
    assert _named_in_emails(committed_app) == [f"4 late-fee invoices issued to {organization_name}"]


def test_a_late_fee_issued_after_the_days_email_is_named_the_next_day_not_in_a_second_email(
    committed_app: Flask,
) -> None:
    """A rerun that day issuing a fee the first run did not (here an invoice owing its
    month only once the first run had ended; on PostgreSQL also one a payment was being
    recorded on, skipped by the first) sends no second email that day: the next day's
    run names it, though that day owes no late fee of its own."""
    organization_id = _owing(committed_app, 2)
    with committed_app.app_context():
        first = _run()
    with committed_app.app_context():
        assert send_activation(activated(organization_id, ("1000.00",))) is not None
        rerun = _run()
    assert (first.late_fee_emails, len(rerun.late_fee_invoices), rerun.late_fee_emails) == (1, 1, 0)
    assert len(_named_in_emails(committed_app)) == 1

    with committed_app.app_context():
        next_day = services.process_overdue(
            standing_days=standing_days(), now=LATE + timedelta(days=1)
        )
        [late_fee] = rerun.late_fee_invoices
    assert (len(next_day.late_fee_invoices), next_day.late_fee_emails) == (0, 1)
    named = _named_in_emails(committed_app)
    assert len(named) == 2
    assert late_fee in named[1]


def test_operations_0004_counts_the_late_fees_before_it_named_so_the_upgrade_days_rerun_sends_none(
    committed_app: Flask,
) -> None:
    """The code before it kept no record of its late-fee emails (round 52's audit
    events only from its own), so the first run after upgrading named the day's late
    fees: on the upgrade day, the worker started on the new code (it runs every job at
    once) emailed the organizations the old code's run had emailed that morning."""
    organization_id = _owing(committed_app, 3)
    with committed_app.app_context():
        assert _run().late_fee_emails == 1
        url = committed_app.config["LICENSING"].database_url
    committed_app.extensions["licensing.db"].engine.dispose()
    migrations.downgrade(url, "operations_0003")  # the old code's run, without the table
    migrations.upgrade(url)

    with committed_app.app_context():
        rows = (
            db.session()
            .execute(select(LateFeeEmail.organization_id, LateFeeEmail.day, LateFeeEmail.named))
            .all()
        )
        rerun = _run()
    assert [tuple(row) for row in rows] == [(organization_id, LATE.date(), None)]
    assert rerun.late_fee_emails == 0
    assert len(_named_in_emails(committed_app)) == 1


@pytest.mark.usefixtures("batch_of_two")
def test_two_hosts_issuing_late_fees_in_batches_at_once_issue_each_once(
    committed_app: Flask,
) -> None:
    _owing(committed_app, 5)

    reports = run_as_hosts(committed_app, _run)

    assert sum(len(report.late_fee_invoices) for report in reports) == 5
    assert sorted(_late_fees_by_invoice(committed_app).values()) == [1] * 5
    # Each host names what it issued; one host alone, unless the other found the
    # organization between two batches.
    assert 1 <= sum(report.late_fee_emails for report in reports) <= 2
    assert len(_late_fee_emails(committed_app)) == sum(r.late_fee_emails for r in reports)


def test_the_overdue_command_shows_the_late_fees_progress_beside_its_output(
    app: Flask, vendor: Any, invoice_for: Any
) -> None:
    for _ in range(3):
        invoice_for(vendor, ("1000.00",))

    result = app.test_cli_runner().invoke(
        args=["invoices", "overdue", "--now", "2027-03-20T18:00:00+00:00"]
    )

    assert result.exit_code == 0, result.output
    assert "Late fees" in result.stderr
    assert "3 late-fee invoice(s) issued in 1 email(s)" in result.stdout


def _named_in_emails(app: Flask) -> list[str]:
    """Each email naming late fees, in the order queued: a list's subject, or the
    number of the one late fee emailed as any invoice is."""
    with app.app_context():
        rows = db.session().execute(
            select(OutboxMessage.template, OutboxMessage.subject)
            .where(
                OutboxMessage.template.in_(("late_fees_issued", "invoice_issued")),
                # The overdue invoices' own issue emails, due February 14, 2027 (round 56: in
                # words, as every email says a day).
                OutboxMessage.subject.not_like("%due February 14, 2027"),
            )
            .order_by(OutboxMessage.id)
        )
        return [subject for _, subject in rows]


@pytest.mark.usefixtures("batch_of_two")
def test_a_second_host_running_between_two_batches_of_the_first_leaves_the_organization_one_email(
    committed_app: Flask,
) -> None:
    """Host A issues its first batch; before its next, host B runs the whole job
    (the organization free between A's transactions), issuing the rest; A then finds
    nothing more owed. Round 51 sent two emails, A's naming its 2, B's its 3."""
    organization_id = _owing(committed_app, BATCH + 1)
    host_b: list[overdue.OverdueReport] = []

    def after_a_batch(_done: int) -> None:
        if not host_b:
            with committed_app.app_context():  # another host: a session of its own
                host_b.append(_run())

    with committed_app.app_context():
        host_a = services.process_overdue(
            standing_days=standing_days(), now=LATE, on_late_fees=after_a_batch
        )
        organization = db.session().get(Organization, organization_id)
        assert organization is not None
        organization_name = organization.legal_name

    assert (len(host_a.late_fee_invoices), len(host_b[0].late_fee_invoices)) == (2, 1)
    assert sorted(_late_fees_by_invoice(committed_app).values()) == [1] * 3
    assert _named_in_emails(committed_app) == [f"3 late-fee invoices issued to {organization_name}"]
    assert host_a.late_fee_emails + host_b[0].late_fee_emails == 1


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
@pytest.mark.usefixtures("batch_of_two")
def test_a_host_finding_the_organization_held_between_its_batches_leaves_the_email_to_the_holder(
    committed_app: Flask,
) -> None:
    """PostgreSQL (SQLite's hosts take turns, never finding one held): after host A's
    first batch another host holds the organization, so A stops; that host's run then
    issues the rest and names all five in the day's one email (round 51: A emailed its
    own two as it stopped, and the other host its three)."""
    organization_id = _owing(committed_app, BATCH + 1)
    engine = committed_app.extensions["licensing.db"].engine
    holder = engine.connect()

    def after_a_batch(_done: int) -> None:
        if not holder.in_transaction():
            holder.execute(
                text("SELECT id FROM organizations WHERE id = :id FOR NO KEY UPDATE"),
                {"id": organization_id},
            )

    try:
        with committed_app.app_context():
            host_a = services.process_overdue(
                standing_days=standing_days(), now=LATE, on_late_fees=after_a_batch
            )
    finally:
        holder.rollback()
        holder.close()
    assert (len(host_a.late_fee_invoices), host_a.late_fee_emails) == (2, 0)
    assert _named_in_emails(committed_app) == []

    with committed_app.app_context():
        host_b = _run()
    assert (len(host_b.late_fee_invoices), host_b.late_fee_emails) == (1, 1)
    assert sorted(_late_fees_by_invoice(committed_app).values()) == [1] * 3
    [subject] = _named_in_emails(committed_app)
    assert subject.startswith("3 late-fee invoices issued to ")


# The most bound parameters any other statement of the run takes (a late-fee invoice's
# INSERT: every column of invoices but its id, 35 since billing_0033), and one more:
# the limit SQLite is lowered to.
PARAMETER_LIMIT = len(Invoice.__table__.columns) - 1 + 1


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_late_fees_email_reads_more_late_fees_than_sqlites_parameter_limit(
    committed_app: Flask,
) -> None:
    """Round 51's email read its late fees by their ids (`IN` of as many as issued),
    which SQLite refuses past its limit of bound parameters (32,766 by default, from
    about 30,000 late fees a day). The limit is lowered for this run on each
    connection (`sqlite3.Connection.setlimit(SQLITE_LIMIT_VARIABLE_NUMBER, ...)`,
    Python 3.11), to one above the widest other statement, with a late fee more."""
    fees = PARAMETER_LIMIT + 1
    organization_id = _owing_copied(committed_app, fees)
    engine = committed_app.extensions["licensing.db"].engine

    def lowered(connection: Any, _record: Any) -> None:
        connection.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, PARAMETER_LIMIT)

    event.listen(engine, "connect", lowered)
    engine.dispose()  # every connection from now on opened with the lower limit
    # SQLAlchemy pages a many-row INSERT ... RETURNING (a commit's audit events, round 67)
    # to its dialect's limit of parameters, 32,700 under SQLite's 32,766: lowered alike.
    paged = engine.dialect.insertmanyvalues_max_parameters
    engine.dialect.insertmanyvalues_max_parameters = PARAMETER_LIMIT
    try:
        with committed_app.app_context():
            report = _run()
            organization = db.session().get(Organization, organization_id)
            assert organization is not None
            organization_name = organization.legal_name
    finally:
        engine.dialect.insertmanyvalues_max_parameters = paged
        event.remove(engine, "connect", lowered)
        engine.dispose()
    assert (len(report.late_fee_invoices), report.late_fee_emails) == (fees, 1)
    assert _named_in_emails(committed_app) == [
        f"{fees} late-fee invoices issued to {organization_name}"
    ]


def _pay_everything(app: Flask, organization_id: int, *, but: int = 0) -> None:
    """An offline payment of each of the organization's open invoices the day after
    `LATE` (all of them, or all but the last `but` late fees)."""
    on = LATE + timedelta(hours=20)
    with app.app_context():
        invoices = db.session().scalars(
            select(Invoice)
            .where(Invoice.organization_id == organization_id, Invoice.state == "open")
            .order_by(Invoice.id)
        )
        owed = list(invoices)
        for invoice in owed[: len(owed) - but]:
            services.record_offline_payment(
                invoice.id,
                method="wire",
                amount=invoice.total,
                reference=f"W-{invoice.id}",
                received_on=on.date(),
                now=on,
                actor=billing_clerk(),
            )


@pytest.mark.usefixtures("batch_of_two")
@pytest.mark.parametrize("unpaid", [0, 1], ids=["all-paid", "one-fee-unpaid"])
def test_late_fees_a_stopped_run_left_unnamed_are_named_once_though_the_organization_paid_all(
    committed_app: Flask, monkeypatch: pytest.MonkeyPatch, unpaid: int
) -> None:
    """Round 53 named them only in a run that chased the organization, which needs an
    overdue invoice: paying every overdue invoice (and the fees, or all but one) before
    the next run left the licensee charged late fees no email told it of."""
    organization_id = _owing(committed_app, 4)
    _fourth_fee_fails(monkeypatch)
    with committed_app.app_context(), pytest.raises(RuntimeError):
        _run()
    monkeypatch.undo()
    assert _named_in_emails(committed_app) == []
    _pay_everything(committed_app, organization_id, but=unpaid)

    reports = []
    for days in (1, 2):
        with committed_app.app_context():
            reports.append(
                services.process_overdue(
                    standing_days=standing_days(), now=LATE + timedelta(days=days)
                )
            )
    with committed_app.app_context():
        organization = db.session().get(Organization, organization_id)
        assert organization is not None
        organization_name = organization.legal_name
        fees = db.session().scalars(
            select(Invoice.number).where(
                Invoice.organization_id == organization_id, Invoice.source_type == "late_fee"
            )
        )
        numbers = list(fees)
        [email] = db.session().scalars(
            select(OutboxMessage).where(OutboxMessage.template == "late_fees_issued")
        )
        body = email.body_text

    assert [report.late_fee_emails for report in reports] == [1, 0]
    assert [len(report.late_fee_invoices) for report in reports] == [0, 0]
    assert len(numbers) == 2
    assert _named_in_emails(committed_app) == [f"2 late-fee invoices issued to {organization_name}"]
    assert all(number in body for number in numbers)
    # Issued the day before, and said so; paid ones said paid, not asked for again.
    assert "2 late-fee invoices were issued to" in body
    assert body.count("paid: nothing is owed on it.") == 2 - unpaid
    assert body.count("See it, its PDF, and pay:") == unpaid


def _round_52_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    """The code before operations_0004, as its worker still runs between `db upgrade`
    and the reload: it issues late fees knowing nothing of the columns since (its
    `Invoice` has none of them: each is left to its default, NULL), and names them by
    its audit event, leaving no `late_fee_emails` row."""
    charge = overdue.create_invoice

    def as_round_52(*args: Any, **kwargs: Any) -> Invoice:
        kwargs.pop("late_fee_through_month", None)
        return charge(*args, **kwargs)

    def named_by_audit_event(session: Session, organization_id: int, today: Any) -> bool:
        these = (Invoice.organization_id == organization_id, Invoice.source_type == "late_fee")
        count, through = session.execute(
            select(func.count(), func.max(Invoice.id)).where(*these)
        ).one()
        overdue._email_late_fees(session, organization_id, these, count, today=today)
        overdue.audit.record_event(
            session,
            overdue.LATE_FEES_NAMED,
            organization_id,
            after={"day": today, "named": count, "through_invoice_id": through},
            actor=overdue.Actor.SYSTEM,
        )
        return True

    monkeypatch.setattr(overdue, "create_invoice", as_round_52)
    monkeypatch.setattr(overdue, "_name_late_fees", named_by_audit_event)
    # Nor did it look for fees left unnamed (round 54).
    monkeypatch.setattr(overdue, "_name_unchased", lambda *_args: False)


def test_the_old_worker_after_db_upgrade_is_refused_its_late_fees_so_none_is_emailed_twice(
    committed_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Round 53 left it: after operations_0004 (rows from then on) the old code's
    worker, still running until the reload, issued the day's late fees and emailed them
    (its audit event, no row); the new code then found them after the last row and
    emailed them again, that day (the reload's run) or the next. Now the database
    refuses the old code's late-fee invoice (operations_0005: a late fee says the month
    it charges through), so it issues and emails nothing, and the new code both."""
    organization_id = _owing(committed_app, 3)
    _round_52_worker(monkeypatch)
    with committed_app.app_context():
        try:
            old = _run()
        except IntegrityError:
            old = None  # refused: its transaction undone, fees and email alike
    monkeypatch.undo()
    with committed_app.app_context():
        new = _run()
        later = services.process_overdue(
            standing_days=standing_days(), now=LATE + timedelta(days=1)
        )
        months = db.session().scalars(
            select(Invoice.late_fee_through_month).where(
                Invoice.organization_id == organization_id, Invoice.source_type == "late_fee"
            )
        )
        charged = list(months)

    assert old is None
    assert (len(new.late_fee_invoices), new.late_fee_emails, later.late_fee_emails) == (3, 1, 0)
    assert charged == [1, 1, 1]
    assert len(_named_in_emails(committed_app)) == 1
    assert sorted(_late_fees_by_invoice(committed_app).values()) == [1] * 3
