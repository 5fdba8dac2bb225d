"""Round 42 in Chromium, over the live server and the real SMTP server: a teacher's
request now gives the days of the use (filled in from the estimator's term), and the
permissions officer's week on it: the queue, the request's page with the term's days
as the grant's default, a question and its answer read above the forms that decide,
the grant without typing a day, the letter and email giving the term, and the
grant's end on its page. Round 43: the requester's pages say the grant defaults to the
days they gave, and the officer reads those days in the queue's row at phone width.
Round 44: the officer sorts the queue by the first day of the use, the requests
without days last. Round 45: the queue a page at a time, read and paged at phone
width, the bulk assignment back on its page. Invented people and institutions only
(axe on each page)."""

from __future__ import annotations

import io
from datetime import date, timedelta
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy import update

from licensing import db
from licensing.calendar import day_text
from licensing.permissions import views as permission_views
from licensing.permissions.models import PermissionRequest
from tests.browser.conftest import (
    SEMESTER,
    TEACHER,
    estimate_the_course,
    fill_the_request,
    newest_mail_to_teacher,
    one_line,
    signed_in_tab,
    vendor_and_staff,
)
from tests.integration.permissions.conftest import routed_use, send_routed
from tests.support import factories
from tests.support.axe import assert_accessible
from tests.support.servers import LiveServer, SMTPServer

SIDEWAYS = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"


def test_the_officer_grants_the_term_a_teacher_asked_for_and_reads_its_end(
    page: Any, browser: Any, live_server: LiveServer, mailbox: SMTPServer
) -> None:
    _vendor, staff = vendor_and_staff(live_server)
    first, last = estimate_the_course(page, live_server)
    FIRST, LAST = first.isoformat(), last.isoformat()
    DEFAULT_TERM = (
        # Round 57: the page's sentences say their days in words.
        f"If granted, the permission runs from {day_text(first)} to {day_text(last)}, unless the "
        "office says otherwise."
    )
    # Round 68: the estimate's and the form's checks test_educational_request_walk.py
    # made on these pages before its point: the use is routed here, the page passes axe.
    assert page.locator("#routed").inner_text().startswith("No license fee: this use is")
    assert_accessible(page)
    page.get_by_role("link", name="Request permission for this educational use").click()
    assert "aims to decide within 10 US business days" in page.locator("#when").inner_text()
    # The estimator's term fills in the days of the use.
    assert page.get_by_label("First day of the use").input_value() == FIRST
    assert page.get_by_label("Last day of the use").input_value() == LAST
    assert_accessible(page)
    fill_the_request(page, "course_materials", "Handouts for HIM 310, weeks 4 to 6.")
    # Round 43: the teacher is told the grant runs for the days given, by default.
    assert page.inner_text("#term-default") == DEFAULT_TERM
    page.goto(mailbox.link_to(TEACHER, "/permissions/confirm/"))
    page.wait_for_url("**/permissions/status/**")
    status_url = page.url
    assert page.inner_text("#term-default") == DEFAULT_TERM
    assert "being reviewed" in page.inner_text("#state")  # round 68: from the request walk
    reference = page.get_by_role("heading", level=1).inner_text().removeprefix("Request ")

    # The officer's queue, then the request: the grant defaults to the term asked for.
    office = signed_in_tab(browser, live_server, staff.email)
    office.goto("/console/permissions/")
    row = one_line(office.locator("table.queue tbody tr").first.inner_text())
    assert reference in row
    assert "0 / 10" in row
    # Round 43: at phone width, the row gives the days of the use under its purpose,
    # and the page does not scroll sideways (the table scrolls in its own box).
    office.set_viewport_size({"width": 375, "height": 800})
    term = office.locator("table.queue tbody tr").first.locator(".term")
    assert term.inner_text() == f"use {day_text(first)} to {day_text(last)}"  # round 58
    assert term.is_visible()
    assert office.evaluate(SIDEWAYS) <= 0
    assert_accessible(office)
    office.set_viewport_size({"width": 1280, "height": 800})
    office.get_by_role("link", name=reference).click()
    approve = one_line(office.locator("form[action$='/approve']").inner_text())
    assert f"Default: {day_text(first)}, the first day asked for." in approve
    asked_days = f"{day_text(first)} to {day_text(last)}"
    assert f"The requester asked for: {SEMESTER}: {asked_days}." in approve
    assert_accessible(office)

    # A question, the answer, and the answer read above the forms that decide.
    office.get_by_label("Question for the requester").fill("Are the handouts sold to students?")
    office.get_by_role("button", name="Ask for information").click()
    page.goto(status_url)
    page.get_by_label("Your answer").fill("No: they are printed free for the enrolled students.")
    page.get_by_role("button", name="Send the answer").click()
    office.reload()
    answer = office.locator("p", has_text="they are printed free for the enrolled").bounding_box()
    form = office.get_by_role("button", name="Approve and issue the grant letter").bounding_box()
    assert answer is not None
    assert form is not None
    assert answer["y"] < form["y"]

    # Granted without typing a day: the term asked for, in the letter and the email.
    office.get_by_role("button", name="Approve and issue the grant letter").click()
    assert "We emailed Dr. Maya Okafor" in office.inner_text(".flashes")
    decision = one_line(office.locator("main").inner_text())
    assert f"Valid {day_text(first)} to {day_text(last)}" in decision
    assert f"The permission ends on {day_text(last)}, in " in office.inner_text("#grant-ending")
    reminded = day_text(last - timedelta(days=30))  # 30 days before the last day
    assert f"The requester is emailed on {reminded} that it ends." in office.inner_text(
        "#grant-ending"
    )
    assert_accessible(office)
    granted = newest_mail_to_teacher(mailbox, "Your permission request is granted")
    # Round 56: the email writes its days in words (dates56).
    assert f"You asked for the use to run from {day_text(first)} to {day_text(last)}." in granted
    assert f"Permission is granted from {day_text(first)} until {day_text(last)}" in granted
    page.goto(status_url)
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the grant letter").click()
    with open(download.value.path(), "rb") as pdf:
        pages = PdfReader(io.BytesIO(pdf.read())).pages
    letter = one_line("".join(p.extract_text() for p in pages))
    assert f"Term asked for {SEMESTER}: {day_text(first)} to {day_text(last)}" in letter
    assert f"valid from {day_text(first)} until {day_text(last)}" in letter


