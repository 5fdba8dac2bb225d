"""Permission-request pages: the public form and the requester's status page
(by secret link), the vendor portal's view of requests from their
applications, and the staff console's queue.

Views read forms, call one service and render; they never commit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask import Response as FlaskResponse
from flask import session as cookie_session
from flask_limiter import RequestLimit
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response
from wtforms import SelectChoice

from licensing import access, arguments, calendar, db
from licensing.access import Principal
from licensing.accounts.auth import auth_rate_limit
from licensing.accounts.models import Organization, User
from licensing.accounts.queries import assignee_filter_people
from licensing.actors import current_actor
from licensing.audit import queries as audit_queries
from licensing.config import current_config
from licensing.db import utcnow
from licensing.downloads import pdf_response
from licensing.errors import Conflict, InvalidInput
from licensing.extensions import retry_after
from licensing.limits import record_id, shows_unstorable_on_form
from licensing.web import assignment, paging
from licensing.web import confirm as confirm_step
from licensing.web.console import QueueSummary, due_soon_by, queue_summary
from licensing.web.errors import duration_words, said_to_the_reader
from licensing.web.filters import recorded_words, state_words
from licensing.web.forms import PageForm, show_errors
from licensing.web.navigation import url_pattern
from licensing.web.portal import WaitingItem, waiting_provider
from licensing.web.records import found_by, numbered_record
from licensing.words import ORGANIZATION_TYPE_LABELS, counted, humanize, state_label

from . import forms, queries, services
from .models import PermissionLetter, PermissionRequest
from .queue_rows import queue_rows
from .states import (
    APPROVED,
    NEEDS_INFO,
    OPEN_STATES,
    PERMISSION_REQUEST,
    STATES,
    state_to_requester,
)

public = Blueprint("permissions_public", __name__, url_prefix="/permissions")
portal = Blueprint("permissions_portal", __name__, url_prefix="/portal/permissions")
console = Blueprint("permissions_console", __name__, url_prefix="/console/permissions")

# The steps the console's forms take; the others (answer, withdraw, reconsideration)
# are the requester's, from their link, and expiry is the clock's.
STAFF_STEPS = ("start_review", "ask_for_info", "approve", "deny")

# The detail page's forms, by the name the page knows each by, and the form each
# staff step posts (assignment's, which lists the staff, is `_assign_form`).
STAFF_FORMS: dict[str, type[PageForm]] = {
    "review_form": forms.ConfirmForm,
    "ask_form": forms.AskForm,
    "approve_form": forms.ApproveForm,
    "deny_form": forms.DenyForm,
    "note_form": forms.NoteForm,
}

numbered_record("permission_request", PermissionRequest, PermissionRequest.reference)
# The admin holding a letter asks who issued it: its number finds its request.
found_by("permission_request", PermissionLetter.number, PermissionLetter.request_id)
# Histories say a request's purpose and medium as its form does, not "course_materials".
recorded_words("permission_request", ("purpose", "medium"), services.label)
# ... and its states as its refusals do ("waiting for the requester's information").
recorded_words("permission_request", ("state",), PERMISSION_REQUEST.state_text)

Page = str | tuple[str, int] | Response


def letter_response(letter: PermissionLetter) -> Response:
    """A letter's issued bytes, for pages and the API alike: it names the
    requester, so no cache may keep it (the public link carries no credentials)."""
    content = services.letter_bytes(db.session(), letter.id)
    assert content is not None  # the letter was just read
    return pdf_response(content, letter.filename, disposition="attachment")


def request_letter(request_id: int, letter_id: int) -> Response:
    """A letter of a request the caller may read (`queries.get_request` says who
    may): the portal's, the console's and the API's letter routes."""
    session = db.session()
    return letter_response(
        queries.get_letter(session, queries.get_request(session, request_id), letter_id)
    )


@public.app_template_filter("term_asked")
def term_asked(found: PermissionRequest) -> str:
    """A request's term as asked for, on every page that shows the request (round 42):
    its words and days once (`services.term_words`)."""
    return services.term_words(found)


@public.app_template_filter("institution_type")
def institution_type(value: str | None) -> str:
    """A request's type of institution in the form's words, as a sentence reads them
    ("academic institution", not the vocabulary's "academic")."""
    return ORGANIZATION_TYPE_LABELS.get(value or "", humanize(value)).lower()


