"""List pages with 1,000 applications: the vendor dashboard, the vendor's applications
and the staff queue; and the staff's royalty report queue with 1,000 agreements.

In-process with the Flask test client, on a fresh SQLite database and, with
`--postgresql`, an empty PostgreSQL one. One application is made through the real
services (priced, submitted, audited), then copied to 1,000 rows (the pages read rows;
making each through the services would only slow the set-up).

The lists show one page of 50 rows (with the count of all 1,000 and next/previous
links) and the dashboard names the five oldest applications under review and counts
the rest, so each page renders far fewer rows than there are applications. Its
floor is a bare Flask app rendering, from memory, a Jinja table of the SAME number
of rows and columns as the page's biggest table actually shows (50 rows for a list,
6 for the dashboard), in the same run: the ratio compares like with like, and the
page's own work over all 1,000 applications (counting them, sorting them, choosing
the page) is what it pays on top. Prints the median, p99 and the ratio (floor time /
page time, so 1.0 would be as fast as the floor); asserts nothing (performance is
never asserted in tests).

The royalty queue's 1,000 agreements (another vendor's, added after the
application pages are measured) are one accepted through the services and copies
of it over last year's term, so all 4,000 periods are overdue: the queue counts
them and shows the first 50 (and the second page of them filtered by state and part
of the agreement number, as staff look for one).

    .venv/bin/python bench/pages.py [--applications 1000] [--agreements 1000]
        [--requests 40] [--postgresql URL|auto]
"""

from __future__ import annotations

import argparse
import gc
import re
import statistics
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from functools import partial
from typing import Any

from harness import (  # first: the repository on the path
    POSTGRESQL_HELP,
    bench_app,
    quiet_migrations,
    sqlite_then_postgresql,
)

from tests.support.uses import STAFF_USE

MOMENT = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
# The royalty queue as staff filter it: overdue, part of an agreement number.
ROYALTY_QUEUE_FILTERED = "/console/royalty-reports?state=overdue&agreement=cpt-&page=2"

FLOOR_TEMPLATE = """<!doctype html><html><head><title>Floor</title></head><body><main>
<table><thead><tr>{% for name in columns %}<th>{{ name }}</th>{% endfor %}</tr></thead>
<tbody>{% for row in rows %}<tr>{% for cell in row %}<td>{{ cell }}</td>{% endfor %}</tr>
{% endfor %}</tbody></table></main></body></html>"""


def prepare(database_url: str, count: int) -> tuple[Any, Any, Any]:
    """A migrated database with the sample card, a vendor with `count` submitted
    applications, and a licensing staff member."""
    from licensing import db
    from licensing.accounts import services as accounts
    from licensing.actors import Actor
    from licensing.agreements import services as agreements
    from licensing.ratecards import cli as ratecards_cli
    from tests.support import copies, factories
    from tests.support.settings import issuing

    app = bench_app(database_url, overrides={"WTF_CSRF_ENABLED": False})
    with app.app_context():
        ratecards_cli.load_samples()
        session = db.session()
        vendor = factories.make_vendor(session, email="vendor@bench.example")
        staff = factories.make_staff(session, roles=("licensing",), email="staff@bench.example")
        principal = accounts.principal_for(vendor)
        draft = agreements.ApplicationDraft.from_fields(
            {"term_start": date(2027, 1, 1), "term_end": date(2027, 12, 31), "uses": (STAFF_USE,)}
        )
        application = agreements.create_draft(Actor.of(principal), draft, now=MOMENT)
        agreements.submit(
            application.id, Actor.of(principal), policy=issuing(), attest=True, now=MOMENT
        )
        copies.copy_application(session, application.id, count - 1)
        return app, vendor.email, staff.email


