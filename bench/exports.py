"""Export of N invoice lines to CSV, against the database's own CSV dump of the same rows.

Seeds a fresh database (SQLite in a temporary directory; with `--postgresql`, an
empty PostgreSQL database too) with invented invoices of five lines each, in
two INSERT ... SELECT statements over a recursive CTE (1,000,000 lines in a few
seconds), then, in the same run:

- the figure: a fresh process exports the `invoice_lines` dataset through the
  same service the API and CLI use (`licensing.exports.services.stream`) to
  /dev/null, and reports its time and peak RSS;
- the floor: the same SELECT (the dataset's own statement, compiled) dumped by
  the database itself, `sqlite3 -csv` (the CLI) on SQLite and `COPY (...) TO
  STDOUT WITH CSV` on PostgreSQL; on SQLite also Python's sqlite3 module writing
  the rows with the csv module, for reference (what any Python export costs).

Beside each wall-clock figure it prints CPU time, which a shared machine's load
skews less: the export's process (SQLite runs in it) and, on a server `--postgresql
auto` started, every process of that server; the `sqlite3` binary's; the COPY
client's and the server's.

The floor writes the stored values as they are (on SQLite money is an integer
of 1/10,000ths); the export also finds each line's kind, use and account and
writes money with the currency's digits. Goal for 1,000,000 lines: at most 2x
the floor's time, peak RSS under 150 MB. Prints figures; asserts nothing.

    .venv/bin/python bench/exports.py [--rows 100000] [--format csv|jsonl|xlsx]
        [--postgresql URL|auto]

The goal's size, 1,000,000 lines, takes a few minutes: `--rows 1000000`, or
BENCH_EXPORT_ROWS=1000000 in the environment (`make bench` reads it too).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import logging
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from harness import bench_app, postgresql  # first: the repository on the path

LINES_PER_INVOICE = 5
DEFAULT_ROWS = int(os.environ.get("BENCH_EXPORT_ROWS", "100000"))
DATASET = "invoice_lines"


def _app(url: str) -> Any:
    """The app on the database `measure` migrated, as the export's process runs it."""
    return bench_app(url, migrate=False)


def _engine(url: str) -> Any:
    from sqlalchemy import create_engine

    return create_engine(url.replace("postgresql://", "postgresql+psycopg://"))


# Invoices 1..:invoices, each with a number, an issue date spread over a year, a total.
_INVOICES = """
WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < :invoices)
INSERT INTO invoices (id, organization_id, number, state, currency, source_type,
    payment_terms_days, late_fee_monthly_percent, issue_date, due_date, total, amount_paid,
    amount_credited, created_at, reminder_count, late_fee_months_charged)
SELECT n, :organization_id, {number}, 'open', 'USD', 'manual', 30, :late_fee,
    {issue_date}, {due_date}, :total, :zero, :zero, :created_at, 0, 0 FROM seq
"""
INVOICES_SQL = {
    "sqlite": _INVOICES.format(
        number="'INV-2027-' || printf('%06d', n)",
        issue_date="date('2027-01-01', '+' || (n % 365) || ' days')",
        due_date="date('2027-01-31', '+' || (n % 365) || ' days')",
    ),
    "postgresql": _INVOICES.format(
        number="'INV-2027-' || lpad(n::text, 6, '0')",
        issue_date="DATE '2027-01-01' + (n % 365)",
        due_date="DATE '2027-01-31' + (n % 365)",
    ),
}
# Five lines per invoice (LINES_PER_INVOICE), :rows in all.
LINES_SQL = """
WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < :invoices),
positions(p) AS (SELECT 1 UNION ALL SELECT p + 1 FROM positions WHERE p < 5)
INSERT INTO invoice_lines (invoice_id, position, description, amount)
SELECT n, p, 'Harborlight Coder seats, bundle ' || p, :amount FROM seq, positions
WHERE (n - 1) * 5 + p <= :rows ORDER BY n, p
"""


