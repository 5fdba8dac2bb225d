"""/api/v1: sign-up, the caller, organizations, members, invitations, users, tokens.

Authenticate with a personal API token (`Authorization: Bearer <token>`),
created on the API tokens page while signed in (a token cannot create tokens:
`POST /api/v1/tokens` is a 403). A vendor reaches
only their own organization's records: anything else is a 404. An organization's
administrators manage it (invitations, colleagues' access and roles, its address
and billing contact); a member calling those routes gets a 403 naming them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NoReturn, TypeVar

import marshmallow as ma
from flask import has_request_context
from sqlalchemy import Select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session

from licensing import access, db
from licensing.access import ADMINISTRATOR, MEMBER, ORGANIZATION_ROLES, STAFF_ROLES
from licensing.accounts import queries, services
from licensing.accounts.auth import auth_rate_limit
from licensing.accounts.models import (
    EMAIL_MAX,
    LEGAL_NAME_MAX,
    PASSKEY_REASON_MAX,
    PASSKEY_REASON_REQUIRED,
    PERSON_NAME_MAX,
    TOKEN_SCOPES,
    TWO_STEP_REQUIRED,
    TWO_STEP_STATES,
    ApiToken,
    OneTimeToken,
    Organization,
    Passkey,
    User,
)
from licensing.accounts.passwords import MAX_LENGTH as PASSWORD_MAX
from licensing.accounts.passwords import RULE as PASSWORD_RULE
from licensing.accounts.services import passkeys as passkey_services
from licensing.accounts.services.moves import REASON_MAX as MOVE_REASON_MAX
from licensing.accounts.services.moves import REASON_REQUIRED as MOVE_REASON_REQUIRED
from licensing.accounts.states import STANDING, may_take
from licensing.actors import current_actor
from licensing.api.base import Blueprint, Created, never_answers, refuses_whatever_is_sent
from licensing.api.fields import (
    STRINGS,
    ApiSchema,
    Required,
    Text,
    callers_actions,
    documented,
    record_id,
    steps_of,
    vocabulary,
)
from licensing.api.idempotency import idempotent
from licensing.config import current_config
from licensing.db import utcnow
from licensing.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from licensing.links import links
from licensing.pricing.vocabulary import ORGANIZATION_TYPES

blp = Blueprint(
    "accounts_api",
    __name__,
    description="Organizations, their members and invitations, staff users and API tokens.",
)

Length = ma.validate.Length
T = TypeVar("T")


def _text(limit: int, *, required: bool = False, **kwargs: Any) -> ma.fields.String:
    if required:
        return ma.fields.String(required=True, validate=Text(limit, filled=True), **kwargs)
    return ma.fields.String(allow_none=True, validate=Text(limit), **kwargs)


def _profile_text(name: str, *, required: bool = False, **kwargs: Any) -> ma.fields.String:
    """Organization profile field `name`, within its limit on the model."""
    return _text(Organization.LIMITS[name], required=required, **kwargs)


# --- schemas ---------------------------------------------------------------------


def _organization_fields(*, creating: bool) -> dict[str, ma.fields.Field[Any]]:
    """An organization's profile fields, in the order the API document lists them:
    to create one, the fields it must have are required and some show an example;
    to update one, any field may be sent (vendors may not change `legal_name` or
    `organization_type`)."""

    def text(name: str, needed: bool = False, example: str | None = None) -> ma.fields.String:
        shown = {"metadata": {"example": example}} if creating and example else {}
        return _profile_text(name, required=creating and needed, **shown)

    return {
        "legal_name": text("legal_name", True, "Northwind Health Software Inc."),
        "organization_type": vocabulary(ORGANIZATION_TYPES, required=creating),
        "address_line1": text("address_line1", True, "200 Harbor Way"),
        "address_line2": text("address_line2"),
        "city": text("city", True, "Portland"),
        "region": text("region", example="OR"),
        "postal_code": text("postal_code", example="97201"),
        # Checked by the service alone, which says one thing however it is wrong.
        "country": ma.fields.String(
            required=creating,
            metadata={"description": "ISO 3166-1 alpha-2 code", "minLength": 2, "maxLength": 2}
            | ({"example": "US"} if creating else {}),
        ),
        "billing_contact_name": text("billing_contact_name", True),
        "billing_email": ma.fields.Email(
            required=creating, validate=Text(Organization.LIMITS["billing_email"])
        ),
        "tax_id": text("tax_id"),
    }


OrganizationInputSchema = ApiSchema.from_dict(
    _organization_fields(creating=True), name="OrganizationInputSchema"
)
OrganizationUpdateSchema = ApiSchema.from_dict(
    _organization_fields(creating=False), name="OrganizationUpdateSchema"
)


def _profile_shown() -> dict[str, ma.fields.Field[Any]]:
    """The profile as the API shows it (`Organization.PROFILE_FIELDS`, in order): each
    field text, null where its column may be empty."""
    columns = sa_inspect(Organization).columns
    return {
        name: ma.fields.String(allow_none=columns[name].nullable)
        for name in Organization.PROFILE_FIELDS
    }


def _allowed_standing_actions(organization: Organization) -> list[str]:
    # Every standing step is staff's (`POST .../standing`) or the service's, and
    # each is one role's (`STANDING_ROLES`): the caller's own, as the service asks.
    steps = callers_actions(
        STANDING.allowed(organization.standing),
        dict.fromkeys(STANDING.actions, "accounts_api.change_standing"),
    )
    principal = access.current_principal() if has_request_context() else None
    return steps if principal is None else [step for step in steps if may_take(principal, step)]


steps_of(
    "organization",
    dict.fromkeys(STANDING.actions, "accounts_api.change_standing"),
    _allowed_standing_actions,
    organization_id=lambda organization_id: queries.get_owned(
        db.session(), Organization, organization_id
    ),
)


OrganizationSchema = ApiSchema.from_dict(
    {
        "id": ma.fields.Integer(),
        **_profile_shown(),
        "standing": ma.fields.String(metadata={"enum": list(STANDING.states)}),
        "good_standing": ma.fields.Function(
            services.organization_in_good_standing, metadata={"type": "boolean"}
        ),
        "allowed_standing_actions": ma.fields.Function(_allowed_standing_actions, metadata=STRINGS),
        "two_step_required": ma.fields.Boolean(
            metadata={
                "description": "Its administrators require two-step sign-in of every member "
                "(`POST /organizations/{organization_id}/two-step`)."
            }
        ),
        "created_at": ma.fields.DateTime(),
    },
    name="OrganizationSchema",
)


def whom_emailed(recipients: str, summary: str) -> dict[str, ma.fields.Field[Any]]:
    """The two fields an answer says whom its step emailed with (rounds 33-34; the
    application and permission decisions' too, round 37): `recipients`, one entry per
    address, and `emailed_summary`, the page's words."""
    return {
        "recipients": ma.fields.List(
            ma.fields.Nested(lambda: MoveRecipientSchema()), metadata={"description": recipients}
        ),
        "emailed_summary": ma.fields.String(metadata={"description": summary}),
    }


OrganizationSavedSchema = OrganizationSchema.from_dict(
    whom_emailed(
        "Every address the change emailed, one each: the old and the new billing contact "
        "(`audience` `billing_contact`) when `billing_email` changed; empty otherwise "
        "(round 33).",
        "Whom it emailed as a sentence's end: \"emailed the old and the new billing "
        'contact: old@example.com, new@example.com", or "emailed nobody: the billing '
        "contact's address did not change\".",
    ),
    name="OrganizationSavedSchema",
)

StandingChangedSchema = OrganizationSchema.from_dict(
    whom_emailed(
        "Every address the change emailed, one each (round 34): its active users with a "
        "confirmed address (`audience` `member`) and its billing contact (`audience` "
        "`billing_contact`), each told what they can do.",
        "Whom it emailed as a sentence's end, the console's words: \"emailed 2 "
        'addresses: a@example.com, billing@example.com".',
    ),
    name="StandingChangedSchema",
)

TwoStepRequiredSchema = OrganizationSchema.from_dict(
    {
        "your_two_step": ma.fields.String(
            metadata={
                "enum": list(TWO_STEP_STATES),
                "description": "The caller's own two-step sign-in, as a user's `two_step`: "
                "`required` when they require it of the members without having it "
                "themselves.",
            }
        ),
        "next_step": ma.fields.String(
            allow_none=True,
            metadata={
                "description": "What the caller does next, in the portal's words, when "
                "`your_two_step` is `required`: their next portal page asks them to set it "
                "up first. Null otherwise."
            },
        ),
        **whom_emailed(
            "Every member emailed that two-step sign-in is required, one each (`audience` "
            "`member`); empty when it emailed nobody, and `emailed_summary` says why "
            "(round 33).",
            "Whom it emailed as a sentence's end, the page's words: \"emailed 2 members: "
            'a@example.com, b@example.com", or "emailed nobody: every other active member '
            'uses it already".',
        ),
    },
    name="TwoStepRequiredSchema",
)

# The caller required two-step sign-in without having it: the portal's next page
# holds them at the set-up (the console's page said so at once; the API said nothing).
SET_IT_UP_YOURSELF = (
    "You have not set up two-step sign-in yourself: the next portal page you open asks "
    "you to set it up before anything else, so have your phone with an authenticator app "
    "at hand. Set it up now at {two_step_url}. Your API tokens keep working: they are "
    "not asked for codes."
)


# An organization's role, as the API documents it wherever it appears.
_ROLE_DESCRIPTION = (
    "The user's role in their organization: `administrator` (manages members, "
    "invitations, address and billing contact), `member` (applies, accepts agreements, "
    "reports usage, pays) or `billing` (reads and pays the invoices, and reads the "
    "agreements and royalty reports they are for; takes no licensing step); null for staff."
)


class UserSchema(ApiSchema):
    id = ma.fields.Integer()
    email = ma.fields.String()
    full_name = ma.fields.String()
    organization_id = ma.fields.Integer(allow_none=True)
    role = ma.fields.String(
        attribute="organization_role",
        allow_none=True,
        metadata={"enum": [*ORGANIZATION_ROLES, None], "description": _ROLE_DESCRIPTION},
    )
    roles = documented(
        "_roles", {"type": "array", "items": {"type": "string", "enum": list(STAFF_ROLES)}}
    )
    email_verified = ma.fields.Boolean()
    two_step = documented(
        "_two_step",
        {
            "type": "string",
            "enum": list(TWO_STEP_STATES),
            "description": "Two-step sign-in: `on` (codes from an authenticator app; "
            "`passkeys` says how many passkeys besides), `passkey` (no app, and one passkey "
            "or more, round 45: each sign-in with a passkey is both steps and meets a "
            "requirement, while a sign-in with the password alone is asked to set up the "
            "app where it is required), `not_set_up` (their choice), or `required` (neither, "
            "and their organization, or for staff the office, requires it: they are asked "
            "to set it up when they next sign in).",
        },
    )
    passkeys = ma.fields.Integer(
        attribute="passkey_count",
        dump_only=True,
        metadata={
            "description": "How many passkeys the account has (round 45): each signs in "
            "without the password or a code."
        },
    )
    is_active = ma.fields.Boolean()
    locked = documented(
        "_locked",
        {
            "type": "boolean",
            "description": "Whether sign-in is locked now after failed attempts (round "
            "60): for every reader, as `locked_until` is not.",
        },
    )
    locked_until = documented(
        "_locked_until",
        {
            "type": "string",
            "format": "date-time",
            "nullable": True,
            "description": "Until when sign-in is locked after failed attempts; null when "
            "it is not. Round 60: a value of sign-in security, so null for staff without "
            "the admin role, who read `locked` (the user and their organization read it).",
        },
    )
    created_at = ma.fields.DateTime()
    last_sign_in_at = ma.fields.DateTime(allow_none=True)

    def _roles(self, user: User) -> list[str]:
        return sorted(user.roles)

    def _locked(self, user: User) -> bool:
        return user.is_locked(utcnow())

    def _locked_until(self, user: User) -> str | None:
        principal = access.current_principal() if has_request_context() else None
        withheld = principal is not None and principal.is_staff and not principal.is_staff_admin
        if withheld or user.locked_until is None:
            return None
        return user.locked_until.isoformat()  # as `ma.fields.DateTime` writes it

    def _two_step(self, user: User) -> str:
        return user.two_step_state(staff_required=current_config().two_step_required_for_staff)


UserChangedSchema = UserSchema.from_dict(
    whom_emailed(
        "Every address the change emailed, one entry: the person (`audience` `person`) "
        "when their access was removed or restored (`is_active`) or their `role` changed; "
        "empty otherwise (staff accounts, staff `roles`, nothing changed) (round 34).",
        'Whom it emailed as a sentence\'s end: "emailed jo@example.com", or "emailed '
        'nobody: ..." and why.',
    ),
    name="UserChangedSchema",
)


class MeSchema(ApiSchema):
    user = ma.fields.Nested(UserSchema)
    organization = ma.fields.Nested(OrganizationSchema, allow_none=True)


class SignUpSchema(ApiSchema):
    email = ma.fields.Email(required=True, validate=Text(EMAIL_MAX))
    password = ma.fields.String(
        required=True,
        load_only=True,
        validate=Text(PASSWORD_MAX),
        metadata={"description": PASSWORD_RULE},
    )
    full_name = _text(PERSON_NAME_MAX, required=True, metadata={"example": "Alex Moreno"})
    organization = ma.fields.Nested(OrganizationInputSchema, required=True)


class SignUpResultSchema(ApiSchema):
    email = ma.fields.String(metadata={"description": "The address, normalized"})
    next_step = ma.fields.String()


class StandingChangeSchema(ApiSchema):
    action = vocabulary(sorted(STANDING.actions), required=True)
    reason = ma.fields.String(
        load_default=None,
        allow_none=True,
        validate=Text(2000),
        metadata={"description": "Required to suspend, close or mark as pending payment."},
    )


def _organization_role(description: str, **kwargs: Any) -> ma.fields.String:
    """A role in an organization (`access.ORGANIZATION_ROLES`), as an input."""
    field = vocabulary(ORGANIZATION_ROLES, **kwargs)
    field.metadata = {**field.metadata, "description": description}
    return field


class TwoStepRequirementSchema(ApiSchema):
    required = ma.fields.Boolean(
        required=True,
        metadata={
            "description": "true: every member must sign in with a code; false: each chooses."
        },
    )


class InvitationInputSchema(ApiSchema):
    email = ma.fields.Email(required=True, validate=Text(EMAIL_MAX))
    role = _organization_role(
        "The role they join with; `member` unless given.", load_default=MEMBER
    )


class InvitationSchema(ApiSchema):
    id = ma.fields.Integer()
    organization_id = ma.fields.Integer()
    email = ma.fields.String()
    role = ma.fields.String(
        attribute="organization_role", metadata={"enum": list(ORGANIZATION_ROLES)}
    )
    status = documented(
        "_status", {"type": "string", "enum": ["pending", "accepted", "revoked", "expired"]}
    )
    invited_by = documented(
        "_invited_by",
        {
            "type": "string",
            "nullable": True,
            "description": "Who invited them: a member's address; a staff member's for "
            "staff callers only, null for a vendor (round 40)",
        },
    )
    created_at = ma.fields.DateTime()
    expires_at = ma.fields.DateTime()
    accepted_at = ma.fields.DateTime(attribute="used_at", allow_none=True)
    revoked_at = ma.fields.DateTime(allow_none=True)
    invited_by_name = documented(
        "_invited_by_name",
        {
            "type": "string",
            "nullable": True,
            "description": "The name of who invited them, beside `invited_by` and null "
            "where it is (round 60)",
        },
    )

    def _status(self, link: OneTimeToken) -> str:
        return link.status(utcnow())

    def _inviter(self, link: OneTimeToken) -> User | None:
        inviter = link.created_by
        if inviter is None or (inviter.is_staff and not access.caller_is_staff()):
            # A staff member's address is the office's own (round 40): a vendor reads
            # a colleague's, not the staff member's who invited their first member.
            return None
        return inviter

    def _invited_by(self, link: OneTimeToken) -> str | None:
        inviter = self._inviter(link)
        return inviter.email if inviter is not None else None

    def _invited_by_name(self, link: OneTimeToken) -> str | None:
        inviter = self._inviter(link)
        return inviter.full_name if inviter is not None else None


class StaffUserInputSchema(ApiSchema):
    email = ma.fields.Email(required=True, validate=Text(EMAIL_MAX))
    full_name = _text(PERSON_NAME_MAX, required=True)
    roles = ma.fields.List(
        vocabulary(STAFF_ROLES),
        required=True,
        validate=Length(min=1, error="Give at least one role."),
    )


class UserUpdateSchema(ApiSchema):
    roles = ma.fields.List(
        vocabulary(STAFF_ROLES),
        validate=Length(min=1),
        metadata={"description": "A staff member's roles (admins)."},
    )
    role = _organization_role(
        "A vendor user's role in their organization (its administrators, or licensing "
        "staff); the last active administrator stays one (409)."
    )
    is_active = ma.fields.Boolean()


# The move names its destination by id or by legal name (round 51), one of them.
DESTINATION_NEEDED = (
    "Name the organization the account moves to: organization_id (its id) or "
    "organization (its legal name)."
)
DESTINATION_TWICE = "Give organization_id or organization, not both."
# And where it acts for now, by id or by legal name (round 52), one of them.
EXPECTED_NEEDED = (
    "Name the organization the account acts for now: expected_organization_id (its id) "
    "or expected_organization (its legal name)."
)
EXPECTED_TWICE = "Give expected_organization_id or expected_organization, not both."


def _legal_name(description: str, example: str) -> ma.fields.String:
    """A field naming an organization by its legal name (or null: none given)."""
    return ma.fields.String(
        allow_none=True,
        validate=Text(LEGAL_NAME_MAX),
        metadata={"description": description, "example": example},
    )


class MoveInputSchema(ApiSchema):
    organization_id = record_id(
        metadata={
            "description": "The organization the account moves to, by id; or `organization`, "
            "by name (exactly one of them)."
        }
    )
    organization = _legal_name(
        "The organization the account moves to, by legal name, whole, in any case and "
        "script (round 51; `licensing users move --to`'s lookup): a name several "
        "organizations have, or none has, is a 422 listing at most 10 of them (those of "
        "that name, or whose name contains it) with their ids. Or `organization_id` "
        "(exactly one of them).",
        "Harbor Analytics LLC",
    )
    # Absent, null, empty or blank: the service's and the page's words (round 50).
    reason = Required(
        MOVE_REASON_MAX,
        MOVE_REASON_REQUIRED,
        metadata={
            "description": "Why the account moves: emailed to the person and kept in the "
            "audit log.",
            "example": "Joined Harbor Analytics as a consultant.",
        },
    )
    expected_organization_id = record_id(
        metadata={
            "description": "The organization the caller believes the person acts for now "
            "(as `GET /users/{user_id}` gave it): an account moved since is not moved on "
            "(409). It makes a retried request safe: one that was carried out is refused. "
            "Or `expected_organization`, by name (exactly one of them)."
        },
    )
    expected_organization = _legal_name(
        "The organization the caller believes the person acts for now, by legal name, "
        "found as `organization` is (round 52; `licensing users move --from`): a name "
        "several organizations have, or none has, is a 422 on this field listing them "
        "with their ids. Or `expected_organization_id` (exactly one of them).",
        "Kestrel Health Software",
    )

    @ma.validates_schema(skip_on_field_errors=False)
    def _one_destination(self, data: dict[str, Any], **_kwargs: Any) -> None:
        """Exactly one of `organization_id` and `organization` (a null name is none),
        and of `expected_organization_id` and `expected_organization`."""
        errors: dict[str, list[str]] = {}
        for by_id, by_name, twice, needed in (
            ("organization_id", "organization", DESTINATION_TWICE, DESTINATION_NEEDED),
            (
                "expected_organization_id",
                "expected_organization",
                EXPECTED_TWICE,
                EXPECTED_NEEDED,
            ),
        ):
            if data.get(by_name) is None:
                data.pop(by_name, None)
            if by_id in data and by_name in data:
                errors[by_name] = [twice]
            elif by_id not in data and by_name not in data:
                errors[by_id] = [needed]
        if errors:
            raise ma.ValidationError(errors)


class MoveEndedSchema(ApiSchema):
    sessions = ma.fields.Boolean(
        metadata={"description": "Always true: the person is signed out everywhere."}
    )
    api_tokens_revoked = ma.fields.List(
        ma.fields.String(), metadata={"description": "The names of the API tokens revoked."}
    )
    invitations_withdrawn = ma.fields.Integer(
        metadata={"description": "Invitations they sent for the organization left, withdrawn."}
    )


class MoveRecipientSchema(ApiSchema):
    email = ma.fields.String()
    audience = ma.fields.String(
        metadata={
            "enum": [
                "person",
                "left",
                "joined",
                "member",
                "billing_contact",
                "requester",
                "staff",
            ],
            "description": "`person`: the person the step is about (moved, their browsers "
            "forgotten, signed out, their access removed, their role changed); `left`, "
            "`joined`: an active administrator of the organization a person moved left or "
            "joined; `member`: a member of the organization the step is about (two-step "
            "sign-in required, its standing changed); `billing_contact`: the old or the new "
            "billing address of an organization whose billing email changed, or its "
            "billing contact told of a change of standing; round 37: `member` also an "
            "administrator or member of the organization an application (or a permission "
            "request made from one) is of, told of its decision, and `billing_contact` "
            "its billing contact when it has none; `requester`: the person who asked for "
            "a permission; round 38: `staff`: the licensing staff told of an "
            "application's escalation (its reviewer while active, else those who hold "
            "the licensing role).",
        }
    )
    organization_id = ma.fields.Integer(
        allow_none=True,
        metadata={
            "description": "The organization the administrator acts for; for the person, "
            "the one they act for (a moved person: the one joined); null for staff, and "
            "for the requester of a permission asked for on the public form."
        },
    )


class MoveEmailedSchema(ApiSchema):
    person = ma.fields.String(metadata={"description": "The moved person's address."})
    recipients = ma.fields.List(
        ma.fields.Nested(MoveRecipientSchema),
        metadata={
            "description": "Every address emailed, one each, the person first: what an HR "
            "system logs (round 30)."
        },
    )
    administrators_of = ma.fields.List(
        ma.fields.Integer(),
        metadata={
            "description": "The organizations (of the one left and the one joined) whose "
            "active administrators were emailed; one without any is left out."
        },
    )
    summary = ma.fields.String(metadata={"description": "Whom the move emailed, as a sentence."})


# The steps on a person that email (the move, forget-browsers) answer `recipients` at
# the top level, one shape (round 31): a script logs whom a step told by one path,
# whatever else its `emailed` says.
RECIPIENTS = (
    "Every address the step emailed, one entry each, the person first; empty when it "
    "emailed no one. The same field, in the same place, on the move and forget-browsers "
    "(round 31)."
)


class MoveSchema(ApiSchema):
    user = ma.fields.Nested(UserSchema, metadata={"description": "As `GET /users/{user_id}`."})
    left_organization_id = ma.fields.Integer()
    ended = ma.fields.Nested(MoveEndedSchema)
    emailed = ma.fields.Nested(MoveEmailedSchema)
    recipients = ma.fields.List(
        ma.fields.Nested(MoveRecipientSchema),
        metadata={"description": f"{RECIPIENTS} As `emailed.recipients`."},
    )


class BrowsersForgottenSchema(ApiSchema):
    user = ma.fields.Nested(UserSchema, metadata={"description": "As `GET /users/{user_id}`."})
    browsers_forgotten = ma.fields.Integer(
        metadata={
            "description": "How many remembered browsers were forgotten; 0: none was, and "
            "nothing was changed, recorded or emailed."
        }
    )
    sessions_ended = ma.fields.Boolean(
        metadata={"description": "Every session of the account ended (when any was forgotten)."}
    )
    emailed = ma.fields.String(
        allow_none=True,
        metadata={
            "description": "The address told why their next sign-in asks for the code. "
            "Kept for clients that read it; read `recipients`, the field every step that "
            "emails answers (round 33)."
        },
    )
    recipients = ma.fields.List(
        ma.fields.Nested(MoveRecipientSchema),
        metadata={
            "description": f"{RECIPIENTS} Here the person only (`audience` `person`); "
            "empty when none was forgotten, or on the caller's own account."
        },
    )
    summary = ma.fields.String(
        metadata={
            "description": "What was done and whom it emailed, as a sentence (round 34): "
            '"emailed nobody: <address> is your own account" for the caller\'s own.'
        }
    )


class SignedOutSchema(ApiSchema):
    user = ma.fields.Nested(UserSchema, metadata={"description": "As `GET /users/{user_id}`."})
    sessions_ended = ma.fields.Boolean(
        metadata={
            "description": "Always true: every session of the account ended, on every "
            "browser (sessions are signed cookies that a sign-out stops all at once, so "
            "they are not counted); API tokens keep working."
        }
    )
    browsers_forgotten = ma.fields.Integer(
        metadata={"description": "How many remembered browsers were forgotten with it."}
    )
    recipients = ma.fields.List(
        ma.fields.Nested(MoveRecipientSchema),
        metadata={
            "description": f"{RECIPIENTS} Here the person only (`audience` `person`); "
            "empty when a sign-out of theirs emailed them in the last "
            f"{int(services.SIGNED_OUT_EMAILED_ONCE_IN.total_seconds() // 60)} minutes."
        },
    )
    summary = ma.fields.String(
        metadata={"description": "What was done and whom it emailed, as a sentence."}
    )


class PasskeySchema(ApiSchema):
    id = ma.fields.Integer(
        metadata={
            "description": "The passkey's number in this service, to remove it by; never "
            "the credential's id, which the API does not show"
        }
    )
    name = ma.fields.String(metadata={"description": "As its owner named it when adding it"})
    created_at = ma.fields.DateTime(metadata={"description": "When it was added"})
    last_used_at = ma.fields.DateTime(
        allow_none=True, metadata={"description": "Its last sign-in; null: never used"}
    )


class PasskeyRemovalSchema(ApiSchema):
    # Absent, null, empty or blank: the service's and the page's words (round 50).
    reason = Required(
        PASSKEY_REASON_MAX,
        PASSKEY_REASON_REQUIRED,
        metadata={
            "description": "Why: the audit event's note, and the person reads it in their email",
            "example": "Laptop stolen; the person called the office",
        },
    )
    passkey_id = record_id(
        load_default=None,
        allow_none=True,
        metadata={"description": "The passkey to remove (its `id`); absent or null: all of them"},
    )


class MemberPasskeysRemovedSchema(ApiSchema):
    user = ma.fields.Nested(UserSchema, metadata={"description": "The member, as listed."})
    passkeys_removed = ma.fields.List(
        ma.fields.String(), metadata={"description": "The names of the passkeys removed."}
    )
    recipients = ma.fields.List(
        ma.fields.Nested(MoveRecipientSchema),
        metadata={"description": f"{RECIPIENTS} Here the member (`audience` `member`)."},
    )
    summary = ma.fields.String(
        metadata={
            "description": "What was done, what ends (a session signed in with a removed "
            "passkey; their password sessions stay) and whom it emailed, as a sentence."
        }
    )


class PasskeysRemovedSchema(ApiSchema):
    user = ma.fields.Nested(UserSchema, metadata={"description": "As `GET /users/{user_id}`."})
    passkeys_removed = ma.fields.List(
        ma.fields.String(), metadata={"description": "The names of the passkeys removed."}
    )
    sessions_ended = ma.fields.Boolean(
        metadata={
            "description": "Always true: every session of the account ended, as on the "
            "console (the lost device may be signed in with the password too); API tokens "
            "keep working."
        }
    )
    recipients = ma.fields.List(
        ma.fields.Nested(MoveRecipientSchema),
        metadata={
            "description": f"{RECIPIENTS} Here the person only (`audience` `person`); "
            "empty on the caller's own account."
        },
    )
    summary = ma.fields.String(
        metadata={"description": "What was done and whom it emailed, as a sentence."}
    )


class TokenSchema(ApiSchema):
    id = ma.fields.Integer()
    name = ma.fields.String()
    prefix = ma.fields.String(
        metadata={"description": "The token's first characters, to recognise it"}
    )
    active = ma.fields.Method(
        "_active",
        metadata={"type": "boolean", "description": "Neither revoked nor expired: it works"},
    )
    scope = ma.fields.String(
        metadata={
            "enum": list(TOKEN_SCOPES),
            "description": "`read`: GET and HEAD only (and the POSTs that store nothing: "
            "`POST /quotes`, a royalty report's preview, an admin's `POST /rate-cards/checks`); "
            "`write`: everything its user may do",
        }
    )
    created_at = ma.fields.DateTime()
    expires_at = ma.fields.DateTime(
        allow_none=True,
        metadata={
            "description": "When it stops working; null for a token made before "
            "tokens expired (it does not expire: replace it with one that does)"
        },
    )
    expired = ma.fields.Method(
        "_expired", metadata={"type": "boolean", "description": "Past `expires_at`: refused (401)"}
    )
    last_used_at = ma.fields.DateTime(allow_none=True)
    revoked_at = ma.fields.DateTime(allow_none=True)

    def _active(self, token: ApiToken) -> bool:
        return token.is_usable()

    def _expired(self, token: ApiToken) -> bool:
        return token.has_expired()


class OrganizationQuerySchema(ApiSchema):
    standing = vocabulary(STANDING.states)
    q = ma.fields.String(validate=Text(200))


class UserQuerySchema(ApiSchema):
    # As the console's *Kind*: staff, vendor users, or the vendor users of one role.
    kind = vocabulary(("staff", "vendor", *ORGANIZATION_ROLES))
    q = ma.fields.String(validate=Text(200))


# A vendor asking for another organization's record is answered as for one that does
# not exist (404).
_NO_SUCH_ORGANIZATION = "No such organization, or (for a vendor) another one"
_NO_SUCH_INVITATION = "No such invitation, or (for a vendor) another organization's"
_NOT_YOURS = "No such API token of the caller's"
_NO_SUCH_USER = "No such user, or (for a vendor) one of another organization"
_NOT_YOUR_PASSKEY = "No such passkey of the caller's (it may have been removed already)"


# --- sign-up and the caller -------------------------------------------------------


@blp.route("/signups", methods=["POST"])
@access.public
@auth_rate_limit()
@blp.arguments(SignUpSchema)
@blp.response(202, SignUpResultSchema)
@blp.alt_response(422, description="Invalid fields (e.g. a weak `password`)")
def sign_up(data: dict[str, Any]) -> dict[str, Any]:
    """Create an organization and its first user.

    The organization starts in standing `applying`; the user must confirm
    their email address (a link is emailed) before signing in and creating
    API tokens on the web. The answer is the same whether or not the address
    already has an account (then its owner is emailed instead and nothing is
    created), so it names no user or organization: `GET /api/v1/me` does,
    once signed in.
    """
    address = services.sign_up(
        email=data["email"],
        password=data["password"],
        full_name=data["full_name"],
        organization=data["organization"],
    )
    return {
        "email": address,
        "next_step": f"Follow the link emailed to {address} to confirm the address.",
    }


@blp.route("/me")
@access.any_user
@never_answers(
    404, "it reads the caller's own account and organization, which exist while the token works"
)
@blp.response(200, MeSchema)
def me() -> dict[str, Any]:
    """The caller's user and organization."""
    principal = access.require_principal()
    session = db.session()
    user = queries.get_member(session, principal.user_id, principal)
    organization = (
        queries.own_organization(session, principal) if principal.organization_id else None
    )
    return {"user": user, "organization": organization}


# --- organizations -----------------------------------------------------------------

_MEMBERS_REFUSED = (
    "A member of the organization who is not an administrator is told which administrators to ask."
)


@blp.route("/organizations")
@access.allow(vendor=True, staff=("licensing", "billing"))
@blp.arguments(OrganizationQuerySchema, location="query")
@blp.paginate(OrganizationSchema)
def list_organizations(query: dict[str, Any]) -> Select[Any]:
    """Organizations: a vendor sees their own; staff see all, by standing or name."""
    return queries.organizations_query(standing=query.get("standing"), search=query.get("q"))


@blp.route("/organizations/<int:organization_id>")
@access.allow(vendor=True, staff=("licensing", "billing"))
@blp.alt_response(404, description=_NO_SUCH_ORGANIZATION)
@blp.response(200, OrganizationSchema)
def get_organization(organization_id: int) -> Organization:
    """One organization (404 for another organization's vendor)."""
    return queries.get_owned(db.session(), Organization, organization_id)


@blp.route("/organizations/<int:organization_id>", methods=["PATCH"])
@access.allow(vendor=ADMINISTRATOR, staff=("licensing",))
@blp.arguments(OrganizationUpdateSchema)
@blp.alt_response(403, description=_MEMBERS_REFUSED)
@blp.alt_response(404, description=_NO_SUCH_ORGANIZATION)
@blp.response(200, OrganizationSavedSchema)
def update_organization(changes: dict[str, Any], organization_id: int) -> _Saved:
    """Change profile fields: the organization's administrators, or licensing staff.
    The legal name and organization type decide the license, so only licensing
    staff change them. A new `billing_email` emails the old address and the new:
    `recipients` says whom."""
    return _Saved(services.update_organization(organization_id, changes, current_actor()))


class _Saved:
    """The organization as its schema reads it, and whom its change emailed."""

    def __init__(self, saved: services.ProfileSaved):
        self._organization = saved.organization
        self.recipients = [
            {
                "email": email,
                "audience": "billing_contact",
                "organization_id": saved.organization.id,
            }
            for email in saved.emailed
        ]
        self.emailed_summary = saved.emailed_summary

    def __getattr__(self, name: str) -> Any:
        return getattr(self._organization, name)


@blp.route("/organizations/<int:organization_id>/standing", methods=["POST"])
@access.staff("licensing", "billing")
@blp.arguments(StandingChangeSchema)
@blp.alt_response(
    403,
    description="A step of another role: billing staff take `mark_pending_payment` and "
    "`payment_received`, licensing staff the others (admins every one)",
)
@blp.alt_response(404, description=_NO_SUCH_ORGANIZATION)
@blp.response(
    200,
    StandingChangedSchema,
    conflict="Not allowed from the current standing; lists allowed_actions",
)
def change_standing(data: dict[str, Any], organization_id: int) -> Emailed:
    """Change the organization's standing (staff); audited and emailed to its members
    and billing contact: `recipients` and `emailed_summary` say whom.

    Billing staff take `mark_pending_payment` and `payment_received`; licensing
    staff `activate`, `suspend`, `reinstate` and `close`; an admin (or someone with
    both roles) any. Another role's step is a 403 naming the role that takes it;
    the organization's `allowed_standing_actions` lists the caller's own."""
    emailed: list[str] = []
    organization = services.change_organization_standing(
        organization_id,
        data["action"],
        reason=data.get("reason"),
        actor=current_actor(),
        emailed=emailed,
    )
    contact = organization.billing_email.lower()
    recipients = [
        {
            "email": email,
            "audience": "billing_contact" if email.lower() == contact else "member",
            "organization_id": organization.id,
        }
        for email in emailed
    ]
    return Emailed(organization, recipients, services.standing_emailed_summary(emailed))


class Emailed:
    """A record as its schema reads it, and whom its step emailed (`whom_emailed`'s
    fields): an organization whose standing changed, an application or permission
    request decided (round 37)."""

    def __init__(self, record: Any, recipients: list[dict[str, Any]], summary: str) -> None:
        self._record = record
        self.recipients = recipients
        self.emailed_summary = summary

    def __getattr__(self, name: str) -> Any:
        return getattr(self._record, name)


@blp.route("/organizations/<int:organization_id>/two-step", methods=["POST"])
@access.administrator
@blp.arguments(TwoStepRequirementSchema)
@blp.alt_response(403, description=_MEMBERS_REFUSED)
@blp.alt_response(404, description="Another organization's, or no such organization")
@blp.response(200, TwoStepRequiredSchema)
def require_two_step(data: dict[str, Any], organization_id: int) -> _WithCaller:
    """Require two-step sign-in of every member, or stop (the organization's
    administrators), as the *Organization* page's setting: members without it are
    emailed and asked to set it up when they next sign in; audited
    `organization.two_step_required`. Asking for what is already so changes nothing.

    The answer is the organization, as `GET /organizations/{organization_id}`, with
    the caller's own `your_two_step`; an administrator who requires it without having
    it is `required`, and `next_step` says that their next portal page asks them to
    set it up (round 30: the answer said nothing of it)."""
    session = db.session()
    queries.get_owned(session, Organization, organization_id)  # 404 for another's
    done = services.require_for_organization(current_actor(), organization_id, data["required"])
    organization = done.organization
    caller = queries.get_member(session, access.require_principal().user_id)
    session.refresh(caller)
    yours = caller.two_step_state(staff_required=current_config().two_step_required_for_staff)
    next_step = None
    if yours == TWO_STEP_REQUIRED:
        next_step = SET_IT_UP_YOURSELF.format(two_step_url=links().two_step_sign_in())
    return _WithCaller(organization, yours, next_step, done)


class _WithCaller:
    """The organization as its schema reads it, what the caller is to do, and whom
    the step emailed."""

    def __init__(
        self,
        organization: Organization,
        your_two_step: str,
        next_step: str | None,
        done: services.Requirement,
    ):
        self._organization = organization
        self.your_two_step = your_two_step
        self.next_step = next_step
        self.recipients = [
            {"email": email, "audience": "member", "organization_id": organization.id}
            for email in done.emailed
        ]
        self.emailed_summary = done.emailed_summary

    def __getattr__(self, name: str) -> Any:
        return getattr(self._organization, name)


def _of_organization(
    organization_id: int, records: Callable[[Session, int], Sequence[T]]
) -> list[T]:
    """An organization's `records`, once the caller may read it (another's is a 404)."""
    session = db.session()
    organization = queries.get_owned(session, Organization, organization_id)
    return list(records(session, organization.id))


@blp.route("/organizations/<int:organization_id>/members")
@access.allow(vendor=True, staff=("licensing", "billing"))
@blp.alt_response(404, description=_NO_SUCH_ORGANIZATION)
@blp.paginate(UserSchema)
def list_members(organization_id: int) -> list[User]:
    """The organization's users."""
    return _of_organization(organization_id, queries.members)


@blp.route("/organizations/<int:organization_id>/invitations")
@access.allow(vendor=True, staff=("licensing", "billing"))
@blp.alt_response(404, description=_NO_SUCH_ORGANIZATION)
@blp.paginate(InvitationSchema)
def list_invitations(organization_id: int) -> list[OneTimeToken]:
    """Invitations to join the organization, newest first."""
    return _of_organization(organization_id, queries.invitations)


@blp.route("/organizations/<int:organization_id>/invitations", methods=["POST"])
@access.administrator
@blp.arguments(InvitationInputSchema)
@blp.alt_response(403, description=_MEMBERS_REFUSED)
@blp.alt_response(404, description=_NO_SUCH_ORGANIZATION)
@blp.response(
    201,
    InvitationSchema,
    conflict="The organization is closed: a closed organization cannot invite members.",
    location=Created("accounts_api.get_invitation", {"invitation_id": "id"}),
)
def create_invitation(data: dict[str, Any], organization_id: int) -> OneTimeToken:
    """Invite a colleague by email, as a `member` unless `role` says `administrator`
    (the organization's administrators); the link in the email works for 7 days.
    Inviting an address again sends a new link in place of a pending one."""
    return services.invite_member(
        organization_id, data["email"], current_actor(), role=data["role"]
    )


@blp.route("/invitations/<int:invitation_id>")
@access.allow(vendor=True, staff=("licensing", "billing"))
@blp.alt_response(404, description=_NO_SUCH_INVITATION)
@blp.response(200, InvitationSchema)
def get_invitation(invitation_id: int) -> OneTimeToken:
    """One invitation: its address, role, who sent it and where it stands."""
    return queries.get_invitation(db.session(), invitation_id)


@blp.route("/invitations/<int:invitation_id>", methods=["DELETE"])
@access.administrator
@blp.alt_response(403, description=_MEMBERS_REFUSED)
@blp.alt_response(404, description=_NO_SUCH_INVITATION)
@blp.response(204, conflict="Already accepted, revoked or expired")
def revoke_invitation(invitation_id: int) -> None:
    """Withdraw a pending invitation (the organization's administrators)."""
    services.revoke_invitation(invitation_id, current_actor())


# --- users ---------------------------------------------------------------------------


@blp.route("/users")
@access.staff("admin")
@blp.arguments(UserQuerySchema, location="query")
@blp.paginate(UserSchema)
def list_users(query: dict[str, Any]) -> Select[Any]:
    """Every account (admins)."""
    return queries.users_query(kind=query.get("kind"), search=query.get("q"))


@blp.route("/users", methods=["POST"])
@access.staff("admin")
@blp.arguments(StaffUserInputSchema)
@blp.response(201, UserSchema, location=Created("accounts_api.get_user", {"user_id": "id"}))
def create_staff_user(data: dict[str, Any]) -> User:
    """Add a staff member (admins); they are emailed a link to choose a password."""
    return services.create_staff_user(
        email=data["email"],
        roles=data["roles"],
        full_name=data["full_name"],
        actor=current_actor(),
        two_step_required=current_config().two_step_required_for_staff,
    )


@blp.route("/users/<int:user_id>")
@access.allow(vendor=True, staff=("licensing", "billing"))
@blp.alt_response(404, description=_NO_SUCH_USER)
@blp.response(200, UserSchema)
def get_user(user_id: int) -> User:
    """A user: vendors see their colleagues; staff see everyone."""
    return queries.get_member(db.session(), user_id)


@blp.route("/users/<int:user_id>", methods=["PATCH"])
@access.allow(vendor=ADMINISTRATOR, staff=("licensing",))
@blp.arguments(UserUpdateSchema)
@blp.alt_response(
    403,
    description=_MEMBERS_REFUSED + " Staff without the role the change needs are refused too.",
)
@blp.alt_response(404, description=_NO_SUCH_USER)
@blp.alt_response(
    422,
    description="A field the body names in `errors`: `is_active` false for one's own account, "
    "`roles` from a caller who is not an admin, a role or value not in its vocabulary",
)
@blp.response(
    200,
    UserChangedSchema,
    conflict="It would leave the organization without an active administrator, or the "
    "office without an active admin; or it makes a user whose access was removed an "
    "administrator without also setting `is_active: true`",
)
def update_user(data: dict[str, Any], user_id: int) -> _UserChanged:
    """Change a user. Admins change staff `roles`; an organization's administrators
    (and licensing staff) change a colleague's `role`; its administrators and admins
    deactivate or reactivate (`is_active`).

    Deactivating revokes the user's API tokens for good: a reactivated user creates
    new ones. The organization's last active administrator is neither made a member
    nor deactivated (409): make another member administrator first. A user whose
    access was removed is made administrator only with `"is_active": true` in the
    same request (409 otherwise: restore their access first). The changes are
    made together or not at all, access first: a refusal of one stores none.

    A vendor user whose access is removed or restored, or whose role changes, is
    emailed: `recipients` and `emailed_summary` say whom (round 34)."""
    actor = current_actor()
    queries.get_member(db.session(), user_id, actor)  # 404 before any refusal
    if "roles" in data and not actor.has_role("admin"):
        raise InvalidInput.for_field("roles", "Only admins change staff roles.")
    emailed: list[str] = []
    user = services.update_user(user_id, data, actor, emailed=emailed)
    return _UserChanged(user, emailed)


class _UserChanged:
    """The user as its schema reads it, and whom the change emailed (the person, once
    however many of their changes emailed them)."""

    def __init__(self, user: User, emailed: list[str]):
        self._user = user
        self.recipients = [
            {"email": email, "audience": "person", "organization_id": user.organization_id}
            for email in dict.fromkeys(emailed)
        ]
        self.emailed_summary = services.emailed_summary(emailed)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._user, name)


