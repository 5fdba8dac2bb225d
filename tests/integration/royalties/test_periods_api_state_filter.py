"""api64: the API's list of an agreement's royalty periods takes `state`, as the
console's royalty queue does: a period's own state, `to_file`, or `owing` (filed, and
something still to pay on its invoices; periods62 gave it to the portal's list and the
queue alone). It is chosen as the pages choose it, refused as the other lists refuse a
filter, paged and counted after it, and a vendor reads only its own organization's.

The year is docs/api.md's worked example: the first quarter filed and paid, the
second filed, amended down and 3,100.00 still to pay, the third to file, the fourth
to come."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import time_machine
from flask.testing import FlaskClient

from licensing.agreements.models import Agreement
from licensing.billing import services as billing
from licensing.royalties.services import Filing
from tests.integration.royalties.conftest import AFTER, SMALL_SOFTWARE, a_year_with_an_amendment
from tests.support import factories
from tests.support.openapi import answered_as_documented, served_document

FileReport = Callable[..., Filing]
LIST = "/api/v1/agreements/{agreement_id}/royalty-reports"
# The third quarter, due 2027-10-30, is overdue by then; the fourth ends 2027-12-31.
MID_NOVEMBER = datetime(2027, 11, 15, 15, 0, tzinfo=UTC)
Q1, Q2, Q3, Q4 = "2027-01-01", "2027-04-01", "2027-07-01", "2027-10-01"


def _url(agreement: Agreement, query: str = "") -> str:
    return LIST.format(agreement_id=agreement.id) + (f"?{query}" if query else "")


def _starts(periods: list[dict[str, Any]]) -> list[str]:
    return [period["period"]["start"] for period in periods]


def _words(response: Any) -> str:
    text = html.unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))
    return " ".join(text.split())


def test_the_periods_still_owed_on_are_those_the_portal_and_the_queue_list_as_owing(
    client: FlaskClient,
    signed_in: Callable[..., FlaskClient],
    vendor: Any,
    billing_staff: Any,
    active_agreement: Any,
    file_report: FileReport,
) -> None:
    agreement = active_agreement(vendor, SMALL_SOFTWARE)
    _paid, typoed, _credit = a_year_with_an_amendment(vendor, agreement, file_report)
    document = served_document(client)
    with time_machine.travel(AFTER[3], tick=False):
        every = client.get(_url(agreement), headers=factories.bearer(vendor)).get_json()
        # Before: a 422, "query.state": ["Unknown field."].
        owing = client.get(_url(agreement, "state=owing"), headers=factories.bearer(vendor))
        staff = client.get(_url(agreement, "state=owing"), headers=factories.bearer(billing_staff))
        portal = _words(signed_in(client, vendor).get("/portal/royalty-reports?state=owing"))
        queue = _words(signed_in(client, billing_staff).get("/console/royalty-reports?state=owing"))
    listed = answered_as_documented(document, "get", LIST, owing)
    assert _starts(listed) == [Q2]
    assert owing.headers["X-Total-Count"] == "1"
    assert staff.get_json() == listed
    # Each period as the whole list gives it; those left out owe nothing.
    assert listed == [period for period in every if period["period"]["start"] == Q2]
    assert listed[0]["balance_due"] == "3100.00"
    assert [p["balance_due"] for p in every if p["period"]["start"] != Q2] == ["0.00"] * 3
    # The pages list the same one period.
    for page in (portal, queue):
        assert f"{agreement.number} 2027-04-01 to 2027-06-30" in page
        assert f"{agreement.number} 2027-01-01 to 2027-03-31" not in page

    # Paid in full, it owes nothing: the filter lists nothing, and says so in its count.
    with time_machine.travel(AFTER[3], tick=False):
        billing.record_offline_payment(
            typoed.id,
            method="wire",
            amount=Decimal("3100.00"),
            reference="W-2",
            actor=factories.billing_clerk(),
        )
        settled = client.get(_url(agreement, "state=owing"), headers=factories.bearer(vendor))
    assert (settled.status_code, settled.get_json()) == (200, [])
    assert settled.headers["X-Total-Count"] == "0"


def test_each_state_of_the_queue_narrows_the_list_to_the_periods_in_it(
    client: FlaskClient, vendor: Any, active_agreement: Any, file_report: FileReport
) -> None:
    agreement = active_agreement(vendor, SMALL_SOFTWARE)
    a_year_with_an_amendment(vendor, agreement, file_report)
    headers = factories.bearer(vendor)
    expected = {
        AFTER[3]: {
            "upcoming": [Q4],
            "due": [Q3],
            "overdue": [],
            "submitted": [Q1, Q2],
            "to_file": [Q3],
            "owing": [Q2],
        },
        MID_NOVEMBER: {"due": [], "overdue": [Q3], "to_file": [Q3]},
    }
    for day, states in expected.items():
        with time_machine.travel(day, tick=False):
            every = client.get(_url(agreement), headers=headers).get_json()
            for state, starts in states.items():
                answer = client.get(_url(agreement, f"state={state}"), headers=headers)
                assert answer.status_code == 200, (state, answer.get_json())
                listed = answer.get_json()
                assert (day, state, _starts(listed)) == (day, state, starts)
                # Each as the whole list gives it, in the list's order.
                assert listed == [p for p in every if p["period"]["start"] in starts]
                if state in ("upcoming", "due", "overdue", "submitted"):
                    assert {period["state"] for period in listed} <= {state}


def test_the_filter_is_paged_and_counted_after_it_and_its_links_keep_it(
    client: FlaskClient, billing_staff: Any, vendor: Any, active_agreement: Any, file_report: Any
) -> None:
    agreement = active_agreement(vendor, SMALL_SOFTWARE)
    a_year_with_an_amendment(vendor, agreement, file_report)
    headers = factories.bearer(billing_staff)
    with time_machine.travel(AFTER[3], tick=False):
        first = client.get(_url(agreement, "state=submitted&per_page=1"), headers=headers)
        second = client.get(_url(agreement, "state=submitted&per_page=1&page=2"), headers=headers)
    assert first.headers["X-Total-Count"] == second.headers["X-Total-Count"] == "2"
    assert (_starts(first.get_json()), _starts(second.get_json())) == ([Q1], [Q2])
    following = first.headers["Link"].split('rel="next"')[0].rsplit("<", 1)[1]
    assert "state=submitted" in following
    assert "page=2" in following


def test_a_state_it_does_not_take_or_given_twice_is_refused_as_the_invoices_list_refuses_it(
    client: FlaskClient, vendor: Any, active_agreement: Any, file_report: FileReport
) -> None:
    agreement = active_agreement(vendor, SMALL_SOFTWARE)
    headers = factories.bearer(vendor)
    unknown = client.get(_url(agreement, "state=paid"), headers=headers)
    invoices = client.get("/api/v1/invoices?state=owing", headers=headers)
    twice = client.get(_url(agreement, "state=owing&state=due"), headers=headers)
    invoices_twice = client.get("/api/v1/invoices?state=open&state=paid", headers=headers)
    assert unknown.status_code == invoices.status_code == 422
    assert unknown.mimetype == invoices.mimetype == "application/problem+json"
    assert unknown.get_json()["title"] == invoices.get_json()["title"] == "Invalid input"
    assert unknown.get_json()["errors"] == {
        "query.state": ["Must be one of: upcoming, due, overdue, submitted, to_file, owing."]
    }
    assert twice.status_code == invoices_twice.status_code == 400
    assert twice.mimetype == "application/problem+json"
    assert twice.get_json()["errors"] == {
        "query.state": ["Give state once: it takes one value, and it was given 2 times."]
    }
    assert set(invoices_twice.get_json()["errors"]) == {"query.state"}


def test_another_organizations_vendor_finds_nothing_and_a_caller_without_a_token_is_refused(
    client: FlaskClient,
    vendor: Any,
    other_vendor: Any,
    active_agreement: Any,
    file_report: FileReport,
) -> None:
    """Every signed-in role may read an agreement's periods (its vendor users, and staff
    of every role): a vendor of another organization is told the agreement is not
    found, filtered or not, and a caller without a token is refused before the filter
    is read."""
    agreement = active_agreement(vendor, SMALL_SOFTWARE)
    a_year_with_an_amendment(vendor, agreement, file_report)
    with time_machine.travel(AFTER[3], tick=False):
        own = client.get(_url(agreement, "state=owing"), headers=factories.bearer(vendor))
        other = client.get(_url(agreement, "state=owing"), headers=factories.bearer(other_vendor))
        anonymous = client.get(_url(agreement, "state=owing"))
        anonymous_unknown = client.get(_url(agreement, "state=paid"))
    assert _starts(own.get_json()) == [Q2]
    assert other.status_code == 404
    assert other.mimetype == "application/problem+json"
    assert agreement.number not in other.get_data(as_text=True)
    assert anonymous.status_code == anonymous_unknown.status_code == 401
