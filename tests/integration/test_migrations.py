"""Alembic migrations build the schema the models describe, on both databases."""

from __future__ import annotations

import hashlib
import json
import shutil
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from click.testing import CliRunner
from sqlalchemy import Connection, Engine, column, insert, inspect, text
from sqlalchemy import table as sql_table
from sqlalchemy.exc import IntegrityError

from licensing import calendar, migrations, models
from licensing.accounts.models import name_key, sort_key
from licensing.cli import main
from licensing.db import make_engine
from tests.conftest import DatabaseTemplate
from tests.support.servers import PostgresServer

# --- databases at a revision: one walk down each branch, copies after ------------

# Each test downgraded a copy of the heads to the revision before the one it checks
# and upgraded it to the heads again, once or twice: some 40 migrations a test on
# either database, for the one or two it checks. The revisions the tests start from
# are made once a session and backend instead, each as the heads downgraded to it
# would be (every other branch at its head), on one walk down its branch from the
# heads; a test starts from a copy (a file on SQLite, `CREATE DATABASE ... TEMPLATE`
# on PostgreSQL), the last to start there from the database itself, and runs only
# the migrations it checks. The whole chain is walked down to base and up again once
# a backend, by the first test below. Each revision, with the number of tests
# starting from it:
_STARTS = {
    **dict.fromkeys(("accounts_0009", "accounts_0010", "accounts_0011"), 1),
    "accounts_0014": 2,
    "agreements_0003": 2,
    **{f"agreements_00{n:02d}": 1 for n in (5, 6, 7, 9, 10, 11)},
    "billing_0007": 2,
    **{f"billing_00{n:02d}": 1 for n in (*range(13, 22), 24, 25, 26, 27, 29, 30, 32)},
    **dict.fromkeys(("billing_0023", "billing_0031"), 2),
    **{f"finance_00{n:02d}": 1 for n in (1, 2, 3)},
    **{f"operations_00{n:02d}": 1 for n in (1, 2, 4, 6, 7)},
    **{f"permissions_00{n:02d}": 1 for n in (2, 3, 4)},
    **{f"royalties_00{n:02d}": 1 for n in (4, 5, 7, 11)},
    "royalties_0009": 2,
}
# ... and of the tests of SQLite's rebuilt tables (`sqlite_at`), on SQLite alone.
_SQLITE_STARTS = dict.fromkeys(("accounts_0005", "billing_0006", "billing_0012"), 1)


class _DatabasesAt:
    """Fresh databases at the revisions of `starts` (revision: tests starting there),
    from one backend's template (at the heads)."""

    def __init__(
        self, template: DatabaseTemplate, copy: Callable[[str], str], starts: dict[str, int]
    ) -> None:
        self._template = template
        self._copy = copy
        self._starts = starts
        self._left = dict(starts)
        self._made: dict[str, str] = {}

    def __call__(self, revision: str) -> str:
        assert revision in self._starts, f"add {revision} to _STARTS (or _SQLITE_STARTS)"
        assert self._left[revision] > 0, f"count one more test starting at {revision}"
        if revision not in self._made:
            self._walk_down(revision.split("_")[0])
        self._left[revision] -= 1
        made = self._made[revision]
        return made if self._left[revision] == 0 else self._copy(made)

    def _walk_down(self, branch: str) -> None:
        """Down the branch from the heads, keeping a copy at each start on it (the
        last, the walked database itself): each start is an ancestor of the one
        before, so the database downgraded from one to the next is the heads
        downgraded to it."""
        script = ScriptDirectory.from_config(migrations.alembic_config(""))
        walked = self._template.new_url()  # its `url` may have other tests' connections
        starts = sorted((r for r in self._starts if r.startswith(f"{branch}_")), reverse=True)
        for revision in starts:
            if script.get_revision(revision).nextrev:  # else its branch's head: as it is
                migrations.downgrade(walked, revision)
            self._made[revision] = walked if revision == starts[-1] else self._copy(walked)


_DATABASES_AT: dict[str, _DatabasesAt] = {}


def _databases_at(template: DatabaseTemplate, request: pytest.FixtureRequest) -> _DatabasesAt:
    found = _DATABASES_AT.get(template.url)
    if found is None:
        directory = request.getfixturevalue("tmp_path_factory").mktemp("at")
        if template.backend == "postgresql":
            server: PostgresServer = request.getfixturevalue("postgres_server")

            def copy(url: str) -> str:
                source = url.rsplit("/", 1)[1]
                return server.create_database(f"m_{uuid.uuid4().hex[:12]}", template=source)
        else:

            def copy(url: str) -> str:
                made = directory / f"{uuid.uuid4().hex}.db"
                shutil.copyfile(url.removeprefix("sqlite:///"), made)
                return f"sqlite:///{made}"

        starts = _STARTS if template.backend == "postgresql" else {**_STARTS, **_SQLITE_STARTS}
        found = _DATABASES_AT[template.url] = _DatabasesAt(template, copy, starts)
    return found


@pytest.fixture(scope="session")
def database_at(
    database_template: DatabaseTemplate,
    request: pytest.FixtureRequest,
) -> _DatabasesAt:
    """`database_at(revision)`: the URL of a fresh database of the test's backend at
    `revision` (one of `_STARTS`), as the heads downgraded to it would be."""
    return _databases_at(database_template, request)


@pytest.fixture(scope="session")
def sqlite_at(
    sqlite_template: DatabaseTemplate,
    request: pytest.FixtureRequest,
) -> _DatabasesAt:
    """`database_at` on SQLite alone, for the tests of SQLite's rebuilt tables."""
    return _databases_at(sqlite_template, request)


@pytest.fixture(scope="module", autouse=True)
def _migrations_read_once() -> Iterator[None]:
    """Alembic reads the migrations folder (every revision's file, compiled) for each
    command: some 50 ms of CPU, three to six times a test. The module's commands
    share one reading; the revisions, and what each runs, are the same."""
    script = ScriptDirectory.from_config(migrations.alembic_config(""))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ScriptDirectory, "from_config", classmethod(lambda _cls, _config: script))
        yield


def test_an_empty_database_upgrades_to_head_and_every_revision_downgrades_and_upgrades_again(
    database_template: DatabaseTemplate,
) -> None:
    """Every revision's downgrade, down to an empty database (the version table
    alone, recording none), then every upgrade from it to the heads, on both
    databases; the schema they build is the models'. The whole chain, once: each
    revision's own test below runs only its own migration."""
    url = database_template.new_url()
    migrations.downgrade(url, "base")
    assert migrations.current(url) == ()
    assert _table_names(url) == {"alembic_version"}
    migrations.upgrade(url)
    assert migrations.current(url) == migrations.heads(url)
    differences, tables = _differences_from_the_models(url)
    assert differences == []
    assert set(models.Base.metadata.tables) <= tables


def test_migrated_schema_matches_the_models(database_template: DatabaseTemplate) -> None:
    differences, tables = _differences_from_the_models(database_template.url)
    assert differences == []
    assert set(models.Base.metadata.tables) <= tables


def _differences_from_the_models(url: str) -> tuple[list[Any], set[str]]:
    """Alembic's comparison of the database's schema with the models, and its tables."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, models.Base.metadata)
            return differences, set(inspect(connection).get_table_names())
    finally:
        engine.dispose()


def _utc(moment: object) -> object:
    """A stored time as read back: SQLite hands back the text, PostgreSQL an aware
    datetime."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    if isinstance(moment, datetime) and moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


def _insert(connection: Connection, table: str, **values: object) -> int:
    """A row as the migrated schema stands (no model: it may differ from the models)."""
    rows = sql_table(table, *(column(name) for name in values), column("id"))
    return int(connection.execute(insert(rows).values(values).returning(rows.c.id)).scalar_one())


def _reason_keyed(connection: Connection, reason: str) -> dict[str, str]:
    """From finance_0004 on, a credit note's reason's key (`name_key`) beside it: the
    finance branch stays at its head while a test downgrades billing's."""
    columns = {c["name"] for c in inspect(connection).get_columns("credit_notes")}
    return {"reason_key": name_key(reason)} if "reason_key" in columns else {}


def _organization_and_user(connection: Connection, role: str) -> tuple[int, int]:
    now = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    columns = {c["name"] for c in inspect(connection).get_columns("organizations")}
    # From accounts_0010 on, the name's key (`name_key`) beside it.
    keyed = {"legal_name_key": "kestrel health software"} if "legal_name_key" in columns else {}
    # From accounts_0012 on, its sort key too.
    if "legal_name_sort_key" in columns:
        keyed["legal_name_sort_key"] = sort_key("Kestrel Health Software")
    organization_id = _insert(
        connection,
        "organizations",
        legal_name="Kestrel Health Software",
        **keyed,
        organization_type="commercial",
        address_line1="1 Quay Street",
        city="Portland",
        country="US",
        billing_contact_name="Rosa Lindqvist",
        billing_email="ap@kestrel.example",
        standing="active",
        created_at=now,
    )
    # From accounts_0011 on, the person's name's key beside it.
    user_columns = {c["name"] for c in inspect(connection).get_columns("users")}
    user_keyed = {"full_name_key": "rosa lindqvist"} if "full_name_key" in user_columns else {}
    email = f"{role}-{organization_id}@kestrel.example"
    if "email_sort_key" in user_columns:  # from accounts_0012 on
        user_keyed["email_sort_key"] = sort_key(email)
    user_id = _insert(
        connection,
        "users",
        email=email,
        password_hash="x",
        full_name="Rosa Lindqvist",
        **user_keyed,
        organization_id=organization_id,
        organization_role=role,
        staff_roles="",
        failed_login_count=0,
        is_active=True,
        created_at=now,
    )
    return organization_id, user_id


def test_the_database_refuses_an_organization_role_it_does_not_know(
    database_template: DatabaseTemplate,
) -> None:
    """The CHECK on both backends (SQLite had none before accounts_0006): a role the
    services would never store is refused by the database too, and `billing` kept."""
    engine = make_engine(database_template.new_url())
    try:
        with engine.connect() as connection, connection.begin():
            _organization_and_user(connection, "billing")
        with (
            engine.connect() as connection,
            connection.begin(),
            pytest.raises(IntegrityError, match=r"(?i)check"),
        ):
            _organization_and_user(connection, "owner")
    finally:
        engine.dispose()


def test_sqlite_keeps_every_row_that_refers_to_a_user_when_accounts_0006_adds_the_checks(
    sqlite_at: _DatabasesAt,
) -> None:
    """accounts_0006 recreates `users` on SQLite. With foreign keys on, dropping the
    old table would delete its rows first, and `idempotent_requests` (ON DELETE
    CASCADE) would lose its rows without a word: the migration turns them off."""
    url = sqlite_at("accounts_0005")
    engine = make_engine(url)
    try:
        with engine.connect() as connection, connection.begin():
            _, user_id = _organization_and_user(connection, "member")
            _insert(
                connection,
                "idempotent_requests",
                user_id=user_id,
                key_hash="k" * 64,
                request_hash="r" * 64,
                response_status=201,
                response_body="{}",
                created_at=datetime(2026, 12, 3, 12, 0, tzinfo=UTC),
            )
        migrations.upgrade(url, "accounts_0006")
        with engine.connect() as connection:
            kept = connection.execute(text("SELECT user_id FROM idempotent_requests")).all()
            checks = {check["name"] for check in inspect(connection).get_check_constraints("users")}
            keys_on = connection.exec_driver_sql("PRAGMA foreign_keys").scalar_one()
    finally:
        engine.dispose()
    assert kept == [(user_id,)]
    assert {"ck_users_organization_role", "ck_users_role_in_organization"} <= checks
    assert keys_on == 1


def test_sqlite_keeps_a_payments_reversal_when_billing_0007_recreates_payments(
    sqlite_at: _DatabasesAt,
) -> None:
    """billing_0007 recreates `payments` on SQLite to add its foreign key. Every batch
    migration runs with SQLite's foreign keys off (migrations/env.py), so dropping the
    old table is neither refused for the reversal that refers to it nor cascaded."""
    url = sqlite_at("billing_0006")
    now = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    engine = make_engine(url)
    try:
        with engine.connect() as connection, connection.begin():
            organization_id, _ = _organization_and_user(connection, "member")
            invoice_id = _invoice(connection, organization_id, "agreement", 1)
            paid = {"invoice_id": invoice_id, "organization_id": organization_id}
            payment_id = _insert(
                connection,
                "payments",
                **paid,
                method="check",
                state="reversed",
                currency="USD",
                amount=1500,
                recorded_by="clerk@office.example",
                created_at=now,
            )
            _insert(
                connection,
                "payment_reversals",
                **paid,
                payment_id=payment_id,
                currency="USD",
                amount=1500,
                reason="Cheque returned unpaid",
                returned_on=date(2026, 12, 2),
                reversed_by="clerk@office.example",
                created_at=now,
            )
        migrations.upgrade(url, "billing_0007")
        with engine.connect() as connection:
            kept = connection.execute(text("SELECT payment_id FROM payment_reversals")).all()
            keys_on = connection.exec_driver_sql("PRAGMA foreign_keys").scalar_one()
    finally:
        engine.dispose()
    assert kept == [(payment_id,)]
    assert keys_on == 1


def _invoice(connection: Connection, organization_id: int, source_type: str, source_id: int) -> int:
    return _insert(
        connection,
        "invoices",
        organization_id=organization_id,
        state="draft",
        currency="USD",
        source_type=source_type,
        source_id=source_id,
        payment_terms_days=30,
        late_fee_monthly_percent=0,
        total=0,
        amount_paid=0,
        amount_credited=0,
        created_at=datetime(2026, 12, 3, 12, 0, tzinfo=UTC),
        reminder_count=0,
        late_fee_months_charged=0,
    )


def _index_names(url: str, table: str) -> set[str]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return {index["name"] or "" for index in inspect(connection).get_indexes(table)}
    finally:
        engine.dispose()


