"""The audit log: appended in the change's transaction, hash-chained, verified,
filtered and exported, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import itertools
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event as sqlalchemy_event
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from licensing import db
from licensing.accounts.models import ApiToken, User
from licensing.actors import Actor
from licensing.audit import services as audit
from licensing.audit.models import GENESIS_HASH, AuditEvent
from licensing.errors import InvalidInput
from tests.support.factories import bearer
from tests.support.statements import sent_by


def _append(count: int, entity_id: int = 1) -> list[AuditEvent]:
    events = []
    for number in range(count):
        with db.transaction() as session:
            events.append(
                audit.record(
                    session,
                    action="widget.changed",
                    entity_type="widget",
                    entity_id=entity_id,
                    before={"size": number},
                    after={"size": number + 1},
                )
            )
    return events


def _all() -> list[AuditEvent]:
    return list(
        db.session().scalars(
            select(AuditEvent).order_by(AuditEvent.seq).execution_options(populate_existing=True)
        )
    )


def _cli(app: Flask, *args: str) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(args=list(args))
    return result.exit_code, result.output


def test_events_form_a_chain_each_linked_to_the_one_before(app: Flask) -> None:
    _append(3)
    events = _all()
    assert [event.seq for event in events] == [1, 2, 3]
    assert events[0].prev_hash == GENESIS_HASH
    for earlier, later in itertools.pairwise(events):
        assert later.prev_hash == earlier.hash
    assert all(audit.event_hash(event) == event.hash for event in events)


def test_values_are_stored_as_canonical_json_with_exact_decimals_and_utc_times(
    app: Flask,
) -> None:
    moment = datetime(2027, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
    with db.transaction() as session:
        event = audit.record(
            session,
            action="invoice.finalized",
            entity_type="invoice",
            entity_id="INV-2027-000001",
            before=None,
            after={"total": Decimal("33800.10"), "when": moment, "roles": {"b", "a"}},
        )
    assert event.after == (
        '{"roles":["a","b"],"total":"33800.10","when":"2027-01-02T03:04:05.000006+00:00"}'
    )
    assert event.after_data["total"] == "33800.10"


def test_outside_a_request_the_actor_is_the_system(app: Flask) -> None:
    event = _append(1)[0]
    assert (event.actor, event.actor_user_id, event.request_id, event.client_ip) == (
        "system",
        None,
        None,
        None,
    )


def _record_then_fail() -> None:
    with db.transaction() as session:
        audit.record(
            session, action="x.y", entity_type="x", entity_id=1, before=None, after={"a": 1}
        )
        raise InvalidInput("the change failed")


def test_an_event_rolls_back_with_the_change_it_records(app: Flask) -> None:
    with pytest.raises(InvalidInput):
        _record_then_fail()
    assert _all() == []
    assert audit.verify_chain(db.session()).ok


def _widget(session: Any, entity_id: int) -> AuditEvent:
    return audit.record(
        session,
        action="widget.changed",
        entity_type="widget",
        entity_id=entity_id,
        before=None,
        after={"id": entity_id},
    )


def test_an_event_is_chained_when_its_transaction_commits(app: Flask) -> None:
    """Round 58: `record` takes no lock; the commit chains the event under the head."""
    with db.transaction() as session:
        event = _widget(session, 1)
        assert (event.id, event.seq, event.hash) == (None, None, None)
    assert event.seq == 1
    assert event.prev_hash == GENESIS_HASH
    assert [each.seq for each in _all()] == [1]


def _failed_in_a_savepoint(session: Any) -> None:
    with session.begin_nested():
        _widget(session, 2)
        raise InvalidInput("the savepoint's change failed")


def test_an_event_recorded_in_a_savepoint_rolled_back_goes_with_it(app: Flask) -> None:
    with db.transaction() as session:
        _widget(session, 1)
        with pytest.raises(InvalidInput):
            _failed_in_a_savepoint(session)
        _widget(session, 3)
    assert [(each.seq, each.entity_id) for each in _all()] == [(1, "1"), (2, "3")]
    assert audit.verify_chain(db.session()).ok


def test_a_step_reading_the_log_after_an_event_reads_it_numbered(app: Flask) -> None:
    """A read of the audit log in the transaction chains what it recorded first, as
    autoflush writes a step's changes before a query."""
    with db.transaction() as session:
        recorded = _widget(session, 7)
        found = session.scalars(select(AuditEvent).where(AuditEvent.entity_id == "7")).one()
        assert found is recorded
        assert found.seq == 1
        _widget(session, 8)
    assert [(each.seq, each.entity_id) for each in _all()] == [(1, "7"), (2, "8")]
    assert audit.verify_chain(db.session()).ok


