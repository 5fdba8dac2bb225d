"""Round 16: a vendor's agreement comes up for renewal, walked from the portal."""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flask.testing import FlaskClient

from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import services as agreement_services
from licensing.agreements import views
from licensing.agreements.models import Agreement, Application
from licensing.ratecards import services as ratecards
from tests.integration.agreements.conftest import AUTO_USE, NOW
from tests.integration.permissions.conftest import last_mail
from tests.integration.pricing.conftest import card_document
from tests.support.agreements import accept, agreement_of, renewal_window
from tests.support.factories import bearer
from tests.support.settings import issuing

ENDS = "Agreement {number} ends on December 31, 2027: renew it to stay licensed"


def _active(apply: Callable[..., Application], vendor: Any) -> Agreement:
    return accept(agreement_of(apply(vendor, AUTO_USE)), vendor, now=NOW)


def _dashboard(client: FlaskClient, monkeypatch: Any, now: datetime) -> str:
    monkeypatch.setattr(views, "utcnow", lambda: now)
    response = client.get("/portal/")
    assert response.status_code == 200
    return html.unescape(response.get_data(as_text=True))


def test_the_vendor_s_dashboard_asks_them_to_renew_an_agreement_ending_within_90_days(
    client: FlaskClient,
    signed_in: Callable[..., FlaskClient],
    apply: Callable[..., Application],
    vendor: Any,
    monkeypatch: Any,
) -> None:
    # Staff saw the agreement among "Agreements ending within 90 days"; the
    # licensee's dashboard said nothing until the agreement had expired.
    agreement = _active(apply, vendor)
    signed_in(client, vendor)
    title = ENDS.format(number=agreement.number)

    september = _dashboard(client, monkeypatch, datetime(2027, 9, 15, 15, 0, tzinfo=UTC))
    assert title not in september

    november = _dashboard(client, monkeypatch, datetime(2027, 11, 15, 15, 0, tzinfo=UTC))
    assert title in november
    assert f'href="/portal/agreements/{agreement.id}#renew-heading"' in november
    assert "the term from January 1, 2028" in november
    assert f"still filed under {agreement.number} after it ends" in november

    # Once a renewal is drawn, the dashboard lists the draft instead.
    principal = accounts.principal_for(vendor)
    agreement_services.start_renewal(
        agreement.id, Actor.of(principal), now=renewal_window(agreement)
    )
    renewing = _dashboard(client, monkeypatch, datetime(2027, 11, 15, 15, 0, tzinfo=UTC))
    assert title not in renewing


def test_another_organization_is_not_asked_to_renew_someone_else_s_agreement(
    client: FlaskClient,
    signed_in: Callable[..., FlaskClient],
    apply: Callable[..., Application],
    vendor: Any,
    other_vendor: Any,
    monkeypatch: Any,
) -> None:
    agreement = _active(apply, vendor)
    signed_in(client, other_vendor)
    page = _dashboard(client, monkeypatch, datetime(2027, 11, 15, 15, 0, tzinfo=UTC))
    assert agreement.number not in page


def test_an_agreement_that_ends_unrenewed_tells_the_licensee_its_reports_are_still_due(
    apply: Callable[..., Application], vendor: Any
) -> None:
    # The superseded agreement's email said "Royalty reports still due for the old
    # term are filed under CPT-..."; the one that simply expired said only "Renew
    # it", though the last quarter's report was still owed under it.
    agreement = _active(apply, vendor)
    agreement_services.expire(now=datetime(2028, 1, 5, 15, 0, tzinfo=UTC))
    message = last_mail(vendor.email)
    assert message.subject.endswith(f"Agreement {agreement.number}: expired")
    assert (
        f"Royalty reports still due for its term are filed under {agreement.number}."
        in message.body_text
    )


def test_an_agreement_never_accepted_expires_without_a_word_of_reports(
    apply: Callable[..., Application], vendor: Any
) -> None:
    issued = agreement_of(apply(vendor, AUTO_USE))
    agreement_services.expire(now=datetime(2028, 1, 5, 15, 0, tzinfo=UTC))
    message = last_mail(vendor.email)
    assert message.subject.endswith(f"Agreement {issued.number}: expired")
    assert "Royalty reports" not in message.body_text


def test_the_api_names_the_renewal_that_took_over_as_the_agreement_s_page_does(
    client: FlaskClient, apply: Callable[..., Application], vendor: Any
) -> None:
    # The old agreement's page said "Renewed by CPT-2028-..." while
    # `GET /api/v1/agreements/{id}` named only what it renews (`renewal_of`): a
    # finance system reading the API could not follow a licence to its renewal.
    ratecards.import_card(
        card_document(version="2028.1", effective_from="2028-01-01", effective_to="2028-12-31"),
        published_by="tests",
    )
    old = _active(apply, vendor)
    vendor_actor = Actor.of(accounts.principal_for(vendor))
    december = datetime(2027, 12, 2, 15, 0, tzinfo=UTC)
    draft = agreement_services.start_renewal(old.id, vendor_actor, now=december)
    renewal = agreement_of(
        agreement_services.submit(
            draft.id, vendor_actor, policy=issuing(), attest=True, now=december
        )
    )
    accept(renewal, vendor, now=december)

    answer = client.get(f"/api/v1/agreements/{old.id}", headers=bearer(vendor)).get_json()
    assert answer["renewed_by"] == renewal.number
    renewed = client.get(f"/api/v1/agreements/{renewal.id}", headers=bearer(vendor)).get_json()
    assert (renewed["renewal_of"], renewed["renewed_by"]) == (old.number, None)
    listed = client.get("/api/v1/agreements", headers=bearer(vendor)).get_json()
    assert {item["number"]: item["renewed_by"] for item in listed} == {
        old.number: renewal.number,
        renewal.number: None,
    }
