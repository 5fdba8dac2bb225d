"""Two audited steps at once: a long one, and short unrelated ones started while it
runs (round 58, auditchain58: the audit chain's head locked at commit).

Until round 58 `audit.record` locked the audit chain's one head row at a step's first
event and held it until the step committed, so every other audited step of the service
waited from its own first event until the long one committed. Now the events are
chained at commit, under the head's lock as the transaction's last lock.

In-process, on an empty PostgreSQL database (`--postgresql URL`, or `auto` to start a
throwaway server as the test suite does), two threads on two connections, the real
`audit.record` and `db.transaction`:

- the long step: `--long` transactions one after the other, each recording an event,
  then working `--work-ms` (a sleep, standing for a big royalty report's rows or a
  statement run's PDFs), then recording a second event and committing;
- the short steps: `--short` transactions one after the other, each recording one
  event and committing, begun once the long step has recorded its first event.

Each mode is run `--runs` times, alternated: `first-event` locks the head at the first
event as before round 58 (the events chained as they are recorded: the same locks as
the old code), `commit` is the code as it is. Prints the median of the short steps'
wall time from the first begun to the last committed, their slowest single step, and
the pair's wall time. Asserts nothing (performance is never asserted in tests); a
SQLite database writes one unit of work at a time from its BEGIN, audited or not, so
this measures PostgreSQL only.

    .venv/bin/python bench/audited_steps.py --postgresql auto [--long 5] [--short 50]
        [--work-ms 200] [--runs 3]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from harness import bench_app, postgresql, quiet_migrations  # first: the repository on the path

MODES = ("first-event", "commit")


@contextmanager
def _head_at(mode: str) -> Iterator[None]:
    """`first-event`: each event chained as it is recorded, so the transaction locks
    the head at its first event and holds it until it commits (before round 58)."""
    from licensing.audit import services

    if mode == "commit":
        yield
        return
    kept = services._pend

    def chained_at_once(session: Any, pending: Any) -> None:
        kept(session, pending)
        services._chain_pending(session)

    services._pend = chained_at_once
    try:
        yield
    finally:
        services._pend = kept


@dataclass(frozen=True)
class Run:
    shorts_wall: float
    slowest_short: float
    pair_wall: float


def _event(session: Any, action: str, number: int) -> None:
    from licensing.audit import services

    services.record(
        session,
        action=f"bench.{action}",
        entity_type="bench",
        entity_id=number,
        before=None,
        after={"number": number},
    )


def _once(app: Any, long: int, short: int, work: float) -> Run:
    from licensing import db

    begun = threading.Event()
    shorts: list[float] = []
    walls: dict[str, float] = {}

    def long_step() -> None:
        with app.app_context():
            for number in range(long):
                with db.transaction() as session:
                    _event(session, "long_began", number)
                    begun.set()
                    time.sleep(work)
                    _event(session, "long_ended", number)

    def short_steps() -> None:
        begun.wait(60)
        started = time.perf_counter()
        with app.app_context():
            for number in range(short):
                one = time.perf_counter()
                with db.transaction() as session:
                    _event(session, "short", number)
                shorts.append(time.perf_counter() - one)
        walls["shorts"] = time.perf_counter() - started

    started = time.perf_counter()
    threads = [threading.Thread(target=step) for step in (long_step, short_steps)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return Run(walls["shorts"], max(shorts), time.perf_counter() - started)


def measure(database_url: str, long: int, short: int, work_ms: int, runs: int) -> None:
    from licensing import db
    from licensing.audit import services

    app = bench_app(database_url)
    # Not a line an event (create_app sets the app's logger to INFO).
    logging.getLogger("licensing.audit.services").setLevel(logging.WARNING)
    found: dict[str, list[Run]] = {mode: [] for mode in MODES}
    for _ in range(runs):
        for mode in MODES:
            with _head_at(mode):
                found[mode].append(_once(app, long, short, work_ms / 1000))
    with app.app_context():
        report = services.verify_chain(db.session())
        print(f"chain verified: {report.ok} ({report.events} events)")
    print(
        f"{long} long steps of {work_ms} ms of work, {short} short steps begun at the long "
        f"step's first event; median of {runs} runs"
    )
    for mode in MODES:
        runs_of = found[mode]
        shorts = statistics.median(run.shorts_wall for run in runs_of)
        slowest = statistics.median(run.slowest_short for run in runs_of)
        pair = statistics.median(run.pair_wall for run in runs_of)
        print(
            f"  head locked at {mode:<11}  short steps {shorts * 1000:8.1f} ms  "
            f"slowest one {slowest * 1000:7.1f} ms  |  both {pair * 1000:8.1f} ms"
        )
    app.extensions["licensing.db"].engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--long", type=int, default=5, help="long steps, one after another")
    parser.add_argument("--short", type=int, default=50, help="short steps, one after another")
    parser.add_argument("--work-ms", type=int, default=200, help="each long step's own work")
    parser.add_argument("--runs", type=int, default=3, help="runs of each mode, alternated")
    parser.add_argument(
        "--postgresql",
        help="an empty PostgreSQL database's URL, or 'auto' to start a throwaway server "
        "as the test suite does (`make bench` passes it unless BENCH_POSTGRESQL=off)",
    )
    args = parser.parse_args()
    quiet_migrations()
    if not args.postgresql:
        print("skipped: PostgreSQL only (SQLite writes one unit of work at a time)")
        return
    with postgresql(args.postgresql, "bench_audited_steps") as (url, _server):
        if url is not None:
            measure(url, args.long, args.short, args.work_ms, args.runs)


if __name__ == "__main__":
    main()
