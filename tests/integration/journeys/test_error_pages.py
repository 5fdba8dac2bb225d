"""Error pages lead somewhere: a page a signed-in user may not open (or that does
not exist) offers their own start page beside the home page."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient


def test_a_page_a_vendor_may_not_open_leads_back_to_their_dashboard(
    client: FlaskClient, vendor: Any, signed_in: Any
) -> None:
    signed_in(client, vendor)
    for path, status in (("/console/", 403), ("/portal/applications/999999", 404)):
        response = client.get(path)
        assert response.status_code == status
        assert '<a href="/portal/">Go to your dashboard</a>' in response.get_data(as_text=True)


def test_a_page_staff_may_not_open_leads_back_to_the_console(
    client: FlaskClient, licensing_staff: Any, signed_in: Any
) -> None:
    signed_in(client, licensing_staff)
    response = client.get("/portal/")
    assert response.status_code == 403
    assert '<a href="/console/">Go to the console home</a>' in response.get_data(as_text=True)
