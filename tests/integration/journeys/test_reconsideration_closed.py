"""Issue 15, item 8: a reconsideration window closed by `applications expire`
stays closed, whatever clock the vendor's request carries."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import services
from licensing.agreements.models import Application
from tests.integration.agreements.conftest import NOW, STAFF_USE
from tests.support.factories import bearer


def test_a_window_closed_by_the_expiry_run_refuses_a_later_request_with_409(
    client: Any, apply: Callable[..., Application], vendor: Any, licensing_staff: Any
) -> None:
    application = apply(vendor, STAFF_USE)
    # Rejected "in the future" so that the real clock is still inside the 14 days.
    rejected_at = NOW.replace(year=NOW.year + 5)
    services.reject(
        application.id,
        "Revenue not evidenced",
        Actor.of(accounts.principal_for(licensing_staff)),
        now=rejected_at,
    )
    report = services.expire(now=rejected_at + timedelta(days=15))
    assert report.windows_closed == [application.reference]

    refused = client.post(
        f"/api/v1/applications/{application.id}/reconsideration",
        json={"reason": "Audited accounts are attached."},
        headers=bearer(vendor),
    )
    assert refused.status_code == 409, refused.get_json()
    assert "final" in refused.get_json()["detail"]
