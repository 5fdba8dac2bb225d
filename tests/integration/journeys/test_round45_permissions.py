"""Round 45: the console's permission-request queue a page at a time. It listed every
matching request on one page; it now pages as the application queue does (the count
and "page 2 of 4", links that keep every filter and the sort, a page past the last
shows the last, the bulk assignment back to its page), in each sort's stable order
across ties and requests without days. And under the ending filter a refused sort
names the options as the page shows them."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any, NamedTuple

import pytest
from flask import Flask
from flask.testing import FlaskClient

from licensing import calendar, db
from licensing.db import utcnow
from licensing.permissions import services
from licensing.permissions import views as permission_views
from licensing.permissions.models import PermissionRequest
from tests.integration.permissions.conftest import (
    OFFICE,
    routed_use,
    send_routed,
    submit,  # noqa: F401 - the fixture
    tied_queue,
)
from tests.support import factories
from tests.support.pages import walk_pages

Submit = Callable[..., tuple[PermissionRequest, str]]


def _row_ids(page: str) -> list[int]:
    """The queue's requests, in the order its rows list them."""
    return [int(found) for found in re.findall(r'name="request_ids" value="(\d+)"', page)]


def _queue(client: FlaskClient, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    return response.get_data(as_text=True)


def _link(page: str, rel: str) -> str | None:
    found = re.search(rf'<a href="([^"]+)" rel="{rel}">', page)
    return html.unescape(found.group(1)) if found else None


def _walk(client: FlaskClient, query: str) -> tuple[list[int], list[str]]:
    """Every request the queue lists from its first page, following "Next"; and the
    sentence each page says where it sits in the list."""
    seen: list[int] = []
    sentences: list[str] = []
    url: str | None = f"/console/permissions/?{query}"
    while url is not None:
        page = _queue(client, url)
        seen += _row_ids(page)
        sentences += re.findall(r"Permission requests \d[^<]+", page)
        url = _link(page, "next")
        if url is not None:
            # Every filter and the sort kept, the page next.
            assert url.startswith(f"/console/permissions/?{query}&page=")
    return seen, sentences


class Tied(NamedTuple):
    by_first_day: list[int]
    by_due: list[int]
    client: FlaskClient  # the officer's, signed in


@pytest.fixture
def tied(
    app: Flask,
    submit: Submit,  # noqa: F811
    signed_in: Callable[..., FlaskClient],
    licensing_staff: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> Callable[[int], Tied]:
    """`tied(size)`: the seven requests of `tied_queue` (ties on the first day and on
    the decision due, undated ones), the queue showing `size` a page."""

    def made(size: int) -> Tied:
        by_first_day, by_due = tied_queue(submit)
        monkeypatch.setattr(permission_views, "REQUESTS_PER_PAGE", size)
        return Tied(by_first_day, by_due, signed_in(app.test_client(), licensing_staff))

    return made


@pytest.mark.parametrize("size", [2, 3])
def test_the_queue_pages_through_ties_and_undated_requests_in_either_sort(
    tied: Callable[[int], Tied], size: int
) -> None:
    # Three requests tie on the first day and the decision due, two undated ones on
    # the due date, the first of each tie stored after the others: pages of 2 and 3
    # cut through both ties, and each request is listed once, in the sort's order.
    by_first_day, by_due, client = tied(size)
    pages = -(-7 // size)
    for query, order in (
        ("state=open&sort=due", by_due),
        ("state=open&sort=use_from", by_first_day),
        ("q=example&sort=use_from", by_first_day),
    ):
        seen, sentences = _walk(client, query)
        assert seen == order, query
        assert sentences[0] == f"Permission requests 1\u2013{size} of 7 · page 1 of {pages}"
        assert sentences[-1].endswith(f"of 7 · page {pages} of {pages}")


def test_a_page_past_the_last_shows_the_last_and_its_links_keep_the_filters(
    tied: Callable[[int], Tied], monkeypatch: pytest.MonkeyPatch
) -> None:
    by_first_day, _, client = tied(3)
    last = _queue(client, "/console/permissions/?sort=use_from&assignee=none&page=40")
    assert _row_ids(last) == by_first_day[6:]
    assert "Permission requests 7\u20137 of 7 · page 3 of 3" in last
    assert _link(last, "next") is None
    assert _link(last, "prev") == "/console/permissions/?sort=use_from&assignee=none&page=2"
    # A page number that cannot be read is the first; given twice, refused.
    assert (
        _row_ids(_queue(client, "/console/permissions/?sort=use_from&page=x")) == (by_first_day[:3])
    )
    twice = _queue(client, "/console/permissions/?page=2&page=3", status=400)
    assert "Page takes one value, and the link gave it 2" in twice
    # One page: the count, no "page 1 of 1", no links.
    monkeypatch.setattr(permission_views, "REQUESTS_PER_PAGE", 50)
    whole = _queue(client, "/console/permissions/?sort=use_from")
    assert _row_ids(whole) == by_first_day
    assert "Permission requests 1\u20137 of 7</p>" in whole
    assert _link(whole, "next") is None
    assert _link(whole, "prev") is None


def test_the_bulk_assignment_returns_to_the_page_it_was_on(
    tied: Callable[[int], Tied], licensing_staff: Any
) -> None:
    by_first_day, _, client = tied(3)
    page = _queue(client, "/console/permissions/?sort=use_from&page=2")
    carried = html.unescape(page.split('name="filters" value="')[1].split('"')[0])
    assert carried == "sort=use_from&page=2"
    chosen = by_first_day[3:5]
    done = client.post(
        "/console/permissions/assign",
        data={
            "request_ids": [str(i) for i in chosen],
            "assignee_id": str(licensing_staff.id),
            "filters": carried,
        },
    )
    assert done.status_code == 302
    assert done.headers["Location"] == "/console/permissions/?sort=use_from&page=2"
    back = _queue(client, done.headers["Location"])
    assert _row_ids(back) == by_first_day[3:6]
    # Refused (no assignee chosen), the same page is drawn again with the choice kept.
    refused = client.post(
        "/console/permissions/assign",
        data={"request_ids": [str(chosen[0])], "assignee_id": "", "filters": carried},
    )
    assert refused.status_code == 422
    again = refused.get_data(as_text=True)
    assert _row_ids(again) == by_first_day[3:6]
    assert "page 2 of 3" in again


def test_under_the_ending_filter_a_refused_sort_names_the_options_as_shown(
    app: Flask,
    submit: Submit,  # noqa: F811
    signed_in: Callable[..., FlaskClient],
    licensing_staff: Any,
) -> None:
    # The option read "Grant ending soonest first", the message "Decision due
    # soonest first".
    today = calendar.office_date(utcnow())
    grant, _ = submit(requester_email="a@x.example")
    services.approve(grant.id, OFFICE, valid_until=today + timedelta(days=20))
    client = signed_in(app.test_client(), licensing_staff)
    refused = _queue(client, "/console/permissions/?ending=1&sort=start", status=422)
    assert (
        "Sort takes one of: Grant ending soonest first, First day of the use, earliest first;"
        in html.unescape(refused)
    )
    assert "Decision due soonest first" not in refused
    assert '<option value="due" selected>Grant ending soonest first</option>' in refused
    assert _row_ids(refused) == []
    # Without it, the default reads as its option does there.
    plain = _queue(client, "/console/permissions/?sort=start", status=422)
    assert "Sort takes one of: Decision due soonest first, First day" in html.unescape(plain)


def test_the_vendors_list_of_requests_pages_too_its_own_only(
    app: Flask,
    vendor: Any,
    signed_in: Callable[..., FlaskClient],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The portal's list of the organization's requests listed every one on one page.
    organization = vendor.organization
    own = [
        send_routed(
            routed_use(organization.id, organization.legal_name, application_id=4200 + index)
        ).reference
        for index in range(5)
    ]
    other = factories.make_organization(db.session(), legal_name="Harborlight Press")
    db.session().flush()
    foreign = send_routed(routed_use(other.id, other.legal_name, application_id=4300)).reference
    db.session().commit()
    monkeypatch.setattr(permission_views, "REQUESTS_PER_PAGE", 2)
    client = signed_in(app.test_client(), vendor)
    newest_first = own[::-1]
    seen, _ = walk_pages(
        client, "/portal/permissions/", r'<a href="/portal/permissions/\d+">([^<]+)</a>'
    )
    assert seen == newest_first
    assert foreign not in seen
    last = _queue(client, "/portal/permissions/?page=9")
    assert "Permission requests 5\u20135 of 5 \u00b7 page 3 of 3" in last
    assert _link(last, "prev") == "/portal/permissions/?page=2"