def _at_billing_0007_with_invoices(
    url: str, sources: list[tuple[str, int]]
) -> tuple[int, list[int]]:
    """The database at billing_0007 given an organization's invoices of `sources`
    (source type, source id): its id and theirs."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection, connection.begin():
            organization_id, _ = _organization_and_user(connection, "member")
            ids = [_invoice(connection, organization_id, *source) for source in sources]
    finally:
        engine.dispose()
    return organization_id, ids


def test_billing_0008_names_the_invoices_that_share_a_source_and_runs_once_they_are_resolved(
    database_at: _DatabasesAt,
) -> None:
    """Two up-front invoices for one agreement: the migration refuses, naming both,
    rather than leaving the operator a bare integrity error. Late fees may share a
    source. Once one is removed it runs, and the database then refuses a second."""
    url = database_at("billing_0007")
    sources = [("agreement", 41)] * 2 + [("late_fee", 41)] * 2
    organization_id, (first, second, *_) = _at_billing_0007_with_invoices(url, sources)
    engine = make_engine(url)
    try:
        with pytest.raises(migrations.RowsBreakUniqueness) as refused:
            migrations.upgrade(url, "billing_0008")
        assert f"source_type agreement, source_id 41: invoices ids {first}, {second}" in str(
            refused.value
        )
        assert "uq_invoices_one_per_source" not in _index_names(url, "invoices")
        with engine.connect() as connection, connection.begin():
            connection.execute(text("DELETE FROM invoices WHERE id = :id"), {"id": second})
        migrations.upgrade(url, "billing_0008")
        with (
            engine.connect() as connection,
            connection.begin(),
            pytest.raises(IntegrityError),
        ):
            _invoice(connection, organization_id, "agreement", 41)
    finally:
        engine.dispose()


def test_db_upgrade_refusing_duplicates_says_which_rows_in_one_error_not_a_traceback(
    database_at: _DatabasesAt,
) -> None:
    """The operator read sixty lines of traceback with the rows to resolve at the end.
    The console script's `db upgrade` in process (its exit code and what it says are
    the command's own; another process would only add Python's start)."""
    url = database_at("billing_0007")
    _, (first, second) = _at_billing_0007_with_invoices(url, [("royalty_report", 7)] * 2)
    key = "k" * 20 + "m" * 20
    environment = {"DATABASE_URL": url, "SECRET_KEY": key, "AUDIT_HMAC_KEY": key[::-1] + "a"}
    done = CliRunner().invoke(main, ["db", "upgrade"], env=environment)
    assert done.exit_code == 1
    assert isinstance(done.exception, SystemExit)  # Click's error, not an exception's
    assert "Traceback" not in done.output
    assert (
        "Error: An agreement and a royalty report have at most one invoice each, but 1 cannot "
        f"be made so until resolved (source_type royalty_report, source_id 7: invoices ids "
        f"{first}, {second}). This migration changed nothing; see docs/operations.md"
    ) in done.output


def _report(connection: Connection, amends_id: int | None, state: str) -> int:
    return _insert(
        connection,
        "royalty_reports",
        agreement_id=9001,
        organization_id=9001,
        period_index=1,
        period_start=date(2027, 1, 1),
        period_end=date(2027, 3, 31),
        state=state,
        review_state="clear",
        source="json",
        file_sha256="f" * 64,
        row_count=0,
        currency="USD",
        total_due=0,
        credit_notes_json="[]",
        flags_json="[]",
        submitted_by_id=9001,
        submitted_by="Rosa Lindqvist",
        submitted_at=datetime(2027, 4, 1, 12, 0, tzinfo=UTC),
        amends_id=amends_id,
    )


def _without_foreign_keys(connection: Connection) -> None:
    """The reports alone, without the agreement and application they belong to: only
    the rows the migration reads matter here. Set outside a transaction, where SQLite
    heeds it; both hold for the connection's later transactions."""
    if connection.dialect.name == "sqlite":
        connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
            "PRAGMA foreign_keys = OFF"
        )
    else:
        connection.exec_driver_sql("SET session_replication_role = replica")


def test_royalties_0005_names_the_reports_that_amend_the_same_report_and_changes_nothing(
    database_at: _DatabasesAt,
) -> None:
    url = database_at("royalties_0004")
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            _without_foreign_keys(connection)
            original = _report(connection, None, "superseded")
            one = _report(connection, original, "superseded")
            other = _report(connection, original, "submitted")
            _report(connection, one, "superseded")
            connection.commit()
        with pytest.raises(migrations.RowsBreakUniqueness) as refused:
            migrations.upgrade(url, "royalties_0005")
    finally:
        engine.dispose()
    assert str(refused.value).startswith(
        "A royalty report is amended by at most one report, but 1 cannot be made so until "
        f"resolved (amends_id {original}: royalty_reports ids {one}, {other})."
    )
    assert "uq_royalty_reports_amends_id" not in _index_names(url, "royalty_reports")


def _permission_request(
    connection: Connection, number: int, organization_id: int | None, email: str
) -> int:
    # From permissions_0005 on, the names' keys beside them.
    columns = {c["name"] for c in inspect(connection).get_columns("permission_requests")}
    keyed = (
        {"requester_name_key": "rosa lindqvist", "institution_key": "kestrel health software"}
        if "institution_key" in columns
        else {}
    )
    return _insert(
        connection,
        "permission_requests",
        **keyed,
        reference=f"PR-2026-{number:06d}",
        state="submitted",
        source="public" if organization_id is None else "application",
        organization_id=organization_id,
        requester_name="Rosa Lindqvist",
        requester_email=email,
        institution="Kestrel Health Software",
        role="other",
        organization_type="academic",
        purpose="other_educational",
        purpose_detail="From license application APP-2026-000001, use 1.",
        content_requested="A workbook",
        medium="print",
        duration="2027-01-01 to 2027-12-31",
        link_salt="s" * 32,
        created_at=datetime(2026, 12, 3, 12, 0, tzinfo=UTC),
        reconsidered=False,
    )


def test_permissions_0003_finds_who_asked_by_the_audit_log_then_by_the_address_stored(
    database_at: _DatabasesAt,
) -> None:
    """Requests made from applications before the column: the creating audit event's
    user (who since changed their address), else the organization's user with the
    address stored; a public request has none. The request's messages are kept."""
    url = database_at("permissions_0002")
    engine = make_engine(url)
    try:
        with engine.connect() as connection, connection.begin():
            organization_id, same_address = _organization_and_user(connection, "member")
            _, moved = _organization_and_user(connection, "administrator")
            connection.execute(
                text("UPDATE users SET organization_id = :o WHERE id = :u"),
                {"o": organization_id, "u": moved},
            )
            by_address = _permission_request(
                connection, 1, organization_id, f"member-{organization_id}@kestrel.example"
            )
            by_audit = _permission_request(connection, 2, organization_id, "old@kestrel.example")
            public = _permission_request(
                connection, 3, None, f"member-{organization_id}@kestrel.example"
            )
            _insert(
                connection,
                "permission_messages",
                request_id=by_audit,
                author="requester",
                author_name="Rosa Lindqvist",
                internal=False,
                body="For the spring course.",
                created_at=datetime(2026, 12, 3, 12, 0, tzinfo=UTC),
            )
            _insert(
                connection,
                "audit_events",
                seq=10_000,
                occurred_at=datetime(2026, 12, 3, 12, 0, tzinfo=UTC),
                actor="old@kestrel.example",
                actor_user_id=moved,
                action="permission_request.created",
                entity_type="permission_request",
                entity_id=str(by_audit),
                prev_hash="0" * 64,
                hash="1" * 64,
            )
        migrations.upgrade(url, "permissions_0003")
        with engine.connect() as connection:
            found = dict(
                connection.execute(
                    text("SELECT id, requester_user_id FROM permission_requests")
                ).all()
            )
            kept = connection.execute(text("SELECT request_id FROM permission_messages")).all()
    finally:
        engine.dispose()
    assert found == {by_address: same_address, by_audit: moved, public: None}
    assert kept == [(by_audit,)]


def test_permissions_0004_leaves_the_requests_before_it_without_days_of_use(
    database_at: _DatabasesAt,
) -> None:
    """Requests made before the term's days keep none (their grant's default stays one
    year from the decision), and the downgrade drops the days without losing a request."""
    url = database_at("permissions_0003")
    engine = make_engine(url)
    try:
        with engine.connect() as connection, connection.begin():
            organization_id, _ = _organization_and_user(connection, "member")
            before = _permission_request(connection, 1, organization_id, "rosa@kestrel.example")
        migrations.upgrade(url, "permissions_0004")
        with engine.connect() as connection:
            days = connection.execute(
                text("SELECT id, use_from, use_until FROM permission_requests")
            ).all()
        migrations.downgrade(url, "permissions_0003")
        with engine.connect() as connection:
            kept = connection.execute(text("SELECT id FROM permission_requests")).all()
    finally:
        engine.dispose()
    assert [tuple(row) for row in days] == [(before, None, None)]
    assert [tuple(row) for row in kept] == [(before,)]


def test_billing_0013_gives_each_statement_sent_its_figures_last_emailed_and_its_months_end(
    sqlite_at: _DatabasesAt,
) -> None:
    """A statement sent before billing_0013 was last emailed with the figures first
    sent (a re-send's are in the audit log), and its month ends on its last day."""
    url = sqlite_at("billing_0012")
    engine = make_engine(url)
    try:
        with engine.connect() as connection, connection.begin():
            organization_id, _ = _organization_and_user(connection, "member")
            _insert(
                connection,
                "sent_statements",
                organization_id=organization_id,
                currency="USD",
                month=date(2028, 2, 1),
                opening="400.00",
                closing="1600.50",
                sent_to="ap@kestrel.example",
                sent_at=datetime(2028, 3, 1, 14, 0, tzinfo=UTC),
                resends=0,
            )
        migrations.upgrade(url, "billing_0013")
        with engine.connect() as connection:
            row = connection.execute(
                text(
                    "SELECT opening, closing, last_opening, last_closing, closes_on,"
                    " sent_to, last_sent_to FROM sent_statements"
                )
            ).one()
    finally:
        engine.dispose()
    assert (row.last_opening, row.last_closing) == (row.opening, row.closing)
    assert row.last_sent_to == row.sent_to == "ap@kestrel.example"
    assert str(row.closes_on) == "2028-02-29"


def _event(connection: Connection, seq: int, action: str, entity_id: int, at: datetime) -> None:
    entity_type = action.split(".")[0]
    _insert(
        connection,
        "audit_events",
        seq=seq,
        occurred_at=at,
        actor="clerk@office.example",
        action=action,
        entity_type=entity_type,
        entity_id=str(entity_id),
        prev_hash="0" * 64,
        hash=f"{seq:064d}",
    )


def test_billing_0014_stamps_each_step_a_nightly_pull_sees_from_the_audit_log(
    database_at: _DatabasesAt,
) -> None:
    """A refund failed, an invoice written off or reopened, and a payment declined or
    flagged before billing_0014 stamped no time: the columns take the time of the
    record's latest such step in the audit log (another record's events, and steps
    that stamp other columns, aside); a record with none keeps NULL."""
    url = database_at("billing_0013")
    day = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
    later = day + timedelta(days=3)
    engine = make_engine(url)
    try:
        with engine.connect() as connection, connection.begin():
            organization_id, _ = _organization_and_user(connection, "member")
            written_off, reopened, untouched = (
                _invoice(connection, organization_id, "manual", n) for n in (1, 2, 3)
            )
            owned = {"invoice_id": written_off, "organization_id": organization_id}
            money = {"currency": "USD", "recorded_by": "clerk@office.example", "created_at": day}
            declined = _insert(
                connection, "payments", **owned, **money, method="card", state="canceled", amount=10
            )
            offline = _insert(
                connection, "payments", **owned, **money, method="wire", state="succeeded", amount=5
            )
            credit = _insert(
                connection,
                "credit_notes",
                **owned,
                number="CN-2026-000001",
                currency="USD",
                amount=5,
                applied_to_balance=0,
                refund_due=5,
                reason="Seat removed",
                **_reason_keyed(connection, "Seat removed"),
                issue_date=day.date(),
                issued_at=day,
                issued_by="clerk@office.example",
            )
            failed = _insert(
                connection,
                "refunds",
                **owned,
                **money,
                credit_note_id=credit,
                method="wire",
                state="failed",
                amount=5,
            )
            _event(connection, 20_001, "invoice.marked_uncollectible", written_off, day)
            _event(connection, 20_002, "invoice.paid", reopened, day)
            _event(connection, 20_003, "invoice.reopened", reopened, day)
            _event(connection, 20_004, "invoice.reopened", reopened, later)  # the latest
            _event(connection, 20_005, "payment.declined", declined, day)
            _event(connection, 20_006, "payment.canceled", declined, later)
            _event(connection, 20_007, "payment.created", offline, day)  # no status change
            _event(connection, 20_008, "refund.succeeded", failed, day)
            _event(connection, 20_009, "refund.failed", failed, later)
            _event(connection, 20_010, "refund.failed", untouched, later)  # no such refund
        migrations.upgrade(url, "billing_0014")
        with engine.connect() as connection:
            invoices = {
                row.id: (row.written_off_at, row.reopened_at)
                for row in connection.execute(
                    text("SELECT id, written_off_at, reopened_at FROM invoices")
                )
            }
            payments = dict(
                connection.execute(text("SELECT id, status_changed_at FROM payments")).all()
            )
            refunds = dict(connection.execute(text("SELECT id, failed_at FROM refunds")).all())
    finally:
        engine.dispose()

    assert {k: tuple(map(_utc, v)) for k, v in invoices.items()} == {
        written_off: (day, None),
        reopened: (None, later),
        untouched: (None, None),
    }
    assert {k: _utc(v) for k, v in payments.items()} == {declined: later, offline: None}
    assert {k: _utc(v) for k, v in refunds.items()} == {failed: later}


def test_billing_0015_lets_a_payment_be_given_back_and_its_downgrade_refuses_to_forget_one(
    database_at: _DatabasesAt,
) -> None:
    """Before billing_0015 the payments' state CHECK refuses `given_back`; after it, a
    flagged payment may be given back, and the other states are still checked. A
    downgrade with a payment given back refuses (flagged would ask staff to accept
    money that went back); without one it restores the old CHECK."""
    url = database_at("billing_0014")
    day = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)
    engine = make_engine(url)
    try:
        with engine.connect() as connection, connection.begin():
            organization_id, _ = _organization_and_user(connection, "member")
            invoice_id = _invoice(connection, organization_id, "manual", 1)
        money = {
            "invoice_id": invoice_id,
            "organization_id": organization_id,
            "currency": "USD",
            "recorded_by": "clerk@office.example",
            "created_at": day,
            "method": "card",
            "amount": 10,
        }
        with pytest.raises(IntegrityError), engine.connect() as connection, connection.begin():
            _insert(connection, "payments", **money, state="given_back")
        migrations.upgrade(url, "billing_0015")
        with engine.connect() as connection, connection.begin():
            given_back = _insert(connection, "payments", **money, state="given_back")
        with pytest.raises(IntegrityError), engine.connect() as connection, connection.begin():
            _insert(connection, "payments", **money, state="refunded")
        with pytest.raises(RuntimeError, match="billing_0015 cannot be downgraded"):
            migrations.downgrade(url, "billing_0014")
        with engine.connect() as connection, connection.begin():
            connection.execute(text("DELETE FROM payments WHERE id = :id"), {"id": given_back})
        migrations.downgrade(url, "billing_0014")
        with pytest.raises(IntegrityError), engine.connect() as connection, connection.begin():
            _insert(connection, "payments", **money, state="given_back")
    finally:
        engine.dispose()


def test_billing_0016_indexes_the_months_rows_the_statement_run_looks_up(
    database_at: _DatabasesAt,
) -> None:
    """The monthly statement run finds the month's statements sent, payments and
    credit notes (round 40: it read all of them, docs/operations.md); billing_0016
    indexes those columns, and its downgrade drops the indexes again."""
    indexes = {
        ("sent_statements", "ix_sent_statements_month"): ["month"],
        ("payments", "ix_payments_received_on"): ["received_on"],
        ("payments", "ix_payments_settled_at"): ["settled_at"],
        ("credit_notes", "ix_credit_notes_issue_date"): ["issue_date"],
    }
    url = database_at("billing_0015")

    def present() -> dict[tuple[str, str], list[str]]:
        engine = make_engine(url)
        try:
            with engine.connect() as connection:
                schema = inspect(connection)
                return {
                    (table, index["name"]): list(index["column_names"])
                    for table in ("sent_statements", "payments", "credit_notes")
                    for index in schema.get_indexes(table)
                    if (table, index["name"]) in indexes
                }
        finally:
            engine.dispose()

    assert present() == {}
    migrations.upgrade(url, "billing_0016")
    assert present() == indexes
    migrations.downgrade(url, "billing_0015")
    assert present() == {}


