"""Two console reads before and after their indexes (round 59, indexes59): the Stripe
events found by an object's id (billing_0030: `ix_stripe_events_object_id`, and the
search rewritten as a UNION so that it can read it) and the accounts moved out of or
into an organization (accounts_0014: `ix_audit_events_action_seq` in place of
`ix_audit_events_action`).

On PostgreSQL (`--postgresql URL` of an empty database, or `auto` to start a
throwaway server as the test suite does): `--audit-events` audit events (one in 500 a
move of an account between 20 organizations, the rest six other actions) and
`--stripe-events` Stripe events (a quarter each a PaymentIntent's, a refund's, a
dispute's and a charge's), ANALYZEd; then, migrated to just before the two revisions
(`before`: billing_0029, accounts_0013) and to the head (`after`), each read as the
console sends it is run under `EXPLAIN (ANALYZE, BUFFERS)` `--runs` times:

- `stripe search, page`/`count`: *Stripe's events* searched by a refund's id (the
  page of 50 and the count the pager reads, `billing.queries.stripe_events_listed`);
- `moves of an organization`: `accounts.queries.moves_touching`.

Then the moves read on SQLite at the same size, ANALYZEd, before and after
accounts_0014 (always; PostgreSQL only with `--postgresql`).

Prints each read's median execution time, the buffers it touched and the scans its
plan made, and the size of the audit log's index on the action. Asserts nothing
(performance is never asserted in tests). The tables the search also reads
(payments, refunds, disputes) are empty here; each is read by an index. The search
is the code's as it stands in both states (the UNION): as one `OR`, the search read
every event with or without the index (round 59's notes).

    .venv/bin/python bench/indexed_reads.py --postgresql auto [--audit-events 200000]
        [--stripe-events 100000] [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BEFORE = ("billing_0029", "accounts_0013")
MOVES_EVERY = 500
ORGANIZATIONS = 20


def _app(database_url: str) -> Any:
    from licensing.app import create_app
    from licensing.config import Config

    return create_app(
        Config(
            environment="testing",
            database_url=database_url,
            secret_key="bench-secret-key",  # noqa: S106 - a throwaway database
            audit_hmac_key="bench-audit-key",
            quote_rate_limit="off",
        )
    )


def fill(connection: Any, audit_events: int, stripe_events: int) -> None:
    """The rows, in two statements (generate_series), then ANALYZEd."""
    connection.exec_driver_sql(
        """
        INSERT INTO audit_events (seq, occurred_at, actor, action, entity_type, entity_id,
            before, after, prev_hash, hash)
        SELECT n, now() - (%(count)s - n) * interval '1 minute', 'clerk@office.example',
            CASE WHEN n %% %(every)s = 0 THEN 'user.moved'
                 ELSE (ARRAY['user.signed_in', 'invoice.issued', 'payment.succeeded',
                             'application.submitted', 'user.two_step_used',
                             'royalty_report.submitted'])[1 + n %% 6] END,
            'user', (n %% 5000)::text,
            CASE WHEN n %% %(every)s = 0
                 THEN '{"organization_id":' || (1 + n / %(every)s %% %(orgs)s) || '}' END,
            CASE WHEN n %% %(every)s = 0
                 THEN '{"organization_id":' || (1 + (n / %(every)s + 1) %% %(orgs)s) || '}'
                 ELSE '{"state":"done"}' END,
            md5((n - 1)::text) || md5((n - 1)::text),
            md5(n::text) || md5(n::text)
        FROM generate_series(1, %(count)s) AS n
        """,
        {"count": audit_events, "every": MOVES_EVERY, "orgs": ORGANIZATIONS},
    )
    connection.exec_driver_sql(
        """
        INSERT INTO stripe_events (event_id, event_type, payment_intent_id, object_id,
            outcome, kind, deliveries, received_at)
        SELECT 'evt_' || n,
            (ARRAY['payment_intent.succeeded', 'refund.updated', 'charge.dispute.created',
                   'charge.refunded'])[1 + n %% 4],
            'pi_' || n / 4,
            (ARRAY['pi_' || n / 4, 're_' || n, 'du_' || n, 'ch_' || n / 4])[1 + n %% 4],
            'applied', 'applied', 1, now() - (%(count)s - n) * interval '1 minute'
        FROM generate_series(1, %(count)s) AS n
        """,
        {"count": stripe_events},
    )
    connection.exec_driver_sql("ANALYZE audit_events, stripe_events")


def _scans(plan: dict[str, Any]) -> Iterator[str]:
    kind = plan["Node Type"]
    if "Scan" in kind:
        yield f"{kind} {plan.get('Index Name') or plan.get('Relation Name') or ''}".strip()
    for child in plan.get("Plans", []):
        yield from _scans(child)


def measured(connection: Any, sql: str, values: Any, runs: int) -> tuple[float, int, list[str]]:
    """Median execution ms, shared buffers touched, and the plan's scans."""
    times: list[float] = []
    buffers = 0
    scans: list[str] = []
    for _ in range(runs):
        [[explained]] = connection.exec_driver_sql(
            f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}", values
        ).all()
        found = explained[0] if isinstance(explained, list) else json.loads(explained)[0]
        times.append(float(found["Execution Time"]))
        top = found["Plan"]
        buffers = int(top.get("Shared Hit Blocks", 0)) + int(top.get("Shared Read Blocks", 0))
        scans = sorted(set(_scans(top)))
    return statistics.median(times), buffers, scans