_MOVE_REFUSALS = (
    "The move would leave the organization without an active administrator, or its "
    "invoices going to someone who acts for another organization (its billing contact); "
    "the destination is closed; or the account no longer acts for "
    "`expected_organization_id` (moved meanwhile, or a retry of a move carried out)"
)


@blp.route("/users/<int:user_id>/move", methods=["POST"])
@access.staff("admin")
@blp.arguments(MoveInputSchema)
@blp.alt_response(404, description="No such user")
@blp.response(200, MoveSchema, conflict=_MOVE_REFUSALS)
def move_user(data: dict[str, Any], user_id: int) -> dict[str, Any]:
    """Move a vendor user's account to another organization (admins), as the console's
    move does: their sessions and API tokens end, the invitations they sent are
    withdrawn, they join as a billing member, and they and both organizations'
    administrators are emailed; audited `user.moved` with the reason.

    No `Idempotency-Key`: `expected_organization_id` is required, so a retry of a
    move that was carried out is a 409 (the account acts for another organization
    now) and nothing is moved or emailed twice; `GET /users/{user_id}` says where it is.

    The destination is `organization_id`, or `organization`, its legal name (round 51:
    staff scripts know organizations by name, as `licensing users move --to` takes it),
    found by the command's own lookup and refused in its words (422 on `organization`);
    where the account acts now likewise `expected_organization_id`, or
    `expected_organization` by name (round 52, `--from`), with the same refusals."""
    if "organization" in data:
        data["organization_id"] = services.organization_by_name(data["organization"])
    if "expected_organization" in data:
        try:
            data["expected_organization_id"] = services.organization_by_name(
                data["expected_organization"]
            )
        except InvalidInput as error:
            raise _named_as_in_the_body(error, "expected_organization") from error
    try:
        moved = services.move_user(
            user_id,
            data["organization_id"],
            data["reason"],
            current_actor(),
            leaving=data["expected_organization_id"],
        )
    except InvalidInput as error:
        named = "organization" if "organization" in data else "organization_id"
        raise _named_as_in_the_body(error, named) from error
    except services.MovedMeanwhile as error:
        raise Conflict(_moved_meanwhile(error, user_id, data)) from error
    organizations = (moved.left, moved.joined)
    return {
        "user": moved.user,
        "left_organization_id": moved.left.id,
        "ended": {
            "sessions": True,
            "api_tokens_revoked": moved.tokens,
            "invitations_withdrawn": moved.invitations,
        },
        "emailed": {
            "person": moved.user.email,
            "recipients": moved.recipients,
            "administrators_of": [each.id for each in moved.administrators_told],
            "summary": services.who_is_told("they", organizations, moved.administrators_told),
        },
        "recipients": moved.recipients,
    }


