"""Round 55: the staff's words a decision letter prints (a grant's permitted use, a
denial's reason) are refused when no font of the letter draws them, naming the
characters, before any letter is made; the request stays where it was."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from licensing import db
from licensing.errors import InvalidInput
from licensing.permissions import services
from licensing.permissions.models import PermissionLetter, PermissionRequest
from tests.integration.permissions.conftest import OFFICE, count

ETHIOPIC = "\u12a0\u1260\u1260"  # no font here draws it
NAMED = "U+12A0 ETHIOPIC SYLLABLE GLOTTAL A"


def _state(request_id: int) -> str:
    found = db.session().get(PermissionRequest, request_id, populate_existing=True)
    assert found is not None
    return found.state


def test_a_denial_reason_no_letter_prints_is_refused_and_nothing_is_decided(
    submit: Callable[..., tuple[PermissionRequest, str]],
) -> None:
    request, _ = submit()
    state = request.state
    with pytest.raises(InvalidInput) as refused:
        services.deny(request.id, f"The audience is {ETHIOPIC}.", OFFICE)
    assert NAMED in refused.value.errors["reason"][0]
    assert _state(request.id) == state
    assert count(PermissionLetter) == 0
    services.deny(request.id, "The audience is a paying public.", OFFICE)
    assert count(PermissionLetter) == 1


def test_a_permitted_use_no_letter_prints_is_refused_and_nothing_is_granted(
    submit: Callable[..., tuple[PermissionRequest, str]],
) -> None:
    request, _ = submit()
    state = request.state
    with pytest.raises(InvalidInput) as refused:
        services.approve(request.id, OFFICE, permitted_use=f"Slides in {ETHIOPIC}")
    assert NAMED in refused.value.errors["permitted_use"][0]
    assert _state(request.id) == state
    assert count(PermissionLetter) == 0