def test_billing_0017_moves_a_give_back_left_unanswered_into_giving_back_and_back(
    database_at: _DatabasesAt,
) -> None:
    """Round 42: a flagged payment whose latest give-back event is an unanswered ask
    is being given back (`giving_back`); one whose ask was answered (given back,
    refused, failed, failed in flight) or never made keeps its state, as do the
    other states. The CHECK allows `giving_back` after it and refuses it before;
    the downgrade moves every payment being given back to `flagged` again (its ask
    still the latest event: round 39's hour holds it)."""
    url = database_at("billing_0016")
    day = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)
    engine = make_engine(url)
    try:
        with engine.connect() as connection, connection.begin():
            organization_id, _ = _organization_and_user(connection, "member")
            invoice_id = _invoice(connection, organization_id, "manual", 1)
            money = {
                "invoice_id": invoice_id,
                "organization_id": organization_id,
                "currency": "USD",
                "recorded_by": "clerk@office.example",
                "created_at": day,
                "method": "card",
                "amount": 10,
            }

            def paid(state: str) -> int:
                return _insert(connection, "payments", **money, state=state)

            states = ("succeeded", "canceled", "reversed", "given_back")
            others = {state: paid(state) for state in states}
            unanswered, asked_twice, refused, failed, failed_in_flight, never_asked = (
                paid("flagged") for _ in range(6)
            )
            asked_back = paid("given_back")  # given back, answered: stays
            events = (
                (unanswered, "payment.flagged"),
                (unanswered, "payment.give_back_asked"),
                (asked_twice, "payment.give_back_asked"),
                (asked_twice, "payment.give_back_refused"),
                (asked_twice, "payment.give_back_asked"),  # asked again, unanswered
                (refused, "payment.give_back_asked"),
                (refused, "payment.give_back_refused"),
                (failed, "payment.give_back_asked"),
                (failed, "payment.given_back"),
                (failed, "payment.give_back_failed"),
                (failed_in_flight, "payment.give_back_asked"),
                (failed_in_flight, "payment.give_back_failed_in_flight"),
                (never_asked, "payment.flagged"),
                (asked_back, "payment.give_back_asked"),
                (asked_back, "payment.given_back"),
                (others["succeeded"], "payment.give_back_asked"),  # not flagged: stays
            )
            for seq, (payment_id, action) in enumerate(events, start=30_000):
                _event(connection, seq, action, payment_id, day)
        with pytest.raises(IntegrityError), engine.connect() as connection, connection.begin():
            _insert(connection, "payments", **money, state="giving_back")

        def states_now() -> dict[int, str]:
            with engine.connect() as connection:
                return dict(connection.execute(text("SELECT id, state FROM payments")).all())

        before = states_now()
        migrations.upgrade(url, "billing_0017")
        after = states_now()
        assert {k: v for k, v in after.items() if v != before[k]} == {
            unanswered: "giving_back",
            asked_twice: "giving_back",
        }
        with engine.connect() as connection, connection.begin():
            _insert(connection, "payments", **money, state="giving_back")
        with pytest.raises(IntegrityError), engine.connect() as connection, connection.begin():
            _insert(connection, "payments", **money, state="asked")
        migrations.downgrade(url, "billing_0016")
        restored = states_now()
        assert {k: v for k, v in restored.items() if k in before} == before
        assert "giving_back" not in restored.values()
        with pytest.raises(IntegrityError), engine.connect() as connection, connection.begin():
            _insert(connection, "payments", **money, state="giving_back")
    finally:
        engine.dispose()


def test_billing_0018_adds_the_kept_pdfs_one_a_document_and_its_downgrade_drops_them(
    database_template: DatabaseTemplate, database_at: _DatabasesAt
) -> None:
    """Round 44: `kept_pdfs` holds an invoice's or credit note's PDF as first drawn,
    one row a document (an invoice's standing, a credit note's one), for exactly one
    of the two; the downgrade drops it, and the upgrade makes it again."""
    url = database_at("billing_0017")
    assert "kept_pdfs" not in _table_names(url)
    migrations.upgrade(url, "billing_0018")
    assert "kept_pdfs" in _table_names(url)
    engine = make_engine(url)
    drawn = {"pdf": b"%PDF-1.4 kept", "sha256": "0" * 64, "drawn_at": datetime.now(UTC)}
    try:
        with engine.connect() as connection, connection.begin():
            organization_id, _ = _organization_and_user(connection, "member")
            invoice_id = _invoice(connection, organization_id, "manual", 1)
            issued = _insert(
                connection, "kept_pdfs", invoice_id=invoice_id, standing="open", **drawn
            )
            _insert(
                connection,
                "kept_pdfs",
                invoice_id=invoice_id,
                standing="paid",
                issued_id=issued,
                **drawn,
            )
        with pytest.raises(IntegrityError), engine.connect() as connection, connection.begin():
            _insert(connection, "kept_pdfs", invoice_id=invoice_id, standing="open", **drawn)
        with pytest.raises(IntegrityError), engine.connect() as connection, connection.begin():
            _insert(connection, "kept_pdfs", standing="issued", **drawn)  # no document
        if database_template.backend == "postgresql":  # not compressed again by TOAST
            with engine.connect() as connection:
                storage = connection.execute(
                    text(
                        "SELECT attstorage FROM pg_attribute "
                        "WHERE attrelid = 'kept_pdfs'::regclass AND attname = 'pdf'"
                    )
                ).scalar_one()
            assert storage == "e"
    finally:
        engine.dispose()
    migrations.downgrade(url, "billing_0017")
    assert "kept_pdfs" not in _table_names(url)
    migrations.upgrade(url, "billing_0018")
    assert "kept_pdfs" in _table_names(url)


def test_billing_0019_adds_the_kept_pdfs_seals_and_its_downgrade_keeps_the_rows(
    database_at: _DatabasesAt,
) -> None:
    """Round 47: `kept_pdfs` gains `seal_key_id` and `seal`, empty on the rows kept
    before (`licensing audit seal-unsealed` seals them); the downgrade drops the two
    columns and keeps every row and its bytes."""
    url = database_at("billing_0018")
    engine = make_engine(url)
    content = b"%PDF-1.4 kept before the seals"
    try:
        with engine.connect() as connection, connection.begin():
            organization_id, _ = _organization_and_user(connection, "member")
            invoice_id = _invoice(connection, organization_id, "manual", 1)
            _insert(
                connection,
                "kept_pdfs",
                invoice_id=invoice_id,
                standing="open",
                pdf=content,
                sha256="0" * 64,
                drawn_at=datetime.now(UTC),
            )
        assert not {"seal", "seal_key_id"} & _kept_pdfs_columns(engine)
        migrations.upgrade(url, "billing_0019")
        assert {"seal", "seal_key_id"} <= _kept_pdfs_columns(engine)
        with engine.connect() as connection:
            row = connection.execute(text("SELECT pdf, seal, seal_key_id FROM kept_pdfs")).one()
        assert (bytes(row.pdf), row.seal, row.seal_key_id) == (content, None, None)
        migrations.downgrade(url, "billing_0018")
        assert not {"seal", "seal_key_id"} & _kept_pdfs_columns(engine)
        with engine.connect() as connection:
            kept = connection.execute(text("SELECT pdf FROM kept_pdfs")).scalar_one()
        assert bytes(kept) == content
    finally:
        engine.dispose()
    migrations.upgrade(url, "billing_0019")


def test_billing_0021_counts_each_invoices_refunds_sent_and_its_downgrade_drops_the_column(
    database_at: _DatabasesAt,
) -> None:
    """Round 53: `invoices.amount_refunded` holds the refunds sent (succeeded) on the
    invoice's credit notes, backfilled from them: a pending or failed refund is not
    money sent; an invoice with none holds 0. The downgrade drops the column."""
    url = database_at("billing_0020")
    engine = make_engine(url)
    # Money as each database stores it: NUMERIC on PostgreSQL, ten-thousandths on SQLite.
    scale = 10_000 if engine.dialect.name == "sqlite" else 1
    try:
        with engine.connect() as connection:
            organization_id, _ = _organization_and_user(connection, "member")
            refunded = _invoice(connection, organization_id, "manual", 1)
            untouched = _invoice(connection, organization_id, "manual", 2)
            credit_note_id = _insert(
                connection,
                "credit_notes",
                number="CN-2027-000001",
                invoice_id=refunded,
                organization_id=organization_id,
                currency="USD",
                amount=150 * scale,
                applied_to_balance=0,
                refund_due=150 * scale,
                reason="Seat removed",
                **_reason_keyed(connection, "Seat removed"),
                issue_date=date(2027, 3, 10),
                issued_at=datetime(2027, 3, 10, 12, 0, tzinfo=UTC),
                issued_by="clerk@example.com",
            )
            for amount, state in ((100, "succeeded"), (30, "succeeded"), (7, "pending")):
                _insert(
                    connection,
                    "refunds",
                    credit_note_id=credit_note_id,
                    invoice_id=refunded,
                    organization_id=organization_id,
                    method="wire",
                    state=state,
                    currency="USD",
                    amount=amount * scale,
                    recorded_by="clerk@example.com",
                    created_at=datetime(2027, 3, 12, 12, 0, tzinfo=UTC),
                )
            connection.commit()
        migrations.upgrade(url, "billing_0021")
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT id, amount_refunded FROM invoices"))
            found = {row[0]: row[1] for row in rows}
        assert found == {refunded: 130 * scale, untouched: 0}
        migrations.downgrade(url, "billing_0020")
        with engine.connect() as connection:
            columns = {each["name"] for each in inspect(connection).get_columns("invoices")}
        assert "amount_refunded" not in columns
    finally:
        engine.dispose()
    migrations.upgrade(url, "billing_0021")


def test_finance_0002_makes_copies_of_kept_pdfs_references_and_its_downgrade_puts_the_bytes_back(
    database_at: _DatabasesAt,
) -> None:
    """Round 48: an outbox attachment holds its bytes or names a kept document
    (`kept_kind`, `kept_id`, `sha256`), never both nor neither. A copy stored before
    whose bytes are exactly the kept PDF of the invoice its file name names becomes a
    reference; any other keeps its bytes; every row is sized. The downgrade copies
    each named document's bytes back into `content`."""
    url = database_at("finance_0001")
    engine = make_engine(url)
    now = datetime.now(UTC)
    other = b"%PDF-1.4 another drawing of the invoice"
    kept = b"%PDF-1.4 the invoice as kept"
    number = "INV-2026-000001"

    def attached(connection: Connection, filename: str, **values: object) -> int:
        message_id = _insert(
            connection,
            "outbox_messages",
            recipients='["ap@northwind.example"]',
            subject="Invoice",
            template="invoice_issued",
            body_text="Attached.",
            state="sent",
            attempts=1,
            next_attempt_at=now,
            created_at=now,
        )
        _insert(
            connection,
            "outbox_attachments",
            message_id=message_id,
            filename=filename,
            content_type="application/pdf",
            **values,
        )
        return message_id

    def attachments() -> list[tuple[int, bytes | None, int, str | None, int | None, str | None]]:
        with engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT message_id, content, size, kept_kind, kept_id, sha256 "
                    "FROM outbox_attachments ORDER BY id"
                )
            ).all()
        return [
            (r.message_id, None if r.content is None else bytes(r.content), *r[2:]) for r in rows
        ]

    try:
        with engine.connect() as connection, connection.begin():
            organization_id, _ = _organization_and_user(connection, "member")
            invoice_id = _invoice(connection, organization_id, "manual", 1)
            connection.execute(
                text("UPDATE invoices SET number = :number WHERE id = :id"),
                {"number": number, "id": invoice_id},
            )
            kept_id = _insert(
                connection,
                "kept_pdfs",
                invoice_id=invoice_id,
                standing="open",
                pdf=kept,
                sha256="0" * 64,
                drawn_at=now,
            )
            differs = attached(connection, f"{number}.pdf", content=other)
            same = attached(connection, f"{number}.pdf", content=kept)
            elsewhere = attached(connection, "revenue-report-2027-03-USD.pdf", content=kept)
        migrations.upgrade(url, "finance_0002")
        assert attachments() == [
            (differs, other, len(other), None, None, None),
            (same, None, len(kept), "kept_pdf", kept_id, "0" * 64),
            (elsewhere, kept, len(kept), None, None, None),
        ]
        with engine.connect() as connection, connection.begin():
            after = attached(
                connection,
                "INV-2026-000002.pdf",
                kept_kind="kept_pdf",
                kept_id=kept_id,
                sha256="1" * 64,
                size=len(kept),
            )
        named = {"kept_kind": "kept_pdf", "kept_id": kept_id, "sha256": "1" * 64, "size": 1}
        for refused in ({"content": other, **named}, {"size": 1}):  # both, and neither
            with (
                pytest.raises(IntegrityError),
                engine.connect() as connection,
                connection.begin(),
            ):
                attached(connection, "x.pdf", **refused)
        migrations.downgrade(url, "finance_0001")
        with engine.connect() as connection:
            contents = connection.execute(
                text("SELECT message_id, content FROM outbox_attachments ORDER BY id")
            ).all()
            columns = {
                found["name"] for found in inspect(connection).get_columns("outbox_attachments")
            }
        assert [(found.message_id, bytes(found.content)) for found in contents] == [
            (differs, other),
            (same, kept),
            (elsewhere, kept),
            (after, kept),
        ]
        assert not {"kept_kind", "kept_id", "sha256", "size"} & columns
    finally:
        engine.dispose()
    migrations.upgrade(url, "finance_0002")