def _routed_terms(live_server: LiveServer) -> list[str]:
    """Three uses routed from an organization's applications, in this order: one for
    the autumn, one for the spring (beginning first), and one that kept no days (made
    before round 42). Their references, in the order made."""
    with live_server.app.app_context():
        session = db.session()
        organization = factories.make_organization(session, legal_name="Bluefin Learning")
        session.commit()
        terms = ((date(2027, 9, 1), date(2027, 12, 15)), (date(2027, 2, 1), date(2027, 6, 30)))
        made = [
            send_routed(
                routed_use(
                    organization.id,
                    organization.legal_name,
                    application_id=5100 + index,
                    application_reference=f"APP-2027-00510{index}",
                    term_start=start,
                    term_end=end,
                )
            )
            for index, (start, end) in enumerate((*terms, terms[0]))
        ]
        session.execute(
            update(PermissionRequest)
            .where(PermissionRequest.id == made[2].id)
            .values(use_from=None, use_until=None)
        )
        session.commit()
        return [request.reference for request in made]


def test_the_officer_sorts_the_queue_by_the_first_day_of_the_use(
    browser: Any, live_server: LiveServer
) -> None:
    _vendor, staff = vendor_and_staff(live_server)
    autumn, spring, undated = _routed_terms(live_server)
    office = signed_in_tab(browser, live_server, staff.email)
    office.goto("/console/permissions/")
    rows = office.locator("table.queue tbody tr")

    def listed() -> list[str]:
        return rows.locator("td:nth-child(2) a").all_inner_texts()

    # The decision due soonest first: the order they came in.
    assert listed() == [autumn, spring, undated]
    office.get_by_label("Sort").select_option(label="First day of the use, earliest first")
    office.get_by_role("button", name="Filter").click()
    office.wait_for_url("**sort=use_from**")
    assert listed() == [spring, autumn, undated]
    assert "requests that gave no days follow" in office.inner_text("#order")
    assert rows.first.locator(".term").inner_text() == "use February 1, 2027 to June 30, 2027"
    assert rows.last.locator(".term").count() == 0
    assert_accessible(office)
    # Assigning from the sorted list returns to it, sorted.
    office.get_by_label(f"Select {autumn}").check()
    office.get_by_label("Assign the selected requests to").select_option(label=staff.full_name)
    office.get_by_role("button", name="Assign the selected requests").click()
    office.wait_for_load_state()
    assert "sort=use_from" in office.url
    assert listed() == [spring, autumn, undated]


def test_the_officer_pages_the_sorted_queue_at_phone_width(
    browser: Any, live_server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The queue listed every request on one page; two a page here (the server runs in
    # this process), so three requests make two pages.
    monkeypatch.setattr(permission_views, "REQUESTS_PER_PAGE", 2)
    _vendor, staff = vendor_and_staff(live_server)
    autumn, spring, undated = _routed_terms(live_server)
    office = signed_in_tab(browser, live_server, staff.email)
    office.set_viewport_size({"width": 375, "height": 800})
    office.goto("/console/permissions/?sort=use_from")
    rows = office.locator("table.queue tbody tr")
    pager = office.get_by_role("navigation", name="Pages of permission requests")

    def listed() -> list[str]:
        return rows.locator("td:nth-child(2) a").all_inner_texts()

    assert listed() == [spring, autumn]
    assert "Permission requests 1\u20132 of 3 \u00b7 page 1 of 2" in pager.inner_text()
    following = pager.get_by_role("link", name="Next 1")
    following.scroll_into_view_if_needed()
    assert following.is_visible()
    assert office.evaluate(SIDEWAYS) <= 0
    assert_accessible(office)
    following.click()
    office.wait_for_url("**sort=use_from&page=2")
    assert listed() == [undated]
    assert "Permission requests 3\u20133 of 3 \u00b7 page 2 of 2" in pager.inner_text()
    assert pager.get_by_role("link", name="Next").count() == 0
    # Assigning from page 2 returns to page 2, sorted.
    office.get_by_label(f"Select {undated}").check()
    office.get_by_label("Assign the selected requests to").select_option(label=staff.full_name)
    office.get_by_role("button", name="Assign the selected requests").click()
    office.wait_for_url("**sort=use_from&page=2")
    assert "1 request assigned." in office.inner_text(".flashes")
    assert listed() == [undated]
    assert office.evaluate(SIDEWAYS) <= 0
    pager.get_by_role("link", name="Previous 2").click()
    office.wait_for_url("**/console/permissions/?sort=use_from")
    assert listed() == [spring, autumn]
