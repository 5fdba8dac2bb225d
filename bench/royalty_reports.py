"""A royalty report of 200,000 rows, CSV and JSON, from submission to invoice.

Each run is a fresh process (so its peak RSS is the report's, not the previous
run's), whose peak is started again from what it holds just before the request
(setting the licensee up peaks higher: that peak is printed beside it): the parent
starts one child per case and prints the child's figures beside the floor, a raw
bulk INSERT (executemany) of the same rows. Synthetic data from a fixed seed; SQLite
always, PostgreSQL when `--postgresql URL` is given.
On PostgreSQL it also prints the floor's COPY FROM STDIN into a bare table and,
as the bound of any faithful intake, a COPY of the same rows, already checked,
into the report rows table itself (foreign key, indexes), rolled back.
With `--unattested` the same reports are sent without their attestation, as a
vendor's first try may be: each is refused (422, the attestation asked for), and the
figures are what refusing it costs (round 58: it was stored and priced in a
transaction rolled back, a whole filing's work; its rows are now read and checked
alone, storing and pricing nothing).
Prints figures; asserts nothing (performance is never asserted in tests).

    .venv/bin/python bench/royalty_reports.py [--rows 200000] [--repeat 1] [--postgresql URL|auto]
        [--unattested]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from harness import bench_app, postgresql  # first: the repository on the path

HEADER = "line,customer_id,customer_name,country,unit,quantity,revenue"
COUNTRIES = ("US", "CA", "GB", "DE", "FR", "MX")


def rows(count: int) -> Iterator[tuple[Any, ...]]:
    generator = random.Random(2027)
    for index in range(count):
        yield (
            1,
            f"CUST-{index:07d}",
            f"Invented Clinic {index}",
            generator.choice(COUNTRIES),
            "end_users",
            generator.randint(1, 40),
        )


def write_csv(path: Path, count: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write(HEADER + "\n")
        for a, b, c, d, e, f in rows(count):
            out.write(f"{a},{b},{c},{d},{e},{f},\n")


def write_json(path: Path, count: int, *, attest: bool = True) -> None:
    keys = ("line", "customer_id", "customer_name", "country", "unit", "quantity")
    with path.open("w", encoding="utf-8") as out:
        out.write('{"attest": true, "rows": [' if attest else '{"rows": [')
        for index, values in enumerate(rows(count)):
            out.write(("," if index else "") + json.dumps(dict(zip(keys, values, strict=True))))
        out.write("]}")


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def resident_mb() -> float:
    """This process's resident memory now (Linux), else its peak so far."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return peak_mb()


