"""Your profile: who you are signed in as, and how to change your password.

Every signed-in user has one (vendors and staff). The password is changed the
way a forgotten one is: a link to the account's address (`request_password_reset`),
so a left-open session cannot change it without the mailbox, and the change signs
every other session out.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from licensing import access, db
from licensing.accounts import queries, services
from licensing.accounts.auth import auth_rate_limit
from licensing.accounts.models import Organization, User

bp = Blueprint("profile", __name__, url_prefix="/account")


class PasswordLinkForm(FlaskForm):  # type: ignore[misc]
    """A button: the CSRF token is its only field."""


@bp.route("/")
@access.any_user
def profile() -> str:
    principal = access.require_principal()
    session = db.session()
    user = session.get(User, principal.user_id)
    organization = (
        session.get(Organization, principal.organization_id)
        if principal.organization_id is not None
        else None
    )
    return render_template(
        "accounts/profile.html",
        user=user,
        me=principal,
        organization=organization,
        form=PasswordLinkForm(),
        members=len(queries.members(session, organization.id)) if organization else 0,
    )


@bp.route("/password-link", methods=["POST"])
@access.any_user
@auth_rate_limit()
def password_link() -> Response:
    """Send the signed-in user a link to choose a new password."""
    principal = access.require_principal()
    if PasswordLinkForm().validate_on_submit():
        services.request_password_reset(principal.email)
        flash(
            f"We sent a link to {principal.email}: follow it within an hour to choose "
            "a new password. Until then your password stays as it is.",
            "success",
        )
    return redirect(url_for("profile.profile"))
