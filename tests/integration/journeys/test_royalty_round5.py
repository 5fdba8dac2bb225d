"""Round 5 of the journeys: the royalty cycle's loose ends, as a vendor's billing
contact, licensing and billing staff and an administrator reading the audit log
meet them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import time_machine
from flask.testing import FlaskClient

from tests.integration.royalties.conftest import (  # noqa: F401 - the fixtures
    AFTER,
    SOFTWARE,
    active_agreement,
    file_report,
    row,
)

SignIn = Callable[..., FlaskClient]


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