def add_royalty_agreements(app: Any, count: int) -> str:
    """Another vendor with `count` active agreements reporting royalties, over last
    year's term: one applied for, approved and accepted through the services, the
    rest copies of it (`copies.copy_agreement`). The vendor's email."""
    from sqlalchemy import select

    from licensing import db
    from licensing.accounts import services as accounts
    from licensing.accounts.models import User
    from licensing.actors import Actor
    from licensing.agreements import services as agreements
    from tests.support import copies, factories
    from tests.support.agreements import accept, agreement_of
    from tests.support.settings import issuing

    with app.app_context():
        session = db.session()
        vendor = factories.make_vendor(session, email="royalties@bench.example")
        staff = session.scalars(select(User).where(User.email == "staff@bench.example")).one()
        principal = accounts.principal_for(vendor)
        draft = agreements.ApplicationDraft.from_fields(
            {"term_start": date(2027, 1, 1), "term_end": date(2027, 12, 31), "uses": (STAFF_USE,)}
        )
        application = agreements.create_draft(Actor.of(principal), draft, now=MOMENT)
        agreements.submit(
            application.id, Actor.of(principal), policy=issuing(), attest=True, now=MOMENT
        )
        reviewer = Actor.of(accounts.principal_for(staff))
        agreements.start_review(application.id, reviewer, now=MOMENT)
        agreements.approve(application.id, reviewer, policy=issuing(), now=MOMENT)
        agreement = accept(agreement_of(application), vendor, now=MOMENT)
        made = copies.copy_application(session, application.id, count - 1, product="Royalty Feed")
        last_year = datetime.now(UTC).year - 1
        copies.copy_agreement(
            session, agreement.id, made, term=(date(last_year, 1, 1), date(last_year, 12, 31))
        )
        return str(vendor.email)


def signed_in(app: Any, email: str) -> Any:
    from tests.support.factories import DEFAULT_PASSWORD

    client = app.test_client()
    response = client.post("/sign-in", data={"email": email, "password": DEFAULT_PASSWORD})
    if response.status_code != 302:
        raise SystemExit(f"sign-in as {email}: {response.status_code}")
    return client


def timings(get: Callable[[], Any], requests: int) -> tuple[list[float], list[float], str]:
    """Seconds per request (after two warm-up requests), on the clock and in this
    process's CPU time, and the last page's HTML."""
    for _ in range(2):
        html = get().get_data(as_text=True)
    seconds, cpu_seconds = [], []
    for _ in range(requests):
        started, cpu_started = time.perf_counter(), time.process_time()
        response = get()
        body = response.get_data(as_text=True)
        seconds.append(time.perf_counter() - started)
        cpu_seconds.append(time.process_time() - cpu_started)
        if response.status_code != 200:
            raise SystemExit(f"{response.status_code}: {body[:300]}")
        html = body
    return seconds, cpu_seconds, html


def table_shape(html: str) -> tuple[int, int]:
    """Rows and columns of the page's biggest table body (what the floor renders)."""
    bodies = re.findall(r"<tbody>(.*?)</tbody>", html, re.DOTALL) or [""]
    body = max(bodies, key=len)
    rows = re.findall(r"<tr\b.*?</tr>", body, re.DOTALL)
    columns = max((len(re.findall(r"<t[dh]\b", row)) for row in rows), default=1)
    return len(rows), columns


def floor_app(rows: int, columns: int) -> Any:
    from flask import Flask, render_template_string

    app = Flask("floor")
    data = [[f"Invented cell {r}-{c}" for c in range(columns)] for r in range(rows)]
    names = [f"Column {c}" for c in range(columns)]

    @app.get("/")
    def table() -> str:
        return render_template_string(FLOOR_TEMPLATE, columns=names, rows=data)

    return app


def p99(seconds: list[float]) -> float:
    ordered = sorted(seconds)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


