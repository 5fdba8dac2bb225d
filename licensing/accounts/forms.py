"""Page forms (Flask-WTF: CSRF-protected). They check shape only; the services
decide the rules (password strength, duplicates, vocabulary) and their messages
are shown beside the fields by `licensing.web.forms.show_errors`."""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    PasswordField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import EqualTo, InputRequired, Length, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from licensing.access import ADMINISTRATOR, BILLING, MEMBER, STAFF_ROLES
from licensing.accounts import passwords
from licensing.accounts.countries import country_choices
from licensing.accounts.models import (
    EMAIL_MAX,
    PASSKEY_NAME_MAX,
    PASSKEY_REASON_MAX,
    PASSKEY_REASON_REQUIRED,
    PERSON_NAME_MAX,
    READ_SCOPE,
    TOKEN_NAME_MAX,
    WRITE_SCOPE,
    Organization,
)
from licensing.accounts.services import DEFAULT_EXPIRY_DAYS, EXPIRY_DAYS
from licensing.accounts.services.moves import REASON_MAX as MOVE_REASON_MAX
from licensing.accounts.services.moves import REASON_REQUIRED as MOVE_REASON_REQUIRED
from licensing.accounts.services.two_step import TURN_OFF_REASON_REQUIRED
from licensing.pricing.vocabulary import ORGANIZATION_TYPES
from licensing.web.forms import PageForm, within
from licensing.words import FIELD_REQUIRED, ORGANIZATION_TYPE_LABELS

PASSWORD_HINT = passwords.RULE
REQUIRED = InputRequired(message=FIELD_REQUIRED)


def _organization_type_choices() -> list[tuple[str, str]]:
    return [("", "Choose…")] + [
        (value, ORGANIZATION_TYPE_LABELS.get(value, value.replace("_", " ").capitalize()))
        for value in ORGANIZATION_TYPES
    ]


def _country_choices() -> list[tuple[str, str]]:
    return [("", "Choose…"), *country_choices()]


def _password(label: str = "Password") -> PasswordField:
    return PasswordField(
        label,
        validators=[REQUIRED, within(passwords.MAX_LENGTH)],
        render_kw={"autocomplete": "new-password", "minlength": passwords.MIN_LENGTH},
    )


def _confirm(label: str = "Repeat the password", same_as: str = "password") -> PasswordField:
    """A second password field that must equal the field named `same_as`."""
    return PasswordField(
        label,
        validators=[REQUIRED, EqualTo(same_as, message="The two passwords differ.")],
        render_kw={"autocomplete": "new-password"},
    )


def _current_password(
    label: str = "Current password", field_id: str | None = None
) -> PasswordField:
    return PasswordField(
        label,
        validators=[REQUIRED, within(passwords.MAX_LENGTH)],
        render_kw={"autocomplete": "current-password"},
        id=field_id,
    )


def _email(label: str, autocomplete: str = "email") -> EmailField:
    return EmailField(
        label,
        validators=[REQUIRED, within(EMAIL_MAX)],
        render_kw={"autocomplete": autocomplete},
    )


def _within_limit(name: str) -> Length:
    """The length check of organization profile field `name`: its limit on the model."""
    return within(Organization.LIMITS[name])


# Defined first: WTForms orders fields by creation, and the error summary lists
# them in that order, which must be the page's (name and type above the address).
class _IdentityFields:
    """Legal name and type: they decide the license, so only staff change them later."""

    legal_name = StringField(
        "Legal name of the organization", validators=[REQUIRED, _within_limit("legal_name")]
    )
    organization_type = SelectField(
        "Type of organization",
        choices=_organization_type_choices,
        validate_choice=False,
        validators=[REQUIRED],
    )


