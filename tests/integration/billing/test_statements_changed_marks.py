"""Round 56 (waiting56): the console home's *Work waiting* counts the statements sent
that now read differently without asking every statement sent whether an entry was
dated into its month after it went. A check reads the entries recorded since the last
one and marks the statements they are late for (`sent_statements.note_late_entries`);
only the marked are read again. It must never miss one: the count is the changed
list's and the one the old reading of every statement sent gives, over every kind of
late entry; a late entry shows at the next load; and the rows of `sent_statements`
the home page reads do not grow with the statements sent.

Round 57 (homeread57): the console home's *Work waiting* reads the statements
changed since sent without writing, in the common case. Round 56's check marked the
statements late entries are late for and moved its moment under the check row's lock
on every load by billing staff: a write on each GET, SQLite's write lock taken for it.
Now the reading counts the marked and those an entry recorded since the check is late
for (`sent_statements.late_unmarked`), and the check writes only when that finds one
not marked, when there was none before, or when its moment is an hour old with an
entry recorded after it; it waits for its lock at most `CHECK_LOCK_WAIT` and is left
to a later load otherwise. A late entry counts at once, with or without the write."""

from __future__ import annotations

import html
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from licensing import db
from licensing.accounts.models import User
from licensing.billing import sent_statements, services
from licensing.billing.models import Invoice, LateEntryCheck, Payment, SentStatement
from licensing.billing.services import monthly_statements
from tests.support import factories
from tests.support.billing import credited, paid_offline, refunded_offline, reversed_offline
from tests.support.factories import DEFAULT_PASSWORD, billing_clerk
from tests.support.monthly_statements import (
    IN_DECEMBER,
    IN_JANUARY,
    JANUARY,
    RUN,
    invoice,
    months_back,
    organization,
    paid,
    sent_row,
)
from tests.support.statements import sent_by

# Ten days after the January statements went: entries dated into January recorded.
LATE = datetime(2027, 2, 10, 15, 0, tzinfo=UTC)
CHANGED_QUEUE = "Statements changed since they were emailed (send again?)"


def _in_january(day: int) -> datetime:
    """15:00 UTC on `day` January 2027 (36, 37: 5, 6 February)."""
    return datetime(2027, 1, 1, 15, tzinfo=UTC) + timedelta(days=day - 1)


def _home_count(client: FlaskClient) -> int:
    """The number the changed statements' row of *Work waiting* gives."""
    home = client.get("/console/").text
    at = home.index(CHANGED_QUEUE)
    row = home[home.rindex("<tr", 0, at) : home.index("</tr>", at)]
    [count] = [
        int(cell.split("</td>")[0])
        for cell in row.split('<td class="num">')[1:]
        if cell.split("</td>")[0].isdigit()
    ][:1]
    return count


def _listed(client: FlaskClient) -> int:
    """The statements the changed list's page shows (one *Send again* each)."""
    page = html.unescape(client.get("/console/billing/statements-changed").text)
    return page.count(">Send again</button>")


def _every_statement_asked() -> tuple[set[int], int]:
    """The old reading, as the changed list made it before round 56: every statement
    sent asked whether it has a late entry, those read again: (their ids, how many now
    read differently)."""
    session = db.session()
    candidates = list(
        session.scalars(sent_statements.sent_query().where(sent_statements._late_entry()))
    )
    changed = [each for each in sent_statements.read_now(session, candidates) if each.changed]
    return {each.id for each in candidates}, len(changed)


def _marked() -> set[int]:
    found = select(SentStatement.id).where(SentStatement.late_entry_at.is_not(None))
    return set(db.session().scalars(found))


def _january_of(organization_id: int) -> SentStatement:
    return (
        db.session()
        .scalars(
            select(SentStatement).where(
                SentStatement.organization_id == organization_id, SentStatement.month == JANUARY
            )
        )
        .one()
    )


def _payment_of(issued: Invoice) -> Payment:
    return db.session().scalars(select(Payment).where(Payment.invoice_id == issued.id)).first()  # type: ignore[return-value]