def _kept_pdfs_columns(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        return {found["name"] for found in inspect(connection).get_columns("kept_pdfs")}


def _table_names(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return set(inspect(connection).get_table_names())
    finally:
        engine.dispose()


def test_royalties_0009_indexes_the_queue_filters_starts_and_restores_the_start_index(
    database_at: _DatabasesAt,
) -> None:
    """Round 52: the royalty queue's filter reads each period start and its latest end;
    royalties_0009 indexes both (replacing the index on the start alone), and its
    downgrade puts the table's indexes back as they were."""
    url = database_at("royalties_0009")
    added = {
        ("reporting_periods", "ix_reporting_periods_start_end"): ["period_start", "period_end"]
    }
    replaced = {("reporting_periods", "ix_reporting_periods_period_start"): ["period_start"]}
    named = {**added, **replaced}

    assert _indexes_among(url, named) == added
    migrations.downgrade(url, "royalties_0008")
    assert _indexes_among(url, named) == replaced
    migrations.upgrade(url, "royalties_0009")
    assert _indexes_among(url, named) == added


def test_agreements_0004_backfills_the_review_clock_of_applications_resubmitted_before_it(
    database_at: _DatabasesAt,
) -> None:
    """An application returned on a Thursday (2026-11-12) and resubmitted the
    Wednesday after (2026-11-18, four business days) counts its review from its
    submission moved later by those days; returned twice, by both waits; one never
    returned, or returned and not yet resubmitted, keeps NULL (from `submitted_at`).
    The downgrade drops the column."""
    url = database_at("agreements_0003")
    submitted = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)  # a Monday
    engine = make_engine(url)
    try:
        with engine.connect() as connection, connection.begin():
            organization_id, user_id = _organization_and_user(connection, "member")

            def application(state: str, returned_at: datetime | None) -> int:
                return _insert(
                    connection,
                    "applications",
                    organization_id=organization_id,
                    created_by_id=user_id,
                    state=state,
                    submitted_at=submitted,
                    returned_at=returned_at,
                    created_at=submitted,
                    updated_at=submitted,
                )

            returned_on = datetime(2026, 11, 12, 15, 0, tzinfo=UTC)
            once = application("submitted", returned_on)
            twice = application("submitted", returned_on)
            waiting = application("returned", returned_on)
            never = application("submitted", None)
            steps = [
                ("application.returned", once, returned_on),
                ("application.resubmitted", once, datetime(2026, 11, 18, 16, 0, tzinfo=UTC)),
                ("application.returned", twice, datetime(2026, 11, 4, 15, 0, tzinfo=UTC)),
                ("application.resubmitted", twice, datetime(2026, 11, 5, 15, 0, tzinfo=UTC)),
                ("application.returned", twice, returned_on),
                ("application.resubmitted", twice, datetime(2026, 11, 18, 16, 0, tzinfo=UTC)),
                ("application.returned", waiting, returned_on),
            ]
            for seq, (action, entity_id, at) in enumerate(steps, start=20_000):
                _event(connection, seq, action, entity_id, at)
        migrations.upgrade(url, "agreements_0004")
        with engine.connect() as connection:
            found = dict(
                connection.execute(text("SELECT id, review_clock_from FROM applications")).all()
            )
        migrations.downgrade(url, "agreements_0003")
        with engine.connect() as connection:
            columns = {c["name"] for c in inspect(connection).get_columns("applications")}
    finally:
        engine.dispose()

    moved = {key: _utc(value) for key, value in found.items()}
    assert moved == {
        once: datetime(2026, 11, 6, 15, 0, tzinfo=UTC),  # Monday + 4 business days
        twice: datetime(2026, 11, 9, 15, 0, tzinfo=UTC),  # + 1 + 4
        waiting: None,
        never: None,
    }
    assert "review_clock_from" not in columns


def test_agreements_0005_recomputes_the_clock_of_a_return_after_a_granted_reconsideration(
    database_at: _DatabasesAt,
) -> None:
    """Submitted Monday 2026-11-02, returned on day 1 and resubmitted on day 3 (two
    days waited), rejected on day 4, reconsideration asked for on day 5 (Monday
    11-09) and granted, returned on day 6 and resubmitted on day 10 (four days):
    `agreements_0004` stored the submission moved by all six days (day 6, Tuesday
    11-10), which counts from before the request moved by the four days waited
    after it (day 9, Friday 11-13), so the queue marked it overdue three business
    days early. `agreements_0005` stores day 9; one reconsidered and never returned
    after its request, and one returned only, keep their values. The downgrade
    leaves them."""
    url = database_at("agreements_0003")
    submitted = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)  # a Monday

    def day(count: int, hour: int = 15) -> datetime:
        return calendar.later_by_business_days(submitted, count).replace(hour=hour)

    engine = make_engine(url)
    try:
        with engine.connect() as connection, connection.begin():
            organization_id, user_id = _organization_and_user(connection, "member")

            def application(requested_at: datetime | None) -> int:
                return _insert(
                    connection,
                    "applications",
                    organization_id=organization_id,
                    created_by_id=user_id,
                    state="in_review",
                    submitted_at=submitted,
                    returned_at=day(6) if requested_at else day(1),
                    reconsideration_requested_at=requested_at,
                    created_at=submitted,
                    updated_at=submitted,
                )

            reconsidered = application(day(5))
            not_after = application(day(5))
            returned_only = application(None)
            before_request = [
                ("application.returned", day(1)),
                ("application.resubmitted", day(3)),
                ("application.rejected", day(4)),
                ("application.reconsideration_requested", day(5)),
                ("application.reconsideration_granted", day(5, 17)),
            ]
            steps = [(action, reconsidered, at) for action, at in before_request]
            steps += [
                ("application.returned", reconsidered, day(6)),
                ("application.resubmitted", reconsidered, day(10)),
            ]
            steps += [(action, not_after, at) for action, at in before_request]
            steps += [
                ("application.returned", returned_only, day(1)),
                ("application.resubmitted", returned_only, day(3)),
            ]
            for seq, (action, entity_id, at) in enumerate(steps, start=30_000):
                _event(connection, seq, action, entity_id, at)
        migrations.upgrade(url, "agreements_0004")
        with engine.connect() as connection:
            backfilled = dict(
                connection.execute(text("SELECT id, review_clock_from FROM applications")).all()
            )
        migrations.upgrade(url, "agreements_0005")
        with engine.connect() as connection:
            found = dict(
                connection.execute(text("SELECT id, review_clock_from FROM applications")).all()
            )
        migrations.downgrade(url, "agreements_0004")
        with engine.connect() as connection:
            kept = dict(
                connection.execute(text("SELECT id, review_clock_from FROM applications")).all()
            )
    finally:
        engine.dispose()

    assert {key: _utc(value) for key, value in backfilled.items()} == {
        reconsidered: day(6),  # the first submission moved by all six days waited
        not_after: day(2),
        returned_only: day(2),
    }
    assert {key: _utc(value) for key, value in found.items()} == {
        reconsidered: day(9),  # the request (day 5) moved by the four days after it
        not_after: day(2),  # before its request, so not read: the request counts
        returned_only: day(2),
    }
    assert kept == found


def test_operations_0002_keeps_each_jobs_last_run_id_beside_the_runs_recorded_before_it(
    database_at: _DatabasesAt,
) -> None:
    """Round 42: a job's run record named no run, so an operator could not go from
    `jobs status` to the run's log lines. operations_0002 adds `last_run_id`; a run
    recorded before it keeps its row (no id), and the downgrade drops the column."""
    url = database_at("operations_0001")

    def columns() -> set[str]:
        engine = make_engine(url)
        try:
            with engine.connect() as connection:
                return {c["name"] for c in inspect(connection).get_columns("job_runs")}
        finally:
            engine.dispose()

    assert "last_run_id" not in columns()
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO job_runs (job, first_started_at, last_started_at, last_ok)"
                    " VALUES ('outbox send', :at, :at, :ok)"
                ),
                {"at": datetime(2026, 12, 4, 18, 1, tzinfo=UTC), "ok": True},
            )
    finally:
        engine.dispose()
    migrations.upgrade(url, "operations_0002")
    assert "last_run_id" in columns()
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            rows = connection.execute(text("SELECT job, last_run_id FROM job_runs")).all()
            assert [tuple(row) for row in rows] == [("outbox send", None)]
            connection.execute(text("UPDATE job_runs SET last_run_id = 'a41be07c9d12'"))
    finally:
        engine.dispose()
    migrations.downgrade(url, "operations_0001")
    assert "last_run_id" not in columns()
    migrations.upgrade(url, "operations_0002")


def test_operations_0003_keeps_each_jobs_recent_runs_beside_its_last(
    database_at: _DatabasesAt,
) -> None:
    """Round 47: only each job's last run was kept. operations_0003 adds
    `job_run_history` (empty: the runs before it left their last alone) with its
    (job, id) index; the downgrade drops it and keeps `job_runs`."""
    url = database_at("operations_0002")

    def tables() -> tuple[set[str], set[str]]:
        engine = make_engine(url)
        try:
            with engine.connect() as connection:
                schema = inspect(connection)
                names = set(schema.get_table_names())
                indexes = (
                    {index["name"] or "" for index in schema.get_indexes("job_run_history")}
                    if "job_run_history" in names
                    else set()
                )
                return names, indexes
        finally:
            engine.dispose()

    names, _indexes = tables()
    assert "job_run_history" not in names
    assert "job_runs" in names
    migrations.upgrade(url, "operations_0003")
    names, indexes = tables()
    assert "job_run_history" in names
    assert "ix_job_run_history_job_id" in indexes
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            assert connection.execute(text("SELECT count(*) FROM job_run_history")).scalar() == 0
            connection.execute(
                text(
                    "INSERT INTO job_run_history (job, run_id, ok, summary)"
                    " VALUES ('outbox send', 'a41be07c9d12', :ok, '1 sent')"
                ),
                {"ok": True},
            )
    finally:
        engine.dispose()
    migrations.downgrade(url, "operations_0002")
    names, _indexes = tables()
    assert "job_run_history" not in names
    assert "job_runs" in names
    migrations.upgrade(url, "operations_0003")


def _agreement_with_periods(
    connection: Connection,
    organization_id: int,
    number: int,
    activated_at: datetime | None,
    dues: tuple[date, ...],
) -> int:
    issued = datetime(2027, 1, 2, 12, 0, tzinfo=UTC)
    user_id = connection.execute(
        text("SELECT id FROM users WHERE organization_id = :o"), {"o": organization_id}
    ).scalar_one()
    application_id = _insert(
        connection,
        "applications",
        organization_id=organization_id,
        created_by_id=user_id,
        state="approved",
        submitted_at=issued,
        created_at=issued,
        updated_at=issued,
    )
    quote_id = _insert(
        connection,
        "application_quotes",
        application_id=application_id,
        version=1,
        kind="submitted",
        rate_card="2027.1",
        currency="USD",
        total=0,
        term_start=date(2027, 1, 1),
        term_end=date(2027, 12, 31),
        snapshot_json="{}",
        modifications_json="[]",
        created_at=issued,
        created_by="Rosa Lindqvist",
    )
    agreement_id = _insert(
        connection,
        "agreements",
        number=f"CPT-2027-{number:06d}",
        organization_id=organization_id,
        application_id=application_id,
        quote_id=quote_id,
        state="active" if activated_at else "expired",
        term_start=date(2027, 1, 1),
        term_end=date(2027, 12, 31),
        rate_card="2027.1",
        currency="USD",
        total=0,
        payment_terms_days=30,
        late_fee_monthly_percent=0,
        pdf=b"%PDF-",
        pdf_sha256="a" * 64,
        issued_at=issued,
        activated_at=activated_at,
    )
    for index, due_on in enumerate(dues, start=1):
        _insert(
            connection,
            "reporting_periods",
            agreement_id=agreement_id,
            agreement_number=f"CPT-2027-{number:06d}",
            organization_id=organization_id,
            period_index=index,
            period_start=due_on - timedelta(days=120),
            period_end=due_on - timedelta(days=30),
            due_on=due_on,
        )
    return agreement_id


def test_royalties_0006_keeps_each_period_late_from_its_due_date_or_a_later_acceptances_office_day(
    database_at: _DatabasesAt,
) -> None:
    """A period due before its agreement was accepted is late from the acceptance's
    office day (US Central: 03:00 UTC on 20 July is still 19 July there); the others,
    and an agreement never accepted, from their due dates."""
    url = database_at("royalties_0005")
    dues = (date(2027, 4, 30), date(2027, 7, 30), date(2027, 10, 30))
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            organization_id, _user = _organization_and_user(connection, "member")
            accepted = datetime(2027, 7, 20, 3, 0, tzinfo=UTC)
            late = _agreement_with_periods(connection, organization_id, 1, accepted, dues)
            never = _agreement_with_periods(connection, organization_id, 2, None, dues)
            connection.commit()
        migrations.upgrade(url, "royalties_0006")
        with engine.connect() as connection:
            stored = connection.execute(
                text(
                    "SELECT agreement_id, due_on, late_from FROM reporting_periods "
                    "ORDER BY agreement_id, due_on"
                )
            ).all()
            with pytest.raises(IntegrityError):
                connection.execute(text("UPDATE reporting_periods SET late_from = '2027-01-01'"))
    finally:
        engine.dispose()
    accepted_on = date(2027, 7, 19)
    assert [(row[0], _day(row[1]), _day(row[2])) for row in stored] == [
        (late, dues[0], accepted_on),
        (late, dues[1], dues[1]),
        (late, dues[2], dues[2]),
        (never, dues[0], dues[0]),
        (never, dues[1], dues[1]),
        (never, dues[2], dues[2]),
    ]


def _day(value: object) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def test_accounts_0010_keys_every_organizations_name_for_any_case_in_any_script(
    database_at: _DatabasesAt,
) -> None:
    """Round 51: names were matched with the database's `lower()`, ASCII letters only.
    accounts_0010 adds `legal_name_key` and keys the organizations already there, more
    than a batch of them, as the service keys a new one (`name_key`); the downgrade
    drops it, and upgrading again keys them again."""
    url = database_at("accounts_0009")
    names = [
        "ÉCOLE Médicale",
        "Straße Analytics GmbH",
        "\ufb01ne \uff24ata",
        "Kestrel Health Software",
    ]
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            assert "legal_name_key" not in {
                c["name"] for c in inspect(connection).get_columns("organizations")
            }
            before = connection.execute(text("SELECT count(*) FROM organizations")).scalar_one()
            organizations = sql_table(
                "organizations", *(column(name) for name in _ORGANIZATION_ROW), column("id")
            )
            rows = [
                {**_ORGANIZATION_ROW, "legal_name": names[index % len(names)]}
                for index in range(503)  # more than a batch of the migration's (500)
            ]
            connection.execute(insert(organizations), rows)
    finally:
        engine.dispose()

    migrations.upgrade(url, "accounts_0010")

    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            keyed = connection.execute(
                text("SELECT legal_name, legal_name_key FROM organizations")
            ).all()
            assert len(keyed) == before + len(rows)
            assert all(key == name_key(name) for name, key in keyed)
            assert {key for name, key in keyed if name in names} == {
                "école médicale",
                "strasse analytics gmbh",
                "fine data",
                "kestrel health software",
            }
            schema = inspect(connection)
            assert "ix_organizations_legal_name_key" in {
                index["name"] for index in schema.get_indexes("organizations")
            }
            assert not next(
                c for c in schema.get_columns("organizations") if c["name"] == "legal_name_key"
            )["nullable"]
    finally:
        engine.dispose()
    migrations.downgrade(url, "accounts_0009")
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            assert "legal_name_key" not in {
                c["name"] for c in inspect(connection).get_columns("organizations")
            }
    finally:
        engine.dispose()
    migrations.upgrade(url, "accounts_0010")


_PEOPLE = ["Jana MÜLLER", "Ayşe Y\u0131lmaz", "ΣΟΦΊΑ Παπαδοπούλου", "\ufb01ona \uff2belly"]


def _columns(connection: Connection, table: str) -> set[str]:
    return {c["name"] for c in inspect(connection).get_columns(table)}


