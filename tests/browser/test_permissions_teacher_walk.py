"""Round 53 in Chromium, over the live server and the real SMTP server: a teacher at an
invented college (Dr. Ayse Yildiz, her name typed with its Turkish letters; Kuzey
College) learns from the public pages that a non-commercial course needs a permission,
not a license; sends the request without an account (the service offers no other way
for a public request), making mistakes the form reports all at once; confirms; answers
the office's question; receives the grant by email and as a PDF; asks again for the
next term from the grant's status page, the form filled in; and sends a review book
that is commercial, which the office refuses. The permissions officer finds her by her
name typed in capitals, decides with letters, and reads on each request what was
decided for her before. At each step the walk reads what waits on whom and by when,
and what the letter permits until when. Invented people and institutions only (axe on
the form, the request's page and the status page). Holds at the real time and under
`TRAVEL_TO=2028-01-04T03:30:00+00:00`."""

from __future__ import annotations

import io
import re
from datetime import date, timedelta
from typing import Any

import pytest
from pypdf import PdfReader

from licensing.calendar import day_text, office_date
from licensing.db import utcnow
from tests.browser.conftest import (
    estimate_the_course,
    one_line,
    signed_in_tab,
    vendor_and_staff,
)
from tests.support.axe import assert_accessible
from tests.support.servers import LiveServer, SMTPServer, message_text

pytestmark = pytest.mark.xdist_group("permissions_teacher_walk")

TEACHER = "ayse.yildiz@kuzey-college.example"
NAME = "Dr. Ayşe Yıldız"  # noqa: RUF001 (the dotless i is meant: found by "YILDIZ")
CONTENT = "The section guidelines for surgery."
CONDITION = "Show the copyright notice on each handout"


def _mail(mailbox: SMTPServer, subject: str, after: int = 0) -> str:
    """The newest email to the teacher whose subject starts `subject`, among those
    after the first `after`, waiting for it to arrive."""

    def newest() -> str | None:
        for message in reversed(mailbox.to(TEACHER)[after:]):
            if str(message["Subject"]).startswith(subject):
                return one_line(message_text(message))
        return None

    found = mailbox.when(newest)  # as each email arrives, not on a clock
    if found is None:
        raise AssertionError(f"no email {subject!r} to {TEACHER}")
    return found


def _confirm(page: Any, mailbox: SMTPServer, after: int) -> str:
    """The newest confirmation link followed: the request's reference."""
    confirmation = _mail(mailbox, "Confirm", after)
    link = re.search(r"http\S+/permissions/confirm/\S+", confirmation)
    assert link is not None
    page.goto(link.group(0))
    page.wait_for_url("**/permissions/status/**")
    return page.get_by_role("heading", level=1).inner_text().removeprefix("Request ")


def _letter(page: Any, link_name: str) -> str:
    with page.expect_download() as download:
        page.get_by_role("link", name=link_name).click()
    with open(download.value.path(), "rb") as pdf:
        pages = PdfReader(io.BytesIO(pdf.read())).pages
    return one_line("".join(p.extract_text() for p in pages))


def _fill_the_rest(page: Any, purpose: str, detail: str, term: tuple[date, date]) -> None:
    page.get_by_label("Purpose", exact=True).select_option(purpose)
    page.get_by_label("Describe the purpose").fill(detail)
    page.get_by_label("Duration of the use").fill("One term")
    page.get_by_label("First day of the use").fill(term[0].isoformat())
    page.get_by_label("Last day of the use").fill(term[1].isoformat())
    page.get_by_label("I confirm that the use is non-commercial").check()


def _open(office: Any, reference: str) -> None:
    office.goto(f"/console/permissions/?state=&q={reference}")
    office.get_by_role("link", name=reference).click()