def _link_problem(error: services.LinkNotValid | services.LinkExpired) -> tuple[str, int]:
    status = 404 if isinstance(error, services.LinkNotValid) else 403
    return render_template("permissions/link_problem.html", detail=error.detail), status


# --- public: the request form ------------------------------------------------------------


def _kept_when_limited(_limit: RequestLimit) -> FlaskResponse:
    """Over the shared sign-in budget (a department behind one address): the form
    as sent, saying when to send it again, instead of a page that loses it."""
    form = forms.PermissionRequestForm()
    body, _status = _request_form(
        form, commercial=False, limited=f"in {duration_words(retry_after())}"
    )
    # Flask's response class: Flask-Limiter takes no other for the 429's own page.
    return current_app.response_class(body, status=429, mimetype="text/html")


# The session key under which the form leaves the days asked for to the *Check your
# email* page (signed: the page says them as the office will read them).
_SENT_TERM = "permission_sent_term"


@public.route("/request", methods=["GET", "POST"])
@access.public
@auth_rate_limit(on_breach=_kept_when_limited)
@shows_unstorable_on_form
def new_request() -> Page:
    """The public request form (no account needed). Opened from the estimator, its
    link's query fills in what the visitor entered there (`forms.SUGGESTED`)."""
    filled, again = _filled_in(request.args)
    form = forms.PermissionRequestForm(data=filled)
    if form.validate_on_submit():
        try:
            created = services.submit_request(
                form.command(),
                longest_years=current_config().permission_longest_grant_years,
                corrects=form.corrects.data or None,
            )
        except services.LicensedUse as licensed:
            return _request_form(form, commercial=False, licensed=licensed)
        except services.CommercialUse:
            return _request_form(form, commercial=True)
        except InvalidInput as error:
            show_errors(form, error)
        else:
            # The *Check your email* page says what a grant runs for (round 43).
            cookie_session[_SENT_TERM] = [
                day.isoformat() if day else None for day in (created.use_from, created.use_until)
            ]
            flash(
                f"Almost done: we sent a link to {created.requester_email}. Follow it within "
                "48 hours to confirm your address; your request then reaches the licensing "
                "office.",
                "success",
            )
            return redirect(url_for("permissions_public.request_sent"))
    return _request_form(
        form, commercial=form.is_submitted() and form.purpose.data == "commercial", again=again
    )


def _filled_in(query: Any) -> tuple[dict[str, Any], PermissionRequest | None]:
    """What the form opens with: a link's suggestions (`forms.suggested`), or, from a
    status page's "send a corrected request" or a grant's "send a new request"
    (`again=<status token>`), every field of that request but the attestation, given
    again (and the request). A grant's term is not the next use's: its duration and
    days are left for the requester (round 53: the grant's link filled in four fields
    of the use, and the teacher typed their name, address, institution, role, purpose
    and the content again). A link that no longer works opens the form as the rest of
    the query fills it."""
    again = query.get("again")
    if not again:
        return forms.suggested(query), None
    try:
        found = services.request_for_link(again)
    except (services.LinkNotValid, services.LinkExpired):
        return forms.suggested(query), None
    fields = forms.request_fields(found, calendar.office_date(utcnow()))
    if found.state == APPROVED:
        fields.update(duration="", use_from=None, use_until=None)
    if found.state in OPEN_STATES:
        fields["corrects"] = again  # a correction: it replaces this one (round 58)
    return fields, found


def _request_form(
    form: forms.PermissionRequestForm,
    *,
    commercial: bool,
    again: PermissionRequest | None = None,
    limited: str | None = None,
    licensed: services.LicensedUse | None = None,
) -> tuple[str, int]:
    """The form, as sent when it was refused: a commercial purpose is said at the top,
    with the estimator and the application, and beside the purpose, and what was
    typed stays (a separate page's "go back to the request form" opened it blank).
    A use the rate card prices (round 58) is said the same way, beside the type of
    institution, the estimator's link filled in with the use."""
    if commercial:
        form.purpose.errors = [forms.COMMERCIAL_FIELD_MESSAGE]
    if licensed is not None:
        form.organization_type.errors = licensed.errors["organization_type"]
    continued = again if again is not None and again.state == APPROVED else None
    corrected = services.correctable(db.session(), form.corrects.data, utcnow())
    if corrected is None:
        form.corrects.data = ""
    return render_template(
        "permissions/request_form.html",
        form=form,
        label=services.label,
        commercial=commercial,
        licensed=licensed,
        corrected=corrected,
        limited=limited,
        # Filled in from a status link, whose token is in the address: the page
        # passes it to no link it holds.
        from_status_link=again is not None,
        # From a grant: the form asks for the next use, beside the permission held.
        continued=continued,
        continued_ended=continued is not None
        and continued.valid_until is not None
        and continued.valid_until < calendar.office_date(utcnow()),
        sla_days=current_config().permission_sla_days,
        longest_years=current_config().permission_longest_grant_years,
    ), 422 if form.is_submitted() else 200


