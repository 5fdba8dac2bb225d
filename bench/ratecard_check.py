"""The rate-card check (`/console/rate-cards/`, `POST /api/v1/rate-cards/checks`):
a card checked against 1,000 undecided applications among as many decided ones,
and against 1,000 agreements whose renewal it would price.

In-process, on a fresh SQLite database and, with `--postgresql`, an empty
PostgreSQL one. Synthetic data from a fixed seed: one application submitted through
the real services (priced, audited) and copied; of the copies, a seeded half is
decided (approved, rejected or withdrawn: the check does not price them) and a
seeded third carries one or two later quote versions (staff modifications: the
check prices the latest). One agreement accepted through the services over 2027 and
copied gives the renewal candidates. Two checks are timed, each `--runs` times
after one warm-up: the sample 2027.1 card published again as 2027.2 (it takes the
undecided applications) and as 2028.1 for 2028 (the agreements' renewals).

The floor is a plain read of the same records, in the same batches, with what the
check loads with them (the applications with their latest quote through the
check's own statement; the agreements with their quote, organization and uses):
no check can do less than read once each record it prices. What the check does on
top is pricing each record on the card and reading the agreements' reported usage
(three statements a batch). Prints the median and the slowest run of the check and
of the floor, and the ratio (floor median / check median, so 1.0 would be as fast as the
read); asserts nothing (performance is never asserted in tests).

    .venv/bin/python bench/ratecard_check.py [--applications 1000] [--agreements 1000]
        [--runs 10] [--seed 23] [--postgresql URL|auto]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import partial
from typing import Any

from harness import (  # first: the repository on the path
    POSTGRESQL_HELP,
    ROOT,
    bench_app,
    quiet_migrations,
    sqlite_then_postgresql,
)

from tests.support.uses import STAFF_USE

MOMENT = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
SAMPLE_CARD = ROOT / "licensing" / "ratecards" / "samples" / "2027.1.json"
DECIDED = ("approved", "rejected", "withdrawn")


def _submitted(vendor: Any) -> int:
    """An application for `STAFF_USE` over 2027, submitted by `vendor` through the
    services (priced, audited): it waits for staff review. Its id."""
    from licensing.accounts import services as accounts
    from licensing.actors import Actor
    from licensing.agreements import services as agreements_service
    from tests.support.settings import issuing

    actor = Actor.of(accounts.principal_for(vendor))
    draft = agreements_service.ApplicationDraft.from_fields(
        {"term_start": date(2027, 1, 1), "term_end": date(2027, 12, 31), "uses": (STAFF_USE,)}
    )
    application = agreements_service.create_draft(actor, draft, now=MOMENT)
    agreements_service.submit(application.id, actor, policy=issuing(), attest=True, now=MOMENT)
    return application.id


def prepare(app: Any, applications: int, agreements: int, seed: int) -> None:
    """The sample cards, a vendor with `applications` undecided applications among as
    many decided ones (some with later quote versions), and `agreements` active
    agreements over 2027 (another vendor's)."""
    from sqlalchemy import update

    from licensing import db
    from licensing.agreements.models import Application
    from licensing.ratecards import cli as ratecards_cli
    from tests.support import copies, factories

    rng = random.Random(seed)
    with app.app_context():
        ratecards_cli.load_samples()
        session = db.session()
        vendor = factories.make_vendor(session, email="vendor@bench.example")
        staff = factories.make_staff(session, roles=("licensing",), email="staff@bench.example")
        first = _submitted(vendor)
        made = [first, *copies.copy_application(session, first, 2 * applications - 1)]
        by_state: dict[str, list[int]] = {state: [] for state in DECIDED}
        for made_id in sorted(rng.sample(made, applications)):
            by_state[rng.choice(DECIDED)].append(made_id)
        for state, ids in by_state.items():
            session.execute(update(Application).where(Application.id.in_(ids)).values(state=state))
        for made_id in made:
            if rng.random() < 1 / 3:
                for _ in range(rng.choice((1, 2))):
                    copies.requote(session, made_id)
        session.commit()
        if agreements:
            _add_agreements(session, staff, agreements)


def _add_agreements(session: Any, staff: Any, count: int) -> None:
    """Another vendor's `count` active agreements over 2027: one applied for, approved
    and accepted through the services, the rest copies of it."""
    from tests.support import copies, factories
    from tests.support.agreements import make_active_agreement

    vendor = factories.make_vendor(session, email="renewals@bench.example")
    agreement = make_active_agreement(vendor, staff, STAFF_USE, now=MOMENT)
    made = copies.copy_application(
        session, agreement.application_id, count - 1, product="Renewal Feed"
    )
    copies.copy_agreement(session, agreement.id, made, term=(date(2027, 1, 1), date(2027, 12, 31)))


def card(version: str, year: int) -> Any:
    """The sample 2027.1 card published again as `version` for `year`."""
    from licensing.ratecards import services as ratecards

    document = json.loads(SAMPLE_CARD.read_text(), parse_float=Decimal)
    document.update(version=version, effective_from=f"{year}-01-01", effective_to=f"{year}-12-31")
    return ratecards.validate(document)


def plain_read(session: Any, checked: Any) -> int:
    """The floor: the records the check prices, read in its batches with what it loads
    with them, and nothing else. How many."""
    from licensing import calendar
    from licensing.agreements import card_effect
    from licensing.db import utcnow

    read = 0
    applications = session.execute(
        card_effect.latest_quotes(checked).execution_options(yield_per=card_effect.BATCH)
    )
    for rows in applications.partitions():
        read += len(rows)
    agreements = session.scalars(
        card_effect.renewal_candidates(checked, calendar.office_date(utcnow()))
        .options(*card_effect.RENEWAL_LOADS)
        .execution_options(yield_per=card_effect.BATCH)
    )
    for batch in agreements.partitions():
        read += len(batch)
    return read


def timed(step: Callable[[], Any], runs: int) -> tuple[list[float], Any]:
    """Seconds per run (after one warm-up), and the last run's result."""
    found = step()
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        found = step()
        seconds.append(time.perf_counter() - started)
    return seconds, found


def measure(
    backend: str, url: str, applications: int, agreements: int, runs: int, seed: int
) -> None:
    from licensing import db
    from licensing.agreements import card_effect

    started = time.perf_counter()
    app = bench_app(url)
    prepare(app, applications, agreements, seed)
    print(
        f"{backend}, {applications} undecided applications among {2 * applications}, "
        f"{agreements} renewal candidates (set up in {time.perf_counter() - started:.1f} s), "
        f"{runs} runs; ratio = floor median / check median"
    )
    with app.app_context():
        for label, checked in (
            ("check 2027.2 (the applications)", card("2027.2", 2027)),
            ("check 2028.1 (the renewals)", card("2028.1", 2028)),
        ):
            session = db.session()
            check, effect = timed(partial(card_effect.effect, session, checked), runs)
            floor, read = timed(partial(plain_read, session, checked), runs)
            assert effect.count == read, (effect.count, read)
            check_median, floor_median = statistics.median(check), statistics.median(floor)
            print(
                f"{label:<32} {effect.count:>5} records  "
                f"median {check_median * 1000:8.1f} ms  slowest {max(check) * 1000:8.1f} ms  |  "
                f"floor median {floor_median * 1000:7.1f} ms  "
                f"slowest {max(floor) * 1000:7.1f} ms  |  "
                f"ratio {floor_median / check_median:5.2f}x"
            )
            session.rollback()
    app.extensions["licensing.db"].engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--applications", type=int, default=1000, help="undecided applications")
    parser.add_argument("--agreements", type=int, default=1000, help="renewal candidates")
    parser.add_argument("--runs", type=int, default=10, help="timed runs of each check")
    parser.add_argument("--seed", type=int, default=23, help="the synthetic data's seed")
    parser.add_argument("--postgresql", help=POSTGRESQL_HELP)
    args = parser.parse_args()
    quiet_migrations()
    sizes = (args.applications, args.agreements, args.runs, args.seed)
    sqlite_then_postgresql(
        args.postgresql, "bench_ratecard_check", lambda label, url: measure(label, url, *sizes)
    )


if __name__ == "__main__":
    main()
