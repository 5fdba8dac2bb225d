"""Round 44 in Chromium: an admin at phone width learns from the console's home that
a periodic job is late and another failing, opens the Jobs page from that line, and
reads each job's state and outcome there (axe, no sideways scroll)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import update

from licensing import db, job_runs
from licensing.job_runs import JobRun
from licensing.worker import SCHEDULE
from tests.browser.conftest import sign_in
from tests.support import factories
from tests.support.axe import assert_accessible
from tests.support.servers import LiveServer

FITS = "() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"


def test_an_admin_at_phone_width_follows_the_homes_jobs_line_to_the_jobs_page(
    page: Any, live_server: LiveServer
) -> None:
    with live_server.app.app_context():
        now = db.utcnow()
        for name, every in SCHEDULE:
            if every < timedelta(days=1):
                job_runs.finished(name, now, ok=True, outcome="done")
        job_runs.finished(
            "outbox send",
            now,
            ok=False,
            outcome="failed: SMTPConnectError: refused",
            run_id="a41be07c9d12",
        )
        with db.transaction() as session:
            session.execute(
                update(JobRun)
                .where(JobRun.job == "tokens remind")
                .values(
                    first_started_at=now - timedelta(hours=2),
                    last_succeeded_at=now - timedelta(minutes=90),
                )
            )
        admin = factories.make_staff(db.session(), roles=("admin",))
        db.session().commit()
    page.set_viewport_size({"width": 375, "height": 740})
    sign_in(page, admin.email)
    page.goto("/console/")
    line = page.locator("tr.overdue", has=page.get_by_role("link", name="Periodic jobs"))
    assert "2 late or failing" in line.inner_text()
    assert "Late: tokens remind (every hour) last succeeded at " in line.inner_text()
    assert "Failing: outbox send (every minute) last run failed at " in line.inner_text()
    page.wait_for_function(FITS)
    assert_accessible(page)

    line.get_by_role("link", name="Periodic jobs").click()
    page.wait_for_url("**/console/jobs")
    assert page.get_by_role("heading", level=1).inner_text() == "Periodic jobs"
    trouble = page.locator("#jobs-trouble").inner_text()
    assert "2 jobs late or failing" in trouble
    outbox = page.locator("#job-outbox-send").inner_text()
    assert "failing" in outbox
    assert "failed: SMTPConnectError: refused" in outbox
    assert "a41be07c9d12" in outbox
    assert "never run" in page.locator("#job-users-prune-browsers").inner_text()
    assert "ok" in page.locator("#job-reports-remind").inner_text()
    # The table scrolls inside its own box, which the keyboard reaches.
    page.wait_for_function(FITS)
    page.wait_for_function(
        "() => document.querySelector('main .table-scroll').getAttribute('tabindex') === '0'"
    )
    assert_accessible(page)
    # The menu leads here too (folded under Menu at this width), the page marked.
    page.locator("details.phone-menu summary").click()
    jobs = page.get_by_label("Staff console (menu)").get_by_role("link", name="Jobs", exact=True)
    assert jobs.is_visible()
    assert jobs.get_attribute("aria-current") == "page"


def test_an_admin_at_320_px_lists_the_jobs_whose_last_run_failed_by_keyboard(
    page: Any, live_server: LiveServer
) -> None:
    """Round 49: the Jobs page's *Last run* filter, chosen by keyboard, lists only the
    jobs whose last run failed, a late one's too; *List every job* lists them all."""
    with live_server.app.app_context():
        now = db.utcnow()
        for name, every in SCHEDULE:
            if every < timedelta(days=1):
                job_runs.finished(name, now, ok=True, outcome="done")
        job_runs.finished("outbox send", now, ok=False, outcome="failed: SMTPConnectError")
        job_runs.finished("tokens remind", now, ok=False, outcome="failed: OSError: disk")
        with db.transaction() as session:
            session.execute(
                update(JobRun)
                .where(JobRun.job == "tokens remind")
                .values(
                    first_started_at=now - timedelta(hours=3),
                    last_succeeded_at=now - timedelta(hours=3),
                )
            )
        admin = factories.make_staff(db.session(), roles=("admin",))
        db.session().commit()
    page.set_viewport_size({"width": 320, "height": 700})
    sign_in(page, admin.email)
    page.goto("/console/jobs")
    page.get_by_label("Last run").focus()
    page.keyboard.press("ArrowDown")  # Any -> ok
    page.keyboard.press("ArrowDown")  # ok -> failed
    assert page.get_by_label("Last run").input_value() == "failed"
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.textContent.trim()") == "Filter"
    page.keyboard.press("Enter")
    page.wait_for_url("**/console/jobs?state=&last_run=failed")
    names = page.locator("tbody th[scope=row]").all_inner_texts()
    assert names == ["outbox send", "tokens remind"]
    assert "late" in page.locator("#job-tokens-remind").inner_text()
    assert "2 of the 11 jobs listed, those with last run “failed”." in (
        page.locator("#jobs-count").inner_text()
    )
    page.wait_for_function(FITS)
    assert_accessible(page)
    page.get_by_role("link", name="List every job").click()
    page.wait_for_url("**/console/jobs")
    assert page.locator("tbody th[scope=row]").count() == len(SCHEDULE)