@public.route("/request/sent")
@access.public
def request_sent() -> str:
    # Taken from the session as it is shown (round 44): they stayed in the cookie
    # until the next request replaced them, so a later visit, or whoever used the
    # browser next, read the last request's days again.
    sent = cookie_session.pop(_SENT_TERM, None) or [None, None]
    use_from, use_until = (date.fromisoformat(day) if day else None for day in sent)
    return render_template(
        "permissions/request_sent.html",
        sla_days=current_config().permission_sla_days,
        default_term=services.default_term_sentence(
            use_from, use_until, calendar.office_date(utcnow())
        ),
    )


@public.route("/confirm/<token>")
@access.public
def confirm(token: str) -> Page:
    """The link in the confirmation email."""
    try:
        confirmed = services.confirm_email(token, sla_days=current_config().permission_sla_days)
    except (services.LinkNotValid, services.LinkExpired) as error:
        return _link_problem(error)
    flash(
        f"Thank you: your request {confirmed.reference} is with the licensing office. "
        "Keep this page's address (we emailed it to you too) to follow it.",
        "success",
    )
    return redirect(url_for("permissions_public.status", token=services.status_token(confirmed)))


# --- public: the requester's status page ----------------------------------------------------


def _status_page(
    found: PermissionRequest,
    token: str,
    *,
    answer_form: forms.MessageForm | None = None,
    reconsider_form: forms.MessageForm | None = None,
    status: int = 200,
) -> tuple[str, int]:
    now = utcnow()
    return render_template(
        "permissions/status.html",
        request_=found,
        token=token,
        answer_form=answer_form or forms.MessageForm(formdata=None),
        reconsider_form=reconsider_form or forms.ReconsiderForm(formdata=None),
        withdraw_form=forms.ConfirmForm(formdata=None),
        can_withdraw=PERMISSION_REQUEST.can(found.state, "withdraw"),
        can_reconsider=services.reconsideration_open(found, now),
        letter_url=lambda letter: url_for(
            "permissions_public.letter", token=token, letter_id=letter.id
        ),
        label=services.label,
        # The page speaks to the requester: "waiting for your information".
        state_in_words=state_label(state_to_requester(found.state)),
        # Round 37: the decision's due date moves with the answer; say how long after.
        days_after_answer=queries.service_level(
            found, now, target_days=current_config().permission_sla_days
        ).days_left,
        now=now,
        today=calendar.office_date(now),
        ending_notice=ENDING_NOTICE,
        # Before a decision, what a grant runs for by default when days were given.
        default_term=services.default_term_sentence(
            found.use_from, found.use_until, calendar.office_date(now)
        )
        if found.state in OPEN_STATES
        else None,
        ask_again_url=_ask_again_url(found, token),
        correct_url=url_for("permissions_public.new_request", again=token),
    ), status


# A grant's status page says when it ends, and how to ask again, this long before.
ENDING_NOTICE = timedelta(days=60)


def _ask_again_url(found: PermissionRequest, token: str) -> str:
    """The public form, filled in to ask again for the same use (not its term): a
    public request's every field, through its status link (`_filled_in`); a routed
    use's type of institution, medium, audience and description (its requester and
    content were the application's)."""
    if found.source == "public":
        return url_for("permissions_public.new_request", again=token)
    fields = {
        "organization_type": found.organization_type or "",
        "medium": found.medium or "",
        "audience_size": str(found.audience_size or ""),
        "purpose_detail": found.purpose_detail or "",
    }
    query = urlencode(forms.suggested(fields))
    return url_for("permissions_public.new_request") + (f"?{query}" if query else "")


