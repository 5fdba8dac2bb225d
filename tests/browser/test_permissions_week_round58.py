"""Round 58 in Chromium, over the live server and the real SMTP server, on a phone
375 px wide: what the permissions walk of the round found. A training company's paid
bootcamp, sent as a course, is refused on sending (the rate card in effect prices
education by a commercial company), naming the card's rule beside the type of
institution, and its estimate opens filled in and priced; before, it waited days in
the queue for a denial. A lecturer corrects her sent request from its status page:
once she confirms the correction it replaces the first request, which is withdrawn,
and the officer who had it assigned finds the correction in its place, assigned to
them, each request's page naming the other. Invented people and institutions only
(axe on the refused form, the correction's form and the console page)."""

from __future__ import annotations

import contextlib
import re
from datetime import timedelta
from typing import Any

from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from licensing.calendar import office_date
from licensing.db import utcnow
from licensing.ratecards import services as ratecards
from tests.browser.conftest import (
    TEACHER,
    card_of_a_year,
    one_line,
    requested_by_service,
    signed_in_tab,
    vendor_and_staff,
)
from tests.support.axe import assert_accessible
from tests.support.servers import LiveServer, SMTPServer, message_text

FITS = "() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"


def _fits_the_phone(page: Any) -> None:
    with contextlib.suppress(PlaywrightTimeoutError):  # the width is said below
        page.wait_for_function(FITS, timeout=5000)
    assert page.evaluate(FITS), page.url


def _card_in_effect_today(live_server: LiveServer) -> str:
    today = office_date(utcnow())
    version = f"{today.year}.8"
    with live_server.app.app_context():
        ratecards.import_card(
            card_of_a_year(version, today - timedelta(days=30), today + timedelta(days=400)),
            published_by="tests",
        )
    return version


def _confirmation(mailbox: SMTPServer, address: str, count: int) -> str:
    """The link of the `count`th confirmation email to `address`, once it arrives."""

    def link() -> str | None:
        links = [
            found.group(0)
            for message in mailbox.to(address)
            if (found := re.search(r"http\S+/permissions/confirm/\S+", message_text(message)))
        ]
        return links[count - 1] if len(links) >= count else None

    found = mailbox.when(link)  # as each email arrives, not on a clock
    if found is None:
        raise AssertionError(f"no confirmation number {count} to {address}")
    return found


def test_a_training_companys_bootcamp_is_refused_on_the_phone_with_its_estimate_filled_in(
    page: Any, live_server: LiveServer, mailbox: SMTPServer
) -> None:
    vendor_and_staff(live_server, example=False)
    version = _card_in_effect_today(live_server)
    page.set_viewport_size({"width": 375, "height": 800})
    page.goto("/permissions/request")
    page.get_by_label("Your name").fill("Dana Whitlock")
    page.get_by_label("Your email address").fill("dana.whitlock@medbill-pros.example")
    page.get_by_label("Institution", exact=True).fill("MedBill Pros Training LLC")
    page.get_by_label("Your role").select_option("faculty")
    page.get_by_label("Type of institution").select_option("commercial")
    page.get_by_label("Purpose", exact=True).select_option("course_materials")
    page.get_by_label("Describe the purpose").fill("Our paid six-week coding bootcamp")
    page.get_by_label("Content requested").fill("The evaluation and management guidelines")
    page.get_by_label("Medium").select_option("lms")
    page.get_by_label("Audience size").fill("400")
    page.get_by_label("Duration of the use").fill("Six weeks")
    page.get_by_label("I confirm that the use is non-commercial").check()
    page.get_by_role("button", name="Send the request").click()
    refused = page.locator("#licensed")
    refused.wait_for()
    said = one_line(refused.inner_text())
    assert "This request was not sent and nothing was stored." in said
    assert (
        f"Rate card {version} licenses education by a commercial company: Commercial training "
        "material is priced by staff; rule education-commercial." in said
    )
    assert "licenses education by a commercial company" in page.inner_text(
        "#organization_type-error"
    )
    assert (
        page.get_by_label("Describe the purpose").input_value()
        == "Our paid six-week coding bootcamp"
    )
    _fits_the_phone(page)
    assert_accessible(page)
    assert mailbox.to("dana.whitlock@medbill-pros.example") == []

    page.get_by_role("link", name="Estimate the license fee for this use").click()
    page.locator("#uses-0-use").wait_for()
    estimate = one_line(page.inner_text("main"))
    assert "education-commercial" in estimate
    assert "1,500.00" in estimate
    assert page.locator("#uses-0-description").input_value() == "Our paid six-week coding bootcamp"
    _fits_the_phone(page)


def test_a_confirmed_correction_replaces_the_request_and_stays_with_its_reviewer(
    page: Any, browser: Any, live_server: LiveServer, mailbox: SMTPServer
) -> None:
    _vendor, staff = vendor_and_staff(live_server, example=False)
    page.set_viewport_size({"width": 375, "height": 800})
    # Round 68: her first request sent and confirmed through the services (the form and
    # the confirmation link are walked on their pages by the permission journey and the
    # officer's week); the walk starts on its status page, where she corrects it.
    first, first_status = requested_by_service(
        live_server, "course_materials", "Handouts for HIM 310, weeks 4 to 6."
    )
    page.goto(first_status)

    office = signed_in_tab(browser, live_server, staff.email)
    office.goto("/console/permissions/")
    office.get_by_role("link", name=first).click()
    office.get_by_label("Assign to").select_option(label=staff.full_name)
    office.get_by_role("button", name="Save the assignment").click()
    office.locator(".flashes").wait_for()

    # The audience was 60, not 90: she corrects it from the status page.
    assert "once you confirm it, it replaces this one" in page.inner_text("main")
    page.get_by_role("link", name="send a corrected request").click()
    page.wait_for_url("**/permissions/request?again=**")
    assert f"it replaces {first}, which is withdrawn then" in one_line(page.inner_text("#again"))
    _fits_the_phone(page)
    assert_accessible(page)
    page.get_by_label("Audience size").fill("90")
    page.get_by_label("I confirm that the use is non-commercial").check()
    page.get_by_role("button", name="Send the request").click()
    page.wait_for_url("**/permissions/request/sent")
    page.goto(_confirmation(mailbox, TEACHER, 2))
    page.wait_for_url("**/permissions/status/**")
    second = page.get_by_role("heading", level=1).inner_text().removeprefix("Request ")
    assert second != first
    page.goto(first_status)
    assert "withdrawn" in page.inner_text("#state")

    # The officer's queue holds the correction alone, assigned to them.
    office.goto("/console/permissions/")
    rows = one_line(office.locator("table.queue tbody").inner_text())
    assert second in rows
    assert first not in rows
    assert staff.full_name in rows
    office.get_by_role("link", name=second).click()
    office.get_by_role("heading", level=1).wait_for()
    said = one_line(office.inner_text("main"))
    assert f"Corrects {first}, withdrawn: replaced by this request when the requester" in said
    assert "up to 90" in said
    assert_accessible(office)
    office.get_by_role("link", name=first).first.click()
    office.wait_for_url(re.compile(r".*/console/permissions/\d+$"))
    assert f"Corrected by {second}, submitted: it replaced this request" in one_line(
        office.inner_text("main")
    )