def _varied_january() -> dict[str, Any]:
    """Seven organizations' January, each sent on 1 February, then one entry each
    recorded on 10 February: a wire received in January (changed), the bank's return
    of a January wire (changed), a credit note (of February: not January's), a wire
    refund dated into January (changed), the bank's return of a January refund
    (changed), a wire received in February (not January's) and a void (not
    January's, though asked again)."""
    made: dict[str, Any] = {}
    late_wire = invoice(organization("Alder Wire Systems").id, "1200.00", IN_JANUARY)
    returned = invoice(organization("Birch Return Labs").id, "1200.00", IN_JANUARY)
    paid(returned, date(2027, 1, 20))
    noted = invoice(organization("Cedar Note Analytics").id, "800.00", IN_JANUARY)
    refunded = invoice(organization("Dogwood Refund Works").id, "1000.00", IN_JANUARY)
    wire = paid_offline(
        refunded.id, "900.00", "W-1", received_on=date(2027, 1, 16), now=_in_january(16)
    )
    first_note = credited(refunded.id, "150.00", "Seats removed", now=_in_january(20))
    reversed_offline(wire.id, "Wire recalled", returned_on=date(2027, 1, 22), now=_in_january(22))
    bounced = invoice(organization("Elm Bounce Health").id, "1000.00", IN_JANUARY)
    bounced_wire = paid_offline(
        bounced.id, "1000.00", "W-2", received_on=date(2027, 1, 16), now=_in_january(16)
    )
    bounced_note = credited(bounced.id, "100.00", "Seats removed", now=_in_january(20))
    bounced_refund = refunded_offline(
        bounced_note.id, "100.00", "RF-0121", sent_on=date(2027, 1, 21), now=_in_january(21)
    ).id
    reversed_offline(
        bounced_wire.id, "Wire recalled", returned_on=date(2027, 1, 22), now=_in_january(22)
    )
    february = invoice(organization("Fir February Data").id, "300.00", IN_JANUARY)
    voided = invoice(organization("Gum Void Partners").id, "75.00", IN_JANUARY)
    services.send_monthly_statements(JANUARY, now=RUN)
    made["before"] = {
        "late wire": late_wire,
        "returned": returned,
        "noted": noted,
        "refunded": refunded,
        "first note": first_note,
        "bounced refund": bounced_refund,
        "february": february,
        "voided": voided,
    }
    return made


def _record_the_late_entries(made: dict[str, Any]) -> None:
    before = made["before"]
    clerk = billing_clerk()
    paid(before["late wire"], date(2027, 1, 25), recorded=LATE)
    with time_machine.travel(LATE, tick=False):
        services.reverse_offline_payment(
            _payment_of(before["returned"]).id,
            reason="Wire recalled by the payer's bank.",
            returned_on=date(2027, 1, 30),
            standing_days=30,
            now=LATE,
            actor=clerk,
        )
        credited(before["noted"].id, "100.00", "Late delivery", now=LATE)
    refunded = before["refunded"]
    paid_offline(refunded.id, "850.00", "W-3", received_on=date(2027, 2, 5), now=_in_january(36))
    credited(refunded.id, "100.00", "Late delivery", now=_in_january(37))
    refunded_offline(
        before["first note"].id, "50.00", "RF-0125", sent_on=date(2027, 1, 25), now=LATE
    )
    services.return_offline_refund(
        before["bounced refund"],
        reason="Beneficiary account closed",
        returned_on=date(2027, 1, 28),
        now=LATE,
        actor=clerk,
    )
    paid(before["february"], date(2027, 2, 3), recorded=LATE)
    with time_machine.travel(LATE, tick=False):
        services.void_invoice(before["voided"].id, reason="issued in error", now=LATE, actor=clerk)


def test_work_waiting_counts_what_the_changed_list_lists_over_every_kind_of_late_entry(
    app: Flask, signed_in: Callable[..., FlaskClient], billing_staff: User
) -> None:
    """Checked once before the entries (so the next check reads only those recorded
    since), the home page's count is the changed list's and the old reading's, and the
    statements marked are exactly those the old reading asked again."""
    made = _varied_january()
    clerk = signed_in(app.test_client(), billing_staff)
    assert _home_count(clerk) == 0
    assert db.session().get(LateEntryCheck, sent_statements.CHECK_ROW) is not None

    _record_the_late_entries(made)

    count = _home_count(clerk)
    asked, changed = _every_statement_asked()
    assert count == _listed(clerk) == changed == 4
    assert _marked() == asked
    # The void is asked again but reads as sent; the February wire and credit note are
    # not January's.
    assert len(asked) == 5


