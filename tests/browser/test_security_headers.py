"""The Content-Security-Policy holds in a real browser: the policy does block what it
promises to block.

That the pages load everything they need without a single violation is watched in
every browser test's `page` (tests/browser/conftest.py) and, since round 68, in the
accessibility sweep's tabs (test_accessibility_pages.py), which load every page of
the URL map in each of its states, signed out and as each person, at both widths.
This module loaded the public pages, the API's documentation and each link of the
vendor's and the admin's menus again for that check alone (some 30 page loads, Swagger
UI twice); the sweep's walk makes it now, and Swagger UI's is watched where it is
drawn (test_accessibility_outside_pages.py). The header itself (no 'unsafe-inline')
is tests/integration/test_security_headers.py's."""

from __future__ import annotations

from typing import Any


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