@public.route("/status/<token>")
@access.public
def status(token: str) -> Page:
    """The requester's page: state, messages exchanged, the letter."""
    try:
        found = services.request_for_link(token)
    except (services.LinkNotValid, services.LinkExpired) as error:
        return _link_problem(error)
    return _status_page(found, token)


def _requester_step(token: str, form_name: str, act: Any, done: str) -> Page:
    try:
        found = services.request_for_link(token)
    except (services.LinkNotValid, services.LinkExpired) as error:
        return _link_problem(error)
    form = {
        "answer_form": forms.MessageForm,
        "reconsider_form": forms.ReconsiderForm,
    }.get(form_name, forms.ConfirmForm)()
    if form.validate_on_submit():
        try:
            act(form)
        except (services.LinkNotValid, services.LinkExpired) as error:
            return _link_problem(error)
        except Conflict as error:  # an illegal step or a closed window: say why
            flash(said_to_the_reader(error), "error")
            return _status_page(found, token, status=409)
        except InvalidInput as error:
            show_errors(form, error)
        else:
            flash(done, "success")
            return redirect(url_for("permissions_public.status", token=token))
    return _status_page(found, token, status=422, **({form_name: form} if form_name else {}))


@public.route("/status/<token>/answer", methods=["POST"])
@access.public
@shows_unstorable_on_form
def answer(token: str) -> Page:
    return _requester_step(
        token,
        "answer_form",
        lambda form: services.answer(token, form.body.data or ""),
        "Thank you: your answer is with the licensing office.",
    )


@public.route("/status/<token>/withdraw", methods=["POST"])
@access.public
def withdraw(token: str) -> Page:
    if not confirm_step.confirmed():
        try:
            found = services.request_for_link(token)
        except (services.LinkNotValid, services.LinkExpired) as error:
            return _link_problem(error)
        return confirm_step.ask(
            confirm_step.Confirmation(
                title=f"Withdraw permission request {found.reference}?",
                consequences=[
                    "The licensing office stops working on it, and no permission is granted.",
                    "A withdrawn request cannot be reopened; to ask again, send a new request.",
                ],
                button="Withdraw the request",
                cancel_url=url_for("permissions_public.status", token=token),
                control="withdraw-request",
                cancel_label="Keep the request",
            )
        )
    return _requester_step(
        token, "", lambda form: services.withdraw(token), "Your request is withdrawn."
    )


@public.route("/status/<token>/reconsideration", methods=["POST"])
@access.public
@shows_unstorable_on_form
def reconsideration(token: str) -> Page:
    return _requester_step(
        token,
        "reconsider_form",
        lambda form: services.request_reconsideration(
            token, form.body.data or "", sla_days=current_config().permission_sla_days
        ),
        "Your request for reconsideration is with the licensing office.",
    )


@public.route("/status/<token>/letters/<int:letter_id>")
@access.public
def letter(token: str, letter_id: int) -> Page:
    try:
        found = services.request_for_link(token)
    except (services.LinkNotValid, services.LinkExpired) as error:
        return _link_problem(error)
    return letter_response(queries.get_letter(db.session(), found, letter_id))


# --- vendor portal -----------------------------------------------------------------------------


# Requests the console's queue and the vendor's list show a page: as every list
# (`paging.PER_PAGE`).
REQUESTS_PER_PAGE = paging.PER_PAGE


@portal.route("/")
@access.licensing_work
def requests() -> str:
    """Permission requests created from the organization's applications."""
    principal = access.require_principal()
    statement, count, parameters = queries.organization_listing(principal)
    # A page at a time, as every list (round 45): it listed every request on one page.
    listed: paging.Page[PermissionRequest] = paging.read_page(
        db.session(), statement, count=count, parameters=parameters, per_page=REQUESTS_PER_PAGE
    )
    return render_template(
        "permissions/portal_list.html",
        requests=listed.items,
        page=listed,
        label=services.label,
        use_days=services.use_days,
    )


@portal.route("/<int:request_id>")
@access.licensing_work
def portal_detail(request_id: int) -> str:
    found = queries.get_request(db.session(), request_id)
    return render_template(
        "permissions/portal_detail.html",
        request_=found,
        news_to=services.colleagues_instead(db.session(), found),
        status_url=services.status_url(found),
        letter_url=lambda letter: url_for(
            "permissions_portal.portal_letter", request_id=found.id, letter_id=letter.id
        ),
        label=services.label,
    )


