"""Your two-step sign-in: set it up (QR code, secret, first code, recovery codes),
new recovery codes, the browsers remembered (forget one, or all), turn it off; and
the passkeys (`passkey_pages` adds and removes them, round 44).

Every step but turning it off needs the password given in the last
`views.RECENT_PASSWORD` (signing in counts), as creating an API token does:
otherwise the page asks for it first. Turning it off asks for the password and a
code every time.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, session, url_for
from werkzeug.wrappers import Response

from licensing import access, db
from licensing.accounts import forms, services, two_step
from licensing.accounts.auth import AFTER_TWO_STEP, PASSKEY_SHOWN, auth_rate_limit
from licensing.accounts.models import User
from licensing.accounts.services import passkeys as passkey_services
from licensing.accounts.views import (
    RECENT_PASSWORD,
    forget_this_browser,
    note_password_confirmed,
    password_recently_confirmed,
    remembered_browser_tokens,
    required_of,
    two_step_keys,
)
from licensing.actors import current_actor
from licensing.calendar import office_date
from licensing.config import current_config
from licensing.db import utcnow
from licensing.errors import AuthenticationRequired, Conflict, InvalidInput, NotFound
from licensing.limits import shows_unstorable_on_form
from licensing.links import safe_next
from licensing.web.forms import show_errors

bp = Blueprint("two_step", __name__, url_prefix="/account/two-step")

Page = Response | str | tuple[str, int]


def two_step_page(
    *,
    password_form: forms.RecentPasswordForm | None = None,
    passkey_form: forms.PasskeyForm | None = None,
    code_form: forms.TwoStepCodeForm | None = None,
    off_form: forms.TwoStepOffForm | None = None,
    status: int = 200,
) -> tuple[str, int]:
    principal = access.require_principal()
    records = db.session()
    user = records.get(User, principal.user_id)
    assert user is not None  # the session loader found them active
    organization = user.organization
    recent = password_recently_confirmed()
    set_up = None
    if not user.two_step_enabled and recent:
        set_up = services.pending_set_up(user.id, user.email, _set_up_nonce(), two_step_keys())
    return render_template(
        "accounts/two_step.html",
        user=user,
        required=required_of(user, organization),
        ask_password=not recent,
        recent_minutes=int(RECENT_PASSWORD.total_seconds() // 60),
        secret=two_step.secret_in_groups(set_up.secret) if set_up else None,
        qr=two_step.qr_svg(set_up.uri) if set_up else None,
        codes_left=services.unused_recovery_codes(records, user.id),
        browsers=services.remembered_browsers_of(
            records, user.id, utcnow(), current_config().two_step_remember_days
        ),
        this_browser=_this_browser_hashes(),
        remember_days=current_config().two_step_remember_days,
        password_form=password_form or forms.RecentPasswordForm(formdata=None),
        code_form=code_form or forms.TwoStepCodeForm(formdata=None),
        off_form=off_form or forms.TwoStepOffForm(formdata=None),
        passkeys=passkey_services.passkeys_of(records, user.id),
        passkey_form=passkey_form or forms.PasskeyForm(formdata=None),
        passkey_shown=bool(session.get(PASSKEY_SHOWN)),
    ), status


# The nonce of a set-up in progress, in this browser's session until a code
# confirms it (only the key turns it into the secret, so the cookie gives nothing
# away), with the user and the key it is for.
_SET_UP = "two_step_set_up"


def _set_up_nonce(*, start: bool = True) -> str:
    """The nonce of this browser's set-up in progress; a new one (when `start`)
    unless there is one for this user and the current key. "" when none."""
    user_id = access.require_principal().user_id
    key_id = two_step_keys().current_id
    kept = session.get(_SET_UP)
    if isinstance(kept, dict) and kept.get("user") == user_id and kept.get("key") == key_id:
        return str(kept.get("nonce", ""))
    if not start:
        return ""
    nonce = two_step.new_nonce()
    session[_SET_UP] = {"user": user_id, "key": key_id, "nonce": nonce}
    return nonce


@bp.route("/")
@access.any_user
def status() -> Page:
    return two_step_page()


@bp.route("/password", methods=["POST"])
@access.any_user
@auth_rate_limit()
@shows_unstorable_on_form
def confirm_password() -> Page:
    """The password again (a wrong one counts towards the lockout)."""
    form = forms.RecentPasswordForm()
    if form.validate_on_submit():
        try:
            services.confirm_password(access.require_principal().user_id, form.password.data or "")
        except AuthenticationRequired as error:
            form.password.errors = [error.detail]
        else:
            note_password_confirmed()
            return redirect(url_for("two_step.status"))
    return two_step_page(password_form=form, status=422)


def _recent_password_needed() -> Response:
    flash(
        f"Enter your password first: you gave it more than "
        f"{int(RECENT_PASSWORD.total_seconds() // 60)} minutes ago.",
        "error",
    )
    return redirect(url_for("two_step.status"))


@bp.route("/confirm", methods=["POST"])
@access.any_user
@auth_rate_limit()
@shows_unstorable_on_form
def confirm() -> Page:
    """The app's first code: two-step sign-in is on, and the recovery codes are
    shown, this once."""
    if not password_recently_confirmed():
        return _recent_password_needed()
    nonce = _set_up_nonce(start=False)
    if not nonce:
        flash("Start again: scan the code this page shows now.", "error")
        return redirect(url_for("two_step.status"))
    form = forms.TwoStepCodeForm()
    if form.validate_on_submit():
        try:
            codes = services.confirm_set_up(
                current_actor(), nonce, form.code.data or "", two_step_keys()
            )
        except InvalidInput as error:
            show_errors(form, error)
        except Conflict as error:
            flash(error.detail, "error")
            return redirect(url_for("two_step.status"))
        else:
            session.pop(_SET_UP, None)
            then = safe_next(session.pop(AFTER_TWO_STEP, None))
            return _codes_page(codes, "Two-step sign-in is on.", then=then)
    return two_step_page(code_form=form, status=422)


@bp.route("/recovery-codes", methods=["POST"])
@access.any_user
def new_recovery_codes() -> Page:
    """New recovery codes; the earlier ones stop working."""
    if not password_recently_confirmed():
        return _recent_password_needed()
    try:
        codes = services.regenerate_recovery_codes(current_actor())
    except Conflict as error:
        flash(error.detail, "error")
        return redirect(url_for("two_step.status"))
    return _codes_page(codes, "New recovery codes. The earlier ones no longer work.")


def _codes_page(codes: list[str], news: str, *, then: str | None = None) -> tuple[str, int]:
    """The recovery codes, shown once; `then`, the page the account was opening
    when it was taken to set up two-step sign-in, to go on to."""
    return render_template(
        "accounts/recovery_codes.html",
        codes=codes,
        news=news,
        then=then,
        as_text=_codes_as_text(codes),
    ), 200


def _codes_as_text(codes: list[str]) -> str:
    """The file the page offers: whose codes and from when, since a person with
    two accounts (two organizations, or staff and vendor) keeps two such files."""
    principal = access.require_principal()
    made = office_date(utcnow()).isoformat()
    return (
        f"CPT Licensing recovery codes for {principal.email}, made {made} (each works once;"
        " making new ones stops these)\n" + "\n".join(codes) + "\n"
    )


def _this_browser_hashes() -> set[str]:
    return {two_step.browser_token_hash(token) for token in remembered_browser_tokens()}


@bp.route("/browsers/<int:browser_id>/forget", methods=["POST"])
@access.any_user
def forget_browser(browser_id: int) -> Response:
    """Forget one remembered browser: signing in there asks for the code again."""
    try:
        this_one = services.forget_browser(
            current_actor(), browser_id, asking=_this_browser_hashes()
        )
    except NotFound as error:
        flash(error.detail, "error")
        return redirect(url_for("two_step.status"))
    flash("That browser is forgotten: signing in there asks for your code again.", "success")
    answer = redirect(url_for("two_step.status"))
    return forget_this_browser(answer) if this_one else answer


@bp.route("/browsers/forget", methods=["POST"])
@access.any_user
def forget_all_browsers() -> Response:
    """Forget every remembered browser, this one too."""
    forgotten = services.forget_all_browsers(current_actor())
    flash(
        f"{forgotten} {'browser is' if forgotten == 1 else 'browsers are'} forgotten: "
        "signing in on any of them asks for your code again.",
        "success",
    )
    return forget_this_browser(redirect(url_for("two_step.status")))


@bp.route("/off", methods=["POST"])
@access.any_user
@auth_rate_limit()
@shows_unstorable_on_form
def turn_off() -> Page:
    """Off, with the password and a code; the owner is emailed."""
    form = forms.TwoStepOffForm()
    if form.validate_on_submit():
        try:
            services.turn_off(
                current_actor(), form.password.data or "", form.code.data or "", two_step_keys()
            )
        except (InvalidInput, AuthenticationRequired) as error:
            if isinstance(error, InvalidInput):
                show_errors(form, error)
            else:
                form.code.errors = [error.detail]
        except Conflict as error:
            flash(error.detail, "error")
            return redirect(url_for("two_step.status"))
        else:
            flash("Two-step sign-in is off: your password alone signs you in.", "success")
            return redirect(url_for("two_step.status"))
    return two_step_page(off_form=form, status=422)
