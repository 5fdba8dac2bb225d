"""Round 47 in Chromium: an admin at 320 px asks whether the overdue-invoices run
failed last night or every night, goes from the Jobs page to that job's runs by
keyboard, reads them a page at a time (axe, no sideways scroll), as round 44's walk
of the Jobs page does."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from licensing import db, job_pages, job_runs
from tests.browser.conftest import sign_in
from tests.support import factories
from tests.support.axe import assert_accessible
from tests.support.servers import LiveServer

FITS = "() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"


def _focused_text(page: Any) -> str:
    return str(page.evaluate("() => document.activeElement.textContent.trim()"))


def _tab_to(page: Any, text: str, limit: int = 80) -> None:
    for _ in range(limit):
        page.keyboard.press("Tab")
        if _focused_text(page) == text:
            return
    raise AssertionError(f"Tab never reached {text!r}")


def test_an_admin_at_320_px_reads_a_jobs_nights_by_keyboard_from_the_jobs_page(
    page: Any, live_server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(job_pages, "RUNS_PER_PAGE", 2)
    with live_server.app.app_context():
        night = db.utcnow() - timedelta(days=3)
        for n in range(3):  # three nights: ok, then failed twice
            at = night + timedelta(days=n)
            run = f"a{n:011x}"
            job_runs.started("invoices overdue", at, run)
            job_runs.finished(
                "invoices overdue",
                at + timedelta(seconds=42),
                ok=n == 0,
                outcome="0 overdue invoice(s); 0 reminder(s) sent"
                if n == 0
                else "failed: OperationalError: could not connect to server\nIs it running?",
                run_id=run,
            )
        admin = factories.make_staff(db.session(), roles=("admin",))
        db.session().commit()
    page.set_viewport_size({"width": 320, "height": 700})
    sign_in(page, admin.email)
    page.goto("/console/jobs")
    _tab_to(page, "invoices overdue")
    page.keyboard.press("Enter")
    page.wait_for_url("**/console/jobs/invoices%20overdue")
    assert page.get_by_role("heading", level=1).inner_text() == "invoices overdue: runs"
    # Its last success three nights ago: late, in /readyz's words.
    state = page.locator("#job-state").inner_text()
    assert "late invoices overdue (every day) last succeeded at " in state
    rows = page.locator("tbody tr")
    assert rows.count() == 2
    last_night = rows.nth(0).inner_text()
    assert "OperationalError: could not connect to server" in last_night
    error = rows.nth(0).locator("td").nth(4).inner_text()
    assert error == "OperationalError: could not connect to server"  # its first line
    assert "a00000000002" in last_night
    assert "overdue" in (rows.nth(0).get_attribute("class") or "")
    assert "Runs 1–2 of 3" in page.locator("nav.pager").inner_text()  # noqa: RUF001
    page.wait_for_function(FITS)
    page.wait_for_function(
        "() => document.querySelector('main .table-scroll').getAttribute('tabindex') === '0'"
    )
    assert_accessible(page)

    _tab_to(page, "Next 1")
    page.keyboard.press("Enter")
    page.wait_for_url("**/console/jobs/invoices%20overdue?page=2")
    [first_night] = page.locator("tbody tr").all_inner_texts()
    assert "0 overdue invoice(s); 0 reminder(s) sent" in first_night
    assert "ok" in first_night
    page.wait_for_function(FITS)
    assert_accessible(page)
    # Back to the Jobs page from the eyebrow's link.
    _tab_to(page, "Periodic jobs")
    page.keyboard.press("Enter")
    page.wait_for_url("**/console/jobs")


def test_an_admin_at_320_px_lists_a_jobs_failed_runs_alone_by_keyboard(
    page: Any, live_server: LiveServer
) -> None:
    """Round 48: the runs page's *Outcome* filter, chosen by keyboard, keeps the
    failures alone, and the pager keeps the filter."""
    with live_server.app.app_context():
        night = db.utcnow() - timedelta(days=3)
        for n in range(3):  # ok, then failed twice
            job_runs.started("invoices overdue", night + timedelta(days=n), f"c{n:011x}")
            job_runs.finished(
                "invoices overdue",
                night + timedelta(days=n, seconds=42),
                ok=n == 0,
                outcome="0 overdue invoice(s)" if n == 0 else f"failed: OSError: night {n}",
                run_id=f"c{n:011x}",
            )
        admin = factories.make_staff(db.session(), roles=("admin",))
        db.session().commit()
    page.set_viewport_size({"width": 320, "height": 700})
    sign_in(page, admin.email)
    page.goto("/console/jobs/invoices%20overdue")
    page.get_by_label("Outcome").focus()
    page.keyboard.press("ArrowDown")  # Any -> ok
    page.keyboard.press("ArrowDown")  # ok -> failed
    assert page.get_by_label("Outcome").input_value() == "failed"
    _tab_to(page, "Filter")
    page.keyboard.press("Enter")
    page.wait_for_url("**/console/jobs/invoices%20overdue?outcome=failed")
    rows = page.locator("tbody tr").all_inner_texts()
    assert [("night 2" in row, "night 1" in row) for row in rows] == [(True, False), (False, True)]
    assert "Failed runs 1–2 of 2" in page.locator("nav.pager").inner_text()  # noqa: RUF001
    page.wait_for_function(FITS)
    assert_accessible(page)
