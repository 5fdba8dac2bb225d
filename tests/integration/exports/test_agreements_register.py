"""The agreements register reads its agreements' uses without a query per
agreement (issue 16, "no N+1 on any list": the export of every agreement is the
largest list finance reads), and writes the same rows it wrote before (round 13).

Until round 13 `rows()` asked the database for each agreement's uses, one
statement per row: 10 agreements cost 10 statements more than none, 100 cost 100."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.accounts import services as accounts
from licensing.accounts.models import User
from licensing.actors import Actor
from licensing.agreements import services as agreements
from licensing.agreements.models import Agreement, Application, ApplicationUse
from licensing.ratecards import services as ratecards
from tests.integration.agreements.conftest import NOW, STAFF_USE
from tests.integration.exports.conftest import Ledger
from tests.integration.pricing.conftest import card_document
from tests.support import factories
from tests.support.agreements import accept, agreement_of
from tests.support.copies import copy_row
from tests.support.exports import statements_per_export
from tests.support.settings import issuing

SMALL, LARGE = 10, 100
DECEMBER = datetime(2027, 12, 2, 15, 0, tzinfo=UTC)
SECOND_HALF = {"term_start": date(2027, 7, 1), "term_end": date(2027, 12, 31)}

Export = Callable[..., str]

# The module runs on one worker: the exports ledger its tests read, made once a module
# and backend (`prepared_ledger`), was made again on each worker they were handed to
# (round 65).
pytestmark = pytest.mark.xdist_group("agreements_register")


@pytest.fixture
def export_csv(client: FlaskClient, billing_staff: User) -> Export:
    """`export_csv(**filters)`: the agreements export's CSV text, via the API."""
    headers = factories.bearer(billing_staff)

    def fetch(**filters: Any) -> str:
        response = client.get(
            "/api/v1/exports/agreements",
            query_string={"format": "csv", **filters},
            headers=headers,
        )
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_data(as_text=True)

    return fetch


def _copies(agreement_id: int, count: int, start: int) -> None:
    """`count` more agreements like `agreement_id`, each on an application (and
    uses) of its own, numbered on from `start`: as the register reads them."""
    session = db.session()
    agreement = session.get(Agreement, agreement_id)
    assert agreement is not None
    applications, uses = Application.__table__, ApplicationUse.__table__
    asked = select(uses.c.id).where(uses.c.application_id == agreement.application_id)
    for index in range(start, start + count):
        application_id = copy_row(applications, applications.c.id == agreement.application_id)  # type: ignore[arg-type]
        for use_id in session.scalars(asked).all():
            copy_row(uses, uses.c.id == use_id, application_id=application_id)  # type: ignore[arg-type]
        copy_row(
            Agreement.__table__,  # type: ignore[arg-type]
            Agreement.__table__.c.id == agreement_id,  # type: ignore[attr-defined]
            application_id=application_id,
            number=f"CPT-2027-9{index:05d}",
            pdf_sha256=f"{index:064d}",
            # each renewed by the original (round 17: `renewed_by`, in the same statements)
            superseded_by_id=agreement_id,
        )
    session.commit()


def test_an_agreements_export_runs_no_query_per_agreement(
    ledger: Ledger, export_csv: Export
) -> None:
    (agreement_id,) = db.session().scalars(select(Agreement.id)).all()
    _copies(agreement_id, SMALL - 1, 1)
    at_small = statements_per_export(export_csv)
    assert export_csv().count("\r\n") == 1 + SMALL
    _copies(agreement_id, LARGE - SMALL, SMALL)
    at_large = statements_per_export(export_csv)
    assert export_csv().count("\r\n") == 1 + LARGE
    assert at_large == at_small, f"statements at {SMALL} and {LARGE} agreements"
    original = db.session().get(Agreement, agreement_id)
    assert original is not None
    # The copies' renewed_by (then round 66's `priced` and `rate_card_in_effect`).
    assert export_csv().count(f",{original.number},rate_card,\r\n") == LARGE - 1