def forget_peak() -> bool:
    """Start the peak RSS again from what is resident now (Linux's `clear_refs` 5), so
    the peak read after the request is the request's own: setting up the licensee
    (migrations, the agreement's PDF) peaks higher than the app then holds, and that
    peak is the bench's, not a worker's. False where the kernel does not offer it."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as clear:
            clear.write("5")
    except OSError:
        return False
    return True


def prepare(database_url: str) -> tuple[Any, int, dict[str, str]]:
    """A migrated database with the sample card and an active usage-based agreement."""
    from sqlalchemy import select

    from licensing import db
    from licensing.accounts import services as accounts
    from licensing.actors import Actor
    from licensing.agreements import services as agreements
    from licensing.agreements.models import Agreement
    from licensing.ratecards import cli as ratecards_cli
    from tests.support import factories
    from tests.support.settings import issuing

    app = bench_app(database_url, overrides={"WTF_CSRF_ENABLED": False})
    moment = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
    with app.app_context():
        ratecards_cli.load_samples()
        # Each case files into the same database on PostgreSQL: a licensee of its own.
        tag = uuid.uuid4().hex[:8]
        organization = factories.make_organization(
            db.session(),
            legal_name=f"Bench Licensee {tag}",
            billing_email=f"billing-{tag}@bench.example",
        )
        vendor = factories.make_vendor(
            db.session(), organization, email=f"vendor-{tag}@bench.example"
        )
        db.session().commit()
        principal = accounts.principal_for(vendor)
        use = {
            "product_name": "Bench Scrubber",
            "description": "Claims scrubbing",
            "use": "distribution",
            "product_type": "saas",
            "user_type": "provider",
            "delivery": "hosted",
            "territories": "United States",
            "languages": ["en"],
            "quantity": {"end_users": 2500},
        }
        draft = agreements.ApplicationDraft.from_fields(
            {"term_start": date(2027, 1, 1), "term_end": date(2027, 12, 31), "uses": (use,)}
        )
        application = agreements.create_draft(Actor.of(principal), draft, now=moment)
        agreements.submit(
            application.id, Actor.of(principal), policy=issuing(), attest=True, now=moment
        )
        agreement = (
            db.session()
            .scalars(select(Agreement).where(Agreement.application_id == application.id))
            .one()
        )
        agreements.accept(
            agreement.id,
            Actor.of(principal),
            agreements.AcceptanceInput(
                "Bench Signer", "CEO", True, agreement.pdf_sha256, "127.0.0.1", "bench"
            ),
            now=moment,
        )
        headers = factories.bearer(vendor)
        return app, agreement.id, headers


def submit(database_url: str, kind: str, body: Path, *, unattested: bool) -> dict[str, Any]:
    import time_machine

    app, agreement_id, headers = prepare(database_url)
    content_type = "text/csv" if kind == "csv" else "application/json"
    query = "?attest=true" if kind == "csv" and not unattested else ""
    client = app.test_client()
    setup_peak = peak_mb()
    before = resident_mb()
    if not forget_peak():
        before = setup_peak
    size = body.stat().st_size
    with (
        time_machine.travel(datetime(2027, 4, 2, 15, 0, tzinfo=UTC), tick=True),
        body.open("rb") as stream,
    ):
        started = time.perf_counter()
        response = client.post(
            f"/api/v1/agreements/{agreement_id}/royalty-reports/2027-01-01{query}",
            input_stream=stream,
            content_length=size,
            headers={**headers, "Content-Type": content_type},
        )
        elapsed = time.perf_counter() - started
    expected = 422 if unattested else 201
    if response.status_code != expected or (
        unattested and list(response.get_json()["errors"]) != ["attest"]
    ):
        raise SystemExit(f"{response.status_code}: {response.get_data(as_text=True)[:500]}")
    return {
        "seconds": elapsed,
        "peak_mb": peak_mb(),
        "before_mb": before,
        "setup_peak_mb": setup_peak,
        "body_mb": size / 1e6,
        "invoice": None if unattested else response.get_json()["invoice"],
    }


def floor(database_url: str, count: int) -> dict[str, float]:
    """A raw executemany of the same rows into a table of the same shape; on
    PostgreSQL also a COPY FROM STDIN of them (`copy_seconds`)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE IF EXISTS bench_rows"))
        connection.execute(
            text(
                "CREATE TABLE bench_rows (id INTEGER PRIMARY KEY, report_id INTEGER, "
                "row_number INTEGER, line INTEGER, customer_id VARCHAR(100), "
                "customer_key VARCHAR(400), customer_name VARCHAR(200), country VARCHAR(2), "
                "unit VARCHAR(40), quantity BIGINT, revenue BIGINT)"
            )
        )
    values = [
        {
            "id": i + 1,
            "report_id": 1,
            "row_number": i + 2,
            "line": r[0],
            "customer_id": r[1],
            "customer_key": r[1].casefold(),
            "customer_name": r[2],
            "country": r[3],
            "unit": r[4],
            "quantity": r[5],
        }
        for i, r in enumerate(rows(count))
    ]
    started = time.perf_counter()
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO bench_rows (id, report_id, row_number, line, customer_id, "
                "customer_key, customer_name, country, unit, quantity) VALUES (:id, :report_id, "
                ":row_number, :line, :customer_id, :customer_key, :customer_name, :country, "
                ":unit, :quantity)"
            ),
            values,
        )
    figures = {"seconds": time.perf_counter() - started, "peak_mb": peak_mb()}
    if engine.dialect.name == "postgresql":
        figures["copy_seconds"] = _copy_floor(engine, values)
        bound = _copy_into_report_rows(engine, values)
        if bound is not None:
            figures["report_copy_seconds"] = bound
    return figures


def _copy_floor(engine: Any, values: list[dict[str, Any]]) -> float:
    """The same rows again, with COPY FROM STDIN (the table emptied first)."""
    from sqlalchemy import text

    columns = list(values[0])
    with engine.begin() as connection:
        connection.execute(text("TRUNCATE bench_rows"))
    started = time.perf_counter()
    with engine.begin() as connection:
        driver = connection.connection.driver_connection
        with (
            driver.cursor() as cursor,
            cursor.copy(f"COPY bench_rows ({', '.join(columns)}) FROM STDIN") as copy,
        ):
            for value in values:
                copy.write_row([value[column] for column in columns])
    return time.perf_counter() - started


def _copy_into_report_rows(engine: Any, values: list[dict[str, Any]]) -> float | None:
    """The same rows, already checked, copied into the report rows table itself
    (its foreign key to the report, its usage index and primary key) under the
    report the cases before filed, then rolled back: what any intake that stores
    the rows where the report keeps them costs at least (None: no report yet)."""
    from sqlalchemy import text

    columns = [name for name in values[0] if name != "id"]
    with engine.connect() as connection:
        report_id = connection.execute(text("SELECT max(id) FROM royalty_reports")).scalar()
        if report_id is None:
            return None
        driver = connection.connection.driver_connection
        started = time.perf_counter()
        with (
            driver.cursor() as cursor,
            cursor.copy(f"COPY royalty_report_rows ({', '.join(columns)}) FROM STDIN") as copy,
        ):
            for value in values:
                copy.write_row([report_id if c == "report_id" else value[c] for c in columns])
        elapsed = time.perf_counter() - started
        connection.rollback()
    return elapsed


