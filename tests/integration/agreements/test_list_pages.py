"""Issue 16: the application lists show a page of fifty at a time, say how many
there are, and lead to the pages either side with the filters and order kept;
vendors page through their own organization's applications only; the dashboard
names the oldest applications that wait and counts the rest."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from flask import Flask, url_for
from flask.testing import FlaskClient
from sqlalchemy import update

from licensing import calendar, db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import queries, services
from licensing.agreements.models import Application
from licensing.web.navigation import url_pattern
from tests.integration.agreements.conftest import AUTO_USE, NOW, STAFF_USE
from tests.support import copies

Apply = Callable[..., Application]
DASH = "\N{EN DASH}"  # between the first and last rows shown: "Applications 1 to 50"


def _references(page: str) -> list[str]:
    """The application references the page's tables list, in order."""
    bodies = re.findall(r"<tbody>(.*?)</tbody>", page, re.DOTALL)
    return [found for body in bodies for found in re.findall(r">(APP-\d{6})</a>", body)]


def _link(page: str, rel: str) -> str | None:
    found = re.search(rf'<a href="([^"]+)" rel="{rel}">', page)
    return html.unescape(found.group(1)) if found else None


def _reference(application_id: int) -> str:
    return f"APP-{application_id:06d}"


def _received_one_minute_apart(ids: list[int]) -> None:
    """The n-th of `ids` submitted n minutes before the first: newest first is their order."""
    session = db.session()
    for minutes, application_id in enumerate(ids):
        session.execute(
            update(Application)
            .where(Application.id == application_id)
            .values(submitted_at=NOW - timedelta(minutes=minutes))
        )
    session.commit()