def _staff_edited(vendor: User) -> Agreement:
    """A half-year agreement for data-file royalties whose amount licensing staff
    changed on approval (the annual fee then scales as the card's amount does)."""
    actor = Actor.of(accounts.principal_for(vendor))
    fields = {**SECOND_HALF, "uses": ({**STAFF_USE, "revenue": "30000.00"},)}
    draft = agreements.ApplicationDraft.from_fields(fields)
    application = agreements.create_draft(actor, draft, now=NOW)
    agreements.submit(application.id, actor, policy=issuing(), attest=True, now=NOW)
    approved = agreements.approve(
        application.id,
        factories.staff_actor(),
        policy=issuing(),
        modifications=agreements.Modifications(
            lines=[agreements.LineChange(0, Decimal("2750.00"), "pilot rate")]
        ),
        now=NOW,
    )
    return agreement_of(approved)


def _renewed(old: Agreement, vendor: User) -> Agreement:
    ratecards.import_card(
        card_document(version="2028.1", effective_from="2028-01-01", effective_to="2028-12-31"),
        published_by="tests",
    )
    actor = Actor.of(accounts.principal_for(vendor))
    draft = agreements.start_renewal(old.id, actor, now=DECEMBER)
    renewal = agreement_of(
        agreements.submit(draft.id, actor, policy=issuing(), attest=True, now=DECEMBER)
    )
    return accept(renewal, vendor, now=DECEMBER)


@pytest.fixture
def varied(ledger: Ledger, vendor: User) -> dict[str, str]:
    """The ledger's agreement (distribution and development, active), its renewal
    for 2028, and a staff-edited half-year one of another licensee: what their
    rows print that the services chose (numbers, ids, names)."""
    (first,) = db.session().scalars(select(Agreement)).all()
    assert first.acceptance is not None
    owner = db.session().get(User, first.acceptance.user_id)
    assert owner is not None
    edited = _staff_edited(vendor)
    renewal = _renewed(first, owner)
    return {
        "first": first.number,
        "renewal": renewal.number,
        "edited": edited.number,
        "org_a": str(first.organization_id),
        "name_a": first.organization.legal_name,
        "org_v": str(vendor.organization_id),
        "name_v": edited.organization.legal_name,
    }


HEADER = (
    "schema_version,agreement_number,organization_id,organization,organization_type,state,"
    "term_start,term_end,rate_card,currency,term_fees,annual_fees,up_front_fees,uses,"
    "issued_date,activated_date,ended_date,renewal_of,charged_to_date,renewed_by,priced,"
    "rate_card_in_effect"
)
# As the register wrote them before round 13 (one query per agreement for its uses).
FIRST = (
    "1,{first},{org_a},{name_a},commercial,active,2027-01-01,2027-12-31,2027.1,USD,"
    "36300.00,36300.00,2500.00,distribution;development,2026-11-02,2026-11-02,,,2500.00,{renewal},"
    "rate_card,"
)
# 10% of 30000.00 set to 2750.00 by staff: a year's 5000.00 minimum scaled alike.
EDITED = (
    "1,{edited},{org_v},{name_v},commercial,issued,2027-07-01,2027-12-31,2027.1,USD,"
    "2750.00,4583.33,0.00,distribution,2026-11-02,,,,0.00,,rate_card,"
)
RENEWAL = (
    "1,{renewal},{org_a},{name_a},commercial,active,2028-01-01,2028-12-31,2028.1,USD,"
    "36300.00,36300.00,2500.00,distribution;development,2027-12-02,2027-12-02,,{first},2500.00,"
    ",rate_card,"
)
EXPECTED: tuple[tuple[dict[str, str], tuple[str, ...]], ...] = (
    ({}, (FIRST, EDITED, RENEWAL)),
    ({"use": "development"}, (FIRST, RENEWAL)),
    ({"use": "distribution"}, (FIRST, EDITED, RENEWAL)),
    ({"use": "translation"}, ()),
    ({"state": "active"}, (FIRST, RENEWAL)),
    ({"by": "issued", "from": "2026-11-01", "to": "2026-11-30"}, (FIRST, EDITED)),
)


@pytest.mark.parametrize(("given", "rows"), EXPECTED, ids=lambda v: str(v))
def test_the_register_writes_the_rows_it_wrote_before(
    varied: dict[str, str], export_csv: Export, given: dict[str, str], rows: tuple[str, ...]
) -> None:
    lines = [HEADER, *(row.format(**varied) for row in rows)]
    assert export_csv(**given) == "".join(f"{line}\r\n" for line in lines)
