"""What every signed-in page does before its own work: recognise the session's
user (one query, read afresh on every request), and draw the layout, whose
navigation and fixed links are kept per process. A change of roles, a
deactivation or a sign-out must still show on the very next request."""

from __future__ import annotations

import re
from collections.abc import Callable

from flask import Flask, request
from flask.testing import FlaskClient
from sqlalchemy import event, update

from licensing import db
from licensing.accounts.models import Organization, User
from tests.support.factories import bearer


def _menu_paths(html: str, section: str) -> list[str]:
    """The links of one navigation bar (the wide-screen one) of a page."""
    found = re.search(rf'<nav class="menu" aria-label="{section}">(.*?)</nav>', html, re.DOTALL)
    return re.findall(r'href="([^"]+)"', found.group(1)) if found else []


def _current(html: str) -> list[str]:
    return re.findall(r'<a href="([^"]+)" aria-current="page">', html)


def test_a_change_of_roles_shows_in_the_menu_and_access_on_the_next_page(
    app: Flask, admin: User, licensing_staff: User, signed_in: Callable[..., FlaskClient]
) -> None:
    staff = signed_in(app.test_client(), licensing_staff)
    administrator = signed_in(app.test_client(), admin)
    roles_url = f"/console/users/{licensing_staff.id}/roles"
    before = staff.get("/console/applications").get_data(as_text=True)
    assert "/console/applications" in _menu_paths(before, "Staff console")
    assert "/console/users" not in _menu_paths(before, "Staff console")
    assert staff.get("/console/users").status_code == 403

    granted = administrator.post(roles_url, data={"roles": ["licensing", "admin"]})
    assert granted.status_code == 302
    after = staff.get("/console/users")
    assert after.status_code == 200
    assert "/console/users" in _menu_paths(after.get_data(as_text=True), "Staff console")

    taken_back = administrator.post(roles_url, data={"roles": ["licensing"]})
    assert taken_back.status_code == 302
    assert staff.get("/console/users").status_code == 403
    again = staff.get("/console/applications").get_data(as_text=True)
    assert "/console/users" not in _menu_paths(again, "Staff console")


def test_a_deactivated_users_open_session_ends_on_the_next_request(
    app: Flask, admin: User, vendor: User, signed_in: Callable[..., FlaskClient]
) -> None:
    client = signed_in(app.test_client(), vendor)
    assert client.get("/portal/").status_code == 200
    off = app.test_client().patch(
        f"/api/v1/users/{vendor.id}", json={"is_active": False}, headers=bearer(admin)
    )
    assert off.status_code == 200
    refused = client.get("/portal/")
    assert refused.status_code == 302
    assert "/sign-in" in refused.headers["Location"]


def test_vendors_and_staff_each_see_their_own_menu_whoever_came_first(
    app: Flask, vendor: User, admin: User, signed_in: Callable[..., FlaskClient]
) -> None:
    staff_page = signed_in(app.test_client(), admin).get("/console/applications")
    vendor_page = signed_in(app.test_client(), vendor).get("/portal/applications")
    visitor_page = app.test_client().get("/")
    staff_html, vendor_html = staff_page.get_data(as_text=True), vendor_page.get_data(as_text=True)
    assert _menu_paths(staff_html, "Staff console")
    assert not _menu_paths(staff_html, "Vendor portal")
    assert "/portal/applications" in _menu_paths(vendor_html, "Vendor portal")
    assert not _menu_paths(vendor_html, "Staff console")
    visitor_html = visitor_page.get_data(as_text=True)
    assert not _menu_paths(visitor_html, "Vendor portal")
    assert not _menu_paths(visitor_html, "Staff console")
    assert "/estimate" in _menu_paths(visitor_html, "Public")


def test_the_menu_marks_the_page_being_shown_not_the_one_before(
    app: Flask, admin: User, signed_in: Callable[..., FlaskClient]
) -> None:
    client = signed_in(app.test_client(), admin)
    assert set(_current(client.get("/console/applications").get_data(as_text=True))) == {
        "/console/applications"
    }
    assert set(_current(client.get("/console/invoices").get_data(as_text=True))) == {
        "/console/invoices"
    }


