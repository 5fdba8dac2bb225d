"""Round 2 of the staff journeys: what admins tripped on."""

from __future__ import annotations

import html
from typing import Any

from flask import Flask
from sqlalchemy import func, select

from licensing import db
from licensing.accounts.models import User


def _users() -> int:
    return int(db.session().scalar(select(func.count()).select_from(User)) or 0)


def test_adding_a_staff_member_whose_address_has_an_account_tells_the_admin_what_to_do(
    admin: Any, vendor: Any, licensing_staff: Any, signed_in: Any, app: Flask
) -> None:
    console = signed_in(app.test_client(), admin)
    before = _users()
    for taken in (licensing_staff.email, vendor.email.upper()):
        refused = console.post(
            "/console/users",
            data={"full_name": "Pat Lee", "email": taken, "roles": ["licensing"]},
        )
        assert refused.status_code == 422
        page = html.unescape(refused.get_data(as_text=True))
        # Addressed to the admin: not the sign-up's "Sign in, or reset your password."
        assert "Sign in, or reset your password" not in page
        assert (
            "An account already uses this email address: find it under Users to change "
            "its roles; a vendor's account cannot also be a staff member's." in page
        )
    assert _users() == before
