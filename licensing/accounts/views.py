"""Account pages: sign-up, sign-in, links by email, the organization, API tokens;
and the staff console's organizations and users.

Views read forms, call one service and render; they never commit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import flask_login
from flask import (
    Blueprint,
    after_this_request,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from licensing import access, arguments, db, log_context, printable
from licensing.access import MEMBER, STAFF_ROLES, Principal
from licensing.accounts import forms, queries, record_names, services, two_step
from licensing.accounts.auth import PASSWORD_CONFIRMED_AT, auth_rate_limit
from licensing.accounts.models import (
    INVITATION,
    PASSWORD_LINKS,
    WELCOME,
    ApiToken,
    Organization,
    Passkey,
    User,
)
from licensing.accounts.services import passkeys as passkey_services
from licensing.accounts.states import (
    CLOSED,
    PENDING_PAYMENT,
    STANDING,
    SUSPENDED,
    may_take,
    others_steps,
    standing_actions_for,
)
from licensing.actors import Actor, current_actor
from licensing.agreements.views import estimate_kept_at_sign_up, kept_estimate_url
from licensing.audit import keys as audit_keys
from licensing.audit import queries as audit_queries
from licensing.audit.models import AuditEvent
from licensing.calendar import deadline_text, office_date, when_text
from licensing.config import current_config
from licensing.db import utcnow
from licensing.errors import (
    AuthenticationRequired,
    BadRequest,
    Conflict,
    IllegalTransition,
    InvalidInput,
    NotFound,
    PermissionDenied,
)
from licensing.limits import record_id, shows_unstorable_on_form
from licensing.links import safe_next
from licensing.mail import services as mail
from licensing.pricing.vocabulary import ORGANIZATION_TYPES
from licensing.problems import status_for as problem_status
from licensing.web import confirm, paging
from licensing.web.errors import said_to_the_reader
from licensing.web.filters import recorded_words, when
from licensing.web.forms import show_errors
from licensing.web.navigation import SIGNED_IN_LANDING
from licensing.web.organization_records import organization_history_entries
from licensing.web.portal import YOU, WaitingItem, waiting_provider
from licensing.web.records import described, numbered_record, record_url
from licensing.words import at_most_characters, end_sentence, organization_type_words

bp = Blueprint("accounts", __name__)
console = Blueprint("accounts_console", __name__, url_prefix="/console")

# The audit log names a user by their address, and an admin asking who changed
# someone's roles types the address they know (stored lower-cased), not an id.
numbered_record("user", User, User.email, spelled=str.lower)
# It named a token "API token 3" and an invitation "invitation 7": by what they are.
described("api_token", record_names.api_tokens)
described("invitation", record_names.invitations)
# Histories and the audit log say a standing as its badge does ("pending payment"),
# not as stored (`pending_payment`).
recorded_words("organization", ("standing",), STANDING.state_text)
# ... and its type as sign-up offers it: "Commercial company → Academic institution".
recorded_words("organization", ("organization_type",), organization_type_words)
# A role in an organization as pages say it: "member → billing member", where the
# stored `billing` read as the staff role of that name.
for _kind in ("user", "invitation"):
    recorded_words(_kind, ("organization_role",), lambda role: access.ROLE_TITLES.get(role, role))


def _organization_name(organization_id: object) -> str:
    """An organization a user's history names (a move: "Organization id: Bluefin
    Inc. → Harborlight Ltd."), by its legal name rather than its id."""
    found = db.session().get(Organization, organization_id)
    return found.legal_name if found is not None else str(organization_id)


recorded_words("user", ("organization_id",), _organization_name)

Page = str | tuple[str, int] | Response


def home_for(principal: Principal | None) -> str:
    """Where a user lands after signing in."""
    if principal is None:
        return url_for("public.home")
    if principal.is_vendor:
        return url_for("portal.dashboard")
    return url_for("console.home")


# Creating an API token needs the password given this recently (at sign-in or
# when asked again), so a stolen session cookie alone cannot mint a token.
RECENT_PASSWORD = timedelta(minutes=10)
_PASSWORD_CONFIRMED_AT = PASSWORD_CONFIRMED_AT


def start_session(user: object) -> None:
    """A fresh session for the user: nothing from before signing in carries over."""
    session.clear()
    flask_login.login_user(user)
    log_context.set_user(getattr(user, "id", None))  # the sign-in's later lines name it
    note_password_confirmed()
    session[SIGNED_IN_LANDING] = True  # the page landed on says where (round 61)


def note_password_confirmed() -> None:
    # Whole seconds: the session's JSON reads fractions back as Decimal.
    session[_PASSWORD_CONFIRMED_AT] = int(utcnow().timestamp())


def password_recently_confirmed() -> bool:
    confirmed = session.get(_PASSWORD_CONFIRMED_AT)
    if not isinstance(confirmed, int):
        return False
    age = utcnow().timestamp() - confirmed
    return 0 <= age <= RECENT_PASSWORD.total_seconds()


# --- sign-up, sign-in, sign-out ----------------------------------------------------


@bp.route("/sign-up", methods=["GET", "POST"])
@access.public
@auth_rate_limit()
@shows_unstorable_on_form
def sign_up() -> Page:
    """A vendor creates their organization's account. A local `next` (an estimate's
    application) is kept in the browser's session, so that signing in after the
    email is confirmed leads there."""
    after_sign_in = safe_next(request.args.get("next"))
    form = forms.SignUpForm()
    if request.method == "GET":
        form.country.data = form.country.data or "US"
        form.organization_type.data = form.organization_type.data or _estimated_type(after_sign_in)
    if form.validate_on_submit():
        try:
            address = services.sign_up(
                email=form.email.data or "",
                password=form.password.data or "",
                full_name=form.full_name.data or "",
                organization={
                    name: form[name].data for name in forms.SignUpForm.ORGANIZATION_FIELDS
                },
                # Round 67: the estimate kept with the account, not in this browser alone.
                then=estimate_kept_at_sign_up(after_sign_in),
            )
        except InvalidInput as error:
            show_errors(form, error)
        else:
            flash(
                f"Almost done: we sent a link to {address}. Follow it to confirm your "
                "email address, then sign in.",
                "success",
            )
            if after_sign_in:
                session[_AFTER_SIGN_IN] = after_sign_in
            return redirect(_sign_in_url())
    status = 422 if form.is_submitted() else 200
    return render_template(
        "accounts/sign_up.html",
        form=form,
        password_hint=forms.PASSWORD_HINT,
        after_sign_in=after_sign_in,
    ), status


def _estimated_type(after_sign_in: str | None) -> str | None:
    """The organization type an estimate's application link carries (round 66: the
    vendor chose it on the estimator, then again on the sign-up form)."""
    if not after_sign_in:
        return None
    asked = parse_qs(urlsplit(after_sign_in).query).get("organization_type", [""])[0]
    return asked if asked in ORGANIZATION_TYPES else None


# Where a new account goes once it first signs in (an estimate's application):
# the email's confirmation link opens a page without it, in the same browser.
_AFTER_SIGN_IN = "after_sign_in"


def _sign_in_url() -> str:
    after = safe_next(session.get(_AFTER_SIGN_IN))
    return url_for("accounts.sign_in", next=after) if after else url_for("accounts.sign_in")


@bp.route("/sign-in", methods=["GET", "POST"])
@access.public
@auth_rate_limit()
@shows_unstorable_on_form
def sign_in() -> Page:
    principal = access.current_principal()
    target = safe_next(request.args.get("next"))
    if principal is not None and request.method == "GET":
        return redirect(target or home_for(principal))
    form = forms.SignInForm()
    status = 200
    unverified = False
    if remembered_browser_tokens():
        # The cookie is read here: the tokens that serve nothing any more go from it on
        # this answer (round 33: a shared computer's cookie kept a token the office had
        # forgotten until it next remembered or forgot an account), other accounts'
        # still remembered stay; all of them while remembering is off.
        after_this_request(forget_this_browser)
    if form.validate_on_submit():
        try:
            accepted = services.sign_in_from(
                form.email.data or "",
                form.password.data or "",
                remembered_browser_tokens(),
                current_config().two_step_remember_days,
            )
        except PermissionDenied as error:
            form.form_errors.append(error.detail)
            unverified = error.detail.startswith(services.UNCONFIRMED_EMAIL)
            status = 403
        except AuthenticationRequired as error:
            form.password.errors = [error.detail]
            status = 422
        else:
            user = accepted.user
            if accepted.code_due:
                return _ask_for_code(user, target)
            start_session(user)
            return redirect(target or home_for(services.principal_for(user)))
    elif form.is_submitted():
        status = 422
    return render_template(
        "accounts/sign_in.html",
        form=form,
        unverified=unverified,
        after_sign_in=target,
        # Sent here from a page that needs a session (none yet, or it ended); not
        # on the way from sign-up to an estimate's application.
        returning=target is not None
        and not form.is_submitted()
        and target != safe_next(session.get(_AFTER_SIGN_IN)),
    ), status


# The second step of signing in waits this long for the code, in this browser's
# session only: no session of the account exists until the code is right.
TWO_STEP_PENDING = timedelta(minutes=5)
_PENDING_SIGN_IN = "two_step_pending"


def _ask_for_code(user: User, target: str | None) -> Response:
    """The password was right: remember, in this browser's session alone, whose
    code to ask for and until when. The session id (password fingerprint and
    session generation) is kept too, so a new password or a sign-out everywhere
    ends the pending step as it ends sessions."""
    session.clear()
    session[_PENDING_SIGN_IN] = {
        "session_id": user.get_id(),
        "until": int((utcnow() + TWO_STEP_PENDING).timestamp()),
        "next": target or "",
    }
    return redirect(url_for("accounts.sign_in_code"))


def _pending_user() -> tuple[User, str | None] | None:
    """The user whose code the second step waits for, and where to go after; None
    when nothing waits, it has expired or the account moved on."""
    pending = session.get(_PENDING_SIGN_IN)
    if not isinstance(pending, dict) or not isinstance(pending.get("until"), int):
        return None
    if utcnow().timestamp() > pending["until"]:
        return None
    user_id, _, _ = str(pending.get("session_id", "")).partition(":")
    user = db.session().get(User, int(user_id)) if user_id.isdigit() else None
    if user is None or not user.is_active or user.get_id() != pending.get("session_id"):
        return None
    return user, safe_next(pending.get("next"))


