"""Round 53: a teacher's request and the office's queue walked again in Chromium
(`tests/browser/test_permissions_teacher_walk.py`); what the walk found, held here
over the test client and the real services."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import date, timedelta
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlsplit

from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import calendar, db
from licensing.calendar import day_text
from licensing.db import utcnow
from licensing.permissions import services
from licensing.permissions.models import PermissionRequest
from tests.integration.permissions.conftest import (
    OFFICE,
    config_changes,  # noqa: F401 - the fixture (the form's rate limit off)
    count,
    request_fields,
    request_input,
    routed_use,
    send_routed,
    submit,  # noqa: F401 - the fixture
)
from tests.support.pages import without_time_tags

Submit = Callable[..., tuple[PermissionRequest, str]]


def _one_line(text: str) -> str:
    return " ".join(html.unescape(without_time_tags(text)).split())


def _today() -> date:
    return calendar.office_date(utcnow())


def test_the_form_says_a_wrong_term_with_the_other_problems_in_one_sending(
    client: FlaskClient,
) -> None:
    # The days were checked only once every other field was right: a teacher who
    # typed "sixty" and swapped the days corrected the audience, sent the form again,
    # and only then read that the last day came before the first.
    today = _today()
    sent = client.post(
        "/permissions/request",
        data=request_fields(
            audience_size="sixty",
            use_from=(today + timedelta(days=50)).isoformat(),
            use_until=(today + timedelta(days=20)).isoformat(),
        ),
    )
    assert sent.status_code == 422
    page = _one_line(sent.get_data(as_text=True))
    assert "Give the audience size as a whole number." in page
    assert "The last day must be on or after the first day." in page
    assert 'id="use_until-error"' in page
    assert count(PermissionRequest) == 0


def test_a_first_day_gone_by_is_said_beside_a_missing_name(client: FlaskClient) -> None:
    today = _today()
    sent = client.post(
        "/permissions/request",
        data=request_fields(
            requester_name="",
            use_from=(today - timedelta(days=3)).isoformat(),
            use_until=(today + timedelta(days=20)).isoformat(),
        ),
    )
    assert sent.status_code == 422
    page = _one_line(sent.get_data(as_text=True))
    assert "The first day has passed" in page
    assert 'id="use_from-error"' in page
    assert 'id="requester_name-error"' in page
    assert count(PermissionRequest) == 0


class _Filled(HTMLParser):
    """A form's values by field id: an input's value, a textarea's text, a select's
    chosen option."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, str] = {}
        self._in: str | None = None
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        given = dict(attrs)
        if tag == "input" and given.get("id"):
            self.values[str(given["id"])] = given.get("value") or ""
        elif tag == "textarea":
            self._in = given.get("id")
            self.values[str(self._in)] = ""
        elif tag == "select":
            self._select = given.get("id")
            self.values[str(self._select)] = ""
        elif tag == "option" and self._select and "selected" in given:
            self.values[self._select] = given.get("value") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea":
            self._in = None
        elif tag == "select":
            self._select = None

    def handle_data(self, data: str) -> None:
        if self._in:
            self.values[self._in] += data


def _filled(page: str) -> dict[str, str]:
    parser = _Filled()
    parser.feed(page)
    return parser.values


def _ask_again_link(client: FlaskClient, token: str) -> str:
    status = client.get(f"/permissions/status/{token}").get_data(as_text=True)
    found = re.search(r'id="ask-again">.*?href="([^"]+)"', status, re.S)
    assert found is not None, "the grant's page offers no new request"
    return html.unescape(found.group(1))


