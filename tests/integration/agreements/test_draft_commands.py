"""Issue 11, item 4: one validation path. The page form and the API check the
shape and build the same `ApplicationDraft`; the use case checks business rules."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.datastructures import MultiDict

from licensing import db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import forms, services
from licensing.agreements.commands import ApplicationDraft, ProposedUseInput
from licensing.agreements.models import (
    DESCRIPTION_MAX,
    LANGUAGES_MAX,
    MAX_USES,
    PRODUCT_NAME_MAX,
    Application,
)
from licensing.api.applications import ApplicationInputSchema
from licensing.errors import InvalidInput
from licensing.pricing import ProposedUse
from tests.integration.agreements.conftest import AUTO_USE, NOW
from tests.support.factories import bearer

PAGE = {
    "term_start": "2027-01-01",
    "term_end": "2027-12-31",
    "rate_card": "2027.1",
    "uses-0-product_name": "  Scrubber   Pro ",
    "uses-0-description": " Claims scrubbing for clinics\n",
    "uses-0-use": "distribution",
    "uses-0-product_type": "saas",
    "uses-0-user_type": "provider",
    "uses-0-delivery": "hosted",
    "uses-0-territories": "United States,  Canada",
    "uses-0-languages": "en, fr,en",
    "uses-0-revenue": "120,000.50",
    "uses-0-quantity-end_users": "2,500",
}
BODY = {
    "term_start": "2027-01-01",
    "term_end": "2027-12-31",
    "rate_card": "2027.1",
    "uses": [
        {
            **AUTO_USE,
            "territories": "United States, Canada",
            "languages": ["en", "fr", "en"],
            "revenue": "120000.50",
        }
    ],
}


def _from_page(app: Flask, fields: dict[str, str]) -> forms.ApplicationForm:
    with app.test_request_context(method="POST", data=fields):
        form = forms.application_form(["end_users"], MultiDict(fields))
        form.validate()
        return form


def test_the_page_form_and_the_api_body_make_the_same_draft(app: Flask) -> None:
    form = _from_page(app, PAGE)
    assert forms.error_paths(form) == {}
    from_api = ApplicationDraft.from_fields(ApplicationInputSchema().load(BODY))
    assert form.command() == from_api
    assert from_api == ApplicationDraft(
        term_start=date(2027, 1, 1),
        term_end=date(2027, 12, 31),
        rate_card="2027.1",
        uses=(
            ProposedUseInput(
                product_name="Scrubber Pro",
                description="Claims scrubbing for clinics",
                use="distribution",
                product_type="saas",
                user_type="provider",
                delivery="hosted",
                territories="United States, Canada",
                languages=("en", "fr"),
                quantity={"end_users": 2500},
                revenue=Decimal("120000.50"),
            ),
        ),
    )


@pytest.mark.parametrize(
    ("field", "value", "path"),
    [
        ("uses-0-product_name", "x" * (PRODUCT_NAME_MAX + 1), "uses.0.product_name"),
        ("uses-0-description", "x" * (DESCRIPTION_MAX + 1), "uses.0.description"),
        ("uses-0-languages", ", ".join(f"l{i}" for i in range(LANGUAGES_MAX)), "uses.0.languages"),
        (
            "uses-0-quantity-end_users",
            str(ProposedUse.MAX_QUANTITY + 1),
            "uses.0.quantity.end_users",
        ),
        ("uses-0-revenue", str(ProposedUse.MAX_REVENUE + 1), "uses.0.revenue"),
        ("uses-0-use", "juggling", "uses.0.use"),
        ("term_end", "31/12/2027", "term_end"),
    ],
)
def test_the_page_form_refuses_what_the_api_refuses_past_the_model_limits(
    app: Flask, field: str, value: str, path: str
) -> None:
    form = _from_page(app, {**PAGE, field: value})
    assert path in forms.error_paths(form)
    body_field = path.split(".")[-1]
    body: dict[str, Any] = {**BODY, "uses": [dict(BODY["uses"][0])]}
    if path.startswith("uses.0.quantity"):
        body["uses"][0]["quantity"] = {"end_users": int(value)}
    elif path == "uses.0.languages":
        body["uses"][0]["languages"] = value.split(", ")
    elif path.startswith("uses.0."):
        body["uses"][0][body_field] = value
    else:
        body[body_field] = value
    errors = ApplicationInputSchema().validate(body)
    assert errors, f"the API accepted what the page refused at {path}"


def test_the_page_form_refuses_one_use_too_many(app: Flask) -> None:
    rows = {
        f"uses-{row}-{name[7:]}": value
        for row in range(MAX_USES + 1)
        for name, value in PAGE.items()
        if name.startswith("uses-0-")
    }
    form = _from_page(app, {"term_start": "2027-01-01", **rows})
    assert forms.error_paths(form)["uses"] == [f"At most {MAX_USES} uses in one application."]


def test_the_use_case_checks_the_business_rules_of_a_draft_it_is_given(
    app: Flask, vendor: Any, example_card: str
) -> None:
    principal = accounts.principal_for(vendor)
    unknown = ProposedUseInput(use="juggling", product_type="saas", user_type="provider")
    backwards = ApplicationDraft(
        term_start=date(2027, 12, 31),
        term_end=date(2027, 1, 1),
        uses=(unknown, ProposedUseInput.from_fields(AUTO_USE)),
    )
    with pytest.raises(InvalidInput) as refused:
        services.create_draft(Actor.of(principal), backwards, now=NOW)
    assert set(refused.value.errors) == {"term_end", "uses.0.use"}
    too_many = ApplicationDraft(uses=(ProposedUseInput.from_fields(AUTO_USE),) * (MAX_USES + 1))
    with pytest.raises(InvalidInput) as crowded:
        services.create_draft(Actor.of(principal), too_many, now=NOW)
    assert list(crowded.value.errors) == ["uses"]
    assert db.session().query(Application).count() == 0


def test_a_draft_saved_from_the_page_equals_one_sent_to_the_api(
    client: FlaskClient, vendor: Any, signed_in: Any, example_card: str
) -> None:
    signed_in(client, vendor)
    page = client.post("/portal/applications/new", data={**PAGE, "save": "1"})
    assert page.status_code == 302, page.get_data(as_text=True)
    api = client.post("/api/v1/applications", json=BODY, headers=bearer(vendor))
    assert api.status_code == 201, api.get_json()
    saved = db.session().query(Application).order_by(Application.id).all()
    assert len(saved) == 2
    assert [use.fields() for use in saved[0].uses] == [use.fields() for use in saved[1].uses]
    assert (saved[0].term_start, saved[0].rate_card) == (saved[1].term_start, saved[1].rate_card)