def test_an_intact_log_verifies(app: Flask) -> None:
    _append(4)
    report = audit.verify_chain(db.session())
    assert report.ok
    assert (report.events, report.head_seq) == (4, 4)
    code, output = _cli(app, "audit", "verify")
    assert code == 0
    assert "intact: 4 events" in output


def test_a_row_edited_in_the_database_is_detected(app: Flask) -> None:
    _append(3)
    db.session().execute(
        text("UPDATE audit_events SET after = :value WHERE seq = 2"), {"value": '{"size":99}'}
    )
    report = audit.verify_chain(db.session())
    assert report.problems == ["seq 2: contents do not match the stored hash (row edited)"]
    code, output = _cli(app, "audit", "verify")
    assert code == 1
    assert "seq 2: contents do not match the stored hash (row edited)" in output


def test_an_edit_that_also_rewrites_the_hash_breaks_the_next_link(app: Flask) -> None:
    _append(3)
    session = db.session()
    session.execute(text("UPDATE audit_events SET actor = 'someone-else' WHERE seq = 2"))
    forged = _all()[1]
    session.execute(
        text("UPDATE audit_events SET hash = :hash WHERE seq = 2"),
        {"hash": audit.event_hash(forged)},
    )
    problems = audit.verify_chain(session).problems
    assert any(problem.startswith("seq 3: does not link") for problem in problems)


def test_a_deleted_row_is_detected(app: Flask) -> None:
    _append(4)
    db.session().execute(text("DELETE FROM audit_events WHERE seq = 2"))
    problems = audit.verify_chain(db.session()).problems
    assert "seq 3: seq 2 missing (rows deleted)" in problems
    code, output = _cli(app, "audit", "verify")
    assert code == 1
    assert "rows deleted" in output


def test_rows_deleted_from_the_end_are_detected(app: Flask) -> None:
    _append(4)
    db.session().execute(text("DELETE FROM audit_events WHERE seq >= 3"))
    problems = audit.verify_chain(db.session()).problems
    assert problems == [
        "the chain head records seq 4 but the last event is seq 2 "
        "(rows deleted from the end, or the head edited)"
    ]


def test_reordered_rows_are_detected(app: Flask) -> None:
    _append(3)
    session = db.session()
    session.execute(text("UPDATE audit_events SET seq = 100 WHERE seq = 1"))
    session.execute(text("UPDATE audit_events SET seq = 1 WHERE seq = 2"))
    session.execute(text("UPDATE audit_events SET seq = 2 WHERE seq = 100"))
    problems = audit.verify_chain(session).problems
    assert "seq 1: contents do not match the stored hash (row edited)" in problems
    assert "seq 2: contents do not match the stored hash (row edited)" in problems


def _rewrite_chain_without_the_key(session: Any, keyed: bool) -> None:
    """What someone with database access but no audit key can do: edit a row,
    then recompute every hash, link and the head (plain SHA-256, or an HMAC
    under a key they guessed)."""
    import hashlib
    import hmac

    session.execute(text("UPDATE audit_events SET actor = 'someone-else' WHERE seq = 2"))
    previous = GENESIS_HASH
    for event in _all():
        event_payload = {
            "seq": event.seq,
            "occurred_at": audit._json_default(event.occurred_at),
            "actor": event.actor,
            "actor_user_id": event.actor_user_id,
            "action": event.action,
            "entity_type": event.entity_type,
            "entity_id": event.entity_id,
            "before": event.before,
            "after": event.after,
            "note": event.note,
            "request_id": event.request_id,
            "client_ip": event.client_ip,
            "prev_hash": previous,
        }
        if keyed:
            event_payload["key_id"] = event.key_id
            digest = hmac.new(
                b"a guessed key", audit.canonical_json(event_payload).encode(), hashlib.sha256
            ).hexdigest()
        else:
            digest = hashlib.sha256(audit.canonical_json(event_payload).encode()).hexdigest()
        session.execute(
            text(
                "UPDATE audit_events SET prev_hash = :prev, hash = :hash, key_id = :key "
                "WHERE seq = :seq"
            ),
            {
                "prev": previous,
                "hash": digest,
                "seq": event.seq,
                "key": event.key_id if keyed else None,
            },
        )
        previous = digest
    session.execute(text("UPDATE audit_chain_head SET hash = :hash"), {"hash": previous})


