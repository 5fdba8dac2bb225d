"""Passkeys (round 44): added and removed on the two-step page, and signing in
with one on the sign-in page (or at the code step, in place of the code).

Each ceremony is two requests: the page's script (`static/js/passkeys.js`) asks
for the options (JSON), the browser makes or uses the passkey, and the script
posts its answer with the page's form, whose refusals come back on the page beside
the field as every form's do. The challenge is kept in this browser's signed
session between the two, and in the database until answered once
(`services.passkeys`).

Adding and removing follow the two-step page's rule: the password given in the
last `RECENT_PASSWORD` (signing in counts, with a passkey too).
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask import Response as FlaskResponse
from flask_limiter import RequestLimit
from werkzeug.wrappers import Response

from licensing import access
from licensing.accounts import forms
from licensing.accounts.auth import PASSKEY_REMOVED_HERE, PASSKEY_SHOWN, auth_rate_limit
from licensing.accounts.services import passkeys as passkey_services
from licensing.accounts.services import principal_for
from licensing.accounts.two_step_pages import two_step_page
from licensing.accounts.views import (
    RECENT_PASSWORD,
    home_for,
    password_recently_confirmed,
    start_session,
)
from licensing.actors import current_actor
from licensing.config import current_config
from licensing.errors import (
    AuthenticationRequired,
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
)
from licensing.extensions import retry_after
from licensing.limits import shows_unstorable_on_form
from licensing.links import safe_next
from licensing.mail import services as mail
from licensing.web.errors import duration_words
from licensing.web.forms import show_errors

bp = Blueprint("passkeys", __name__)

Page = Response | str | tuple[str, int]

# The challenge handed out, kept in the browser's session until its answer.
_CHALLENGE = "passkey_challenge"


def relying_party() -> passkey_services.RelyingParty:
    config = current_config()
    return passkey_services.RelyingParty(
        rp_id=config.passkey_rp_id, origin=config.passkey_origin, name=mail.OFFICE_NAME
    )


def _json(body: dict[str, Any], status: int = 200) -> FlaskResponse:
    # Flask's response class: Flask-Limiter takes no other for a 429 of the view's own.
    return current_app.response_class(
        current_app.json.dumps(body), status=status, mimetype="application/json"
    )


def _too_many_for_the_script(_limit: RequestLimit) -> FlaskResponse:
    """Over the shared sign-in budget (`AUTH_RATE_LIMIT`): the 429 in the JSON the
    page's script reads (`error`, shown beside the button), not a page it cannot."""
    return _json(
        {
            "error": "Too many attempts came from your address in a short time, so this "
            f"one was refused. Try again in {duration_words(retry_after())}."
        },
        429,
    )


def _options_answer(options: passkey_services.Options, purpose: str) -> Response:
    session[_CHALLENGE] = {"purpose": purpose, "challenge": options.challenge}
    answer = Response(options.json, mimetype="application/json")
    answer.headers["Cache-Control"] = "no-store"
    return answer


def _kept_challenge(purpose: str) -> str:
    """The challenge this browser was handed for `purpose`, spent from its session
    ("" when none: the service then refuses the answer as stale)."""
    kept = session.pop(_CHALLENGE, None)
    if isinstance(kept, dict) and kept.get("purpose") == purpose:
        return str(kept.get("challenge") or "")
    return ""


def _recent_password_words() -> str:
    return (
        f"Enter your password first: you gave it more than "
        f"{int(RECENT_PASSWORD.total_seconds() // 60)} minutes ago."
    )


# --- on the two-step page ------------------------------------------------------------


@bp.route("/account/passkeys/options", methods=["POST"])
@access.any_user
# Each call stores a challenge row: the budget of the other ceremonies (round 49).
@auth_rate_limit(on_breach=_too_many_for_the_script)
def add_options() -> Response:
    """The options for adding a passkey (JSON, for the page's script)."""
    if not password_recently_confirmed():
        return _json({"error": _recent_password_words()}, 403)
    try:
        options = passkey_services.registration_options(current_actor(), relying_party())
    except Conflict as error:
        return _json({"error": error.detail}, 409)
    return _options_answer(options, passkey_services.REGISTER)


