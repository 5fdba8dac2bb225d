"""The home page in a real browser."""

from __future__ import annotations

from typing import Any


def test_home_page_renders_in_chromium_with_its_stylesheet(page: Any) -> None:
    page.goto("/")
    heading = page.get_by_role("heading", level=1)
    assert heading.inner_text() == "License CPT content for your product"
    # The app's own stylesheet is applied: the page background it sets.
    colour = page.eval_on_selector("body", "el => getComputedStyle(el).backgroundColor")
    assert colour == "rgb(244, 246, 249)"
    page.get_by_role("link", name="API documentation").first.click()
    page.wait_for_selector("#swagger-ui-container .info")
    assert "CPT licensing and royalty service" in page.inner_text("#swagger-ui-container")