def test_a_teacher_asks_is_granted_asks_again_for_next_term_and_is_refused_a_commercial_use(
    page: Any, browser: Any, live_server: LiveServer, mailbox: SMTPServer
) -> None:
    _vendor, staff = vendor_and_staff(live_server)
    # The public pages: education is not priced but permitted, without an account.
    page.goto("/")
    home = one_line(page.inner_text("main"))
    assert "Non-commercial education" in home
    assert "No account is needed" in home
    first, last = estimate_the_course(page, live_server)
    assert page.locator("#routed").inner_text().startswith("No license fee: this use is")
    page.get_by_role("link", name="Request permission for this educational use").click()
    assert "aims to decide within 10 US business days" in page.inner_text("#when")

    # Mistakes: a typed address without its domain's end, "sixty", a commercial
    # purpose, the days swapped and no attestation: every one said in one sending.
    page.get_by_label("Your name").fill(NAME)
    page.get_by_label("Your email address").fill("ayse.yildiz@kuzey-college")
    page.get_by_label("Institution", exact=True).fill("Kuzey College")
    page.get_by_label("Your role").select_option("faculty")
    page.get_by_label("Purpose", exact=True).select_option("commercial")
    page.get_by_label("Content requested").fill(CONTENT)
    page.get_by_label("Audience size").fill("sixty")
    page.get_by_label("Duration of the use").fill("Spring term")
    page.get_by_label("First day of the use").fill(last.isoformat())
    page.get_by_label("Last day of the use").fill(first.isoformat())
    page.get_by_role("button", name="Send the request").click()
    summary = one_line(page.inner_text(".error-summary"))
    assert "Your email address:" in summary
    assert "Purpose: A commercial product, service or publication needs a license" in summary
    assert "Audience size: Give the audience size as a whole number." in summary
    assert "The last day must be on or after the first day." in summary  # round 53
    assert "A commercial use needs a license" in page.inner_text("#commercial")
    assert page.get_by_label("Content requested").input_value() == CONTENT  # kept
    assert_accessible(page)
    page.get_by_label("Your email address").fill(TEACHER)
    page.get_by_label("Audience size").fill("60")
    page.get_by_label("Medium").select_option("print")  # not carried (round 58)
    _fill_the_rest(page, "course_materials", "Handouts for HIM 310, weeks 4 to 6.", (first, last))
    page.get_by_role("button", name="Send the request").click()
    page.wait_for_url("**/permissions/request/sent")
    assert f"the permission runs from {day_text(first)} to {day_text(last)}" in page.inner_text(
        "main"
    )
    reference = _confirm(page, mailbox, 0)
    status_url = page.url
    # Waiting on the office, by a day it names; the status email says the same day.
    waiting = one_line(page.inner_text("#state"))
    assert "being reviewed" in waiting
    due = waiting.split("we aim to decide by ", 1)[1].rstrip(".")
    assert f"We aim to decide by {due}" in _mail(mailbox, "We received", 0)

    # The officer finds her by her name in capitals, without its letters beyond ASCII.
    office = signed_in_tab(browser, live_server, staff.email)
    office.goto("/console/permissions/?q=AYSE YILDIZ")
    assert "No request matches." in office.inner_text("table.queue")  # "ş" is not "s"
    office.goto("/console/permissions/?q=YILDIZ")
    row = one_line(office.locator("table.queue tbody tr").first.inner_text())
    assert reference in row
    assert "0 / 10" in row
    office.get_by_role("link", name=reference).click()
    assert "None: this is the first request from" in office.inner_text("main")
    office.get_by_label("Question for the requester").fill("Do the students pay for handouts?")
    office.get_by_role("button", name="Ask for information").click()
    asked = office.inner_text(".flashes")
    answer_by = asked.split("they have until ", 1)[1].split(" to answer", 1)[0]
    office.goto("/console/permissions/")
    row = one_line(office.locator("table.queue tbody tr").first.inner_text())
    assert "10 business days after the answer (waiting on the requester)" in row

    # The teacher: the question by email, an empty answer refused, then the answer.
    question = _mail(mailbox, "We need more information")
    assert f"by {answer_by}" in question
    page.goto(status_url)
    assert "waiting for your information" in page.inner_text("#state")
    page.get_by_role("button", name="Send the answer").click()
    assert "Your answer" in page.inner_text(".error-summary")
    page.get_by_label("Your answer").fill("No: they are printed free for enrolled students.")
    page.get_by_role("button", name="Send the answer").click()
    assert "your answer is with the licensing office" in page.inner_text(".flashes")
    assert "we aim to decide by" in page.inner_text("#state")

    # Granted for the first weeks only, with a condition.
    today = office_date(utcnow())
    until = today + timedelta(days=40)
    _open(office, reference)
    office.get_by_label("Valid from").fill(today.isoformat())
    office.get_by_label("Valid until").fill(until.isoformat())
    office.get_by_label("Conditions").fill(CONDITION)
    office.get_by_role("button", name="Approve and issue the grant letter").click()
    assert f"We emailed {NAME}" in office.inner_text(".flashes")
    granted = _mail(mailbox, "Your permission request is granted")
    assert f"Permitted use: {CONTENT}" in granted
    # The email says its days in words (round 56); the status page below keeps them.
    assert f"Permission is granted from {day_text(today)} until {day_text(until)}" in granted
    page.goto(status_url)
    assert f"Permission is granted until {day_text(until)}" in page.inner_text("#state")
    letter = _letter(page, "Download the grant letter")
    assert f"Permitted use {CONTENT}" in letter
    assert f"Valid from {day_text(today)} Valid until {day_text(until)}" in letter
    assert f"1. {CONDITION}" in letter
    assert f"This permission is valid from {day_text(today)} until {day_text(until)}." in letter
    assert_accessible(page)

    # The next term: the grant's page sends a new request filled in (round 53).
    assert f"This permission ends on {day_text(until)}." in page.inner_text("#ask-again")
    page.locator("#ask-again").get_by_role("link", name="send a new request").click()
    again = one_line(page.inner_text("#again"))
    assert f"filled in with your granted request {reference}" in again
    assert f"runs until {day_text(until)} either way" in again
    assert page.get_by_label("Your name").input_value() == NAME
    assert page.get_by_label("Your email address").input_value() == TEACHER
    assert page.get_by_label("Content requested").input_value() == CONTENT
    assert page.get_by_label("Duration of the use").input_value() == ""
    next_term = (last + timedelta(days=21), last + timedelta(days=130))
    received = len(mailbox.to(TEACHER))
    _fill_the_rest(page, "course_materials", "Handouts for HIM 320, next term.", next_term)
    page.get_by_role("button", name="Send the request").click()
    page.wait_for_url("**/permissions/request/sent")
    second = _confirm(page, mailbox, received)

    # A review book sold at the campus store: commercial, refused with where it goes.
    received = len(mailbox.to(TEACHER))
    page.goto("/permissions/request")
    page.get_by_label("Your name").fill(NAME)
    page.get_by_label("Your email address").fill(TEACHER)
    page.get_by_label("Institution", exact=True).fill("Kuzey College")
    page.get_by_label("Your role").select_option("faculty")
    page.get_by_label("Type of institution").select_option("academic")
    page.get_by_label("Content requested").fill(CONTENT)
    page.get_by_label("Medium").select_option("print")
    page.get_by_label("Audience size").fill("200")
    _fill_the_rest(page, "exam_preparation", "A review book sold at the campus store.", next_term)
    page.get_by_role("button", name="Send the request").click()
    page.wait_for_url("**/permissions/request/sent")
    third = _confirm(page, mailbox, received)
    third_url = page.url

    # The officer reads, on each, what was decided for her before (round 53).
    _open(office, third)
    others = one_line(office.inner_text("table:below(#other-requests)"))
    assert reference in others
    assert f"{today} to {until}" in others
    assert second in others
    assert_accessible(office)
    office.get_by_label("Reason for the denial").fill("A book sold at the store is commercial.")
    office.get_by_role("button", name="Deny and issue the letter").click()
    refused = _mail(mailbox, "Decision on your permission request")
    assert "A review book sold at the campus store." in refused
    assert "/estimate" in refused
    page.goto(third_url)
    assert "denied" in page.inner_text("#state")
    assert page.locator("#licensed-instead").get_by_role("link").count() == 2
    denial = _letter(page, "Download the denial letter")
    assert "A book sold at the store is commercial." in denial

    _open(office, second)
    others = one_line(office.inner_text("table:below(#other-requests)"))
    assert f"{third} Exam preparation" in others
    assert "denied" in others
    assert f"{reference} Course materials" in others
    office.get_by_role("button", name="Approve and issue the grant letter").click()
    granted = _mail(mailbox, "Your permission request is granted", received)
    said = f"{day_text(next_term[0])} until {day_text(next_term[1])}"  # in words (round 56)
    assert f"Permission is granted from {said}" in granted