@portal.route("/<int:request_id>/letters/<int:letter_id>")
@access.licensing_work
def portal_letter(request_id: int, letter_id: int) -> Response:
    return request_letter(request_id, letter_id)


@waiting_provider(when=queries.any_open, step="permissions_portal.requests")
def _permissions_waiting(
    session: Session, principal: Principal, organization: Organization
) -> Iterable[WaitingItem]:
    for found in queries.open_for_organization(session, principal):
        if found.state == NEEDS_INFO:
            yield WaitingItem(
                f"Permission request {found.reference} needs information",
                waiting_on="you",
                detail=(
                    f"{found.requester_shown_name} can answer on the request's status page until "
                    f"{calendar.day_text(calendar.office_date(found.answer_due_at))}."
                    if found.answer_due_at
                    else ""
                ),
                url=url_for("permissions_portal.portal_detail", request_id=found.id),
                since=found.submitted_at,
            )
        elif found.state in OPEN_STATES:
            yield WaitingItem(
                f"Permission request {found.reference}",
                waiting_on="the licensing office",
                detail=(
                    f"Submitted {calendar.day_text(calendar.office_date(found.submitted_at))}."
                    if found.submitted_at
                    else ""
                ),
                url=url_for("permissions_portal.portal_detail", request_id=found.id),
                since=found.submitted_at,
            )


# --- staff console -----------------------------------------------------------------------------


def _assign_form(session: Session) -> forms.AssignForm:
    form = forms.AssignForm()
    form.assignee_id.choices = [SelectChoice("", "Nobody (unassigned)")] + [
        SelectChoice(str(user.id), user.full_name) for user in queries.licensing_staff(session)
    ]
    return form


# The queue's filters and page, carried through the bulk action so staff return to the
# same page of the same list.
QUEUE_FILTER_KEYS = ("q", "state", "assignee", "overdue", "ending", "sort", "page")
# Each filter's label: the queue's form draws them from here, and a refusal names
# the field by them (`arguments`).
QUEUE_FILTER_LABELS = {
    "q": "Search",
    "state": "State",
    "assignee": "Assignee",
    "overdue": "Overdue only",
    "ending": f"Grants ending within {queries.ENDING_WITHIN_DAYS} days",
    "sort": "Sort",
}


# The State filter's values, as its options say them ("" is Any).
_STATE_CHOICES = {
    "open": "open",
    **{state: state_words(state, "permission_request", label=True) for state in STATES},
}


def _bulk_form(staff: list[User]) -> forms.BulkAssignForm:
    form = forms.BulkAssignForm()
    form.assignee_id.choices = assignment.assignee_choices(
        (user.id, user.full_name) for user in staff
    )
    return form


def _filter_args(args: Iterable[tuple[str, str]]) -> dict[str, str]:
    return {key: value for key, value in args if key in QUEUE_FILTER_KEYS}