@bp.route("/sign-in/code", methods=["GET", "POST"])
@access.public
@auth_rate_limit()
@shows_unstorable_on_form
def sign_in_code() -> Page:
    """The second step of signing in: a code from the authenticator app, or a
    recovery code. Wrong codes count towards the account's lockout, and this
    form shares sign-in's rate limit."""
    pending = _pending_user()
    if pending is None:
        session.pop(_PENDING_SIGN_IN, None)
        # Said whichever ended it: a sign-out everywhere in another browser read
        # as a timeout the person had not let pass.
        flash(
            "Sign in again: the step that asks for your code lasts "
            f"{int(TWO_STEP_PENDING.total_seconds() // 60)} minutes, and ends at once "
            "when the account is signed out everywhere or its password changes.",
            "info",
        )
        return redirect(url_for("accounts.sign_in"))
    user, target = pending
    days = current_config().two_step_remember_days
    form = forms.SignInCodeForm().remember_for(days)
    status = 200
    if form.validate_on_submit():
        try:
            signed_in = services.second_step(user.id, form.code.data or "", two_step_keys())
        except AuthenticationRequired as error:
            form.code.errors = [error.detail]
            status = 422
        else:
            start_session(signed_in)
            if two_step.looks_like_recovery_code(form.code.data or ""):
                _recovery_code_spent(signed_in)
            answer = redirect(target or home_for(services.principal_for(signed_in)))
            if form.remember.data and days > 0:
                _remember_this_browser(answer, signed_in, days)
            return answer
    elif form.is_submitted():
        status = 422
    return render_template(
        "accounts/sign_in_code.html",
        form=form,
        remember_days=days,
        # Who turns it off for someone without phone or codes: for staff an admin
        # of their own office, for a vendor user the office, at its address (they
        # are not signed in, so no other page of ours can tell them where).
        staff=user.is_staff,
        office_address=mail.sender_address(),
        # A passkey signs in in place of the code (passkey_pages), then going on there.
        after_sign_in=target,
    ), status


# A remembered browser's token (`services.remember_browser`), sent only over
# HTTPS where the session cookie is, never readable by scripts.
BROWSER_COOKIE = "licensing_browser"


# The cookie holds one token for each account remembered on the browser (a shared
# computer, round 30), newest last, dot-separated (tokens are URL-safe base64).
_TOKENS_APART = "."


def remembered_browser_tokens() -> list[str]:
    """The tokens this browser holds, at most `services.ACCOUNTS_PER_BROWSER`."""
    held = (request.cookies.get(BROWSER_COOKIE) or "").split(_TOKENS_APART)
    return [token for token in held if token][-services.ACCOUNTS_PER_BROWSER :]


def _set_browser_tokens(answer: Response, tokens: list[str], days: int) -> Response:
    if not tokens:
        answer.delete_cookie(
            BROWSER_COOKIE,
            secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
            httponly=True,
            samesite="Lax",
        )
        return answer
    answer.set_cookie(
        BROWSER_COOKIE,
        _TOKENS_APART.join(tokens),
        max_age=int(timedelta(days=days).total_seconds()),
        secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
        httponly=True,
        samesite="Lax",
    )
    return answer


def _remember_this_browser(answer: Response, user: User, days: int) -> None:
    """A right code with *Don't ask for a code on this browser* ticked: the browser
    keeps the token for `days`; the database, its digest. Tokens of other accounts
    remembered there (a shared computer) stay beside it, the oldest dropped past
    `services.ACCOUNTS_PER_BROWSER`; this account's earlier one is replaced."""
    held = remembered_browser_tokens()
    token = services.remember_browser(user.id, request.user_agent.string, days, alongside=held)
    others = services.tokens_still_remembered(db.session(), held, days, utcnow())
    kept = others[-(services.ACCOUNTS_PER_BROWSER - 1) :] if others else []
    _set_browser_tokens(answer, [*kept, token], days)
    flash(
        f"This browser is remembered for {days} days: signing in here asks for your "
        "password only. Your two-step sign-in page lists the browsers remembered.",
        "info",
    )


def forget_this_browser(answer: Response) -> Response:
    """The browser drops the tokens whose rows are gone (forgotten, past their date,
    or all while remembering is off), keeping other accounts' still remembered."""
    held = remembered_browser_tokens()
    if not held:
        return answer
    days = current_config().two_step_remember_days
    kept = services.tokens_still_remembered(db.session(), held, days, utcnow())
    return answer if kept == held else _set_browser_tokens(answer, kept, days)


def _recovery_code_spent(user: User) -> None:
    """Signed in with a recovery code: how many are left, and the way to a new
    phone (the page that takes it is named, since the person is likely without
    their phone and looking for it)."""
    left = services.unused_recovery_codes(db.session(), user.id)
    flash(
        f"You signed in with a recovery code: {left} unused "
        f"{'code is' if left == 1 else 'codes are'} left. {services.NEW_PHONE}",
        "info",
    )


def required_of(user: User, organization: Organization | None) -> bool:
    """Whether the user must have two-step sign-in: staff when the office requires
    it (`TWO_STEP_REQUIRED_FOR_STAFF`), a vendor user when their organization does."""
    if user.is_staff:
        return current_config().two_step_required_for_staff
    return organization is not None and organization.two_step_required


def two_step_keys() -> services.Keys:
    """The keys two-step secrets are derived from: the audit keys (docs/security.md,
    "Two-step sign-in")."""
    current_id, current = audit_keys.current()
    return services.Keys(current_id=current_id, current=current, ring=audit_keys.ring())


@bp.route("/sign-out", methods=["POST"])
@access.any_user
def sign_out() -> Response:
    """Sign out everywhere: the session ends server-side, not only in this
    browser (a copy of the cookie stops working too). Remembered browsers stay
    remembered, unless *Sign out everywhere* on the two-step page (`everywhere`)
    asks to forget them too."""
    everywhere = request.form.get("everywhere") == "1"
    services.sign_out(access.require_principal().user_id, forget_browsers=everywhere)
    flask_login.logout_user()
    session.clear()
    if everywhere:
        flash(
            "You have signed out everywhere, and every browser asks for your code again.",
            "success",
        )
        return forget_this_browser(redirect(url_for("public.home")))
    # The header's button ends every session of the account (a laptop left signed in
    # too): say so, or a person believes only this browser was signed out.
    flash("You have signed out, on every computer where you were signed in.", "success")
    return redirect(url_for("public.home"))


# --- links by email ----------------------------------------------------------------


def _link_problem(
    error: InvalidInput, *, again: str | None = None, detail: str | None = None
) -> tuple[str, int]:
    """The page for a link that cannot be used: `error`'s words, or `detail` instead."""
    return render_template(
        "accounts/link_problem.html", detail=detail or error.detail, again=again
    ), 400


@bp.route("/verify-email/<token>")
@access.public
def verify_email(token: str) -> Page:
    """The link in the verification email."""
    # Who is signed in, read before the link is followed (read after, it was nobody).
    signed_in = access.current_principal()
    try:
        user = services.verify_email(token)
    except InvalidInput as error:
        return _link_problem(error, again=url_for("accounts.resend_verification"))
    if signed_in is not None and signed_in.user_id == user.id:
        # Round 58: the person who changed their address, still signed in, read
        # "You can sign in now." on their dashboard.
        flash(
            f"Thank you: {user.email} is confirmed, and is your account's address now: "
            "sign in with it from now on.",
            "success",
        )
    else:
        kept = kept_estimate_url(db.session(), user)
        if kept is not None:
            # Round 67: the estimate priced before signing up, kept with the account,
            # in whichever browser the link is opened (it was in the signing-up one's
            # session alone).
            session[_AFTER_SIGN_IN], reference = kept
            flash(
                f"Thank you: {user.email} is confirmed. Sign in to go on with your "
                f"application {reference}: it holds the uses you estimated.",
                "success",
            )
        else:
            flash(f"Thank you: {user.email} is confirmed. You can sign in now.", "success")
    return redirect(_sign_in_url())


@bp.route("/verify-email", methods=["GET", "POST"])
@access.public
@auth_rate_limit()
@shows_unstorable_on_form
def resend_verification() -> Page:
    return _email_request(
        services.resend_verification,
        sent="If that address belongs to an account still waiting for confirmation, a new "
        "link is on its way.",
        title="Send a new confirmation link",
        intro="Enter the address you signed up with; we will send a new link to confirm it.",
    )


@bp.route("/reset", methods=["GET", "POST"])
@access.public
@auth_rate_limit()
@shows_unstorable_on_form
def reset() -> Page:
    """Ask for a password reset link."""
    return _email_request(
        services.request_password_reset,
        sent="If an account uses that address, we have sent it a link to choose a new "
        "password. The link works for one hour.",
        title="Reset your password",
        intro="Enter your account's email address and we will send you a link to choose a "
        "new password.",
    )


def _email_request(send: Callable[[str], None], *, sent: str, title: str, intro: str) -> Page:
    """A page that mails a link to the address typed in. It says the same whether or
    not an account has that address, so it cannot be used to find accounts."""
    form = forms.EmailForm()
    if form.validate_on_submit():
        send(form.email.data or "")
        flash(sent, "success")
        return redirect(url_for("accounts.sign_in"))
    return render_template(
        "accounts/email_request.html", form=form, title=title, intro=intro, button="Send the link"
    ), (422 if form.is_submitted() else 200)


