"""Round 46: the agreements up for renewal and the rejections open to reconsideration
a page at a time. Each was one page, however many agreements end in the window (a
licensor's calendar-year terms end together) or rejections are open; they page as
the other lists do, soonest first, the id ordering those that tie."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from flask import Flask

from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import services
from licensing.agreements import views as agreement_views
from licensing.agreements.models import Application
from licensing.db import utcnow
from tests.integration.agreements.conftest import AUTO_USE, NOW, STAFF_USE
from tests.support.agreements import make_active_agreement
from tests.support.pages import text_of, walk_pages


def test_the_renewals_due_page_through_agreements_ending_the_same_day(
    example_card: str,
    vendor: Any,
    licensing_staff: Any,
    signed_in: Any,
    app: Flask,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Five agreements, each ending 2027-12-31: only the id orders them.
    agreements = [
        make_active_agreement(vendor, licensing_staff, AUTO_USE, now=NOW) for _ in range(5)
    ]
    monkeypatch.setattr(agreement_views, "WINDOW_LISTS_PER_PAGE", 2)
    with time_machine.travel(datetime(2027, 11, 15, 15, 0, tzinfo=UTC), tick=False):
        staff = signed_in(app.test_client(), licensing_staff)
        url = "/console/agreements/renewals-due"
        seen, urls = walk_pages(staff, url, r"/console/agreements/(\d+)\">")
        assert seen == [str(agreement.id) for agreement in agreements]
        assert urls[1:] == [f"{url}?page=2", f"{url}?page=3"]
        for page_url in urls:
            # Each row still says whether its licensee was told, on every page.
            assert "No renewal yet" in text_of(staff.get(page_url))
        last = text_of(staff.get(f"{url}?page=8"))
        assert "Agreements 5\u20135 of 5 \u00b7 page 3 of 3" in last


def test_the_rejections_open_to_reconsideration_page_through_a_shared_deadline(
    app: Flask,
    apply: Callable[..., Application],
    vendor: Any,
    licensing_staff: Any,
    signed_in: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Five rejections in the same instant: one deadline, only the id orders them.
    moment = utcnow() - timedelta(days=1)
    actor = Actor.of(accounts.principal_for(licensing_staff))
    rejected = [
        services.reject(apply(vendor, STAFF_USE).id, "Revenue not evidenced", actor, now=moment)
        for _ in range(5)
    ]
    monkeypatch.setattr(agreement_views, "WINDOW_LISTS_PER_PAGE", 2)
    staff = signed_in(app.test_client(), licensing_staff)
    url = "/console/applications/reconsideration-open"
    seen, urls = walk_pages(staff, url, r"/console/applications/\d+\">([^<]+)</a>")
    assert seen == [application.reference for application in rejected]
    assert urls[1:] == [f"{url}?page=2", f"{url}?page=3"]
    last = staff.get(f"{url}?page=8").get_data(as_text=True)
    assert "Rejections 5\u20135 of 5 \u00b7 page 3 of 3" in text_of(staff.get(f"{url}?page=8"))
    assert re.findall(r"/console/applications/\d+\">([^<]+)</a>", last) == [rejected[-1].reference]
    assert staff.get(f"{url}?page=1&page=2").status_code == 400