@bp.route("/account/passkeys", methods=["POST"])
@access.any_user
@shows_unstorable_on_form
def add() -> Page:
    """The browser's new passkey, named: stored, and the owner emailed."""
    if not password_recently_confirmed():
        flash(_recent_password_words(), "error")
        return redirect(url_for("two_step.status"))
    form = forms.PasskeyForm()
    challenge = _kept_challenge(passkey_services.REGISTER)
    if form.validate_on_submit():
        try:
            added = passkey_services.add_passkey(
                current_actor(),
                form.name.data or "",
                form.credential.data or "",
                challenge,
                relying_party(),
            )
        except InvalidInput as error:
            show_errors(form, error)
        except Conflict as error:
            flash(error.detail, "error")
            return redirect(url_for("two_step.status"))
        else:
            # The session has shown both factors now (the password, then the passkey
            # with its PIN or fingerprint): a requirement of two-step sign-in is met.
            session[PASSKEY_SHOWN] = added.id
            flash(
                f"Passkey {added.name} added: on this service's sign-in page, "
                "Use a passkey signs you in without your password or a code.",
                "success",
            )
            return redirect(url_for("two_step.status"))
    form.credential.data = ""
    return two_step_page(passkey_form=form, status=422)


@bp.route("/account/passkeys/<int:passkey_id>/remove", methods=["POST"])
@access.any_user
def remove(passkey_id: int) -> Response:
    """Remove one of one's passkeys (the recent password, as for every change there)."""
    if not password_recently_confirmed():
        flash(_recent_password_words(), "error")
        return redirect(url_for("two_step.status"))
    try:
        name = passkey_services.remove_passkey(current_actor(), passkey_id)
    except NotFound as error:
        flash(error.detail, "error")
    else:
        if session.get(PASSKEY_SHOWN) == passkey_id:
            # Its owner, with the recent password, removed the passkey this session
            # signed in with: this session stays (it is the one acting); every other
            # session resting on it ends (a lost laptop's).
            session[PASSKEY_SHOWN] = PASSKEY_REMOVED_HERE
        flash(f"Passkey {name} removed: it no longer signs you in.", "success")
    return redirect(url_for("two_step.status"))


# --- signing in ----------------------------------------------------------------------


@bp.route("/sign-in/passkey/options", methods=["POST"])
@access.public
@auth_rate_limit(on_breach=_too_many_for_the_script)
def sign_in_options() -> Response:
    """The options for signing in with a passkey (JSON, for the page's script)."""
    options = passkey_services.sign_in_options(relying_party())
    return _options_answer(options, passkey_services.SIGN_IN)


@bp.route("/sign-in/passkey", methods=["POST"])
@access.public
@auth_rate_limit()
@shows_unstorable_on_form
def sign_in() -> Page:
    """Signed in by a passkey: no password, no code (both factors were shown).
    The session starts afresh, as after the password."""
    target = safe_next(request.args.get("next"))
    form = forms.PasskeySignInForm()
    challenge = _kept_challenge(passkey_services.SIGN_IN)
    status = 422
    if form.validate_on_submit():
        try:
            signed = passkey_services.sign_in_with_passkey(
                form.credential.data or "", challenge, relying_party()
            )
        except InvalidInput as error:
            show_errors(form, error)
        except AuthenticationRequired as error:
            form.credential.errors = [error.detail]
        except PermissionDenied as error:
            form.credential.errors = [error.detail]
            status = 403
        else:
            user = signed.user
            start_session(user)
            # Which passkey: removing it ends this session (`auth.load_session_user`).
            session[PASSKEY_SHOWN] = signed.passkey_id
            flash(f"Signed in with your passkey as {user.email}.", "success")
            return redirect(target or home_for(principal_for(user)))
    form.credential.data = ""
    return render_template(
        "accounts/sign_in.html",
        form=forms.SignInForm(formdata=None),
        passkey_form=form,
        unverified=False,
        after_sign_in=target,
        returning=False,
    ), status