def test_the_layouts_links_follow_the_script_root_the_app_is_mounted_at(
    app: Flask, vendor: User, signed_in: Callable[..., FlaskClient]
) -> None:
    client = signed_in(app.test_client(), vendor)
    plain = client.get("/portal/").get_data(as_text=True)
    mounted = client.get("/portal/", base_url="http://localhost/licensing").get_data(as_text=True)
    assert 'href="/static/css/app.css?v=' in plain
    assert 'href="/licensing/static/css/app.css?v=' in mounted
    assert 'href="/licensing/portal/applications"' in mounted
    assert 'class="brand" href="/licensing/"' in mounted
    again = client.get("/portal/").get_data(as_text=True)
    assert 'href="/portal/applications"' in again
    assert "/licensing/" not in again


def test_a_signed_in_page_reads_its_user_with_one_query(
    app: Flask, vendor: User, signed_in: Callable[..., FlaskClient]
) -> None:
    client = signed_in(app.test_client(), vendor)
    client.get("/portal/applications")  # warm: the first request of a process may do more
    statements: list[str] = []

    def note(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    engine = db.database().engine
    event.listen(engine, "before_cursor_execute", note)
    try:
        assert client.get("/portal/applications").status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", note)
    reads_of_users = [s for s in statements if re.search(r"\bFROM users\b", s)]
    assert len(reads_of_users) == 1, reads_of_users


def test_a_suspension_shows_on_the_vendors_applications_list_from_the_next_request(
    app: Flask, vendor: User, licensing_staff: User, signed_in: Callable[..., FlaskClient]
) -> None:
    client = signed_in(app.test_client(), vendor)
    before = client.get("/portal/applications").get_data(as_text=True)
    assert "Apply for a license" in before
    assert "suspended" not in before
    staff = signed_in(app.test_client(), licensing_staff)
    suspended = staff.post(
        f"/console/organizations/{vendor.organization_id}/standing",
        data={"action": "suspend", "reason": "Audit pending"},
    )
    assert suspended.status_code == 302
    after = client.get("/portal/applications").get_data(as_text=True)
    assert "account is suspended, so it cannot apply for licenses" in after
    assert ">Apply for a license</a>" not in after


def test_links_are_built_each_time_once_the_app_adds_url_defaults(
    app: Flask, vendor: User, signed_in: Callable[..., FlaskClient]
) -> None:
    """A `url_defaults` function may depend on the request (a language, say), so
    with one registered no URL is kept between requests."""

    @app.url_defaults
    def _language(endpoint: str, values: dict[str, object]) -> None:
        if endpoint in ("public.home", "portal.dashboard"):
            values.setdefault("lang", request.args.get("lang", "en"))

    client = signed_in(app.test_client(), vendor)
    assert 'class="brand" href="/?lang=fr"' in client.get("/portal/?lang=fr").get_data(as_text=True)
    german = client.get("/portal/?lang=de").get_data(as_text=True)
    assert 'class="brand" href="/?lang=de"' in german
    assert "/portal/?lang=de" in _menu_paths(german, "Vendor portal")


def test_the_dashboard_counts_the_organizations_active_members(
    app: Flask, vendor: User, other_vendor: User, signed_in: Callable[..., FlaskClient]
) -> None:
    # other_vendor is an active member of another organization: not counted.
    from tests.support import factories

    session = db.session()
    organization = session.get(Organization, vendor.organization_id)
    factories.make_vendor(session, organization=organization)
    leaver = factories.make_vendor(session, organization=organization)
    session.execute(update(User).where(User.id == leaver.id).values(is_active=False))
    session.commit()
    page = signed_in(app.test_client(), vendor).get("/portal/").get_data(as_text=True)
    assert "<dt>Members</dt><dd>2</dd>" in page