@bp.route("/reset/<token>", methods=["GET", "POST"])
@access.public
@shows_unstorable_on_form
def reset_password(token: str) -> Page:
    """The link in the reset (or staff welcome) email."""
    try:
        link = services.check_link(token, PASSWORD_LINKS)
    except InvalidInput as error:
        return _link_problem(error, again=url_for("accounts.reset"))
    # A new staff member's welcome link opens this page too: worded as a welcome,
    # they choose their first password and are signed in, rather than told to sign
    # in again. A reset reads as a reset, whether or not the account ever signed in.
    first = link.purpose == WELCOME
    form = forms.NewPasswordForm()
    if link.user is not None:
        organization = link.user.organization
        form.for_account(
            link.user.email, link.user.full_name, organization.legal_name if organization else None
        )
    if form.validate_on_submit():
        try:
            user = services.reset_password(token, form.password.data or "")
        except InvalidInput as error:
            if "token" in error.errors:
                return _link_problem(error, again=url_for("accounts.reset"))
            show_errors(form, error)
        else:
            # A welcome link never skips a second step set up since.
            if first and not user.two_step_enabled:
                start_session(user)
                flash("Your password is set and you are signed in.", "success")
                return redirect(
                    url_for("portal.dashboard" if user.organization_id else "console.home")
                )
            flask_login.logout_user()
            session.clear()
            flash(
                "Your password is set. Sign in with it now"
                + (
                    ": every browser, this one too, asks for your code again."
                    if user.two_step_enabled
                    else "."
                ),
                "success",
            )
            return redirect(url_for("accounts.sign_in"))
    return render_template(
        "accounts/reset_password.html",
        form=form,
        email=link.email,
        first=first,
        password_hint=forms.PASSWORD_HINT,
    ), (422 if form.is_submitted() else 200)


@bp.route("/invitations/<token>", methods=["GET", "POST"])
@access.public
@shows_unstorable_on_form
def accept_invitation(token: str) -> Page:
    """The link in an invitation email: create an account in the organization."""
    try:
        link = services.check_link(token, INVITATION)
    except InvalidInput as error:
        return _link_problem(error, detail=services.expired_invitation_help(token))
    form = forms.AcceptInvitationForm()
    form.for_account(link.email, link.organization.legal_name if link.organization else None)
    if form.validate_on_submit():
        try:
            user = services.accept_invitation(
                token, full_name=form.full_name.data or "", password=form.password.data or ""
            )
        except InvalidInput as error:
            if "token" in error.errors:
                return _link_problem(error)
            show_errors(form, error)
        else:
            start_session(user)
            assert link.organization is not None  # an invitation always names its organization
            flash(f"Welcome to {end_sentence(link.organization.legal_name)}", "success")
            return redirect(url_for("portal.dashboard"))
    return render_template(
        "accounts/accept_invitation.html",
        form=form,
        link=link,
        password_hint=forms.PASSWORD_HINT,
    ), (422 if form.is_submitted() else 200)


# --- the vendor's organization --------------------------------------------------------


# Members the vendor's Organization page lists at once (`paging.PER_PAGE`); the
# tests walk ties with fewer.
MEMBERS_PER_PAGE = paging.PER_PAGE
# Invitations both organization pages list at once (round 47).
INVITATIONS_PER_PAGE = paging.PER_PAGE


def _organization_page(
    organization: Organization,
    *,
    contact_form: forms.ContactForm | None = None,
    invite_form: forms.InviteForm | None = None,
    status: int = 200,
) -> tuple[str, int]:
    db_session = db.session()
    if contact_form is None:
        contact_form = forms.ContactForm(obj=organization)
        _flag_stored_unprintable(contact_form, organization)
    # Round 46: the members a page at a time (the count of active administrators,
    # the two-step summary and the invitations' members read for the whole); round
    # 47: the invitations too, on a pager of their own.
    now = utcnow()
    page, invitations = _members_and_invitations(db_session, organization.id, now)
    return render_template(
        "accounts/organization.html",
        organization=organization,
        contact_form=contact_form,
        invite_form=invite_form or forms.InviteForm(formdata=None),
        members=page.items,
        page=page,
        people_pages=_pages_shown(page, invitations),
        sole_administrator=queries.active_administrator_count(db_session, organization.id) == 1,
        two_step=queries.two_step_summary(db_session, organization.id),
        restorable=services.restorable_members(db_session, page.items),
        invitations=invitations,
        now=now,
        office_address=mail.sender_address(),
        hold=_hold(db_session, organization),
        # A member sees the page read-only, and whom to ask for what it does not offer.
        manages=access.require_principal().is_administrator,
        ask=services.whom_to_ask(db_session, organization.id),
    ), status


_ProfileForm = TypeVar("_ProfileForm", forms.ContactForm, forms.OrganizationForm)


def _flag_stored_unprintable(form: _ProfileForm, organization: Organization) -> _ProfileForm:
    """The profile form as first shown, each field whose stored text no document
    prints (saved before round 55) with the message a save would give (round 56),
    so the reader knows which field to write again before typing the rest."""
    for name in form.FIELDS:
        problem = printable.stored_unprintable_problem(getattr(organization, name) or "")
        if problem is not None:
            form[name].errors = [problem]
    return form


# The query argument of the invitations' page on both organization pages: the
# members keep `page` (round 46's links), and each pager keeps the other's.
INVITATIONS_PAGE = "invitations_page"


def _members_and_invitations(
    db_session: Session, organization_id: int, now: datetime
) -> tuple[paging.Page[User], paging.Page[queries.ListedInvitation]]:
    """The page of the organization's members and the page of its invitations that
    the query string asks for, each with its own pager (round 47); the invitations
    pending at `now` first."""
    members: paging.Page[User] = paging.read_page(
        db_session,
        queries.members_query(organization_id),
        per_page=MEMBERS_PER_PAGE,
        anchor="members",
    )
    invitations: paging.Page[queries.ListedInvitation] = paging.read_page(
        db_session,
        queries.invitations_listing(organization_id, now),
        per_page=INVITATIONS_PER_PAGE,
        rows=queries.invitation_rows(db_session),
        parameter=INVITATIONS_PAGE,
        anchor="invitations",
    )
    return members, invitations


def _pages_shown(members: paging.Page[Any], invitations: paging.Page[Any]) -> dict[str, int]:
    """The pages of members and invitations shown, past the first: the page's forms
    post with them (`_people_pages` reads them back), so their redirect returns there."""
    pages = {"page": members.number, INVITATIONS_PAGE: invitations.number}
    return {name: number for name, number in pages.items() if number > 1}


def _hold(db_session: Session, organization: Organization) -> services.Hold | None:
    """Why and since when the organization is held pending payment, beside its
    standing on the vendor's and staff's organization pages."""
    return services.pending_payment_hold(
        db_session, organization, organization.id, office_date(utcnow())
    )


@bp.route("/organization")
@bp.route("/organizations/<int:organization_id>")
@access.vendor
def organization(organization_id: int | None = None) -> Page:
    """The vendor's organization: profile, members and invitations."""
    principal = access.require_principal()
    db_session = db.session()
    found = queries.get_owned(
        db_session, Organization, organization_id or principal.organization_id or 0, principal
    )
    return _organization_page(found)


def _organization_form(
    form: forms.ContactForm | forms.InviteForm, form_name: str, act: Callable[[int, Actor], str]
) -> Page:
    """One of the organization page's forms posted: `act(organization_id, actor)`
    and back to the page saying what it returns, or the page again with the form
    and its messages (422)."""
    principal = access.require_principal()
    own = queries.own_organization(db.session(), principal)
    if form.validate_on_submit():
        try:
            done = act(own.id, Actor.of(principal))
        except InvalidInput as error:
            show_errors(form, error)
        else:
            flash(done, "success")
            # Back to the pages posted from (a row's *Send again* carries them).
            return redirect(url_for("accounts.organization", **_people_pages()))
    return _organization_page(own, status=422, **{form_name: form})


def _profile_saved(saved: services.ProfileSaved) -> str:
    """The profile saved, and whom that emailed (round 33): a changed billing email
    tells the old address and the new; a save that emails nobody says nothing of it."""
    if not saved.emailed:
        return "The organization's profile is saved."
    return f"The organization's profile is saved. We {saved.emailed_summary}."


@bp.route("/organization/profile", methods=["POST"])
@access.administrator
@shows_unstorable_on_form
def update_profile() -> Page:
    form = forms.ContactForm()

    def save(organization_id: int, actor: Actor) -> str:
        changes = {name: form[name].data for name in forms.ContactForm.FIELDS}
        saved = services.update_organization(organization_id, changes, actor)
        return _profile_saved(saved)

    return _organization_form(form, "contact_form", save)


@bp.route("/organization/two-step", methods=["POST"])
@access.administrator
def require_two_step() -> Response:
    """An administrator requires two-step sign-in of every member (or stops)."""
    principal = access.require_principal()
    own = queries.own_organization(db.session(), principal)
    required = request.form.get("required") == "true"
    done = services.require_for_organization(Actor.of(principal), own.id, required)
    said = (
        "Every member must now use two-step sign-in: those without it are asked to set it "
        "up the next time they open a page."
        if required
        else "Two-step sign-in is now each member's choice."
    )
    # Whom it emailed (round 33): the administrator knows who is to expect the email.
    flash(f"{said} We {done.emailed_summary}.", "success")
    return redirect(url_for("accounts.organization", _anchor="two-step"))


@bp.route("/organization/invitations", methods=["POST"])
@access.administrator
@shows_unstorable_on_form
def invite() -> Page:
    form = forms.InviteForm()

    def send(organization_id: int, actor: Actor) -> str:
        link = services.invite_member(
            organization_id, form.email.data or "", actor, role=form.role.data or MEMBER
        )
        return (
            f"Invitation sent to {link.email} to join as "
            f"{services.with_article(link.organization_role)}; the link works for 7 days."
        )

    return _organization_form(form, "invite_form", send)


@bp.route("/organization/invitations/<int:invitation_id>/revoke", methods=["POST"])
@access.administrator
def revoke_invitation(invitation_id: int) -> Response:
    link = services.revoke_invitation(invitation_id, current_actor())
    flash(f"The invitation to {link.email} is withdrawn.", "success")
    return redirect(url_for("accounts.organization", _anchor="invitations", **_people_pages()))


