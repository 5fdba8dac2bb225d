"""The shared pager's links (round 48): built from the request's path escaped once, by
the pager itself, on pages and in the API's `Link` header alike; before, Flask's
unescaped `request.path` gave `/console/jobs/invoices overdue?page=2` unless the
caller passed a path of its own, and the API's `base_url` left `%` and non-ASCII
letters as they were."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import flask
import pytest
from flask import Flask
from flask.testing import FlaskClient

from licensing import db
from licensing.api.base import page_headers
from licensing.web import paging
from tests.support import factories

SignIn = Callable[..., FlaskClient]

# A path that needs escaping: a space, a `%` (which must not read as an escape) and
# a letter outside ASCII, as the browser sends them.
ESCAPED = "/invoices%20overdue%25%E2%9C%93"


def test_the_pagers_links_escape_a_path_that_needs_it_on_a_page_and_on_the_api(
    app: Flask,
) -> None:
    with app.test_request_context(f"/console/jobs{ESCAPED}?q=a+b&page=3"):
        assert flask.request.path == "/console/jobs/invoices overdue%\u2713"  # as Flask gives it
        page = paging.page_of(list(range(120)))
        assert page.next_url is None
        assert page.number == 3
        assert page.previous_url == f"/console/jobs{ESCAPED}?q=a+b&page=2"
        assert page.url(1) == f"/console/jobs{ESCAPED}?q=a+b"
    with app.test_request_context(f"/api/v1/jobs{ESCAPED}/runs?per_page=2&page=2"):
        link = page_headers(2, 2, 5)["Link"]
    base = f"http://localhost/api/v1/jobs{ESCAPED}/runs"
    assert link == (
        f'<{base}?per_page=2&page=1>; rel="first", '
        f'<{base}?per_page=2&page=3>; rel="last", '
        f'<{base}?per_page=2&page=1>; rel="prev", '
        f'<{base}?per_page=2&page=3>; rel="next"'
    )
    assert link.isascii()


def test_the_pagers_links_follow_the_script_root_the_app_is_mounted_at(app: Flask) -> None:
    with app.test_request_context(
        f"/console/jobs{ESCAPED}", base_url="http://localhost/licensing office"
    ):
        assert paging.page_of(list(range(60))).next_url == (
            f"/licensing%20office/console/jobs{ESCAPED}?page=2"
        )


def test_the_job_runs_pages_links_are_escaped_by_the_pager_on_the_page_and_the_api(
    app: Flask, admin: Any, signed_in: SignIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    from licensing import job_pages, job_runs

    monkeypatch.setattr(job_pages, "RUNS_PER_PAGE", 1)
    for n in range(2):
        job_runs.started("invoices overdue", db.utcnow(), f"a{n:011x}")
    page = signed_in(app.test_client(), admin).get("/console/jobs/invoices%20overdue")
    assert 'href="/console/jobs/invoices%20overdue?page=2" rel="next"' in page.get_data(
        as_text=True
    )
    answer = app.test_client().get(
        "/api/v1/jobs/invoices%20overdue/runs?per_page=1", headers=factories.bearer(admin)
    )
    assert (
        '<http://localhost/api/v1/jobs/invoices%20overdue/runs?per_page=1&page=2>; rel="next"'
        in answer.headers["Link"]
    )


# --- every list page's pager: its links as before round 48 --------------------------


@pytest.fixture
def pages_built(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, str, Any]]:
    """Each pager a request builds: (its endpoint, its route's own path as `url_for`
    writes it, the request's path as Flask gives it, the page)."""
    built: list[tuple[str, str, str, Any]] = []

    @dataclasses.dataclass(frozen=True)
    class Recorded(paging.Page):  # type: ignore[type-arg]
        def __post_init__(self) -> None:
            endpoint = flask.request.endpoint or ""
            own = flask.url_for(endpoint, **(flask.request.view_args or {}))
            built.append((endpoint, own, flask.request.path, self))

    monkeypatch.setattr(paging, "Page", Recorded)
    return built


def _list_pages(app: Flask, prefix: str) -> list[str]:
    """Every page under `prefix` that a GET without arguments in its path opens,
    downloads and exports left out (they draw no pager)."""
    return sorted(
        rule.rule
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith(prefix)
        and "GET" in (rule.methods or ())
        and not rule.arguments
        and not any(word in rule.rule for word in ("pdf", "export", "download", "csv", "xlsx"))
    )


def test_every_list_pages_pager_links_to_its_own_path_with_its_filters_as_before(
    app: Flask, signed_in: SignIn, pages_built: list[tuple[str, str, str, Any]]
) -> None:
    session = db.session()
    staff = factories.make_staff(session, roles=("admin", "licensing", "billing"))
    vendor = factories.make_vendor(session)
    opened = []
    # Besides the lists under each prefix, the pages whose path has an argument.
    walks = (
        (staff, [*_list_pages(app, "/console"), "/console/jobs/outbox%20send"]),
        (vendor, [*_list_pages(app, "/portal"), "/organization"]),
    )
    for user, paths in walks:
        client = signed_in(app.test_client(), user)
        for path in paths:
            response = client.get(f"{path}?page=2&zeta=x+y")
            opened.append((path, response.status_code))
    endpoints = {endpoint for endpoint, *_rest in pages_built}
    # The walk reaches the lists a page at a time (20 in round 48; more join as
    # they are paged): a pager the walk stopped reaching would fail here.
    assert len(endpoints) >= 20, (sorted(endpoints), opened)
    for endpoint, path, unescaped, page in pages_built:
        # The page's own path, and its query kept: for every list but the job's runs
        # (whose path has a space), `request.path`, as `Page.url` built them before.
        # Round 47's second pager on a page numbers its own argument and leads to its
        # own table (`parameter`, `anchor`: the organization pages' members and
        # invitations).
        kept = list(page.query)
        to = f"#{page.anchor}" if page.anchor else ""
        second = urlencode([*kept, (page.parameter, "2")])
        assert page.url(2) == f"{path}?{second}{to}", endpoint
        assert page.url(1) == (f"{path}?{urlencode(kept)}" if kept else path) + to, endpoint
        if endpoint != "jobs_console.job_runs_page":
            assert path == unescaped, endpoint
