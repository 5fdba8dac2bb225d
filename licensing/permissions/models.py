"""Permission requests, the messages and notes on them, and their decision letters.

Link secrets are never stored: the confirmation link and the status-page link
are kept as SHA-256 digests (they are long random strings). Letters are
immutable once issued: the ORM refuses to change or delete them, and a
request's letter is looked up by its stored bytes, never re-rendered.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import ClassVar

from sqlalchemy import (
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    or_,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates
from sqlalchemy.sql.elements import ColumnElement

from licensing.accounts.models import (
    EMAIL_MAX,
    PERSON_NAME_MAX,
    Organization,
    User,
    email_search_key,
    inserted_key,
    keep_key,
    keyed_names,
    name_key,
)
from licensing.db import Base, UTCDateTime, utcnow
from licensing.pricing.vocabulary import ORGANIZATION_TYPES
from licensing.records import Snapshotted, one_of, refuse_changes
from licensing.words import on_one_line

from .states import STATES

# Field sizes: the columns, the forms and the API schemas all read these.
NAME_MAX = PERSON_NAME_MAX
INSTITUTION_MAX = 200
PURPOSE_DETAIL_MAX = 2000
CONTENT_MAX = 4000
DURATION_MAX = 100
MESSAGE_MAX = 4000
CONDITIONS_MAX = 4000
REASON_MAX = 4000
# A denial without a reason, absent, empty or blank: the service's words
# (`message_text` with `what="The reason"`), which the page's form says too (round 50:
# it said "This field is required.", the API this).
DENIAL_REASON_WHAT = "The reason"
DENIAL_REASON_REQUIRED = f"{DENIAL_REASON_WHAT} is required."
PERMITTED_USE_MAX = 2000
AUDIENCE_MAX = 10_000_000

ROLES = ("faculty", "student", "researcher", "other")
PURPOSES = (
    "course_materials",
    "textbook",
    "research",
    "exam_preparation",
    "presentation",
    "other_educational",
    "commercial",
)
MEDIA = ("print", "electronic", "lms")
SOURCES = ("public", "application")
LETTER_KINDS = ("grant", "denial")
AUTHORS = ("requester", "staff", "system")


class PermissionRequest(Snapshotted, Base):
    """One request for non-commercial educational use, decided with a letter."""

    __tablename__ = "permission_requests"
    __table_args__ = (
        one_of("state", STATES),
        one_of("role", ROLES),
        one_of("purpose", PURPOSES),
        one_of("medium", MEDIA),
        one_of("source", SOURCES),
        one_of("organization_type", ORGANIZATION_TYPES),
        UniqueConstraint("application_id", "application_line"),
        Index("ix_permission_requests_state_sla_due_at", "state", "sla_due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    state: Mapped[str] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(20))
    # Set for requests created from a vendor's application: that organization's
    # vendors see the request (vendor isolation); public requests have none.
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"), index=True)
    application_id: Mapped[int | None] = mapped_column(Integer)
    application_line: Mapped[int | None] = mapped_column(Integer)
    application_reference: Mapped[str | None] = mapped_column(String(40))

    # As given: the public form's, or the signed-in user's at the time of the request.
    # Read them through `requester_address` and `requester_shown_name`, which follow
    # that user (`requester_user_id`) when they change their address or name.
    requester_name: Mapped[str] = mapped_column(String(NAME_MAX))
    requester_email: Mapped[str] = mapped_column(String(EMAIL_MAX), index=True)
    # The vendor user who asked, for a request made from an application; None for a
    # public request (the address given is all there is) and for one made before
    # round 24 whose requester no account could be matched to.
    requester_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    institution: Mapped[str] = mapped_column(String(INSTITUTION_MAX))
    # `name_key` of the requester's name and of the institution (round 52, migration
    # `permissions_0005`): what the queue's search compares, in any case and script.
    # Kept in step by `_keep_keys` (a Core insert: their defaults).
    requester_name_key: Mapped[str] = mapped_column(Text, default=inserted_key("requester_name"))
    institution_key: Mapped[str] = mapped_column(Text, default=inserted_key("institution"))
    role: Mapped[str] = mapped_column(String(20))
    organization_type: Mapped[str] = mapped_column(String(20))
    purpose: Mapped[str] = mapped_column(String(30))
    purpose_detail: Mapped[str] = mapped_column(Text)
    content_requested: Mapped[str] = mapped_column(Text)
    medium: Mapped[str] = mapped_column(String(20))
    audience_size: Mapped[int | None] = mapped_column(Integer)
    duration: Mapped[str] = mapped_column(String(DURATION_MAX))
    # The first and last day of the use, when the requester gave them (round 42;
    # both or neither): a grant's default validity is this term. None for requests
    # made before round 42 and for those that gave a duration alone.
    use_from: Mapped[date | None] = mapped_column(Date)
    use_until: Mapped[date | None] = mapped_column(Date)
    noncommercial_attested_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The open request this one corrects, sent from its status page's "send a
    # corrected request" (round 58, `permissions_0006`): confirmed, this one replaces
    # it (that one withdrawn, its reviewer kept). None for any other request.
    corrects_id: Mapped[int | None] = mapped_column(
        ForeignKey("permission_requests.id"), index=True
    )

    confirm_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    confirm_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    status_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The status link is HMAC(SECRET_KEY, id and this salt): emails can repeat it
    # at every step while the database holds only its digest.
    link_salt: Mapped[str] = mapped_column(String(32))

    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sla_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    answer_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    permitted_use: Mapped[str | None] = mapped_column(Text)
    conditions: Mapped[str | None] = mapped_column(Text)
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)
    denial_reason: Mapped[str | None] = mapped_column(Text)
    # The second denial's reason, after reconsideration: kept apart so that the
    # first denial's (`denial_reason`, the one appealed) still stands beside it.
    reconsideration_denial_reason: Mapped[str | None] = mapped_column(Text)
    reconsideration_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reconsideration_closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reconsidered: Mapped[bool] = mapped_column(default=False)

    organization: Mapped[Organization | None] = relationship()
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id])
    requester_user: Mapped[User | None] = relationship(foreign_keys=[requester_user_id])
    corrects: Mapped[PermissionRequest | None] = relationship(
        remote_side="PermissionRequest.id", foreign_keys=[corrects_id]
    )
    messages: Mapped[list[PermissionMessage]] = relationship(
        back_populates="request", order_by="PermissionMessage.id", viewonly=True
    )
    letters: Mapped[list[PermissionLetter]] = relationship(
        back_populates="request", order_by="PermissionLetter.id", viewonly=True
    )

    _keep_keys = validates("requester_name", "institution")(keep_key)
    keyed_names("permission_requests", "requester_name", "institution")

    @classmethod
    def names_contain(cls, text: str) -> ColumnElement[bool]:
        """Requests whose requester (by the name and address given, or their
        account's now) or institution contains `text`, in any case and script
        (round 52): names by their keys, addresses (stored lower-cased) by
        `email_search_key`."""
        name, address = name_key(text), email_search_key(text)
        return or_(
            cls.requester_name_key.contains(name, autoescape=True),
            cls.requester_email.contains(address, autoescape=True),
            # A requester who changed their name or address since is found by both.
            cls.requester_user_id.in_(select(User.id).where(User.search(text))),
            cls.institution_key.contains(name, autoescape=True),
        )

    @property
    def requester_address(self) -> str:
        """The requester's address now: their account's, when a signed-in user of the
        organization asked (they may have changed it since), else the address given."""
        user = self._requester_of_organization
        return self.requester_email if user is None else user.email

    @property
    def requester_shown_name(self) -> str:
        """The requester's name now, as `requester_address`, on one line (round 62: a
        name stored before round 61 refused line breaks keeps them in the record; the
        emails, pages and letters that write it into a sentence read it here)."""
        user = self._requester_of_organization
        return on_one_line(self.requester_name if user is None else user.full_name)

    @property
    def shown_institution(self) -> str:
        """The institution as emails, pages and letters write it: on one line, as
        `requester_shown_name`."""
        return on_one_line(self.institution)

    @property
    def shown_duration(self) -> str:
        """The duration asked for as pages write it: on one line."""
        return on_one_line(self.duration)

    @property
    def stated_role(self) -> str | None:
        """The requester's role as they gave it; None for a request routed from a
        license application, which asks for none (it stores "other", which pages,
        emails and letters read as the requester's own answer: "Other, Bluefin")."""
        return None if self.source == "application" else self.role

    @property
    def _requester_of_organization(self) -> User | None:
        # An account the office moved to another organization is no longer this
        # request's to follow: its new address is that organization's business.
        user = self.requester_user
        return user if user is not None and user.organization_id == self.organization_id else None

    @property
    def letter(self) -> PermissionLetter | None:
        """The latest decision letter, if any."""
        return self.letters[-1] if self.letters else None

    @property
    def public_messages(self) -> list[PermissionMessage]:
        """What the requester sees: never the staff's internal notes."""
        return [message for message in self.messages if not message.internal]

    # The most each field the requester or staff write may hold (characters; people
    # for `audience_size`), by its name on the forms and in the API: "reason" is a
    # denial's, "message" any message or note on the request (a withdrawal's reason
    # is one). The page forms and the API schemas both read the limits here.
    LIMITS: ClassVar[Mapping[str, int]] = {
        "requester_name": NAME_MAX,
        "requester_email": EMAIL_MAX,
        "institution": INSTITUTION_MAX,
        "purpose_detail": PURPOSE_DETAIL_MAX,
        "content_requested": CONTENT_MAX,
        "audience_size": AUDIENCE_MAX,
        "duration": DURATION_MAX,
        "permitted_use": PERMITTED_USE_MAX,
        "conditions": CONDITIONS_MAX,
        "reason": REASON_MAX,
        "message": MESSAGE_MAX,
    }

    # The request's fields as the audit log records them (never link digests).
    SNAPSHOT = (
        "reference",
        "state",
        "source",
        "organization_id",
        "application_reference",
        "requester_email",
        "requester_user_id",
        "institution",
        "purpose",
        "medium",
        "use_from",
        "use_until",
        "assignee_id",
        "sla_due_at",
        "answer_due_at",
        "conditions",
        "valid_from",
        "valid_until",
        "denial_reason",
        "reconsideration_denial_reason",
    )

    def __repr__(self) -> str:
        return f"<PermissionRequest {self.reference} {self.state}>"


class PermissionMessage(Base):
    """A message between the requester and the office, or an internal note
    (`internal`: staff only, never shown to the requester)."""

    __tablename__ = "permission_messages"
    __table_args__ = (one_of("author", AUTHORS),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("permission_requests.id"), index=True)
    author: Mapped[str] = mapped_column(String(20))
    author_name: Mapped[str] = mapped_column(String(NAME_MAX))
    author_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    internal: Mapped[bool] = mapped_column(default=False)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    request: Mapped[PermissionRequest] = relationship(back_populates="messages")


class PermissionLetter(Base):
    """An issued decision letter: the PDF's exact bytes and their SHA-256."""

    __tablename__ = "permission_letters"
    __table_args__ = (one_of("kind", LETTER_KINDS),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("permission_requests.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    number: Mapped[str] = mapped_column(String(30), unique=True)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The issued bytes, loaded only where asked for (`services.letter_bytes`, the
    # seal's check): read on a row loaded without them, they raise (round 51).
    pdf: Mapped[bytes] = mapped_column(LargeBinary, deferred=True, deferred_raiseload=True)
    sha256: Mapped[str] = mapped_column(String(64))
    # The seal of the issued document (see `licensing.audit.seals`).
    seal_key_id: Mapped[str | None] = mapped_column(String(16))
    seal: Mapped[str | None] = mapped_column(String(64))

    request: Mapped[PermissionRequest] = relationship(back_populates="letters")

    @property
    def filename(self) -> str:
        return f"{self.number}.pdf"


class LetterIsImmutable(RuntimeError):
    """An issued letter is never changed or deleted: issue a new one instead."""


refuse_changes(
    PermissionLetter, LetterIsImmutable, lambda letter: f"letter {letter.number} is issued"
)