def _get(client: FlaskClient, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response.get_data(as_text=True)


def test_the_queue_shows_fifty_applications_a_page_with_the_count_and_the_next_page(
    staff: FlaskClient,
    vendor: Any,
    apply: Apply,
) -> None:
    first = apply(vendor, STAFF_USE)
    copies.copy_application(db.session(), first.id, 59)

    page_one = _get(staff, "/console/applications")
    assert len(_references(page_one)) == 50
    assert f"Applications 1{DASH}50 of 60 · page 1 of 2" in page_one
    assert _link(page_one, "prev") is None
    assert _link(page_one, "next") == "/console/applications?page=2"

    page_two = _get(staff, "/console/applications?page=2")
    assert len(_references(page_two)) == 10
    assert f"Applications 51{DASH}60 of 60 · page 2 of 2" in page_two
    assert _link(page_two, "prev") == "/console/applications"
    assert _link(page_two, "next") is None
    assert len(set(_references(page_one)) | set(_references(page_two))) == 60


def test_the_queue_s_pages_keep_its_search_filters_and_order(
    staff: FlaskClient,
    vendor: Any,
    apply: Apply,
) -> None:
    first = apply(vendor, STAFF_USE)  # "Fernhill Code Feed": the search leaves it out
    made = copies.copy_application(db.session(), first.id, 70, product="Invented Feed")
    _received_one_minute_apart(made)

    page_one = _get(staff, "/console/applications?q=Invented&state=submitted&sort=newest")
    following = _link(page_one, "next")
    assert following == "/console/applications?q=Invented&state=submitted&sort=newest&page=2"
    page_two = _get(staff, following)

    assert f"Applications 51{DASH}70 of 70" in page_two
    assert _references(page_one) + _references(page_two) == [_reference(i) for i in made]
    assert _link(page_two, "prev") == "/console/applications?q=Invented&state=submitted&sort=newest"


def test_the_count_agrees_with_the_rows_listed_for_every_filter_and_order(
    client: FlaskClient,
    app: Flask,
    signed_in: Callable[..., FlaskClient],
    licensing_staff: Any,
    vendor: Any,
    other_vendor: Any,
    apply: Apply,
) -> None:
    """The pages count without the joins the rows need: the two must still agree."""
    own = [apply(vendor, STAFF_USE) for _ in range(3)]
    apply(vendor, STAFF_USE, submit=False)
    apply(other_vendor, STAFF_USE)
    apply(other_vendor, AUTO_USE)
    services.assign(
        own[0].id, licensing_staff.id, Actor.of(accounts.principal_for(licensing_staff))
    )
    staff = signed_in(client, licensing_staff)
    own_client = signed_in(app.test_client(), vendor)
    other_name = other_vendor.organization.legal_name
    pages = [
        (staff, "/console/applications"),
        (staff, "/console/applications?assignee=me"),
        (staff, "/console/applications?assignee=nobody&sort=assignee"),
        (staff, "/console/applications?q=Scrubber&state=approved&state=submitted"),
        (staff, f"/console/applications?q={other_name}&sort=organization"),
        (staff, "/console/applications?state=draft&state=submitted&sort=amount_high"),
        (own_client, "/portal/applications"),
        (own_client, "/portal/applications?state=draft"),
    ]
    for who, url in pages:
        page = _get(who, url)
        listed = len(_references(page))
        assert listed > 0, url
        assert f"{DASH}{listed} of {listed}" in page, url


def test_a_page_past_the_last_shows_the_last_page(
    staff: FlaskClient,
    vendor: Any,
    apply: Apply,
) -> None:
    first = apply(vendor, STAFF_USE)
    copies.copy_application(db.session(), first.id, 54)
    page = _get(staff, "/console/applications?page=99")
    assert f"Applications 51{DASH}55 of 55 · page 2 of 2" in page
    assert len(_references(page)) == 5


def test_bulk_assignment_returns_to_the_same_page_of_the_queue(
    staff: FlaskClient,
    licensing_staff: Any,
    vendor: Any,
    apply: Apply,
) -> None:
    first = apply(vendor, STAFF_USE)
    made = copies.copy_application(db.session(), first.id, 55)
    response = staff.post(
        "/console/applications/assign",
        data={
            "application_ids": [str(made[-1])],
            "assignee_id": str(licensing_staff.id),
            "filters": "state=submitted&sort=oldest&page=2",
        },
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(
        "/console/applications?state=submitted&sort=oldest&page=2"
    )


def test_a_vendor_pages_through_their_own_organization_s_applications_only(
    client: FlaskClient,
    app: Flask,
    signed_in: Callable[..., FlaskClient],
    vendor: Any,
    other_vendor: Any,
    apply: Apply,
) -> None:
    own = apply(vendor, STAFF_USE)
    own_ids = {own.id, *copies.copy_application(db.session(), own.id, 54)}
    theirs = apply(other_vendor, STAFF_USE)
    their_ids = {theirs.id, *copies.copy_application(db.session(), theirs.id, 60)}

    own_client = signed_in(client, vendor)
    page_one = _get(own_client, "/portal/applications")
    page_two = _get(own_client, _link(page_one, "next") or "")
    assert f"Applications 1{DASH}50 of 55" in page_one
    assert set(_references(page_one) + _references(page_two)) == {_reference(i) for i in own_ids}

    other_client = signed_in(app.test_client(), other_vendor)
    past_the_end = _get(other_client, "/portal/applications?page=3")
    listed = set(_references(past_the_end))
    assert listed
    assert listed <= {_reference(i) for i in their_ids}
    assert "of 61" in past_the_end


def test_a_vendor_s_list_filtered_by_state_keeps_the_filter_on_every_page(
    client: FlaskClient,
    signed_in: Callable[..., FlaskClient],
    vendor: Any,
    apply: Apply,
) -> None:
    submitted = apply(vendor, STAFF_USE)
    copies.copy_application(db.session(), submitted.id, 54)
    draft = apply(vendor, STAFF_USE, submit=False)
    own = signed_in(client, vendor)

    page_one = _get(own, "/portal/applications?state=submitted")
    assert f"Applications 1{DASH}50 of 55" in page_one
    assert _link(page_one, "next") == "/portal/applications?state=submitted&page=2"
    page_two = _get(own, "/portal/applications?state=submitted&page=2")
    assert len(_references(page_two)) == 5
    assert _reference(draft.id) not in _references(page_one) + _references(page_two)
    every = _get(own, "/portal/applications") + _get(own, "/portal/applications?page=2")
    assert f"Applications 51{DASH}56 of 56" in every
    assert _reference(draft.id) in _references(every)


def test_a_vendor_s_list_ignores_the_staff_assignee_filter_like_any_filter_it_does_not_offer(
    client: FlaskClient, signed_in: Callable[..., FlaskClient], vendor: Any, apply: Apply
) -> None:
    own = signed_in(client, vendor)
    submitted, draft = apply(vendor, STAFF_USE), apply(vendor, STAFF_USE, submit=False)
    listed = {_reference(submitted.id), _reference(draft.id)}
    for assignee in ("me", "nobody", "1"):
        page = _get(own, f"/portal/applications?assignee={assignee}")
        assert set(_references(page)) == listed


def test_the_dashboard_names_the_oldest_applications_under_review_and_counts_the_rest(
    client: FlaskClient,
    signed_in: Callable[..., FlaskClient],
    vendor: Any,
    licensing_staff: Any,
    apply: Apply,
) -> None:
    first = apply(vendor, STAFF_USE)
    made = [first.id, *copies.copy_application(db.session(), first.id, 7)]
    _received_one_minute_apart(made)  # the first is the newest, the last the oldest
    returned = apply(vendor, STAFF_USE)
    services.return_for_information(
        returned.id, "Send the revenue", Actor.of(accounts.principal_for(licensing_staff)), now=NOW
    )
    own = signed_in(client, vendor)

    page = _get(own, "/portal/")
    named = [f"{_reference(i)} is being reviewed" for i in made]
    assert all(text in page for text in named[3:])  # the five oldest
    assert not any(text in page for text in named[:3])
    assert f"{returned.reference} needs more information" in page
    assert "3 more applications are being reviewed" in page
    link = re.search(r'<a href="([^"]+)">3 more applications', page)
    assert link is not None
    listed = _references(_get(own, html.unescape(link.group(1))))
    assert sorted(listed) == sorted(_reference(i) for i in made)


def test_the_dashboard_counts_a_single_application_beyond_the_named_ones(
    client: FlaskClient, signed_in: Callable[..., FlaskClient], vendor: Any, apply: Apply
) -> None:
    first = apply(vendor, STAFF_USE)
    copies.copy_application(db.session(), first.id, 5)
    page = _get(signed_in(client, vendor), "/portal/")
    assert "1 more application is being reviewed" in page


def test_the_dashboard_names_only_the_vendor_s_own_waiting_records_with_their_details(
    client: FlaskClient,
    signed_in: Callable[..., FlaskClient],
    vendor: Any,
    other_vendor: Any,
    licensing_staff: Any,
    apply: Apply,
) -> None:
    # Read as columns, not entities: every detail the dashboard shows must still come.
    staff = Actor.of(accounts.principal_for(licensing_staff))
    returned = apply(vendor, STAFF_USE)
    services.return_for_information(returned.id, "Send the revenue", staff, now=NOW)
    draft = apply(vendor, STAFF_USE, submit=False)
    issued = queries.agreement_for_application(db.session(), apply(vendor, AUTO_USE).id)
    theirs = queries.agreement_for_application(db.session(), apply(other_vendor, AUTO_USE).id)
    assert issued is not None
    assert theirs is not None
    their_draft = apply(other_vendor, STAFF_USE, submit=False)

    page = html.unescape(_get(signed_in(client, vendor), "/portal/"))
    assert f"{returned.reference} needs more information" in page
    assert re.search(r"Resubmit by [^<]*: Send the revenue", page)
    assert f"{draft.reference} is a draft" in page
    assert f'href="/portal/applications/{draft.id}"' in page
    assert f"Agreement {issued.number} waits for your acceptance" in page
    assert f'href="/portal/agreements/{issued.id}"' in page
    assert theirs.number not in page
    assert their_draft.reference not in page


def test_review_levels_count_each_application_s_own_day_of_submission(
    app: Flask, vendor: Any, apply: Apply
) -> None:
    first = apply(vendor, STAFF_USE)
    made = [first.id, *copies.copy_application(db.session(), first.id, 2)]
    days_before = (0, 3, 8)
    session = db.session()
    for application_id, days in zip(made, days_before, strict=True):
        session.execute(
            update(Application)
            .where(Application.id == application_id)
            .values(submitted_at=NOW - timedelta(days=days))
        )
    session.commit()
    session.expire_all()
    later = NOW + timedelta(days=20)

    found = [queries.get_application(session, i) for i in made]
    levels = queries.review_levels(found, later, target_days=10)

    for application in found:
        assert application.submitted_at is not None
        expected = calendar.business_days_between(
            calendar.office_date(application.submitted_at), calendar.office_date(later)
        )
        due = calendar.business_deadline(application.submitted_at, levels[made[0]].target_days)
        assert levels[application.id].age_days == expected
        assert levels[application.id].due_at == due
    assert len({level.age_days for level in levels.values()}) == 3


def test_a_url_pattern_builds_the_same_urls_as_url_for(app: Flask) -> None:
    with app.test_request_context():
        pattern = url_pattern("agreements_console.application", "application_id")
        assert pattern is not None
        for application_id in (1, 42, 987654321, 123456789012):
            assert pattern(application_id) == url_for(
                "agreements_console.application", application_id=application_id
            )
        assert url_pattern("no_such.page", "application_id") is None


def test_the_queue_offers_active_licensing_staff_and_admins_by_name_as_assignees(
    app: Flask, licensing_staff: Any, signed_in: Callable[..., FlaskClient]
) -> None:
    from tests.support import factories

    session = db.session()
    admin = factories.make_staff(session, roles=("admin",))
    billing = factories.make_staff(session, roles=("billing",))
    gone = factories.make_staff(session, roles=("licensing",))
    session.execute(update(type(gone)).where(type(gone).id == gone.id).values(is_active=False))
    session.commit()
    names = [reviewer.full_name for reviewer in queries.reviewers(session)]
    assert names == sorted([licensing_staff.full_name, admin.full_name])
    page = signed_in(app.test_client(), licensing_staff).get("/console/applications")
    options = re.findall(
        r'<option value="(\d+)"[^>]*>([^<]+)</option>', page.get_data(as_text=True)
    )
    offered = {int(user_id) for user_id, _name in options}
    assert {licensing_staff.id, admin.id} <= offered
    assert billing.id not in offered
    assert gone.id not in offered


def test_the_queue_filtered_to_me_lists_only_the_applications_assigned_to_me(
    staff: FlaskClient,
    vendor: Any,
    licensing_staff: Any,
    apply: Apply,
) -> None:
    mine, other = apply(vendor, STAFF_USE), apply(vendor, STAFF_USE)
    services.assign(mine.id, licensing_staff.id, Actor.of(accounts.principal_for(licensing_staff)))
    page = _get(staff, "/console/applications?assignee=me")
    assert _references(page) == [mine.reference]
    assert other.reference not in page
