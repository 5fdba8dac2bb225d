"""The invoices and receivables exports as of a day, at a busy office's size.

`invoices?as_of=D` reads each invoice as it stood at the end of D by the bank's days
(round 61, asof61: `billing.queries.bank_days`, its paid day and the day it last
began to owe); `receivables?as_of=D` its balances, and since round 62 its state, on
that day. This seeds the ledger of `bench/invoice_balances.py` (`--invoices`
invoices over 2025 and 2026: a quarter open, a quarter paid in full by wire, a
quarter paid in part, a quarter paid and credited) on a fresh SQLite database and,
with `--postgresql`, an empty PostgreSQL one, and streams each export through the
service the API and CLI use (`licensing.exports.services.stream`) to memory.

Prints, per export, its rows, the SHA-256 of its bytes (the same on both databases
and before and after a change that keeps the answers), and the medians of the wall
clock and this process's CPU (SQLite runs in it; PostgreSQL's server is in the wall
clock). Asserts nothing.

    .venv/bin/python bench/invoices_as_of.py [--invoices 30000] [--runs 3]
        [--postgresql URL|auto]
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import time
from typing import Any

from harness import POSTGRESQL_HELP, bench_app, quiet_migrations, sqlite_then_postgresql
from invoice_balances import seed

EXPORTS = {
    "invoices as of a recent day": ("invoices", {"as_of": "2026-12-31"}),
    "invoices as of a past day": ("invoices", {"as_of": "2026-03-31"}),
    "invoices as of a past day, paid": ("invoices", {"as_of": "2026-03-31", "state": "paid"}),
    "invoices today": ("invoices", {}),
    "receivables as of a recent day": ("receivables", {"as_of": "2026-12-31"}),
    "receivables as of a past day": ("receivables", {"as_of": "2026-03-31"}),
}


def _exported(dataset: str, given: dict[str, str]) -> tuple[int, str]:
    """Rows and SHA-256 of the export streamed as the API streams it."""
    from licensing.config import current_config
    from licensing.exports import services

    request = services.prepare(dataset, "csv", given)
    tally = services.Tally()
    digest = hashlib.sha256()
    for chunk in services.stream(request, gl_accounts=current_config().gl_accounts, tally=tally):
        digest.update(chunk)
    return tally.rows, digest.hexdigest()


def measure(invoices: int, runs: int) -> Any:
    def on(backend: str, url: str) -> None:
        quiet_migrations()
        app = bench_app(url)
        started = time.perf_counter()
        seed(app, invoices)
        print(f"  {backend}: seeded {invoices:,} invoices in {time.perf_counter() - started:.1f} s")
        with app.app_context():
            for label, (dataset, given) in EXPORTS.items():
                walls, cpus = [], []
                for attempt in range(runs + 1):
                    wall, cpu = time.perf_counter(), time.process_time()
                    rows, sha = _exported(dataset, given)
                    if attempt:  # the first warms the caches
                        walls.append(time.perf_counter() - wall)
                        cpus.append(time.process_time() - cpu)
                print(
                    f"  {backend:<10} {label:<34} {rows:>6,} rows sha256 {sha[:12]}: "
                    f"{statistics.median(walls):.2f} s, CPU {statistics.median(cpus):.2f} s "
                    f"(medians of {runs})"
                )

    return on


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=30_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--postgresql", help=POSTGRESQL_HELP)
    args = parser.parse_args()
    print(f"the invoices and receivables exports as of a day, {args.invoices:,} invoices")
    sqlite_then_postgresql(
        args.postgresql, "bench_invoices_as_of", measure(args.invoices, args.runs)
    )


if __name__ == "__main__":
    main()
