"""Round 36: what the licensing office's week found, as staff read it on the console."""

from __future__ import annotations

import html
import io
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import time_machine
from flask import Flask

from licensing import db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import queries
from licensing.agreements import services as agreement_services
from licensing.agreements.models import Application
from tests.integration.agreements.conftest import AUTO_USE, NOW, STAFF_USE
from tests.integration.permissions.conftest import (
    submit,  # noqa: F401 - the fixture
)
from tests.integration.pricing.conftest import card_document
from tests.support.agreements import make_active_agreement
from tests.support.pages import without_time_tags

Apply = Callable[..., Application]


def _flash(page: str) -> str:
    found = re.search(r'<div class="flash[^"]*"[^>]*>(.*?)</div>', page, re.S)
    assert found, page[:3000]
    # Its days in words (round 58): each <time> read as its words.
    words = without_time_tags(found.group(1))
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", words)).split())


def test_a_decision_says_whom_the_vendor_email_went_to_and_what_it_asks(
    apply: Apply, vendor: Any, licensing_staff: Any, signed_in: Any, app: Flask
) -> None:
    returned, approved, rejected = (apply(vendor, STAFF_USE) for _ in range(3))
    name = vendor.organization.legal_name
    staff = signed_in(app.test_client(), licensing_staff)

    page = staff.post(
        f"/console/applications/{returned.id}/review",
        data={"action": "return", "reason": "Send last year's revenue statement."},
        follow_redirects=True,
    ).get_data(as_text=True)
    told = _flash(page)
    assert told.startswith("Returned to the vendor for information.")
    assert f"We emailed {name} at {vendor.email} your question: they have until the end of" in told
    assert "to answer and resubmit." in told

    page = staff.post(
        f"/console/applications/{approved.id}/approve", follow_redirects=True
    ).get_data(as_text=True)
    told = _flash(page)
    assert re.match(r"Approved: the agreement is issued as CPT-\d{4}-\d{6}\. ", told), told
    assert f"We emailed {name} at {vendor.email} to read and accept it." in told

    page = staff.post(
        f"/console/applications/{rejected.id}/review",
        data={"action": "reject", "reason": "The product resells the content."},
        follow_redirects=True,
    ).get_data(as_text=True)
    told = _flash(page)
    assert told.startswith("The application is rejected. ")
    assert f"We emailed {name} at {vendor.email} the reason: they may ask" in told
    assert "for reconsideration until" in told


def _fact(page: str, term: str) -> str:
    found = re.search(rf"<dt>{term}</dt><dd[^>]*>(.*?)</dd>", page, re.S)
    assert found, page[:3000]
    # Its days in words (round 58): each <time> read as its words.
    words = without_time_tags(found.group(1))
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", words)).split())


def test_the_application_page_says_its_age_against_the_service_level(
    apply: Apply, vendor: Any, licensing_staff: Any, signed_in: Any, app: Flask
) -> None:
    application = apply(vendor, STAFF_USE)  # submitted Monday 2026-11-02, 15:00 UTC
    url = f"/console/applications/{application.id}"

    def age_on(moment: datetime) -> str:
        with time_machine.travel(moment, tick=False):
            staff = signed_in(app.test_client(), licensing_staff)
            return _fact(staff.get(url).get_data(as_text=True), "Age")

    age = age_on(datetime(2026, 11, 5, 15, 0, tzinfo=UTC))
    assert re.fullmatch(
        r"3 of 10 business days; decision due by the end of \w+day, November 1\d, 2026 "
        r"\(US Central time\)",
        age,
    ), age
    age = age_on(datetime(2026, 12, 1, 15, 0, tzinfo=UTC))
    assert age == (
        "19 of 10 business days; overdue: the decision was due by the end of Tuesday, "
        "November 17, 2026 (US Central time)"
    )

    # Waiting on the vendor, the office's clock is not running: no age is shown.
    staff = signed_in(app.test_client(), licensing_staff)
    staff.post(url + "/review", data={"action": "return", "reason": "Which languages?"})
    assert "<dt>Age</dt>" not in staff.get(url).get_data(as_text=True)


def test_the_console_home_counts_the_applications_past_the_service_level(
    apply: Apply, vendor: Any, licensing_staff: Any, signed_in: Any, app: Flask
) -> None:
    # Both submitted Monday 2026-11-02: due by the end of Tuesday 2026-11-17.
    apply(vendor, STAFF_USE)
    apply(vendor, STAFF_USE)

    def home_on(moment: datetime) -> str:
        with time_machine.travel(moment, tick=False):
            staff = signed_in(app.test_client(), licensing_staff)
            page = staff.get("/console/").get_data(as_text=True)
        row = re.search(r"<tr[^>]*>(?:(?!</tr>).)*Applications awaiting review.*?</tr>", page, re.S)
        assert row, page[:3000]
        return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", row.group(0))).split())

    # The last moment of the due day, at the office (US Central), and just after.
    assert "0 past the service level of 10 US business days." in home_on(
        datetime(2026, 11, 18, 5, 59, tzinfo=UTC)
    )
    assert "2 past the service level of 10 US business days." in home_on(
        datetime(2026, 11, 18, 6, 1, tzinfo=UTC)
    )


