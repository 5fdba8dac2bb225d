"""Every route declares who may call it."""

from __future__ import annotations

import dataclasses
import difflib
import re
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.routing import Rule

from licensing import access, db
from licensing.accounts import services as accounts_services
from licensing.accounts.models import ApiToken, OneTimeToken, Passkey, RememberedBrowser, User
from licensing.actors import Actor
from licensing.audit.models import AuditEvent
from licensing.mail.models import OutboxMessage
from tests.integration.agreements.conftest import AUTO_USE
from tests.integration.pricing.conftest import example_card  # noqa: F401 - the fixture
from tests.support import factories
from tests.support.factories import bearer
from tests.support.organization_records import MISSING, PERIOD_START, document_of, records_of


def test_every_route_in_the_url_map_declares_who_may_call_it(app: Flask) -> None:
    undeclared = sorted(
        f"{rule.rule} ({rule.endpoint})"
        for rule in app.url_map.iter_rules()
        if access.declaration_for(app, rule.endpoint) is None
    )
    assert undeclared == []


def test_the_route_walk_notices_an_undeclared_route(app: Flask) -> None:
    app.add_url_rule("/_probe", "probe_without_declaration", lambda: "x")
    assert access.declaration_for(app, "probe_without_declaration") is None


def _example_path(rule: str) -> str:
    """The rule with every variable part filled in (`/users/<int:user_id>` -> `/users/1`)."""
    return re.sub(r"<(?:[^:<>]+:)?[^<>]+>", "1", rule)


def test_every_route_that_needs_a_caller_refuses_an_anonymous_one(app: Flask) -> None:
    """Pages send anonymous callers to sign in; the API answers 401 with a problem."""
    client = app.test_client()
    checked = 0
    for rule in app.url_map.iter_rules():
        declaration = access.declaration_for(app, rule.endpoint)
        if declaration is None or declaration.public:
            continue
        path = _example_path(rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            response = client.open(path, method=method)
            checked += 1
            if rule.rule.startswith("/api/"):
                assert response.status_code == 401, (method, path, response.status_code)
                assert response.mimetype == "application/problem+json", (method, path)
            else:
                assert response.status_code == 302, (method, path, response.status_code)
                assert "/sign-in?next=" in response.headers["Location"], (method, path)
    assert checked > 0


def test_every_api_operation_that_needs_a_caller_documents_the_bearer_token(
    app: Flask,
) -> None:
    document = app.test_client().get("/api/v1/openapi.json").get_json()
    undocumented = []
    for rule in app.url_map.iter_rules():
        declaration = access.declaration_for(app, rule.endpoint)
        if not rule.rule.startswith("/api/") or declaration is None or declaration.public:
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            operation = document["paths"].get(path, {}).get(method.lower(), {})
            if {"bearerAuth": []} not in operation.get("security", []):
                undocumented.append(f"{method} {path}")
    assert undocumented == []


def test_every_route_for_an_organizations_administrators_refuses_its_members_naming_them(
    app: Flask, vendor: User, signed_in: Callable[..., FlaskClient]
) -> None:
    """Declared with `vendor=ADMINISTRATOR`: a member is refused (403) before the
    route runs, and told whom to ask, on the API (problem+json) and on pages."""
    member = factories.make_vendor(db.session(), organization=vendor.organization, role="member")
    api = app.test_client()
    headers = bearer(member)
    pages = signed_in(app.test_client(), member)
    administrators = f"{vendor.full_name} ({vendor.email})"
    refused = []
    for rule in app.url_map.iter_rules():
        declaration = access.declaration_for(app, rule.endpoint)
        if declaration is None or declaration.vendor_roles != {access.ADMINISTRATOR}:
            continue
        path = _example_path(rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            on_api = rule.rule.startswith("/api/")
            response = (api if on_api else pages).open(
                path, method=method, headers=headers if on_api else {}
            )
            assert response.status_code == 403, (method, path, response.status_code)
            assert administrators in response.get_data(as_text=True), (method, path)
            refused.append(f"{method} {rule.rule}")
    assert len(refused) >= 10, refused


# --- another organization's ids (round 61, attack61) --------------------------------------

# Writes sent with a body that passes the route's schema, so that the answer is the
# record's lookup, not the body's validation (which answers alike for any id).
_API_BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/api/v1/agreements/<int:agreement_id>/acceptance"): {
        "signer_name": "Robin Castellanos",
        "signer_title": "Chief Executive",
        "authority_confirmed": True,
        "pdf_sha256": "0" * 64,
    },
    ("PUT", "/api/v1/applications/<int:application_id>"): {
        "term_start": "2027-01-01",
        "term_end": "2027-12-31",
        "uses": [AUTO_USE],
    },
    ("POST", "/api/v1/applications/<int:application_id>/reconsideration"): {"reason": "Look again"},
    ("POST", "/api/v1/applications/<int:application_id>/submit"): {"attest": True},
    ("POST", "/api/v1/organizations/<int:organization_id>/invitations"): {
        "email": "spy@northwind.example"
    },
    ("POST", "/api/v1/organizations/<int:organization_id>/members/<int:user_id>/remove-passkeys"): {
        "reason": "Lost"
    },
    ("POST", "/api/v1/organizations/<int:organization_id>/two-step"): {"required": True},
    ("POST", "/api/v1/agreements/<int:agreement_id>/royalty-reports/<period_start>"): {
        "attest": True,
        "rows": [],
    },
    ("POST", "/api/v1/agreements/<int:agreement_id>/royalty-reports/<period_start>/preview"): {
        "rows": []
    },
}
_PAGE_FORMS: dict[str, dict[str, str]] = {
    "/organization/members/<int:user_id>/role": {"role": "member"},
    "/organization/members/<int:user_id>/deactivate": {"confirmed": "yes"},
}
_ARGUMENT = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")
# What differs between two answers alike: the ids asked for, and per-request values
# (round 61, keyboard61b: the first page drawn after signing in is marked
# `data-signed-in`, whichever page it is).
_PER_REQUEST = re.compile(r'[0-9a-f]{32}|nonce="[^"]*"|name="csrf_token"[^>]*>| data-signed-in')