def child(args: argparse.Namespace) -> None:
    if args.case == "floor":
        print(json.dumps(floor(args.database, args.rows)))
    else:
        found = submit(args.database, args.case, Path(args.body), unattested=args.unattested)
        print(json.dumps(found))


def run_case(
    case: str, database: str, count: int, body: Path, *, unattested: bool
) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", case, "--database", database]
    finished = subprocess.run(
        [*command, "--rows", str(count), "--body", str(body)]
        + (["--unattested"] if unattested else []),
        check=False,
        capture_output=True,
        text=True,
    )
    if finished.returncode != 0:
        raise SystemExit(
            f"{case} on {database.split(':')[0]} failed:\n{finished.stdout}{finished.stderr}"
        )
    output = finished.stdout
    result: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    return result


def _median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run of median time (its own peak RSS and the rest with it)."""
    return sorted(runs, key=lambda run: float(run["seconds"]))[(len(runs) - 1) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run the cases this many times in turn and print medians (steadier on a busy machine)",
    )
    parser.add_argument(
        "--postgresql",
        help="a PostgreSQL URL to file into, or 'auto' to start a throwaway server as the "
        "test suite does (Debian's PostgreSQL binaries)",
    )
    parser.add_argument(
        "--unattested",
        action="store_true",
        help="send the reports without their attestation: what refusing them costs",
    )
    parser.add_argument("--child", dest="case")
    parser.add_argument("--database")
    parser.add_argument("--body")
    args = parser.parse_args()
    if args.case:
        child(args)
        return
    targets = []
    # `auto` starts a throwaway server, or goes on with SQLite alone, saying why.
    given = postgresql(args.postgresql, "bench_royalties", unavailable="PostgreSQL skipped: {}")
    with given as (server_url, _server), tempfile.TemporaryDirectory() as directory:
        bodies = {"csv": Path(directory) / "report.csv", "json": Path(directory) / "report.json"}
        write_csv(bodies["csv"], args.rows)
        write_json(bodies["json"], args.rows, attest=not args.unattested)
        bodies["floor"] = bodies["csv"]
        for kind in ("csv", "json", "floor"):
            targets.append(("sqlite", kind, f"sqlite:///{directory}/{kind}.db"))
        if server_url:
            targets += [("postgresql", kind, server_url) for kind in ("csv", "json", "floor")]
        runs: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for attempt in range(args.repeat):
            for backend, kind, url in targets:
                # A fresh SQLite file each run, as the first run had.
                where = url.replace(".db", f"-{attempt}.db") if backend == "sqlite" else url
                found = run_case(kind, where, args.rows, bodies[kind], unattested=args.unattested)
                runs.setdefault((backend, kind), []).append(found)
        figures = {key: _median(found) for key, found in runs.items()}
        what = "sent without attest, to its refusal" if args.unattested else "submit to invoice"
        print(
            f"royalty report of {args.rows:,} rows, {what} (fresh process each"
            + (f"; medians of {args.repeat} runs in turn)" if args.repeat > 1 else ")")
        )
        for backend in ("sqlite", "postgresql"):
            base = figures.get((backend, "floor"))
            for kind in ("csv", "json"):
                figure = figures.get((backend, kind))
                if not figure or not base:
                    continue
                ratio = figure["seconds"] / base["seconds"]
                copy = ""
                if "copy_seconds" in base:
                    copy = (
                        f"; COPY: {base['copy_seconds']:5.2f} s  ratio "
                        f"{figure['seconds'] / base['copy_seconds']:5.1f}x"
                    )
                if "report_copy_seconds" in base:
                    bound = base["report_copy_seconds"]
                    copy += (
                        f"; COPY into the report rows table: {bound:5.2f} s "
                        f"({bound / base['copy_seconds']:.1f}x of COPY; ours "
                        f"{figure['seconds'] / bound:.1f}x of it)"
                    )
                print(
                    f"  {backend:<10} {kind:<4} {figure['seconds']:7.2f} s  peak RSS "
                    f"{figure['peak_mb']:6.0f} MB (app before the request: "
                    f"{figure['before_mb']:.0f} MB, setting up peaked at "
                    f"{figure['setup_peak_mb']:.0f} MB; body {figure['body_mb']:.0f} MB)  "
                    f"floor, bulk INSERT: {base['seconds']:5.2f} s  ratio {ratio:5.1f}x{copy}"
                )


if __name__ == "__main__":
    main()