def seed(url: str, rows: int) -> None:
    """One organization, then invoices and their lines, each table in one INSERT ...
    SELECT over a recursive CTE (no audit or mail: not what is measured)."""
    from sqlalchemy import bindparam, text

    from licensing import db
    from licensing.accounts import services as accounts
    from licensing.db import Money, UTCDateTime

    app = _app(url)
    with app.app_context(), db.transaction() as session:
        organization = accounts.create_organization(
            session,
            legal_name="Quillstone Clinical Data Inc.",
            organization_type="commercial",
            address_line1="12 Harbor Way",
            address_line2=None,
            city="Portland",
            region="OR",
            postal_code="97201",
            country="US",
            billing_contact_name="Robin Castellanos",
            billing_email="billing@quillstone.example",
            tax_id=None,
        )
        organization_id = organization.id
    engine = _engine(url)
    invoices = (rows + LINES_PER_INVOICE - 1) // LINES_PER_INVOICE
    insert_invoices = text(INVOICES_SQL[engine.dialect.name]).bindparams(
        bindparam("late_fee", type_=Money()),
        bindparam("total", type_=Money()),
        bindparam("zero", type_=Money()),
        bindparam("created_at", type_=UTCDateTime()),
    )
    insert_lines = text(LINES_SQL).bindparams(bindparam("amount", type_=Money()))
    with engine.begin() as connection:
        connection.execute(
            insert_invoices,
            {
                "invoices": invoices,
                "organization_id": organization_id,
                "late_fee": Decimal("1.5"),
                "total": Decimal("62.50") * LINES_PER_INVOICE,
                "zero": Decimal(0),
                "created_at": datetime(2027, 1, 1, tzinfo=UTC),
            },
        )
        connection.execute(
            insert_lines, {"invoices": invoices, "amount": Decimal("62.50"), "rows": rows}
        )
    engine.dispose()


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds(who: int = resource.RUSAGE_SELF) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def cluster_cpu_seconds(postmaster: int | None) -> float | None:
    """CPU time of a local PostgreSQL cluster so far: the postmaster with the
    children it reaped, and every live child (backends, parallel workers), read
    from /proc; None when the server is not ours to read (`--postgresql URL`)."""
    if postmaster is None:
        return None
    ticks = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            # Fields after the command's closing parenthesis: state, ppid, ...
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        if int(entry) == postmaster:
            ticks += sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
        elif int(fields[1]) == postmaster:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def _spent(before: float | None, after: float | None) -> float | None:
    return None if before is None or after is None else after - before


def export(url: str, format_name: str, postmaster: int | None = None) -> dict[str, Any]:
    """The figure, in a process of its own (its peak RSS is the export's), with
    the CPU time it took and, where the server is ours to read, the server's."""
    from licensing.config import current_config
    from licensing.exports import services

    app = _app(url)
    with app.app_context():
        before = peak_rss_mb()
        request = services.prepare(DATASET, format_name, {})
        tally = services.Tally()
        server = cluster_cpu_seconds(postmaster)
        cpu = cpu_seconds()
        started = time.perf_counter()
        with open(os.devnull, "wb") as sink:
            for chunk in services.stream(
                request, gl_accounts=current_config().gl_accounts, tally=tally
            ):
                sink.write(chunk)
        elapsed = time.perf_counter() - started
        cpu = cpu_seconds() - cpu
        server = _spent(server, cluster_cpu_seconds(postmaster))
    return {
        "seconds": elapsed,
        "cpu": cpu,
        "server_cpu": server,
        "rows": tally.rows,
        "mb": tally.bytes / 1e6,
        "peak_mb": peak_rss_mb(),
        "before_mb": before,
    }


def floor_query(url: str) -> str:
    """The dataset's own SELECT, in its order, as the database's SQL."""
    from licensing.exports import services
    from licensing.exports.datasets import invoice_lines

    app = _app(url)
    engine = _engine(url)
    with app.app_context():
        request = services.prepare(DATASET, "csv", {})
        statement = invoice_lines.ordered(invoice_lines.issued_lines(request.filter))
    return str(statement.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))


# A floor's time: (wall seconds, CPU seconds of the client and the database
# together, or None where the server's cannot be read).
Timed = tuple[float, float | None]