def _moved_meanwhile(error: services.MovedMeanwhile, user_id: int, data: dict[str, Any]) -> str:
    """The refusal of a move from where the account no longer is, in a script's words:
    the console's "open their page again" means nothing to one. A retry of a move
    carried out finds the account where it asked for it."""
    where = f"{error.full_name}'s account acts for organization {error.organization_id}"
    if error.organization_id == data["organization_id"]:
        return (
            f"{where} already: a move sent before went through, and nothing was moved or "
            f"emailed again. GET /api/v1/users/{user_id} shows it."
        )
    given = (
        f"expected_organization “{data['expected_organization'].strip()}”"
        if "expected_organization" in data
        else "expected_organization_id"
    )
    return (
        f"{where}, not organization {data['expected_organization_id']} "
        f"({given}): it was moved meanwhile, or the expected organization "
        f"is wrong. Read GET /api/v1/users/{user_id}, and send the organization it acts for "
        "now as expected_organization_id to move it from there."
    )


def _named_as_in_the_body(error: InvalidInput, field: str) -> InvalidInput:
    """The service names the organization `organization`, as the console's form does;
    the API's body calls it `field`: `organization_id`, or `organization` when named
    so, or `expected_organization` for where the account acts now (round 52)."""
    errors = {
        (field if path == "organization" else path): messages
        for path, messages in error.errors.items()
    }
    return InvalidInput(error.detail, errors)