class _ContactFields:
    """Address and billing contact: what a vendor may keep up to date."""

    address_line1 = StringField("Address", validators=[REQUIRED, _within_limit("address_line1")])
    address_line2 = StringField(
        "Address (second line)", validators=[Optional(), _within_limit("address_line2")]
    )
    city = StringField("City", validators=[REQUIRED, _within_limit("city")])
    region = StringField(
        "State, province or region", validators=[Optional(), _within_limit("region")]
    )
    postal_code = StringField("Postal code", validators=[Optional(), _within_limit("postal_code")])
    # An unknown choice can only come from a crafted request: the service names it.
    country = SelectField(
        "Country", choices=_country_choices, validate_choice=False, validators=[REQUIRED]
    )
    billing_contact_name = StringField(
        "Billing contact name", validators=[REQUIRED, _within_limit("billing_contact_name")]
    )
    billing_email = EmailField(
        "Billing contact email", validators=[REQUIRED, _within_limit("billing_email")]
    )
    tax_id = StringField(
        "Tax identification number (optional)", validators=[Optional(), _within_limit("tax_id")]
    )


class SignUpForm(PageForm, _IdentityFields, _ContactFields):
    full_name = StringField("Your full name", validators=[REQUIRED, within(PERSON_NAME_MAX)])
    email = _email("Your email address")
    password = _password()
    confirm = _confirm()

    ORGANIZATION_FIELDS = Organization.PROFILE_FIELDS

    # The service's rules, checked here too so that one submission reports every
    # problem (the service only runs once the form is valid). The service still
    # decides: these only repeat its checks, in its words.
    # A taken address is not a problem of the form: the service answers it as a new
    # one and tells the account's owner, so the page never says who has an account.
    def validate_email(self, field: EmailField) -> None:
        _email_address(field.data)

    def validate_billing_email(self, field: EmailField) -> None:
        _email_address(field.data)

    def validate_password(self, field: PasswordField) -> None:
        names = (self.full_name.data or "", self.legal_name.data or "")
        problems = passwords.password_problems(
            field.data or "", email=(self.email.data or "").strip(), names=names
        )
        if problems:
            raise ValidationError(" ".join(problems))


