"""Form fields carry only meaningful ARIA: no attribute rendered from None, and every
reference names an element on the page."""

from __future__ import annotations

import re

from flask.testing import FlaskClient

from tests.support.markup import dangling_references, duplicate_ids, none_attributes


def _check(html: str) -> None:
    assert none_attributes(html) == []
    assert dangling_references(html) == []
    assert duplicate_ids(html) == []


def test_the_sign_in_form_has_no_none_attributes_with_or_without_errors(
    client: FlaskClient,
) -> None:
    _check(client.get("/sign-in").get_data(as_text=True))
    failed = client.post("/sign-in", data={"email": "", "password": ""})
    html = failed.get_data(as_text=True)
    _check(html)
    assert 'aria-invalid="true"' in html


def test_the_estimator_has_no_none_attributes_with_or_without_errors(
    client: FlaskClient,
) -> None:
    _check(client.get("/estimate").get_data(as_text=True))
    html = client.get("/estimate?use=development&uses-0-quantity-end_users=-5").get_data(
        as_text=True
    )
    _check(html)


def _marked_required(html: str) -> set[str]:
    """The ids of the fields whose label carries the required-field star."""
    return set(re.findall(r'<label for="([\w-]+)">[^<]*</label> <span class="required"', html))


def test_every_field_a_public_form_requires_is_marked_required(client: FlaskClient) -> None:
    # Choices and the audience size were required but unmarked, unlike the text
    # fields beside them: the form seemed to accept them empty.
    request_form = client.get("/permissions/request").get_data(as_text=True)
    refused = client.post("/permissions/request", data={}).get_data(as_text=True)
    required = set(re.findall(r'<a href="#([\w-]+)">', refused)) - {"noncommercial", "main"}
    assert required >= {"role", "organization_type", "purpose", "medium", "audience_size"}
    assert _marked_required(request_form) == required
    sign_up = client.get("/sign-up").get_data(as_text=True)
    refused = client.post("/sign-up", data={}).get_data(as_text=True)
    required = set(re.findall(r'<a href="#([\w-]+)">', refused)) - {"main"}
    assert "organization_type" in required
    assert _marked_required(sign_up) == required


def test_sign_up_lists_its_problems_in_the_order_of_the_fields_on_the_page(
    client: FlaskClient,
) -> None:
    # The summary began with the address, below the organization's name and type.
    page = client.get("/sign-up").get_data(as_text=True)
    on_page = re.findall(r'<label for="([\w-]+)">', page)
    refused = client.post("/sign-up", data={"country": ""}).get_data(as_text=True)
    summary = refused.split('class="error-summary"', 1)[1].split("</ul>", 1)[0]
    listed = re.findall(r'<a href="#([\w-]+)">', summary)
    assert listed[:2] == ["legal_name", "organization_type"]
    assert listed == [name for name in on_page if name in listed]