def _queue_page(
    args: dict[str, str],
    *,
    bulk_form: forms.BulkAssignForm | None = None,
    selected: frozenset[int] = frozenset(),
    status: int = 200,
    refused: dict[str, list[str]] | None = None,
) -> tuple[str, int]:
    """The queue for `args`; with `refused` filters (given twice), their messages
    beside them and nothing listed (400); likewise (422) an assignee id of nobody
    the filter offers, which listed nothing without a word."""
    session = db.session()
    principal = access.require_principal()
    now = utcnow()
    filters = queries.QueueFilter.from_args(args)
    sorts = queries.sort_choices(ending=filters.ending)
    request_url = url_pattern("permissions_console.detail", "request_id")
    assert request_url is not None  # the queue's own blueprint has the request's page
    staff = queries.licensing_staff(session)
    # The filter offers those who had requests too, deactivated or not (marked).
    assignees = assignee_filter_people(session, PermissionRequest.assignee_id)
    # A state the filter does not offer showed the open requests without a word.
    unread = (
        {}
        if refused
        else {
            **arguments.unknown_choice(args, "state", _STATE_CHOICES, QUEUE_FILTER_LABELS["state"]),
            # Named as the Sort field shows them (under the ending filter its default
            # reads "Grant ending soonest first").
            **arguments.unknown_choice(args, "sort", sorts, QUEUE_FILTER_LABELS["sort"]),
            **assignment.unknown_assignee(
                args.get("assignee", ""), (person.id for person in assignees)
            ),
        }
    )
    assign_form = bulk_form or _bulk_form(staff)
    # A page at a time, as every list (round 45): it listed every match on one page.
    listed: paging.Page[queries.QueueRequest] | None = (
        None
        if refused or unread
        else paging.read_page(
            session,
            queries.queue_rows_query(filters, principal, now),
            args=MultiDict(args),
            path=url_for("permissions_console.queue"),
            per_page=REQUESTS_PER_PAGE,
            rows=lambda window, parameters: queries.queue_window(session, window, parameters),
        )
    )
    found = listed.items if listed else []
    # Grants ending: each says whether its requester was emailed that it ends, and
    # when, as the request's page does (round 43), from one query for the rows.
    reminded = (
        {
            int(request_id): at
            for request_id, at in audit_queries.last_of(
                session, "permission_request", services.ENDING_REMINDED, (r.id for r in found)
            ).items()
        }
        if filters.ending
        else None
    )
    page = render_template(
        "permissions/console_queue.html",
        rows=queue_rows(
            found,
            now,
            target_days=current_config().permission_sla_days,
            selected=selected,
            request_url=request_url,
            reminded=reminded,
            today=calendar.office_date(now),
        ),
        filters=filters,
        filter_query=urlencode(args),
        states=[s for s in STATES if s != "unconfirmed"],
        assignees=assignees,
        assign_form=assign_form,
        assignee_select=assignment.assignee_select(assign_form),
        metrics=services.metrics(session, now=now, user_id=current_actor().user_id),
        filter_errors=refused or unread,
        filter_labels=QUEUE_FILTER_LABELS,
        sorts=sorts,
        page=listed,
    )
    return page, (400 if refused else 422 if unread else status)


@console.route("/")
@access.staff("licensing")
def queue() -> Page:
    """The queue: filters, search, age against the service level, bulk assignment."""
    # A filter given twice is refused beside its field, nothing listed (`arguments`).
    refused = arguments.repeated(request.args, labels=QUEUE_FILTER_LABELS)
    paging.requested_page()  # the page given twice: refused (400), as on every list
    return _queue_page(_filter_args(request.args.items()), refused=refused)


@console.route("/assign", methods=["POST"])
@access.staff("licensing")
def bulk_assign() -> Page:
    """Assign (or, once confirmed, unassign) the selected requests, then back to the
    queue with its filters as they were."""
    form = _bulk_form(queries.licensing_staff(db.session()))
    wanted = assignment.bulk_assignment(form, "request_ids", "request")
    filters: dict[str, Any] = _filter_args(parse_qsl(request.form.get("filters", "")))
    back = url_for("permissions_console.queue", **filters)
    if not wanted.valid:
        return _queue_page(filters, bulk_form=form, selected=wanted.selected, status=422)
    if wanted.unassigns and not confirm_step.confirmed():
        return confirm_step.ask(
            assignment.unassign_confirmation(
                counted(len(wanted.ids), "request"), "working on", back
            )
        )
    try:
        changed = services.assign(wanted.ids, wanted.assignee_id, current_actor())
    except InvalidInput as error:
        form.form_errors.extend(m for ms in error.errors.values() for m in ms)
        return _queue_page(filters, bulk_form=form, selected=wanted.selected, status=422)
    verb = "unassigned" if wanted.unassigns else "assigned"
    flash(f"{counted(len(changed), 'request')} {verb}.", "success")
    return redirect(back)


# What each staff step lets staff do, in the order the work goes.
STEP_PHRASES = {
    "start_review": "start the review",
    "ask_for_info": "ask the requester for more information",
    "approve": "approve the request",
    "deny": "deny the request",
}


def staff_steps_sentence(allowed: Iterable[str]) -> str:
    """What staff may do now as a person would write it ("You may start the review,
    ask the requester for more information, approve the request or deny it."), not
    a list of step names."""
    allowed = list(allowed)
    steps = [step for step in STEP_PHRASES if step in allowed]
    steps += [step for step in allowed if step not in STEP_PHRASES]
    phrases = [STEP_PHRASES.get(step, humanize(step)) for step in steps]
    if steps[-2:] == ["approve", "deny"]:
        phrases[-1] = "deny it"
    if not phrases:
        return ""
    listed = phrases[0] if len(phrases) == 1 else f"{', '.join(phrases[:-1])} or {phrases[-1]}"
    return f"You may {listed}."