def reads(stripe_events: int) -> dict[str, Callable[[Any], Any]]:
    """Each read as the console sends it, run in the session given."""
    from sqlalchemy import func, select

    from licensing.accounts import queries as accounts
    from licensing.billing import queries as billing

    refund = f"re_{stripe_events // 2 + 1}"  # a refund event's object, halfway
    listed = billing.stripe_events_listed(billing.StripeEventFilters(stripe_id=refund))
    return {
        "stripe search, page": lambda session: session.execute(listed.limit(50)).all(),
        "stripe search, count": lambda session: session.execute(
            select(func.count()).select_from(listed.order_by(None).subquery())
        ).all(),
        "moves of an organization": lambda session: accounts.moves_touching(session, 7),
    }


def _index_pages(connection: Any) -> str:
    rows = connection.exec_driver_sql(
        "SELECT indexrelname, pg_relation_size(indexrelid) / 8192 FROM pg_stat_user_indexes"
        " WHERE relname = 'audit_events' AND indexrelname LIKE 'ix_audit_events_action%%'"
    ).all()
    return ", ".join(f"{name} {pages:,} pages" for name, pages in rows)


def measure(url: str, audit_events: int, stripe_events: int, runs: int) -> None:
    from licensing import db, migrations
    from tests.support.plans import sent_with_values

    migrations.upgrade(url)
    app = _app(url)
    engine = app.extensions["licensing.db"].engine
    with engine.begin() as connection:
        fill(connection, audit_events, stripe_events)
    print(
        f"{audit_events:,} audit events ({audit_events // MOVES_EVERY:,} moves),"
        f" {stripe_events:,} Stripe events; median of {runs} EXPLAIN ANALYZE runs"
    )

    def sent(name: str) -> tuple[str, Any]:
        """The SQL (and its values) the read sends."""
        with app.app_context():
            session = db.session()
            with sent_with_values(engine) as caught:
                reads(stripe_events)[name](session)
            session.rollback()
        return caught[-1]

    def run(names: tuple[str, ...], connection: Any) -> None:
        for name in names:
            sql, values = statements[name]
            ms, buffers, scans = measured(connection, sql, values, runs)
            print(f"  {name:<26} {ms:8.2f} ms  {buffers:6,} buffers  {'; '.join(scans)}")

    statements = {name: sent(name) for name in reads(stripe_events)}
    for state in ("before", "after"):
        if state == "before":
            for revision in BEFORE:
                migrations.downgrade(url, revision)
        else:
            migrations.upgrade(url)
        with engine.connect() as connection:
            connection.exec_driver_sql("ANALYZE stripe_events, audit_events")
            named = ", ".join(BEFORE) if state == "before" else "head"
            print(f"\n{state} ({named}; {_index_pages(connection)}):")
            run(tuple(statements), connection)
            connection.rollback()


