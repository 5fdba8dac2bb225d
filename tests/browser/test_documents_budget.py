"""Round 31, in Chromium: a person clicking through invoice PDFs goes over the
documents budget (`DOCUMENT_RATE_LIMIT`). The refusal is the site's own page, in its
layout, saying the limit, that the document was not made and when to try again,
with *Open it again*; it read a sign-in's "Too many attempts ... nothing was saved"."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import invoiced_vendor, sign_in
from tests.support.axe import assert_accessible
from tests.support.servers import LiveServer


@pytest.fixture
def browser_config_changes() -> dict[str, Any]:
    return {"document_rate_limit": "2 per minute"}


def test_a_person_over_the_documents_budget_reads_when_to_open_it_again(
    page: Any, live_server: LiveServer
) -> None:
    email, invoice = invoiced_vendor(live_server, ("250.00",))
    sign_in(page, email)
    pdf = f"/invoices/{invoice.id}.pdf"
    for _ in range(2):  # as a browser's viewer fetches them, with the session's cookie
        assert page.request.get(pdf).status == 200

    answer = page.goto(pdf)

    assert answer.status == 429
    assert page.get_by_role("heading", level=1).inner_text() == "Too many documents at once"
    text = page.inner_text("main")
    assert "You asked for more documents (PDFs and exports)" in text
    assert "(2 per minute)" in text
    assert "Try again in" in text
    assert page.get_by_role("link", name="Open it again").get_attribute("href") == pdf
    assert page.get_by_role("link", name="Go to your dashboard").count() == 1
    assert_accessible(page)
