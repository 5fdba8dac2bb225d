"""The Content-Security-Policy holds in a real browser: the main pages load
everything they need without a single violation, and the policy does block
what it promises to block."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from licensing import db
from tests.browser.conftest import sign_in
from tests.conftest import DatabaseTemplate
from tests.support import factories
from tests.support.module_server import served
from tests.support.servers import LiveServer, SMTPServer

PUBLIC_PAGES = ("/", "/estimate", "/sign-in", "/sign-up", "/permissions/request")

# Round 65: the module's tests share one server, each in a browser context of its
# own: two read public pages, and the people the third makes change nothing they
# read. The module is kept on one worker, so the server is started once.
pytestmark = pytest.mark.xdist_group("security_headers")


@pytest.fixture(scope="module")
def live_server(sqlite_template: DatabaseTemplate, smtp_server: SMTPServer) -> Iterator[LiveServer]:
    """The app on a fresh SQLite database, served on a loopback port for the module,
    as the browser tests' `live_server` (CSRF on, mail sent)."""
    yield from served(sqlite_template, smtp_server)


def test_the_public_pages_and_the_api_documentation_load_without_a_csp_violation(
    page: Any, csp_violations: list[str]
) -> None:
    for path in PUBLIC_PAGES:
        response = page.goto(path)
        assert response.ok, path
        assert "'unsafe-inline'" not in response.headers["content-security-policy"]
    page.goto("/api/v1/docs")
    # Swagger UI starts from a static script and renders the whole document.
    page.wait_for_selector("#swagger-ui-container .opblock")
    assert csp_violations == []


def test_the_vendor_portal_and_the_staff_console_load_without_a_csp_violation(
    page: Any, live_server: LiveServer, csp_violations: list[str]
) -> None:
    with live_server.app.app_context():
        vendor = factories.make_vendor(db.session())
        admin = factories.make_staff(db.session(), roles=("admin", "licensing", "billing"))
    # The public pages both menus list (the home, the estimator, the permission form,
    # the API's documentation) are loaded signed in once, by the vendor (round 65:
    # the admin loaded them again; the first test loads them signed out). Each
    # person's own pages, their account's too, are loaded by each.
    shared = {*PUBLIC_PAGES, "/api/v1/docs"}
    loaded: set[str] = set()
    for user, start in ((vendor, "/portal/"), (admin, "/console/")):
        page.context.clear_cookies()
        sign_in(page, user.email)
        page.goto(start)
        links = page.eval_on_selector_all(
            "nav.menu a, .account a", "anchors => anchors.map(a => a.getAttribute('href'))"
        )
        assert len(links) > 2, "the menu lists the user's pages"
        for link in links:
            if link in shared and link in loaded:
                continue
            assert page.goto(link).ok, link
            loaded.add(link)
    assert shared <= loaded | {"/sign-in", "/sign-up"}, shared - loaded
    assert csp_violations == []


def test_an_injected_inline_script_is_blocked_and_reported(
    page: Any, csp_violations: list[str]
) -> None:
    page.goto("/")
    page.evaluate(
        """() => {
          document.addEventListener("securitypolicyviolation", (event) => {
            window.__blocked = event.effectiveDirective;
          });
          const script = document.createElement("script");
          script.textContent = "window.__ran = true";
          document.body.appendChild(script);
        }"""
    )
    # The violation event comes asynchronously: wait for it rather than a fixed time.
    page.wait_for_function("() => window.__blocked !== undefined")
    assert page.evaluate("window.__ran === undefined")
    assert page.evaluate("window.__blocked").startswith("script-src")
    # The fixture's own listener (added before ours) has reported it too.
    assert any("script-src" in text for text in csp_violations), csp_violations
    csp_violations.clear()  # expected here; the fixture checks for others
