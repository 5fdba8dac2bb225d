"""Issue 15, item 17: pages fit the screen, on a 1366 px laptop and on a 375 px phone.

Nothing may stick out past the viewport: an element wider than the screen is
allowed only inside a box that scrolls sideways by itself (a wide table on a
phone). On a phone the navigation bars fold into one menu that opens without
JavaScript.
"""

from __future__ import annotations

import re
from typing import Any

from licensing import db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import services as agreements
from tests.browser.conftest import signed_in_tab, vendor_and_staff
from tests.integration.agreements.conftest import STAFF_USE, draft
from tests.support import factories
from tests.support.axe import assert_accessible
from tests.support.servers import LiveServer
from tests.support.settings import issuing

# Elements whose right edge passes the viewport and that no scrolling box holds.
_OVERFLOWING = """
() => {
  const width = document.documentElement.clientWidth;
  const scrolls = (el) => {
    for (let box = el.parentElement; box; box = box.parentElement) {
      const style = getComputedStyle(box);
      if (["auto", "scroll", "hidden"].includes(style.overflowX)
          && box.getBoundingClientRect().right <= width + 1) return true;
    }
    return false;
  };
  const found = [];
  for (const el of document.body.querySelectorAll("*")) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 || getComputedStyle(el).visibility === "hidden") continue;
    if (box.right > width + 1 && !scrolls(el)) {
      found.push(`${el.tagName.toLowerCase()}.${el.className} right=${Math.round(box.right)}`);
    }
  }
  return {found: found.slice(0, 5), page: document.documentElement.scrollWidth, width};
}
"""


def _staff_and_a_queue(live_server: LiveServer) -> tuple[Any, str, int]:
    vendor, _ = vendor_and_staff(live_server)
    with live_server.app.app_context():
        session = db.session()
        staff = factories.make_staff(session, roles=("licensing", "billing", "admin"))
        session.commit()
        principal = accounts.principal_for(vendor)
        for name in ("Wide Table Coder With A Long Product Name", "Second Product"):
            application = agreements.create_draft(
                Actor.of(principal), draft({**STAFF_USE, "product_name": name})
            )
            agreements.submit(application.id, Actor.of(principal), policy=issuing(), attest=True)
        return staff, vendor.email, application.id


def _assert_fits(tab: Any, path: str) -> None:
    response = tab.goto(path)
    assert response.ok, (path, response.status)
    result = tab.evaluate(_OVERFLOWING)
    assert result["found"] == [], (path, result)
    assert result["page"] <= result["width"], (path, result)


def _organization(tab: Any) -> str:
    """The console page of the first organization listed."""
    tab.goto("/console/organizations")
    return str(tab.locator("tbody a").first.get_attribute("href"))


CONSOLE_PAGES = (
    "/console/",
    "/console/applications",
    "/console/agreements",
    "/console/invoices",
    "/console/organizations",
    "/console/audit",
    "/console/users",
    "/console/permissions",
    "/console/finance/",
    "/console/rate-cards/",
    "/console/exports",
    "/console/outbox",
    "/console/jobs",
    "/console/jobs/outbox%20send",
    "/console/royalty-reports",
    "/console/agreements/renewals-due",
    "/account/",
)


def test_console_pages_fit_a_1366_pixel_screen_and_use_its_width(
    browser: Any, live_server: LiveServer
) -> None:
    staff, _, application_id = _staff_and_a_queue(live_server)
    tab = signed_in_tab(browser, live_server, staff.email, 1366)
    for path in (*CONSOLE_PAGES, f"/console/applications/{application_id}", _organization(tab)):
        _assert_fits(tab, path)
    tab.goto("/console/applications")
    main = tab.locator("main").bounding_box()
    assert main["width"] > 1300  # not a 1152 px column in the middle of the screen
    assert tab.locator("nav.menu").first.is_visible()
    assert not tab.locator("details.phone-menu").is_visible()


def test_on_a_phone_pages_fit_and_the_navigation_folds_into_one_menu(
    browser: Any, live_server: LiveServer
) -> None:
    staff, vendor_email, application_id = _staff_and_a_queue(live_server)
    tab = signed_in_tab(browser, live_server, staff.email, 375)
    pages = (*CONSOLE_PAGES, f"/console/applications/{application_id}", _organization(tab))
    for path in (*pages, "/estimate"):
        _assert_fits(tab, path)
    tab.goto("/console/applications")
    bars = tab.locator("nav.menu").all()
    assert bars
    assert not any(nav.is_visible() for nav in bars)
    menu = tab.locator("details.phone-menu")
    assert menu.is_visible()
    assert not tab.get_by_role("link", name="Rate cards").is_visible()
    menu.locator("summary").click()
    assert_accessible(tab)
    tab.get_by_role("link", name="Rate cards").click()
    tab.wait_for_url("**/console/rate-cards**")

    vendor = signed_in_tab(browser, live_server, vendor_email, 375)
    for path in ("/portal/", "/portal/applications", f"/portal/applications/{application_id}"):
        _assert_fits(vendor, path)
    vendor.locator("details.phone-menu summary").click()
    assert vendor.get_by_role("link", name="Invoices").is_visible()


def test_a_long_link_in_a_requester_s_words_wraps_instead_of_widening_the_page(
    browser: Any, live_server: LiveServer
) -> None:
    # A course link pasted into an answer stretched the status page (and the staff
    # page) to the link's width: on a phone, thousands of pixels sideways.
    from licensing.permissions import services as permissions
    from tests.integration.permissions.conftest import last_mail, request_input
    from tests.support.settings import permission_sla_days

    link = "https://lms.cedar-ridge.example/course?id=104&session=" + "A7f3Q9z" * 40
    with live_server.app.app_context():
        created = permissions.submit_request(
            request_input(content_requested=f"The guidelines quoted on {link}")
        )
        found = re.search(
            r"/permissions/confirm/(\S+)", last_mail(created.requester_email).body_text
        )
        assert found
        raw = found.group(1)
        confirmed = permissions.confirm_email(raw, sla_days=permission_sla_days())
        permissions.ask_for_info(confirmed.id, "Which sections?", Actor.SYSTEM)
        token = permissions.status_token(confirmed)
        permissions.answer(token, f"Those on {link}")
    for width in (390, 1366):
        context = browser.new_context(
            base_url=live_server.url, viewport={"width": width, "height": 800}
        )
        try:
            _assert_fits(context.new_page(), f"/permissions/status/{token}")
        finally:
            context.close()