@blp.route("/users/<int:user_id>/unlock", methods=["POST"])
@access.staff("admin")
@blp.alt_response(404, description="No such user")
@blp.response(200, UserSchema)
def unlock_user(user_id: int) -> User:
    """Lift a sign-in lockout before it ends (admins), as the console's *Unlock*:
    the user may sign in again at once; audited `user.unlocked`. A user who is not
    locked is answered as they are, and nothing is recorded."""
    return services.unlock_user(user_id, actor=current_actor())


@blp.route("/users/<int:user_id>/forget-browsers", methods=["POST"])
@access.staff("admin")
@idempotent
@blp.alt_response(404, description="No such user")
@blp.response(
    200,
    BrowsersForgottenSchema,
    conflict="The account is deactivated: it has no browser remembered, and nothing is "
    "done or emailed",
)
def forget_browsers(user_id: int) -> dict[str, Any]:
    """Forget every browser remembered for the user's two-step sign-in (admins), as
    the console's *Forget their remembered browsers*: for a stolen laptop or a shared
    computer. Every session of theirs ends too, their next sign-in on every browser
    asks for the code, and they are emailed why; audited `user.browsers_forgotten`
    with how many. An admin forgetting their own is not emailed that the office did it
    (round 34): `recipients` is empty and `summary` says why. None remembered:
    answered as they are, nothing recorded or sent, so a retry is harmless. With
    `Idempotency-Key`, a retry is answered with the first answer (round 34: a retry
    after a lost answer read "0 forgotten, nobody emailed", as if nothing had been
    done). A deactivated account is a 409, as for the sign-out (round 35): its
    deactivation forgot its browsers and ended its sessions."""
    actor = current_actor()
    done = services.forget_browsers_for(actor, user_id)
    user, forgotten = done.user, done.forgotten
    if not forgotten:
        summary = f"No browser is remembered for {user.email}: nothing changed or emailed."
    elif done.emailed:
        summary = f"Forgot {_browsers(forgotten)} of {user.email}; emailed {user.email}."
    else:
        summary = (
            f"Forgot {_browsers(forgotten)} of {user.email}; emailed nobody: "
            f"{user.email} is your own account."
        )
    return {
        "user": user,
        "browsers_forgotten": forgotten,
        "sessions_ended": bool(forgotten),
        "emailed": user.email if done.emailed else None,
        "recipients": [
            {"email": user.email, "audience": "person", "organization_id": user.organization_id}
        ]
        if done.emailed
        else [],
        "summary": summary,
    }