def _path(rule: Rule, values: dict[str, Any]) -> str:
    return _ARGUMENT.sub(lambda match: str(values[match.group(1)]), rule.rule)


def _vendor_routes_with_ids(app: Flask) -> list[Rule]:
    """Every route a vendor user may call that names a record in its path."""
    found = []
    for rule in app.url_map.iter_rules():
        declaration = access.declaration_for(app, rule.endpoint)
        if declaration is None or declaration.public or not rule.arguments:
            continue
        if declaration.vendor or declaration.any_user:
            found.append(rule)
    return found


def _ids(rule: Rule, names: list[str], records: dict[str, Any]) -> dict[str, Any]:
    return {
        name: document_of(rule.rule, records) if name == "document_id" else records[name]
        for name in names
    }


def _asked(
    rule: Rule, ours: dict[str, Any], theirs: dict[str, Any]
) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """What to ask a route with, each beside the ids no record has to compare it with:
    the other organization's ids (`theirs`) and, for a record under another, our own
    parents with their child (`ours, then theirs`: our invoice, their credit note's
    document) against our parents with a missing child."""
    names = _ARGUMENT.findall(rule.rule)
    unknown = [name for name in names if name not in theirs]
    assert unknown == [], f"{rule.rule}: add a record for {unknown} to records_of"
    their_ids = _ids(rule, names, theirs)
    missing = {
        name: their_ids[name] if name == PERIOD_START else MISSING + number
        for number, name in enumerate(names)
    }
    asked = [("theirs", their_ids, missing)]
    records = [name for name in names if name != PERIOD_START]
    if len(records) > 1:
        last = records[-1]
        our_ids = _ids(rule, names, ours)
        asked.append(
            (
                "ours, then theirs",
                our_ids | {last: their_ids[last]},
                our_ids | {last: missing[last]},
            )
        )
    return asked


def _as_if(text: str, missing: dict[str, Any], asked: dict[str, Any]) -> str:
    """The answer for ids no record has, with each id in it the one asked for: what
    the answer for `asked` must be."""
    for name, value in missing.items():
        if name != PERIOD_START and value != asked[name]:
            text = re.sub(rf"\b{value}\b", str(asked[name]), text)
    return text


