"""No list page runs a query per row: the SQL statements a page issues do not grow
with its records (checked at 10 and at 100 of them, on both backends).

The application lists show a page of `paging.PER_PAGE` rows (at 100 records, page 2
is asked too); their statements must not grow with the pages behind them either.

Each page is asked twice at each size and the second request is counted, so caches
filled on first use (rate cards, sessions) do not blur the figure. The difference
allowed, `SLACK`, covers a page that shows one extra summary when it has more rows.

Round 64: the first 10 records of each kind are made through the services; the other
90 are copies of the rows the tenth's making wrote (`tests/support/copies.py`,
`copy_rows_since`), each copy's rows naming each other as the originals do (an
invoice's agreement or report, an audit event's record, the clerk of a credit note),
so a list reading a record of a row reads the copy's own, as it would a made one's.
Making the 90 through the services was some three quarters of the test's time.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from licensing import db
from licensing.agreements.models import Agreement
from licensing.billing import services
from licensing.billing.models import CreditNote
from tests.integration.agreements.conftest import STAFF_USE
from tests.integration.agreements.conftest import apply as apply
from tests.integration.permissions.conftest import routed_use, send_routed
from tests.integration.pricing.conftest import example_card as example_card
from tests.integration.royalties.conftest import (  # noqa: F401 - fixtures
    SMALL_SOFTWARE,
    active_agreement,
    file_report,
    row,
)
from tests.support import factories
from tests.support.agreements import up_front_invoice
from tests.support.copies import copy_rows_since, last_ids
from tests.support.statements import statements_for

SMALL, LARGE = 10, 100
SLACK = 2

VENDOR_PAGES = (
    "/portal/",
    "/portal/applications",
    "/portal/applications?state=submitted&page=2",
    "/portal/agreements",
    "/portal/invoices",
    "/portal/royalty-reports",
    "/portal/royalty-reports?page=2",
    # periods62: only the periods still owed on (every seeded one: amended up, unpaid).
    "/portal/royalty-reports?state=owing",
    "/portal/statement",
    "/account/tokens",
    "/portal/permissions/",
    "/portal/permissions/?page=2",
    "/organization",
    "/organization?page=2",
)
STAFF_PAGES = (
    "/console/",
    "/console/applications",
    "/console/applications?state=submitted&state=approved&state=draft",
    "/console/applications?page=2&sort=organization",
    "/console/agreements",
    "/console/agreements/renewals-due",
    "/console/agreements/renewals-due?page=2",
    "/console/agreements/expired-unrenewed",
    "/console/agreements/expired-unrenewed?sort=chased&chased=over",
    "/console/agreements/past-term",
    "/console/applications/reconsideration-open",
    "/console/invoices",
    "/console/invoices?overdue=1",
    "/console/finance/",
    "/console/organizations",
    "/console/users",
    "/console/permissions/",
    "/console/permissions/?ending=1",
    "/console/permissions/?sort=use_from",
    "/console/permissions/?page=2",
    "/console/permissions/?sort=use_from&state=&page=2",
    "/console/royalty-reports",
    "/console/royalty-reports?page=2",
    "/console/royalty-reports?state=submitted",
    "/console/royalty-reports?state=owing",
    "/console/rate-cards/",
    "/console/audit",
    "/console/audit?page=2",
    "/console/outbox",
    # Round 56: the list pages the test did not visit (each is a page of rows).
    "/console/payments/to-review",
    "/console/disputes",
    "/console/billing/statements-changed",
    "/console/jobs",
)
VENDOR_API = (
    "/api/v1/applications",
    "/api/v1/agreements",
    "/api/v1/invoices",
    "/api/v1/credit-notes",
    "/api/v1/tokens",
    "/api/v1/rate-cards",
)
STAFF_API = (
    "/api/v1/applications",
    "/api/v1/agreements",
    "/api/v1/invoices",
    "/api/v1/payments",
    "/api/v1/credit-notes",
    "/api/v1/organizations",
    "/api/v1/users",
    "/api/v1/permission-requests",
    "/api/v1/permission-requests?ending=true",
    "/api/v1/permission-requests?sort=use_from",
    "/api/v1/audit-events",
    "/api/v1/outbox-messages",
    "/api/v1/disputes",
    "/api/v1/disputes/unmatched",
    "/api/v1/jobs",
    "/api/v1/rate-cards",
)


@pytest.fixture
def seed(
    app: Flask,
    vendor: Any,
    apply: Callable[..., Any],
    active_agreement: Callable[..., Any],  # noqa: F811
    file_report: Callable[..., Any],  # noqa: F811
) -> Callable[..., None]:
    """`seed(n)`: n more of every listed record, the vendor's own where they can be:
    organizations with a user each, applications awaiting staff, active agreements
    with their invoices (each credited once, and the first invoice once more each
    time: one invoice's list grows too), royalty reports (each amended, so that a
    period has two invoices), and permission requests
    (audit events and outbox messages come with them). `seed(n, copied=True)`: n
    copies of the rows the last one made through the services wrote."""
    made: dict[str, Any] = {"count": 0, "first_invoice": 0, "since": None}
    organization = vendor.organization

    def more(count: int, copied: bool = False) -> None:
        if copied:
            assert made["since"] is not None, "nothing made through the services to copy"
            copy_rows_since(made["since"], count)
            return
        for _ in range(count):
            made["since"] = last_ids()
            index = made["count"] = made["count"] + 1
            factories.make_vendor(db.session())
            apply(vendor, STAFF_USE)
            agreement = active_agreement(vendor, SMALL_SOFTWARE)
            # A credit note on its up-front invoice, for the credit notes' list (round 40).
            invoice_id = up_front_invoice(agreement).id
            services.issue_credit_note(
                invoice_id,
                amount=Decimal("1.00"),
                reason="Goodwill.",
                actor=factories.billing_clerk(),
            )
            # One invoice's notes grow with the rest (`GET /invoices/{id}/credit-notes`,
            # round 42: it read each note's refunds with a query of its own).
            made["first_invoice"] = made["first_invoice"] or invoice_id
            if made["first_invoice"] != invoice_id:
                services.issue_credit_note(
                    made["first_invoice"],
                    amount=Decimal("0.01"),
                    reason="Goodwill again.",
                    actor=factories.billing_clerk(),
                )
            # Filed, then amended up: each report invoices its part of the period's
            # royalty, and the royalty lists name both invoices (round 56).
            filed = file_report(vendor, agreement, 1, [row(1, f"C-{index}", quantity=100)])
            file_report(
                vendor,
                agreement,
                1,
                [row(1, f"C-{index}", quantity=120)],
                amends=filed.report.id,
                reason="Recounted.",
            )
            # Each asked by a user of their own, whom the lists name as they are now.
            requester = factories.make_vendor(db.session(), organization)
            send_routed(
                routed_use(
                    organization.id,
                    organization.legal_name,
                    application_id=90000 + index,
                    requester_email=requester.email,
                    requester_user_id=requester.id,
                )
            )
        db.session().commit()

    return more


def counts(
    app: Flask, clients: list[tuple[str, FlaskClient, tuple[str, ...], dict[str, Any]]]
) -> dict[str, int]:
    """Statements per page, keyed `who url`."""
    found: dict[str, int] = {}
    for who, client, urls, kwargs in clients:
        for url in urls:
            found[f"{who} {url}"] = statements_for(app, client, url, **kwargs)
    return found


def test_no_list_page_or_api_list_runs_a_query_per_record(
    app: Flask,
    vendor: Any,
    admin: Any,
    seed: Callable[..., None],
    signed_in: Callable[..., FlaskClient],
) -> None:
    vendor_client = signed_in(app.test_client(), vendor)
    staff_client = signed_in(app.test_client(), admin)
    vendor_api = {"headers": factories.bearer(vendor)}
    staff_api = {"headers": factories.bearer(admin)}
    # The console's page of the vendor's organization, whose members the seeding adds
    # (round 47: it listed every member and invitation).
    own = f"/console/organizations/{vendor.organization_id}"
    clients = [
        ("vendor", vendor_client, VENDOR_PAGES, {}),
        ("staff", staff_client, (*STAFF_PAGES, own, f"{own}?page=2"), {}),
        ("vendor", app.test_client(), VENDOR_API, vendor_api),
        ("staff", app.test_client(), STAFF_API, staff_api),
    ]

    seed(SMALL)
    # The first invoice's credit notes, which every seeding adds to (round 42).
    first = db.session().scalars(select(CreditNote.invoice_id).order_by(CreditNote.id)).first()
    one_invoice = (f"/api/v1/invoices/{first}/credit-notes",)
    clients += [
        ("vendor", app.test_client(), one_invoice, vendor_api),
        ("staff", app.test_client(), one_invoice, staff_api),
    ]
    at_small = counts(app, clients)
    seed(LARGE - SMALL, copied=True)
    # The copies are the vendor's records as the services' are (a copy lost or made
    # another's would leave the lists at 10).
    agreements = select(func.count(Agreement.id)).where(
        Agreement.organization_id == vendor.organization_id
    )
    assert db.session().scalar(agreements) == LARGE
    at_large = counts(app, clients)

    growing = {
        url: (at_small[url], at_large[url])
        for url in at_small
        if at_large[url] - at_small[url] > SLACK
    }
    assert growing == {}, f"statements at {SMALL} and {LARGE} records: {growing}"
