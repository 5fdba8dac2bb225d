"""Round 40 in Chromium, over the live server and the real SMTP server: a teacher at
an invented university prices a course's use without an account, requests the
permission, answers the office's question, downloads the grant letter with its
conditions, and is refused a second request; the licensing officer's queue ages
against the service level while the question waits. Then the public pages at phone
width and with the keyboard alone (axe on each).

Round 68: the walk starts at its point, the office's question: the two requests are
made and confirmed through the services (`requested_by_service`); the estimate, its
link to the request form, the form and the confirmation link are walked on their
pages by test_permissions_officer_week.py (and the form's refusals and the
confirmation by test_permission_journey.py), which read what this walk read there."""

from __future__ import annotations

import contextlib
import io
from typing import Any

from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from pypdf import PdfReader

from tests.browser.conftest import (
    SEMESTER,
    TEACHER,
    course_on_a_card,
    estimate_the_course,
    newest_mail_to_teacher,
    one_line,
    requested_by_service,
    signed_in_tab,
    vendor_and_staff,
)
from tests.support.axe import assert_accessible
from tests.support.servers import LiveServer, SMTPServer

CONDITIONS = "Show the copyright notice on each slide\nKeep the slides inside the course site"
SIDEWAYS = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
FITS = "() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"


def _fits_the_phone(page: Any) -> None:
    """No sideways scroll once the page has laid out: under CI's load a page was
    measured 149 px wide before its layout settled, then fitted (a page that never
    fits fails after 5 s, with its overflow)."""
    with contextlib.suppress(PlaywrightTimeoutError):  # the overflow is said below
        page.wait_for_function(FITS, timeout=5000)
    assert page.evaluate(SIDEWAYS) <= 0, page.url


FOCUSED = "() => document.activeElement.id || document.activeElement.textContent.trim()"


def test_a_teacher_is_granted_one_use_and_refused_another_and_the_office_s_queue_ages(
    page: Any, browser: Any, live_server: LiveServer, mailbox: SMTPServer
) -> None:
    _vendor, staff = vendor_and_staff(live_server)
    # Round 68: the course's request, from its estimate, made and confirmed through the
    # services: the estimate, its link to the form, the form and the confirmation are
    # test_permissions_officer_week.py's first walk's pages, step for step (the
    # estimate's "No license fee" and its axe, the form's "aims to decide within 10 US
    # business days" and the status page's "being reviewed" are read there now).
    reference, status_url = requested_by_service(
        live_server,
        "course_materials",
        "Handouts for HIM 310, weeks 4 to 6.",
        course_on_a_card(live_server),
    )

    # The office asks; the queue's age stops while the question waits.
    office = signed_in_tab(browser, live_server, staff.email)
    office.goto("/console/permissions/")
    office.get_by_role("link", name=reference).click()
    office.get_by_label("Question for the requester").fill("Are the handouts sold to students?")
    office.get_by_role("button", name="Ask for information").click()
    office.goto("/console/permissions/")
    row = one_line(office.locator("table.queue tbody tr").first.inner_text())
    assert "0 / 10" in row
    assert "10 business days after the answer (waiting on the requester)" in row
    assert_accessible(office)

    question = newest_mail_to_teacher(mailbox, "We need more information")
    assert "Once you answer, we aim to decide within 10 US business days" in question
    page.goto(status_url)
    page.get_by_label("Your answer").fill("No: they are printed free for the enrolled students.")
    page.get_by_role("button", name="Send the answer").click()
    assert "your answer is with the licensing office" in page.inner_text(".flashes")

    # Granted with two conditions: the email says granted; the letter what comes next.
    office.goto("/console/permissions/")
    office.get_by_role("link", name=reference).click()
    office.get_by_label("Conditions").fill(CONDITIONS)
    office.get_by_role("button", name="Approve and issue the grant letter").click()
    assert "We emailed Dr. Maya Okafor" in office.inner_text(".flashes")
    granted = newest_mail_to_teacher(mailbox, "Your permission request is granted")
    assert f"Your request {reference} is granted." in granted
    assert "- Show the copyright notice on each slide" in granted
    page.goto(status_url)
    assert "granted" in page.inner_text("#state")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the grant letter").click()
    with open(download.value.path(), "rb") as pdf:
        pages = PdfReader(io.BytesIO(pdf.read())).pages
    letter = one_line("".join(p.extract_text() for p in pages))
    assert "1. Show the copyright notice on each slide" in letter
    assert "2. Keep the slides inside the course site" in letter
    assert "your request's status page sends one, the form filled in with this request" in letter
    assert_accessible(page)

    # A second request, a review book sold at the campus store: refused. Sent and
    # confirmed through the services (round 68: the form and the confirmation are
    # walked above their point by the officer's week and the permission journey).
    second, second_url = requested_by_service(
        live_server, "exam_preparation", "A review book sold through the campus store."
    )
    office.goto("/console/permissions/")
    office.get_by_role("link", name=second).click()
    office.get_by_label("Reason for the denial").fill("A book sold at the store is commercial.")
    office.get_by_role("button", name="Deny and issue the letter").click()
    refused = newest_mail_to_teacher(mailbox, "Decision on your permission request")
    assert "You may ask us to reconsider, once" in refused
    assert "/estimate" in refused
    page.goto(second_url)
    assert "denied" in page.inner_text("#state")
    assert page.get_by_role("button", name="Request reconsideration").count() == 1

    office.goto("/console/permissions/?state=")
    week = one_line(office.locator("#week").inner_text())
    assert week == "2 (1 granted, 1 denied; 2 by you)"
    assert_accessible(office)