def test_a_grant_s_new_request_opens_filled_in_with_the_whole_request_but_its_term(
    client: FlaskClient,
    submit: Submit,  # noqa: F811
) -> None:
    # "From 60 days before it, your request's status page sends one, the form filled
    # in with this request", said the grant letter and email: the link filled in the
    # type of institution, medium, audience and description, and the teacher typed
    # their name, address, institution, role, purpose and the content again.
    today = _today()
    request, token = submit(
        duration="Spring term",
        use_from=today + timedelta(days=10),
        use_until=today + timedelta(days=100),
    )
    services.approve(request.id, OFFICE, valid_from=today, valid_until=today + timedelta(days=40))
    link = _ask_again_link(client, token)
    assert parse_qs(urlsplit(link).query) == {"again": [token]}
    form = client.get(link).get_data(as_text=True)
    values = _filled(form)
    given = request_fields()
    for name in (
        "requester_name",
        "requester_email",
        "institution",
        "role",
        "organization_type",
        "purpose",
        "purpose_detail",
        "content_requested",
        "medium",
        "audience_size",
    ):
        assert values[name].strip() == given[name], name
    # The next use's term is the requester's to give; the attestation is given anew.
    assert values["duration"] == values["use_from"] == values["use_until"] == ""
    assert 'id="noncommercial" name="noncommercial" type="checkbox" value="y" checked' not in form
    words = _one_line(form)
    assert f"filled in with your granted request {request.reference}" in words
    until = day_text(today + timedelta(days=40))
    assert f"the permission you hold runs until {until} either way" in words

    next_term = today + timedelta(days=45), today + timedelta(days=150)
    sent = client.post(
        "/permissions/request",
        data=request_fields(
            duration="Autumn term",
            use_from=next_term[0].isoformat(),
            use_until=next_term[1].isoformat(),
        ),
    )
    assert sent.status_code == 302
    newest = db.session().scalars(select(PermissionRequest).order_by(PermissionRequest.id)).all()
    assert len(newest) == 2
    assert (newest[1].use_from, newest[1].use_until) == next_term
    assert newest[0].state == "approved"  # the permission held is untouched


def test_a_routed_grant_s_new_request_keeps_the_use_s_suggestions(
    client: FlaskClient, vendor: Any
) -> None:
    # A routed use's requester and content are its application's: its link stays the
    # suggestions it was (and carries no status link).
    request = send_routed(
        routed_use(
            vendor.organization_id,
            "Bluefin",
            requester_email=vendor.email,
            requester_user_id=vendor.id,
            term_start=_today(),
            term_end=_today() + timedelta(days=20),
        )
    )
    services.approve(request.id, OFFICE)
    link = _ask_again_link(client, services.status_token(request))
    query = parse_qs(urlsplit(link).query)
    assert "again" not in query
    assert query["medium"] == ["print"]


def _console_page(client: FlaskClient, request_id: int) -> str:
    response = client.get(f"/console/permissions/{request_id}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_the_request_page_names_the_requester_s_other_requests_and_what_was_decided(
    client: FlaskClient,
    signed_in: Callable[..., Any],
    licensing_staff: Any,
    submit: Submit,  # noqa: F811
) -> None:
    # A teacher's second course, or a new request after a commercial use was refused:
    # the request's page said nothing of what the office had decided for them before.
    signed_in(client, licensing_staff)
    today = _today()
    first, _ = submit(purpose_detail="Slides for unit 4.")
    first_page = _one_line(_console_page(client, first.id))
    assert "None: this is the first request from lena.ortiz@cedar-ridge.example" in first_page
    services.approve(first.id, OFFICE, valid_from=today, valid_until=today + timedelta(days=90))
    refused, _ = submit(purpose="exam_preparation", purpose_detail="A review book sold in store.")
    services.deny(refused.id, "A book sold in a store is commercial.", OFFICE)
    # Never confirmed (anyone may type an address), and another teacher's: not hers.
    services.submit_request(request_input(purpose_detail="Never confirmed."))
    stranger, _ = submit(requester_email="ivo.marsh@cedar-ridge.example")
    second, _ = submit(requester_email="Lena.Ortiz@Cedar-Ridge.example", duration="Autumn term")

    page = _console_page(client, second.id)
    others = _one_line(page.split('id="other-requests"', 1)[1].split("</table>", 1)[0])
    assert first.reference in others
    assert f"{today.isoformat()} to {(today + timedelta(days=90)).isoformat()}" in others
    assert "Slides for unit 4." in others
    assert refused.reference in others
    assert "A review book sold in store." in others
    assert others.index(refused.reference) < others.index(first.reference)  # newest first
    assert "approved" in others
    assert "denied" in others
    assert stranger.reference not in page
    assert "Never confirmed." not in page


def test_the_requester_s_other_requests_are_the_newest_ten_and_the_queue_has_them_all(
    client: FlaskClient,
    signed_in: Callable[..., Any],
    licensing_staff: Any,
    submit: Submit,  # noqa: F811
) -> None:
    signed_in(client, licensing_staff)
    made = [submit(purpose_detail=f"Course number {n}.")[0] for n in range(12)]
    newest = made[-1]
    page = _console_page(client, newest.id)
    others = page.split('id="other-requests"', 1)[1].split("<h2", 1)[0]
    assert [r.reference in others for r in made[:-1]] == [False] + [True] * 10
    words = _one_line(others)
    assert "The newest 10 of 11:" in words
    found = re.search(r'href="([^"]+)">every request from', others)
    assert found is not None
    queue = _one_line(client.get(html.unescape(found.group(1))).get_data(as_text=True))
    assert all(r.reference in queue for r in made)
