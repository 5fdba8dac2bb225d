"""Round 7's follow-ups: loose ends the day's engineers found (docs/journeys.md,
"Round 7: follow-ups")."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import services as agreements
from licensing.arguments import field_message, message
from licensing.billing.models import Invoice
from tests.integration.agreements.conftest import NOW, draft
from tests.integration.pricing.conftest import example_card  # noqa: F401 - the fixture
from tests.support.agreements import accept, agreement_of
from tests.support.console import REPEATED_FILTERS
from tests.support.factories import bearer
from tests.support.pages import text_of
from tests.support.settings import issuing

SignIn = Callable[..., FlaskClient]

# No rule of the example card matches a derivative work of an AI model: the
# quote leaves the use unpriced ("licensing staff will price this use by hand").
UNMATCHED_USE = {
    "product_name": "Larkspur Coding Model",
    "description": "A model trained to suggest codes",
    "use": "derivative_work",
    "product_type": "ai_model",
    "user_type": "provider",
    "delivery": "hosted",
    "territories": "United States",
    "languages": ["en"],
    "revenue": "60000.00",
}


def test_a_use_priced_by_staff_on_approval_is_invoiced_up_front_on_acceptance(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    licensing_staff: Any,
    example_card: str,  # noqa: F811
) -> None:
    # The amount staff set for a use no rule priced is the use's fee for the term
    # (`LicensedUse.amount`), and nothing else ever invoices it (such a line has
    # no royalty reports): acceptance charges it whole, with its working.
    vendor_actor = Actor.of(accounts.principal_for(vendor))
    reviewer = Actor.of(accounts.principal_for(licensing_staff))
    application = agreements.create_draft(vendor_actor, draft(UNMATCHED_USE), now=NOW)
    agreements.submit(application.id, vendor_actor, policy=issuing(), attest=True, now=NOW)
    agreements.start_review(application.id, reviewer, now=NOW)
    change = agreements.LineChange(0, Decimal("1800.00"), "The office's fee for a coding model")
    agreements.approve(
        application.id,
        reviewer,
        policy=issuing(),
        modifications=agreements.Modifications(lines=[change]),
        now=NOW,
    )
    agreement = agreement_of(application)
    accept(agreement, vendor, now=NOW)

    invoice = db.session().scalars(select(Invoice)).one()
    assert invoice.source_reference == agreement.number
    assert invoice.total == Decimal("1800.00")
    [line] = invoice.lines
    assert (
        line.description
        == "Larkspur Coding Model: Create a derivative work; AI model for provider users"
    )
    assert "amended by the licensor from unpriced to 1800.00: The office" in line.working
    assert line.working.endswith("charged now (flat fees and the minimum's lift): 1800.00 USD")
    signed_in(client, vendor)
    page = text_of(client.get(f"/portal/agreements/{agreement.id}"))
    listed = client.get("/api/v1/agreements", headers=bearer(vendor)).get_json()
    # The page of an agreement without royalties on usage names its total, charged whole.
    assert "Total for the term 1,800.00 USD" in page
    assert [item["charged_to_date"] for item in listed] == ["1800.00"]


def test_the_audit_csv_refuses_a_filter_given_twice_and_exports_nothing(
    client: FlaskClient, signed_in: SignIn, admin: Any
) -> None:
    # It exported by the first value, where the audit page refuses the filter.
    response = signed_in(client, admin).get("/console/audit.csv?action=invoice.&action=payment.")
    assert response.status_code == 400
    assert response.mimetype == "text/html"
    assert field_message("Action", 2) in text_of(response)
    assert "Nothing is listed until the filters above are corrected." in text_of(response)


PAGED_LISTS = [
    ("admin", "/console/audit?page=2&page=1"),
    ("admin", "/console/outbox?page=2&page=1"),
    ("billing_staff", "/console/invoices?page=2&page=1"),
    ("licensing_staff", "/console/applications?page=2&page=1"),
    ("licensing_staff", "/console/royalty-reports?page=2&page=1"),
]


@pytest.mark.parametrize(("who", "url"), PAGED_LISTS)
def test_a_list_page_refuses_page_given_twice_rather_than_reading_the_first(
    request: pytest.FixtureRequest, client: FlaskClient, signed_in: SignIn, who: str, url: str
) -> None:
    response = signed_in(client, request.getfixturevalue(who)).get(url)
    assert response.status_code == 400, url
    assert response.mimetype == "text/html"
    # Named as a page names its filters (round 8), not "Give page once".
    assert field_message("Page", 2) in text_of(response)
    assert message("page", 2) not in text_of(response)


@pytest.mark.parametrize(("who", "url", "name", "label"), REPEATED_FILTERS)
def test_every_list_with_a_refused_filter_says_nothing_is_listed_until_it_is_corrected(
    request: pytest.FixtureRequest,
    client: FlaskClient,
    signed_in: SignIn,
    who: str,
    url: str,
    name: str,
    label: str,
) -> None:
    # The queues, the organizations and the invoices showed nothing at all where
    # the other lists said why.
    page = signed_in(client, request.getfixturevalue(who)).get(url)
    assert page.status_code == 400
    assert "Nothing is listed until the filters above are corrected." in text_of(page)


def test_the_invoice_list_with_a_refused_filter_says_nothing_is_listed(
    client: FlaskClient, signed_in: SignIn, billing_staff: Any
) -> None:
    page = signed_in(client, billing_staff).get("/console/invoices?state=open&state=paid")
    assert page.status_code == 400
    assert "Nothing is listed until the filters above are corrected." in text_of(page)


class _Replaced(Exception):
    """`os.execv` in `licensing serve`: the test stops there, the server unstarted."""


def _serve(app: Any, monkeypatch: pytest.MonkeyPatch, *options: str) -> list[str]:
    def replace(path: str, argv: list[str]) -> None:
        raise _Replaced(argv)

    monkeypatch.setattr("licensing.cli.os.execv", replace)
    from licensing import cli

    result = app.test_cli_runner().invoke(cli.serve, ["--bind", "127.0.0.1:5290", *options])
    assert isinstance(result.exception, _Replaced)
    return result.output.splitlines()


def test_serving_several_workers_with_limits_in_memory_warns_that_each_worker_counts_alone(
    app: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # With three workers, a 10-a-minute sign-up limit let 26 of 30 through: each
    # worker kept its own counts in its own memory.
    app.config.update(RATELIMIT_STORAGE_URI="memory://", RATELIMIT_ENABLED=True)
    with caplog.at_level("WARNING", logger="licensing.serve"):
        output = _serve(app, monkeypatch, "--workers", "3")
    [warning] = [r.getMessage() for r in caplog.records if r.name == "licensing.serve"]
    assert warning.startswith("Rate limits are counted per worker: 3 workers each keep")
    assert "RATELIMIT_STORAGE_URI" in warning
    assert "redis://" in warning
    assert "up to 3 times" in warning
    assert output == []  # nothing bare on standard output (round 36: `Serving on` is logged)


@pytest.mark.parametrize(
    ("options", "storage"),
    [
        (("--workers", "1"), "memory://"),
        (("--workers", "3"), "redis://localhost:6379/0"),
    ],
)
def test_one_worker_or_a_shared_store_serves_without_the_warning(
    app: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    options: tuple[str, ...],
    storage: str,
) -> None:
    app.config.update(RATELIMIT_STORAGE_URI=storage, RATELIMIT_ENABLED=True)
    with caplog.at_level("WARNING", logger="licensing.serve"):
        _serve(app, monkeypatch, *options)
    assert [r for r in caplog.records if r.name == "licensing.serve"] == []
