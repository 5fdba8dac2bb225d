"""An educator's permission request, in Chromium against the live server (CSRF on,
real SMTP): submit the public form, confirm the email from the message received,
staff ask a question, the requester answers on the status page, staff approve
with a condition, and the requester downloads the grant letter."""

from __future__ import annotations

import io
import re
from typing import Any

from playwright.sync_api import expect
from pypdf import PdfReader

from licensing.accounts import services as accounts
from licensing.actors import Actor
from tests.support.servers import LiveServer, SMTPServer

REQUESTER = "lena.ortiz@cedar-ridge.example"
STAFF = "morgan@licensing-office.example"
STAFF_PASSWORD = "harbor-lantern-thistle-58"
CONDITION = "Show the copyright notice on every slide that quotes the content."


def _submit_the_form(page: Any) -> None:
    page.goto("/")
    page.get_by_role("link", name="Request permission for educational use").click()
    page.get_by_label("Your name").fill("Lena Ortiz")
    page.get_by_label("Your email address").fill(REQUESTER)
    page.get_by_label("Institution", exact=True).fill("Cedar Ridge Community College")
    page.get_by_label("Your role").select_option("faculty")
    page.get_by_label("Type of institution").select_option("academic")
    page.get_by_label("Purpose", exact=True).select_option("course_materials")
    page.get_by_label("Describe the purpose").fill("Slides for unit 4 of the billing course.")
    page.get_by_label("Content requested").fill("Section guidelines for visit services.")
    page.get_by_label("Medium").select_option("lms")
    page.get_by_label("Audience size").fill("45")
    page.get_by_label("Duration of the use").fill("Spring 2027 semester")
    page.get_by_role("button", name="Send the request").click()


def test_a_requester_is_granted_permission_after_answering_a_question(
    page: Any, browser: Any, live_server: LiveServer, mailbox: SMTPServer
) -> None:
    # Without the attestation the form comes back with the reason, and nothing is sent.
    _submit_the_form(page)
    assert "Confirm that the use is non-commercial" in page.inner_text(".error-summary")
    page.get_by_label("I confirm that the use is non-commercial").check()
    page.get_by_role("button", name="Send the request").click()
    page.wait_for_url("**/permissions/request/sent")
    assert f"we sent a link to {REQUESTER}" in page.inner_text(".flashes")

    # Confirm the address with the link that arrived by SMTP: the status page opens.
    page.goto(mailbox.link_to(REQUESTER, "/permissions/confirm/"))
    page.wait_for_url("**/permissions/status/**")
    status_url = page.url
    assert "is with the licensing office" in page.inner_text(".flashes")
    reference = page.get_by_role("heading", level=1).inner_text().removeprefix("Request ")
    assert "being reviewed" in page.inner_text("#state")

    # Licensing staff ask for more information from the console.
    with live_server.app.app_context():
        accounts.create_staff_user(
            email=STAFF,
            roles=("licensing",),
            full_name="Morgan Reyes",
            password=STAFF_PASSWORD,
            actor=Actor.SYSTEM,
        )
    staff_context = browser.new_context(base_url=live_server.url)
    try:
        staff = staff_context.new_page()
        staff.goto("/sign-in")
        staff.get_by_label("Email address").fill(STAFF)
        staff.get_by_label("Password").fill(STAFF_PASSWORD)
        staff.get_by_role("button", name="Sign in").click()
        staff.get_by_role("link", name="Permissions").click()
        assert reference in staff.inner_text("table.queue")
        staff.get_by_role("link", name=reference).click()
        staff.get_by_label("Question for the requester").fill("Which course sections use it?")
        staff.get_by_role("button", name="Ask for information").click()
        assert "Question sent" in staff.inner_text(".flashes")

        # The requester answers on the status page.
        page.goto(status_url)
        assert "Which course sections use it?" in page.inner_text("#main")
        page.get_by_label("Your answer").fill("Sections 2 and 5 of the spring course.")
        page.get_by_role("button", name="Send the answer").click()
        assert "your answer is with the licensing office" in page.inner_text(".flashes")
        assert "being reviewed" in page.inner_text("#state")

        # Staff see the answer and approve with a condition. Their page does not
        # update itself: reload it once, now that the requester's flash shows the
        # answer is stored.
        staff.reload()
        expect(staff.locator("#main")).to_contain_text("Sections 2 and 5")
        staff.get_by_label("Conditions").fill(CONDITION)
        staff.get_by_role("button", name="Approve and issue the grant letter").click()
        assert "Approved" in staff.inner_text(".flashes")
    finally:
        staff_context.close()

    # The requester is told by email and downloads the grant letter.
    assert mailbox.link_to(REQUESTER, "/permissions/status/") == status_url
    page.goto(status_url)
    assert "granted" in page.inner_text("#state")
    with page.expect_download() as download:
        page.get_by_role("link", name=re.compile("Download the grant letter")).click()
    data = open(download.value.path(), "rb").read()  # noqa: SIM115 - a temp file
    text = " ".join(page_.extract_text() for page_ in PdfReader(io.BytesIO(data)).pages)
    text = " ".join(text.split())
    assert CONDITION in text
    assert "American Medical Association. All rights reserved." in text
    assert "CPT® is a registered trademark of the American Medical Association." in text
    assert "Lena Ortiz" in text
