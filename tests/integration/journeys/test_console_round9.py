"""Round 9's console and queue loose ends (docs/journeys.md, "Round 9: console and
queue loose ends"). Each test failed before its fix."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from licensing import calendar, db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import queries
from licensing.agreements import services as agreements
from licensing.agreements.models import Application
from licensing.permissions import services as permissions
from licensing.permissions.models import PermissionRequest
from licensing.words import USE_LABELS
from tests.integration.agreements.conftest import NOW, STAFF_USE
from tests.integration.permissions.conftest import submit  # noqa: F401 - the fixture
from tests.support import factories
from tests.support.factories import bearer
from tests.support.markup import duplicate_ids
from tests.support.pages import text_of

SignIn = Callable[..., FlaskClient]


# --- 1. the Exports page in its own words ---------------------------------------------------


def _options(page: str, select: str) -> list[tuple[str, str]]:
    """The (value, text) of each option of the select `select`."""
    found = re.search(rf'<select id="{select}"[^>]*>(.*?)</select>', page, re.S)
    assert found, select
    return [
        (value, html.unescape(text))
        for value, text in re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', found[1])
    ]


def test_the_exports_use_filter_offers_each_use_in_words(
    client: FlaskClient, signed_in: SignIn, billing_staff: Any
) -> None:
    # The dropdown read "distribution", "derivative work": the stored names.
    page = signed_in(client, billing_staff).get("/console/exports").get_data(as_text=True)
    offered = dict(_options(page, "use"))
    for use, words in USE_LABELS.items():
        assert offered[use] == words


def test_the_exports_page_refuses_a_filter_in_its_labels_and_the_api_in_its_parameters(
    client: FlaskClient, signed_in: SignIn, billing_staff: Any
) -> None:
    # "The payments export does not filter by use (it takes as_of, by, ...)": the
    # API's dataset and parameter names, on a page whose form says "Payments",
    # "Use" and "Dates apply to".
    staff = signed_in(client, billing_staff)
    page = staff.get("/console/exports?dataset=payments&use=development&by=someday")
    assert page.status_code == 422
    text = text_of(page)
    assert (
        "The Payments export does not filter by Use (it takes From, To, Dates apply to, "
        "Organization, State, Currency)." in text
    )
    assert (
        "Must be one of: Paid date, Day returned (reversals), Day recorded or changed "
        "(nightly pulls)." in text
    )
    assert "payments export" not in text
    assert "filter by use" not in text
    # A use it takes, misspelt: the uses as the options say them.
    lines = text_of(staff.get("/console/exports?dataset=invoice_lines&use=distributing"))
    assert f"Must be one of: {USE_LABELS['development']}; " in lines
    assert "derivative_work" not in lines
    formats = text_of(staff.get("/console/exports?dataset=payments&format=pdf"))
    assert "Must be one of: CSV, JSON Lines, XLSX (spreadsheet)." in formats
    unknown = text_of(staff.get("/console/exports?dataset=payment"))
    assert "There is no 'payment' export; there are: Invoices, Invoice lines," in unknown
    # The API keeps its words: its caller wrote the parameters.
    api = client.get(
        "/api/v1/exports/payments",
        query_string={"as_of": "2027-01-31"},
        headers=bearer(billing_staff),
    )
    assert api.status_code == 422
    assert (
        "The payments export does not filter by as_of (it takes from, to, by,"
        in (api.get_json()["errors"]["query.as_of"][0])
    )


# --- 2. the staff queue's uses in words -----------------------------------------------------


def test_the_staff_queue_says_each_use_in_words_as_the_application_pages_do(
    apply: Callable[..., Application],
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    licensing_staff: Any,
) -> None:
    # The Uses column read "Fernhill Code Feed · distribution, Data file".
    application = apply(vendor, STAFF_USE)
    staff = signed_in(client, licensing_staff)
    queue = text_of(staff.get("/console/applications"))
    assert f"Fernhill Code Feed · {USE_LABELS['distribution']}; data file" in queue
    assert "· distribution," not in queue
    # The application's table of proposed uses says it the same way.
    review = text_of(staff.get(f"/console/applications/{application.id}"))
    assert f"{USE_LABELS['distribution']}; data file for provider users" in review


# --- 3. a sort or state the filter does not offer -------------------------------------------


@pytest.mark.parametrize(
    ("who", "url", "field", "said"),
    [
        (
            "licensing_staff",
            "/console/applications?sort=bogus",
            "sort",
            "Sort takes one of: Oldest first, Newest first,",
        ),
        (
            "licensing_staff",
            "/console/applications?state=submitted&state=bogus",
            "state",
            "State takes any of: draft, submitted, returned to the vendor, in review,",
        ),
        (
            "licensing_staff",
            "/console/permissions/?state=bogus",
            "state",
            "State takes one of: open,",
        ),
        (
            "licensing_staff",
            "/console/royalty-reports?state=bogus",
            "state",
            "State takes one of: upcoming, due, overdue, submitted, due or overdue, "
            "owing: filed, not yet paid in full;",
        ),
        ("billing_staff", "/console/invoices?state=bogus", "state", "State takes one of: draft,"),
        (
            "licensing_staff",
            "/console/agreements?state=active&state=bogus",
            "state",
            "State takes any of: issued, active,",
        ),
        (
            "admin",
            "/console/outbox?state=bogus",
            "state",
            "State takes one of: queued, sent, failed;",
        ),
    ],
)
def test_a_list_refuses_a_sort_or_state_its_filter_does_not_offer(
    request: pytest.FixtureRequest,
    client: FlaskClient,
    signed_in: SignIn,
    who: str,
    url: str,
    field: str,
    said: str,
) -> None:
    # `sort=bogus` or `state=bogus` showed the default list without a word.
    page = signed_in(client, request.getfixturevalue(who)).get(url)
    assert page.status_code == 422, url
    text = text_of(page)
    assert said in text, text
    assert "the link gave “bogus”" in text
    summary = text.split("Please correct the filters", 1)[1]
    assert said in summary.split(said, 1)[0] + said  # listed in the summary
    assert "Nothing is listed until the filters above are corrected." in text
    markup = page.get_data(as_text=True)
    assert f'<a href="#{field}">' in markup  # the summary links to the field
    assert f'id="{field}-error"' in markup  # the field's own message
    assert re.search(rf'aria-invalid="true"[^>]*aria-describedby="{field}-error"', markup)
    assert duplicate_ids(markup) == []


def test_the_vendor_list_refuses_a_state_no_application_has(
    apply: Callable[..., Application], client: FlaskClient, signed_in: SignIn, vendor: Any
) -> None:
    application = apply(vendor, STAFF_USE)
    portal = signed_in(client, vendor)
    page = portal.get("/portal/applications?state=bogus")
    assert page.status_code == 422
    text = text_of(page)
    assert "State takes any of: draft, submitted," in text
    assert "the link gave “bogus”" in text
    assert application.reference not in text
    assert "show every application" in text
    listed = portal.get("/portal/applications?state=submitted")
    assert listed.status_code == 200
    assert application.reference in text_of(listed)


def test_the_api_lists_refuse_the_same_values(
    client: FlaskClient, licensing_staff: Any, billing_staff: Any
) -> None:
    # The pages now answer as the API always did: a 422 naming the parameter.
    for url, who, name in [
        ("/api/v1/applications?sort=bogus", licensing_staff, "query.sort"),
        ("/api/v1/applications?state=bogus", licensing_staff, "query.state"),
        ("/api/v1/permission-requests?state=bogus", licensing_staff, "query.state"),
        ("/api/v1/invoices?state=bogus", billing_staff, "query.state"),
    ]:
        answer = client.get(url, headers=bearer(who))
        assert answer.status_code == 422, url
        assert any(key.startswith(name) for key in answer.get_json()["errors"]), url


# --- 4. the Assignee filter and reviewers who left ------------------------------------------


def test_the_assignee_filter_offers_a_deactivated_reviewer_who_had_applications(
    apply: Callable[..., Application],
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    licensing_staff: Any,
    admin: Any,
) -> None:
    # A reviewer deactivated after deciding an application kept it (decided ones
    # keep their reviewer), but the filter offered only active reviewers, so their
    # id (an old bookmark, or their own applications) was refused as nobody's.
    reviewer = factories.make_staff(db.session(), roles=("licensing",))
    name = reviewer.full_name
    application = apply(vendor, STAFF_USE)
    as_reviewer = Actor.of(accounts.principal_for(reviewer))
    agreements.assign(application.id, reviewer.id, as_reviewer)
    agreements.reject(application.id, "Not a licensable use", as_reviewer, now=NOW)
    accounts.set_user_active(reviewer.id, False, Actor.of(accounts.principal_for(admin)))
    staff = signed_in(client, licensing_staff)
    queue = staff.get("/console/applications")
    offered = dict(_options(queue.get_data(as_text=True), "assignee"))
    assert offered[str(reviewer.id)] == f"{name} (deactivated)"
    assert offered[str(licensing_staff.id)] == licensing_staff.full_name
    theirs = staff.get(f"/console/applications?assignee={reviewer.id}&state=rejected")
    assert theirs.status_code == 200
    assert application.reference in text_of(theirs)
    # Someone who never had an application, deactivated, is not offered.
    gone = factories.make_staff(db.session(), roles=("licensing",))
    accounts.set_user_active(gone.id, False, Actor.of(accounts.principal_for(admin)))
    assert staff.get(f"/console/applications?assignee={gone.id}").status_code == 422
    # Their applications still list under them, where the bulk assignment (drawn
    # with the rows) offers only those who may be assigned now.
    bulk = theirs.get_data(as_text=True).split('name="assignee_id"', 1)[1]
    assert f'value="{reviewer.id}"' not in bulk
    assert f'value="{licensing_staff.id}"' in bulk


# --- 5. who rejected, when, and by when a reconsideration is answered ------------------------


def test_a_rejection_says_who_and_when_and_a_reconsideration_by_when_it_is_answered(
    apply: Callable[..., Application],
    app: Flask,
    signed_in: SignIn,
    vendor: Any,
    licensing_staff: Any,
) -> None:
    # The "Rejected" panel gave the reason alone; "Reconsideration requested" said
    # "The licensing office will answer." with no date.
    staff = Actor.of(accounts.principal_for(licensing_staff))
    rejected = agreements.reject(
        apply(vendor, STAFF_USE).id, "Revenue not evidenced", staff, now=NOW
    )
    vendor_client = signed_in(app.test_client(), vendor)
    staff_client = signed_in(app.test_client(), licensing_staff)
    # Monday 2026-11-02 09:00 at the office.
    rejected_at = "November 2, 2026 at 9:00 AM (US Central time)"
    own = text_of(vendor_client.get(f"/portal/applications/{rejected.id}"))
    assert f"Rejected {rejected_at} by the licensing office: Revenue not evidenced" in own
    assert licensing_staff.email not in own
    console = text_of(staff_client.get(f"/console/applications/{rejected.id}"))
    rejecter = licensing_staff.name_and_email
    assert f"Rejected {rejected_at} by {rejecter}: Revenue not evidenced" in console

    agreements.request_reconsideration(
        rejected.id,
        "Audited accounts are attached.",
        Actor.of(accounts.principal_for(vendor)),
        now=datetime(2026, 11, 4, 15, 0, tzinfo=UTC),  # Wednesday
    )
    # Ten US business days from Wednesday 2026-11-04, Veterans Day (the 11th) a holiday.
    answer_by = "the end of Thursday, November 19, 2026 (US Central time)"
    own = text_of(vendor_client.get(f"/portal/applications/{rejected.id}"))
    assert f"The licensing office will answer by {answer_by}." in own
    assert f"Rejected {rejected_at} by the licensing office" in own
    console = text_of(staff_client.get(f"/console/applications/{rejected.id}"))
    assert f"Answer by {answer_by}." in console

    agreements.deny_reconsideration(
        rejected.id,
        "The accounts are unsigned.",
        staff,
        now=datetime(2026, 11, 9, 16, 30, tzinfo=UTC),
    )
    denied_at = "November 9, 2026 at 10:30 AM (US Central time)"
    own = text_of(vendor_client.get(f"/portal/applications/{rejected.id}"))
    # The denial overwrote `decided_at`: the rejection's own time comes from its
    # history, which records when it was written (not the `now` the test gave).
    rejection = queries.last_step(db.session(), rejected.id, "reject")
    assert rejection is not None
    assert rejection.by == licensing_staff.email
    rejected_at = calendar.moment_text(rejection.at)
    assert f"Rejected {rejected_at} by the licensing office: Revenue not evidenced" in own
    assert (
        f"Reconsideration denied {denied_at} by the licensing office: The accounts are unsigned."
        in own
    )
    console = text_of(staff_client.get(f"/console/applications/{rejected.id}"))
    assert f"Rejected {rejected_at} by {licensing_staff.name_and_email}" in console
    assert f"{denied_at} by {licensing_staff.name_and_email}: The accounts are unsigned." in console
    assert "Answer by" not in console


def test_the_permission_queue_offers_a_deactivated_reviewer_who_decided_requests(
    client: FlaskClient,
    signed_in: SignIn,
    licensing_staff: Any,
    admin: Any,
    submit: Callable[..., tuple[PermissionRequest, str]],  # noqa: F811
) -> None:
    request, _ = submit()
    reviewer = factories.make_staff(db.session(), roles=("licensing",))
    as_reviewer = Actor.of(accounts.principal_for(reviewer))
    permissions.assign([request.id], reviewer.id, as_reviewer)
    permissions.deny(request.id, "The course is sold commercially.", as_reviewer)
    accounts.set_user_active(reviewer.id, False, Actor.of(accounts.principal_for(admin)))
    staff = signed_in(client, licensing_staff)
    page = staff.get(f"/console/permissions/?assignee={reviewer.id}&state=")
    assert page.status_code == 200
    assert request.reference in text_of(page)
    offered = dict(_options(page.get_data(as_text=True), "assignee"))
    assert offered[str(reviewer.id)] == f"{reviewer.full_name} (deactivated)"


def test_the_exports_page_describes_the_invoices_royalty_columns(
    client: FlaskClient, signed_in: SignIn, billing_staff: Any
) -> None:
    """Round 34's walk: a finance clerk reads the datasets table for the invoices
    export's three round-33 columns before changing the nightly pull."""
    page = html.unescape(
        signed_in(client, billing_staff).get("/console/exports").get_data(as_text=True)
    )
    invoices = page.split("<code>invoices</code>", 1)[1].split("</tr>", 1)[0]
    assert "23 columns" in invoices  # schema_version is the file's, said above the table
    columns = [item for item in invoices.split("<li>") if item.startswith("<code>")]
    # Round 51 added the reports' numbers after them; round 53 the refunds sent, last.
    royalty = columns[-6:-1]
    assert [column.split("</code>", 1)[0] for column in royalty] == [
        "<code>royalty_report_id",
        "<code>amends_report_id",
        "<code>amends_invoice_number",
        "<code>royalty_report_number",
        "<code>amends_report_number",
    ]
    assert columns[-1].startswith("<code>amount_refunded</code>")
    assert "(integer): The royalty report a royalty invoice bills" in royalty[0]
    assert "shared by an amendment's invoice (royalty_report_id tells them apart)" in invoices
    assert (
        "(text): For an amendment's royalty invoice: the amended report's invoice" in (royalty[2])
    )
    assert "(text): RR-NNNNNN: the royalty report a royalty invoice bills" in royalty[3]
