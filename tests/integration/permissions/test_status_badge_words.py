"""The status page's badge says the state in the words its sentences use (round 33):
it said the machine's word ("approved", "in review") beside "Permission is granted"
and "The licensing office is reviewing your request"."""

from __future__ import annotations

import re
from collections.abc import Callable

from flask.testing import FlaskClient

from licensing.permissions import services
from licensing.permissions.models import PermissionRequest
from licensing.permissions.states import STATES, TO_REQUESTER, state_to_requester
from tests.support import factories


def _badge(client: FlaskClient, token: str) -> str:
    page = client.get(f"/permissions/status/{token}").get_data(as_text=True)
    found = re.search(r'<span class="badge state-[a-z_]+">([^<]*)</span>', page)
    assert found is not None
    return found.group(1)


def test_every_state_has_the_requesters_words_in_one_table() -> None:
    assert set(TO_REQUESTER) == set(STATES)
    assert state_to_requester("approved") == "granted"
    assert state_to_requester("in_review") == "being reviewed"


def test_the_badge_says_being_reviewed_then_granted_as_the_page_does(
    client: FlaskClient, submit: Callable[..., tuple[PermissionRequest, str]]
) -> None:
    request, token = submit()
    assert _badge(client, token) == "being reviewed"
    staff = factories.staff_actor()
    services.start_review(request.id, staff)
    assert _badge(client, token) == "being reviewed"
    services.approve(request.id, staff)
    assert _badge(client, token) == "granted"
    assert "Permission is granted" in client.get(f"/permissions/status/{token}").text


def test_a_denied_request_reads_denied(
    client: FlaskClient, submit: Callable[..., tuple[PermissionRequest, str]]
) -> None:
    request, token = submit()
    staff = factories.staff_actor()
    services.deny(request.id, "The course is run for a commercial client.", staff)
    assert _badge(client, token) == "denied"
