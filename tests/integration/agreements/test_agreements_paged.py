"""Round 45: the agreements lists (the console's and the vendor's) a page at a time.
They listed every agreement on one page; they now page as the other lists do, newest
first with the id last (agreements issued in the same second keep their places), the
console's links keeping its filters."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from licensing.agreements import views as agreement_views
from licensing.agreements.models import Agreement
from tests.integration.pricing.conftest import example_card as example_card
from tests.integration.royalties.conftest import (  # noqa: F401 - fixtures
    SMALL_SOFTWARE,
    active_agreement,
)
from tests.support.pages import walk_pages

# An agreement's number as its row links it.
NUMBER = r'<a href="/[a-z/]*agreements/\d+[^"]*">(CPT-\d{4}-\d{6})</a>'


def test_the_agreements_lists_page_newest_first_across_agreements_issued_together(
    app: Flask,
    vendor: Any,
    other_vendor: Any,
    billing_staff: Any,
    active_agreement: Callable[..., Agreement],  # noqa: F811
    signed_in: Callable[..., FlaskClient],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Issued at the same instant (the fixture's clock): only the id orders them.
    own = [active_agreement(vendor, SMALL_SOFTWARE).number for _ in range(4)]
    theirs = active_agreement(other_vendor, SMALL_SOFTWARE).number
    monkeypatch.setattr(agreement_views, "AGREEMENTS_PER_PAGE", 2)

    staff = signed_in(app.test_client(), billing_staff)
    seen, urls = walk_pages(staff, "/console/agreements?state=active", NUMBER)
    assert seen == [theirs, *own[::-1]]
    assert urls[1:] == [
        "/console/agreements?state=active&page=2",
        "/console/agreements?state=active&page=3",
    ]
    last = staff.get("/console/agreements?state=active&page=9").get_data(as_text=True)
    assert re.findall(NUMBER, last) == [own[0]]
    assert "Agreements 5\u20135 of 5 \u00b7 page 3 of 3" in last

    mine, _ = walk_pages(signed_in(app.test_client(), vendor), "/portal/agreements", NUMBER)
    assert mine == own[::-1]
