"""Round 30: a report's rows (up to 200,000 of them) are written as CSV when asked,
on the API and the portal; they count in the documents budget (`DOCUMENT_RATE_LIMIT`)
with the PDFs and exports."""

from __future__ import annotations

from typing import Any

import pytest
import time_machine

from tests.integration.royalties.conftest import AFTER, SOFTWARE, row
from tests.support import factories


@pytest.fixture
def config_changes() -> dict[str, Any]:
    return {"document_rate_limit": "2 per minute"}


def test_a_reports_rows_count_in_the_documents_budget(
    client: Any, vendor: Any, active_agreement: Any
) -> None:
    agreement = active_agreement(vendor, SOFTWARE)
    headers = factories.bearer(vendor)
    body = {"attest": True, "rows": [row(1, "A", quantity=60)]}
    with time_machine.travel(AFTER[1], tick=False):
        filed = client.post(
            f"/api/v1/agreements/{agreement.id}/royalty-reports/2027-01-01",
            json=body,
            headers=headers,
        )
    assert filed.status_code == 201, filed.get_json()
    rows = f"/api/v1/royalty-reports/{filed.get_json()['id']}/rows"
    statuses = [client.get(rows, headers=headers).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]


def test_a_periods_template_counts_in_the_documents_budget_on_the_api_and_the_portal(
    client: Any, vendor: Any, active_agreement: Any, signed_in: Any, app: Any
) -> None:
    """Round 33: the template (prefilled from the last report) was outside the budget."""
    agreement = active_agreement(vendor, SOFTWARE)
    headers = factories.bearer(vendor)
    path = f"/api/v1/agreements/{agreement.id}/royalty-reports/2027-01-01/template"
    portal = f"/portal/royalty-reports/{agreement.id}/2027-01-01/template.csv"
    with time_machine.travel(AFTER[1], tick=False):
        browser = signed_in(app.test_client(), vendor)
        assert client.get(path, headers=headers).status_code == 200
        assert browser.get(portal).status_code == 200
        refused = client.get(path, headers=headers)
        assert refused.status_code == 429
        assert refused.mimetype == "application/problem+json"
        assert "Retry-After" in refused.headers
        assert browser.get(portal).status_code == 429