def test_a_first_check_with_no_check_before_marks_what_every_statement_asked_gives(
    app: Flask, signed_in: Callable[..., FlaskClient], billing_staff: User
) -> None:
    """The first load after billing_0026 (no check recorded) asks every statement sent
    once, as the old reading did, and finds what was entered late before the upgrade."""
    made = _varied_january()
    _record_the_late_entries(made)
    assert db.session().get(LateEntryCheck, sent_statements.CHECK_ROW) is None

    clerk = signed_in(app.test_client(), billing_staff)
    asked, changed = _every_statement_asked()
    assert _home_count(clerk) == _listed(clerk) == changed == 4
    assert _marked() == asked


def test_a_late_entry_shows_at_the_next_load_and_again_after_a_re_send(
    app: Flask, signed_in: Callable[..., FlaskClient], billing_staff: User
) -> None:
    """Work waiting read at once, then a wire dated into January recorded: the next
    load counts it. Sent again, the mark is cleared; the bank's return of that wire,
    recorded after the re-send, marks it again."""
    issued = invoice(organization("Quillfeather Analytics").id, "1200.00", IN_JANUARY)
    services.send_monthly_statements(JANUARY, now=RUN)
    sent = _january_of(issued.organization_id)
    clerk = signed_in(app.test_client(), billing_staff)
    assert _home_count(clerk) == 0

    paid(issued, date(2027, 1, 25), recorded=LATE)
    assert _home_count(clerk) == 1

    services.resend_statement(sent.id, actor=billing_clerk(), now=LATE + timedelta(hours=1))
    db.session().refresh(sent)
    assert sent.late_entry_at is None
    assert _home_count(clerk) == _listed(clerk) == 0

    returned_at = LATE + timedelta(days=1)
    with time_machine.travel(returned_at, tick=False):
        services.reverse_offline_payment(
            _payment_of(issued).id,
            reason="Wire recalled by the payer's bank.",
            returned_on=date(2027, 1, 30),
            standing_days=30,
            now=returned_at,
            actor=billing_clerk(),
        )
    assert _home_count(clerk) == _listed(clerk) == 1


def test_a_check_whose_clock_was_set_back_more_than_a_day_asks_every_statement_again(
    app: Flask, signed_in: Callable[..., FlaskClient], billing_staff: User
) -> None:
    """On 1 September the last check says it looked on 1 January 2028 (a clock that
    ran ahead, since put right); a wire dated into January, stamped 10 February by the
    clock put right, is months before that check less its day of overlap: the check
    reads the clock as set back and asks every statement sent, and counts it."""
    issued = invoice(organization("Quillfeather Analytics").id, "1200.00", IN_JANUARY)
    services.send_monthly_statements(JANUARY, now=RUN)
    with time_machine.travel(datetime(2027, 9, 1, 15, 0, tzinfo=UTC), tick=False):
        clerk = signed_in(app.test_client(), billing_staff)
        assert _home_count(clerk) == 0
        check = db.session().get(LateEntryCheck, sent_statements.CHECK_ROW)
        assert check is not None
        check.checked_at = datetime(2028, 1, 1, tzinfo=UTC)
        db.session().commit()
        paid(issued, date(2027, 1, 25), recorded=LATE)
        assert _home_count(clerk) == _listed(clerk) == 1


@contextmanager
def _sent_statement_rows_read() -> Iterator[list[int]]:
    """How much of `sent_statements` the database read while inside: on PostgreSQL the
    rows this transaction fetched from it (`pg_stat_xact_user_tables`, sequential and
    by index); on SQLite, which keeps no such count, the virtual machine's steps of
    every statement, the home page's other queues being the same."""
    connection = db.session().connection()
    found: list[int] = []
    if db.database().dialect == "postgresql":
        query = text(
            "SELECT coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0) "
            "FROM pg_stat_xact_user_tables WHERE relname = 'sent_statements'"
        )
        # As the tables would be read at the size that matters: a few pages of rows
        # are read whole whatever the indexes, which says nothing of how it grows.
        connection.execute(text("SET LOCAL enable_seqscan = off"))
        before = connection.execute(query).scalar_one()
        try:
            yield found
        finally:
            connection.execute(text("SET LOCAL enable_seqscan = on"))
        found.append(connection.execute(query).scalar_one() - before)
        return
    raw = connection.connection.driver_connection
    steps = [0]

    def step() -> int:
        steps[0] += 1
        return 0

    raw.set_progress_handler(step, 1)  # type: ignore[union-attr]
    try:
        yield found
    finally:
        raw.set_progress_handler(None, 0)  # type: ignore[union-attr]
    found.append(steps[0])


