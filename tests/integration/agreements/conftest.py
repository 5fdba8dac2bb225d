"""Applications against the contract's example card (2027.1), with invented products."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import services
from licensing.agreements.models import Application
from tests.integration.pricing.conftest import example_card  # noqa: F401 - the fixture
from tests.support.settings import issuing
from tests.support.uses import STAFF_USE as STAFF_USE  # distribution-data: staff review

# Monday 2026-11-02, 15:00 UTC: a fixed clock for time-based steps.
NOW = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)

AUTO_USE = {
    "product_name": "Scrubber Pro",
    "description": "Claims scrubbing for clinics",
    "use": "distribution",
    "product_type": "saas",
    "user_type": "provider",
    "delivery": "hosted",
    "territories": "United States",
    "languages": ["en"],
    "quantity": {"end_users": 2500},
}
# A flat development fee (due up front) beside AUTO_USE's per-user distribution
# royalties (reported later, so not invoiced at acceptance).
DEVELOPMENT_USE = {**AUTO_USE, "use": "development", "product_name": "Scrubber Pro SDK"}
# AUTO_USE at 10 end users: below its minimum, so an up-front invoice says so.
SMALL_USE = {**AUTO_USE, "product_name": "Clinic Pad", "quantity": {"end_users": 10}}


def draft(
    *uses: dict[str, Any], term: tuple[date, date] = (date(2027, 1, 1), date(2027, 12, 31))
) -> services.ApplicationDraft:
    """A draft of `uses` (the automatic use unless given) for `term`: 2027 on the
    example card unless told (browser tests pass this year's card's `CardYears` term,
    since a 2027 term is over from 2028 and waits for staff at submission)."""
    term_start, term_end = term
    return services.ApplicationDraft.from_fields(
        {"term_start": term_start, "term_end": term_end, "uses": uses or (AUTO_USE,)}
    )


@pytest.fixture
def apply(app: Flask, example_card: str) -> Callable[..., Application]:  # noqa: F811
    """`apply(vendor, *uses, submit=True)`: a draft (submitted unless told) by `vendor`."""

    def make(vendor: Any, *uses: dict[str, Any], submit: bool = True) -> Application:
        principal = accounts.principal_for(vendor)
        application = services.create_draft(Actor.of(principal), draft(*uses), now=NOW)
        if submit:
            application = services.submit(
                application.id, Actor.of(principal), policy=issuing(), attest=True, now=NOW
            )
        return application

    return make


@pytest.fixture
def staff(
    client: FlaskClient, signed_in: Callable[..., FlaskClient], licensing_staff: Any
) -> FlaskClient:
    """The test client, signed in as `licensing_staff` (the console's queue and
    its pages)."""
    return signed_in(client, licensing_staff)
