"""An expired form (an old tab posted after its CSRF token lapsed or the service
restarted) answers with a page that offers the form again."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient


@pytest.fixture
def config_changes() -> dict[str, Any]:
    # CSRF on, as in production: these tests post forms without a valid token.
    return {"overrides": {}}


@pytest.mark.parametrize("path", ["/sign-in", "/sign-up", "/permissions/request"])
def test_a_form_posted_with_an_expired_token_offers_the_form_again(
    client: FlaskClient, path: str
) -> None:
    # An old tab posted after its token expired used to lead only to the home page.
    response = client.post(path, data={"csrf_token": "stale", "email": "ana@juniper.example"})
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert "Form expired" in text
    assert f'<a href="{path}">Open the form again</a>' in text
    assert "Nothing was saved" in text


def test_an_expired_form_with_no_page_of_its_own_offers_only_the_home_page(
    client: FlaskClient,
) -> None:
    response = client.post("/sign-out", data={"csrf_token": "stale"})
    assert response.status_code == 400
    assert "Open the form again" not in response.get_data(as_text=True)


def test_an_expired_form_posted_to_an_action_offers_the_page_it_was_on(
    client: FlaskClient,
) -> None:
    # A form that posts to its page's action (an answer on the status page, a staff
    # decision) offered only the home page: the requester lost their status page.
    response = client.post("/permissions/status/some-token/answer", data={"body": "Unit 4."})
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert '<a href="/permissions/status/some-token">Open the form again</a>' in text