def _traces(owner: User) -> dict[str, int]:
    """What a step on an organization's records leaves: audit events, emails, and the
    owner's own tokens, passkeys, browsers and pending invitations."""
    session = db.session()
    count = func.count()
    return {
        "audit events": session.scalar(select(count).select_from(AuditEvent)) or 0,
        "emails": session.scalar(select(count).select_from(OutboxMessage)) or 0,
        "working tokens": session.scalar(
            select(count).where(ApiToken.user_id == owner.id, ApiToken.revoked_at.is_(None))
        )
        or 0,
        "passkeys": session.scalar(select(count).where(Passkey.user_id == owner.id)) or 0,
        "browsers": session.scalar(select(count).where(RememberedBrowser.user_id == owner.id)) or 0,
        "pending invitations": session.scalar(
            select(count).where(
                OneTimeToken.organization_id == owner.organization_id,
                OneTimeToken.used_at.is_(None),
                OneTimeToken.revoked_at.is_(None),
            )
        )
        or 0,
    }


def test_every_vendor_route_answers_another_organizations_ids_as_ids_no_record_has(
    app: Flask,
    vendor: User,
    other_vendor: User,
    licensing_staff: User,
    example_card: str,  # noqa: F811
    signed_in: Callable[..., FlaskClient],
) -> None:
    """Round 61 (attack61): every route a vendor may call with a record's id in its
    path, every method, on the API (a write token) and on pages, as an administrator
    of organization A (who may call the most) with organization B's real ids: the
    answer is exactly that for ids no record has (status and words, but for the id),
    so it neither shows, changes nor tells the existence of B's records; nothing is
    audited or emailed and none of B's credentials or invitations goes. A route
    taking an id the walk has no record for fails it until one is added
    (`tests/support/organization_records.py`). `test_isolation.py` reads a listed
    few; this walks the URL map."""
    ours = records_of(app, vendor, licensing_staff)
    theirs = records_of(app, other_vendor, licensing_staff)
    headers = bearer(vendor)
    api = app.test_client()
    pages = signed_in(app.test_client(), vendor)
    before = _traces(other_vendor)
    differing = []
    walked = 0

    def answer(client: FlaskClient, rule: Rule, method: str, ids: dict[str, Any]) -> Any:
        path = _path(rule, ids)
        if rule.rule.startswith("/api/"):
            body = _API_BODIES.get((method, rule.rule), {}) if method != "GET" else None
            return client.open(path, method=method, headers=headers, json=body)
        form = _PAGE_FORMS.get(rule.rule, {}) if method == "POST" else None
        # Followed, so that what a refusal flashes is shown with it, not on the next page.
        return client.open(path, method=method, data=form, follow_redirects=True)

    for rule in _vendor_routes_with_ids(app):
        client = api if rule.rule.startswith("/api/") else pages
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            for what, asked, missing in _asked(rule, ours, theirs):
                got = answer(client, rule, method, asked)
                unknown = answer(client, rule, method, missing)
                walked += 1
                text = _PER_REQUEST.sub("", got.get_data(as_text=True))
                expected = _PER_REQUEST.sub(
                    "", _as_if(unknown.get_data(as_text=True), missing, asked)
                )
                if (got.status_code, text) != (unknown.status_code, expected):
                    changed = difflib.unified_diff(
                        expected.splitlines(), text.splitlines(), lineterm="", n=0
                    )
                    differing.append(
                        f"{method} {rule.rule} ({what}): {got.status_code}, where ids no "
                        f"record has are {unknown.status_code}: {list(changed)[2:6]}"
                    )
    assert differing == []
    assert _traces(other_vendor) == before
    assert walked > 80


# --- every role the service has (round 62, security62) -------------------------------------


def _filled(rule: Rule, records: dict[str, Any], *, missing: bool) -> str:
    """The rule's path with a record's id for each argument the walk has a record of
    (or an id no record has, when `missing`), and `1` for any other (a refusal comes
    before the route reads it)."""
    names = _ARGUMENT.findall(rule.rule)
    values = {}
    for number, name in enumerate(names):
        if name not in records and name != "document_id":
            values[name] = 1
        elif name == PERIOD_START:
            values[name] = records[name]
        else:
            values[name] = MISSING + number if missing else _ids(rule, [name], records)[name]
    return _path(rule, values)


@dataclasses.dataclass(frozen=True)
class _Caller:
    """One way in: who, and what they send (a session on pages, a token on the API)."""

    name: str
    principal: access.Principal | None
    headers: dict[str, str]
    pages: FlaskClient | None
    # Which of the service's parts this caller is walked on.
    on_api: bool = True


