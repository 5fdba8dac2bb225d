"""Round 12: finance's agreements data and the loose ends of billing and royalties."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.royalties import services as royalties
from tests.integration.royalties.conftest import (  # noqa: F401 - the fixtures
    SOFTWARE,
    active_agreement,
    file_report,
    row,
    sent_back_and_corrected,
)
from tests.support import factories


def test_the_api_names_the_report_that_corrected_one_sent_back(
    client: FlaskClient,
    vendor: Any,
    licensing_staff: Any,
    active_agreement: Any,  # noqa: F811
    file_report: Any,  # noqa: F811
) -> None:
    """The pages say "Corrected by report RR-..." once the licensee amended a report
    staff sent back; the API still answered only `review_state: correction_requested`,
    as for a report whose correction is awaited. It now adds `corrected_by`."""
    agreement = active_agreement(vendor, SOFTWARE)
    first, corrected = sent_back_and_corrected(
        file_report, vendor, licensing_staff, agreement, extra=30
    )

    def read(report_id: int) -> dict[str, Any]:
        response = client.get(
            f"/api/v1/royalty-reports/{report_id}", headers=factories.bearer(vendor)
        )
        assert response.status_code == 200, response.get_data(as_text=True)
        document: dict[str, Any] = response.get_json()
        return document

    replaced = read(first.id)
    assert replaced["state"] == "superseded"
    assert replaced["review_state"] == "correction_requested"  # the states are unchanged
    assert replaced["corrected_by"] == {"id": corrected.id, "reference": corrected.reference}
    assert read(corrected.id)["corrected_by"] is None

    # Sent back and still awaited: nothing has corrected it yet.
    staff = Actor.of(accounts.principal_for(licensing_staff))
    royalties.review(corrected.id, "request_correction", staff, note="Clinic C too")
    waiting = read(corrected.id)
    assert waiting["review_state"] == "correction_requested"
    assert waiting["corrected_by"] is None

    spec = client.get("/api/v1/openapi.json").get_json()
    schema = spec["components"]["schemas"]["Report"]["properties"]["corrected_by"]
    assert {"$ref": "#/components/schemas/ReportRef"} in schema["anyOf"]
    assert any(choice.get("nullable") for choice in schema["anyOf"])
    assert set(spec["components"]["schemas"]["ReportRef"]["properties"]) == {"id", "reference"}
