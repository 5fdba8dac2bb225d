"""Organizations, their users, staff roles, API tokens and one-time email tokens.

Secrets are never stored: passwords as argon2 hashes, API tokens and one-time
link tokens as SHA-256 digests (they are long random strings, so a fast hash is
enough), with a short prefix kept for display.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    Update,
    event,
    false,
    func,
    or_,
    select,
    text,
)
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.orm import (
    Mapped,
    ORMExecuteState,
    Session,
    column_property,
    mapped_column,
    relationship,
    validates,
)
from sqlalchemy.sql.elements import ColumnElement

from licensing.access import ADMINISTRATOR, ORGANIZATION_ROLES, STAFF_ROLES
from licensing.db import Base, UTCDateTime, utcnow
from licensing.pricing.vocabulary import ORGANIZATION_TYPES
from licensing.records import Snapshotted, one_of
from licensing.words import apart

from .passwords import session_fingerprint
from .states import STANDING

# Field sizes: the columns, the forms and the API schemas all read these.
LEGAL_NAME_MAX = 200
ADDRESS_LINE_MAX = 200
CITY_MAX = 100
REGION_MAX = 100
POSTAL_CODE_MAX = 20
PERSON_NAME_MAX = 200
EMAIL_MAX = 254
TAX_ID_MAX = 50
TOKEN_NAME_MAX = 100

# What an API token may do: `read` only the safe methods (GET, HEAD, and the few
# POSTs declared as storing nothing, `access.stores_nothing`); `write` everything
# its user may do. Tokens made before scopes existed are `write`, as they acted.
READ_SCOPE = "read"
WRITE_SCOPE = "write"
TOKEN_SCOPES = (READ_SCOPE, WRITE_SCOPE)

# One-time link tokens: what each one lets its holder do.
VERIFY_EMAIL = "verify_email"
RESET_PASSWORD = "reset_password"  # noqa: S105 - a link purpose, not a password
WELCOME = "welcome"  # a new staff member's first password: the reset page, worded as a welcome
INVITATION = "invitation"
TOKEN_PURPOSES = (VERIFY_EMAIL, RESET_PASSWORD, WELCOME, INVITATION)
# The links the password page (/reset/<token>) accepts; using one spends the others.
PASSWORD_LINKS = (RESET_PASSWORD, WELCOME)
# Where a user is with two-step sign-in (`User.two_step_state`), as the organization
# pages and the API's users say it: set up (the app's codes), passkeys and no app
# (round 45: they read "Required, not set up yet"), not set up (their choice), or
# not set up while their organization (or, for staff, the office) requires it.
TWO_STEP_ON = "on"
TWO_STEP_PASSKEY = "passkey"
TWO_STEP_NOT_SET_UP = "not_set_up"
TWO_STEP_REQUIRED = "required"
TWO_STEP_STATES = (TWO_STEP_ON, TWO_STEP_PASSKEY, TWO_STEP_NOT_SET_UP, TWO_STEP_REQUIRED)
TWO_STEP_WORDS = {
    TWO_STEP_ON: "On",
    TWO_STEP_PASSKEY: "Passkey",
    TWO_STEP_NOT_SET_UP: "Not set up",
    TWO_STEP_REQUIRED: "Required, not set up yet",
}


def two_step_words(state: str, passkeys: int) -> str:
    """The members lists' words for a state and how many passkeys the person has:
    "On", "On: app and 2 passkeys", "Passkey", "2 passkeys", "Not set up", ..."""
    counted = f"{passkeys} passkey{'' if passkeys == 1 else 's'}"
    if state == TWO_STEP_ON and passkeys:
        return f"On: app and {counted}"
    if state == TWO_STEP_PASSKEY and passkeys > 1:
        return counted.capitalize()
    return TWO_STEP_WORDS[state]


# After an assignee's name when the account is deactivated (`User.listed_name`).
DEACTIVATED_MARK = " (deactivated)"


def name_key(name: str) -> str:
    """A name as organizations and people are looked up and searched by (round 51):
    case folded for every script, not ASCII letters alone ("ÉCOLE Médicale" and
    "école médicale" are one name; "Straße" is "strasse"), and its compatibility forms
    made one (NFKC: a ligature "ﬁ" is "fi", a full-width A is an a, a no-break space a
    space), before and after folding, as Unicode's NFKC_Casefold does. Neither
    database can fold so (SQLite's `lower()` and PostgreSQL's under the C locale fold
    ASCII only), so the key is computed here and stored (`legal_name_key`,
    `full_name_key`, the permission requests' `requester_name_key` and
    `institution_key`); migrations keep their own copy of these lines, as a migration
    must.

    Round 52, two scripts whose capitals folding alone does not meet: Turkish writes
    the capital of "i" as "İ" (folded to "i" with a combining dot) and of its dotless
    i (U+0131) as "I", so both i's are one letter here ("YILMAZ" finds the dotless
    *Yilmaz*, "istanbul" *İstanbul*);
    Greek writes capitals without their accents ("ΠΑΠΑΔΟΠΟΥΛΟΥ" for *Παπαδοπούλου*),
    so a Greek letter's accents and diaeresis are dropped. Latin letters keep theirs:
    "Muller" is another name than "Müller"."""
    folded = unicodedata.normalize("NFD", unicodedata.normalize("NFKC", name.strip()).casefold())
    kept: list[str] = []
    letter = ""
    for character in folded:
        if not unicodedata.combining(character):
            letter = character
        elif (letter == "i" and character == _DOT_ABOVE) or _greek(letter):
            continue
        kept.append(character)
    return unicodedata.normalize("NFKC", "".join(kept)).replace(_DOTLESS_I, "i")


_DOT_ABOVE = "\u0307"  # İ folds to "i" and this
_DOTLESS_I = "\u0131"


def _greek(letter: str) -> bool:
    return "\u0370" <= letter <= "\u03ff" or "\u1f00" <= letter <= "\u1fff"


def inserted_key(column: str) -> Callable[[DefaultExecutionContext], str]:
    """The default of a key column: the key of `column` in a row inserted without
    the ORM (a Core `insert(Organization)`), which no validator sees."""

    def key(context: DefaultExecutionContext) -> str:
        parameters: Mapping[str, Any] = context.get_current_parameters()  # type: ignore[no-untyped-call]
        return name_key(str(parameters[column]))

    return key


# The longest sort key stored (`sort_key`): a name's whole key within it orders the
# list exactly; a longer one (NFKC may make a character up to 18) is cut here, its
# ties past the cut ordered by the id, and stays a small B-tree entry on PostgreSQL.
SORT_KEY_MAX = 1024


class _HasId(Protocol):
    @property
    def id(self) -> int: ...


_Named = TypeVar("_Named", bound=_HasId)

# Latin letters that Unicode does not decompose into a base letter and a mark, read
# as readers file them: "Øster" with the o's, "Æther" with the ae's; each after its
# base letter(s) where the names are otherwise the same (the second level).
_FILED_AS = {
    "ø": "o",
    "đ": "d",
    "ð": "d",
    "ł": "l",
    "ŀ": "l",
    "ħ": "h",
    "ŧ": "t",
    "æ": "ae",
    "œ": "oe",
    "þ": "th",
}


def sort_key(name: str) -> bytes:
    """A name as a list of names is ordered (round 53), alphabetically as readers
    expect it on both databases: "école" with the e's and not after "zeta", case
    ignored. Stored beside the name (`legal_name_sort_key`, `email_sort_key`) and
    compared as bytes, which SQLite and PostgreSQL (bytea) compare alike whatever
    their collations, so a list is ordered by an index and read a page at a time.

    Three levels, as Unicode's collation algorithm has them, each compared only when
    the ones before are equal: the letters without their accents, case folded
    (`name_key`'s, then `_FILED_AS`); then the accents, letter by letter, a letter
    without one first ("cote", "coté", "côte"); then the case, small letters first
    ("acme", "Acme", "ACME"). A zero byte ends each level, so "Ann" comes before
    "Anna". Control characters are left out. Computed in Python, the same on every
    host with the same Unicode version (Python's `unicodedata`)."""
    letters: list[str] = []
    accents: list[bytes] = []
    for character in unicodedata.normalize("NFD", name_key(name)):
        if unicodedata.combining(character):
            if accents:
                accents[-1] = accents[-1][:-1] + character.encode() + b"\x01"
            continue
        if unicodedata.category(character) == "Cc":
            continue
        filed = _FILED_AS.get(character, character)
        letters.append(filed)
        accents.append((character.encode() if filed != character else b"") + b"\x01")
        accents.extend(b"\x01" for _ in filed[1:])
    case = unicodedata.normalize("NFC", name.strip()).swapcase()
    shown = "".join(c for c in case if unicodedata.category(c) != "Cc")
    key = "".join(letters).encode() + b"\x00" + b"".join(accents) + b"\x00" + shown.encode()
    return key[:SORT_KEY_MAX]


def by_name(people: Iterable[_Named], name: Callable[[_Named], str]) -> list[_Named]:
    """`people` (anything with an `id`) in the order readers file their `name`s
    (`sort_key`), then by id: for the short lists read whole, such as the staff offered
    as assignees (round 53: they were ordered by the name's bytes, "Zoë" before "adam"
    and "Émile" after both)."""
    return sorted(people, key=lambda person: (sort_key(name(person)), person.id))


def inserted_sort_key(column: str) -> Callable[[DefaultExecutionContext], bytes]:
    """The default of a sort key column: `sort_key` of `column` in a row inserted
    without the ORM (a Core insert), which no validator sees."""

    def key(context: DefaultExecutionContext) -> bytes:
        parameters: Mapping[str, Any] = context.get_current_parameters()  # type: ignore[no-untyped-call]
        return sort_key(str(parameters[column]))

    return key


def keep_key(record: object, field: str, name: str) -> str:
    """A validator (`validates(field)(keep_key)`) that keeps `<field>_key`, the
    name's `name_key`, in step with every write of the name through the ORM, and
    `<field>_sort_key` (`sort_key`, round 53) where the model has one."""
    if name is not None:  # None is refused by the column itself, at flush
        setattr(record, f"{field}_key", name_key(name))
        keep_sort_key(record, field, name)
    return name


def keep_sort_key(record: object, field: str, text: str) -> str:
    """A validator that keeps `<field>_sort_key` (`sort_key`) in step with `field`,
    for a column sorted by but not searched by key (a user's email)."""
    if text is not None and hasattr(type(record), f"{field}_sort_key"):
        setattr(record, f"{field}_sort_key", sort_key(text))
    return text


# The keys each table keeps beside its names (round 52; sort keys, round 53), by
# table: each name's column and its keys' columns.
KEYED_NAMES: dict[str, dict[str, tuple[str, ...]]] = {}


def keyed_names(table: str, *names: str, sorted_by: tuple[str, ...] = ()) -> None:
    """Declare that `table` keeps `<name>_key` beside each of `names`, and
    `<name>_sort_key` beside each of `sorted_by`: a bulk UPDATE through a session that
    writes a name without each of its keys is refused (`_no_stale_key`)."""
    declared = KEYED_NAMES.setdefault(table, {})
    for name in names:
        declared[name] = (*declared.get(name, ()), f"{name}_key")
    for name in sorted_by:
        declared[name] = (*declared.get(name, ()), f"{name}_sort_key")


# The SET clause of an UPDATE, as SQLAlchemy keeps it: `Update._values`, a private
# attribute (SQLAlchemy 2.1 offers no public reader of an UPDATE's values: the
# statement's `whereclause`, `entity_description` and `returning_column_descriptions`
# are public, the values are not; ORMExecuteState's `parameters` hold only those given
# to `execute`). tests/unit/test_update_values_pinned.py fails loudly when a release
# changes it, and `_no_stale_key` refuses every UPDATE of a keyed table rather than
# pass one it cannot read.
_UPDATE_VALUES = "_values"


def set_columns(statement: Update) -> set[str]:
    """The names of the columns `statement`'s own SET clause writes (`.values()`,
    `.ordered_values()`), by their keys: the private reader, in one place."""
    if not hasattr(statement, _UPDATE_VALUES):
        raise RuntimeError(
            "SQLAlchemy's Update no longer keeps its values in `_values`: the refusal of "
            "bulk changes that leave a name's key stale cannot read them (see "
            "tests/unit/test_update_values_pinned.py)."
        )
    values = getattr(statement, _UPDATE_VALUES) or {}
    return {str(getattr(column, "key", column)) for column in values}


@event.listens_for(Session, "do_orm_execute")
def _no_stale_key(state: ORMExecuteState) -> None:
    """Round 52: the validators key a name written through the model, and the column
    defaults one inserted without it; a bulk `UPDATE ... SET legal_name = ...` (an
    `update(Organization)`, or the table's) went round both and left the key stale, so
    the lookups and searches no longer found the record. Such an UPDATE is refused
    unless it sets the keys beside the name (`name_key`, and `sort_key` where the
    table sorts by one: round 53)."""
    statement = state.statement
    if not (state.is_update and isinstance(statement, Update)):
        return
    table = str(getattr(statement.table, "name", ""))
    keyed = KEYED_NAMES.get(table)
    if not keyed:
        return
    given = set_columns(statement)
    for parameters in parameter_sets(state.parameters):
        given |= set(parameters)
    stale = {
        name: [key for key in keys if key not in given]
        for name, keys in keyed.items()
        if name in given
    }
    stale = {name: missing for name, missing in stale.items() if missing}
    if stale:
        keys = ", ".join(key for missing in stale.values() for key in missing)
        raise ValueError(
            f"A bulk change of {table} writes {', '.join(stale)} without {keys}: change "
            "names through the model, or set each key beside them (name_key(name), "
            "sort_key(name))."
        )


def parameter_sets(parameters: object) -> list[Mapping[str, Any]]:
    """The parameter sets of an execution (one, or an executemany's list), as mappings."""
    if isinstance(parameters, Mapping):
        return [parameters]
    if isinstance(parameters, list):
        return [each for each in parameters if isinstance(each, Mapping)]
    return []


def email_search_key(text: str) -> str:
    """Search text as an email address stored lower-cased (`User.email`) is searched:
    Python's `lower()`, which folds every script (the databases' fold ASCII alone)."""
    return text.strip().lower()


def parse_roles(staff_roles: str) -> frozenset[str]:
    """The roles of a `users.staff_roles` value ("admin,billing")."""
    return frozenset(role for role in staff_roles.split(",") if role)


class Organization(Snapshotted, Base):
    """A licensee or applicant: the party a license is issued to."""

    __tablename__ = "organizations"
    __table_args__ = (
        one_of("organization_type", ORGANIZATION_TYPES),
        one_of("standing", STANDING.states),
        # Equality only (a name looked up whole); a hash index on PostgreSQL, since a
        # key may outgrow a B-tree entry (NFKC makes one character up to 18).
        Index("ix_organizations_legal_name_key", "legal_name_key", postgresql_using="hash"),
        # The lists by name (round 53): read in this order a page at a time, no sort.
        Index("ix_organizations_legal_name_sort_key", "legal_name_sort_key", "id"),
    )
    # The column that vendor isolation (queries.scoped) compares with the
    # caller's organization: this record *is* the organization.
    __organization_key__: ClassVar[str] = "id"

    id: Mapped[int] = mapped_column(primary_key=True)
    legal_name: Mapped[str] = mapped_column(String(LEGAL_NAME_MAX))
    # `name_key(legal_name)`, kept in step on every write of the name (`_keep_key`;
    # a Core insert through its default): what lookups and searches by name compare.
    legal_name_key: Mapped[str] = mapped_column(Text, default=inserted_key("legal_name"))
    # `sort_key(legal_name)` (round 53): what the lists by name order by, kept in step
    # with the name as its key is.
    legal_name_sort_key: Mapped[bytes] = mapped_column(
        LargeBinary, default=inserted_sort_key("legal_name")
    )
    organization_type: Mapped[str] = mapped_column(String(20))
    address_line1: Mapped[str] = mapped_column(String(ADDRESS_LINE_MAX))
    address_line2: Mapped[str | None] = mapped_column(String(ADDRESS_LINE_MAX))
    city: Mapped[str] = mapped_column(String(CITY_MAX))
    region: Mapped[str | None] = mapped_column(String(REGION_MAX))
    postal_code: Mapped[str | None] = mapped_column(String(POSTAL_CODE_MAX))
    country: Mapped[str] = mapped_column(String(2))
    billing_contact_name: Mapped[str] = mapped_column(String(PERSON_NAME_MAX))
    billing_email: Mapped[str] = mapped_column(String(EMAIL_MAX))
    tax_id: Mapped[str | None] = mapped_column(String(TAX_ID_MAX))
    standing: Mapped[str] = mapped_column(String(20), default="applying", index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Its administrator requires two-step sign-in of every member (docs/security.md).
    two_step_required: Mapped[bool] = mapped_column(default=False, server_default=false())

    members: Mapped[list[User]] = relationship(
        back_populates="organization", order_by="User.id", viewonly=True
    )

    # The legal name and organization type decide the license and its price, so
    # only staff change them; vendors keep the rest of the profile up to date.
    STAFF_ONLY_FIELDS: ClassVar[tuple[str, ...]] = ("legal_name", "organization_type")
    VENDOR_EDITABLE_FIELDS: ClassVar[tuple[str, ...]] = (
        "address_line1",
        "address_line2",
        "city",
        "region",
        "postal_code",
        "country",
        "billing_contact_name",
        "billing_email",
        "tax_id",
    )
    PROFILE_FIELDS: ClassVar[tuple[str, ...]] = STAFF_ONLY_FIELDS + VENDOR_EDITABLE_FIELDS
    # The longest text each profile field holds (its column's size), by the field's
    # name: the page forms, the API schemas and the service's checks all read it here.
    LIMITS: ClassVar[Mapping[str, int]] = {
        "legal_name": LEGAL_NAME_MAX,
        "address_line1": ADDRESS_LINE_MAX,
        "address_line2": ADDRESS_LINE_MAX,
        "city": CITY_MAX,
        "region": REGION_MAX,
        "postal_code": POSTAL_CODE_MAX,
        "billing_contact_name": PERSON_NAME_MAX,
        "billing_email": EMAIL_MAX,
        "tax_id": TAX_ID_MAX,
    }
    SNAPSHOT = (*PROFILE_FIELDS, "standing")

    _keep_key = validates("legal_name")(keep_key)
    keyed_names("organizations", "legal_name", sorted_by=("legal_name",))

    @classmethod
    def named(cls, name: str) -> ColumnElement[bool]:
        """Organizations whose legal name is `name` (`name_key`: any case, any script)."""
        return cls.legal_name_key == name_key(name)

    @classmethod
    def name_contains(cls, text: str) -> ColumnElement[bool]:
        """Organizations whose legal name contains `text` (`name_key`), the staff searches'."""
        return cls.legal_name_key.contains(name_key(text), autoescape=True)

    def __repr__(self) -> str:
        return f"<Organization {self.id} {self.legal_name!r} {self.standing}>"


class User(Base):
    """Someone who signs in: a vendor user of one organization, or staff with roles.

    Exactly one of the two: vendor users have an organization, a role in it
    (`organization_role`) and no staff roles; staff have roles and no organization.
    """

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("(organization_id IS NULL) <> (staff_roles = '')", name="vendor_or_staff"),
        one_of("organization_role", ORGANIZATION_ROLES),
        CheckConstraint(
            "(organization_id IS NULL) = (organization_role IS NULL)", name="role_in_organization"
        ),
        # The users list's order (round 53): read a page at a time, no sort.
        Index("ix_users_email_sort_key", "email_sort_key", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stored lower-cased, so the unique constraint is case-insensitive.
    email: Mapped[str] = mapped_column(String(EMAIL_MAX), unique=True)
    # `sort_key(email)` (round 53): the users list's order, kept in step by
    # `_keep_sort_key` ("élodie@" among the e's, not after "zed@").
    email_sort_key: Mapped[bytes] = mapped_column(LargeBinary, default=inserted_sort_key("email"))
    password_hash: Mapped[str] = mapped_column(String(255))
    full_name: Mapped[str] = mapped_column(String(PERSON_NAME_MAX))
    # `name_key(full_name)` (round 52, as `Organization.legal_name_key`): what the
    # searches of people by name compare (`name_contains`), kept in step by `_keep_key`.
    full_name_key: Mapped[str] = mapped_column(Text, default=inserted_key("full_name"))
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"), index=True)
    # Comma-separated, sorted; read it through `roles`.
    staff_roles: Mapped[str] = mapped_column(String(50), default="")
    # A vendor user's role in their organization: `administrator` or `member`.
    organization_role: Mapped[str | None] = mapped_column(String(20))
    email_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    failed_login_count: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_sign_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Part of every session's user id: signing out (or a new password) moves it
    # on, so a copied session cookie stops working at once, server-side.
    session_generation: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    # Two-step sign-in (`accounts.two_step`): the secret is never stored, only the
    # nonce it is derived from with the key `two_step_key_id` names. Set up once
    # `two_step_enabled_at` is set; a nonce without it is a set-up not yet confirmed.
    two_step_nonce: Mapped[str | None] = mapped_column(String(64))
    two_step_key_id: Mapped[str | None] = mapped_column(String(16))
    two_step_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The time step of the last code accepted: a code is accepted once.
    two_step_last_step: Mapped[int | None] = mapped_column(BigInteger)

    organization: Mapped[Organization | None] = relationship(back_populates="members")

    _keep_key = validates("full_name")(keep_key)
    _keep_sort_key = validates("email")(keep_sort_key)
    keyed_names("users", "full_name", sorted_by=("email",))

    @classmethod
    def search(cls, text: str) -> ColumnElement[bool]:
        """Users whose name or email contains `text`, in any case and script (round
        52): the name by its key, the email (stored lower-cased) by `email_search_key`."""
        return or_(
            cls.full_name_key.contains(name_key(text), autoescape=True),
            cls.email.contains(email_search_key(text), autoescape=True),
        )

    @property
    def two_step_enabled(self) -> bool:
        return self.two_step_enabled_at is not None

    if TYPE_CHECKING:
        # How many passkeys the account has (round 45): mapped below `Passkey`.
        passkey_count: int

    def two_step_state(self, *, staff_required: bool) -> str:
        """`on`, `passkey` (no app, a passkey or more), `not_set_up`, or `required`
        (neither, and required of them: they
        are asked to set it up when they next sign in). `staff_required` is the
        office's `TWO_STEP_REQUIRED_FOR_STAFF`; a vendor user's organization decides."""
        if self.two_step_enabled:
            return TWO_STEP_ON
        if self.passkey_count:
            # Round 45: a passkey is both steps for each session it signs in (a
            # requirement is met there); a password sign-in still asks for the app.
            return TWO_STEP_PASSKEY
        organization = self.organization
        required = staff_required if organization is None else organization.two_step_required
        return TWO_STEP_REQUIRED if required else TWO_STEP_NOT_SET_UP

    @property
    def roles(self) -> frozenset[str]:
        return parse_roles(self.staff_roles)

    @roles.setter
    def roles(self, roles: frozenset[str] | set[str] | tuple[str, ...]) -> None:
        unknown = set(roles) - set(STAFF_ROLES)
        if unknown:
            raise ValueError(f"unknown staff roles {sorted(unknown)}")
        self.staff_roles = ",".join(sorted(set(roles)))

    @property
    def listed_name(self) -> str:
        """The name as work shows its assignee: marked when the account is
        deactivated (work assigned before deactivation released it waits on nobody)."""
        return self.full_name + ("" if self.is_active else DEACTIVATED_MARK)

    @property
    def name_and_email(self) -> str:
        """ "Ana Ruiz (ana@tidewater.example)": how emails, pages and commands name
        a person to ask or who acted, so the reader can tell two Anas apart. A
        right-to-left name is set `apart` (round 62), so the address's bracket stays
        after it in a line of text."""
        return f"{apart(self.full_name)} ({self.email})"

    @property
    def is_staff(self) -> bool:
        return self.organization_id is None

    @property
    def is_administrator(self) -> bool:
        """A vendor user who manages their organization (`access.ADMINISTRATOR`)."""
        return self.organization_role == ADMINISTRATOR

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None

    def is_locked(self, now: datetime) -> bool:
        return self.locked_until is not None and self.locked_until > now

    def snapshot(self) -> dict[str, Any]:
        """The user's fields as the audit log records them (never the password hash)."""
        return {
            "email": self.email,
            "full_name": self.full_name,
            "organization_id": self.organization_id,
            "roles": sorted(self.roles),
            "organization_role": self.organization_role,
            "is_active": self.is_active,
            "email_verified_at": self.email_verified_at,
        }

    # Flask-Login's user protocol. The session stores `get_id()`, which changes
    # with the password hash and the session generation: changing or resetting
    # a password, or signing out, ends every session of the account.
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        fingerprint = session_fingerprint(self.password_hash)
        return f"{self.id}:{fingerprint}:{self.session_generation}"

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email}>"


class FormerName(Base):
    """A name an account had before its owner changed it (round 60, accounts_0015):
    an auditor holding a document of the time (an email, a letter, an export) finds
    the person's events in the audit log by the name it gives, though the pages name
    them by their name now. Written by `profile.change_name` in the change's own
    transaction; the changes before it are read from their `user.name_changed` events.
    No foreign key, as the `..._by_id` columns: a deleted account's former names stay
    with its events, which keep its id."""

    __tablename__ = "user_former_names"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer, index=True)
    full_name: Mapped[str] = mapped_column(String(PERSON_NAME_MAX))
    # `name_key(full_name)`, as `User.full_name_key`: searched in any case and script.
    full_name_key: Mapped[str] = mapped_column(Text, default=inserted_key("full_name"))
    # When the account stopped using it (the change's moment).
    until: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    _keep_key = validates("full_name")(keep_key)
    keyed_names("user_former_names", "full_name")


class ApiToken(Snapshotted, Base):
    """A named personal token for `Authorization: Bearer`, acting as its user,
    with every permission (`write`) or reading only (`read`), until `expires_at`
    (tokens made before expiries existed have none)."""

    __tablename__ = "api_tokens"
    __table_args__ = (one_of("scope", TOKEN_SCOPES),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(TOKEN_NAME_MAX))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    scope: Mapped[str] = mapped_column(
        String(10), default=WRITE_SCOPE, server_default=text(f"'{WRITE_SCOPE}'")
    )
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # When its owner was told it expires soon: the once-only reminder's marker, on
    # the row itself, so a claim that locks the row sees it as the host that
    # wrote it committed it (`services.remind_expiring_tokens`).
    expiry_reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship()

    @property
    def is_active(self) -> bool:
        """Not revoked (it may still have expired: `is_usable`)."""
        return self.revoked_at is None

    def has_expired(self, now: datetime | None = None) -> bool:
        return self.expires_at is not None and self.expires_at <= (now or utcnow())

    def is_usable(self, now: datetime | None = None) -> bool:
        """Neither revoked nor expired: the API accepts it."""
        return self.is_active and not self.has_expired(now)

    @property
    def read_only(self) -> bool:
        return self.scope == READ_SCOPE

    SNAPSHOT = ("user_id", "name", "prefix", "scope", "expires_at", "revoked_at")


class OneTimeToken(Snapshotted, Base):
    """A link sent by email: verify an address, reset a password, choose a new
    staff member's first password (`welcome`), or join an organization.

    Valid once, until `expires_at`. Invitations carry the organization and the
    invited address; the other purposes carry the user.
    """

    __tablename__ = "one_time_tokens"
    __table_args__ = (
        one_of("purpose", TOKEN_PURPOSES),
        one_of("organization_role", ORGANIZATION_ROLES),
        Index("ix_one_time_tokens_purpose_email", "purpose", "email"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    purpose: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(String(EMAIL_MAX))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # An invitation's role for the colleague who accepts it (`access.ORGANIZATION_ROLES`).
    organization_role: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User | None] = relationship(foreign_keys=[user_id])
    organization: Mapped[Organization | None] = relationship()
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])

    def status(self, now: datetime) -> str:
        """`pending`, `used` (accepted), `revoked` or `expired`."""
        if self.used_at is not None:
            return "used" if self.purpose != INVITATION else "accepted"
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at <= now:
            return "expired"
        return "pending"

    SNAPSHOT = (
        "purpose",
        "email",
        "user_id",
        "organization_id",
        "organization_role",
        "expires_at",
        "used_at",
        "revoked_at",
    )


class RecoveryCode(Base):
    """One of a user's two-step recovery codes: shown once, stored as a digest,
    good for one sign-in (`used_at`)."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class RememberedBrowser(Base):
    """A browser whose owner ticked "Don't ask for a code on this browser": the
    right password there signs in without the code until `expires_at`. Only the
    SHA-256 digest of the cookie's 256-bit token is kept, as for API tokens; the
    label (from the User-Agent) only helps the owner tell browsers apart."""

    __tablename__ = "remembered_browsers"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(60))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


# A passkey's name, as its owner gives it ("Work laptop", "Phone").
PASSKEY_NAME_MAX = 60
# Why someone else removed a person's passkeys: audited, and read in their email.
PASSKEY_REASON_MAX = 500
# ... missing, empty or blank: the service's, the page's and the API's words (round 50).
PASSKEY_REASON_REQUIRED = "Say why (for the audit log and the person's email)."


class Passkey(Base):
    """A passkey (WebAuthn credential) that signs its owner in without the password
    (round 44). The public key only: the private key never leaves the owner's
    authenticator. `sign_count` is the authenticator's counter at its last use; one
    that does not move on (while either is above 0) means a copy, and is refused."""

    __tablename__ = "passkeys"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    # The credential id, base64url as browsers send it (at most 1023 bytes raw).
    credential_id: Mapped[str] = mapped_column(String(1400), unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary())
    sign_count: Mapped[int] = mapped_column(BigInteger(), default=0)
    name: Mapped[str] = mapped_column(String(PASSKEY_NAME_MAX))
    # How the browser may reach it ("internal,hybrid"), offered back when excluding it.
    transports: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class PasskeyChallenge(Base):
    """A WebAuthn challenge handed out and not yet answered: its SHA-256 digest,
    for what (`register`, `sign_in`), for whom (registration), until when. The
    answer deletes it, so each challenge is answered once, even by a browser that
    kept an old copy of its session cookie."""

    __tablename__ = "passkey_challenges"

    id: Mapped[int] = mapped_column(primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    purpose: Mapped[str] = mapped_column(String(20))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


# Read with every user (a count on an indexed column): the members lists and the
# API's `two_step` and `passkeys` say who signs in with a passkey (round 45).
User.passkey_count = column_property(  # type: ignore[assignment]  # declared above
    select(func.count(Passkey.id))
    .where(Passkey.user_id == User.id)
    .correlate_except(Passkey)
    .scalar_subquery()
)