def _email_address(text: str | None) -> str:
    """The address as the service stores it, or the service's message about it."""
    try:
        return validate_email((text or "").strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as error:
        raise ValidationError(f"This is not an email address: {error}") from None


class SignInForm(PageForm):
    email = _email("Email address", autocomplete="username")
    password = _current_password("Password")


class EmailForm(PageForm):
    """Ask for a link by email (password reset, a new verification link)."""

    email = _email("Email address")


class _PasswordRules:
    """The password rules the service applies, checked with the other fields so that
    one submission reports every problem. The view names the account first
    (`for_account`): the password may not contain its address or names."""

    account_email = ""
    account_names: tuple[str, ...] = ()

    def for_account(self, email: str, *names: str | None) -> None:
        self.account_email = email
        self.account_names = tuple(name for name in names if name)

    def _names(self) -> tuple[str, ...]:
        return self.account_names

    def validate_password(self, field: PasswordField) -> None:
        problems = passwords.password_problems(
            field.data or "", email=self.account_email, names=self._names()
        )
        if problems:
            raise ValidationError(" ".join(problems))


class NewPasswordForm(PageForm, _PasswordRules):
    password = _password("New password")
    confirm = _confirm()


class AcceptInvitationForm(PageForm, _PasswordRules):
    full_name = StringField("Your full name", validators=[REQUIRED, within(PERSON_NAME_MAX)])
    password = _password()
    confirm = _confirm()

    def _names(self) -> tuple[str, ...]:
        return ((self.full_name.data or "").strip(), *self.account_names)


class ContactForm(PageForm, _ContactFields):
    """A vendor's organization profile."""

    FIELDS = Organization.VENDOR_EDITABLE_FIELDS


class OrganizationForm(PageForm, _IdentityFields, _ContactFields):
    """Staff edit every profile field."""

    FIELDS = SignUpForm.ORGANIZATION_FIELDS


# An organization's roles as its page offers them, members first (an invitation's default).
ORGANIZATION_ROLE_CHOICES = [
    SelectChoice(MEMBER, "Member: applies, accepts agreements, reports usage, pays"),
    SelectChoice(
        ADMINISTRATOR, "Administrator: also manages colleagues, invitations and billing contact"
    ),
    SelectChoice(BILLING, "Billing member: reads and pays invoices, applies for nothing"),
]


class InviteForm(PageForm):
    email = EmailField("Colleague's email address", validators=[REQUIRED, within(EMAIL_MAX)])
    # Checked by the service, which says what to choose (a "Send again" button posts
    # the invitation's own role).
    role = SelectField(
        "Their role", choices=ORGANIZATION_ROLE_CHOICES, default=MEMBER, validate_choice=False
    )


# A new token's choices. Reading only is the default: most programs fetch invoices,
# reports and exports, and a leaked read-only token cannot change anything.
TOKEN_SCOPE_CHOICES = [
    SelectChoice(READ_SCOPE, "Read only: fetch records and exports, estimate prices"),
    SelectChoice(
        WRITE_SCOPE, "Read and write: everything you may do (file reports, accept agreements)"
    ),
]
# A billing member files and accepts nothing, and pays on the invoice's page (the
# API has no vendor payment): a write token would add nothing their program uses.
BILLING_TOKEN_SCOPE_CHOICES = [
    TOKEN_SCOPE_CHOICES[0],
    SelectChoice(
        WRITE_SCOPE,
        "Read and write: adds nothing a billing member's program needs "
        "(invoices are paid on their page, not by API)",
    ),
]


# Staff have no organization to file or accept for: their write token does what
# their staff roles allow.
STAFF_TOKEN_SCOPE_CHOICES = [
    TOKEN_SCOPE_CHOICES[0],
    SelectChoice(
        WRITE_SCOPE,
        "Read and write: everything your staff roles allow (record payments, decide applications)",
    ),
]


def token_scope_choices(organization_role: str | None) -> list[SelectChoice]:
    """The scopes as the caller's role makes them read (None: a staff member)."""
    if organization_role is None:
        return STAFF_TOKEN_SCOPE_CHOICES
    return BILLING_TOKEN_SCOPE_CHOICES if organization_role == BILLING else TOKEN_SCOPE_CHOICES


TOKEN_EXPIRY_CHOICES = [
    SelectChoice(
        str(days), f"{days} days" + (" (recommended)" if days == DEFAULT_EXPIRY_DAYS else "")
    )
    for days in EXPIRY_DAYS
]


class TokenForm(PageForm):
    name = StringField(
        "Token name",
        validators=[REQUIRED, within(TOKEN_NAME_MAX)],
        description="Say where it will be used, e.g. “billing system”.",
    )
    # The service checks the values and words the message (`create_api_token`).
    scope = SelectField(
        "What it may do",
        choices=TOKEN_SCOPE_CHOICES,
        default=READ_SCOPE,
        validate_choice=False,
        description="A program that only reads needs no more: a read-only token that "
        "leaks cannot change anything.",
    )
    expires_in = SelectField(
        "Expires after",
        choices=TOKEN_EXPIRY_CHOICES,
        default=str(DEFAULT_EXPIRY_DAYS),
        validate_choice=False,
        description="You are emailed a week before it expires. To keep a program "
        "running, create a new token before then and switch the program to it.",
    )
    # Asked for when the password was last given more than a few minutes ago.
    password = PasswordField("Your password", validators=[Optional(), within(1000)])


class StandingForm(PageForm):
    action = SelectField("Change", choices=[], validate_choice=False)
    reason = TextAreaField(
        "Reason",
        validators=[Optional(), within(2000)],
        description="Recorded in the audit log and sent to the organization. Required to "
        "suspend, close or mark as pending payment.",
    )


# WTForms ships no types (see typings/flask_wtf), so its field classes are Any.
class MultiCheckboxField(SelectMultipleField):  # type: ignore[misc]
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def _role_choices() -> list[tuple[str, str]]:
    return [(role, role.capitalize()) for role in STAFF_ROLES]


class StaffUserForm(PageForm):
    full_name = StringField("Full name", validators=[REQUIRED, within(PERSON_NAME_MAX)])
    email = EmailField("Email address", validators=[REQUIRED, within(EMAIL_MAX)])
    roles = MultiCheckboxField("Roles", choices=_role_choices, validate_choice=False)


class RolesForm(PageForm):
    roles = MultiCheckboxField("Roles", choices=_role_choices, validate_choice=False)


# --- your profile ------------------------------------------------------------------
# Three forms on one page: their fields have ids of their own, so each label
# focuses its own field.


class NameForm(PageForm):
    full_name = StringField(
        "Full name",
        validators=[REQUIRED, within(PERSON_NAME_MAX)],
        render_kw={"autocomplete": "name"},
    )


class EmailChangeForm(PageForm):
    new_email = _email("New email address")
    current_password = _current_password(field_id="email-current-password")


class PasswordChangeForm(PageForm):
    current_password = _current_password(field_id="password-current-password")
    new_password = _password("New password")
    confirm = _confirm("Repeat the new password", "new_password")


# --- two-step sign-in ----------------------------------------------------------------


def _code(label: str = "Code from your authenticator app") -> StringField:
    # One-time codes: the browser may fill it from the app (`one-time-code`), and
    # phones show a digit keypad (a recovery code has letters, so no `inputmode`).
    return StringField(
        label,
        validators=[REQUIRED, within(40)],
        render_kw={"autocomplete": "one-time-code", "spellcheck": "false"},
    )


class RecentPasswordForm(PageForm):
    """The password again, before a step that changes how one signs in."""

    password = _current_password("Your password")


class TwoStepCodeForm(PageForm):
    code = _code()


class SignInCodeForm(PageForm):
    code = _code("Code from your authenticator app, or a recovery code")
    # Off by default; its label says for how many days (`remember_for`).
    remember = BooleanField("Don't ask for a code on this browser")

    def remember_for(self, days: int) -> SignInCodeForm:
        self.remember.label.text = f"Don't ask for a code on this browser for {days} days"
        return self


class TwoStepOffForm(PageForm):
    password = _current_password("Your password", field_id="off-password")
    code = StringField(
        "A code from your authenticator app, or a recovery code",
        validators=[REQUIRED, within(40)],
        render_kw={"autocomplete": "one-time-code", "spellcheck": "false"},
        id="off-code",
    )


class TwoStepResetForm(PageForm):
    """An admin turns a user's two-step sign-in off (a lost phone)."""

    reason = StringField(
        "Why (the user is emailed this, and it is kept in the audit log)",
        # Empty: the service's words for a blank one (round 50).
        validators=[InputRequired(message=TURN_OFF_REASON_REQUIRED), within(500)],
        id="two-step-reason",
    )


class MoveUserForm(PageForm):
    """An admin moves a vendor user's account to another organization (a new
    employer): where to, and why (`services.move_user`)."""

    organization = SelectField(
        "The organization it moves to", choices=[], validate_choice=False, id="move-organization"
    )
    reason = StringField(
        "Why (the user is emailed this, and it is kept in the audit log)",
        validators=[InputRequired(message=MOVE_REASON_REQUIRED), within(MOVE_REASON_MAX)],
        id="move-reason",
    )
    # What the page's search asked for and how many organizations match (round 49:
    # the select offers at most `queries.DESTINATIONS_OFFERED` of them).
    search: str = ""
    found: int = 0


# The longest search the move's form reads (a legal name is at most 200 characters).
MOVE_SEARCH_MAX = 200


# A browser's answer to a passkey ceremony (JSON): a few kilobytes with an attestation.
PASSKEY_ANSWER_MAX = 32_000


def _passkey_answer() -> HiddenField:
    # Filled by static/js/passkeys.js; empty when the browser made no passkey (the
    # service then says so beside the button).
    return HiddenField("Passkey", validators=[within(PASSKEY_ANSWER_MAX)])


class PasskeyForm(PageForm):
    """A passkey added on the two-step page: its name, typed, and the browser's answer."""

    name = StringField(
        "Name of the passkey",
        validators=[within(PASSKEY_NAME_MAX)],
        render_kw={"autocomplete": "off"},
        id="passkey-name",
    )
    credential = _passkey_answer()


class PasskeySignInForm(PageForm):
    """Signing in with a passkey: the browser's answer alone."""

    credential = _passkey_answer()


# The office's removal (round 45): which passkey, or every one.
ALL_PASSKEYS = "all"


class PasskeyRemovalForm(PageForm):
    """An admin removes one of a person's passkeys, or all (a lost device): which,
    and why (`services.passkeys.remove_passkeys_for`)."""

    passkey = SelectField("Which passkey", choices=[], validate_choice=False, id="office-passkey")
    reason = StringField(
        "Why (the person is emailed this, and it is kept in the audit log)",
        validators=[InputRequired(message=PASSKEY_REASON_REQUIRED), within(PASSKEY_REASON_MAX)],
        id="passkey-removal-reason",
    )
