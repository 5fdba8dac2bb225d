"""Applications against the contract's example card (2027.1), with invented products."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from licensing import db
from licensing.accounts import services as accounts
from licensing.accounts.models import User
from licensing.actors import Actor
from licensing.agreements import services
from licensing.agreements.models import Application
from licensing.ratecards import services as ratecards
from licensing.royalties.services import Filing
from tests.integration.pricing.conftest import (
    card_document,
    example_card,  # noqa: F401 - the fixture
    example_document,
)
from tests.support import factories
from tests.support.agreements import accept, agreement_of, make_active_agreement
from tests.support.reporting_year import filed
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


# The renewal lock-order tests' (round 55): a renewed agreement, and a report under it.
DECEMBER = datetime(2027, 12, 2, 15, 0, tzinfo=UTC)


def renewal_drafted(app: Flask) -> tuple[int, int, int]:
    """A 2027 agreement and the draft of its renewal for 2028: the vendor's, the old
    agreement's and the draft application's ids."""
    with app.app_context():
        ratecards.import_card(example_document(), published_by="tests")
        ratecards.import_card(
            card_document(version="2028.1", effective_from="2028-01-01", effective_to="2028-12-31"),
            published_by="tests",
        )
        session = db.session()
        vendor, staff = factories.make_vendor(session), factories.make_staff(session)
        old_id = make_active_agreement(vendor, staff, AUTO_USE, now=NOW).id
        actor = Actor.of(accounts.principal_for(vendor))
        found = (vendor.id, old_id, services.start_renewal(old_id, actor, now=DECEMBER).id)
        session.commit()
        return found


def renewed(app: Flask, *, accepted: bool = False) -> tuple[int, int, int]:
    """A 2027 agreement and its renewal for 2028, issued (or `accepted`): the vendor's,
    the old agreement's and the renewal's ids."""
    vendor_id, old_id, draft_id = renewal_drafted(app)
    with app.app_context():
        session = db.session()
        vendor = session.get(User, vendor_id)
        assert vendor is not None
        actor = Actor.of(accounts.principal_for(vendor))
        renewal = services.submit(draft_id, actor, policy=issuing(), attest=True, now=DECEMBER)
        issued = agreement_of(renewal)
        if accepted:
            accept(issued, vendor, now=DECEMBER)
        found = (vendor.id, old_id, issued.id)
        session.commit()
        return found


def report(vendor_id: int, agreement_id: int) -> Callable[[], Filing]:
    """The first quarter's report (nothing used) filed under the agreement."""

    def filing_it() -> Filing:
        filer = db.session().get(User, vendor_id)
        return filed(filer, agreement_id, date(2027, 1, 1), [], now=DECEMBER)

    return filing_it