def test_a_permission_decision_says_whom_it_emailed(
    submit: Any,  # noqa: F811
    licensing_staff: Any,
    signed_in: Any,
    app: Flask,
) -> None:
    asked, _ = submit()
    granted, _ = submit(requester_name="Tomas Reyes", requester_email="tomas@harbor.example")
    staff = signed_in(app.test_client(), licensing_staff)

    page = staff.post(
        f"/console/permissions/{asked.id}/ask",
        data={"message": "Which unit of the course?"},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert re.fullmatch(
        r"Question sent\. We emailed Lena Ortiz at lena\.ortiz@cedar-ridge\.example: they have "
        r"until the end of \w+day, \w+ \d+, \d{4} \(US Central time\) to answer\.",
        _flash(page),
    ), _flash(page)

    page = staff.post(f"/console/permissions/{granted.id}/approve", follow_redirects=True).get_data(
        as_text=True
    )
    assert _flash(page) == (
        "Approved: the grant letter is issued. We emailed Tomas Reyes at tomas@harbor.example "
        "with the letter attached."
    )


def _card(version: str, start: str, end: str) -> dict[str, Any]:
    return card_document(version=version, effective_from=start, effective_to=end)


def _publish(client: Any, document: dict[str, Any]) -> str:
    published = client.post(
        "/console/rate-cards/",
        data={
            "card": (io.BytesIO(json.dumps(document, default=str).encode()), "card.json"),
            "action": "publish",
        },
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert published.status_code == 200
    return _flash(published.get_data(as_text=True))


def test_publishing_next_years_card_says_which_card_prices_a_term_starting_today(
    client: Any, signed_in: Any, admin: Any
) -> None:
    with time_machine.travel(datetime(2026, 12, 4, 15, 0, tzinfo=UTC), tick=False):
        signed_in(client, admin)
        assert _publish(client, _card("2026.1", "2026-01-01", "2026-12-31")) == (
            "Rate card 2026.1 published."
        )
        assert _publish(client, _card("2027.1", "2027-01-01", "2027-12-31")) == (
            "Rate card 2027.1 published, in effect from January 1, 2027: a term starting today "
            "(December 4, 2026) is still priced on 2026.1."
        )
        assert _publish(client, _card("2028.1", "2028-01-01", "2028-12-31")).endswith(
            "in effect from January 1, 2028: a term starting today (December 4, 2026) is still "
            "priced on 2026.1."
        )


def test_an_agreements_history_names_its_application_by_reference(
    apply: Apply, vendor: Any, licensing_staff: Any, signed_in: Any, app: Flask
) -> None:
    application = apply(vendor, STAFF_USE)
    staff = signed_in(app.test_client(), licensing_staff)
    staff.post(f"/console/applications/{application.id}/approve")
    agreement = queries.agreement_for_application(db.session(), application.id)
    assert agreement is not None
    page = staff.get(f"/console/agreements/{agreement.id}").get_data(as_text=True)
    text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())
    assert f"application id: — → {application.reference}" in text


def test_renewals_due_say_whether_the_licensee_was_emailed_that_the_agreement_ends(
    example_card: str, vendor: Any, licensing_staff: Any, signed_in: Any, app: Flask
) -> None:
    agreement = make_active_agreement(vendor, licensing_staff, AUTO_USE, now=NOW)  # ends 2027-12-31

    def renewal_cell(moment: datetime) -> str:
        with time_machine.travel(moment, tick=False):
            staff = signed_in(app.test_client(), licensing_staff)
            page = staff.get("/console/agreements/renewals-due").get_data(as_text=True)
        row = re.search(rf"<tr>(?:(?!</tr>).)*{agreement.number}.*?</tr>", page, re.S)
        assert row, page[:3000]
        return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", row.group(0))).split())

    before = renewal_cell(datetime(2027, 10, 15, 15, 0, tzinfo=UTC))
    assert before.endswith(
        "No renewal yet The licensee is emailed on November 1, 2027 if it is still not renewed."
    ), before
    reminded_at = datetime(2027, 11, 2, 15, 0, tzinfo=UTC)  # the hourly job, as it runs
    with time_machine.travel(reminded_at, tick=False):
        agreement_services.expire(now=reminded_at)
    after = renewal_cell(datetime(2027, 11, 3, 15, 0, tzinfo=UTC))
    assert after.endswith(
        "No renewal yet The licensee was emailed November 2, 2027 at 10:00 AM (US Central time) "
        "that it ends."
    ), after


def test_a_reconsideration_granted_or_denied_says_whom_it_told(
    apply: Apply, vendor: Any, licensing_staff: Any, signed_in: Any, app: Flask
) -> None:
    granted, denied = apply(vendor, STAFF_USE), apply(vendor, STAFF_USE)
    staff = signed_in(app.test_client(), licensing_staff)
    vendor_actor = Actor.of(accounts.principal_for(vendor))
    told = []
    for application, action in (
        (granted, "grant_reconsideration"),
        (denied, "deny_reconsideration"),
    ):
        url = f"/console/applications/{application.id}/review"
        staff.post(
            url, data={"action": "reject", "reason": "No revenue figures."}, follow_redirects=True
        )
        agreement_services.request_reconsideration(
            application.id, "The figures are attached now.", vendor_actor
        )
        page = staff.post(
            url, data={"action": action, "reason": "Read the figures."}, follow_redirects=True
        ).get_data(as_text=True)
        told.append(_flash(page))
    who = f"We emailed {vendor.organization.legal_name} at {vendor.email}"
    assert told == [
        f"Reconsideration granted: the application is back in review. {who} that it is.",
        f"Reconsideration denied. {who} the reason.",
    ]