def report(
    label: str,
    page: tuple[list[float], list[float]],
    floor: tuple[list[float], list[float]],
    shape: tuple[int, int],
) -> None:
    """The clock's figures, then the same in CPU time: on a shared machine other
    processes stretch a long request's clock time more than the short floor's,
    while CPU time counts only this process's work (not a database server's)."""
    (page_wall, page_cpu), (floor_wall, floor_cpu) = page, floor
    page_median, floor_median = statistics.median(page_wall), statistics.median(floor_wall)
    print(
        f"{label:<34} {shape[0]:>5} rows x {shape[1]:>2} cols  "
        f"median {page_median * 1000:7.1f} ms  p99 {p99(page_wall) * 1000:7.1f} ms  |  "
        f"floor median {floor_median * 1000:6.1f} ms  p99 {p99(floor_wall) * 1000:6.1f} ms  |  "
        f"ratio {floor_median / page_median:5.2f}x"
    )
    page_cpu_median, floor_cpu_median = statistics.median(page_cpu), statistics.median(floor_cpu)
    print(
        f"{'  (CPU time of this process)':<54}"
        f"median {page_cpu_median * 1000:7.1f} ms  p99 {p99(page_cpu) * 1000:7.1f} ms  |  "
        f"floor median {floor_cpu_median * 1000:6.1f} ms  "
        f"p99 {p99(floor_cpu) * 1000:6.1f} ms  |  "
        f"ratio {floor_cpu_median / page_cpu_median:5.2f}x"
    )


def measure(backend: str, url: str, applications: int, agreements: int, requests: int) -> None:
    started = time.perf_counter()
    app, vendor_email, staff_email = prepare(url, applications)
    print(
        f"{backend}, {applications} applications (set up in "
        f"{time.perf_counter() - started:.1f} s), {requests} requests per page, "
        "Flask test client in-process; ratio = floor median / page median; the floor "
        "renders as many rows as the page shows"
    )
    pages = (
        ("vendor dashboard /portal/", vendor_email, "/portal/"),
        ("vendor applications", vendor_email, "/portal/applications"),
        ("staff queue /console/applications", staff_email, "/console/applications"),
    )
    for label, email, path in pages:
        measure_page(app, label, email, path, requests)
    if agreements:
        started = time.perf_counter()
        royalties_email = add_royalty_agreements(app, agreements)
        print(
            f"  and {agreements} agreements reporting royalties, another vendor's (set up in "
            f"{time.perf_counter() - started:.1f} s)"
        )
        for label, email, path in (
            ("staff royalty queue", staff_email, "/console/royalty-reports"),
            ("staff royalty queue, page 40", staff_email, "/console/royalty-reports?page=40"),
            ("staff royalty queue, filtered", staff_email, ROYALTY_QUEUE_FILTERED),
            ("vendor royalty reports", royalties_email, "/portal/royalty-reports"),
        ):
            measure_page(app, label, email, path, requests)
    app.extensions["licensing.db"].engine.dispose()


def measure_page(app: Any, label: str, email: str, path: str, requests: int) -> None:
    # The set-up's objects (its thousands of records) out of the collector's way: a
    # full collection over them paused one request in forty by 80-90 ms, counted
    # against whichever page it fell on (round 52); a serving worker holds no set-up.
    gc.collect()
    gc.freeze()
    client = signed_in(app, email)
    page_wall, page_cpu, html = timings(partial(client.get, path), requests)
    shape = table_shape(html)
    floor_client = floor_app(*shape).test_client()
    floor_wall, floor_cpu, _html = timings(partial(floor_client.get, "/"), requests)
    report(label, (page_wall, page_cpu), (floor_wall, floor_cpu), shape)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--applications", type=int, default=1000)
    parser.add_argument(
        "--agreements",
        type=int,
        default=1000,
        help="agreements reporting royalties for the royalty queue (0: leave it out)",
    )
    parser.add_argument("--requests", type=int, default=40, help="timed requests per page")
    parser.add_argument("--postgresql", help=POSTGRESQL_HELP)
    args = parser.parse_args()
    quiet_migrations()  # the figures are all this script prints
    sizes = (args.applications, args.agreements, args.requests)
    sqlite_then_postgresql(
        args.postgresql, "bench_pages", lambda label, url: measure(label, url, *sizes)
    )


if __name__ == "__main__":
    main()