@pytest.mark.parametrize("keyed", [True, False], ids=["guessed-key", "plain-sha256"])
def test_a_chain_recomputed_without_the_audit_key_is_detected(app: Flask, keyed: bool) -> None:
    _append(3)
    _rewrite_chain_without_the_key(db.session(), keyed)
    problems = audit.verify_chain(db.session()).problems
    assert problems
    assert all(problem.startswith("seq ") for problem in problems)
    code, output = _cli(app, "audit", "verify")
    assert code == 1
    assert "seq 1:" in output


def test_every_row_names_the_key_that_signed_it(app: Flask) -> None:
    from licensing.audit.keys import key_id
    from tests.conftest import TEST_AUDIT_KEY

    _append(2)
    assert {event.key_id for event in _all()} == {key_id(TEST_AUDIT_KEY)}


def test_after_a_key_rotation_old_rows_verify_with_the_retired_key(app: Flask) -> None:
    import dataclasses

    _append(2)
    config = app.config["LICENSING"]
    app.config["LICENSING"] = dataclasses.replace(
        config, audit_hmac_key="the-new-key", audit_hmac_retired_keys=(config.audit_hmac_key,)
    )
    try:
        _append(2)
        assert len({event.key_id for event in _all()}) == 2
        assert audit.verify_chain(db.session()).ok
        app.config["LICENSING"] = dataclasses.replace(
            app.config["LICENSING"], audit_hmac_retired_keys=()
        )
        problems = audit.verify_chain(db.session()).problems
        assert [problem.split(":")[0] for problem in problems] == ["seq 1", "seq 2"]
        assert "not configured" in problems[0]
    finally:
        app.config["LICENSING"] = config


def test_rows_from_before_keying_verify_only_up_to_the_bound_the_operator_gives(
    app: Flask,
) -> None:
    _append(1)
    session = db.session()
    # The first row as a database from before keying holds it: no key, plain SHA-256.
    first = _all()[0]
    first.key_id = None
    legacy_hash = audit.event_hash(first)
    session.expunge_all()
    session.execute(
        text("UPDATE audit_events SET key_id = NULL, hash = :hash WHERE seq = 1"),
        {"hash": legacy_hash},
    )
    session.execute(text("UPDATE audit_chain_head SET hash = :hash"), {"hash": legacy_hash})
    problems = audit.verify_chain(session).problems
    assert problems == [
        "seq 1: not signed with an audit key (row forged, or written before the chain was "
        "keyed: see --accept-unkeyed-until)"
    ]
    report = audit.verify_chain(session, unkeyed_until=1)
    assert report.ok
    assert report.unkeyed == 1
    code, output = _cli(app, "audit", "verify", "--accept-unkeyed-until", "1")
    assert code == 0, output
    assert "1 from before the chain was keyed" in output


def test_concurrent_writers_cannot_fork_the_chain(committed_app: Flask) -> None:
    writers, per_writer = 6, 5
    failures: list[BaseException] = []
    start = threading.Barrier(writers)

    def write(number: int) -> None:
        try:
            with committed_app.app_context():
                start.wait()
                for step in range(per_writer):
                    with db.transaction() as session:
                        audit.record(
                            session,
                            action="widget.changed",
                            entity_type="widget",
                            entity_id=number,
                            before=None,
                            after={"step": step},
                        )
        except BaseException as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failures == []
    with committed_app.app_context():
        report = audit.verify_chain(db.session())
        assert report.ok, report.problems
        assert report.events == writers * per_writer


# --- pages and API ---------------------------------------------------------------------


@pytest.fixture
def history(app: Flask, vendor: User) -> list[AuditEvent]:
    """A few events of different kinds, actors and days."""
    _append(2, entity_id=7)
    with (
        time_machine.travel(datetime(2026, 3, 15, 12, 0, tzinfo=UTC), tick=False),
        db.transaction() as session,
    ):
        audit.record(
            session,
            action="invoice.voided",
            entity_type="invoice",
            entity_id=42,
            before={"state": "open"},
            after={"state": "void"},
            note='=HYPERLINK("http://evil.example")',
            actor="billing@licensing-office.example",
        )
    return _all()


