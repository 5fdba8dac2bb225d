"""Round 30 in Chromium: an academic department prices its handouts on the estimator,
goes on to the permission request without retyping, recovers from choosing the
commercial purpose, confirms its address and opens a corrected request from the
status page; a licensing officer reads the week's decisions on the queue."""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import course_on_a_card, signed_in_tab, vendor_and_staff
from tests.support.axe import assert_accessible
from tests.support.servers import LiveServer, SMTPServer

REQUESTER = "lena.ortiz@cedar-ridge.example"


def test_a_department_goes_from_the_estimate_to_a_request_and_corrects_it(
    page: Any, browser: Any, live_server: LiveServer, mailbox: SMTPServer
) -> None:
    _vendor, staff = vendor_and_staff(live_server)
    # Days from the office's today: written in as 2027-01-15 to 2027-06-30, the
    # request was refused ("The first day has passed") from 16 January 2027.
    first, last = course_on_a_card(live_server)
    page.goto("/estimate")
    page.get_by_label("Your organization is").select_option("academic")
    page.get_by_label("License term starts").fill(first.isoformat())
    page.get_by_label("License term ends").fill(last.isoformat())
    page.locator("#uses-0-use").select_option("education")
    page.locator("#uses-0-product_type").select_option("print")
    page.locator("#uses-0-user_type").select_option("academic")
    page.locator("#uses-0-quantity-copies").fill("40")
    page.locator("#uses-0-description").fill("Handouts for a nursing course")
    page.get_by_role("button", name="Estimate the price").click()
    assert page.locator("#routed").inner_text().startswith("No license fee: this use is")
    assert "the price is fixed when your application is approved" not in page.content()
    assert_accessible(page)

    # On to the request: what the estimate held is there; the rest is typed once.
    page.get_by_role("link", name="Request permission for this educational use").click()
    assert "aims to decide within 10 US business days" in page.locator("#when").inner_text()
    assert page.get_by_label("Type of institution").input_value() == "academic"
    # The medium is the requester's to choose (round 58: the product type "print"
    # arrived as the medium of a course on a learning-management system).
    assert page.get_by_label("Medium").input_value() == ""
    page.get_by_label("Medium").select_option("print")
    assert page.get_by_label("Audience size").input_value() == "40"
    page.get_by_label("Your name").fill("Lena Ortiz")
    page.get_by_label("Your email address").fill(REQUESTER)
    page.get_by_label("Institution", exact=True).fill("Cedar Ridge Community College")
    page.get_by_label("Your role").select_option("faculty")
    page.get_by_label("Content requested").fill("Section guidelines for visit services.")
    page.get_by_label("Purpose", exact=True).select_option("commercial")  # by mistake
    page.get_by_label("I confirm that the use is non-commercial").check()
    page.get_by_role("button", name="Send the request").click()

    # Refused with why, beside the purpose, and nothing typed is lost.
    assert "A commercial use needs a license" in page.locator("#commercial").inner_text()
    assert "needs a license, not a permission" in page.locator("#purpose-error").inner_text()
    assert page.get_by_label("Your name").input_value() == "Lena Ortiz"
    assert page.get_by_label("Content requested").input_value().startswith("Section guidelines")
    assert_accessible(page)
    page.get_by_label("Purpose", exact=True).select_option("course_materials")
    page.get_by_role("button", name="Send the request").click()
    page.wait_for_url("**/permissions/request/sent")
    assert "which aims to decide within 10 US business days" in page.inner_text("main")

    page.goto(mailbox.link_to(REQUESTER, "/permissions/confirm/"))
    page.wait_for_url("**/permissions/status/**")
    assert "(academic institution); faculty" in page.inner_text("main")
    page.get_by_role("link", name="send a corrected request").click()
    # Round 58: it names the request, which the correction replaces once confirmed.
    assert "The form is filled in with your request PR-" in page.locator("#again").inner_text()
    assert page.get_by_label("Your email address").input_value() == REQUESTER
    assert page.get_by_label("Purpose", exact=True).input_value() == "course_materials"
    assert not page.get_by_label("I confirm that the use is non-commercial").is_checked()
    assert_accessible(page)

    # The officer grants it; the queue counts the week's decision as theirs.
    tab = signed_in_tab(browser, live_server, staff.email)
    tab.goto("/console/permissions/")
    reference = tab.locator("table.queue tbody tr").first.locator("a").first.inner_text()
    tab.get_by_role("link", name=reference).click()
    assert "What to decide" in tab.locator("#grounds").inner_text()
    tab.get_by_role("button", name="Approve and issue the grant letter").click()
    tab.goto("/console/permissions/")
    week = " ".join(tab.locator("#week").inner_text().split())
    assert week == "1 (1 granted, 0 denied; 1 by you)"
    assert_accessible(tab)