def _licensed_instead(
    found: PermissionRequest, allowed: list[str], today: date
) -> services.LicensedUse | None:
    """A public request still to decide whose use the rate card in effect licenses:
    one sent before round 58, when the form began refusing such a use, or before the
    card changed. Its page says so, with the estimate its denial's email links."""
    if found.source != "public" or "deny" not in allowed:
        return None
    return services.licensed_instead(found, today=today)


def _detail_page(
    request_id: int, *, status: int = 200, error: str | None = None, **form_overrides: Any
) -> tuple[str, int]:
    session = db.session()
    found = queries.get_request(session, request_id)
    now = utcnow()
    assign_form = _assign_form(session)
    if "assign_form" not in form_overrides:
        assign_form.assignee_id.data = str(found.assignee_id or "")
    allowed = [a for a in PERMISSION_REQUEST.allowed(found.state) if a in STAFF_STEPS]
    page_forms: dict[str, Any] = {
        **{name: form(formdata=None) for name, form in STAFF_FORMS.items()},
        "assign_form": assign_form,
        **form_overrides,
    }
    level = queries.service_level(found, now, target_days=current_config().permission_sla_days)
    history = audit_queries.events_for(session, "permission_request", found.id)
    reminded = next((e.occurred_at for e in history if e.action == services.ENDING_REMINDED), None)
    others, others_total = queries.requester_others(session, found)
    licensed = _licensed_instead(found, allowed, calendar.office_date(now))
    if licensed is not None and "deny_form" not in form_overrides:
        page_forms["deny_form"].reason.data = licensed.detail  # the reason, ready to send
    return render_template(
        "permissions/console_detail.html",
        request_=found,
        # The requester's other requests, newest first, and the queue's search for all.
        others=others,
        others_total=others_total,
        others_url=url_for("permissions_console.queue", q=found.requester_address, state=""),
        # A correction and the request it corrects name each other (round 58).
        corrections=[c for c in queries.corrections_of(session, found) if c.submitted_at],
        news_to=services.colleagues_instead(session, found),
        licensed=licensed,
        level=level,
        after_the_answer=queries.after_the_answer(level),
        # Beside "Valid from" and "Valid until": the default's days (the term asked
        # for, else one year) and the term asked for.
        default_validity=services.default_validity(found, calendar.office_date(now)),
        term_asked=services.asked_term(found),
        today=calendar.office_date(now),
        allowed=allowed,
        allowed_sentence=staff_steps_sentence(allowed),
        open_states=OPEN_STATES,
        history=history,
        # A grant's end, and whether the requester is told of it (round 42).
        ending=services.grant_ending(found, reminded, calendar.office_date(now)),
        error=error,
        letter_url=lambda letter: url_for(
            "permissions_console.console_letter", request_id=found.id, letter_id=letter.id
        ),
        label=services.label,
        **page_forms,
    ), status


@console.route("/<int:request_id>")
@access.staff("licensing")
def detail(request_id: int) -> Page:
    return _detail_page(request_id)


def _requester_told(request_id: int) -> str:
    """Whom a decision's or question's email went to, as `tell_requester` addresses it
    (`services.requester_told`, which the API's `recipients` reads too): "We emailed
    Lena Ortiz at lena@...". Round 36: the message said "the requester notified", and
    staff could not tell whether a colleague was told instead."""
    session = db.session()
    found = queries.get_request(session, request_id)
    return f"We emailed {services.requester_told(session, found).told.whom}"


def _staff_step(
    request_id: int,
    form_name: str,
    act: Any,
    done: str | Callable[[], str],
    form: PageForm | None = None,
) -> Page:
    """A staff step posted from the detail page with its form (`STAFF_FORMS`
    unless given): `act(form)`, then back to the page saying `done`; else the page
    again, with the form's messages (422) or the state's refusal (409)."""
    queries.get_request(db.session(), request_id)  # 404 before reading the form
    if form is None:
        form = STAFF_FORMS[form_name]()
    if form.validate_on_submit():
        try:
            act(form)
        except Conflict as error:  # an illegal step: the page names the allowed ones
            return _detail_page(request_id, status=409, error=said_to_the_reader(error))
        except InvalidInput as error:
            show_errors(form, error)
        else:
            flash(done if isinstance(done, str) else done(), "success")
            return redirect(url_for("permissions_console.detail", request_id=request_id))
    return _detail_page(request_id, status=422, **{form_name: form})


