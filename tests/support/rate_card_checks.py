"""Checking a rate card on the console's *Rate cards* page, as an admin uploads it."""

from __future__ import annotations

import io
import json
from typing import Any

from flask.testing import FlaskClient

from tests.support.pages import text_of


def checked_page(client: FlaskClient, document: dict[str, Any]) -> str:
    """The check's page for `document` (uploaded with *Check*), as text: a 200."""
    answer = client.post(
        "/console/rate-cards/",
        data={
            "card": (io.BytesIO(json.dumps(document, default=str).encode()), "card.json"),
            "action": "check",
        },
        content_type="multipart/form-data",
    )
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return text_of(answer)
