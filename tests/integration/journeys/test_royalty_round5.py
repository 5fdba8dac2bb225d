"""Round 5 of the journeys: the royalty cycle's loose ends, as a vendor's billing
contact, licensing and billing staff and an administrator reading the audit log
meet them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import time_machine
from flask.testing import FlaskClient
from sqlalchemy import select, update

from licensing import db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import services as agreements
from licensing.agreements.models import Application
from licensing.billing.models import CreditNote
from tests.integration.royalties.conftest import (  # noqa: F401 - the fixtures
    AFTER,
    SOFTWARE,
    active_agreement,
    file_report,
    lowered_by_amendment,
    row,
)
from tests.support.agreements import renewal_window
from tests.support.factories import bearer
from tests.support.pages import text_of, without_time_tags

SignIn = Callable[..., FlaskClient]


def _credit_note_link(amendment: Any, *, console: bool = False) -> tuple[int, str]:
    """The one credit note an amendment issued, and the link to its PDF a vendor's
    page shows, or (`console`) to its console page, which links the PDF (round 56)."""
    [number] = amendment.credit_notes
    credit_id = db.session().scalar(select(CreditNote.id).where(CreditNote.number == number))
    if console:
        return credit_id, f'<a href="/console/credit-notes/{credit_id}">{number}</a>'
    return credit_id, f'<a href="/credit-notes/{credit_id}.pdf">{number}</a>'


def test_the_audit_log_names_a_royalty_report_by_its_reference_and_links_it(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    admin: Any,
    active_agreement: Any,  # noqa: F811
    file_report: Any,  # noqa: F811
) -> None:
    # The log read "royalty report 5", an id no page shows.
    agreement = active_agreement(vendor, SOFTWARE)
    report = file_report(vendor, agreement, 1, [row(1, "A", quantity=60)]).report
    with time_machine.travel(AFTER[2], tick=False):
        console = signed_in(client, admin)
        page = console.get("/console/audit").get_data(as_text=True)
        assert f'<a href="/console/royalty-reports/{report.id}">{report.reference}</a>' in page
        assert f">royalty report {report.id}</a>" not in page
        # The reference people read is one they can search the log by.
        found = console.get("/console/audit", query_string={"entity_id": report.reference})
        assert found.status_code == 200
        assert f'<a href="/console/royalty-reports/{report.id}">' in found.get_data(as_text=True)


def test_a_reports_credit_notes_link_their_pdfs_for_the_vendor_and_for_staff(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    other_vendor: Any,
    licensing_staff: Any,
    billing_staff: Any,
    active_agreement: Any,  # noqa: F811
    file_report: Any,  # noqa: F811
) -> None:
    # The report named "credit notes CN-2027-000001" as text; the PDF was on the
    # credited invoice's page only.
    lowered = lowered_by_amendment(file_report, vendor, active_agreement(vendor, SOFTWARE))
    credit_id, link = _credit_note_link(lowered)
    _, console_link = _credit_note_link(lowered, console=True)
    pages = {
        vendor: f"/portal/royalty-reports/report/{lowered.report.id}",
        licensing_staff: f"/console/royalty-reports/{lowered.report.id}",
        billing_staff: f"/console/royalty-reports/{lowered.report.id}",
    }
    with time_machine.travel(AFTER[2], tick=False):
        for user, page in pages.items():
            reader = signed_in(client, user)
            shown = link if user is vendor else console_link
            assert shown in reader.get(page).get_data(as_text=True)
            pdf = reader.get(f"/credit-notes/{credit_id}.pdf")
            assert (pdf.status_code, pdf.mimetype) == (200, "application/pdf")
        # Another organization's vendor reaches neither the report nor its credit note.
        stranger = signed_in(client, other_vendor)
        assert stranger.get(pages[vendor]).status_code == 404
        assert stranger.get(f"/credit-notes/{credit_id}.pdf").status_code == 404


def test_the_period_lists_link_an_amendments_credit_notes_to_their_pdfs(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    billing_staff: Any,
    active_agreement: Any,  # noqa: F811
    file_report: Any,  # noqa: F811
) -> None:
    # The report page linked each credit note's PDF; the vendor's and the console's
    # period lists named them as text.
    lowered = lowered_by_amendment(file_report, vendor, active_agreement(vendor, SOFTWARE))
    _, link = _credit_note_link(lowered)
    _, console_link = _credit_note_link(lowered, console=True)
    with time_machine.travel(AFTER[2], tick=False):
        listed = signed_in(client, vendor).get("/portal/royalty-reports")
        assert link in listed.get_data(as_text=True)
        queue = signed_in(client, billing_staff).get("/console/royalty-reports")
        assert console_link in queue.get_data(as_text=True)


def test_the_vendors_royalty_reports_show_fifty_a_page_waiting_first_then_newest(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    active_agreement: Any,  # noqa: F811
    file_report: Any,  # noqa: F811
) -> None:
    # Every period of every agreement was one table, four rows a year each.
    made = [active_agreement(vendor, SOFTWARE) for _ in range(13)]
    first = file_report(vendor, made[0], 1, [row(1, "A", quantity=60)]).report
    second = file_report(vendor, made[0], 2, [row(1, "A", quantity=70)]).report
    with time_machine.travel(AFTER[4], tick=False):
        portal = signed_in(client, vendor)
        page_one = portal.get("/portal/royalty-reports")
        assert page_one.status_code == 200
        assert "Reporting periods 1\u201350 of 52 \u00b7 page 1 of 2" in text_of(page_one)
        # The link names the last period shown, to read page 2 from it (round 56).
        assert 'href="/portal/royalty-reports?page=2&amp;after=' in page_one.get_data(as_text=True)
        assert first.reference not in text_of(page_one)
        page_two = portal.get("/portal/royalty-reports?page=2")
        assert "Reporting periods 51\u201352 of 52" in text_of(page_two)
        listed = text_of(page_two)
        # The filed periods come after every one waiting on the vendor, newest first.
        assert listed.index(second.reference) < listed.index(first.reference)


def _renew_after_two_quarters(vendor: Any, agreement: Any, file: Any) -> tuple[Any, Any]:
    """Quarter 1: 1,500 + 900 end users; quarter 2 adds 200 (2,600 to date); the
    renewal is then drawn on those figures."""
    file(vendor, agreement, 1, [row(1, "A", quantity=1500), row(1, "B", quantity=900)])
    second = file(
        vendor,
        agreement,
        2,
        [row(1, "A", quantity=1500), row(1, "B", quantity=900), row(1, "C", quantity=200)],
    ).report
    actor = Actor.of(accounts.principal_for(vendor))
    return agreements.start_renewal(agreement.id, actor, now=renewal_window(agreement)), second


def test_a_renewal_keeps_where_its_figures_came_from_for_staff_and_the_api(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    licensing_staff: Any,
    active_agreement: Any,  # noqa: F811
    file_report: Any,  # noqa: F811
) -> None:
    # Worked out when the page was drawn: a report filed after the renewal was made
    # changed what the renewal said of its own figures, and staff reviewing the
    # renewal, or a script reading it, were told nothing.
    agreement = active_agreement(vendor, SOFTWARE)
    renewal, second = _renew_after_two_quarters(vendor, agreement, file_report)
    assert renewal.uses[0].quantity == {"end_users": 2600}
    file_report(vendor, agreement, 3, [row(1, "D", quantity=400)])  # 3,000 to date now
    said = (
        f"End users: 2,600</strong> ·\n      from royalty report {second.reference} "
        f"for April 1, 2027 to June 30, 2027 (estimated 2,500 in {agreement.application.reference})"
    )
    staff_page = signed_in(client, licensing_staff).get(f"/console/applications/{renewal.id}")
    assert said in without_time_tags(staff_page.get_data(as_text=True))
    vendor_page = signed_in(client, vendor).get(f"/portal/applications/{renewal.id}")
    assert said in without_time_tags(vendor_page.get_data(as_text=True))

    for user in (vendor, licensing_staff):
        answer = client.get(f"/api/v1/applications/{renewal.id}", headers=bearer(user)).json
        assert answer["renewal_sources"] == [
            {
                "use": 1,
                "unit": "end_users",
                "quantity": 2600,
                "source": "report",
                "report": second.reference,
                "report_id": second.id,
                "period": {"start": "2027-04-01", "end": "2027-06-30"},
                "estimate": 2500,
                "estimate_from": agreement.application.reference,
            }
        ]
    plain = client.get(
        f"/api/v1/applications/{agreement.application.id}", headers=bearer(vendor)
    ).json
    assert plain["renewal_sources"] is None


def test_a_renewal_drawn_before_its_sources_were_kept_says_from_the_estimate(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    licensing_staff: Any,
    active_agreement: Any,  # noqa: F811
    file_report: Any,  # noqa: F811
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    renewal, _second = _renew_after_two_quarters(vendor, agreement, file_report)
    db.session().execute(
        update(Application).where(Application.id == renewal.id).values(renewal_sources_json=None)
    )
    page = signed_in(client, licensing_staff).get(f"/console/applications/{renewal.id}")
    assert "End users: 2,600</strong> ·\n      from the estimate" in page.get_data(as_text=True)
    answer = client.get(f"/api/v1/applications/{renewal.id}", headers=bearer(vendor)).json
    [figure] = answer["renewal_sources"]
    assert (figure["source"], figure["report"], figure["quantity"]) == ("estimate", None, 2600)
