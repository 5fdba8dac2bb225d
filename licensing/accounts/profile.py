"""Your profile: who you are signed in as; change your name, email address or password.

Every signed-in user has one (vendors and staff). The password changes in
place, given the current one, and signs every other session out (this one is
signed in again). A new email address takes effect only once the link sent to
it is followed, so a typo cannot lock anyone out of their account.
"""

from __future__ import annotations

from collections.abc import Callable

import flask_login
from flask import Blueprint, flash, redirect, render_template, url_for
from flask_wtf import FlaskForm
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
from licensing.limits import shows_unstorable_on_form
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
        members=queries.member_count(session, organization.id) if organization else 0,
    )
    return page, status


@bp.route("/")
@access.any_user
def profile() -> Page:
    return _page()


@bp.route("/name", methods=["POST"])
@access.any_user
@shows_unstorable_on_form
def change_name() -> Page:
    form = NameForm()

    def act() -> str:
        services.change_name(current_actor(), form.full_name.data or "")
        return "Your name is saved."

    return _profile_step(form, "name_form", act)


@bp.route("/email", methods=["POST"])
@access.any_user
@auth_rate_limit()
@shows_unstorable_on_form
def change_email() -> Page:
    """Send a confirmation link to the new address; nothing changes until it is followed."""
    form = EmailChangeForm()

    def act() -> str:
        link = services.request_email_change(
            current_actor(), form.new_email.data or "", form.current_password.data or ""
        )
        return (
            f"We sent a link to {link.email}: follow it to start using that address. "
            "Until then you keep signing in with your current one."
        )

    return _profile_step(form, "email_form", act)


@bp.route("/password", methods=["POST"])
@access.any_user
@auth_rate_limit()
@shows_unstorable_on_form
def change_password() -> Page:
    """A new password in place. Every session of the account ends; this one
    starts again, so the person changing it stays signed in."""
    form = PasswordChangeForm()

    def act() -> str:
        user = services.change_password(
            current_actor(), form.current_password.data or "", form.new_password.data or ""
        )
        flask_login.login_user(user)
        if not user.two_step_enabled:
            return "Your password is changed. Every other session of your account is signed out."
        # Said here, or the next sign-in on the office computer asks for a code unexplained.
        return (
            "Your password is changed. Every other session of your account is signed out, and "
            "every browser remembered for two-step sign-in, this one too, asks for your code again."
        )

    return _profile_step(form, "password_form", act)


def _profile_step(form: FlaskForm, form_name: str, act: Callable[[], str]) -> Page:
    """Run one of the profile's forms: when it and the use case accept it, say what
    `act` did and go back to the profile; else the profile again, this form showing
    its input and messages."""
    if form.validate_on_submit():
        try:
            message = act()
        except InvalidInput as error:
            show_errors(form, error)
        else:
            flash(message, "success")
            return redirect(url_for("profile.profile"))
    return _page(status=422, **{form_name: form})