def _browsers(count: int) -> str:
    return f"{count} remembered {'browser' if count == 1 else 'browsers'}"


@blp.route("/users/<int:user_id>/sign-out", methods=["POST"])
@access.staff("admin")
@idempotent
@blp.alt_response(404, description="No such user")
@blp.response(
    200,
    SignedOutSchema,
    conflict="The account is deactivated: it has no session to end, and nothing is done or emailed",
)
def sign_out_user(user_id: int) -> dict[str, Any]:
    """Sign the person out everywhere (admins), as the console's *Sign them out
    everywhere*: for a laptop stolen while signed in. Every session of theirs ends (any
    browser remembered for them is forgotten too; API tokens keep working), audited
    `user.signed_out`, and they are emailed that the office did it.

    Each request ends the sessions again, but the person is emailed once in
    10 minutes: a repeat within them answers `recipients` empty and says why in
    `summary`. An admin signing themselves out is not emailed. With
    `Idempotency-Key`, a retry is not carried out again but answered with the first
    answer. A deactivated account is a 409 (round 34: it was signed out and emailed
    that the office had done it): it cannot sign in, and its sessions ended with it."""
    actor = current_actor()
    done = services.sign_out_for(actor, user_id)
    user = done.user
    minutes = int(services.SIGNED_OUT_EMAILED_ONCE_IN.total_seconds() // 60)
    if done.emailed:
        told = f"emailed {user.email}"
    elif user.id == actor.user_id:
        told = f"emailed nobody: {user.email} is your own account"
    else:
        told = (
            f"emailed nobody: {user.email} was emailed about a sign-out in the last "
            f"{minutes} minutes"
        )
    return {
        "user": user,
        "sessions_ended": True,
        "browsers_forgotten": done.browsers_forgotten,
        "recipients": [
            {"email": user.email, "audience": "person", "organization_id": user.organization_id}
        ]
        if done.emailed
        else [],
        "summary": f"Signed {user.email} out everywhere; {told}.",
    }


# --- passkeys (round 47) ----------------------------------------------------------------
#
# Listed and removed here; added only in a browser, on the two-step sign-in page: adding
# one is a WebAuthn ceremony between the browser, the authenticator and this service's
# origin, which a program holding a token cannot take part in.


@blp.route("/me/passkeys")
@access.any_user
@blp.paginate(PasskeySchema)
def list_own_passkeys() -> list[Passkey]:
    """The caller's own passkeys, oldest first: name, when added and last used (never
    the credential's id or public key). Added on the two-step sign-in page only."""
    return passkey_services.passkeys_of(db.session(), access.require_principal().user_id)


@blp.route("/me/passkeys/<int:passkey_id>", methods=["DELETE"])
@access.any_user
@blp.alt_response(404, description=_NOT_YOUR_PASSKEY)
@blp.response(204)
def remove_own_passkey(passkey_id: int) -> None:
    """Remove one of the caller's passkeys, as *Remove* on the two-step sign-in page:
    it signs in nowhere any more, and a browser signed in with it is signed out;
    audited `user.passkey_removed`, the owner emailed. The token alone suffices (no
    recent password, round 47); the audit note and the email name it, and the email
    says to revoke it if the step was not theirs (round 50)."""
    passkey_services.remove_passkey(
        current_actor(), passkey_id, token_id=access.require_principal().token_id
    )


@blp.route("/users/<int:user_id>/passkeys")
@access.staff("admin")
@blp.alt_response(404, description="No such user")
@blp.paginate(PasskeySchema)
def list_passkeys_of(user_id: int) -> list[Passkey]:
    """A person's passkeys (admins), as the console's user page lists them."""
    user = queries.get_member(db.session(), user_id)
    return passkey_services.passkeys_of(db.session(), user.id)


@blp.route("/users/<int:user_id>/remove-passkeys", methods=["POST"])
@access.staff("admin")
@idempotent
@blp.arguments(PasskeyRemovalSchema)
@blp.alt_response(
    404, description="No such user, or `passkey_id` is not one of theirs (removed already?)"
)
@blp.alt_response(422, description="No `reason` (or a blank one), or one too long")
@blp.response(
    200,
    PasskeysRemovedSchema,
    conflict="The person has no passkey: nothing was removed or emailed",
)
def remove_passkeys_of(data: dict[str, Any], user_id: int) -> dict[str, Any]:
    """Remove one of a person's passkeys (`passkey_id`) or all of them (admins), as the
    console's *Remove the passkeys* and `licensing users remove-passkeys` do: for a lost
    or stolen device. A reason is required; audited `user.passkey_removed` (the names,
    how many are left, the reason as the note); every session of the account ends; the
    person is emailed which, and why (not an admin removing their own). With
    `Idempotency-Key`, a retry is answered with the first answer (without it, a retry
    after all were removed is a 409)."""
    done = passkey_services.remove_passkeys_for(
        current_actor(), user_id, data["reason"], passkey_id=data.get("passkey_id")
    )
    user, names = done.user, ", ".join(done.names)
    told = (
        f"emailed {user.email}"
        if done.emailed
        else f"emailed nobody: {user.email} is your own account"
    )
    return {
        "user": user,
        "passkeys_removed": list(done.names),
        "sessions_ended": True,
        "recipients": [
            {"email": user.email, "audience": "person", "organization_id": user.organization_id}
        ]
        if done.emailed
        else [],
        "summary": f"Removed {names} of {user.email} and signed them out everywhere; {told}.",
    }


# An organization's administrators, for a colleague's passkeys (round 49): the
# Organization page's step (round 47), keyed as the office's routes above are.


def _member_of(organization_id: int, user_id: int) -> User:
    """The organization's member `user_id`, once the caller may read the organization:
    another organization, or a person not its member, is a 404."""
    session = db.session()
    organization = queries.get_owned(session, Organization, organization_id)
    user = queries.get_member(session, user_id)
    if user.organization_id != organization.id:
        raise NotFound(f"There is no member {user_id} of organization {organization_id}.")
    return user


_NO_SUCH_MEMBER = (
    "No such organization or member: another organization's, or a person not its member"
)


@blp.route("/organizations/<int:organization_id>/members/<int:user_id>/passkeys")
@access.administrator
@blp.alt_response(403, description=_MEMBERS_REFUSED)
@blp.alt_response(404, description=_NO_SUCH_MEMBER)
@blp.paginate(PasskeySchema)
def list_member_passkeys(organization_id: int, user_id: int) -> list[Passkey]:
    """A colleague's passkeys (the organization's administrators), oldest first, as the
    Organization page's *Remove passkeys* lists them: name, when added and last used."""
    member = _member_of(organization_id, user_id)
    return passkey_services.passkeys_of(db.session(), member.id)


@blp.route(
    "/organizations/<int:organization_id>/members/<int:user_id>/remove-passkeys",
    methods=["POST"],
)
@access.administrator
@idempotent
@blp.arguments(PasskeyRemovalSchema)
@blp.alt_response(403, description=_MEMBERS_REFUSED)
@blp.alt_response(
    404,
    description=f"{_NO_SUCH_MEMBER}; or `passkey_id` is not one of theirs (removed already?)",
)
@blp.alt_response(422, description="No `reason` (or a blank one), or one too long")
@blp.response(
    200,
    MemberPasskeysRemovedSchema,
    conflict="The member has no passkey, their access is removed, or it is the caller's own "
    "account (removed on the two-step sign-in page, which asks for the password): nothing "
    "was removed or emailed",
)
def remove_member_passkeys(
    data: dict[str, Any], organization_id: int, user_id: int
) -> dict[str, Any]:
    """Remove one of a colleague's passkeys (`passkey_id`) or all of them (the
    organization's administrators), as the Organization page's *Remove the passkeys*:
    for a member's lost or stolen device, without waiting for the office. A reason is
    required; audited `user.passkey_removed` (the names, how many are left, the reason
    as the note, the administrator the actor); the member is emailed who removed which,
    and why. A session signed in with a removed passkey ends at its next request; the
    member's password sessions stay (removing their access ends everything). With
    `Idempotency-Key`, a retry is answered with the first answer (without it, a retry
    after all were removed is a 409)."""
    _member_of(organization_id, user_id)
    done = passkey_services.remove_member_passkeys(
        current_actor(), user_id, data["reason"], passkey_id=data.get("passkey_id")
    )
    user = done.user
    return {
        "user": user,
        "passkeys_removed": list(done.names),
        "recipients": [
            {"email": user.email, "audience": "member", "organization_id": user.organization_id}
        ],
        "summary": f"Removed {', '.join(done.names)} of {user.email}: a session signed in "
        f"with {'it' if len(done.names) == 1 else 'one of them'} ends at its next request; "
        f"emailed {user.email}.",
    }


# --- API tokens -------------------------------------------------------------------------


@blp.route("/tokens")
@access.any_user
@blp.paginate(TokenSchema)
def list_tokens() -> Select[Any]:
    """The caller's own API tokens (never their secrets): the working ones first
    (neither revoked nor expired now), then newest first (id descending)."""
    return queries.tokens_listing(access.require_principal().user_id, utcnow())


# A token that could create tokens would outlive its own revocation: whoever held a
# leaked one would have minted more. Tokens are made only by a signed-in person on
# the API tokens page (which asks for the password again unless it was given in the
# last minutes), or by operations with `licensing tokens create`.
TOKENS_NEED_A_SESSION = (
    "An API token cannot create API tokens. Sign in and create one on the API tokens "
    "page ({tokens_page}); it may ask for your password again."
)


@blp.route("/tokens", methods=["POST"])
@access.any_user
@refuses_whatever_is_sent  # the 403 below, whatever body came with it
@blp.alt_response(403, description="Always: tokens are created on the API tokens page")
def create_token() -> NoReturn:
    """Refused (403) for every caller: the API reads only bearer tokens, and a token
    may not create tokens. Create one on the *API tokens* page while signed in."""
    raise PermissionDenied(TOKENS_NEED_A_SESSION.format(tokens_page=links().api_tokens()))


@blp.route("/tokens/<int:token_id>")
@access.any_user
@blp.alt_response(404, description=_NOT_YOURS)
@blp.response(200, TokenSchema)
def get_token(token_id: int) -> ApiToken:
    """One of your API tokens: its name, scope, expiry and last use (never the secret)."""
    return queries.get_own_token(db.session(), token_id, access.require_principal())


@blp.route("/tokens/<int:token_id>", methods=["DELETE"])
@access.any_user
@blp.alt_response(404, description=_NOT_YOURS)
@blp.response(204)
def revoke_token(token_id: int) -> None:
    """Revoke a token: it stops working at once."""
    services.revoke_api_token(token_id, current_actor())
