"""Round 59 (expired59): the licensing office's list of agreements that expired without a
renewal (docs/journeys.md, "Round 59: licences that ended without a renewal"). The
renewals due list active agreements only, so from the day after a term the office lost
sight of a licence not renewed, while its licensee's dashboard asked for the renewal for
`queries.EXPIRED_RENEWAL_DAYS` more. And a held organization's dashboard said the day
it was held in ISO in its waiting table."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient

from licensing import db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import services as agreements
from licensing.agreements import views as agreement_views
from licensing.agreements.models import Agreement
from licensing.calendar import office_date
from licensing.db import utcnow
from tests.integration.agreements.conftest import AUTO_USE, NOW
from tests.support.agreements import issued_agreement, make_active_agreement
from tests.support.factories import bearer
from tests.support.pages import text_of, walk_pages

SignIn = Callable[[FlaskClient, Any], FlaskClient]
URL = "/console/agreements/expired-unrenewed"
HOME_ROW = "Agreements expired without a renewal in the last 90 days"


def _at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 15, 0, tzinfo=UTC)


def _term(end: date) -> tuple[date, date]:
    return date(2027, 1, 1), end


def _ended(vendor: Any, staff: Any, end: date) -> Agreement:
    return make_active_agreement(vendor, staff, AUTO_USE, now=NOW, term=_term(end))


def _staff_page(app: Flask, signed_in: SignIn, staff: Any, url: str, day: date) -> str:
    with time_machine.travel(_at(day), tick=False):
        return text_of(signed_in(app.test_client(), staff).get(url))


@pytest.fixture
def ended(
    app: Flask, example_card: str, vendor: Any, other_vendor: Any, licensing_staff: Any
) -> dict[str, Agreement]:
    """Agreements of 2027 ended on several days, expired by the run on 2027-11-16: four
    the office should chase (one of a suspended licensee), one renewed, one that ended
    unaccepted, one still active."""
    found = {
        "first": _ended(vendor, licensing_staff, date(2027, 8, 31)),
        "tie_a": _ended(vendor, licensing_staff, date(2027, 10, 31)),
        "tie_b": _ended(vendor, licensing_staff, date(2027, 10, 31)),
        "suspended": _ended(other_vendor, licensing_staff, date(2027, 11, 10)),
        "renewed": _ended(vendor, licensing_staff, date(2027, 11, 15)),
        "unaccepted": issued_agreement(
            vendor, licensing_staff, AUTO_USE, now=NOW, term=_term(date(2027, 10, 31))
        ),
        "active": _ended(vendor, licensing_staff, date(2027, 12, 31)),
    }
    db.session().commit()
    agreements.expire(now=_at(date(2027, 11, 16)))
    accounts.change_organization_standing(
        other_vendor.organization_id,
        "suspend",
        reason="Licensed use outside the agreement",
        actor=Actor.of(accounts.principal_for(licensing_staff)),
    )
    db.session().commit()
    with time_machine.travel(_at(date(2027, 11, 20)), tick=False):
        renewal = app.test_client().post(
            f"/api/v1/agreements/{found['renewed'].id}/renewal", headers=bearer(vendor)
        )
    assert renewal.status_code == 201, renewal.get_json()
    return found


def _numbers(text: str) -> list[str]:
    return re.findall(r"CPT-\d{4}-\d{6}", text)


def test_the_office_lists_licences_that_ended_unrenewed_oldest_first_until_90_days_on(
    app: Flask, signed_in: SignIn, licensing_staff: Any, ended: dict[str, Agreement]
) -> None:
    page = _staff_page(app, signed_in, licensing_staff, URL, date(2027, 11, 29))
    listed = [ended[name].number for name in ("first", "tie_a", "tie_b", "suspended")]
    # Renewed, ended unaccepted or still active: none of them is listed.
    assert _numbers(page) == listed, page
    assert (
        f"{ended['first'].number} "
        f"{ended['first'].organization.legal_name} 2027-08-31 Ended 90 days ago: unlicensed "
        "since September 1, 2027. Its licensee's dashboard asks for the renewal until "
        "November 29, 2027. It leaves this list after November 29, 2027."
    ) in page
    assert (
        "suspended 2027-11-10 Ended 19 days ago: unlicensed since November 11, 2027. The "
        "licensee is suspended: it draws no renewal until licensing staff reinstate it."
    ) in page
    # The day after its 90th, the first has left; on the day after its term, one is in.
    later = _staff_page(app, signed_in, licensing_staff, URL, date(2027, 11, 30))
    assert _numbers(later) == listed[1:]
    assert "Ended yesterday" in _staff_page(
        app, signed_in, licensing_staff, URL, date(2027, 11, 11)
    )


def test_the_list_pages_through_terms_that_ended_the_same_day_by_id(
    app: Flask,
    signed_in: SignIn,
    billing_staff: Any,
    ended: dict[str, Agreement],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(agreement_views, "WINDOW_LISTS_PER_PAGE", 2)
    with time_machine.travel(_at(date(2027, 11, 29)), tick=False):
        staff = signed_in(app.test_client(), billing_staff)  # billing staff read it too
        seen, urls = walk_pages(staff, URL, r"/console/agreements/\d+\">(CPT-[\d-]+)</a>")
    assert seen == [ended[name].number for name in ("first", "tie_a", "tie_b", "suspended")]
    assert urls[1:] == [f"{URL}?page=2"]


def test_the_console_home_links_the_list_while_anything_is_on_it(
    app: Flask, signed_in: SignIn, licensing_staff: Any, ended: dict[str, Agreement]
) -> None:
    with time_machine.travel(_at(date(2027, 11, 29)), tick=False):
        staff = signed_in(app.test_client(), licensing_staff)
        home = staff.get("/console/").get_data(as_text=True)
    assert f'href="{URL}">{HOME_ROW}</a>' in home
    assert (
        f"{HOME_ROW} The first ended 90 days ago: it leaves the list tomorrow. 4"
    ) in text_of_html(home)
    # Before any term ended, and once the last has left, the home says nothing of it.
    for day in (date(2027, 8, 31), date(2028, 2, 9)):
        assert HOME_ROW not in _staff_page(app, signed_in, licensing_staff, "/console/", day)
    assert "No agreement expired without a renewal in the last 90 days." in _staff_page(
        app, signed_in, licensing_staff, URL, date(2028, 2, 9)
    )
    # The renewals due point to it.
    due = _staff_page(
        app, signed_in, licensing_staff, "/console/agreements/renewals-due", date(2027, 11, 29)
    )
    assert "leaves this list for the agreements expired without a renewal" in due


def text_of_html(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_vendors_may_not_open_the_offices_list(
    client: FlaskClient, signed_in: SignIn, vendor: Any
) -> None:
    assert signed_in(client, vendor).get(URL).status_code == 403


def test_a_held_organizations_dashboard_says_since_when_in_words_once(
    client: FlaskClient, signed_in: SignIn, vendor: Any, billing_staff: Any
) -> None:
    accounts.change_organization_standing(
        vendor.organization_id,
        "mark_pending_payment",
        reason="The March check bounced",
        actor=Actor.of(accounts.principal_for(billing_staff)),
    )
    db.session().commit()
    dashboard = text_of(signed_in(client, vendor).get("/portal/"))
    # The standing said "(held since December 6, 2026)", the waiting table
    # "(held since 2026-12-06)"; round 60 (agreements60): the standing alone says it.
    held = re.findall(r"\(held since ([^)]*)\)", dashboard)
    assert len(held) == 1, dashboard
    assert all(re.fullmatch(r"[A-Z][a-z]+ \d{1,2}, \d{4}", since) for since in held), held
    # The message itself, which the API's refusals and the command line carry, keeps ISO.
    organization = vendor.organization
    message = accounts.standing_block_reason_now(
        db.session(), organization, organization.id, office_date(utcnow())
    )
    assert re.search(r"\(held since \d{4}-\d{2}-\d{2}\)", message or ""), message
