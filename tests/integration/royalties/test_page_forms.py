"""Round 3: the royalty report pages read their fields through page forms. A NUL
typed or pasted into a row, the amendment's reason or the reviewer's note is told
beside that field with everything typed kept (the attestation ticked too), and a
refused filing or review is answered as refused (422), nothing stored. On both
backends."""

from __future__ import annotations

import html
import re
from typing import Any

import time_machine
from flask.testing import FlaskClient

from licensing import db
from licensing.royalties.models import RoyaltyReport
from tests.integration.royalties.conftest import (
    AFTER,
    SOFTWARE,
    flagged_report,
    period_url,
    reports_of,
    row,
    stored_rows,
    typed,
)
from tests.support.pages import text_of

NUL = "\x00"
MESSAGE = "Contains a character that cannot be stored (a NUL character): remove it."


def _page(response: Any) -> str:
    return html.unescape(response.get_data(as_text=True))


def _message_beside(page: str, field_id: str) -> str:
    found = re.search(rf'<p class="error" id="{field_id}-error">(.*?)</p>', page, re.S)
    assert found, f"no message beside {field_id}"
    return found.group(1)


def _input_value(page: str, field_id: str) -> str:
    found = re.search(
        rf'<input type="text" id="{field_id}" name="{field_id}" value="([^"]*)"', page
    )
    assert found, f"no input {field_id}"
    return found.group(1)


def _textarea(page: str, field_id: str) -> str:
    found = re.search(rf'<textarea id="{field_id}"[^>]*>(.*?)</textarea>', page, re.S)
    assert found, f"no textarea {field_id}"
    return found.group(1)


def _ticked(page: str, field_id: str) -> bool:
    found = re.search(rf'<input type="checkbox" id="{field_id}"[^>]*>', page)
    assert found, f"no checkbox {field_id}"
    return " checked" in found.group(0)


def test_a_nul_in_a_typed_row_is_told_beside_its_cell_with_every_row_kept(
    client: FlaskClient, signed_in: Any, vendor: Any, active_agreement: Any
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    rows = typed(
        row(1, "A", quantity=60, customer_name="Clinic A"),
        row(1, "B", quantity=30, customer_name=f"Clinic{NUL} B"),
    )
    with time_machine.travel(AFTER[1], tick=False):
        signed_in(client, vendor)
        refused = client.post(
            period_url(agreement, 1),
            data={"mode": "form", "action": "submit", "attest": "yes", **rows},
        )
    page = _page(refused)
    assert refused.status_code == 422
    assert refused.mimetype == "text/html"
    assert NUL not in page
    assert MESSAGE in _message_beside(page, "rows-2-customer_name")
    assert "Row 2, customer name: " + MESSAGE in text_of(refused)
    assert _input_value(page, "rows-2-customer_name") == "Clinic\ufffd B"
    assert _input_value(page, "rows-1-customer_name") == "Clinic A"
    assert _input_value(page, "rows-2-quantity") == "30"
    assert _ticked(page, "attest-form")
    assert reports_of(agreement) == []
    assert stored_rows() == 0


def test_a_nul_in_an_amendments_reason_is_told_beside_it_and_the_amendment_kept(
    client: FlaskClient, signed_in: Any, vendor: Any, active_agreement: Any, file_report: Any
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    first = file_report(vendor, agreement, 1, [row(1, "A", quantity=60)])
    with time_machine.travel(AFTER[2], tick=False):
        signed_in(client, vendor)
        refused = client.post(
            period_url(agreement, 1),
            data={
                "mode": "nil",
                "action": "submit",
                "attest": "yes",
                "amends": first.report.id,
                "reason": f"Clinic A{NUL} closed",
            },
        )
    page = _page(refused)
    assert refused.status_code == 422
    assert MESSAGE in _message_beside(page, "reason-nil")
    assert _textarea(page, "reason-nil") == "Clinic A\ufffd closed"
    assert _ticked(page, "attest-nil")
    assert [report.id for report in reports_of(agreement)] == [first.report.id]


def test_a_refused_filing_keeps_the_attestation_ticked_and_answers_422(
    client: FlaskClient, signed_in: Any, vendor: Any, active_agreement: Any
) -> None:
    # Before, the box came back empty: a vendor who fixed the country was refused
    # again for the attestation they had given.
    agreement = active_agreement(vendor, SOFTWARE)
    rows = typed(row(1, "A", quantity=60, country="ZZ"))
    with time_machine.travel(AFTER[1], tick=False):
        signed_in(client, vendor)
        refused = client.post(
            period_url(agreement, 1),
            data={"mode": "form", "action": "submit", "attest": "yes", **rows},
        )
        unticked = client.post(
            period_url(agreement, 1), data={"mode": "form", "action": "submit", **rows}
        )
    assert refused.status_code == 422
    assert "Row 1, country: Not an ISO 3166-1 alpha-2 country code" in text_of(refused)
    assert _ticked(_page(refused), "attest-form")
    assert not _ticked(_page(unticked), "attest-form")
    assert reports_of(agreement) == []


def test_a_nul_in_the_reviewers_note_is_told_beside_it_and_the_note_kept(
    client: FlaskClient,
    signed_in: Any,
    vendor: Any,
    licensing_staff: Any,
    active_agreement: Any,
    file_report: Any,
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    flagged = flagged_report(file_report, vendor, agreement)
    assert flagged.review_state == "flagged"
    with time_machine.travel(AFTER[3], tick=False):
        signed_in(client, licensing_staff)
        refused = client.post(
            f"/console/royalty-reports/{flagged.id}",
            data={"action": "request_correction", "note": f"Clinic B{NUL} is missing."},
        )
    page = _page(refused)
    assert refused.status_code == 422
    assert NUL not in page
    assert MESSAGE in _message_beside(page, "note")
    assert _textarea(page, "note") == "Clinic B\ufffd is missing."
    report = db.session().get(RoyaltyReport, flagged.id)
    db.session().refresh(report)
    assert report.review_state == "flagged"