@console.route("/<int:request_id>/review", methods=["POST"])
@access.staff("licensing")
def start_review(request_id: int) -> Page:
    return _staff_step(
        request_id,
        "review_form",
        lambda form: services.start_review(request_id, current_actor()),
        "Review started.",
    )


@console.route("/<int:request_id>/ask", methods=["POST"])
@access.staff("licensing")
@shows_unstorable_on_form
def ask(request_id: int) -> Page:
    return _staff_step(
        request_id,
        "ask_form",
        lambda form: services.ask_for_info(request_id, form.message.data or "", current_actor()),
        lambda: (
            f"Question sent. {_requester_told(request_id)}: they have until "
            f"{calendar.deadline_text(_answer_due(request_id))} to answer."
        ),
    )


def _answer_due(request_id: int) -> datetime:
    due = queries.get_request(db.session(), request_id).answer_due_at
    assert due is not None  # set by the question just asked
    return due


@console.route("/<int:request_id>/approve", methods=["POST"])
@access.staff("licensing")
@shows_unstorable_on_form
def approve(request_id: int) -> Page:
    return _staff_step(
        request_id,
        "approve_form",
        lambda form: services.approve(
            request_id,
            current_actor(),
            conditions=form.conditions.data,
            permitted_use=form.permitted_use.data,
            valid_from=form.valid_from.data,
            valid_until=form.valid_until.data,
            longest_years=current_config().permission_longest_grant_years,
        ),
        lambda: (
            f"Approved: the grant letter is issued. {_requester_told(request_id)} "
            "with the letter attached."
        ),
    )


@console.route("/<int:request_id>/deny", methods=["POST"])
@access.staff("licensing")
@shows_unstorable_on_form
def deny(request_id: int) -> Page:
    return _staff_step(
        request_id,
        "deny_form",
        lambda form: services.deny(request_id, form.reason.data or "", current_actor()),
        lambda: (
            f"Denied: the letter is issued. {_requester_told(request_id)} with the letter attached."
        ),
    )


@console.route("/<int:request_id>/notes", methods=["POST"])
@access.staff("licensing")
@shows_unstorable_on_form
def note(request_id: int) -> Page:
    return _staff_step(
        request_id,
        "note_form",
        lambda form: services.add_note(request_id, form.body.data or "", current_actor()),
        "Note added (staff only).",
    )


def _chosen_assignee(value: str | None) -> int | None:
    """The assignee chosen on the detail page ("" is nobody); a value that is no
    record id (the choices are not enforced) names nobody on the staff."""
    if not value:
        return None
    chosen = record_id(value)
    if chosen is None:
        raise InvalidInput.for_field("assignee_id", services.NOT_LICENSING_STAFF)
    return chosen


@console.route("/<int:request_id>/assign", methods=["POST"])
@access.staff("licensing")
def assign(request_id: int) -> Page:
    return _staff_step(
        request_id,
        "assign_form",
        lambda f: _assign_one(request_id, _chosen_assignee(f.assignee_id.data)),
        "Assignment saved.",
        form=_assign_form(db.session()),
    )


def _assign_one(request_id: int, assignee_id: int | None) -> None:
    try:
        services.assign([request_id], assignee_id, current_actor())
    except InvalidInput as error:
        # A decided request has no assignment form to show the message beside: the
        # page says it as the state's refusal.
        if "request_ids" in error.errors:
            raise Conflict(" ".join(error.errors["request_ids"])) from None
        raise


@console.route("/<int:request_id>/letters/<int:letter_id>")
@access.staff("licensing")
def console_letter(request_id: int, letter_id: int) -> Response:
    return request_letter(request_id, letter_id)


@queue_summary
def _permission_queue(
    session: Session, principal: Principal, now: datetime
) -> Iterable[QueueSummary]:
    waiting = queries.office_queue(session, now, due_soon_by(now))
    yield QueueSummary(
        "Educational permission requests with the office",
        count=waiting.waiting,
        endpoint="permissions_console.queue",
        attention=waiting.overdue,
        attention_label="past the service level",
        oldest=waiting.oldest,
        # Round 59: and those near it, listed by the queue's own order: the decision
        # due soonest first, the requester waiting longest first.
        due_soon=waiting.due_soon,
        due_soon_params={"sort": queries.DEFAULT_SORT},
    )