def test_accounts_0011_keys_every_users_name_for_any_case_in_any_script(
    database_at: _DatabasesAt,
) -> None:
    """Round 52: people were searched with the database's `lower()`, ASCII letters
    only. accounts_0011 adds `full_name_key` and keys the users already there, more
    than a batch of them, as the service keys a new one (`name_key`); NOT NULL; the
    organizations are keyed again with round 52's Turkish i's; the downgrade drops the
    users' key, and upgrading again keys them again."""
    url = database_at("accounts_0010")
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            assert "full_name_key" not in _columns(connection, "users")
            organization_id, _ = _organization_and_user(connection, "administrator")
            users = sql_table("users", *(column(name) for name in _USER_ROW), column("id"))
            rows = [
                {
                    **_USER_ROW,
                    "email": f"person-{index}@kestrel.example",
                    "full_name": _PEOPLE[index % len(_PEOPLE)],
                    "organization_id": organization_id,
                }
                for index in range(503)  # more than a batch of the migration's (500)
            ]
            connection.execute(insert(users), rows)
            turkish = _insert(
                connection,
                "organizations",
                **{
                    **_ORGANIZATION_ROW,
                    "legal_name": "İstanbul Yaz\u0131l\u0131m",
                    "legal_name_key": "i\u0307stanbul yaz\u0131l\u0131m",  # accounts_0010's
                },
            )
    finally:
        engine.dispose()

    migrations.upgrade(url, "accounts_0011")

    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            keyed = connection.execute(text("SELECT full_name, full_name_key FROM users")).all()
            assert len(keyed) >= len(rows)
            assert all(key == name_key(name) for name, key in keyed)
            assert {key for name, key in keyed if name in _PEOPLE} == {
                "jana müller",
                "ayşe yilmaz",
                "σοφια παπαδοπουλου",
                "fiona kelly",
            }
            # The organization keyed by accounts_0010's function, keyed again.
            assert (
                connection.execute(
                    text("SELECT legal_name_key FROM organizations WHERE id = :o"),
                    {"o": turkish},
                ).scalar_one()
                == "istanbul yazilim"
            )
            assert not next(
                c for c in inspect(connection).get_columns("users") if c["name"] == "full_name_key"
            )["nullable"]
    finally:
        engine.dispose()
    migrations.downgrade(url, "accounts_0010")
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            assert "full_name_key" not in _columns(connection, "users")
    finally:
        engine.dispose()
    migrations.upgrade(url, "accounts_0011")


def test_permissions_0005_keys_every_requests_requester_and_institution(
    database_at: _DatabasesAt,
) -> None:
    """Round 52: the queue's search compared names with `lower()`. permissions_0005
    adds `requester_name_key` and `institution_key` and keys the requests already
    there, more than a batch, as the service keys a new one; NOT NULL; down and up."""
    url = database_at("permissions_0004")
    institutions = ["ÉCOLE normale supérieure", "Straße Institut", "İstanbul Üniversitesi"]
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            assert "institution_key" not in _columns(connection, "permission_requests")
            made = [
                _permission_request(connection, number, None, f"r{number}@school.example")
                for number in range(1, 504)  # more than a batch of the migration's (500)
            ]
            for index, request_id in enumerate(made):
                connection.execute(
                    text(
                        "UPDATE permission_requests SET requester_name = :n, institution = :i "
                        "WHERE id = :r"
                    ),
                    {
                        "n": _PEOPLE[index % len(_PEOPLE)],
                        "i": institutions[index % len(institutions)],
                        "r": request_id,
                    },
                )
    finally:
        engine.dispose()

    migrations.upgrade(url, "permissions_0005")

    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            keyed = connection.execute(
                text(
                    "SELECT requester_name, requester_name_key, institution, institution_key "
                    "FROM permission_requests"
                )
            ).all()
            assert len(keyed) == len(made)
            assert all(
                name_key(name) == name_found and name_key(place) == place_found
                for name, name_found, place, place_found in keyed
            )
            assert {row[3] for row in keyed} == {
                "école normale supérieure",
                "strasse institut",
                "istanbul üniversitesi",
            }
            columns = inspect(connection).get_columns("permission_requests")
            assert not any(
                c["nullable"]
                for c in columns
                if c["name"] in {"requester_name_key", "institution_key"}
            )
    finally:
        engine.dispose()
    migrations.downgrade(url, "permissions_0004")
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            assert not {"requester_name_key", "institution_key"} & _columns(
                connection, "permission_requests"
            )
    finally:
        engine.dispose()
    migrations.upgrade(url, "permissions_0005")


def test_accounts_0012_files_every_organization_and_address_as_readers_do(
    database_at: _DatabasesAt,
) -> None:
    """Round 53: the lists of organizations and users were ordered by the stored key's
    or address's bytes ("école" after "zeta"). accounts_0012 adds `legal_name_sort_key`
    and `email_sort_key`, keys the rows already there, more than a batch, as the
    service keys a new one (`sort_key`); NOT NULL, indexed with the id; down and up."""
    url = database_at("accounts_0011")
    names = ["zeta Labs", "École Alpha", "ecole Alpha", "Øster Data", "ALPHA"]
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            assert "legal_name_sort_key" not in _columns(connection, "organizations")
            organizations = sql_table(
                "organizations",
                *(column(name) for name in _ORGANIZATION_ROW),
                column("legal_name_key"),
            )
            connection.execute(
                insert(organizations),
                [
                    {
                        **_ORGANIZATION_ROW,
                        "legal_name": names[index % len(names)],
                        "legal_name_key": name_key(names[index % len(names)]),
                    }
                    for index in range(503)  # more than a batch of the migration's (500)
                ],
            )
            organization_id, _ = _organization_and_user(connection, "administrator")
            users = sql_table(
                "users", *(column(name) for name in _USER_ROW), column("full_name_key")
            )
            connection.execute(
                insert(users),
                [
                    {
                        **_USER_ROW,
                        "email": email,
                        "full_name_key": "",
                        "organization_id": organization_id,
                    }
                    for email in ("zed@x.example", "élodie@x.example", "eli@x.example")
                ],
            )
    finally:
        engine.dispose()

    migrations.upgrade(url, "accounts_0012")

    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            rows = connection.execute(
                text("SELECT legal_name, legal_name_sort_key FROM organizations")
            ).all()
            assert len(rows) > 503
            assert all(bytes(key) == sort_key(name) for name, key in rows)
            ordered = connection.execute(
                text(
                    "SELECT DISTINCT legal_name, legal_name_sort_key FROM organizations "
                    "WHERE legal_name <> 'Kestrel Health Software' ORDER BY legal_name_sort_key"
                )
            ).all()
            assert [name for name, _key in ordered] == [
                "ALPHA",
                "ecole Alpha",
                "École Alpha",
                "Øster Data",
                "zeta Labs",
            ]
            emails = connection.execute(
                text(
                    "SELECT email FROM users WHERE email LIKE '%@x.example' ORDER BY email_sort_key"
                )
            ).scalars()
            assert list(emails) == ["eli@x.example", "élodie@x.example", "zed@x.example"]
            for table, key in (
                ("organizations", "legal_name_sort_key"),
                ("users", "email_sort_key"),
            ):
                assert not next(
                    c for c in inspect(connection).get_columns(table) if c["name"] == key
                )["nullable"]
                indexes = {
                    i["name"]: i["column_names"] for i in inspect(connection).get_indexes(table)
                }
                assert indexes[f"ix_{table}_{key}"] == [key, "id"]
    finally:
        engine.dispose()
    migrations.downgrade(url, "accounts_0011")
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            assert "legal_name_sort_key" not in _columns(connection, "organizations")
            assert "email_sort_key" not in _columns(connection, "users")
    finally:
        engine.dispose()
    migrations.upgrade(url, "accounts_0012")


_USER_ROW = {
    "email": "",
    "password_hash": "x",
    "full_name": "",
    "organization_id": None,
    "organization_role": "member",
    "staff_roles": "",
    "failed_login_count": 0,
    "is_active": True,
    "created_at": datetime(2026, 12, 3, 12, 0, tzinfo=UTC),
}


_ORGANIZATION_ROW = {
    "legal_name": "",
    "organization_type": "commercial",
    "address_line1": "1 Quay Street",
    "city": "Portland",
    "country": "US",
    "billing_contact_name": "Rosa Lindqvist",
    "billing_email": "ap@kestrel.example",
    "standing": "active",
    "created_at": datetime(2026, 12, 3, 12, 0, tzinfo=UTC),
}


def _agreement_columns(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return [column["name"] for column in inspect(connection).get_columns("agreements")]


def _agreement_rows(engine: Engine) -> list[tuple[object, ...]]:
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT id, number, state, pdf, pdf_sha256, issued_at, activated_at, ended_at, "
                "termination_reason, renewal_of_id, superseded_by_id, amounts_sha256, "
                "seal_key_id, seal FROM agreements ORDER BY id"
            )
        ).all()
    return [(*row[:3], bytes(row[3]), row[4], *map(_utc, row[5:8]), *row[8:]) for row in rows]


def test_agreements_0006_stores_the_pdf_after_the_row_on_sqlite_keeping_every_agreement(
    database_template: DatabaseTemplate, database_at: _DatabasesAt
) -> None:
    """Round 51: on SQLite the agreements table is rebuilt with `pdf` as its last
    column (a column after 51 KB of bytes is read through their overflow pages), every
    row, its bytes, its references and the table's constraints kept; the downgrade
    puts it back after `late_fee_monthly_percent`. PostgreSQL keeps such bytes out of
    line (TOAST): its table is left as it is, both ways."""
    url = database_at("agreements_0005")
    engine = make_engine(url)
    before = _agreement_columns(engine)
    assert before.index("pdf") == before.index("late_fee_monthly_percent") + 1
    issued = datetime(2027, 1, 4, 15, 0, tzinfo=UTC)
    pdfs = [bytes(range(256)) * 200, b"%PDF-1.4 " + bytes(reversed(range(256))) * 199]
    try:
        with engine.connect() as connection, connection.begin():
            organization_id, user_id = _organization_and_user(connection, "member")
            ids: list[int] = []
            for index, pdf in enumerate(pdfs, start=1):
                application_id = _insert(
                    connection,
                    "applications",
                    organization_id=organization_id,
                    created_by_id=user_id,
                    state="approved",
                    created_at=issued,
                    updated_at=issued,
                    renewal_of_id=ids[0] if ids else None,
                )
                quote_id = _insert(
                    connection,
                    "application_quotes",
                    application_id=application_id,
                    version=1,
                    kind="submitted",
                    rate_card="2027.1",
                    currency="USD",
                    total=250000,
                    term_start=date(2026 + index, 1, 1),
                    term_end=date(2026 + index, 12, 31),
                    snapshot_json="{}",
                    modifications_json="[]",
                    created_at=issued,
                    created_by="tests",
                )
                ids.append(
                    _insert(
                        connection,
                        "agreements",
                        number=f"CPT-{2026 + index}-00000{index}",
                        organization_id=organization_id,
                        application_id=application_id,
                        quote_id=quote_id,
                        state="active",
                        term_start=date(2026 + index, 1, 1),
                        term_end=date(2026 + index, 12, 31),
                        rate_card="2027.1",
                        currency="USD",
                        total=250000,
                        payment_terms_days=30,
                        late_fee_monthly_percent=150,
                        pdf=pdf,
                        pdf_sha256=hashlib.sha256(pdf).hexdigest(),
                        issued_at=issued,
                        activated_at=issued + timedelta(days=index),
                        renewal_of_id=ids[0] if ids else None,
                        amounts_sha256="a" * 64,
                        seal_key_id="k1",
                        seal=str(index) * 64,
                    )
                )
            connection.execute(
                text("UPDATE agreements SET superseded_by_id = :renewal WHERE id = :first"),
                {"renewal": ids[1], "first": ids[0]},
            )
        stored = _agreement_rows(engine)
        assert [row[3] for row in stored] == pdfs

        migrations.upgrade(url, "agreements_0006")
        after = _agreement_columns(engine)
        if database_template.backend == "sqlite":
            assert after == [name for name in before if name != "pdf"] + ["pdf"]
        else:
            assert after == before
        assert _agreement_rows(engine) == stored
        assert _index_names(url, "agreements") >= {
            "ix_agreements_organization_id",
            "ix_agreements_state",
            "ix_agreements_term_end",
        }
        with engine.connect() as connection:
            renewing = connection.execute(
                text("SELECT renewal_of_id FROM applications WHERE renewal_of_id IS NOT NULL")
            ).scalar_one()
        assert renewing == ids[0]
        # Its constraints came with it: a number used twice, or a state it does not know.
        for changes in ({"number": "CPT-2027-000001"}, {"number": "CPT-2029-1", "state": "x"}):
            with (
                pytest.raises(IntegrityError),
                engine.connect() as connection,
                connection.begin(),
            ):
                connection.execute(
                    text("UPDATE agreements SET number = :number, state = :state WHERE id = :id"),
                    {"state": "active", **changes, "id": ids[1]},
                )

        migrations.downgrade(url, "agreements_0005")
        assert _agreement_columns(engine) == before
        assert _agreement_rows(engine) == stored
    finally:
        engine.dispose()
    migrations.upgrade(url, "agreements_0006")


