"""Issue 15, item 17: pages fit the screen, on a 1366 px laptop and on a 375 px phone.

Nothing may stick out past the viewport: an element wider than the screen is
allowed only inside a box that scrolls sideways by itself (a wide table on a
phone). On a phone the navigation bars fold into one menu that opens without
JavaScript.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from typing import Any

import pytest

from licensing import db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import services as agreements
from tests.browser.conftest import signed_in_tab, vendor_and_staff
from tests.conftest import DatabaseTemplate
from tests.integration.agreements.conftest import STAFF_USE, draft
from tests.support import factories
from tests.support.axe import assert_accessible
from tests.support.module_server import served
from tests.support.servers import LiveServer, SMTPServer
from tests.support.settings import issuing

pytestmark = pytest.mark.xdist_group("layout")

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


@dataclasses.dataclass(frozen=True)
class _Queue:
    """The module's server, its staff member's and vendor's emails and the vendor's
    last application."""

    server: LiveServer
    staff_email: str
    vendor_email: str
    application_id: int


@pytest.fixture(scope="module")
def queue(sqlite_template: DatabaseTemplate, smtp_server: SMTPServer) -> Iterator[_Queue]:
    """Round 65: the two walks of the console's pages only read them, so they share
    one server and the queue made once (each had a server and a queue of its own); the
    module is kept on one worker. The long link's test changes what they read (a
    permission request) and keeps a server of its own."""
    for server in served(sqlite_template, smtp_server):
        staff, vendor_email, application_id = _staff_and_a_queue(server)
        yield _Queue(server, str(staff.email), vendor_email, application_id)


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


LAPTOP, PHONE = 1366, 375


@dataclasses.dataclass(frozen=True)
class _Walked:
    """What the console's pages measured: each one's answer and, at each width, the
    overflow found (`_OVERFLOWING`); and the applications list at 1366 px."""

    pages: tuple[str, ...]
    status: dict[str, int]
    fits: dict[tuple[str, int], dict[str, Any]]
    main_width: float
    menu_bar_shown: bool
    phone_menu_shown: bool


@pytest.fixture(scope="module")
def walked(browser: Any, queue: _Queue) -> Iterator[_Walked]:
    """The console's pages walked once for both widths (round 65: each test loaded
    every page, at its own width): each page loaded at 1366 px and measured, the
    window narrowed to 375 px and measured again. CSS's media queries follow the
    window, and the only script of the service's that sizes anything is the Finance
    page's charts (`scroll-regions.js` gives a box that scrolls a tab stop, which
    moves nothing), so a page narrowed so is laid out as one loaded narrow; a page
    with a chart is loaded again narrow."""
    tab = signed_in_tab(browser, queue.server, queue.staff_email, LAPTOP)
    pages = (
        *CONSOLE_PAGES,
        f"/console/applications/{queue.application_id}",
        _organization(tab),
    )
    status: dict[str, int] = {}
    fits: dict[tuple[str, int], dict[str, Any]] = {}
    wide: dict[str, Any] = {}
    for path in pages:
        status[path] = tab.goto(path).status
        fits[path, LAPTOP] = tab.evaluate(_OVERFLOWING)
        if path == "/console/applications":
            wide["main"] = tab.locator("main").bounding_box()["width"]
            wide["bar"] = tab.locator("nav.menu").first.is_visible()
            wide["phone"] = tab.locator("details.phone-menu").is_visible()
        tab.set_viewport_size({"width": PHONE, "height": 800})
        if tab.locator("canvas").count():
            # A chart's canvas is sized by Chart.js when the page draws it, and
            # follows the window only when the browser renders a frame, which a
            # headless tab may not: the page is loaded again at this width.
            tab.reload()
        fits[path, PHONE] = tab.evaluate(_OVERFLOWING)
        tab.set_viewport_size({"width": LAPTOP, "height": 800})
    yield _Walked(pages, status, fits, wide["main"], wide["bar"], wide["phone"])
    tab.context.close()


def _assert_fitted(walked: _Walked, width: int) -> None:
    for path in walked.pages:
        assert 200 <= walked.status[path] < 300, (path, walked.status[path])
        result = walked.fits[path, width]
        assert result["found"] == [], (path, width, result)
        assert result["page"] <= result["width"], (path, width, result)
        assert result["width"] <= width, (path, width, result)  # measured at that width


def test_console_pages_fit_a_1366_pixel_screen_and_use_its_width(walked: _Walked) -> None:
    _assert_fitted(walked, LAPTOP)
    assert walked.main_width > 1300  # not a 1152 px column in the middle of the screen
    assert walked.menu_bar_shown
    assert not walked.phone_menu_shown


def test_on_a_phone_pages_fit_and_the_navigation_folds_into_one_menu(
    browser: Any, queue: _Queue, walked: _Walked
) -> None:
    _assert_fitted(walked, PHONE)
    application_id = queue.application_id
    tab = signed_in_tab(browser, queue.server, queue.staff_email, PHONE)
    _assert_fits(tab, "/estimate")
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

    vendor = signed_in_tab(browser, queue.server, queue.vendor_email, 375)
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
