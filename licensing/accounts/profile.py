"""Your profile: who you are signed in as; change your name, email address or password.

Every signed-in user has one (vendors and staff). The password changes in
place, given the current one, and signs every other session out (this one is
signed in again). A new email address takes effect only once the link sent to
it is followed, so a typo cannot lock anyone out of their account.
"""

from __future__ import annotations

import flask_login
from flask import Blueprint, flash, redirect, render_template, url_for
from werkzeug.wrappers import Response

from licensing import access, db
from licensing.accounts import queries, services
from licensing.accounts.auth import auth_rate_limit
from licensing.accounts.forms import (
    PASSWORD_HINT,
    EmailChangeForm,
    NameForm,
    PasswordChangeForm,
)
from licensing.accounts.models import Organization, User
from licensing.actors import current_actor
from licensing.errors import InvalidInput
from licensing.web.forms import show_errors

bp = Blueprint("profile", __name__, url_prefix="/account")

Page = Response | str | tuple[str, int]


def _page(
    *,
    name_form: NameForm | None = None,
    email_form: EmailChangeForm | None = None,
    password_form: PasswordChangeForm | None = None,
    status: int = 200,
) -> tuple[str, int]:
    """The profile with its three forms; the one just posted keeps its input and errors."""
    principal = access.require_principal()
    session = db.session()
    user = session.get(User, principal.user_id)
    organization = (
        session.get(Organization, principal.organization_id)
        if principal.organization_id is not None
        else None
    )
    if name_form is None:
        name_form = NameForm(formdata=None, full_name=user.full_name if user else "")
    page = render_template(
        "accounts/profile.html",
        user=user,
        me=principal,
        organization=organization,
        name_form=name_form,
        email_form=email_form or EmailChangeForm(formdata=None),
        password_form=password_form or PasswordChangeForm(formdata=None),
        password_hint=PASSWORD_HINT,
        members=len(queries.members(session, organization.id)) if organization else 0,
    )
    return page, status


@bp.route("/")
@access.any_user
def profile() -> Page:
    return _page()


@bp.route("/name", methods=["POST"])
@access.any_user
def change_name() -> Page:
    form = NameForm()
    if not form.validate_on_submit():
        return _page(name_form=form, status=422)
    try:
        services.change_name(current_actor(), form.full_name.data or "")
    except InvalidInput as error:
        show_errors(form, error)
        return _page(name_form=form, status=422)
    flash("Your name is saved.", "success")
    return redirect(url_for("profile.profile"))


@bp.route("/email", methods=["POST"])
@access.any_user
@auth_rate_limit()
def change_email() -> Page:
    """Send a confirmation link to the new address; nothing changes until it is followed."""
    form = EmailChangeForm()
    if not form.validate_on_submit():
        return _page(email_form=form, status=422)
    try:
        link = services.request_email_change(
            current_actor(), form.new_email.data or "", form.current_password.data or ""
        )
    except InvalidInput as error:
        show_errors(form, error)
        return _page(email_form=form, status=422)
    flash(
        f"We sent a link to {link.email}: follow it to start using that address. "
        "Until then you keep signing in with your current one.",
        "success",
    )
    return redirect(url_for("profile.profile"))


@bp.route("/password", methods=["POST"])
@access.any_user
@auth_rate_limit()
def change_password() -> Page:
    """A new password in place. Every session of the account ends; this one
    starts again, so the person changing it stays signed in."""
    form = PasswordChangeForm()
    if not form.validate_on_submit():
        return _page(password_form=form, status=422)
    try:
        user = services.change_password(
            current_actor(), form.current_password.data or "", form.new_password.data or ""
        )
    except InvalidInput as error:
        show_errors(form, error)
        return _page(password_form=form, status=422)
    flask_login.login_user(user)
    flash("Your password is changed. Every other session of your account is signed out.", "success")
    return redirect(url_for("profile.profile"))