def test_the_public_pages_read_at_phone_width_and_by_keyboard_alone(
    page: Any, live_server: LiveServer, mailbox: SMTPServer
) -> None:
    vendor_and_staff(live_server)
    page.set_viewport_size({"width": 375, "height": 800})
    for path in ("/", "/estimate", "/permissions/request"):
        page.goto(path)
        _fits_the_phone(page)
        assert_accessible(page)
    page.get_by_role("button", name="Send the request").click()  # nothing filled in
    assert "Your name" in page.inner_text(".error-summary")
    _fits_the_phone(page)
    assert_accessible(page)
    estimate_the_course(page, live_server)
    _fits_the_phone(page)
    assert_accessible(page)

    # The keyboard alone, on the phone, from the home page to "Check your email".
    page.goto("/")
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate(FOCUSED) == "Request permission for educational use":
            break
    else:
        raise AssertionError("Tab never reached the request link")
    page.keyboard.press("Enter")
    page.wait_for_url("**/permissions/request")
    page.locator("#requester_name").focus()
    for value in ("Dr. Maya Okafor", TEACHER, "Northfield University"):
        page.keyboard.type(value)
        page.keyboard.press("Tab")
    for element, value in (
        ("role", "Faculty"),
        ("organization_type", "Academic"),
        ("purpose", "Course"),
        ("purpose_detail", "Handouts for HIM 310, weeks 4 to 6."),
        ("content_requested", "The section guidelines for surgery."),
        ("medium", "Print"),
        ("audience_size", "60"),
        ("duration", SEMESTER),
    ):
        assert page.evaluate("() => document.activeElement.id") == element
        page.keyboard.type(value)
        page.keyboard.press("Tab")
    # The days of the use (round 42, optional) come next: Chromium tabs through each
    # date's month, day and year, then on.
    passed = []
    for _ in range(8):
        passed.append(page.evaluate("() => document.activeElement.id"))
        if passed[-1] == "noncommercial":
            break
        page.keyboard.press("Tab")
    assert passed[0] == "use_from"
    assert "use_until" in passed
    assert page.evaluate("() => document.activeElement.id") == "noncommercial"
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.wait_for_url("**/permissions/request/sent")
    assert "Check your email" in page.get_by_role("heading", level=1).inner_text()
    _fits_the_phone(page)
    assert_accessible(page)

    # The status page the confirmation opens, at the same width.
    page.goto(mailbox.link_to(TEACHER, "/permissions/confirm/"))
    page.wait_for_url("**/permissions/status/**")
    assert "being reviewed" in page.inner_text("#state")
    _fits_the_phone(page)
    assert_accessible(page)
