"""Round 12: a count of end users reads grouped on the application's page, as the
agreement's PDF and every working step print it."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from flask.testing import FlaskClient

from licensing.agreements.models import Application
from tests.integration.agreements.conftest import AUTO_USE

LARGE_USE = {**AUTO_USE, "quantity": {"end_users": 120000}}


def _text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_the_application_page_groups_the_quantities_it_proposes(
    apply: Callable[..., Application], vendor: Any, client: FlaskClient, signed_in: Any
) -> None:
    application = apply(vendor, LARGE_USE)
    page = signed_in(client, vendor).get(f"/portal/applications/{application.id}")
    assert page.status_code == 200
    text = _text(page.get_data(as_text=True))
    assert "120,000 end users" in text
    assert "120000" not in text