@bp.route("/organization/members/<int:user_id>/deactivate", methods=["POST"])
@access.administrator
def deactivate_member(user_id: int) -> Page:
    principal = access.require_principal()
    if not confirm.confirmed():
        member = queries.get_member(db.session(), user_id, principal)
        organization = queries.own_organization(db.session(), principal)
        # Round 56: what the removal would refuse (your own access, the last
        # administrator), refused now, not after the confirmation.
        services.check_user_active(user_id, False, Actor.of(principal))
        return confirm.ask(
            confirm.Confirmation(
                title=f"Remove {member.full_name}'s access?",
                consequences=[
                    f"{member.name_and_email} can no longer sign in to "
                    f"{organization.legal_name}'s account, and their API tokens are revoked "
                    "for good: programs using them stop at once. Invitations they sent that "
                    "are still waiting are withdrawn.",
                    "Their past actions stay on record. To give access again, choose "
                    "“Restore access” beside their name in the members list; their revoked "
                    "tokens stay revoked, and they create new ones.",
                    f"They are emailed at {member.email} that you removed their access, "
                    "what stopped working, and whom to ask.",
                ],
                button="Remove access",
                cancel_url=url_for("accounts.organization", _anchor="members", **_people_pages()),
                control=f"deactivate-member-{user_id}",
                cancel_label="Keep their access",
            )
        )
    emailed: list[str] = []
    user = services.set_user_active(user_id, False, Actor.of(principal), emailed=emailed)
    flash(
        f"{user.full_name} can no longer sign in, and their API tokens are revoked."
        f"{_we_emailed(user, emailed)}",
        "success",
    )
    return redirect(url_for("accounts.organization", _anchor="members", **_people_pages()))


def _we_emailed(user: User, emailed: Sequence[str], *, you: bool = False) -> str:
    """ " We emailed them at x@example.com." when the change to a colleague emailed
    them (round 34: removing a colleague and changing their role emailed them, and the
    page did not say so); nothing when it emailed nobody."""
    if user.email not in emailed:
        return ""
    return f" We emailed {'you' if you else 'them'} at {user.email}."


@bp.route("/organization/members/<int:user_id>/restore", methods=["POST"])
@access.administrator
def restore_member(user_id: int) -> Response:
    """Give back the access the organization removed (audited `user.reactivated`, as
    removal is `user.deactivated`); an account the office deactivated is a 403."""
    emailed: list[str] = []
    user = services.set_user_active(user_id, True, current_actor(), emailed=emailed)
    flash(
        f"{user.full_name} can sign in again. Their API tokens were revoked when their access "
        "was removed and stay revoked: they create new ones on the API tokens page."
        f"{_we_emailed(user, emailed)}",
        "success",
    )
    return redirect(url_for("accounts.organization", _anchor="members", **_people_pages()))


@bp.route("/organization/members/<int:user_id>/role", methods=["POST"])
@access.administrator
def change_member_role(user_id: int) -> Response:
    """Make a colleague an administrator or a member (audited `user.role_changed`,
    emailed to them); leaving the organization without an administrator is a 409."""
    actor = current_actor()
    emailed: list[str] = []
    user = services.set_organization_role(
        user_id, request.form.get("role", ""), actor, emailed=emailed
    )
    # Stepping down oneself is told as such, as the email tells it.
    yourself = user.id == actor.user_id
    who = "You are" if yourself else f"{user.full_name} is"
    flash(
        f"{who} now {services.with_article(user.organization_role)}."
        f"{_we_emailed(user, emailed, you=yourself)}",
        "success",
    )
    return redirect(url_for("accounts.organization", _anchor="members", **_people_pages()))


def _member_passkeys_page(
    member_id: int, form: forms.PasskeyRemovalForm | None = None, *, status: int = 200
) -> tuple[str, int]:
    """A colleague's passkeys, for their organization's administrator (round 47):
    the list and the form removing one or all, with a reason."""
    principal = access.require_principal()
    db_session = db.session()
    member = queries.get_member(db_session, member_id, principal)
    passkeys = passkey_services.passkeys_of(db_session, member.id)
    return render_template(
        "accounts/member_passkeys.html",
        member=member,
        organization=queries.own_organization(db_session, principal),
        passkeys=passkeys,
        form=_passkey_removal_form(passkeys, form or forms.PasskeyRemovalForm(formdata=None)),
    ), status


@bp.route("/organization/members/<int:user_id>/passkeys")
@access.administrator
def member_passkeys(user_id: int) -> Page:
    """A member lost a device that carries a passkey: their administrator reads
    which passkeys they have before removing one (round 47)."""
    if user_id == access.require_principal().user_id:
        return redirect(url_for("two_step.status", _anchor="passkeys"))
    return _member_passkeys_page(user_id)


@bp.route("/organization/members/<int:user_id>/passkeys/remove", methods=["POST"])
@access.administrator
@shows_unstorable_on_form
def remove_member_passkeys(user_id: int) -> Page:
    """An organization's administrator removes a member's passkey, or all of them,
    saying why, after a confirmation: audited, the member emailed, a browser signed
    in with a removed passkey signed out (round 47)."""
    # Another organization's person is a 404, as everywhere; refusals about the
    # passkeys themselves are told on the member's passkeys page.
    member = queries.get_member(db.session(), user_id, access.require_principal())
    form = forms.PasskeyRemovalForm()
    back = url_for("accounts.member_passkeys", user_id=user_id)
    if not form.validate_on_submit():
        return _member_passkeys_page(user_id, form, status=422)
    chosen = form.passkey.data or forms.ALL_PASSKEYS
    chosen_id = None if chosen == forms.ALL_PASSKEYS else _passkey_choice(chosen)
    reason = form.reason.data or ""
    try:
        if not confirm.confirmed():
            shown = passkey_services.member_passkeys_to_remove(
                current_actor(), user_id, reason, chosen_id
            )
            signed = passkey_services.removal_confirmation(
                current_actor(), user_id, reason, chosen_id, shown
            )
            return confirm.ask(_member_passkeys_question(member, shown, reason, back, signed))
        # Round 54 bound the passkeys named; round 55 signs them with the choice and
        # the reason (400 when the post is not what was shown).
        done = passkey_services.remove_member_passkeys(
            current_actor(),
            user_id,
            reason,
            passkey_id=chosen_id,
            confirmation=request.form.get(REMOVAL_CONFIRMATION, ""),
        )
    except InvalidInput as error:
        show_errors(form, error)
        return _member_passkeys_page(user_id, form, status=422)
    except (passkey_services.PasskeysAdded, BadRequest) as error:  # the page lists them again
        flash(error.detail, "error")
        return _member_passkeys_page(user_id, form, status=problem_status(error))
    except (NotFound, Conflict) as error:
        flash(error.detail, "error")
        return redirect(back)
    flash(
        f"Removed {'the passkey' if len(done.names) == 1 else 'the passkeys'} "
        f"{', '.join(done.names)} of {done.user.full_name}: a browser signed in with "
        f"{'it' if len(done.names) == 1 else 'one of them'} is signed out. "
        f"We emailed them at {done.user.email}.",
        "success",
    )
    return redirect(url_for("accounts.organization", _anchor="members"))


# The passkeys a removal's confirmation named, by id (round 54: removing all of them
# removed one the member added between the steps too, unnamed), signed with the choice
# and the reason (round 55: they were posted in plain text).
REMOVAL_CONFIRMATION = "confirmation"


def _member_passkeys_question(
    member: User, shown: Sequence[tuple[int, str]], reason: str, back: str, signed: str
) -> confirm.Confirmation:
    """What removing a member's passkeys does, asked before it is done."""
    names = [name for _, name in shown]
    one = len(names) == 1
    which = f"The passkey {names[0]}" if one else f"All {len(names)} of their passkeys"
    if not one:
        which += f" ({', '.join(names)})"
    return confirm.Confirmation(
        title=f"Remove {member.full_name}'s passkeys?",
        consequences=[
            f"{which} no longer {'signs' if one else 'sign'} {member.name_and_email} in, on "
            f"any device. A browser signed in with {'it' if one else 'one of them'} is "
            "signed out at its next page; their sessions signed in with the password stay.",
            f"They are emailed at {member.email} that you removed {'it' if one else 'them'}, "
            f"and why: “{' '.join(reason.split())}”. It is kept in the audit log.",
            "They sign in with their password and add passkeys again on their two-step "
            "sign-in page.",
        ],
        button="Remove the passkeys",
        cancel_url=back,
        control="remove-passkeys",
        cancel_label="Keep them",
        carried=[(REMOVAL_CONFIRMATION, signed)],
    )


# --- API tokens ------------------------------------------------------------------------