def measure_sqlite(audit_events: int, runs: int) -> None:
    """The moves read on SQLite at the same size, ANALYZEd: its plan and median wall
    time, before and after accounts_0014 (SQLite's statistics keep the rows per
    action on average, so the rare `user.moved` looks as common as any action)."""
    import tempfile
    import time

    from licensing import db, migrations
    from licensing.accounts import queries as accounts
    from tests.support.plans import sent_with_values

    url = f"sqlite:///{tempfile.mkdtemp(prefix='bench-indexed-')}/bench.db"
    migrations.upgrade(url)
    app = _app(url)
    engine = app.extensions["licensing.db"].engine
    with engine.begin() as connection:
        connection.exec_driver_sql(
            """
            WITH RECURSIVE numbers(n) AS (
                SELECT 1 UNION ALL SELECT n + 1 FROM numbers WHERE n < :count)
            INSERT INTO audit_events (seq, occurred_at, actor, action, entity_type,
                entity_id, before, after, prev_hash, hash)
            SELECT n, '2026-12-06 12:00:00', 'clerk@office.example',
                CASE WHEN n % :every = 0 THEN 'user.moved' ELSE CASE n % 6
                    WHEN 0 THEN 'user.signed_in' WHEN 1 THEN 'invoice.issued'
                    WHEN 2 THEN 'payment.succeeded' WHEN 3 THEN 'application.submitted'
                    WHEN 4 THEN 'user.two_step_used' ELSE 'royalty_report.submitted' END END,
                'user', CAST(n % 5000 AS TEXT),
                CASE WHEN n % :every = 0 THEN '{"organization_id":'
                    || (1 + n / :every % :orgs) || '}' END,
                CASE WHEN n % :every = 0 THEN '{"organization_id":'
                    || (1 + (n / :every + 1) % :orgs) || '}'
                    ELSE '{"state":"done"}' END,
                printf('%064d', n - 1), printf('%064d', n)
            FROM numbers
            """,
            {"count": audit_events, "every": MOVES_EVERY, "orgs": ORGANIZATIONS},
        )
    with app.app_context(), sent_with_values(engine) as caught:
        accounts.moves_touching(db.session(), 7)
    sql, values = caught[-1]
    print(f"\nSQLite, {audit_events:,} audit events, ANALYZEd; median of {runs} runs:")
    for state in ("before", "after"):
        if state == "before":
            migrations.downgrade(url, "accounts_0013")
        else:
            migrations.upgrade(url)
        with engine.connect() as connection:
            connection.exec_driver_sql("ANALYZE")
            plan = [
                row[3] for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", values)
            ]
            times = []
            for _ in range(runs):
                started = time.perf_counter()
                connection.exec_driver_sql(sql, values).all()
                times.append((time.perf_counter() - started) * 1000)
            ms = statistics.median(times)
            print(f"  {state:<6} moves of an organization {ms:8.2f} ms  {'; '.join(plan)}")
            connection.rollback()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--audit-events", type=int, default=200_000)
    parser.add_argument("--stripe-events", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--postgresql",
        help="an empty PostgreSQL database's URL, or 'auto' to start a throwaway server "
        "as the test suite does",
    )
    args = parser.parse_args()
    logging.getLogger("alembic").setLevel(logging.WARNING)
    if not args.postgresql:
        print("PostgreSQL skipped (pass --postgresql auto)")
        measure_sqlite(args.audit_events, args.runs)
        return
    server = None
    if args.postgresql == "auto":
        from tests.support.servers import PostgresServer, ServerUnavailable

        try:
            server = PostgresServer().start()
        except ServerUnavailable as unavailable:
            print(f"skipped: no PostgreSQL server ({unavailable})")
            return
        args.postgresql = server.create_database("bench_indexed_reads")
    try:
        measure(args.postgresql, args.audit_events, args.stripe_events, args.runs)
    finally:
        if server is not None:
            server.stop()
    measure_sqlite(args.audit_events, args.runs)


if __name__ == "__main__":
    main()
