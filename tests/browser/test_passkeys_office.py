"""Round 45: a person whose laptop (with its passkey) was stolen calls the office.
An admin, in another browser, removes the passkey on the console's user page with
a reason; the laptop's session, signed in with that passkey, ends, and the passkey
signs in no more. Chromium's virtual authenticator stands in for the laptop, as in
`test_passkeys.py`; the tab opens the server as `localhost` (a passkey needs a host
name)."""

from __future__ import annotations

from typing import Any

from licensing import db
from licensing.accounts.models import Passkey
from tests.support import factories
from tests.support.passkeys import serve_on_localhost, virtual_authenticator
from tests.support.servers import LiveServer


def _sign_in_with_password(page: Any, base: str, email: str) -> None:
    page.goto(f"{base}/sign-in")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(factories.DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_load_state()


def test_an_admin_removes_a_persons_passkey_and_the_laptops_session_ends(
    page: Any, browser: Any, live_server: LiveServer
) -> None:
    base = serve_on_localhost(live_server)
    with live_server.app.app_context():
        session = db.session()
        person = factories.make_vendor(session, full_name="Tomas Brandt")
        admin = factories.make_staff(session, roles=("admin",))
        session.commit()
        person_id, person_email, admin_email = person.id, person.email, admin.email
    virtual_authenticator(page)

    # The laptop: a passkey added, then signed in with it alone.
    _sign_in_with_password(page, base, person_email)
    page.goto(f"{base}/account/two-step/")
    page.get_by_label("Name of the passkey").fill("Work laptop")
    page.get_by_role("button", name="Add a passkey").click()
    page.get_by_text("Passkey Work laptop added").wait_for()
    page.get_by_role("button", name="Sign out", exact=True).click()
    page.wait_for_load_state()
    page.goto(f"{base}/sign-in")
    page.get_by_role("button", name="Use a passkey").click()
    page.wait_for_url("**/portal/")

    # The office, in another browser.
    office_context = browser.new_context()
    office_context.set_default_timeout(15_000)
    office = office_context.new_page()
    try:
        _sign_in_with_password(office, base, admin_email)
        office.goto(f"{base}/console/users/{person_id}")
        table = office.get_by_role("table", name="Passkeys")
        assert "Work laptop" in table.inner_text()
        office.get_by_label("Which passkey").select_option(label="Work laptop")
        office.get_by_label("Why (the person is emailed this").fill(
            "Laptop stolen; called back on the number on file"
        )
        office.get_by_role("button", name="Remove the passkeys").click()
        office.wait_for_load_state()
        # Round 55: asked first, naming the passkey; confirmed on that page.
        assert "passkeys?" in office.title()
        assert "The passkey Work laptop no longer signs" in office.inner_text("main")
        office.get_by_role("button", name="Remove the passkeys").click()
        office.wait_for_load_state()
        assert (
            f"Removed the passkey Work laptop of {person_email} and signed them out "
            "everywhere; they have been emailed" in office.inner_text("main")
        )
        assert office.get_by_role("table", name="Passkeys").count() == 0
    finally:
        office_context.close()

    # The laptop's session ended, and its passkey is refused.
    page.goto(f"{base}/portal/")
    assert "/sign-in" in page.url
    page.goto(f"{base}/sign-in")
    page.get_by_role("button", name="Use a passkey").click()
    page.wait_for_url("**/sign-in/passkey")
    assert "That passkey is not one this service knows" in page.inner_text("main")
    with live_server.app.app_context():
        assert db.session().query(Passkey).count() == 0
