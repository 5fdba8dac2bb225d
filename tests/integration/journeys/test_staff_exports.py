"""Round 2 of the staff journeys: export downloads as finance's tools read them."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from tests.support.factories import bearer


def _content_type(client: FlaskClient, url: str, **options: Any) -> str:
    response = client.get(url, **options)
    assert response.status_code == 200
    response.get_data()  # a streamed download: read to its end before the next request
    response.close()
    return str(response.headers["Content-Type"])


def test_each_text_export_names_its_charset_once(
    app: Flask, billing_staff: Any, signed_in: Any
) -> None:
    page = signed_in(app.test_client(), billing_staff)
    for fmt, expected in (
        ("csv", "text/csv; charset=utf-8"),
        ("jsonl", "application/x-ndjson; charset=utf-8"),
    ):
        # The CSV said "text/csv; charset=utf-8; charset=utf-8": the format's media
        # type already names the charset, and the response added it again.
        assert (
            _content_type(
                app.test_client(),
                "/api/v1/exports/payments",
                query_string={"format": fmt},
                headers=bearer(billing_staff),
            )
            == expected
        )
        assert (
            _content_type(
                page, "/console/exports", query_string={"dataset": "payments", "format": fmt}
            )
            == expected
        )
