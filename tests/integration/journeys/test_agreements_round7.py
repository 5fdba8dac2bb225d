"""Round 7: agreements' and renewals' loose ends (docs/journeys.md, "Round 7:
agreements and renewals")."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest
import time_machine
from flask.testing import FlaskClient
from sqlalchemy import event, select

from licensing import calendar, db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import services as agreements
from licensing.agreements.models import Agreement
from licensing.audit.models import AuditEvent
from licensing.mail import services as mail
from licensing.mail.models import OutboxMessage
from licensing.ratecards import services as ratecards
from tests.integration.agreements.conftest import NOW, STAFF_USE, draft
from tests.integration.exports.conftest import export_json  # noqa: F401 - the fixture
from tests.integration.pricing.conftest import card_document, example_card  # noqa: F401
from tests.integration.royalties.conftest import (  # noqa: F401 - the fixtures
    AFTER,
    DATA_FILE,
    DEVELOPMENT,
    SOFTWARE,
    active_agreement,
    file_report,
    flagged_report,
    row,
)
from tests.support.agreements import accept, agreement_of
from tests.support.factories import bearer
from tests.support.page_days import in_words
from tests.support.pages import text_of
from tests.support.servers import SMTPServer, message_text
from tests.support.settings import delivery, issuing

SignIn = Callable[..., FlaskClient]
DECEMBER = datetime(2027, 12, 2, 15, 0, tzinfo=UTC)
# The first hourly step after the 2027 term's last day at the office.
NEW_YEAR = datetime(2028, 1, 1, 15, 0, tzinfo=UTC)


def _fresh(agreement_id: int) -> Agreement:
    found = db.session().get(Agreement, agreement_id)
    assert found is not None
    db.session().refresh(found)
    return found


def _events(agreement: Agreement) -> list[str]:
    return list(
        db.session().scalars(
            select(AuditEvent.action)
            .where(AuditEvent.entity_type == "agreement", AuditEvent.entity_id == str(agreement.id))
            .order_by(AuditEvent.id)
        )
    )


def _emails(template: str) -> list[OutboxMessage]:
    return list(
        db.session().scalars(
            select(OutboxMessage)
            .where(OutboxMessage.template == template)
            .order_by(OutboxMessage.id)
        )
    )


def _next_card() -> None:
    ratecards.import_card(
        card_document(version="2028.1", effective_from="2028-01-01", effective_to="2028-12-31"),
        published_by="tests",
    )


def _renewed(old: Agreement, vendor: Any, *, now: datetime = DECEMBER) -> Agreement:
    """`old` renewed by `vendor` on `now`, the renewal approved and accepted."""
    vendor_actor = Actor.of(accounts.principal_for(vendor))
    draft = agreements.start_renewal(old.id, vendor_actor, now=now)
    renewal = agreement_of(
        agreements.submit(draft.id, vendor_actor, policy=issuing(), attest=True, now=now)
    )
    accept(renewal, vendor, now=now)
    return renewal


def test_an_old_agreement_whose_renewal_was_terminated_expires_and_no_longer_claims_it(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    licensing_staff: Any,
    active_agreement: Any,  # noqa: F811
) -> None:
    # A renewal terminated in December still made the old agreement `superseded`
    # on 1 January, its page reading "Superseded by" an agreement that had ended.
    _next_card()
    old = active_agreement(vendor, SOFTWARE)
    renewal = _renewed(old, vendor)
    staff = Actor.of(accounts.principal_for(licensing_staff))
    agreements.terminate(renewal.id, "Signed by someone without authority.", staff, now=DECEMBER)
    assert _fresh(old.id).superseded_by_id is None
    assert "agreement.renewal_ended" in _events(old)
    with time_machine.travel(datetime(2027, 12, 10, 15, 0, tzinfo=UTC), tick=False):
        signed_in(client, vendor)
        page = text_of(client.get(f"/portal/agreements/{old.id}"))
    assert f"Renewed by {renewal.number}" not in page
    # Nothing renews it any more: the vendor may renew it again.
    assert "Renew for the next rate card year" in page

    ran = agreements.expire(now=NEW_YEAR)
    assert (ran.superseded, ran.expired) == ([], [old.number])
    assert _fresh(old.id).state == "expired"


def test_an_old_agreement_still_linked_to_a_renewal_that_ended_expires_unlinked(
    vendor: Any,
    active_agreement: Any,  # noqa: F811
) -> None:
    # A link left by a renewal terminated before this round's fix: the expiry run
    # expires the old agreement and drops the link, audited, instead of superseding it.
    old = active_agreement(vendor, SOFTWARE)
    renewal = active_agreement(vendor, SOFTWARE)
    renewal.state = "terminated"
    old.superseded_by_id = renewal.id
    db.session().flush()
    ran = agreements.expire(now=NEW_YEAR)
    assert (ran.superseded, ran.expired) == ([], [old.number])
    assert (_fresh(old.id).state, _fresh(old.id).superseded_by_id) == ("expired", None)
    assert "agreement.renewal_ended" in _events(old)


def test_an_expired_agreement_ended_on_its_terms_last_day_as_a_superseded_one_does(
    vendor: Any,
    active_agreement: Any,  # noqa: F811
    export_json: Any,  # noqa: F811
) -> None:
    # A superseded agreement ended at the end of its term's last office day, an
    # expired one at the moment the hourly step ran: 2028-01-01 in the export.
    old = active_agreement(vendor, SOFTWARE)
    ran = agreements.expire(now=datetime(2028, 1, 2, 15, 0, tzinfo=UTC))  # a day late
    assert ran.expired == [old.number]
    assert _fresh(old.id).ended_at == calendar.end_of_office_day(date(2027, 12, 31))
    (exported,) = [r for r in export_json("agreements") if r["agreement_number"] == old.number]
    assert (exported["state"], exported["ended_date"]) == ("expired", "2027-12-31")


def test_an_agreement_issued_after_its_term_ended_expires_no_earlier_than_it_was_accepted(
    vendor: Any,
    licensing_staff: Any,
    example_card: str,  # noqa: F811
) -> None:
    # Approved after its term: never ended before it existed. Since round 49 such a
    # term goes to staff (it was approved automatically, and expired unaccepted by
    # the next hourly run), waits for acceptance, and expires on it.
    late = datetime(2028, 2, 1, 15, 0, tzinfo=UTC)
    vendor_actor = Actor.of(accounts.principal_for(vendor))
    application = agreements.create_draft(vendor_actor, draft(), now=late)
    agreements.submit(application.id, vendor_actor, policy=issuing(), attest=True, now=late)
    staff = Actor.of(accounts.principal_for(licensing_staff))
    agreements.approve(application.id, staff, policy=issuing(), now=late)
    agreement = agreement_of(application)
    assert agreement.term_end < date(2028, 1, 1)
    agreements.expire(now=datetime(2028, 2, 1, 16, 0, tzinfo=UTC))
    assert _fresh(agreement.id).state == "issued"
    accepted_at = datetime(2028, 2, 1, 17, 0, tzinfo=UTC)
    accept(agreement, vendor, now=accepted_at)
    assert (_fresh(agreement.id).state, _fresh(agreement.id).ended_at) == (
        "expired",
        accepted_at,
    )


def test_a_renewal_of_an_expired_agreement_links_the_two_without_superseding(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    active_agreement: Any,  # noqa: F811
) -> None:
    # Renewed after it expired, the old agreement read neither "Renewed by" nor
    # anything else, and still offered a renewal.
    _next_card()
    old = active_agreement(vendor, SOFTWARE)
    agreements.expire(now=NEW_YEAR)
    february = datetime(2028, 2, 1, 15, 0, tzinfo=UTC)
    renewal = _renewed(old, vendor, now=february)
    found = _fresh(old.id)
    assert (found.state, found.superseded_by_id) == ("expired", renewal.id)
    assert found.ended_at == calendar.end_of_office_day(date(2027, 12, 31))
    assert _events(old)[-1] == "agreement.renewed"
    with time_machine.travel(february, tick=False):
        signed_in(client, vendor)
        page = text_of(client.get(f"/portal/agreements/{old.id}"))
        renewing = text_of(client.get(f"/portal/agreements/{renewal.id}"))
    assert f"Renewed by {renewal.number} (its renewal, accepted after this term ended;" in page
    assert "Renew for the next rate card year" not in page
    assert f"Renews {old.number}" in renewing


@pytest.fixture
def config_changes(smtp_server: SMTPServer) -> dict[str, Any]:
    return {"smtp_url": smtp_server.url}


@pytest.mark.usefixtures("in_december_2026")  # 2027's days, before 2028
def test_the_licensees_contacts_are_told_when_the_renewal_takes_over(
    vendor: Any,
    active_agreement: Any,  # noqa: F811
    mailbox: SMTPServer,
) -> None:
    # The old agreement became `superseded` on 1 January without a word, while its
    # expiry, termination and acceptance each send an email.
    _next_card()
    old = active_agreement(vendor, SOFTWARE)
    renewal = _renewed(old, vendor)
    mail.deliver_due(delivery())
    mailbox.clear()
    agreements.expire(now=NEW_YEAR)
    assert mail.deliver_due(delivery(), now=NEW_YEAR).sent == 1
    (received,) = mailbox.wait_for(1)
    assert received["Subject"] == (
        f"Agreement {old.number}: superseded by its renewal {renewal.number}"
    )
    assert vendor.email in received["To"]
    body = " ".join(message_text(received).split())
    assert (
        f"The term ended on December 31, 2027 and its renewal, agreement {renewal.number}, now "
        "covers the license from January 1, 2028 to December 31, 2028:" in body
    )
    assert f"/portal/agreements/{renewal.id}" in body
    assert f"filed under {old.number}" in body


def test_staff_approving_a_term_already_under_way_are_told_and_so_is_the_vendor(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    licensing_staff: Any,
    example_card: str,  # noqa: F811
) -> None:
    # Approved on 2 November 2027, a 2027 license was issued without a word that
    # its first three quarters were over, their reports already past due.
    november = datetime(2027, 11, 2, 15, 0, tzinfo=UTC)
    vendor_actor = Actor.of(accounts.principal_for(vendor))
    application = agreements.create_draft(vendor_actor, draft(SOFTWARE, STAFF_USE), now=november)
    agreements.submit(application.id, vendor_actor, policy=issuing(), attest=True, now=november)
    with time_machine.travel(november, tick=False):
        signed_in(client, licensing_staff)
        page = text_of(client.get(f"/console/applications/{application.id}"))
    assert (
        in_words(
            "The term began on 2027-01-01, before today: approving it licenses that time "
            "retroactively. The royalty reports of the 3 periods already ended (2027-01-01 "
            "to 2027-09-30) can be filed as soon as the licensee accepts, their royalties "
            "invoiced with them."
        )
        in page
    )
    staff = Actor.of(accounts.principal_for(licensing_staff))
    agreements.start_review(application.id, staff, now=november)
    agreements.approve(application.id, staff, policy=issuing(), now=november)
    (approval,) = [m for m in _emails("application_update") if "ready to accept" in m.subject]
    body = " ".join(approval.body_text.split())
    assert (
        "The term began on January 1, 2027, before this approval: the license covers it from "
        "that day. The royalty reports of the 3 periods already ended (January 1, 2027 to "
        "September 30, 2027) can be filed as soon as you accept it, and their royalties are "
        "invoiced with them (their due dates have passed)." in body
    )


def test_an_approval_before_the_term_starts_says_nothing_of_a_retroactive_term(
    vendor: Any,
    example_card: str,  # noqa: F811
) -> None:
    vendor_actor = Actor.of(accounts.principal_for(vendor))
    application = agreements.create_draft(vendor_actor, draft(SOFTWARE), now=NOW)
    agreements.submit(application.id, vendor_actor, policy=issuing(), attest=True, now=NOW)
    (approval,) = [m for m in _emails("application_update") if "ready to accept" in m.subject]
    assert "The term began" not in approval.body_text


def test_the_agreements_list_labels_the_estimate_and_shows_what_was_charged_to_date(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    licensing_staff: Any,
    active_agreement: Any,  # noqa: F811
    file_report: Any,  # noqa: F811
) -> None:
    # The list's "Total" read 36,300.00 USD, the application's estimate, for an
    # agreement charged 42,300.00 USD, and the API's `total` the same.
    agreement = active_agreement(vendor, SOFTWARE, DEVELOPMENT)  # 33,800 + 2,500 flat
    file_report(vendor, agreement, 1, [row(1, "A", quantity=3000)])  # 39,800.00
    quiet = active_agreement(vendor, DEVELOPMENT)  # 2,500 flat, charged on acceptance
    with time_machine.travel(AFTER[2], tick=False):
        signed_in(client, vendor)
        portal = client.get("/portal/agreements")
        page = text_of(client.get(f"/portal/agreements/{agreement.id}"))
        api = client.get("/api/v1/agreements", headers=bearer(vendor)).get_json()
        one = client.get(f"/api/v1/agreements/{agreement.id}", headers=bearer(vendor)).get_json()
    listed = text_of(portal)
    assert "Estimated total Charged to date" in listed
    assert f"{agreement.number} " in listed
    assert "36,300.00 USD 42,300.00 USD" in listed
    assert "Charged to date 42,300.00 USD" in page  # the agreement's page agrees
    assert "2,500.00 USD 2,500.00 USD" in listed
    by_number = {item["number"]: item for item in api}
    assert (
        by_number[agreement.number]["total"],
        by_number[agreement.number]["charged_to_date"],
    ) == (
        "36300.00",
        "42300.00",
    )
    assert by_number[quiet.number]["charged_to_date"] == "2500.00"
    assert one["charged_to_date"] == "42300.00"

    # One query for the charged amounts, whatever the number of rows.
    def statements_of_list() -> list[str]:
        seen: list[str] = []
        engine = db.database().engine

        def note(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
            seen.append(statement)

        event.listen(engine, "before_cursor_execute", note)
        try:
            signed_in(client, licensing_staff)
            assert client.get("/console/agreements").status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", note)
        return [s for s in seen if re.search(r"\bFROM invoices\b", s)]

    few = statements_of_list()
    active_agreement(vendor, DEVELOPMENT)
    active_agreement(vendor, DEVELOPMENT)
    assert len(statements_of_list()) == len(few) <= 1


def test_rows_downloaded_as_filed_give_revenue_with_the_currencys_minor_unit_digits(
    client: FlaskClient,
    vendor: Any,
    active_agreement: Any,  # noqa: F811
) -> None:
    # Filed as "5000.00", a row's revenue came back "5000" in the rows download (and
    # the amendment's form); finer amounts than cents keep their digits.
    agreement = active_agreement(vendor, DATA_FILE)
    rows = [
        row(1, "A", unit="", revenue="5000.00"),
        row(1, "B", unit="", revenue="1250.5"),
        row(1, "C", unit="", revenue="0"),
        row(1, "D", unit="", revenue="80.1250"),
    ]
    with time_machine.travel(AFTER[1], tick=False):
        filed = client.post(
            f"/api/v1/agreements/{agreement.id}/royalty-reports/2027-01-01",
            json={"attest": True, "rows": rows},
            headers=bearer(vendor),
        )
        assert filed.status_code == 201, filed.get_json()
        download = client.get(
            f"/api/v1/royalty-reports/{filed.get_json()['id']}/rows", headers=bearer(vendor)
        )
    assert [line.rsplit(",", 1)[1] for line in download.get_data(as_text=True).splitlines()] == [
        "revenue",
        "5000.00",
        "1250.50",
        "0.00",
        "80.125",
    ]


def test_a_report_sent_back_for_correction_says_by_when_the_corrected_one_is_due(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    licensing_staff: Any,
    active_agreement: Any,  # noqa: F811
    file_report: Any,  # noqa: F811
) -> None:
    # Sent back for correction, a report had no deadline: not in the email, not on
    # the vendor's dashboard, not in the staff queue. CORRECTION_DUE_DAYS (30) after
    # the request, at the office: asked on 2027-07-05, due 2027-08-04.
    agreement = active_agreement(vendor, SOFTWARE)
    report = flagged_report(file_report, vendor, agreement)
    asked = datetime(2027, 7, 5, 15, 0, tzinfo=UTC)
    with time_machine.travel(asked, tick=False):
        signed_in(client, licensing_staff)
        sent = client.post(
            f"/console/royalty-reports/{report.id}",
            data={"action": "request_correction", "note": "Customer B is missing."},
        )
        assert sent.status_code in (200, 302), text_of(sent)
        queue = text_of(client.get("/console/royalty-reports"))
        signed_in(client, vendor)
        dashboard = text_of(client.get("/portal/"))
    (email,) = _emails("royalty_report_correction")
    assert "File the corrected report by August 4, 2027." in " ".join(email.body_text.split())
    assert (
        "Licensing staff ask: Customer B is missing. Amend the report by August 4, 2027"
        in dashboard
    )
    assert "waiting for a corrected report, due August 4, 2027" in queue
    with time_machine.travel(datetime(2027, 8, 6, 15, 0, tzinfo=UTC), tick=False):
        signed_in(client, vendor)
        late = text_of(client.get("/portal/"))
    assert "Amend the report, saying what changed: it was due on August 4, 2027." in late


def test_the_acceptance_and_termination_answers_carry_what_is_charged_to_date(
    client: FlaskClient,
    vendor: Any,
    licensing_staff: Any,
    example_card: str,  # noqa: F811
) -> None:
    vendor_actor = Actor.of(accounts.principal_for(vendor))
    application = agreements.create_draft(vendor_actor, draft(DEVELOPMENT), now=NOW)
    agreements.submit(application.id, vendor_actor, policy=issuing(), attest=True, now=NOW)
    agreement = agreement_of(application)
    accepted = client.post(
        f"/api/v1/agreements/{agreement.id}/acceptance",
        json={
            "signer_name": "Samira Haddad",
            "signer_title": "Chief Executive",
            "authority_confirmed": True,
            "pdf_sha256": agreement.pdf_sha256,
        },
        headers=bearer(vendor),
    )
    assert accepted.status_code == 200, accepted.get_json()
    assert (accepted.get_json()["total"], accepted.get_json()["charged_to_date"]) == (
        "2500.00",
        "2500.00",
    )
    ended = client.post(
        f"/api/v1/agreements/{agreement.id}/termination",
        json={"reason": "Signed in error."},
        headers=bearer(licensing_staff),
    )
    assert ended.status_code == 200, ended.get_json()
    assert ended.get_json()["charged_to_date"] == "2500.00"