def _indexes_among(url: str, wanted: dict[tuple[str, str], list[str]]) -> dict[Any, list[str]]:
    """Of the indexes `wanted` ((table, name): columns), those the database has, with
    their columns as it reports them."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            schema = inspect(connection)
            return {
                (table, index["name"]): list(index["column_names"])
                for table in {table for table, _name in wanted}
                for index in schema.get_indexes(table)
                if (table, index["name"]) in wanted
            }
    finally:
        engine.dispose()


def test_agreements_0007_indexes_each_order_the_agreements_are_listed_in(
    database_at: _DatabasesAt,
) -> None:
    """Round 52: the agreements lists (newest first, then the id; led by the filter
    each takes: none, the organization, the state) and the renewals due (the state,
    then term end and id) read a page in an index's order, and each agreement's
    renewal is found by its application's `renewal_of_id`; the downgrade drops the
    indexes and keeps the ones before them."""
    indexes = {
        ("agreements", "ix_agreements_issued_order"): ["issued_at", "id"],
        ("agreements", "ix_agreements_organization_issued_order"): [
            "organization_id",
            "issued_at",
            "id",
        ],
        ("agreements", "ix_agreements_state_issued_order"): ["state", "issued_at", "id"],
        ("agreements", "ix_agreements_state_term_end_order"): ["state", "term_end", "id"],
        ("applications", "ix_applications_renewal_of_id"): ["renewal_of_id"],
    }
    kept = {"ix_agreements_organization_id", "ix_agreements_state", "ix_agreements_term_end"}
    url = database_at("agreements_0006")

    assert _indexes_among(url, indexes) == {}
    assert _index_names(url, "agreements") >= kept
    migrations.upgrade(url, "agreements_0007")
    assert _indexes_among(url, indexes) == indexes
    migrations.downgrade(url, "agreements_0006")
    assert _indexes_among(url, indexes) == {}
    assert _index_names(url, "agreements") >= kept
    migrations.upgrade(url, "agreements_0007")


def test_billing_0020_indexes_the_day_each_reversal_and_credit_note_was_recorded(
    database_at: _DatabasesAt,
) -> None:
    """Round 52: the invoices' nightly pull finds the day's payment reversals and credit
    notes by the time each was recorded (it read every one), and the invoice lists
    read a page in the order of an index; the downgrade drops the indexes."""
    indexes = {
        ("payment_reversals", "ix_payment_reversals_created_at"): ["created_at"],
        ("credit_notes", "ix_credit_notes_issued_at"): ["issued_at"],
        ("invoices", "ix_invoices_created_order"): ["created_at", "id"],
    }
    url = database_at("billing_0019")

    assert _indexes_among(url, indexes) == {}
    migrations.upgrade(url, "billing_0020")
    assert _indexes_among(url, indexes) == indexes
    migrations.downgrade(url, "billing_0019")
    assert _indexes_among(url, indexes) == {}
    migrations.upgrade(url, "billing_0020")


def test_billing_0022_indexes_each_time_a_refund_is_recorded_sent_or_failed(
    database_at: _DatabasesAt,
) -> None:
    """Round 54: the refunds' and invoices' nightly pulls find the day's refunds by
    the time each was recorded, sent or failed (they read every refund); the
    downgrade drops the indexes."""
    indexes = {
        ("refunds", "ix_refunds_created_at"): ["created_at"],
        ("refunds", "ix_refunds_settled_at"): ["settled_at"],
        ("refunds", "ix_refunds_failed_at"): ["failed_at"],
    }
    url = database_at("billing_0021")

    assert _indexes_among(url, indexes) == {}
    migrations.upgrade(url, "billing_0022")
    assert _indexes_among(url, indexes) == indexes
    migrations.downgrade(url, "billing_0021")
    assert _indexes_among(url, indexes) == {}
    migrations.upgrade(url, "billing_0022")


def test_billing_0024_indexes_the_invoices_by_issue_date_in_the_exports_order(
    database_at: _DatabasesAt,
) -> None:
    """Round 56: the invoices and invoice-lines exports of a month by issue date read
    the whole invoices table; billing_0024 indexes them in the exports' order (issue
    date, then id) and its downgrade drops the index."""
    indexes = {("invoices", "ix_invoices_issue_order"): ["issue_date", "id"]}
    url = database_at("billing_0023")

    assert _indexes_among(url, indexes) == {}
    migrations.upgrade(url, "billing_0024")
    assert _indexes_among(url, indexes) == indexes
    migrations.downgrade(url, "billing_0023")
    assert _indexes_among(url, indexes) == {}
    migrations.upgrade(url, "billing_0024")


def test_billing_0025_indexes_the_invoices_by_their_paid_time(
    database_at: _DatabasesAt,
) -> None:
    """Round 56 (finance56b): the invoices and invoice-lines exports of some days by
    paid date read the whole invoices table; billing_0025 indexes `paid_at` and its
    downgrade drops the index."""
    indexes = {("invoices", "ix_invoices_paid_at"): ["paid_at"]}
    url = database_at("billing_0024")

    assert _indexes_among(url, indexes) == {}
    migrations.upgrade(url, "billing_0025")
    assert _indexes_among(url, indexes) == indexes
    migrations.downgrade(url, "billing_0024")
    assert _indexes_among(url, indexes) == {}
    migrations.upgrade(url, "billing_0025")


def test_finance_0003_indexes_the_invoices_by_currency(
    database_at: _DatabasesAt,
) -> None:
    """Round 57 (homeread57): the Finance page's currency filter read every invoice;
    finance_0003 indexes (currency, state) and its downgrade drops the index."""
    indexes = {("invoices", "ix_invoices_currency_state"): ["currency", "state"]}
    url = database_at("finance_0002")

    assert _indexes_among(url, indexes) == {}
    migrations.upgrade(url, "finance_0003")
    assert _indexes_among(url, indexes) == indexes
    migrations.downgrade(url, "finance_0002")
    assert _indexes_among(url, indexes) == {}
    migrations.upgrade(url, "finance_0003")


def test_finance_0004_keys_every_credit_notes_reason_for_any_case_in_any_script(
    database_at: _DatabasesAt,
) -> None:
    """Round 58 (financelinks58): the credit-notes list searched the reason with
    `ILIKE`, which folds ASCII letters only on SQLite. finance_0004 adds `reason_key`
    and keys the notes already there, more than a batch, as the model keys a new one
    (`name_key`); NOT NULL; the downgrade drops it, and upgrading again keys them."""
    url = database_at("finance_0003")
    reasons = ["Émile's seats", "STRASSE office closed", "İstanbul licence"]
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            assert "reason_key" not in _columns(connection, "credit_notes")
            organization_id, _ = _organization_and_user(connection, "member")
            invoice_id = _invoice(connection, organization_id, "manual", 1)
            for number in range(1, 503):  # more than a batch of the migration's (500)
                _insert(
                    connection,
                    "credit_notes",
                    number=f"CN-2027-{number:06d}",
                    invoice_id=invoice_id,
                    organization_id=organization_id,
                    currency="USD",
                    amount=1,
                    applied_to_balance=1,
                    refund_due=0,
                    reason=reasons[number % len(reasons)],
                    issue_date=date(2027, 3, 10),
                    issued_at=datetime(2027, 3, 10, 12, 0, tzinfo=UTC),
                    issued_by="clerk@example.com",
                )
        for _ in range(2):
            migrations.upgrade(url, "finance_0004")
            with engine.connect() as connection:
                keyed = connection.execute(text("SELECT reason, reason_key FROM credit_notes"))
                rows = keyed.all()
                nullable = {
                    c["name"]: c["nullable"]
                    for c in inspect(connection).get_columns("credit_notes")
                }
            assert len(rows) == 502
            assert dict(rows) == {reason: name_key(reason) for reason in reasons}
            assert name_key("émile") in name_key("Émile's seats")
            assert nullable["reason_key"] is False
            migrations.downgrade(url, "finance_0003")
            with engine.connect() as connection:
                assert "reason_key" not in _columns(connection, "credit_notes")
    finally:
        engine.dispose()
    migrations.upgrade(url, "finance_0004")


def test_billing_0026_marks_statements_with_late_entries_and_keeps_the_last_check(
    database_at: _DatabasesAt,
) -> None:
    """Round 56 (waiting56; renumbered from billing_0025 at the merge, after finance56b's
    index): the console home's changed statements read only the entries recorded since
    the last check; billing_0026 adds `sent_statements.late_entry_at`, the one-row
    `late_entry_checks`, the recorded-at indexes and the marked statements' partial
    index, and its downgrade drops them all."""
    indexes = {
        ("payments", "ix_payments_created_at"): ["created_at"],
        ("invoices", "ix_invoices_finalized_at"): ["finalized_at"],
        ("invoices", "ix_invoices_voided_at"): ["voided_at"],
        ("sent_statements", "ix_sent_statements_late_entry_at"): ["late_entry_at"],
    }
    url = database_at("billing_0025")

    def marks() -> tuple[bool, bool]:
        engine = make_engine(url)
        try:
            inspector = inspect(engine)
            columns = {each["name"] for each in inspector.get_columns("sent_statements")}
            return "late_entry_at" in columns, "late_entry_checks" in inspector.get_table_names()
        finally:
            engine.dispose()

    assert marks() == (False, False)
    assert _indexes_among(url, indexes) == {}
    migrations.upgrade(url, "billing_0026")
    assert marks() == (True, True)
    assert _indexes_among(url, indexes) == indexes
    migrations.downgrade(url, "billing_0025")
    assert marks() == (False, False)
    assert _indexes_among(url, indexes) == {}
    migrations.upgrade(url, "billing_0026")


def test_royalties_0008_indexes_the_periods_and_reports_the_vendor_dashboard_reads(
    database_at: _DatabasesAt,
) -> None:
    """The vendor dashboard reads an organization's periods by their end and the keys
    their current report is found by, and the reports sent back by organization and
    review state (round 52); royalties_0008 adds those indexes and its downgrade drops
    them."""
    indexes = {
        ("reporting_periods", "ix_reporting_periods_organization_end"): [
            "organization_id",
            "period_end",
            "agreement_id",
            "period_start",
        ],
        ("royalty_reports", "ix_royalty_reports_organization_review"): [
            "organization_id",
            "review_state",
        ],
    }
    url = database_at("royalties_0007")

    assert _indexes_among(url, indexes) == {}
    # Round 55: royalties_0011 drops the periods' index, so up to royalties_0008's own.
    migrations.upgrade(url, "royalties_0008")
    assert _indexes_among(url, indexes) == indexes
    migrations.downgrade(url, "royalties_0007")
    assert _indexes_among(url, indexes) == {}


def test_royalties_0011_indexes_the_vendors_list_orders_and_drops_the_index_nothing_reads(
    database_at: _DatabasesAt,
) -> None:
    """Round 55: the vendor's list reads its periods still to file, the longest late
    first, and its filed ones, newest first, each from an index led by the
    organization and `filed`; `ix_reporting_periods_organization_end` is dropped (no
    statement read it at size on either database). The downgrade undoes both."""
    added = {
        ("reporting_periods", "ix_reporting_periods_organization_late_order"): [
            "organization_id",
            "filed",
            "late_from",
            "agreement_number",
            "id",
        ],
        ("reporting_periods", "ix_reporting_periods_organization_due_order"): [
            "organization_id",
            "filed",
            "due_on",
            "agreement_number",
            "id",
        ],
    }
    dropped = {
        ("reporting_periods", "ix_reporting_periods_organization_end"): [
            "organization_id",
            "period_end",
            "agreement_id",
            "period_start",
        ]
    }
    url = database_at("royalties_0011")

    assert _indexes_among(url, {**added, **dropped}) == added
    migrations.downgrade(url, "royalties_0010")
    assert _indexes_among(url, {**added, **dropped}) == dropped
    migrations.upgrade(url, "royalties_0011")
    assert _indexes_among(url, {**added, **dropped}) == added


def test_agreements_0009_indexes_a_vendors_agreements_by_number(
    database_at: _DatabasesAt,
) -> None:
    """Round 55: a vendor's agreements by number read an index led by the
    organization; the downgrade drops it."""
    added = {("agreements", "ix_agreements_organization_number"): ["organization_id", "number"]}
    url = database_at("agreements_0009")

    assert _indexes_among(url, added) == added
    migrations.downgrade(url, "agreements_0008")
    assert _indexes_among(url, added) == {}
    migrations.upgrade(url, "agreements_0009")
    assert _indexes_among(url, added) == added


def test_royalties_0010_marks_filed_each_period_with_a_current_report(
    database_at: _DatabasesAt,
) -> None:
    """Round 53: a period records whether it has its current report, for the vendor
    dashboard's index of the periods still to file. royalties_0010 marks the periods
    already filed (a current report; a superseded one alone is not), indexes them by
    organization, `filed` and end, and its downgrade drops both."""
    url = database_at("royalties_0009")
    engine = make_engine(url)
    starts = (date(2027, 1, 1), date(2027, 4, 1), date(2027, 7, 1))
    try:
        with engine.connect() as connection:
            organization_id, user_id = _organization_and_user(connection, "member")
            accepted = datetime(2027, 1, 2, 12, 0, tzinfo=UTC)
            agreement_id = _agreement_with_periods(connection, organization_id, 1, accepted, ())
            for index, start in enumerate(starts, start=1):
                due_on = start + timedelta(days=120)
                _insert(
                    connection,
                    "reporting_periods",
                    agreement_id=agreement_id,
                    agreement_number="CPT-2027-000001",
                    organization_id=organization_id,
                    period_index=index,
                    period_start=start,
                    period_end=start + timedelta(days=89),
                    due_on=due_on,
                    late_from=due_on,
                )
            for start, state in ((starts[0], "superseded"), (starts[0], "submitted")):
                _insert(
                    connection,
                    "royalty_reports",
                    agreement_id=agreement_id,
                    organization_id=organization_id,
                    period_index=1,
                    period_start=start,
                    period_end=start + timedelta(days=89),
                    state=state,
                    review_state="clear",
                    source="json",
                    file_sha256="f" * 64,
                    row_count=0,
                    currency="USD",
                    total_due=0,
                    credit_notes_json="[]",
                    flags_json="[]",
                    submitted_by_id=user_id,
                    submitted_by="Rosa Lindqvist",
                    submitted_at=datetime(2027, 4, 1, 12, 0, tzinfo=UTC),
                )
            # The second quarter has only a superseded report (by hand): not filed.
            _insert(
                connection,
                "royalty_reports",
                agreement_id=agreement_id,
                organization_id=organization_id,
                period_index=2,
                period_start=starts[1],
                period_end=starts[1] + timedelta(days=90),
                state="superseded",
                review_state="clear",
                source="json",
                file_sha256="e" * 64,
                row_count=0,
                currency="USD",
                total_due=0,
                credit_notes_json="[]",
                flags_json="[]",
                submitted_by_id=user_id,
                submitted_by="Rosa Lindqvist",
                submitted_at=datetime(2027, 7, 1, 12, 0, tzinfo=UTC),
            )
            connection.commit()
        migrations.upgrade(url, "royalties_0010")
        with engine.connect() as connection:
            filed = connection.execute(
                text("SELECT filed FROM reporting_periods ORDER BY period_start")
            ).all()
    finally:
        engine.dispose()
    assert [bool(row[0]) for row in filed] == [True, False, False]
    index = {
        ("reporting_periods", "ix_reporting_periods_organization_unfiled"): [
            "organization_id",
            "filed",
            "period_end",
            "agreement_id",
            "period_start",
        ]
    }
    assert _indexes_among(url, index) == index
    migrations.downgrade(url, "royalties_0009")
    assert _indexes_among(url, index) == {}
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            columns = {c["name"] for c in inspect(connection).get_columns("reporting_periods")}
    finally:
        engine.dispose()
    assert "filed" not in columns
    migrations.upgrade(url, "royalties_0010")


def test_operations_0007_indexes_an_organizations_invoices_in_the_lists_order(
    database_at: _DatabasesAt,
) -> None:
    """Round 56: the vendor's invoices and the API's sorted and counted every invoice
    of the organization for any page; operations_0007 indexes them by organization
    in the lists' order with their state, and its downgrade drops the index."""
    indexes = {
        ("invoices", "ix_invoices_organization_created_order"): [
            "organization_id",
            "created_at",
            "id",
            "state",
        ]
    }
    url = database_at("operations_0007")

    assert _indexes_among(url, indexes) == indexes
    migrations.downgrade(url, "operations_0006")
    assert _indexes_among(url, indexes) == {}
    assert _indexes_among(url, {("invoices", "ix_invoices_late_fees"): []}) != {}
    migrations.upgrade(url, "operations_0007")
    assert _indexes_among(url, indexes) == indexes


def test_operations_0006_indexes_the_late_fees_alone_by_organization_and_id(
    database_at: _DatabasesAt,
) -> None:
    """Round 55: the overdue run's sweep for late fees no email has named read every
    invoice (no index on the source); operations_0006 indexes the late fees alone
    (partial) by organization and id, and its downgrade drops the index."""
    indexes = {("invoices", "ix_invoices_late_fees"): ["organization_id", "id"]}
    url = database_at("operations_0006")

    assert _indexes_among(url, indexes) == indexes
    migrations.downgrade(url, "operations_0005")
    assert _indexes_among(url, indexes) == {}
    migrations.upgrade(url, "operations_0006")
    assert _indexes_among(url, indexes) == indexes


def test_operations_0005_gives_each_late_fee_the_month_it_charges_through_and_refuses_one_without(
    database_at: _DatabasesAt,
) -> None:
    """Round 54: the late fees before it count their lines (one a month) over their
    parent's late fees up to each; other invoices have none. Then a late fee inserted
    as the code before it does, without the column, is refused (its worker, until the
    reload, would email fees the new code emails again), any other invoice is not. The
    downgrade drops the column and its check."""
    url = database_at("operations_0004")
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            organization_id, _ = _organization_and_user(connection, "member")
            parent = _invoice(connection, organization_id, "manual", 1)
            fees = []
            for months in (2, 1):  # a first fee for months 1-2, a second for month 3
                fee = _invoice(connection, organization_id, "late_fee", parent)
                connection.execute(
                    text("UPDATE invoices SET parent_invoice_id = :parent WHERE id = :id"),
                    {"parent": parent, "id": fee},
                )
                for position in range(months):
                    _insert(
                        connection,
                        "invoice_lines",
                        invoice_id=fee,
                        position=position,
                        description="Late fee",
                        amount=0,
                    )
                fees.append(fee)
            connection.commit()
        migrations.upgrade(url, "operations_0005")
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT id, late_fee_through_month FROM invoices"))
            found = {row[0]: row[1] for row in rows}
            assert found == {parent: None, fees[0]: 2, fees[1]: 3}
            connection.rollback()
            with pytest.raises(IntegrityError), connection.begin():
                _invoice(connection, organization_id, "late_fee", parent)
            with connection.begin():
                _invoice(connection, organization_id, "manual", 2)
        migrations.downgrade(url, "operations_0004")
        with engine.connect() as connection:
            columns = {each["name"] for each in inspect(connection).get_columns("invoices")}
            assert "late_fee_through_month" not in columns
            connection.rollback()
            with connection.begin():
                _invoice(connection, organization_id, "late_fee", parent)
    finally:
        engine.dispose()
    migrations.upgrade(url, "operations_0005")


