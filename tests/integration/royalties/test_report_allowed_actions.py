"""A royalty report's `allowed_actions` and its 409s, by reader (round 59, refusals59).

Payments, invoices, applications and credit notes listed the reader's own steps
(rounds 57 and 58); a royalty report listed none, its review's 409 listed the review
steps the caller's role may take, and a vendor's amendment past the agreement's year,
or a second filing of a period, was a 409 listing nothing. The vendor's report page
offered *Amend this report* where the amendment was refused."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from flask.testing import FlaskClient
from sqlalchemy import update

from licensing import db
from licensing.accounts import services as accounts
from licensing.accounts.models import READ_SCOPE, ApiToken
from licensing.actors import Actor
from licensing.royalties.models import RoyaltyReport
from tests.integration.royalties.conftest import (
    AFTER,
    QUARTERS,
    SOFTWARE,
    flagged_report,
    period_url,
    reports_of,
    row,
    typed,
)
from tests.support import factories
from tests.support.pages import text_of

# The agreement's term ends 2027-12-31: amended until 2028-12-31, not from 2029-01-01.
PAST_THE_YEAR = datetime(2029, 1, 1, 18, 0, tzinfo=UTC)
PROBLEM = "application/problem+json"


def report_as(client: FlaskClient, headers: dict[str, str], report_id: int) -> dict[str, Any]:
    answer = client.get(f"/api/v1/royalty-reports/{report_id}", headers=headers)
    assert answer.status_code == 200, answer.get_json()
    document: dict[str, Any] = answer.get_json()
    return document


def file(client: FlaskClient, headers: dict[str, str], agreement: Any, **body: Any) -> Any:
    return client.post(
        f"/api/v1/agreements/{agreement.id}/royalty-reports/{QUARTERS[1].isoformat()}",
        json={"attest": True, "rows": [row(1, "A", quantity=70)], **body},
        headers=headers,
    )


def review(client: FlaskClient, headers: dict[str, str], report_id: int, action: str) -> Any:
    return client.post(
        f"/api/v1/royalty-reports/{report_id}/review",
        json={"action": action, "note": "Please check clinic A."},
        headers=headers,
    )


@pytest.fixture
def readers(app: Any, vendor: Any, licensing_staff: Any, billing_staff: Any) -> dict[str, Any]:
    billing_member = factories.make_vendor(
        db.session(), organization=vendor.organization, role="billing"
    )
    token, read_only = accounts.create_api_token(
        vendor.id, "read only", actor=Actor.SYSTEM, scope=READ_SCOPE
    )
    with db.transaction() as session:  # as `factories.bearer`: tests travel in time
        session.execute(update(ApiToken).where(ApiToken.id == token.id).values(expires_at=None))
    return {
        "vendor": factories.bearer(vendor),
        "billing member": factories.bearer(billing_member),
        "read-only token": {"Authorization": f"Bearer {read_only}"},
        "licensing staff": factories.bearer(licensing_staff),
        "billing staff": factories.bearer(billing_staff),
    }


def test_a_reports_allowed_actions_are_each_readers_own_in_every_state(
    client: FlaskClient,
    vendor: Any,
    active_agreement: Any,
    file_report: Any,
    readers: dict[str, Any],
    licensing_staff: Any,
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    flagged = flagged_report(file_report, vendor, agreement)
    first = reports_of(agreement)[0]
    expected = {
        # the first quarter's report: not flagged
        first.id: {
            "vendor": ["amend"],
            "billing member": [],
            "read-only token": [],
            "licensing staff": ["request_correction"],
            "billing staff": ["request_correction"],
        },
        flagged.id: {
            "vendor": ["amend"],
            "billing member": [],
            "read-only token": [],
            "licensing staff": ["mark_reviewed", "request_correction"],
            "billing staff": ["mark_reviewed", "request_correction"],
        },
    }
    with time_machine.travel(AFTER[3], tick=False):
        for report_id, by_reader in expected.items():
            for reader, steps in by_reader.items():
                told = report_as(client, readers[reader], report_id)["allowed_actions"]
                assert told == steps, (report_id, reader)
        sent_back = review(client, readers["licensing staff"], flagged.id, "request_correction")
        assert sent_back.status_code == 200
        assert sent_back.get_json()["allowed_actions"] == ["mark_reviewed"]
        assert report_as(client, readers["vendor"], flagged.id)["allowed_actions"] == ["amend"]
        amended = client.post(
            f"/api/v1/agreements/{agreement.id}/royalty-reports/{QUARTERS[2].isoformat()}",
            json={
                "attest": True,
                "rows": [row(1, "A", quantity=100), row(1, "B", quantity=50)],
                "amends": flagged.id,
                "reason": "Clinic A had 100 users all along",
            },
            headers=readers["vendor"],
        )
        assert amended.status_code == 201, amended.get_json()
        assert amended.get_json()["allowed_actions"] == ["amend"]
        for reader in expected[flagged.id]:  # superseded: nobody's steps
            assert report_as(client, readers[reader], flagged.id)["allowed_actions"] == []
    # Past the agreement's year: staff still review; the vendor amends no more.
    with time_machine.travel(PAST_THE_YEAR, tick=False):
        assert report_as(client, readers["vendor"], first.id)["allowed_actions"] == []
        assert report_as(client, readers["licensing staff"], first.id)["allowed_actions"] == [
            "request_correction"
        ]


def test_a_preview_lists_no_steps(
    client: FlaskClient, vendor: Any, active_agreement: Any, readers: dict[str, Any]
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    with time_machine.travel(AFTER[1], tick=False):
        previewed = client.post(
            f"/api/v1/agreements/{agreement.id}/royalty-reports/{QUARTERS[1].isoformat()}/preview",
            json={"attest": True, "rows": [row(1, "A", quantity=70)]},
            headers=readers["vendor"],
        )
    assert previewed.status_code == 200, previewed.get_json()
    assert previewed.get_json()["allowed_actions"] == []


def test_each_step_listed_is_taken_and_each_other_is_refused_saying_the_readers_own(
    client: FlaskClient,
    vendor: Any,
    active_agreement: Any,
    file_report: Any,
    readers: dict[str, Any],
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    filed = file_report(vendor, agreement, 1, [row(1, "A", quantity=60)])
    report = filed.report
    with time_machine.travel(AFTER[2], tick=False):
        # Licensing staff marking a report nothing flagged: their own step named.
        refused = review(client, readers["licensing staff"], report.id, "mark_reviewed")
        assert refused.status_code == 409
        problem = refused.get_json()
        assert problem["allowed_actions"] == ["request_correction"]
        assert problem["detail"] == (
            "A royalty report that is not flagged for review cannot be marked reviewed: of "
            "the steps you may take, it can only be sent back for a correction."
        )
        # The vendor filing the period again: told to amend it, and `amend` listed.
        again = file(client, readers["vendor"], agreement)
        assert again.status_code == 409
        assert again.get_json()["allowed_actions"] == ["amend"]
        assert (
            f"already has report {report.reference}; to correct it, amend it"
            in (again.get_json()["detail"])
        )
        amended = file(client, readers["vendor"], agreement, amends=report.id, reason="Recount")
        assert amended.status_code == 201, amended.get_json()
        # The superseded report: neither reviewed nor amended, and nothing listed.
        for action in ("mark_reviewed", "request_correction"):
            stale_review = review(client, readers["billing staff"], report.id, action)
            assert stale_review.status_code == 409
            assert stale_review.get_json()["allowed_actions"] == []
            assert "was superseded by an amendment" in stale_review.get_json()["detail"]
        stale = file(client, readers["vendor"], agreement, amends=report.id, reason="Again")
        assert stale.status_code == 409
        assert stale.get_json()["allowed_actions"] == []
        assert (
            f"Report {report.reference} is not the current report" in (stale.get_json()["detail"])
        )
    assert len(reports_of(agreement)) == 2


def test_past_the_agreements_year_an_amendment_is_refused_listing_nothing_the_vendor_may_do(
    client: FlaskClient,
    vendor: Any,
    active_agreement: Any,
    file_report: Any,
    readers: dict[str, Any],
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    report = file_report(vendor, agreement, 1, [row(1, "A", quantity=60)]).report
    with time_machine.travel(PAST_THE_YEAR, tick=False):
        late = file(client, readers["vendor"], agreement, amends=report.id, reason="Recount")
        again = file(client, readers["vendor"], agreement)
    assert late.status_code == 409
    assert late.mimetype == PROBLEM
    assert late.get_json()["allowed_actions"] == []
    assert late.get_json()["detail"] == (
        f"Agreement {agreement.number} ended on 2027-12-31, more than a year ago; its "
        "reports can no longer be amended."
    )
    # Filed again without `amends`: not sent to amend what cannot be amended.
    assert again.status_code == 409
    assert again.get_json()["allowed_actions"] == []
    assert again.get_json()["detail"].endswith(
        f"already has report {report.reference}. Agreement {agreement.number} ended on "
        "2027-12-31, more than a year ago; its reports can no longer be amended."
    )
    assert len(reports_of(agreement)) == 1


def test_the_vendors_pages_offer_no_amendment_past_the_agreements_year_and_say_why_in_words(
    client: FlaskClient, signed_in: Any, vendor: Any, active_agreement: Any, file_report: Any
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    report: RoyaltyReport = file_report(vendor, agreement, 1, [row(1, "A", quantity=60)]).report
    report_url = f"/portal/royalty-reports/report/{report.id}"
    with time_machine.travel(datetime(2028, 12, 31, 18, 0, tzinfo=UTC), tick=False):
        signed_in(client, vendor)
        within = text_of(client.get(report_url))
        period_within = text_of(client.get(period_url(agreement, 1)))
    assert "Amend this report" in within
    assert f"You are amending report {report.reference}" in period_within
    with time_machine.travel(PAST_THE_YEAR, tick=False):
        signed_in(client, vendor)
        page = client.get(report_url)
        period = client.get(period_url(agreement, 1))
        posted = client.post(
            period_url(agreement, 1),
            data={
                "mode": "form",
                "action": "submit",
                "attest": "yes",
                "amends": report.id,
                "reason": "Recount",
                **typed(row(1, "A", quantity=61)),
            },
        )
        # A form opened before the report was filed: not sent to amend it either.
        stale = client.post(
            period_url(agreement, 1),
            data={
                "mode": "form",
                "action": "submit",
                "attest": "yes",
                **typed(row(1, "A", quantity=61)),
            },
        )
    said = (
        f"Agreement {agreement.number} ended on December 31, 2027, more than a year ago; "
        "its reports can no longer be amended."
    )
    assert page.status_code == 200
    assert "Amend this report" not in text_of(page)
    assert said in text_of(page)
    assert '<time datetime="2027-12-31">' in page.get_data(as_text=True)
    assert period.status_code == 200
    assert said in text_of(period)
    assert "You are amending" not in text_of(period)
    assert "file an amendment below" not in text_of(period)
    assert 'name="amends"' not in period.get_data(as_text=True)
    # A form kept open from before is refused with the same words.
    assert posted.status_code == 409
    assert said in text_of(posted)
    assert stale.status_code == 409
    assert said in text_of(stale)
    assert "file an amendment with a reason" not in text_of(stale)
    assert len(reports_of(agreement)) == 1