def _callers(
    app: Flask,
    vendor: User,
    signed_in: Callable[..., FlaskClient],
    staff: dict[str, User],
) -> list[_Caller]:
    """A signed-out visitor; the organization's member and billing member, on pages and
    with a write token; the licensing, billing and admin staff, likewise; and the
    administrator's and the billing staff's read-only tokens (on the API alone)."""
    session = db.session()
    organization = vendor.organization
    people = {
        "a member": factories.make_vendor(session, organization=organization, role="member"),
        "a billing member": factories.make_vendor(
            session, organization=organization, role="billing"
        ),
        **staff,
    }
    callers = [_Caller("a signed-out visitor", None, {}, app.test_client())]
    for name, person in people.items():
        principal = accounts_services.principal_for(person)
        pages = signed_in(app.test_client(), person)
        callers.append(_Caller(name, principal, bearer(person), pages))
    for name, person in (
        ("an administrator's read-only token", vendor),
        ("billing staff's read-only token", staff["billing staff"]),
    ):
        token, secret = accounts_services.create_api_token(
            person.id, "read only", actor=Actor.SYSTEM, scope="read"
        )
        principal = accounts_services.principal_for(person, token=token)
        callers.append(_Caller(name, principal, {"Authorization": f"Bearer {secret}"}, None))
    return callers


def _refusal(declaration: access.Access, caller: _Caller, method: str, on_api: bool) -> int | None:
    """The status the declaration answers `caller` with, or None when it admits them."""
    if declaration.public and not (on_api and caller.principal is not None):
        return None
    if caller.principal is None:
        return 401 if on_api else 302
    if not declaration.admits(caller.principal):
        return 403
    if on_api and access.read_only_token_refusal(method, declaration, caller.principal):
        return 403
    return None


def test_every_route_answers_every_role_as_its_declaration_says(
    app: Flask,
    vendor: User,
    licensing_staff: User,
    billing_staff: User,
    admin: User,
    example_card: str,  # noqa: F811
    signed_in: Callable[..., FlaskClient],
) -> None:
    """Round 62 (security62): every route of the URL map, every method, by every role
    the service has (a signed-out visitor; an organization's member and billing
    member; licensing, billing and admin staff; a read-only token of a vendor's and of
    staff's), on pages and on the API, with real records' ids. Where the route's
    declaration does not admit the caller, the answer is its refusal (the sign-in page,
    401, or 403 with a problem on the API) and exactly the answer for ids no record has,
    so it tells nothing of the record; the walk leaves no audit event and no email. A
    staff role is refused another role's state changes here by form and API alike
    (round 61 walked another organization's ids as its administrator)."""
    records = records_of(app, vendor, licensing_staff)
    staff = {"licensing staff": licensing_staff, "billing staff": billing_staff, "an admin": admin}
    callers = _callers(app, vendor, signed_in, staff)
    before = _traces(vendor)
    differing: list[str] = []
    refused: dict[str, int] = {}
    for rule in app.url_map.iter_rules():
        declaration = access.declaration_for(app, rule.endpoint)
        assert declaration is not None, rule.rule
        on_api = rule.rule.startswith("/api/")
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            for caller in callers:
                if not on_api and caller.pages is None:
                    continue
                expected = _refusal(declaration, caller, method, on_api)
                if expected is None:
                    continue
                client = app.test_client() if on_api else caller.pages
                assert client is not None
                answers = [
                    client.open(
                        _filled(rule, records, missing=missing),
                        method=method,
                        headers=caller.headers if on_api else {},
                    )
                    for missing in (False, True)
                ]
                got, unknown = answers
                refused[caller.name] = refused.get(caller.name, 0) + 1
                where = f"{method} {rule.rule} by {caller.name}"
                if got.status_code != expected:
                    differing.append(f"{where}: {got.status_code}, declared {expected}")
                    continue
                if on_api and got.mimetype != "application/problem+json":
                    differing.append(f"{where}: answered {got.mimetype}")
                if expected == 302 and "/sign-in?next=" not in got.headers["Location"]:
                    differing.append(f"{where}: sent to {got.headers['Location']}")
                text = _PER_REQUEST.sub("", got.get_data(as_text=True))
                missing_text = _PER_REQUEST.sub("", unknown.get_data(as_text=True))
                if expected != 302 and (got.status_code, text) != (
                    unknown.status_code,
                    missing_text,
                ):
                    differing.append(f"{where}: not as for ids no record has")
    assert differing == []
    assert _traces(vendor) == before
    assert set(refused) == {caller.name for caller in callers}, refused