def _issued_agreement(
    connection: Connection, organization_id: int, user_id: int, number: str, **values: object
) -> tuple[int, int]:
    """An application approved and its agreement issued, as agreements_0007 stores them:
    the application's id and the agreement's."""
    issued = datetime(2027, 1, 4, 15, 0, tzinfo=UTC)
    application_id = int(values.pop("application_id", 0)) or _insert(
        connection,
        "applications",
        organization_id=organization_id,
        created_by_id=user_id,
        state="approved",
        created_at=issued,
        updated_at=issued,
    )
    quote_id = _insert(
        connection,
        "application_quotes",
        application_id=application_id,
        version=int(values.pop("version", 1)),
        kind="submitted",
        rate_card="2027.1",
        currency="USD",
        total=250000,
        term_start=date(2027, 1, 1),
        term_end=date(2027, 12, 31),
        snapshot_json="{}",
        modifications_json="[]",
        created_at=issued,
        created_by="tests",
    )
    pdf = b"%PDF-1.4 " + number.encode() * 500
    agreement_id = _insert(
        connection,
        "agreements",
        number=number,
        organization_id=organization_id,
        application_id=application_id,
        quote_id=quote_id,
        state="issued",
        term_start=date(2027, 1, 1),
        term_end=date(2027, 12, 31),
        rate_card="2027.1",
        currency="USD",
        total=250000,
        payment_terms_days=30,
        late_fee_monthly_percent=150,
        pdf=pdf,
        pdf_sha256=hashlib.sha256(pdf).hexdigest(),
        issued_at=issued,
        **values,
    )
    return application_id, agreement_id


def test_agreements_0008_lets_an_agreement_be_replaced_by_its_reissue_and_keeps_one_live(
    database_template: DatabaseTemplate, database_at: _DatabasesAt
) -> None:
    """Round 55: an unaccepted agreement reissued on a corrected rate card is
    `replaced`, its reissue on the same application naming it (`reissue_of_id`, on
    SQLite before the PDF's bytes); every row kept; still one agreement not replaced
    per application. The downgrade refuses while one is replaced, then puts the
    unique application back."""
    url = database_at("agreements_0007")
    engine = make_engine(url)
    try:
        with engine.connect() as connection, connection.begin():
            organization_id, user_id = _organization_and_user(connection, "member")
            application_id, first = _issued_agreement(
                connection, organization_id, user_id, "CPT-2027-000001"
            )
        stored = _agreement_rows(engine)

        migrations.upgrade(url, "agreements_0008")
        columns = _agreement_columns(engine)
        assert "reissue_of_id" in columns
        if database_template.backend == "sqlite":
            assert columns[-2:] == ["reissue_of_id", "pdf"]
        assert _agreement_rows(engine) == stored
        with engine.connect() as connection, connection.begin():
            # A second live agreement of the application is refused ...
            with pytest.raises(IntegrityError), connection.begin_nested():
                _issued_agreement(
                    connection,
                    organization_id,
                    user_id,
                    "CPT-2027-000002",
                    application_id=application_id,
                    version=2,
                )
            # ... a reissue beside the one it replaces is not.
            connection.execute(
                text("UPDATE agreements SET state = 'replaced' WHERE id = :id"), {"id": first}
            )
            _, second = _issued_agreement(
                connection,
                organization_id,
                user_id,
                "CPT-2027-000003",
                application_id=application_id,
                version=3,
                reissue_of_id=first,
            )
        with pytest.raises(Exception, match="replaced by their reissue"):
            migrations.downgrade(url, "agreements_0007")

        with engine.connect() as connection, connection.begin():
            connection.execute(text("DELETE FROM agreements WHERE id = :id"), {"id": second})
            connection.execute(
                text("UPDATE agreements SET state = 'issued' WHERE id = :id"), {"id": first}
            )
        migrations.downgrade(url, "agreements_0007")
        assert "reissue_of_id" not in _agreement_columns(engine)
        assert _agreement_rows(engine) == stored
        with (
            pytest.raises(IntegrityError),
            engine.connect() as connection,
            connection.begin(),
        ):
            _issued_agreement(
                connection,
                organization_id,
                user_id,
                "CPT-2027-000004",
                application_id=application_id,
                version=4,
            )
    finally:
        engine.dispose()
    migrations.upgrade(url, "agreements_0008")


def test_billing_0023_keeps_an_offline_refunds_return_and_refuses_to_downgrade_while_one_is(
    database_at: _DatabasesAt,
) -> None:
    """Round 55: a wire, ACH or check refund the bank returned keeps the day it came
    back, why and who recorded it (`refunds.returned_on`, `return_reason`,
    `returned_by`). The downgrade refuses while any refund has a day of return (every
    dated sum would move it to the day it was recorded), and drops the columns once
    none has."""
    url = database_at("billing_0023")
    engine = make_engine(url)
    scale = 10_000 if engine.dialect.name == "sqlite" else 1
    try:
        with engine.connect() as connection, connection.begin():
            organization_id, _ = _organization_and_user(connection, "member")
            invoice_id = _invoice(connection, organization_id, "manual", 1)
            credit_note_id = _insert(
                connection,
                "credit_notes",
                number="CN-2027-000001",
                invoice_id=invoice_id,
                organization_id=organization_id,
                currency="USD",
                amount=50 * scale,
                applied_to_balance=0,
                refund_due=50 * scale,
                reason="Seat removed",
                **_reason_keyed(connection, "Seat removed"),
                issue_date=date(2027, 3, 10),
                issued_at=datetime(2027, 3, 10, 12, 0, tzinfo=UTC),
                issued_by="clerk@example.com",
            )
            refund_id = _insert(
                connection,
                "refunds",
                credit_note_id=credit_note_id,
                invoice_id=invoice_id,
                organization_id=organization_id,
                method="wire",
                state="failed",
                currency="USD",
                amount=50 * scale,
                recorded_by="clerk@example.com",
                created_at=datetime(2027, 3, 12, 12, 0, tzinfo=UTC),
                returned_on=date(2027, 3, 20),
                return_reason="Account closed",
                returned_by="clerk@example.com",
            )
        with pytest.raises(RuntimeError, match="billing_0023 cannot be downgraded"):
            migrations.downgrade(url, "billing_0022")
        with engine.connect() as connection, connection.begin():
            connection.execute(text("DELETE FROM refunds WHERE id = :id"), {"id": refund_id})
        migrations.downgrade(url, "billing_0022")
        with engine.connect() as connection:
            columns = {each["name"] for each in inspect(connection).get_columns("refunds")}
        assert not {"returned_on", "return_reason", "returned_by"} & columns
    finally:
        engine.dispose()
    migrations.upgrade(url, "billing_0023")


def test_billing_0027_keeps_each_stripe_events_outcome_whole_and_reads_its_kind(
    database_at: _DatabasesAt,
) -> None:
    """Round 58 (stripeevents58): `stripe_events.outcome` was cut at 200 characters;
    billing_0027 widens it to 2,000, reads each stored outcome's kind from its leading
    words (as `billing.models.stripe_event_kind` does), counts every stored event as
    delivered once and indexes the console's list; its downgrade cuts outcomes back to
    200 characters and drops the columns and indexes."""
    indexes = {
        ("stripe_events", "ix_stripe_events_received_order"): ["received_at", "id"],
        ("stripe_events", "ix_stripe_events_kind_received"): ["kind", "received_at"],
    }
    outcomes = {
        "evt_applied": "applied: card payment of INV-2027-000001 (Visa ending 4242) to INV-...",
        "evt_ignored": "ignored: event type not handled",
        "evt_unmatched": "not matched: dispute du_1: Stripe could not be asked; kept",
        "evt_nothing": "no change: intent is processing",
        "evt_empty": "",
        "evt_declined": "declined: card payment of INV-2027-000002",
    }
    events = sql_table(
        "stripe_events",
        column("event_id"),
        column("event_type"),
        column("outcome"),
        column("received_at"),
    )
    url = database_at("billing_0026")
    assert _indexes_among(url, indexes) == {}
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(
                insert(events),
                [
                    {
                        "event_id": event_id,
                        "event_type": "payment_intent.succeeded",
                        "outcome": outcome,
                        "received_at": datetime(2027, 3, 1, tzinfo=UTC),
                    }
                    for event_id, outcome in outcomes.items()
                ],
            )
    finally:
        engine.dispose()
    migrations.upgrade(url, "billing_0027")
    assert _indexes_among(url, indexes) == indexes
    long = "flagged: " + "x" * 1500
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            kinds = dict(
                connection.execute(
                    text("SELECT event_id, kind FROM stripe_events WHERE deliveries = 1")
                ).all()
            )
            connection.execute(
                text("UPDATE stripe_events SET outcome = :long WHERE event_id = 'evt_applied'"),
                {"long": long},
            )
            kept = connection.scalar(
                text("SELECT outcome FROM stripe_events WHERE event_id = 'evt_applied'")
            )
    finally:
        engine.dispose()
    assert kinds == {
        "evt_applied": "applied",
        "evt_ignored": "ignored",
        "evt_unmatched": "not_matched",
        "evt_nothing": "no_change",
        "evt_empty": "no_change",
        "evt_declined": "applied",
    }
    assert kept == long
    migrations.downgrade(url, "billing_0026")
    assert _indexes_among(url, indexes) == {}
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            cut = connection.scalar(
                text("SELECT outcome FROM stripe_events WHERE event_id = 'evt_applied'")
            )
            columns = {each["name"] for each in inspect(connection).get_columns("stripe_events")}
    finally:
        engine.dispose()
    assert cut == long[:200]
    assert not {"kind", "deliveries", "last_received_at", "object_id"} & columns
    migrations.upgrade(url, "billing_0027")


def test_billing_0028_admits_an_event_looked_at_with_its_note_and_its_downgrade_fails_it_again(
    database_at: _DatabasesAt,
) -> None:
    """Round 58 (replay58): billing_0028 lets `stripe_events.kind` be `looked_at` (a
    failed event billing staff looked at) and keeps the note, who and when; before it the
    CHECK refuses the kind. Its downgrade turns such an event back into a failed one and
    drops the note's columns."""
    url = database_at("billing_0027")
    row = {
        "event_id": "evt_looked",
        "event_type": "payment_intent.succeeded",
        "outcome": "failed: the event is not what its type says",
        "received_at": datetime(2027, 3, 1, tzinfo=UTC),
    }
    events = sql_table("stripe_events", *(column(name) for name in (*row, "kind")))
    engine = make_engine(url)
    try:
        with pytest.raises(IntegrityError), engine.begin() as connection:
            connection.execute(insert(events), [{**row, "kind": "looked_at"}])
        with engine.begin() as connection:
            connection.execute(insert(events), [{**row, "kind": "failed"}])
    finally:
        engine.dispose()
    migrations.upgrade(url, "billing_0028")
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "UPDATE stripe_events SET kind = 'looked_at', looked_at_note = :note, "
                    "looked_at_by = 'clerk@example.test' WHERE event_id = 'evt_looked'"
                ),
                {"note": "Resent from Stripe's dashboard"},
            )
            kept = connection.execute(text("SELECT kind, looked_at_note FROM stripe_events")).one()
    finally:
        engine.dispose()
    assert tuple(kept) == ("looked_at", "Resent from Stripe's dashboard")
    migrations.downgrade(url, "billing_0027")
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            kind = connection.scalar(text("SELECT kind FROM stripe_events"))
            columns = {each["name"] for each in inspect(connection).get_columns("stripe_events")}
    finally:
        engine.dispose()
    assert kind == "failed"
    assert not {"looked_at_note", "looked_at_by", "looked_at_at"} & columns
    migrations.upgrade(url, "billing_0028")


def _columns_of(url: str, table: str) -> set[str]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return {c["name"] for c in inspect(connection).get_columns(table)}
    finally:
        engine.dispose()


def test_agreements_0010_and_accounts_0013_keep_who_acted_by_account_and_downgrade_drops_it(
    database_at: _DatabasesAt,
) -> None:
    """Round 58: a quote version (`created_by_id`, agreements_0010) and a royalty review
    step (`taken_by_id`, accounts_0013) keep the account that acted beside its address,
    NULL for rows from before (named by their address, as then); each downgrade drops
    its column and the other keeps its own."""
    url = database_at("agreements_0010")
    assert "created_by_id" in _columns_of(url, "application_quotes")
    assert "taken_by_id" in _columns_of(url, "royalty_report_review_steps")
    migrations.downgrade(url, "agreements_0009")
    assert "created_by_id" not in _columns_of(url, "application_quotes")
    assert "taken_by_id" in _columns_of(url, "royalty_report_review_steps")
    migrations.downgrade(url, "accounts_0012")
    assert "taken_by_id" not in _columns_of(url, "royalty_report_review_steps")
    migrations.upgrade(url, "agreements_0010")
    migrations.upgrade(url, "accounts_0013")
    assert "created_by_id" in _columns_of(url, "application_quotes")
    assert "taken_by_id" in _columns_of(url, "royalty_report_review_steps")


def test_agreements_0011_keeps_who_decided_by_account_and_a_decision_from_before_by_address(
    database_at: _DatabasesAt,
) -> None:
    """Round 58: an application keeps the account that decided it (`decided_by_id`,
    agreements_0011) beside the address, a credit note the one that issued it
    (`issued_by_id`) and a rate card the one that published it (`published_by_id`); a
    decision taken before keeps its address and NULL (named by the address, as then),
    and the downgrade drops the three columns alone."""
    url = database_at("agreements_0011")
    assert "issued_by_id" in _columns_of(url, "credit_notes")
    assert "published_by_id" in _columns_of(url, "rate_cards")
    migrations.downgrade(url, "agreements_0010")
    assert "decided_by_id" not in _columns_of(url, "applications")
    assert "issued_by_id" not in _columns_of(url, "credit_notes")
    assert "published_by_id" not in _columns_of(url, "rate_cards")
    rejected = datetime(2027, 1, 4, 15, 0, tzinfo=UTC)
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            organization_id, user_id = _organization_and_user(connection, "member")
            application_id = _insert(
                connection,
                "applications",
                organization_id=organization_id,
                created_by_id=user_id,
                state="rejected",
                decision_reason="Not a use we license.",
                decided_at=rejected,
                decided_by="reviewer@cpt.example",
                created_at=rejected,
                updated_at=rejected,
            )
    finally:
        engine.dispose()
    migrations.upgrade(url, "agreements_0011")
    read = text("SELECT * FROM applications WHERE id = :id")
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            row = connection.execute(read, {"id": application_id}).mappings().one()
            assert (row["decided_by"], row["decided_by_id"]) == ("reviewer@cpt.example", None)
            connection.execute(
                text("UPDATE applications SET decided_by_id = :u WHERE id = :id"),
                {"u": user_id, "id": application_id},
            )
    finally:
        engine.dispose()
    migrations.downgrade(url, "agreements_0010")
    assert "decided_by_id" not in _columns_of(url, "applications")
    assert "issued_by_id" not in _columns_of(url, "credit_notes")
    assert "published_by_id" not in _columns_of(url, "rate_cards")
    assert "created_by_id" in _columns_of(url, "application_quotes")
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            row = connection.execute(read, {"id": application_id}).mappings().one()
    finally:
        engine.dispose()
    assert (row["decided_by"], row["decision_reason"]) == (
        "reviewer@cpt.example",
        "Not a use we license.",
    )
    migrations.upgrade(url, "agreements_0011")
    assert "decided_by_id" in _columns_of(url, "applications")
    assert "issued_by_id" in _columns_of(url, "credit_notes")
    assert "published_by_id" in _columns_of(url, "rate_cards")


