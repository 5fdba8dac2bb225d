"""Publishing a rate card correction at a busy office's size.

Publishing a card that corrects an earlier one's days emails, through the outbox,
the licensees of every agreement it corrects (round 61, correction61). Round 62
(correction62) measures it: one accepted agreement for 2027 on 2027.1 (the example
card) made through the services, copied `--agreements` times with the ORM's bulk
INSERT (its application, uses, quote and agreement; every copy of the same
organization, so each still reads whom to email), then 2027.2, correcting 2027.1 for
the same days, published with `ratecards.services.import_card` as the page, the
command line and the API publish it.

Prints, per size and database: the publish's wall clock and this process's CPU (SQLite
runs in it; on PostgreSQL the server's CPU is in the wall clock only), its statements, how many
agreements were told and emails queued, and the longest transaction that wrote (on
SQLite the write lock is held for as long as it: every other writer waits). Asserts
nothing.

    .venv/bin/python bench/card_correction.py [--agreements 500 5000]
        [--postgresql URL|auto]
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from datetime import UTC, datetime
from typing import Any

from harness import POSTGRESQL_HELP, bench_app, postgresql, quiet_migrations

MOMENT = datetime(2026, 12, 1, 16, 0, tzinfo=UTC)


def _rows(session: Any, table: Any, column: Any, value: int) -> list[dict[str, Any]]:
    from sqlalchemy import select

    return [dict(row._mapping) for row in session.execute(select(table).where(column == value))]


def seed(app: Any, agreements: int) -> None:
    """The agreements above."""
    from sqlalchemy import func, insert, select

    from licensing import db
    from licensing.agreements.models import Agreement, Application, ApplicationUse, QuoteVersion
    from licensing.ratecards import cli as ratecards_cli
    from tests.integration.agreements.conftest import AUTO_USE
    from tests.support import factories
    from tests.support.agreements import make_active_agreement

    with app.app_context():
        ratecards_cli.load_samples()
        session = db.session()
        staff = factories.make_staff(session, roles=("licensing",), email="staff@bench.example")
        vendor = factories.make_vendor(session, email="vendor@bench.example")
        agreement = make_active_agreement(vendor, staff, AUTO_USE, now=MOMENT)
        tables: dict[str, tuple[Any, Any, int]] = {
            "application": (Application.__table__, Application.id, agreement.application_id),
            "uses": (
                ApplicationUse.__table__,
                ApplicationUse.application_id,
                agreement.application_id,
            ),
            "quote": (QuoteVersion.__table__, QuoteVersion.id, agreement.quote_id),
            "agreement": (Agreement.__table__, Agreement.id, agreement.id),
        }
        original = {name: _rows(session, *spec) for name, spec in tables.items()}
        starts = {
            name: (session.scalar(select(func.max(spec[0].c.id))) or 0) + 1
            for name, spec in tables.items()
        }
    with app.app_context(), db.transaction() as session:
        made: dict[str, list[dict[str, Any]]] = {name: [] for name in tables}
        for n in range(agreements - 1):
            application_id = starts["application"] + n
            quote_id = starts["quote"] + n
            made["application"].append({**original["application"][0], "id": application_id})
            made["uses"].extend(
                {k: v for k, v in use.items() if k != "id"} | {"application_id": application_id}
                for use in original["uses"]
            )
            made["quote"].append(
                {**original["quote"][0], "id": quote_id, "application_id": application_id}
            )
            made["agreement"].append(
                {
                    **original["agreement"][0],
                    "id": starts["agreement"] + n,
                    "application_id": application_id,
                    "quote_id": quote_id,
                    "number": f"CPT-2027-{800000 + n:06d}",
                }
            )
        for name, rows in made.items():
            if rows:
                session.execute(insert(tables[name][0]), rows)
    if app.extensions["licensing.db"].dialect == "postgresql":
        with app.extensions["licensing.db"].engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")


class Watch:
    """Statements run, and the longest transaction that wrote (begin to commit)."""

    def __init__(self) -> None:
        self.statements = 0
        self.longest = 0.0
        self.transactions = 0
        self._began: float | None = None
        self._wrote = False

    def begin(self, _connection: Any) -> None:
        self._began, self._wrote = time.perf_counter(), False

    def executed(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        self.statements += 1
        if statement.lstrip().split(None, 1)[0].upper() in {"INSERT", "UPDATE", "DELETE"}:
            self._wrote = True

    def ended(self, _connection: Any) -> None:
        if self._began is not None and self._wrote:
            self.transactions += 1
            self.longest = max(self.longest, time.perf_counter() - self._began)
        self._began = None


def measure(backend: str, url: str, agreements: int) -> None:
    from sqlalchemy import event, func, select

    from licensing import db
    from licensing.mail.models import OutboxMessage
    from licensing.ratecards import services
    from tests.integration.pricing.conftest import example_document

    app = bench_app(url)
    logging.getLogger("licensing").setLevel(logging.WARNING)
    started = time.perf_counter()
    seed(app, agreements)
    print(f"  {backend}: seeded {agreements:,} agreements in {time.perf_counter() - started:.1f} s")
    correction = example_document()
    correction["version"] = "2027.2"
    correction["rules"][5]["model"]["tiers"][2]["unit_price"] = "10.00"
    watch = Watch()
    engine = app.extensions["licensing.db"].engine
    listeners = (("begin", watch.begin), ("commit", watch.ended), ("rollback", watch.ended))
    for name, call in listeners:
        event.listen(engine, name, call)
    event.listen(engine, "after_cursor_execute", watch.executed)
    with app.app_context():
        before = db.session().scalar(select(func.count()).select_from(OutboxMessage))
        db.session().close()
        wall, cpu = time.perf_counter(), time.process_time()
        result = services.import_card(correction, published_by="bench")
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        after = db.session().scalar(select(func.count()).select_from(OutboxMessage))
        queued = (after or 0) - (before or 0)
    for name, call in listeners:
        event.remove(engine, name, call)
    event.remove(engine, "after_cursor_execute", watch.executed)
    print(
        f"  {backend:<10} {agreements:>6,} agreements: publish {wall:,.2f} s (CPU {cpu:,.2f} s), "
        f"{watch.statements:,} statements, {len(result.agreements_told):,} told, "
        f"{queued:,} emails queued; longest transaction that wrote {watch.longest:,.2f} s "
        f"(of {watch.transactions})"
    )
    app.extensions["licensing.db"].engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--agreements", type=int, nargs="+", default=[500, 5000])
    parser.add_argument("--postgresql", help=POSTGRESQL_HELP)
    args = parser.parse_args()
    quiet_migrations()
    print("publishing a rate card correction, every agreement on the card corrected")
    for size in args.agreements:
        with tempfile.TemporaryDirectory() as directory:
            measure("SQLite", f"sqlite:///{directory}/bench.db", size)
    with postgresql(args.postgresql, "bench_card_correction") as (url, server):
        if url:
            for n, size in enumerate(args.agreements):
                database = url if n == 0 else server.create_database(f"bench_correction_{n}")
                measure("PostgreSQL", database, size)


if __name__ == "__main__":
    main()