def test_the_audit_page_filters_by_record_actor_action_and_dates(
    app: Flask, admin: User, history: list[AuditEvent], signed_in: Callable[..., FlaskClient]
) -> None:
    client = signed_in(app.test_client(), admin)

    def rows(**query: str) -> str:
        response = client.get("/console/audit", query_string=query)
        assert response.status_code == 200
        page = response.get_data(as_text=True)
        return page[page.index("<tbody>") : page.index("</tbody>")]

    assert "invoice.voided" in rows(entity_type="invoice")
    assert "widget.changed" not in rows(entity_type="invoice", entity_id="42")
    assert "invoice.voided" in rows(actor="billing@")
    assert "invoice.voided" not in rows(action="widget.changed")
    assert "invoice.voided" in rows(since="2026-03-15", until="2026-03-15")
    assert "invoice.voided" not in rows(since="2026-03-16")
    bad = client.get("/console/audit", query_string={"since": "yesterday"})
    assert bad.status_code == 422
    assert "is not a date" in bad.get_data(as_text=True)


def test_an_unreadable_date_lists_no_event_and_says_why(
    app: Flask, admin: User, history: list[AuditEvent], signed_in: Callable[..., FlaskClient]
) -> None:
    # The message stood above every event, unfiltered, as if the date had been read.
    client = signed_in(app.test_client(), admin)
    response = client.get("/console/audit", query_string={"since": "2026-13-01"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    rows = page[page.index("<tbody>") : page.index("</tbody>")]
    assert "is not a date such as 2026-01-31." in page
    assert "Nothing is listed until the filters above are corrected." in rows
    assert "invoice.voided" not in rows
    assert "widget.changed" not in rows
    assert "0 events." in page


def test_the_audit_csv_export_has_every_matching_row_and_no_formulas(
    app: Flask, admin: User, history: list[AuditEvent], signed_in: Callable[..., FlaskClient]
) -> None:
    client = signed_in(app.test_client(), admin)
    response = client.get("/console/audit.csv", query_string={"entity_type": "invoice"})
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [row["action"] for row in rows] == ["invoice.voided"]
    assert rows[0]["note"].startswith("'=HYPERLINK")
    everything = client.get("/console/audit.csv").get_data(as_text=True)
    assert len(list(csv.DictReader(io.StringIO(everything)))) == len(history)


def test_only_admins_read_the_audit_log(
    app: Flask, licensing_staff: User, signed_in: Callable[..., FlaskClient]
) -> None:
    client = signed_in(app.test_client(), licensing_staff)
    assert client.get("/console/audit").status_code == 403
    assert client.get("/console/audit.csv").status_code == 403
    assert client.get("/api/v1/audit-events", headers=bearer(licensing_staff)).status_code == 403


def test_admins_read_and_verify_the_log_through_the_api(
    client: FlaskClient, admin: User, history: list[AuditEvent]
) -> None:
    headers = bearer(admin)
    page = client.get(
        "/api/v1/audit-events",
        query_string={"entity_type": "widget", "per_page": 1},
        headers=headers,
    ).get_json()
    assert page["total"] == 2
    assert len(page["items"]) == 1
    assert page["items"][0]["after"] == {"size": 2}
    bad = client.get("/api/v1/audit-events", query_string={"since": "soon"}, headers=headers)
    assert bad.status_code == 422
    assert "query.since" in bad.get_json()["errors"]
    verification = client.get("/api/v1/audit-events/verification", headers=headers).get_json()
    assert verification["ok"] is True
    db.session().execute(text("DELETE FROM audit_events WHERE seq = 1"))
    broken = client.get("/api/v1/audit-events/verification", headers=headers).get_json()
    assert broken["ok"] is False


def test_events_in_a_request_name_the_actor_request_and_address(
    client: FlaskClient, vendor: User
) -> None:
    headers = bearer(vendor)
    token = db.session().scalars(select(ApiToken).where(ApiToken.user_id == vendor.id)).one()
    response = client.delete(
        f"/api/v1/tokens/{token.id}",
        headers={**headers, "X-Request-Id": "req-0123456789"},
        environ_base={"REMOTE_ADDR": "192.0.2.44"},
    )
    assert response.status_code == 204
    event = _all()[-1]
    assert event.action == "api_token.revoked"
    assert (event.actor, event.actor_user_id) == (vendor.email, vendor.id)
    assert (event.request_id, event.client_ip) == ("req-0123456789", "192.0.2.44")
    assert event.occurred_at > datetime.now(UTC) - timedelta(minutes=1)


@pytest.mark.parametrize("entity_id", ["\u00b2", "\u0664\u0662"])
def test_a_record_id_in_digits_other_than_ascii_is_explained_as_not_a_record_number(
    app: Flask,
    admin: User,
    history: list[AuditEvent],
    signed_in: Callable[..., FlaskClient],
    entity_id: str,
) -> None:
    # "²" and Arabic-Indic "٤٢" are digits to str.isdigit(): the page took them for a
    # record's number and left out how to name a record.
    client = signed_in(app.test_client(), admin)
    response = client.get("/console/audit", query_string={"entity_id": entity_id})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Record id is the record&#39;s number, or a reference" in page


def test_a_record_with_no_reference_of_its_own_reads_by_its_type_s_name(
    app: Flask, admin: User, signed_in: Callable[..., FlaskClient]
) -> None:
    # The Record column read "outbox message 12" and "payment reversal 3" where a
    # record has no number of its own, and the filter's choices read alike.
    with db.transaction() as session:
        for entity_type, entity_id in (("outbox_message", 12), ("payment_reversal", 3)):
            audit.record(
                session,
                action=f"{entity_type}.noted",
                entity_type=entity_type,
                entity_id=entity_id,
                before=None,
                after={"noted": True},
            )
    client = signed_in(app.test_client(), admin)
    page = client.get("/console/audit").get_data(as_text=True)
    table = page[page.index("<tbody>") : page.index("</tbody>")]
    assert "Outbox message 12" in table
    assert "Payment reversal 3" in table
    assert "outbox message 12" not in table
    assert '<option value="outbox_message">Outbox message</option>' in page
    assert '<option value="payment_reversal">Payment reversal</option>' in page


def test_a_bulk_step_writes_each_event_chained_and_verifiable_without_building_one_object_each(
    app: Flask,
) -> None:
    """Round 51: a 5,000-invoice reminder spent most of its time making an
    `AuditEvent` of each event before inserting them together; its rows are now
    hashed and inserted as rows, one event each and the chain as before."""
    _append(1)
    built: list[AuditEvent] = []
    listener = lambda target, _args, _kwargs: built.append(target)  # noqa: E731
    sqlalchemy_event.listen(AuditEvent, "init", listener)
    try:
        with db.transaction() as session:
            audit.record_events(
                session, "widget.reminded", [3, 1, 2], after={"count": 1}, actor=Actor.SYSTEM
            )
    finally:
        sqlalchemy_event.remove(AuditEvent, "init", listener)
    _append(1)

    events = _all()
    assert [(event.action, event.entity_id, event.seq) for event in events[1:4]] == [
        ("widget.reminded", "3", 2),
        ("widget.reminded", "1", 3),
        ("widget.reminded", "2", 4),
    ]
    assert all(event.after == '{"count":1}' for event in events[1:4])
    for earlier, later in itertools.pairwise(events):
        assert later.prev_hash == earlier.hash
    assert all(audit.event_hash(event) == event.hash for event in events)
    assert audit.verify_chain(db.session()).ok
    assert built == []


def test_a_bulk_step_logs_one_line_naming_its_action_count_first_and_last_record_and_events(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    """Round 52: a bulk step logged a line an event (5,000 lines, most of the step's
    remaining time); now one line says what the events are, and the audit log keeps
    each of them, chained and verifiable. A single event keeps its own line."""
    _append(1)
    with (
        caplog.at_level(logging.INFO, logger="licensing.audit.services"),
        db.transaction() as session,
    ):
        audit.record_events(
            session, "widget.reminded", [3, 1, 2], after={"count": 1}, actor=Actor.SYSTEM
        )
        audit.record_events(session, "widget.reminded", [7], after={}, actor=Actor.SYSTEM)

    lines = [record.getMessage() for record in caplog.records]
    assert [line for line in lines if "widget.reminded" in line] == [
        "audit: widget.reminded on 3 widget records, widget 3 to widget 2 (events 2 to 4)",
        "audit: widget.reminded on widget 7 (event 5)",
    ]
    events = _all()
    assert [(event.entity_id, event.seq) for event in events[1:]] == [
        ("3", 2),
        ("1", 3),
        ("2", 4),
        ("7", 5),
    ]
    assert audit.verify_chain(db.session()).ok


def _bulk(entity_ids: list[int]) -> None:
    """One bulk step's events (`record_each`, as the overdue reminder writes them),
    between two events written one at a time."""
    _append(1)
    with db.transaction() as session:
        audit.record_events(
            session, "widget.reminded", entity_ids, after={"count": 1}, actor=Actor.SYSTEM
        )
    _append(1)


@pytest.mark.parametrize(
    ("tampering", "problem"),
    [
        (
            "UPDATE audit_events SET entity_id = '9' WHERE seq = 3",
            "seq 3: contents do not match the stored hash (row edited)",
        ),
        ("DELETE FROM audit_events WHERE seq = 3", "seq 4: seq 3 missing (rows deleted)"),
        (
            # Two rows of the one step swap places: the same fields but their records.
            "UPDATE audit_events SET seq = 100 WHERE seq = 2; "
            "UPDATE audit_events SET seq = 2 WHERE seq = 3; "
            "UPDATE audit_events SET seq = 3 WHERE seq = 100",
            "seq 2: contents do not match the stored hash (row edited)",
        ),
    ],
    ids=["edited", "deleted", "reordered"],
)
def test_a_bulk_steps_rows_edited_deleted_or_reordered_fail_verification(
    app: Flask, tampering: str, problem: str
) -> None:
    """Round 52: a bulk step's events share their moment, actor, action and JSON, and
    differ in their record and place alone; each is still hashed with its place and
    linked to the one before, so `audit verify` names any of them edited, deleted or
    swapped with its neighbour."""
    _bulk([3, 1, 2])
    assert audit.verify_chain(db.session()).ok
    for statement in tampering.split("; "):
        db.session().execute(text(statement))
    problems = audit.verify_chain(db.session()).problems
    assert problem in problems
    code, output = _cli(app, "audit", "verify")
    assert code == 1
    assert problem in output


class _SerializationFailure(Exception):
    sqlstate = "40001"


def test_an_event_is_logged_once_its_transaction_commits_not_for_a_commit_that_failed(
    app: Flask, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Round 59 (retrycheck59): the INFO line was written as the event was chained, in
    the commit, before the commit itself; a commit that then failed logged an event the
    log never kept (under a seq another transaction took), and the step run again after
    it (`db.retrying`) logged it a second time."""
    monkeypatch.setattr(db.time, "sleep", lambda _seconds: None)
    tries: list[int] = []

    def fails_after_chaining(_session: Any) -> None:
        if len(tries) == 1:
            raise OperationalError("COMMIT", {}, _SerializationFailure())

    def step() -> None:
        tries.append(1)
        with db.transaction() as session:
            audit.record(
                session,
                action="widget.retried",
                entity_type="widget",
                entity_id=9,
                before={},
                after={},
            )

    # Registered after the audit's own hook, so it runs once the events are chained.
    sqlalchemy_event.listen(Session, "before_commit", fails_after_chaining)
    try:
        with caplog.at_level(logging.INFO, logger="licensing.audit.services"):
            db.retrying(step)
    finally:
        sqlalchemy_event.remove(Session, "before_commit", fails_after_chaining)

    assert len(tries) == 2
    lines = [record.getMessage() for record in caplog.records]
    assert [line for line in lines if "widget.retried" in line] == [
        "audit: widget.retried on widget 9 (event 1)"
    ]
    assert [event.action for event in _all()] == ["widget.retried"]


def test_a_commit_moves_the_head_in_one_statement_and_inserts_its_events_in_one(
    app: Flask,
) -> None:
    """Round 67 (suiteSvc67): the head is locked and moved by one UPDATE when it is where
    this process last left it, and a commit's events go in one INSERT; the chain is
    the one verify reads, and each `record()` event has its row's id."""
    _append(1)  # the head where this process left it
    with sent_by(app) as statements, db.transaction() as session:
        recorded = [
            audit.record(
                session,
                action="widget.changed",
                entity_type="widget",
                entity_id=number,
                before=None,
                after={"size": number},
            )
            for number in range(3)
        ]
    assert len([sql for sql in statements if "audit_chain_head" in sql]) == 1, statements
    assert len([sql for sql in statements if sql.startswith("INSERT INTO audit_events")]) == 1
    stored = _all()[-3:]
    assert [(event.id, event.seq, event.hash) for event in recorded] == [
        (event.id, event.seq, event.hash) for event in stored
    ]
    assert audit.verify_chain(db.session()).ok