def sqlite_cli_floor(path: str, query: str) -> Timed:
    cpu = cpu_seconds(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    with open(os.devnull, "wb") as sink:
        subprocess.run(["sqlite3", "-csv", path, query], stdout=sink, check=True)
    return time.perf_counter() - started, cpu_seconds(resource.RUSAGE_CHILDREN) - cpu


def sqlite_python_floor(path: str, query: str) -> Timed:
    cpu = cpu_seconds()
    started = time.perf_counter()
    connection = sqlite3.connect(path)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    with open(os.devnull, "wb") as sink:
        cursor = connection.execute(query)
        while batch := cursor.fetchmany(1000):
            writer.writerows(batch)
            sink.write(buffer.getvalue().encode("utf-8"))
            buffer.seek(0)
            buffer.truncate()
    connection.close()
    return time.perf_counter() - started, cpu_seconds() - cpu


def postgresql_copy_floor(url: str, query: str, postmaster: int | None = None) -> Timed:
    import psycopg

    conninfo = url.replace("postgresql+psycopg://", "postgresql://")
    server = cluster_cpu_seconds(postmaster)
    cpu = cpu_seconds()
    started = time.perf_counter()
    with (
        psycopg.connect(conninfo) as connection,
        connection.cursor() as cursor,
        cursor.copy(f"COPY ({query}) TO STDOUT WITH CSV") as copy,
        open(os.devnull, "wb") as sink,
    ):
        for block in copy:
            sink.write(block)
    elapsed = time.perf_counter() - started
    cpu = cpu_seconds() - cpu
    server = _spent(server, cluster_cpu_seconds(postmaster))
    return elapsed, None if server is None else cpu + server


def run_export(url: str, format_name: str, postmaster: int | None) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", "--database", url, "--format", format_name]
    if postmaster is not None:
        command += ["--postmaster", str(postmaster)]
    finished = subprocess.run(command, check=False, capture_output=True, text=True)
    if finished.returncode != 0:
        raise SystemExit(f"the export failed:\n{finished.stdout}{finished.stderr}")
    result: dict[str, Any] = json.loads(finished.stdout.strip().splitlines()[-1])
    return result


def measure(
    backend: str, url: str, rows: int, format_name: str, postmaster: int | None = None
) -> None:
    from licensing import migrations

    logging.getLogger("alembic").setLevel(logging.WARNING)
    migrations.upgrade(url)
    started = time.perf_counter()
    seed(url, rows)
    print(f"  {backend}: seeded {rows:,} lines in {time.perf_counter() - started:.1f} s")
    query = floor_query(url)
    found = run_export(url, format_name, postmaster)
    ours: float | None = found["cpu"]
    if backend == "SQLite":
        path = url.removeprefix("sqlite:///")
        floors = {
            "sqlite3 -csv (CLI)": sqlite_cli_floor(path, query),
            "Python sqlite3 + csv module (reference)": sqlite_python_floor(path, query),
        }
    else:
        floors = {"COPY (...) TO STDOUT WITH CSV": postgresql_copy_floor(url, query, postmaster)}
        ours = None if found["server_cpu"] is None else found["cpu"] + found["server_cpu"]
    print(
        f"  {backend:<10} {DATASET} as {format_name}: {found['rows']:,} rows, {found['mb']:.1f} MB "
        f"in {found['seconds']:.2f} s ({found['rows'] / found['seconds']:,.0f} rows/s); peak RSS "
        f"{found['peak_mb']:.0f} MB (app before the export: {found['before_mb']:.0f} MB)"
    )
    if ours is not None:
        print(f"  {'':<10} CPU time (ours and the database's): {ours:.2f} s")
    for name, (seconds, cpu) in floors.items():
        print(f"  {'':<10} floor, {name}: {seconds:.2f} s  ratio {found['seconds'] / seconds:.1f}x")
        if ours is not None and cpu:
            print(f"  {'':<12} CPU time {cpu:.2f} s  ratio {ours / cpu:.1f}x")


def _postmaster(server: Any) -> int:
    """The throwaway server's postmaster (its CPU time is the database's)."""
    return int((server.data / "postmaster.pid").read_text().split()[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rows", type=int, default=DEFAULT_ROWS, help=f"invoice lines ({DEFAULT_ROWS})"
    )
    parser.add_argument("--format", default="csv", choices=["csv", "jsonl", "xlsx"])
    parser.add_argument(
        "--postgresql",
        help="also on PostgreSQL: an empty database's URL, or 'auto' to start a throwaway "
        "server as the test suite does",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--database", help=argparse.SUPPRESS)
    parser.add_argument("--postmaster", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(export(args.database, args.format, args.postmaster)))
        return
    print(f"export of {args.rows:,} invoice lines (the export in a fresh process)")
    # `auto` starts a throwaway server, or says why it cannot and goes on with SQLite.
    unavailable = "  PostgreSQL skipped: {}"
    with postgresql(args.postgresql, "bench_exports", unavailable=unavailable) as (url, server):
        with tempfile.TemporaryDirectory() as directory:
            measure("SQLite", f"sqlite:///{directory}/bench.db", args.rows, args.format)
        if url:
            postmaster = None if server is None else _postmaster(server)
            measure("PostgreSQL", url, args.rows, args.format, postmaster)


if __name__ == "__main__":
    main()
