"""Round 56: one rule for the figures typed in a page's form (`money.ungrouped`),
tested over every money and count field of the vendor's and the office's pages
but billing's (`billing/test_typed_amounts.py`) and the royalty rows'
(`royalties/test_typed_figures.py`): the estimator's and the application's revenue
and quantities, the console's new amount on approval, a permission request's
audience. Pages write figures grouped ("80,000.00", "2,500"), so a figure typed as
they write it is read; a comma anywhere else is refused with the field's message.
Until round 56 every comma was dropped: "80000,00" (a decimal comma) was read as
8,000,000.00 and priced, "7500,00" approved as 750,000.00, "1,20" taken as 120.

The API takes the contracts' decimal strings only: every money field of every API
schema refuses "1,000.00"."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import marshmallow as ma
import pytest
from flask import Flask
from flask.testing import FlaskClient

from licensing import db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import services as agreements
from licensing.agreements.models import Application
from licensing.api.base import ApiSchema
from licensing.api.fields import DecimalText
from licensing.money import format_amount
from licensing.permissions.models import PermissionRequest
from tests.integration.agreements.conftest import (  # noqa: F401 - `apply` is a fixture
    AUTO_USE,
    NOW,
    STAFF_USE,
    apply,
)
from tests.integration.permissions.conftest import request_fields
from tests.integration.pricing.conftest import example_card  # noqa: F401 - the fixture
from tests.support import factories

# A comma that separates no thousands: a decimal comma, a misplaced group, a stray one.
MISPLACED = ["80000,00", "8,0000.00", "80,00.00", "80,,000.00", ",80000", "80000,", "0,800"]


def _page(response: Any) -> str:
    return html.unescape(response.get_data(as_text=True))


def _estimate(client: FlaskClient, **fields: str) -> str:
    query = {
        "organization_type": "commercial",
        "term_start": "2027-01-01",
        "term_end": "2027-12-31",
        "rate_card": "",
        "uses-0-use": "distribution",
        "uses-0-product_type": "data_file",
        "uses-0-user_type": "provider",
        "uses-0-description": "Code feed",
        **fields,
    }
    response = client.get("/estimate?" + urlencode(query))
    assert response.status_code == 200
    return _page(response)


# --- the estimator and the application ------------------------------------------------


@pytest.mark.usefixtures("example_card")
def test_the_estimators_revenue_typed_as_pages_write_it_is_priced_for_that_amount(
    client: FlaskClient,
) -> None:
    page = _estimate(client, **{"uses-0-revenue": "80,000.00"})
    assert "8,000.00 USD" in page  # 10% of 80,000.00
    assert "Enter an amount" not in page


@pytest.mark.parametrize("typed", MISPLACED)
@pytest.mark.usefixtures("example_card")
def test_the_estimators_revenue_with_a_comma_not_between_thousands_is_refused(
    client: FlaskClient, typed: str
) -> None:
    page = _estimate(client, **{"uses-0-revenue": typed})
    assert "Enter an amount such as 120000.00" in page
    assert "800,000.00" not in page
    assert "8,000,000.00" not in page


@pytest.mark.usefixtures("example_card")
def test_the_estimators_quantity_is_read_by_the_same_rule(client: FlaskClient) -> None:
    fields = {"uses-0-product_type": "saas", "uses-0-quantity-end_users": "2,500"}
    assert "Enter a whole number" not in _estimate(client, **fields)
    refused = _estimate(client, **{**fields, "uses-0-quantity-end_users": "25,00"})
    assert "Enter a whole number, 0 or more." in refused


def _application_fields(**overrides: str) -> dict[str, str]:
    fields = {f"uses-0-{name}": str(value) for name, value in STAFF_USE.items()}
    fields.update({"term_start": "2027-01-01", "term_end": "2027-12-31", "uses-0-languages": "en"})
    fields.update(overrides)
    return fields


@pytest.mark.usefixtures("example_card")
def test_the_applications_revenue_is_read_by_the_same_rule(
    client: FlaskClient, vendor: Any, signed_in: Any
) -> None:
    signed_in(client, vendor)
    refused = client.post(
        "/portal/applications/new", data=_application_fields(**{"uses-0-revenue": "80000,00"})
    )
    assert refused.status_code == 422
    assert "Enter an amount such as 120000.00" in _page(refused)
    assert db.session().query(Application).count() == 0
    saved = client.post(
        "/portal/applications/new", data=_application_fields(**{"uses-0-revenue": "80,000.00"})
    )
    assert saved.status_code == 302, _page(saved)[:2000]
    application = db.session().query(Application).one()
    assert [use.revenue for use in application.uses] == [Decimal("80000.00")]


# --- the console's approval -----------------------------------------------------------


def _in_review(apply: Any, vendor: Any, licensing_staff: Any) -> Application:  # noqa: F811
    application: Application = apply(vendor, AUTO_USE, STAFF_USE)
    agreements.start_review(
        application.id, Actor.of(accounts.principal_for(licensing_staff)), now=NOW
    )
    return application


@pytest.mark.parametrize("typed", ["7500,00", "7,50.00", "75,00"])
def test_an_approval_amount_with_a_comma_not_between_thousands_is_refused_beside_it(
    typed: str,
    apply: Any,  # noqa: F811 - the fixture
    vendor: Any,
    licensing_staff: Any,
    signed_in: Any,
    client: FlaskClient,
) -> None:
    application = _in_review(apply, vendor, licensing_staff)
    signed_in(client, licensing_staff)
    refused = client.post(
        f"/console/applications/{application.id}/approve",
        data={"amount-1": typed, "reason-1": "pilot rate"},
    )
    page = _page(refused)
    assert refused.status_code == 422
    found = re.search(r'id="amount-1-error">([^<]*)<', page)
    assert found
    assert found.group(1) == 'Enter an amount such as "1250.00".'
    db.session().refresh(application)
    assert application.state == "in_review"


# --- a permission request's audience --------------------------------------------------


@pytest.mark.parametrize("typed", ["1,20", "12,00", "1,2000"])
def test_an_audience_with_a_comma_not_between_thousands_is_refused(
    client: FlaskClient, typed: str
) -> None:
    refused = client.post("/permissions/request", data=request_fields(audience_size=typed))
    assert refused.status_code == 422
    assert "Give the audience size as a whole number." in _page(refused)
    assert db.session().query(PermissionRequest).count() == 0


# --- the API: the contracts' decimal strings only --------------------------------------


def _schemas(cls: type[Any]) -> Iterator[type[Any]]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _schemas(sub)


def _money_fields(schema: ma.Schema, path: str = "") -> Iterator[tuple[str, ma.fields.Field]]:
    for name, field in schema.fields.items():
        inner = field.inner if isinstance(field, ma.fields.List) else field
        if isinstance(inner, ma.fields.Nested) and isinstance(inner.schema, ma.Schema):
            yield from _money_fields(inner.schema, f"{path}{name}.")
        elif isinstance(inner, DecimalText) and not field.dump_only:
            yield f"{path}{name}", inner


def test_every_api_money_field_refuses_an_amount_with_thousands_grouped(app: Flask) -> None:
    found = {
        f"{schema.__name__}.{path}": field
        for schema in _schemas(ApiSchema)
        if not schema.__name__.startswith("Generated")
        for path, field in _money_fields(schema())
    }
    # The fields that take money or revenue in a request body, at least these.
    assert {
        "OfflinePaymentInputSchema.amount",
        "CreditNoteInputSchema.amount",
        "RefundInputSchema.amount",
        "LineChangeSchema.amount",
        "LineInputSchema.amount",
    } <= set(found), sorted(found)
    assert any(path.endswith("revenue") for path in found), sorted(found)
    for path, field in found.items():
        assert field.deserialize("1000.00") == Decimal("1000.00"), path
        with pytest.raises(ma.ValidationError, match="Must be a decimal number"):
            field.deserialize("1,000.00")


@pytest.mark.usefixtures("example_card")
def test_the_quote_and_application_endpoints_refuse_a_grouped_revenue(
    client: FlaskClient, vendor: Any
) -> None:
    use = {**STAFF_USE, "revenue": "80,000.00"}
    quote = client.post(
        "/api/v1/quotes",
        json={
            "organization_type": "commercial",
            "term": {"start": "2027-01-01", "end": "2027-12-31"},
            "uses": [use],
        },
    )
    assert quote.status_code == 422
    assert "uses.0.revenue" in str(quote.get_json()["errors"])
    body = {"term_start": "2027-01-01", "term_end": "2027-12-31", "uses": [use]}
    made = client.post("/api/v1/applications", json=body, headers=factories.bearer(vendor))
    assert made.status_code == 422
    assert "revenue" in str(made.get_json()["errors"])
    assert format_amount(Decimal("80000"), "USD") == "80000.00"  # what the API writes