def test_billing_0029_keeps_who_moved_money_by_account_and_rows_from_before_by_address(
    database_at: _DatabasesAt,
) -> None:
    """Round 59 (names59): a payment's and a refund's recorder, a reversal's, a link
    withdrawal's and a Stripe event's "looked at" keep the account beside the address
    (`..._by_id`, billing_0029); rows from before keep their address and NULL (named
    by the address), and the downgrade drops the five columns alone."""
    added = {
        "payments": "recorded_by_id",
        "refunds": "recorded_by_id",
        "payment_reversals": "reversed_by_id",
        "invoice_link_revocations": "revoked_by_id",
        "stripe_events": "looked_at_by_id",
    }
    url = database_at("billing_0029")
    assert all(column in _columns_of(url, table) for table, column in added.items())
    migrations.downgrade(url, "billing_0028")
    assert not any(column in _columns_of(url, table) for table, column in added.items())
    assert "looked_at_by" in _columns_of(url, "stripe_events")
    now = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            organization_id, _ = _organization_and_user(connection, "member")
            invoice_id = _invoice(connection, organization_id, "manual", 1)
            payment_id = _insert(
                connection,
                "payments",
                invoice_id=invoice_id,
                organization_id=organization_id,
                method="wire",
                state="succeeded",
                currency="USD",
                amount=1500,
                recorded_by="clerk@office.example",
                created_at=now,
            )
            withdrawal_id = _insert(
                connection,
                "invoice_link_revocations",
                invoice_id=invoice_id,
                generation=1,
                reason="Forwarded",
                revoked_by="clerk@office.example",
                created_at=now,
            )
    finally:
        engine.dispose()
    migrations.upgrade(url, "billing_0029")
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            payment = connection.execute(
                text("SELECT recorded_by, recorded_by_id FROM payments WHERE id = :id"),
                {"id": payment_id},
            ).one()
            withdrawal = connection.execute(
                text(
                    "SELECT revoked_by, revoked_by_id FROM invoice_link_revocations WHERE id = :id"
                ),
                {"id": withdrawal_id},
            ).one()
    finally:
        engine.dispose()
    assert tuple(payment) == ("clerk@office.example", None)
    assert tuple(withdrawal) == ("clerk@office.example", None)
    migrations.downgrade(url, "billing_0028")
    assert not any(column in _columns_of(url, table) for table, column in added.items())
    assert "recorded_by" in _columns_of(url, "payments")
    migrations.upgrade(url, "billing_0029")
    assert all(column in _columns_of(url, table) for table, column in added.items())


def test_billing_0030_indexes_the_stripe_events_by_object_and_disputes_not_matched_by_charge(
    database_at: _DatabasesAt,
) -> None:
    """Round 59 (indexes59): *Stripe's events* searched by a refund's, a dispute's or a
    charge's id reads the events by their object's id and the disputes not matched by
    their charge, each through an index; the downgrade drops both."""
    added = {
        ("stripe_events", "ix_stripe_events_object_id"): ["object_id"],
        ("unmatched_disputes", "ix_unmatched_disputes_stripe_charge_id"): ["stripe_charge_id"],
    }
    url = database_at("billing_0030")

    assert _indexes_among(url, added) == added
    migrations.downgrade(url, "billing_0029")
    assert _indexes_among(url, added) == {}
    migrations.upgrade(url, "billing_0030")
    assert _indexes_among(url, added) == added


def test_accounts_0014_indexes_the_audit_log_by_action_then_seq_in_place_of_the_action_alone(
    database_at: _DatabasesAt,
) -> None:
    """Round 59 (indexes59): one action's events (the accounts moved, newest first) are
    read from an index on (action, seq), which replaces the one on the action alone;
    the downgrade puts that one back."""
    added = {("audit_events", "ix_audit_events_action_seq"): ["action", "seq"]}
    dropped = {("audit_events", "ix_audit_events_action"): ["action"]}
    url = database_at("accounts_0014")

    assert _indexes_among(url, {**added, **dropped}) == added
    migrations.downgrade(url, "accounts_0013")
    assert _indexes_among(url, {**added, **dropped}) == dropped
    migrations.upgrade(url, "accounts_0014")
    assert _indexes_among(url, {**added, **dropped}) == added


def test_billing_0031_keeps_who_recorded_a_refunds_return_by_account_backfilled_by_address(
    database_at: _DatabasesAt,
) -> None:
    """Round 60 (names60): an offline refund's return keeps the account that recorded it
    beside the address (`returned_by_id`, billing_0031). Returns recorded before take the
    account whose address is the recorded one (in any case: addresses are stored
    lower-cased); one recorded by an address nobody holds keeps NULL (named by its
    address), as does a refund never returned. The downgrade drops the column alone."""
    url = database_at("billing_0031")
    assert "returned_by_id" in _columns_of(url, "refunds")
    migrations.downgrade(url, "billing_0030")
    assert "returned_by_id" not in _columns_of(url, "refunds")
    day = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            organization_id, user_id = _organization_and_user(connection, "member")
            email = connection.execute(
                text("SELECT email FROM users WHERE id = :id"), {"id": user_id}
            ).scalar_one()
            invoice_id = _invoice(connection, organization_id, "manual", 1)
            owned = {"invoice_id": invoice_id, "organization_id": organization_id}
            credit = _insert(
                connection,
                "credit_notes",
                **owned,
                number="CN-2027-000001",
                currency="USD",
                amount=300,
                applied_to_balance=0,
                refund_due=300,
                reason="Seats removed",
                **_reason_keyed(connection, "Seats removed"),
                issue_date=day.date(),
                issued_at=day,
                issued_by="clerk@office.example",
            )
            money = {"currency": "USD", "recorded_by": "clerk@office.example", "created_at": day}
            refunds = {
                returned_by: _insert(
                    connection,
                    "refunds",
                    **owned,
                    **money,
                    credit_note_id=credit,
                    method="wire",
                    state="failed" if returned_by else "succeeded",
                    amount=100,
                    returned_by=returned_by,
                )
                for returned_by in (email.upper(), "gone@office.example", None)
            }
    finally:
        engine.dispose()
    migrations.upgrade(url, "billing_0031")
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT id, returned_by_id FROM refunds")).all()
            found = {row.id: row.returned_by_id for row in rows}
    finally:
        engine.dispose()
    assert {returned_by: found[refund] for returned_by, refund in refunds.items()} == {
        email.upper(): user_id,
        "gone@office.example": None,
        None: None,
    }
    migrations.downgrade(url, "billing_0030")
    assert "returned_by_id" not in _columns_of(url, "refunds")
    assert "returned_by" in _columns_of(url, "refunds")
    migrations.upgrade(url, "billing_0031")
    assert "returned_by_id" in _columns_of(url, "refunds")


def test_accounts_0015_keeps_the_names_given_up_read_from_the_name_changes_audited_before(
    database_at: _DatabasesAt,
) -> None:
    """Round 60 (names60): `user_former_names` keeps each name an account gave up, keyed
    as names are searched, so the audit log's Actor finds a person by a name they had.
    The changes made before it are read from their `user.name_changed` events (other
    events aside); the downgrade drops the table."""
    url = database_at("accounts_0014")
    engine = make_engine(url)
    first = datetime(2027, 1, 5, 12, 0, tzinfo=UTC)
    try:
        with engine.begin() as connection:
            _organization, user_id = _organization_and_user(connection, "member")
            changes = (
                (30_001, "user.name_changed", {"full_name": "Hana Satō"}, first),
                (30_002, "user.name_changed", {"full_name": "Hana Ito"}, first + timedelta(7)),
                (30_003, "user.updated", {"full_name": "Not A Change Of Name"}, first),
            )
            for seq, action, before, at in changes:
                _insert(
                    connection,
                    "audit_events",
                    seq=seq,
                    occurred_at=at,
                    actor="member@kestrel.example",
                    actor_user_id=user_id,
                    action=action,
                    entity_type="user",
                    entity_id=str(user_id),
                    before=json.dumps(before),
                    prev_hash="0" * 64,
                    hash=f"{seq:064d}",
                )
    finally:
        engine.dispose()
    migrations.upgrade(url, "accounts_0015")
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT user_id, full_name, full_name_key FROM user_former_names ORDER BY id")
            ).all()
    finally:
        engine.dispose()
    assert [tuple(row) for row in rows] == [
        (user_id, "Hana Satō", name_key("Hana Satō")),
        (user_id, "Hana Ito", "hana ito"),
    ]
    migrations.downgrade(url, "accounts_0014")
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            assert "user_former_names" not in inspect(connection).get_table_names()
    finally:
        engine.dispose()
    migrations.upgrade(url, "accounts_0015")


def test_billing_0032_classifies_every_issued_invoices_lines_and_leaves_a_drafts_empty(
    database_at: _DatabasesAt,
) -> None:
    """Round 61 (classified61): billing_0032 gives each invoice line its kind and
    classification, filled for the lines already issued, more than a batch of invoices
    (500) of them, as the Python classification finds them: a manual invoice's line
    `other` and unclassified, a royalty invoice's whose report there is none of
    `royalty` and unclassified (the agreements' and reports' lines are filled on both
    databases through the services by tests/integration/finance/test_classification_stored.py);
    a draft's line empty. The downgrade drops the columns and upgrading again fills them."""
    url = database_at("billing_0031")
    stored = ("kind", "use", "product_type", "user_type", "organization_type")
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            assert not set(stored) & _columns(connection, "invoice_lines")
            organization_id, _ = _organization_and_user(connection, "member")
            invoices = [
                (_invoice(connection, organization_id, source, number), state)
                for number, (source, state) in enumerate(
                    [("manual", "open")] * 501 + [("royalty_report", "open"), ("manual", "draft")],
                    start=1,
                )
            ]
            for number, (invoice_id, state) in enumerate(invoices, start=1):
                if state != "draft":
                    connection.execute(
                        text(
                            "UPDATE invoices SET state = 'open', number = :number, "
                            "issue_date = :day WHERE id = :id"
                        ),
                        {
                            "number": f"INV-2027-{number:06d}",
                            "day": date(2027, 3, 1),
                            "id": invoice_id,
                        },
                    )
                _insert(
                    connection,
                    "invoice_lines",
                    invoice_id=invoice_id,
                    position=1,
                    description="Seats",
                    amount=10000,
                )
        unclassified = ("unclassified",) * 4
        for _ in range(2):
            migrations.upgrade(url, "billing_0032")
            with engine.connect() as connection:
                rows = connection.execute(
                    text(
                        "SELECT i.source_type, i.state, l.kind, l.use, l.product_type, "
                        "l.user_type, l.organization_type FROM invoice_lines l "
                        "JOIN invoices i ON i.id = l.invoice_id"
                    )
                ).all()
            found: dict[tuple[str, str, tuple[Any, ...]], int] = {}
            for source, state, *values in rows:
                key = (source, state, tuple(values))
                found[key] = found.get(key, 0) + 1
            assert found == {
                ("manual", "open", ("other", *unclassified)): 501,
                ("royalty_report", "open", ("royalty", *unclassified)): 1,
                ("manual", "draft", (None,) * 5): 1,
            }
            migrations.downgrade(url, "billing_0031")
            with engine.connect() as connection:
                assert not set(stored) & _columns(connection, "invoice_lines")
    finally:
        engine.dispose()


def test_billing_0033_keeps_each_issued_invoices_bank_days_and_none_for_a_draft(
    database_at: _DatabasesAt,
) -> None:
    """Round 62 (asof62): billing_0033 gives each invoice its bank days
    (`bank_paid_on`, `bank_owing_since`) as `billing.queries.bank_days(None)` reads its
    events: an invoice paid by a wire the bank had on 5 March is paid from then, one
    unpaid owes from its issue day, one paid and its payment returned by the bank owes
    again from the day returned; a draft keeps none. The downgrade drops the columns
    and upgrading again fills them."""
    url = database_at("billing_0032")
    kept = ("bank_paid_on", "bank_owing_since")
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            assert not set(kept) & _columns(connection, "invoices")
            organization_id, _ = _organization_and_user(connection, "member")
            made = [_invoice(connection, organization_id, "manual", n) for n in range(4)]
            for number, invoice_id in enumerate(made[:3], start=1):
                connection.execute(
                    text(
                        "UPDATE invoices SET state = 'open', number = :number, total = 10000, "
                        "issue_date = :day WHERE id = :id"
                    ),
                    {"number": f"INV-2027-{number:06d}", "day": date(2027, 3, 1), "id": invoice_id},
                )
            paid, _open, returned, _draft = made
            payments = {
                invoice_id: _insert(
                    connection,
                    "payments",
                    invoice_id=invoice_id,
                    organization_id=organization_id,
                    method="wire",
                    state="succeeded" if invoice_id == paid else "reversed",
                    currency="USD",
                    amount=10000,
                    recorded_by="clerk@example.org",
                    received_on=date(2027, 3, 5),
                    created_at=datetime(2027, 3, 5, 18, 0, tzinfo=UTC),
                )
                for invoice_id in (paid, returned)
            }
            _insert(
                connection,
                "payment_reversals",
                payment_id=payments[returned],
                invoice_id=returned,
                organization_id=organization_id,
                currency="USD",
                amount=10000,
                reason="Returned by the bank",
                returned_on=date(2027, 3, 9),
                reversed_by="clerk@example.org",
                created_at=datetime(2027, 3, 9, 18, 0, tzinfo=UTC),
            )
        for _ in range(2):
            migrations.upgrade(url, "billing_0033")
            with engine.connect() as connection:
                found = {
                    row[0]: (row[1], row[2])
                    for row in connection.execute(
                        text("SELECT id, bank_paid_on, bank_owing_since FROM invoices")
                    )
                }
            days = {
                key: tuple(None if d is None else date.fromisoformat(str(d)[:10]) for d in value)
                for key, value in found.items()
            }
            assert days == {
                made[0]: (date(2027, 3, 5), date(2027, 3, 1)),
                made[1]: (None, date(2027, 3, 1)),
                made[2]: (date(2027, 3, 5), date(2027, 3, 9)),
                made[3]: (None, None),
            }
            migrations.downgrade(url, "billing_0032")
            with engine.connect() as connection:
                assert not set(kept) & _columns(connection, "invoices")
    finally:
        engine.dispose()