@bp.route("/account/tokens", methods=["GET", "POST"])
@access.any_user
@shows_unstorable_on_form
def tokens() -> Page:
    """Personal API tokens: create (the secret is shown once), list, revoke.

    Creating one needs the password given in the last `RECENT_PASSWORD`
    (at sign-in counts); otherwise the form asks for it."""
    principal = access.require_principal()
    form = forms.TokenForm()
    form.scope.choices = forms.token_scope_choices(principal.organization_role)
    secret = None
    created: ApiToken | None = None
    status = 200
    if form.validate_on_submit():
        try:
            _confirm_recent_password(principal, form)
            created, secret = services.create_api_token(
                principal.user_id,
                form.name.data or "",
                actor=Actor.of(principal),
                scope=form.scope.data or "",
                expires_in_days=_days(form.expires_in.data),
            )
        except InvalidInput as error:
            show_errors(form, error)
            status = 422
        except AuthenticationRequired as error:
            form.password.errors = [error.detail]
            status = 422
        else:
            form = forms.TokenForm(formdata=None)
            form.scope.choices = forms.token_scope_choices(principal.organization_role)
            flash(f"Token “{created.name}” created. Copy it now: it is shown only once.", "success")
    elif form.is_submitted():
        status = 422
    now = utcnow()
    # A page at a time, those that work first (round 49: it listed every token).
    page = _tokens_page(principal.user_id, now, url_for("accounts.tokens"))
    replacing = None if form.is_submitted() else _replacing(principal, form)
    return render_template(
        "accounts/tokens.html",
        form=form,
        secret=secret,
        created=created,
        replacing=replacing,
        ask_password=not password_recently_confirmed(),
        recent_minutes=int(RECENT_PASSWORD.total_seconds() // 60),
        tokens=page.items,
        page=page,
        now=now,
    ), status


# API tokens a page lists at once (round 49); the tests walk them with fewer.
TOKENS_PER_PAGE = paging.PER_PAGE


def _tokens_page(user_id: int, now: datetime, path: str) -> paging.Page[ApiToken]:
    """The page of the user's tokens the query string asks for, those that work at
    `now` first (`queries.tokens_listing`); its links lead to `path`, the page's
    own (`url_for`'s: the console's user page is drawn again after its forms' posts)."""
    return paging.read_page(
        db.session(),
        queries.tokens_listing(user_id, now),
        per_page=TOKENS_PER_PAGE,
        path=path,
        anchor="tokens",
    )


def _replacing(principal: Principal, form: forms.TokenForm) -> ApiToken | None:
    """The token the expiry reminder's link (`?replace=<id>`) asks to replace, when it
    is one of the caller's and not revoked: the form starts with its name and scope,
    so rotating a read-and-write token does not make a read-only one (the page's
    default) and break the program that writes. Read by its id, on any page."""
    wanted = record_id(request.args.get("replace"))
    if wanted is None:
        return None
    try:
        found = queries.get_own_token(db.session(), wanted, principal)
    except NotFound:
        return None
    if found.revoked_at is not None:
        return None
    form.name.data = found.name
    form.scope.data = found.scope
    return found


def _days(value: str | None) -> int:
    """A number of days as typed; 0 (which the service refuses, naming the choices)
    for anything that is not one."""
    text = (value or "").strip()
    return int(text) if text.isdigit() and len(text) < 6 else 0


def _confirm_recent_password(principal: Principal, form: forms.TokenForm) -> None:
    """Raise `AuthenticationRequired` unless the password was given recently,
    or is given now (and right)."""
    if password_recently_confirmed():
        return
    password = form.password.data or ""
    if not password:
        raise AuthenticationRequired(
            f"Enter your password: creating a token needs it when you signed in more than "
            f"{int(RECENT_PASSWORD.total_seconds() // 60)} minutes ago."
        )
    services.confirm_password(principal.user_id, password)
    note_password_confirmed()


@bp.route("/account/tokens/<int:token_id>/revoke", methods=["POST"])
@access.any_user
def revoke_token(token_id: int) -> Page:
    """Revoke one of the caller's tokens, after a confirmation: it cannot be undone,
    and a program using it stops at once."""
    principal = access.require_principal()
    if not confirm.confirmed():
        found = queries.get_own_token(db.session(), token_id, principal)
        if found.is_active:
            used = (
                f"it was last used {when(found.last_used_at)}"
                if found.last_used_at
                else "it has never been used"
            )
            return confirm.ask(
                confirm.Confirmation(
                    title=f"Revoke the token “{found.name}”?",
                    consequences=[
                        f"A program sending it ({found.prefix}…) is refused from its next "
                        f"call; {used}.",
                        "A revoked token cannot be restored. To rotate it, create the new "
                        "token first, switch the program to it, then revoke this one.",
                    ],
                    button="Revoke the token",
                    cancel_url=url_for("accounts.tokens"),
                    control=f"revoke-token-{token_id}",
                    cancel_label="Keep the token",
                )
            )
    token = services.revoke_api_token(token_id, Actor.of(principal))
    flash(f"Token “{token.name}” is revoked.", "success")
    # Back to the page of the list it was revoked from (its form carries the page).
    page = paging.requested_page()
    return redirect(url_for("accounts.tokens", page=page if page > 1 else None))


# --- what waits on whom (vendor dashboard) -------------------------------------------------


# The standings that hold a vendor up: what their dashboard says, and on whom it waits.
_HELD_UP = {
    PENDING_PAYMENT: ("An overdue invoice or royalty report is holding up new applications", "you"),
    SUSPENDED: ("Your organization's account is suspended", "the licensing office"),
}


# The held or suspended organization's waiting item, under its title (round 60).
STANDING_SAYS_WHY = "Why, since when and what settles it: the Standing panel above."


@waiting_provider
def _accounts_waiting(
    db_session: Session, principal: Principal, organization: Organization
) -> Iterable[WaitingItem]:
    held_up = _HELD_UP.get(organization.standing)
    if held_up is not None:
        title, waiting_on = held_up
        # Round 60 (agreements60): the standing panel above says why, since when and
        # what settles it; the item repeated it word for word, so the dashboard said
        # the hold twice. It points there instead.
        yield WaitingItem(title, waiting_on=waiting_on, detail=STANDING_SAYS_WHY)


# Registered after the standing's, so its items still come after the standing's.
@waiting_provider(when=queries.any_invitation_waiting)
def _invitations_waiting(
    db_session: Session, principal: Principal, organization: Organization
) -> Iterable[WaitingItem]:
    if not principal.is_administrator:
        return  # only administrators invite, withdraw or send again: not a member's work
    now = utcnow()
    invitations, member_emails = queries.invitations_and_members(db_session, organization.id)
    again = queries.resendable(invitations, member_emails, now)
    since = queries.expired_invitations_since(now)
    for link in invitations:
        status = link.status(now)
        if status == "pending":
            yield WaitingItem(
                f"Invitation to {link.email}",
                waiting_on=link.email,
                # Round 58: in words, on the office's day (the UTC day was printed).
                detail=f"They have until {deadline_text(link.expires_at)} to accept.",
                url=url_for("accounts.organization"),
                since=link.created_at,
            )
        elif status == "expired" and link.id in again and link.expires_at > since:
            # It said nothing once one expired: the invitee cannot ask for another.
            yield WaitingItem(
                f"Invitation to {link.email} expired unanswered",
                waiting_on=YOU,
                detail=f"It expired {when_text(link.expires_at)}. Send it again from its row "
                "on the organization page.",
                url=url_for("accounts.organization", _anchor=f"invitation-{link.id}"),
                since=link.expires_at,
            )


# --- staff console: organizations --------------------------------------------------------

ANY_STAFF = ("licensing", "billing")


def _standing_form(organization: Organization) -> forms.StandingForm:
    """The standing's choices: the steps its state allows that the signed-in staff
    member's role takes (`states.STANDING_ROLES`)."""
    form = forms.StandingForm()
    form.action.choices = [("", "Choose…")] + [
        (action, action.replace("_", " ").capitalize())
        for action in standing_actions_for(access.require_principal(), organization.standing)
    ]
    return form


# Organizations and users the console's lists show a page (`paging.PER_PAGE`).
ACCOUNTS_PER_PAGE = paging.PER_PAGE

# The organizations' and users' filters' labels: their forms draw them from here,
# and a refusal names the field by them (`arguments`).
ORGANIZATION_FILTERS = {
    # Round 57: a member's name or address finds their organization too.
    "q": "Name, or a member's name or email",
    "standing": "Standing",
    "administrator": "Administrators",
}
USER_FILTERS = {"q": "Email or name", "kind": "Kind"}
# The console's searches take at most what the API's `q` takes: a longer one is refused
# beside the field, nothing listed (round 52: 100,000 characters were a 500 on SQLite,
# "LIKE or GLOB pattern too complex").
SEARCH_MAX = 200


def _refused(labels: Mapping[str, str], search: str | None) -> dict[str, list[str]]:
    """A list's refused filters: those given twice (`arguments.repeated`), and a search
    longer than `SEARCH_MAX`."""
    refused = arguments.repeated(request.args, labels=labels)
    if search is not None and len(search) > SEARCH_MAX:
        refused.setdefault("q", []).append(at_most_characters(SEARCH_MAX))
    return refused


@console.route("/organizations")
@access.staff(*ANY_STAFF)
def organizations() -> tuple[str, int]:
    standing = request.args.get("standing") or None
    search = request.args.get("q") or None
    # Organizations whose active users have no active administrator among them: the
    # office makes one (the last one left, or the office removed them).
    needs_administrator = request.args.get("administrator") == "none"
    if standing not in (None, *STANDING.states):
        standing = None
    # A filter given twice is refused beside its field, nothing listed (`arguments`).
    refused = _refused(ORGANIZATION_FILTERS, search)
    # A page at a time, as every list (round 45: it listed every organization).
    page: paging.Page[Organization] | None = (
        None
        if refused
        else paging.read_page(
            db.session(),
            queries.organizations_listing(
                standing=standing,
                search=search,
                needs_administrator=needs_administrator,
                by_member=True,
            ),
            per_page=ACCOUNTS_PER_PAGE,
        )
    )
    # Round 57: which of each listed organization's people the search found (a clerk
    # with a caller on the phone knows the caller, not the licensee's legal name).
    matched = (
        queries.members_matching(db.session(), [each.id for each in page.items], search)
        if page is not None and search
        else {}
    )
    return render_template(
        "console/organizations.html",
        organizations=page.items if page else [],
        matched=matched,
        page=page,
        standings=STANDING.states,
        standing=standing,
        needs_administrator=needs_administrator,
        search=search or "",
        filter_errors=refused,
        filter_labels=ORGANIZATION_FILTERS,
    ), (400 if refused else 200)


# The organization page's history, a page at a time (round 58: with its people's and
# invitations' events it grows with every sign-in step; it read the newest 100).
HISTORY_PER_PAGE = paging.PER_PAGE
HISTORY_PAGE = "history_page"


def _organization_history(db_session: Session, organization: Organization) -> dict[str, Any]:
    """The organization's history: its own events, its members', their tokens' and its
    invitations' (round 58), with the accounts moved out of or into it (a move is the
    user's event, named with the person it moved: round 27), a page at a time. Each
    event of another record names it: "Pat Lee (pat@...)", the invited address."""
    moves = queries.moves_touching(db_session, organization.id)  # seqs, every one (round 59)
    # Round 56: and what other features record about it (the reminders recorded
    # against its invoices), each feature's read in one statement.
    entries = organization_history_entries(db_session, organization.id)
    history: paging.Page[AuditEvent] = paging.read_page(
        db_session,
        queries.organization_history(organization.id, also=[*moves, *entries]),
        per_page=HISTORY_PER_PAGE,
        parameter=HISTORY_PAGE,
        anchor="history",
    )
    return {
        "history": history.items,
        "history_page": history,
        "history_subjects": _history_subjects(db_session, history.items),
        "history_entries": entries,
        # Round 59: members' two-step and passkey events without their values to
        # all but admins (only the admins' pages showed those values before).
        "history_withheld": queries.values_withheld(history.items, access.current_principal()),
    }


def _history_subjects(
    db_session: Session, events: Sequence[AuditEvent]
) -> dict[int, tuple[str, str | None]]:
    """By seq, whom or what each of the page's events of a person, a token or an
    invitation is about, with its link: the people and the invitations in one
    statement each (round 49: a query a move)."""
    ids: dict[str, set[int]] = {"user": set(), "api_token": set(), "invitation": set()}
    for event in events:
        if event.entity_type in ids and event.entity_id.isdigit():
            ids[event.entity_type].add(int(event.entity_id))
    people = queries.people_named(db_session, ids["user"])
    tokens = queries.tokens_named(db_session, ids["api_token"])
    invited = queries.invitations_named(db_session, ids["invitation"])
    subjects: dict[int, tuple[str, str | None]] = {}
    for event in events:
        if not event.entity_id.isdigit():
            continue
        key = int(event.entity_id)
        if event.entity_type == "user" and (person := people.get(key)) is not None:
            link = record_url("user", person.id)  # admin's page: others read the name
            subjects[event.seq] = (f"{person.full_name} ({person.email})", link)
        elif event.entity_type == "api_token" and key in tokens:
            name, owner = tokens[key]
            link = record_url("user", owner.id)
            subjects[event.seq] = (f"“{name}”, {owner.full_name}'s ({owner.email})", link)
        elif event.entity_type == "invitation" and key in invited:
            subjects[event.seq] = (f"the invitation to {invited[key]}", "#invitations")
    return subjects


def _console_organization_page(
    organization: Organization,
    *,
    standing_form: forms.StandingForm | None = None,
    profile_form: forms.OrganizationForm | None = None,
    status: int = 200,
) -> tuple[str, int]:
    db_session = db.session()
    now = utcnow()
    # Round 47: the members and invitations a page at a time, as on the vendor's
    # page; what the page says of the whole organization (its active members and
    # administrators, the two-step summary) is counted in SQL.
    page, invitations = _members_and_invitations(db_session, organization.id, now)
    return render_template(
        "console/organization.html",
        organization=organization,
        members=page.items,
        page=page,
        people_pages=_pages_shown(page, invitations),
        two_step=queries.two_step_summary(db_session, organization.id),
        administrator_count=queries.active_administrator_count(db_session, organization.id),
        invitations=invitations,
        **_organization_history(db_session, organization),
        standing_form=standing_form or _standing_form(organization),
        others_steps=others_steps(access.require_principal(), organization.standing),
        profile_form=profile_form
        or _flag_stored_unprintable(
            forms.OrganizationForm(formdata=None, obj=organization), organization
        ),
        block_reason=services.standing_block_reason(organization),
        hold=_hold(db_session, organization),
        # A closed organization's open business: nothing else on the console gathers
        # it, and closing moved none of it.
        still_open=services.open_business(db_session, organization.id, office_date(utcnow()))
        if organization.standing == CLOSED
        else [],
        now=now,
    ), status


@console.route("/organizations/<int:organization_id>")
@access.staff(*ANY_STAFF)
def organization_detail(organization_id: int) -> Page:
    found = queries.get_owned(db.session(), Organization, organization_id)
    return _console_organization_page(found)


@console.route("/organizations/<int:organization_id>/standing", methods=["POST"])
@access.staff(*ANY_STAFF)
@shows_unstorable_on_form
def change_standing(organization_id: int) -> Page:
    found = queries.get_owned(db.session(), Organization, organization_id)
    form = _standing_form(found)
    if form.validate_on_submit():
        if not form.action.data:
            form.action.errors = ["Choose the change to make."]
            return _console_organization_page(found, standing_form=form, status=422)
        # Closing allows no step back and tells the organization: asked first (it sits
        # in one menu with the reversible changes). A missing reason is the form's message.
        reason = (form.reason.data or "").strip()
        # (Another role's close is refused at once, not asked about first.)
        closing = form.action.data == "close" and may_take(access.require_principal(), "close")
        emailed: list[str] = []
        try:
            if closing and reason and not confirm.confirmed():
                # Round 56: what closing would refuse first (closed meanwhile, by a
                # colleague or another tab), never confirmed and then refused.
                services.check_standing_change(
                    organization_id, "close", reason=reason, actor=current_actor()
                )
                return confirm.ask(_closing_question(found, reason))
            services.change_organization_standing(
                organization_id,
                form.action.data,
                reason=form.reason.data,
                actor=current_actor(),
                emailed=emailed,
                confirmation=request.form.get(CLOSING_CONFIRMATION, "") if closing else None,
            )
        except InvalidInput as error:
            show_errors(form, error)
        except BadRequest as error:  # not the confirmation shown (round 55)
            form.action.errors = [error.detail]
            return _console_organization_page(found, standing_form=form, status=400)
        except IllegalTransition as error:  # an illegal step: say which are allowed
            # 409, as every illegal step is (round 54: it fell through to the form's
            # 422, as if the choice were mistyped rather than no longer allowed).
            form.action.errors = [said_to_the_reader(error)]
            return _console_organization_page(found, standing_form=form, status=409)
        except Conflict as error:  # what closing ends grew since its confirmation: say what
            form.action.errors = [error.detail]
            return _console_organization_page(found, standing_form=form, status=409)
        except PermissionDenied as error:  # another role's step: say whose
            form.action.errors = [error.detail]
            return _console_organization_page(found, standing_form=form, status=403)
        else:
            # Whom it emailed (round 34): staff know who is to expect it, and who called.
            flash(
                f"{found.legal_name} is now {found.standing.replace('_', ' ')}. "
                f"We {services.standing_emailed_summary(emailed)}.",
                "success",
            )
            return redirect(
                url_for("accounts_console.organization_detail", organization_id=organization_id)
            )
    return _console_organization_page(found, standing_form=form, status=422)


# What closing ends, as its confirmation listed it (`services.ended_by_closing`; round
# 54: an application submitted between the steps was withdrawn unlisted), signed with
# the reason (round 55: it was posted in plain text).
CLOSING_CONFIRMATION = "confirmation"


def _closing_question(organization: Organization, reason: str) -> confirm.Confirmation:
    # What stays open after closing, so staff settle or end it knowingly: closing
    # moves none of it, and the organization still pays and files what it owes.
    still_open = services.open_business(db.session(), organization.id, office_date(utcnow()))
    open_words = (
        ["Still open with it, and still its business after closing:", *still_open]
        if still_open
        else ["Nothing is open with it: no money either way, report, license or application."]
    )
    return confirm.Confirmation(
        title=f"Close {organization.legal_name}'s account?",
        consequences=[
            "It can no longer apply for licenses, accept agreements or invite members, and "
            "closing cannot be undone.",
            *open_words,
            f"The organization is emailed the reason: {reason}",
        ],
        button="Close the account",
        cancel_url=url_for("accounts_console.organization_detail", organization_id=organization.id),
        control="change-standing",
        cancel_label="Keep the account open",
        carried=[
            (
                CLOSING_CONFIRMATION,
                services.closing_confirmation(
                    organization.id,
                    reason,
                    services.ended_by_closing(db.session(), organization.id),
                    current_actor(),
                    utcnow(),
                ),
            )
        ],
    )


@console.route("/organizations/<int:organization_id>/members/<int:user_id>/role", methods=["POST"])
@access.staff("licensing")
def change_member_role_for_organization(organization_id: int, user_id: int) -> Response:
    """The office makes a member administrator (an organization whose only
    administrator left), or an administrator a member; audited as the office's act
    and emailed to the member."""
    member = queries.get_member(db.session(), user_id)
    if member.organization_id != organization_id:
        raise NotFound(f"{organization_id} has no member {user_id}.")
    emailed: list[str] = []
    user = services.set_organization_role(
        user_id, request.form.get("role", ""), current_actor(), emailed=emailed
    )
    flash(
        f"{user.full_name} is now {services.with_article(user.organization_role)}."
        f"{_we_emailed(user, emailed)}",
        "success",
    )
    # Back to the page of members (and of invitations) the button was on (round 47).
    return redirect(
        url_for(
            "accounts_console.organization_detail",
            organization_id=organization_id,
            _anchor="members",
            **_people_pages(),
        )
    )


def _people_pages() -> dict[str, Any]:
    """The pages of members and invitations a form on an organization page was
    posted from (its action carries them), past the first: to redirect back to."""
    pages = {
        "page": paging.requested_page(),
        INVITATIONS_PAGE: paging.requested_page(parameter=INVITATIONS_PAGE),
    }
    return {name: number for name, number in pages.items() if number > 1}


@console.route("/organizations/<int:organization_id>/profile", methods=["POST"])
@access.staff("licensing")
@shows_unstorable_on_form
def update_organization(organization_id: int) -> Page:
    found = queries.get_owned(db.session(), Organization, organization_id)
    form = forms.OrganizationForm()
    if form.validate_on_submit():
        try:
            saved = services.update_organization(
                organization_id,
                {name: form[name].data for name in forms.OrganizationForm.FIELDS},
                current_actor(),
            )
        except InvalidInput as error:
            show_errors(form, error)
        else:
            flash(_profile_saved(saved), "success")
            return redirect(
                url_for("accounts_console.organization_detail", organization_id=organization_id)
            )
    return _console_organization_page(found, profile_form=form, status=422)


# --- staff console: users --------------------------------------------------------------


@console.route("/users", methods=["GET", "POST"])
@access.staff("admin")
@shows_unstorable_on_form
def users() -> Page:
    """Every account; admins add staff members here (they get an email to set a password)."""
    form = forms.StaffUserForm()
    status = 200
    if form.validate_on_submit():
        try:
            user = services.create_staff_user(
                email=form.email.data or "",
                roles=form.roles.data or (),
                full_name=form.full_name.data or "",
                actor=current_actor(),
                two_step_required=current_config().two_step_required_for_staff,
            )
        except InvalidInput as error:
            show_errors(form, error)
            status = 422
        else:
            flash(
                f"{user.email} is added and has been emailed a link to set a password.", "success"
            )
            return redirect(url_for("accounts_console.users"))
    elif form.is_submitted():
        status = 422
    # Vendor users of one role too: the office finds an organization's billing members.
    kinds = ("staff", "vendor", *access.ORGANIZATION_ROLES)
    kind = request.args.get("kind") if request.args.get("kind") in kinds else None
    search = request.args.get("q") or None
    # A filter given twice is refused beside its field, nothing listed (`arguments`).
    refused = _refused(USER_FILTERS, search)
    # A page at a time, as every list (round 45: it listed every account).
    page: paging.Page[User] | None = (
        None
        if refused
        else paging.read_page(
            db.session(), queries.users_query(kind=kind, search=search), per_page=ACCOUNTS_PER_PAGE
        )
    )
    return render_template(
        "console/users.html",
        users=page.items if page else [],
        page=page,
        form=form,
        kind=kind,
        search=search or "",
        now=utcnow(),
        filter_errors=refused,
        filter_labels=USER_FILTERS,
    ), (400 if refused and status == 200 else status)


def _user_page(
    user_id: int,
    *,
    roles_form: forms.RolesForm | None = None,
    two_step_form: forms.TwoStepResetForm | None = None,
    move_form: forms.MoveUserForm | None = None,
    passkey_form: forms.PasskeyRemovalForm | None = None,
    status: int = 200,
) -> tuple[str, int]:
    db_session = db.session()
    user = queries.get_member(db_session, user_id)
    organization = user.organization
    if roles_form is None:
        roles_form = forms.RolesForm(formdata=None, roles=sorted(user.roles))
    now = utcnow()
    # Round 49: a page at a time, those that work first, and the working ones counted.
    tokens = _tokens_page(user.id, now, url_for("accounts_console.user_detail", user_id=user.id))
    # Listed as the owner's two-step page lists them (read-only): an admin on the phone
    # says "the one last used on Tuesday" before forgetting them all.
    browsers = services.remembered_browsers_of(
        db_session, user.id, now, current_config().two_step_remember_days
    )
    passkeys = passkey_services.passkeys_of(db_session, user.id)
    return render_template(
        "console/user.html",
        user=user,
        roles_form=roles_form,
        history=audit_queries.events_for(db_session, "user", user.id),
        tokens=tokens.items,
        tokens_page=tokens,
        working_tokens=queries.usable_token_count(db_session, user.id, now),
        remembered_browsers=len(browsers),
        browsers=browsers,
        # For staff helping someone (round 44); an admin removes them (round 45).
        passkeys=passkeys,
        passkey_form=_passkey_removal_form(
            passkeys, passkey_form or forms.PasskeyRemovalForm(formdata=None)
        ),
        staff_roles=STAFF_ROLES,
        keeps_organization=_keeps_organization(db_session, user),
        two_step_form=two_step_form or forms.TwoStepResetForm(formdata=None),
        move_form=_move_form(user, move_form or forms.MoveUserForm(formdata=None)),
        destinations_offered=queries.DESTINATIONS_OFFERED,
        # The page says why the account cannot move now rather than offer it.
        move_refused=organization and services.leaving_refusal(db_session, user, organization),
        two_step_required=required_of(user, user.organization),
        now=now,
    ), status


# The query argument of the move's search on the user page (round 49); the move's
# form posts it back, so a refused move shows the same choices.
MOVE_SEARCH = "move_search"


def _move_form(user: User, form: forms.MoveUserForm) -> forms.MoveUserForm:
    """The move's form, offering at most `queries.DESTINATIONS_OFFERED` of the
    organizations the account may move to: the first by name, or those the search
    finds by name or id (round 49: it offered every one); a refused post's choice
    is offered again wherever it sits."""
    arguments.once(request.args, {MOVE_SEARCH: "Search organizations"})  # round 56
    search = (request.args.get(MOVE_SEARCH) or "").strip()[: forms.MOVE_SEARCH_MAX]
    found = queries.destinations(
        db.session(),
        user.organization_id or 0,
        search=search,
        chosen=record_id(form.organization.data or ""),
    )
    form.organization.choices = [("", "Choose…")] + [
        (str(organization_id), name) for organization_id, name in found.offered
    ]
    form.search = search
    form.found = found.total
    return form


def _passkey_removal_form(
    passkeys: Sequence[Passkey], form: forms.PasskeyRemovalForm
) -> forms.PasskeyRemovalForm:
    """The office's removal form, offering every passkey of the person, or all."""
    form.passkey.choices = [(forms.ALL_PASSKEYS, "All of them")] + [
        (str(passkey.id), passkey.name) for passkey in passkeys
    ]
    return form


@console.route("/users/<int:user_id>/passkeys/remove", methods=["POST"])
@access.staff("admin")
@shows_unstorable_on_form
def remove_passkeys(user_id: int) -> Page:
    """A person lost a device that carries a passkey (or it was stolen): an admin
    removes that passkey, or all of them, saying why; every session of the account
    ends, audited, the person emailed (round 45)."""
    form = forms.PasskeyRemovalForm()
    if form.validate_on_submit():
        chosen = form.passkey.data or forms.ALL_PASSKEYS
        chosen_id = None if chosen == forms.ALL_PASSKEYS else _passkey_choice(chosen)
        reason = form.reason.data or ""
        back = url_for("accounts_console.user_detail", user_id=user_id)
        try:
            # Round 55: asked first, as an organization's administrator is (it went at
            # one press), the confirming post carrying what was named, signed.
            if not confirm.confirmed():
                user, shown = passkey_services.passkeys_to_remove_for(
                    current_actor(), user_id, reason, chosen_id
                )
                signed = passkey_services.removal_confirmation(
                    current_actor(), user_id, reason, chosen_id, shown
                )
                return confirm.ask(_office_passkeys_question(user, shown, reason, back, signed))
            done = passkey_services.remove_passkeys_for(
                current_actor(),
                user_id,
                reason,
                passkey_id=chosen_id,
                confirmation=request.form.get(REMOVAL_CONFIRMATION, ""),
            )
        except InvalidInput as error:
            show_errors(form, error)
        except (passkey_services.PasskeysAdded, BadRequest) as error:
            flash(error.detail, "error")
            return _user_page(user_id, passkey_form=form, status=problem_status(error))
        except (NotFound, Conflict) as error:
            flash(error.detail, "error")
            return redirect(back)
        else:
            names = ", ".join(done.names)
            told = (
                "they have been emailed"
                if done.emailed
                else "nobody was emailed, as it is your own account"
            )
            flash(
                f"Removed {'the passkey' if len(done.names) == 1 else 'the passkeys'} {names} "
                f"of {done.user.email} and signed them out everywhere; {told}. They sign in "
                "with their password (and code, if they use two-step sign-in).",
                "success",
            )
            return redirect(url_for("accounts_console.user_detail", user_id=user_id))
    return _user_page(user_id, passkey_form=form, status=422)


def _office_passkeys_question(
    user: User, shown: Sequence[tuple[int, str]], reason: str, back: str, signed: str
) -> confirm.Confirmation:
    """What the office's removal of a person's passkeys does, asked before it is done
    (round 55)."""
    names = [name for _, name in shown]
    one = len(names) == 1
    which = f"The passkey {names[0]}" if one else f"All {len(names)} of their passkeys"
    if not one:
        which += f" ({', '.join(names)})"
    own = user.id == current_actor().user_id
    return confirm.Confirmation(
        title=f"Remove {user.full_name}'s passkeys?",
        consequences=[
            f"{which} no longer {'signs' if one else 'sign'} {user.name_and_email} in, on "
            "any device, and every session of the account ends, on every device.",
            "Nobody is emailed: it is your own account."
            if own
            else f"They are emailed at {user.email} that the licensing office removed "
            f"{'it' if one else 'them'}, and why: “{' '.join(reason.split())}”. It is kept "
            "in the audit log.",
        ],
        button="Remove the passkeys",
        cancel_url=back,
        control="remove-passkeys",
        cancel_label="Keep them",
        carried=[(REMOVAL_CONFIRMATION, signed)],
    )


def _passkey_choice(chosen: str) -> int:
    """The chosen passkey's id; a choice that is no id names no passkey (0)."""
    return record_id(chosen) or 0


def _keeps_organization(db_session: Session, user: User) -> bool:
    """Whether `user` is their organization's last active administrator while it has
    other active members: deactivating them is refused until one of those is made
    administrator, so the console's user page says that instead of offering it."""
    if not (user.organization_id and user.is_active and user.is_administrator):
        return False
    # Counted (round 47: it read every member): the user is one of each count.
    active, administrators = queries.active_people(db_session, user.organization_id)
    return administrators == 1 and active > 1


@console.route("/users/<int:user_id>")
@access.staff("admin")
def user_detail(user_id: int) -> Page:
    return _user_page(user_id)


@console.route("/users/<int:user_id>/roles", methods=["POST"])
@access.staff("admin")
def set_roles(user_id: int) -> Page:
    form = forms.RolesForm()
    if form.validate_on_submit():
        try:
            services.set_staff_roles(user_id, form.roles.data or (), actor=current_actor())
        except InvalidInput as error:
            show_errors(form, error)
        except Conflict as error:
            form.roles.errors = [error.detail]
        else:
            flash("Roles saved.", "success")
            return redirect(url_for("accounts_console.user_detail", user_id=user_id))
    return _user_page(user_id, roles_form=form, status=422)


@console.route("/users/<int:user_id>/active", methods=["POST"])
@access.staff("admin")
def set_active(user_id: int) -> Page:
    active = request.form.get("active") == "true"
    if not active and not confirm.confirmed():  # removing access asks first
        user = queries.get_member(db.session(), user_id)
        try:  # round 56: what the removal would refuse, told before asking
            services.check_user_active(user_id, False, current_actor())
        except (InvalidInput, Conflict) as error:
            flash(error.detail, "error")
            return redirect(url_for("accounts_console.user_detail", user_id=user_id))
        return confirm.ask(
            confirm.Confirmation(
                title=f"Deactivate {user.full_name}'s account?",
                consequences=[
                    f"{user.email} can no longer sign in, their API tokens are revoked "
                    "for good, and invitations they sent that are still waiting are withdrawn.",
                    "Applications and permission requests assigned to them go back to their "
                    "queues, unassigned.",
                    "Their past actions stay on record. An admin can reactivate the account; "
                    "its revoked tokens stay revoked, and its owner creates new ones.",
                    *(
                        [f"They are emailed at {user.email} that the office removed their access."]
                        if user.organization_id is not None
                        else []
                    ),
                ],
                button="Deactivate the account",
                cancel_url=url_for("accounts_console.user_detail", user_id=user_id),
                control="set-active",
                cancel_label="Keep the account active",
            )
        )
    emailed: list[str] = []
    try:
        user = services.set_user_active(user_id, active, current_actor(), emailed=emailed)
    except (InvalidInput, Conflict) as error:
        flash(error.detail, "error")
    else:
        flash(
            f"{user.email} can sign in again; API tokens revoked when the account was "
            f"deactivated stay revoked.{_we_emailed(user, emailed)}"
            if active
            else f"{user.email} can no longer sign in, and their API tokens are revoked."
            f"{_we_emailed(user, emailed)}",
            "success",
        )
    return redirect(url_for("accounts_console.user_detail", user_id=user_id))


@console.route("/users/<int:user_id>/two-step/off", methods=["POST"])
@access.staff("admin")
@shows_unstorable_on_form
def turn_off_two_step(user_id: int) -> Page:
    """A user who lost their phone and their recovery codes: an admin turns their
    two-step sign-in off, saying why (audited; the user is emailed)."""
    form = forms.TwoStepResetForm()
    if form.validate_on_submit():
        # Round 45: its passkeys go with it (the form said so), and the message says so.
        passkeys = len(passkey_services.passkeys_of(db.session(), user_id))
        try:
            user = services.turn_off_two_step_for(current_actor(), user_id, form.reason.data or "")
        except InvalidInput as error:
            show_errors(form, error)
        except Conflict as error:
            flash(error.detail, "error")
            return redirect(url_for("accounts_console.user_detail", user_id=user_id))
        else:
            removed = (
                f", their {passkeys} {'passkey is' if passkeys == 1 else 'passkeys are'} removed"
                if passkeys
                else ""
            )
            flash(
                f"Two-step sign-in is off for {user.email}{removed}, and they have been "
                "emailed; they sign in with their password and set it up again.",
                "success",
            )
            return redirect(url_for("accounts_console.user_detail", user_id=user_id))
    return _user_page(user_id, two_step_form=form, status=422)


@console.route("/users/<int:user_id>/browsers/forget", methods=["POST"])
@access.staff("admin")
def forget_browsers(user_id: int) -> Page:
    """A person's laptop was stolen, or they signed in on a shared computer: an admin
    forgets every browser remembered for them (and ends their sessions), after a
    confirmation; audited, the person emailed."""
    if not confirm.confirmed():
        user = queries.get_member(db.session(), user_id)
        try:  # round 56: a deactivated account is refused before asking, not after
            services.check_office_sign_out(current_actor(), user_id, forgetting=True)
        except Conflict as error:
            flash(error.detail, "error")
            return redirect(url_for("accounts_console.user_detail", user_id=user_id))
        return confirm.ask(
            confirm.Confirmation(
                title=f"Forget the browsers remembered for {user.full_name}?",
                consequences=[
                    f"{user.email} is signed out everywhere, and their next sign-in on every "
                    "browser asks for the code from their authenticator app after the "
                    "password, even where they had ticked \"Don't ask for a code on this "
                    'browser".',
                    "You are not emailed: it is your own account. The audit log keeps how "
                    "many browsers were forgotten."
                    if user.id == current_actor().user_id
                    else "They are emailed that the office did it, and why the code is "
                    "asked. The audit log keeps how many browsers were forgotten.",
                ],
                button="Forget their remembered browsers",
                cancel_url=url_for("accounts_console.user_detail", user_id=user_id),
                control="forget-browsers",
                cancel_label="Keep them remembered",
            )
        )
    try:
        done = services.forget_browsers_for(current_actor(), user_id)
    except Conflict as error:  # deactivated meanwhile: it forgot them (round 35)
        flash(error.detail, "error")
        return redirect(url_for("accounts_console.user_detail", user_id=user_id))
    user, forgotten = done.user, done.forgotten
    if forgotten:
        # Round 34: an admin forgetting their own was emailed that "the office" did it.
        told = (
            "they have been emailed"
            if done.emailed
            else "nobody was emailed, as it is your own account"
        )
        flash(
            f"Forgot {forgotten} remembered {'browser' if forgotten == 1 else 'browsers'} of "
            f"{user.email} and signed them out everywhere; {told}, and their next sign-in "
            "asks for the code.",
            "success",
        )
    else:
        flash(f"No browser is remembered for {user.email}: nothing changed.", "info")
    return redirect(url_for("accounts_console.user_detail", user_id=user_id))


# The person is emailed about the office's sign-out once in this many minutes.
_SIGNED_OUT_MINUTES = int(services.SIGNED_OUT_EMAILED_ONCE_IN.total_seconds() // 60)


@console.route("/users/<int:user_id>/sign-out", methods=["POST"])
@access.staff("admin")
def sign_out_user(user_id: int) -> Page:
    """A person's laptop was stolen while signed in, with no browser remembered (they
    never ticked the box, or have two-step sign-in off): an admin signs them out
    everywhere, after a confirmation; audited, the person emailed. Round 31."""
    if not confirm.confirmed():
        user = queries.get_member(db.session(), user_id)
        try:  # round 56: a deactivated account is refused before asking, not after
            services.check_office_sign_out(current_actor(), user_id, forgetting=False)
        except Conflict as error:
            flash(error.detail, "error")
            return redirect(url_for("accounts_console.user_detail", user_id=user_id))
        return confirm.ask(
            confirm.Confirmation(
                title=f"Sign {user.full_name} out everywhere?",
                consequences=[
                    f"Every session of {user.email} ends, on every computer and browser: "
                    "each asks for their password again (and their code, if they use "
                    "two-step sign-in). Their API tokens keep working.",
                    f"They are emailed at {user.email} that the office did it, at most once "
                    f"in {_SIGNED_OUT_MINUTES} minutes: signing them "
                    "out again within them ends the sessions again without another email. "
                    "The audit log keeps each.",
                ],
                button="Sign them out everywhere",
                cancel_url=url_for("accounts_console.user_detail", user_id=user_id),
                control="sign-out-everywhere",
                cancel_label="Keep them signed in",
            )
        )
    try:
        done = services.sign_out_for(current_actor(), user_id)
    except Conflict as error:  # deactivated meanwhile: the page no longer offers it
        flash(error.detail, "error")
        return redirect(url_for("accounts_console.user_detail", user_id=user_id))
    told = (
        f"they have been emailed at {done.user.email}"
        if done.emailed
        else "they were emailed about a sign-out in the last "
        f"{_SIGNED_OUT_MINUTES} minutes, so not again"
    )
    flash(
        f"Signed {done.user.email} out everywhere; {told}, and every browser asks for "
        "their password again.",
        "success",
    )
    return redirect(url_for("accounts_console.user_detail", user_id=user_id))


@console.route("/users/<int:user_id>/organization", methods=["POST"])
@access.staff("admin")
@shows_unstorable_on_form
def move_user(user_id: int) -> Page:
    """Move a vendor user's account to another organization (a new employer), after
    a confirmation that says what ends and who is told."""
    user = queries.get_member(db.session(), user_id)
    form = _move_form(user, forms.MoveUserForm())
    status = 422
    if form.validate_on_submit():
        destination = record_id(form.organization.data or "")
        reason = form.reason.data or ""
        # Where the admin saw the account: one moved meanwhile is not moved on.
        leaving = record_id(request.form.get("leaving", ""))
        try:
            if not confirm.confirmed():
                services.check_move(user_id, destination, reason, current_actor(), leaving=leaving)
                return confirm.ask(_move_question(user, destination, reason))
            moved = services.move_user(
                user_id, destination, reason, current_actor(), leaving=leaving
            )
        except InvalidInput as error:
            show_errors(form, error)
        except Conflict as error:
            form.form_errors.append(error.detail)
            status = 409
        else:
            told = services.who_is_told(
                "they", (moved.left, moved.joined), moved.administrators_told
            )
            flash(
                f"{moved.user.email} now acts for {moved.joined.legal_name}, as "
                f"{services.with_article(moved.user.organization_role)}; emailed: {told}.",
                "success",
            )
            return redirect(url_for("accounts_console.user_detail", user_id=user_id))
    return _user_page(user_id, move_form=form, status=status)


def _two_step_on_arrival(user: User, joined: Organization) -> str:
    """What the move's emails say too: their first sign-in stops at the set-up."""
    if not joined.two_step_required or user.two_step_enabled:
        return ""
    return (
        f" {joined.legal_name} requires two-step sign-in: they set it up at their next "
        "sign-in, before any of its pages open."
    )


def _move_question(user: User, destination: int | None, reason: str) -> confirm.Confirmation:
    joined = db.session().get(Organization, destination or 0)
    # Both exist: check_move refused a move from no organization or to none.
    assert joined is not None
    assert user.organization is not None
    left = user.organization.legal_name
    session = db.session()
    to_tell = [
        organization
        for organization in (user.organization, joined)
        if services.administrators_to_tell(session, user, organization)
    ]
    told = services.who_is_told("They", (user.organization, joined), to_tell)
    return confirm.Confirmation(
        title=f"Move {user.full_name}'s account to {joined.legal_name}?",
        consequences=[
            f"{user.email} is signed out everywhere, their API tokens are revoked, and the "
            f"invitations they sent for {left} that are still waiting are withdrawn.",
            f"They act for {joined.legal_name} as a billing member (reading and paying its "
            "invoices) until its administrators give them another role."
            + _two_step_on_arrival(user, joined),
            f"What they did for {left} (reports filed, agreements accepted, payments made) "
            f"stays {left}'s record; they no longer see it.",
            f"Emailed: {told}. Reason, also kept in the audit log: {reason.strip()}",
        ],
        button="Move the account",
        cancel_url=url_for("accounts_console.user_detail", user_id=user.id),
        control="move-account",
        cancel_label="Keep the account where it is",
    )


@console.route("/users/<int:user_id>/unlock", methods=["POST"])
@access.staff("admin")
def unlock(user_id: int) -> Response:
    user = services.unlock_user(user_id, actor=current_actor())
    flash(f"{user.email} may sign in again at once.", "success")
    return redirect(url_for("accounts_console.user_detail", user_id=user_id))