def test_the_rows_of_statements_sent_the_home_page_reads_do_not_grow_with_them(
    app: Flask, signed_in: Callable[..., FlaskClient], billing_staff: User
) -> None:
    """One organization's statement changed by a late wire; the home page read once
    (the first check), then measured with 12 statements sent and with 12 times as
    many: the old reading asked every one of them."""
    issued = invoice(organization("Quillfeather Analytics").id, "500.00", IN_DECEMBER)
    for month in months_back(date(2027, 4, 1), 5):
        sent_row(issued.organization_id, month, closing="500.00", sent_at=RUN + timedelta(days=95))
    paid(issued, date(2026, 12, 20), recorded=datetime(2027, 6, 10, 15, 0, tzinfo=UTC))
    others = [organization(f"Ledger Test {index}").id for index in range(11)]
    for organization_id in others[:7]:
        sent_row(organization_id, date(2027, 1, 1))
    clerk = signed_in(app.test_client(), billing_staff)
    assert _home_count(clerk) == 5

    with _sent_statement_rows_read() as few:
        assert _home_count(clerk) == 5
    for organization_id in others:
        for month in months_back(date(2026, 12, 1), 12):
            sent_row(organization_id, month)
    assert db.session().scalar(select(func.count()).select_from(SentStatement)) == 144
    _home_count(clerk)  # the new statements' first check, as after any send

    with _sent_statement_rows_read() as many:
        assert _home_count(clerk) == 5
    assert many == few
    assert _listed(clerk) == 5


# --- round 57 (homeread57): the reading writes only when a check is worth it ---

WRITES = ("INSERT", "UPDATE", "DELETE")


def _writes(statements: list[str]) -> list[str]:
    """The statements that write, lock a row, take SQLite's write lock or change a
    setting of the transaction."""
    return [
        each
        for each in statements
        if each.lstrip().upper().startswith(WRITES)
        or "FOR UPDATE" in each.upper()
        or "BEGIN IMMEDIATE" in each.upper()
        or "set_config" in each
    ]


def _late_wire_after_a_first_load(client: FlaskClient) -> SentStatement:
    """A January statement sent, the home page read once (the first check), then a
    wire dated into January recorded ten days after the statement went."""
    issued = invoice(organization("Quillfeather Analytics").id, "1200.00", IN_JANUARY)
    services.send_monthly_statements(JANUARY, now=RUN)
    assert _home_count(client) == 0
    paid(issued, date(2027, 1, 25), recorded=LATE)
    return (
        db.session()
        .scalars(
            select(SentStatement).where(SentStatement.organization_id == issued.organization_id)
        )
        .one()
    )


