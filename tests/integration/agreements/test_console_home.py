"""The staff console's home lists each queue the viewer may open, with counts,
what needs attention and the oldest item; staff land there after signing in.

Round 58 (plans58b): the acceptance row's plan is priced on rows that decide it (2,000
agreements replaced long ago beside the few issued, ANALYZEd in the test's
transaction), not on the counts earlier tests left in `pg_class`."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update

from licensing import db
from licensing.accounts import services as accounts
from licensing.agreements.models import Agreement, Application
from licensing.agreements.queries import acceptance_queue
from licensing.agreements.states import REPLACED
from licensing.calendar import office_date
from licensing.web.console import summaries
from tests.integration.agreements.conftest import AUTO_USE, STAFF_USE
from tests.support import factories, plans
from tests.support.agreements import issued_agreement, make_active_agreement


def _row(html: str, title: str) -> str:
    found = re.search(rf"<tr[^>]*>\s*<td><a [^>]*>{re.escape(title)}</a>.*?</tr>", html, re.S)
    assert found, f"no row for {title!r}"
    return found.group(0)


def test_staff_land_on_the_console_home_and_see_waiting_applications(
    app: Flask,
    client: FlaskClient,
    signed_in: Callable[..., FlaskClient],
    apply: Callable[..., Application],
    vendor: Any,
) -> None:
    apply(vendor, STAFF_USE)
    apply(vendor, STAFF_USE)
    staff = factories.make_staff(db.session(), roles=("licensing",))
    response = client.post(
        "/sign-in", data={"email": staff.email, "password": factories.DEFAULT_PASSWORD}
    )
    assert response.headers["Location"].endswith("/console/")
    html = client.get("/console/").get_data(as_text=True)
    row = _row(html, "Applications awaiting review")
    assert '<td class="num">2</td>' in row
    assert "2 unassigned" in row
    # The outbox is the admins': its page would refuse this viewer.
    assert "Email waiting to be sent" not in html


def test_every_summary_reports_its_oldest_item_as_an_aware_time(
    app: Flask, apply: Callable[..., Application], vendor: Any
) -> None:
    apply(vendor, STAFF_USE)
    staff = factories.make_staff(db.session(), roles=("licensing", "billing", "admin"))
    with app.test_request_context():
        found = summaries(db.session(), accounts.principal_for(staff), db.utcnow())
    titles = [summary.title for summary in found]
    assert "Applications awaiting review" in titles
    assert "Overdue invoices" in titles
    assert "Educational permission requests with the office" in titles
    assert "Email waiting to be sent" in titles
    waiting = next(s for s in found if s.title == "Applications awaiting review")
    assert isinstance(waiting.oldest, datetime)
    assert waiting.oldest.tzinfo is not None


def test_a_vendor_cannot_open_the_console_home(
    client: FlaskClient, signed_in: Callable[..., FlaskClient], vendor: Any
) -> None:
    assert signed_in(client, vendor).get("/console/").status_code == 403


def _arranged(agreement: Agreement, *, issued_days_ago: int, term_end: date) -> Agreement:
    """`agreement` issued `issued_days_ago` days before now, its term ending `term_end`."""
    # Arranged as if it were issued so: a term never changes once issued.
    db.session().execute(
        update(Agreement)
        .where(Agreement.id == agreement.id)
        .values(
            issued_at=db.utcnow() - timedelta(days=issued_days_ago),
            term_start=min(agreement.term_start, term_end),
            term_end=term_end,
        )
    )
    db.session().expire(agreement)
    return agreement


def test_the_home_counts_agreements_waiting_for_acceptance_and_links_them(
    app: Flask,
    client: FlaskClient,
    signed_in: Callable[..., FlaskClient],
    apply: Callable[..., Application],
    vendor: Any,
    licensing_staff: Any,
) -> None:
    today = office_date(db.utcnow())
    expiring = _arranged(
        issued_agreement(vendor, licensing_staff, AUTO_USE),
        issued_days_ago=20,
        term_end=today + timedelta(days=13),
    )
    later = _arranged(
        issued_agreement(vendor, licensing_staff, AUTO_USE),
        issued_days_ago=3,
        term_end=today + timedelta(days=14),
    )
    # Issued after its term: it never expires unaccepted (it waits for staff).
    past_term = _arranged(
        issued_agreement(vendor, licensing_staff, AUTO_USE),
        issued_days_ago=2,
        term_end=today - timedelta(days=30),
    )
    accepted = make_active_agreement(vendor, licensing_staff, AUTO_USE)
    console = signed_in(client, licensing_staff)

    html = console.get("/console/").get_data(as_text=True)

    row = _row(html, "Agreements waiting for the licensee&#39;s acceptance")
    assert '<td class="num">3</td>' in row
    assert "1 expiring unaccepted within 14 days" in row
    assert "The oldest was issued 20 days ago; 1 expiring unaccepted within 14 days." in row
    link = re.search(r'<a href="([^"]+)"', row)
    assert link
    listed = console.get(link.group(1).replace("&amp;", "&")).get_data(as_text=True)
    # The longest waiting first (round 54: newest first, the oldest on the last page).
    assert "sort=oldest" in link.group(1)
    found = re.findall(r"CPT-\d{4}-\d{6}", listed)
    assert found.index(expiring.number) < found.index(later.number) < found.index(past_term.number)
    # Each row says how long it has waited, as the home's row does of the oldest.
    assert "not accepted: issued 20 days ago" in listed
    assert "not accepted: issued 3 days ago" in listed
    assert accepted.number not in listed


def test_the_acceptance_row_is_one_statement_read_through_an_index(
    app: Flask,
    apply: Callable[..., Application],
    vendor: Any,
    licensing_staff: Any,
) -> None:
    for _ in range(3):
        issued_agreement(vendor, licensing_staff, AUTO_USE)
    active = make_active_agreement(vendor, licensing_staff, AUTO_USE)
    # Agreements that are not waiting, copies of the active one replaced long ago.
    plans.copied(
        Agreement.__table__,
        active.id,
        2000,
        lambda n: {
            "number": f"COPY-{n}",
            "state": REPLACED,
            "issued_at": active.issued_at - timedelta(days=400 + n),
        },
    )
    plans.analyzed("agreements")
    with plans.sent_with_values(db.session().get_bind()) as caught:
        found = acceptance_queue(db.session(), office_date(db.utcnow()))
    assert found.issued == 3
    # One statement, whatever the number of agreements (the test's savepoint aside).
    (statement,) = [sent for sent in caught if not sent[0].startswith("SAVEPOINT")]
    plan = "\n".join(plans.plan_of(*statement))
    # The issued agreements found by an index on their state, never the whole table.
    assert "SCAN agreements" not in plan, plan
    assert "Seq Scan" not in plan, plan
    assert "INDEX" in plan.upper(), plan
