"""Form fields carry only meaningful ARIA: no attribute rendered from None, and every
reference names an element on the page."""

from __future__ import annotations

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