def test_the_home_counts_every_kind_of_late_entry_at_once_when_its_check_cannot_write(
    app: Flask,
    signed_in: Callable[..., FlaskClient],
    billing_staff: User,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The check written once before the entries, then never again (as when another
    connection holds its lock on every load): the home page's count is still the
    changed list's and the old reading's of every statement sent, over a late payment,
    a bank return, a credit note, a refund sent, a refund returned, a payment of the
    next month and a void, and nothing is marked."""
    made = _varied_january()
    clerk = signed_in(app.test_client(), billing_staff)
    assert _home_count(clerk) == 0
    monkeypatch.setattr(monthly_statements, "_checked", lambda now: False)

    _record_the_late_entries(made)

    asked, changed = _every_statement_asked()
    assert _home_count(clerk) == _listed(clerk) == changed == 4
    assert len(asked) == 5
    marked = select(SentStatement.id).where(SentStatement.late_entry_at.is_not(None))
    assert list(db.session().scalars(marked)) == []


@contextmanager
def _at(moment: datetime) -> Iterator[None]:
    with time_machine.travel(moment, tick=False):
        yield


def test_repeated_loads_with_nothing_new_send_no_write(
    app: Flask, signed_in: Callable[..., FlaskClient], billing_staff: User
) -> None:
    """The load after a late entry marks it (one write); the loads after send no
    write, nor does one after a payment late for no statement sent. An hour after the
    check, with that payment recorded since, one load moves the check's moment and the
    next writes nothing again; nor does one hours later with nothing recorded since."""
    with _at(LATE - timedelta(hours=1)):
        clerk = signed_in(app.test_client(), billing_staff)
        sent = _late_wire_after_a_first_load(clerk)
    with _at(LATE + timedelta(minutes=10)), sent_by(app) as marking:
        assert _home_count(clerk) == 1
    assert _writes(marking)
    db.session().refresh(sent)
    assert sent.late_entry_at is not None

    with _at(LATE + timedelta(minutes=20)), sent_by(app) as again:
        assert _home_count(clerk) == 1
        assert _home_count(clerk) == 1
    assert _writes(again) == []

    with _at(LATE + timedelta(minutes=25)):
        february = invoice(organization("Marigold Systems").id, "300.00", LATE)
        paid(february, date(2027, 2, 10), recorded=LATE + timedelta(minutes=30))
    with _at(LATE + timedelta(minutes=35)), sent_by(app) as after_a_payment:
        assert _home_count(clerk) == 1
    assert _writes(after_a_payment) == []

    moved_at = LATE + timedelta(hours=2)
    with _at(moved_at), sent_by(app) as moving:
        assert _home_count(clerk) == 1
    assert _writes(moving)
    with _at(moved_at + timedelta(minutes=1)), sent_by(app) as moved:
        assert _home_count(clerk) == 1
    assert _writes(moved) == []
    with _at(moved_at + timedelta(hours=5)), sent_by(app) as quiet:
        assert _home_count(clerk) == 1
    assert _writes(quiet) == []
    db.session().expire_all()
    check = db.session().get(LateEntryCheck, sent_statements.CHECK_ROW)
    assert check is not None
    assert check.checked_at == moved_at


def _sign_in(client: FlaskClient, user: User) -> FlaskClient:
    response = client.post("/sign-in", data={"email": user.email, "password": DEFAULT_PASSWORD})
    assert response.status_code == 302
    return client


@contextmanager
def _lock_held_by_another_connection(url: str) -> Iterator[None]:
    """Another connection holds what the check would need: on SQLite the write lock (a
    write transaction begun and left open), on PostgreSQL the check row's lock."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        other = sqlite3.connect(str(parsed.database), isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            yield
            other.execute("ROLLBACK")
        finally:
            other.close()
        return
    engine = create_engine(parsed.set(drivername="postgresql+psycopg"))
    try:
        with engine.connect() as connection:
            locked = connection.execute(
                text("SELECT id FROM late_entry_checks WHERE id = :row FOR UPDATE"),
                {"row": sent_statements.CHECK_ROW},
            )
            assert locked.scalar_one() == sent_statements.CHECK_ROW
            yield
            connection.rollback()
    finally:
        engine.dispose()


def test_a_load_while_another_connection_holds_the_lock_counts_without_waiting_for_it(
    committed_app: Flask,
) -> None:
    """A late wire to mark while another connection holds SQLite's write lock (on
    PostgreSQL, the check row's lock): the home page answers, counting it, having
    asked for the lock with the check's short wait only, and marks nothing; once the
    lock is let go, the next load marks it."""
    with committed_app.app_context():
        clerk = _sign_in(
            committed_app.test_client(),
            factories.make_staff(db.session(), roles=("billing",)),
        )
        sent = _late_wire_after_a_first_load(clerk)
        db.session().rollback()
        url = committed_app.config["LICENSING"].database_url
        with _lock_held_by_another_connection(url), sent_by(committed_app) as statements:
            assert _home_count(clerk) == 1
        brief = int(monthly_statements.CHECK_LOCK_WAIT / timedelta(milliseconds=1))
        if db.database().dialect == "sqlite":
            tries = [at for at, each in enumerate(statements) if each == "BEGIN IMMEDIATE"]
            assert tries
            assert all(statements[at - 1] == f"PRAGMA busy_timeout = {brief}" for at in tries)
        else:  # the check row's lock asked for with PostgreSQL's lock_timeout set short
            bounded = [at for at, each in enumerate(statements) if "set_config" in each]
            locking = [at for at, each in enumerate(statements) if "FOR UPDATE" in each]
            assert bounded
            assert locking
            assert min(bounded) < min(locking)
        db.session().rollback()
        assert db.session().get(SentStatement, sent.id).late_entry_at is None  # type: ignore[union-attr]

        assert _home_count(clerk) == 1
        db.session().rollback()
        assert db.session().get(SentStatement, sent.id).late_entry_at is not None  # type: ignore[union-attr]
