"""Every browser test also watches for Content-Security-Policy violations.

Chromium reports a blocked script, style, frame or connection as a console
error ("Refused to ... because it violates the following Content Security
Policy directive") and fires a `securitypolicyviolation` event in the page; a
test during which either happened fails at teardown, naming what was blocked.
So a page that gains an inline script, an inline style or a CDN asset fails
the journey test that visits it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

# Runs in every document before the page's own scripts.
_LISTEN = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.__reportCspViolation(
    `${event.effectiveDirective} blocked ${event.blockedURI || "inline"} on ${location.pathname}`
  );
});
"""


@pytest.fixture(autouse=True)
def csp_violations(page: Any) -> Iterator[list[str]]:
    """The violations seen so far in this test (console messages and events)."""
    seen: list[str] = []

    def on_console(message: Any) -> None:
        if "Content Security Policy" in message.text:
            seen.append(message.text)

    def on_event(text: str) -> None:
        seen.append(text)

    page.on("console", on_console)
    page.expose_function("__reportCspViolation", on_event)
    page.add_init_script(_LISTEN)
    yield seen
    assert not seen, "Content-Security-Policy violations:\n" + "\n".join(seen)
