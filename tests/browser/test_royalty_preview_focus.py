"""Round 51: after *Preview the royalty*, keyboard and screen-reader users start at
the preview. The page lands on the posted form's `#fragment`, which left the focus's
starting point at the form's first row: a keyboard user tabbed through every row's
seven fields to reach the figures, the working and the attestation under them, and a screen
reader said nothing of the preview."""

from __future__ import annotations

from typing import Any

import time_machine

from tests.browser.conftest import reporting_vendor, sign_in
from tests.support.servers import LiveServer

_FOCUSED = "() => document.activeElement.id"


def test_a_preview_takes_the_focus_and_the_attestation_is_the_next_tab_stop(
    page: Any, live_server: LiveServer
) -> None:
    email, agreement, year = reporting_vendor(live_server)
    with time_machine.travel(year.after(1)):
        sign_in(page, email)
        page.goto(f"/portal/royalty-reports/{agreement.id}/{year.period(1).start}")
        page.locator("#rows-1-customer_id").fill("C-1")
        page.locator("#rows-1-customer_name").fill("Clinic One")
        page.locator("#rows-1-country").fill("US")
        page.locator("#rows-1-quantity").focus()
        page.keyboard.type("12")
        for _ in range(40):  # the keyboard alone, to the form's preview button
            page.keyboard.press("Tab")
            if page.evaluate("() => document.activeElement.textContent.trim()") == (
                "Preview the royalty"
            ):
                break
        with page.expect_navigation():
            page.keyboard.press("Enter")
        preview = page.get_by_role("region", name="Preview: what this report would charge")
        preview.wait_for()
        page.wait_for_function(
            "() => document.activeElement.matches('section.preview')", timeout=5_000
        )
        assert "1 12 end users" in " ".join(preview.inner_text().split())
        page.keyboard.press("Tab")  # the working's disclosure, then the attestation
        assert page.evaluate("() => document.activeElement.textContent.trim()") == (
            "How line 1 was computed"
        )
        page.keyboard.press("Tab")
        assert page.evaluate(_FOCUSED) == "attest-form"
        page.keyboard.press("Space")
        page.keyboard.press("Tab")
        page.keyboard.press("Tab")
        assert page.evaluate("() => document.activeElement.textContent.trim()") == (
            "Attest and submit"
        )
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert "Report filed." in page.inner_text(".flashes")
