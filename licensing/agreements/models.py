"""License applications, their quote versions and internal notes; agreements,
their numbers and acceptance records.

Issued documents never change: a quote version, an agreement's PDF and an
acceptance record are written once (the ORM refuses updates and deletes of
quote versions and acceptances, and of an agreement's PDF bytes), and a change
of price is a new quote version referencing the application, never an edit.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    event,
    inspect,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, query_expression, relationship

from licensing import references
from licensing.accounts.models import Organization, User
from licensing.db import Base, Money, UTCDateTime, utcnow
from licensing.pricing.vocabulary import PRODUCT_TYPES, USER_TYPES, USES
from licensing.records import (
    Referenced,
    Snapshotted,
    StoredJson,
    attributes,
    one_of,
    refuse_changes,
)

from .states import AGREEMENT, APPLICATION, DRAFT, ISSUED, REPLACED

# Field sizes: the columns, the forms and the API schemas all read these.
PRODUCT_NAME_MAX = 200
DESCRIPTION_MAX = 2000
DELIVERY_MAX = 40
TERRITORIES_MAX = 400
LANGUAGES_MAX = 400
REASON_MAX = 4000
# A licensing-staff step's reason (return, reject, terminate, deny a reconsideration)
# and an approval's changed amount's, missing, empty or blank: the service's words,
# which the API's schemas say too (round 50, `api.fields.Required`).
REASON_REQUIRED = "Give a reason."
AMOUNT_REASON_REQUIRED = "Give the reason for changing the amount."
NOTE_MAX = 8000
SIGNER_MAX = 200
USER_AGENT_MAX = 500
RATE_CARD_MAX = 64  # a rate card's version, as an application names it
LANGUAGE_MAX = 35  # one language's name or tag
MAX_USES = 20

# How a licensed product reaches its users (the agreement's schedule says so).
DELIVERIES = ("installed", "hosted", "mobile", "print", "data_feed", "internal", "other")

# Quote versions: what the vendor submitted, and what staff approved if they changed it.
SUBMITTED = "submitted"
MODIFIED = "modified"
QUOTE_KINDS = (SUBMITTED, MODIFIED)


# The agreements `uq_agreements_live_application` holds to one an application.
LIVE_APPLICATION_WHERE = f"state != '{REPLACED}'"

# What an agreement copies from the quote version it is issued on (its commercial
# terms come from the issuing policy: `settings.PAYMENT_TERMS`).
QUOTED_TERMS = ("term_start", "term_end", "rate_card", "currency", "total")


class ImmutableRecordChanged(RuntimeError):
    """Code tried to change or delete a record that is written once."""


class Application(Snapshotted, Referenced, Base):
    """A vendor's request for a license: proposed uses, a term, and its review."""

    REFERENCE = references.APPLICATION
    __tablename__ = "applications"
    __table_args__ = (
        one_of("state", APPLICATION.states),
        # The vendor's dashboard: counts by state, and the oldest waiting in a state.
        Index(
            "ix_applications_organization_state_submitted",
            "organization_id",
            "state",
            "submitted_at",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    state: Mapped[str] = mapped_column(String(30), default=DRAFT, index=True)
    term_start: Mapped[date | None] = mapped_column(Date)
    term_end: Mapped[date | None] = mapped_column(Date)
    # A published version the vendor asked for; None: the card in effect on term_start.
    rate_card: Mapped[str | None] = mapped_column(String(RATE_CARD_MAX))
    # The latest quote's total and currency, for the staff queue's sorting; None
    # while a licensed use waits for staff to price it (see `to_be_priced`). A
    # renewal's currency is its agreement's from when it is drawn (round 64), the card
    # it names' once it names one; other drafts have none until submitted.
    total: Mapped[Decimal | None] = mapped_column(Money())
    currency: Mapped[str | None] = mapped_column(String(3))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    attested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    attested_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    # What staff asked for when they returned it, and by when it must come back.
    return_reason: Mapped[str | None] = mapped_column(Text)
    returned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resubmit_by: Mapped[datetime | None] = mapped_column(UTCDateTime())
    vendor_response: Mapped[str | None] = mapped_column(Text)
    escalated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decision_reason: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_by: Mapped[str | None] = mapped_column(String(320))
    # The account that took the latest decision (round 58, agreements_0011), as a quote
    # version keeps its maker's: pages name the person by it, so an address changed or
    # given to someone else since names who decided. None before agreements_0011 (named
    # by the address, as then), for the system and while undecided. No foreign key, as
    # `audit_events.actor_user_id` has none: deciding takes no key share of the account.
    decided_by_id: Mapped[int | None] = mapped_column(Integer)
    reconsider_by: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reconsideration_reason: Mapped[str | None] = mapped_column(Text)
    reconsideration_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Where the review clock runs from once resubmitted (round 37): the first
    # submission moved later by the business days each return waited on the vendor
    # (`returned_at` to the resubmission). None: from `submitted_at`.
    review_clock_from: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Staff's reason for denying the reconsideration: kept apart so that the
    # rejection's own reason (`decision_reason`) still stands beside it.
    reconsideration_denial_reason: Mapped[str | None] = mapped_column(Text)
    # Set by `licensing applications expire` once the 14-day window has passed unused.
    reconsideration_closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The agreements table refers back to this one: the constraint is added after both exist.
    # Indexed (agreements_0007): whether an agreement has a live renewal is asked for each
    # agreement of a list (renewals due, ending within 90 days, the API's agreements).
    renewal_of_id: Mapped[int | None] = mapped_column(
        ForeignKey("agreements.id", use_alter=True), index=True
    )
    # A renewal's figures as proposed when it was drawn, and where each came from (a
    # royalty report or the renewed application's estimate): JSON written by
    # `reported_usage.sources`; NULL for other applications and older renewals.
    renewal_sources_json: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    organization: Mapped[Organization] = relationship()
    created_by: Mapped[User] = relationship(foreign_keys=[created_by_id])
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id])
    uses: Mapped[list[ApplicationUse]] = relationship(
        back_populates="application",
        order_by="ApplicationUse.position",
        cascade="all, delete-orphan",
    )
    quotes: Mapped[list[QuoteVersion]] = relationship(
        back_populates="application", order_by="QuoteVersion.version", viewonly=True
    )
    renewal_of: Mapped[Agreement | None] = relationship(foreign_keys=[renewal_of_id])
    # The agreement issued from it (at most one), for lists that show it on every row:
    # one replaced by its reissue on a corrected card (round 55) is not it, its
    # reissue is (`uq_agreements_live_application` keeps one such a row).
    agreement: Mapped[Agreement | None] = relationship(
        primaryjoin=f"and_(Application.id == Agreement.application_id, "
        f"Agreement.state != '{REPLACED}')",
        foreign_keys="Agreement.application_id",
        uselist=False,
        viewonly=True,
    )

    @property
    def submitted_quote(self) -> QuoteVersion | None:
        submitted = [q for q in self.quotes if q.kind == SUBMITTED]
        return submitted[-1] if submitted else None

    @property
    def current_term(self) -> tuple[date | None, date | None]:
        """The term of the latest quote (staff may change it at approval), else the
        term the vendor asked for."""
        if self.quotes:
            latest = self.quotes[-1]
            return latest.term_start, latest.term_end
        return self.term_start, self.term_end

    @property
    def currency_known(self) -> str | None:
        """The currency it is priced in, as far as known: its record's (the latest
        quote's; a renewal's from when it was drawn), else, for a renewal drawn before
        round 64 kept it, its agreement's; None for a draft nothing prices yet."""
        if self.currency is None and self.renewal_of_id is not None and self.renewal_of:
            return self.renewal_of.currency
        return self.currency

    @property
    def to_be_priced(self) -> bool:
        """Submitted, but a licensed use has no price yet: staff price it by hand."""
        return self.submitted_at is not None and self.total is None

    SNAPSHOT = ("state", "term_start", "term_end", "rate_card", "total", "assignee_id")
    AMOUNTS = ("total",)

    def snapshot(self) -> dict[str, Any]:
        """The fields the audit log records, and how many uses it has."""
        return {**super().snapshot(), "uses": len(self.uses)}

    def __repr__(self) -> str:
        return f"<Application {self.id} {self.state}>"


class ApplicationUse(Base):
    """One proposed use: the product, how it is used, by whom, where, and how much."""

    __tablename__ = "application_uses"
    __table_args__ = (
        UniqueConstraint("application_id", "position"),
        one_of("use", USES),
        one_of("product_type", PRODUCT_TYPES),
        one_of("user_type", USER_TYPES),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    product_name: Mapped[str] = mapped_column(String(PRODUCT_NAME_MAX))
    description: Mapped[str] = mapped_column(Text, default="")
    use: Mapped[str] = mapped_column(String(30))
    product_type: Mapped[str] = mapped_column(String(30))
    user_type: Mapped[str] = mapped_column(String(30))
    delivery: Mapped[str] = mapped_column(String(DELIVERY_MAX))
    territories: Mapped[str] = mapped_column(String(TERRITORIES_MAX))
    languages: Mapped[str] = mapped_column(String(LANGUAGES_MAX), default="")
    # JSON object of unit -> whole number ({"end_users": 2500}).
    quantity_json: Mapped[str] = mapped_column(Text, default="{}")
    revenue: Mapped[Decimal | None] = mapped_column(Money())
    # When the use was sent to the permissions queue (routed uses only, once).
    routed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    application: Mapped[Application] = relationship(back_populates="uses")

    # What a vendor says of a use, in the order forms and the API list it.
    FIELDS: ClassVar[tuple[str, ...]] = (
        "product_name",
        "description",
        "use",
        "product_type",
        "user_type",
        "delivery",
        "territories",
        "languages",
        "quantity",
        "revenue",
    )

    @property
    def quantity(self) -> dict[str, int]:
        value: dict[str, int] = json.loads(self.quantity_json or "{}")
        return value

    @quantity.setter
    def quantity(self, value: dict[str, int]) -> None:
        self.quantity_json = json.dumps(dict(sorted(value.items())))

    @property
    def language_list(self) -> list[str]:
        return [item.strip() for item in self.languages.split(",") if item.strip()]

    def fields(self) -> dict[str, Any]:
        """The use as plain data (forms, API, renewals), its languages as a list."""
        return {**attributes(self, self.FIELDS), "languages": self.language_list}


class QuoteVersion(Base):
    """An immutable priced version of an application: the snapshot of a quote.

    `submitted` versions are made by pricing at each submission; a `modified`
    version is what staff approved when they changed amounts or the term, with
    each change and its reason in `modifications`. Both are kept.
    """

    __tablename__ = "application_quotes"
    __table_args__ = (
        UniqueConstraint("application_id", "version"),
        one_of("kind", QUOTE_KINDS),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))
    rate_card: Mapped[str] = mapped_column(String(64))
    currency: Mapped[str] = mapped_column(String(3))
    total: Mapped[Decimal] = mapped_column(Money())
    term_start: Mapped[date] = mapped_column(Date)
    term_end: Mapped[date] = mapped_column(Date)
    # `Quote.to_snapshot()` as canonical JSON.
    snapshot_json: Mapped[str] = mapped_column(Text)
    # JSON list of {"field", "line", "from", "to", "reason"} (modified versions).
    modifications_json: Mapped[str] = mapped_column(Text, default="[]")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(320))
    # The account that made it (round 58), as the audit log keeps an actor's: pages
    # name the person by it, so an address changed or given to someone else since
    # names who acted. None before agreements_0010 (named by the address, as then)
    # and for the system. No foreign key, as `audit_events.actor_user_id` has none:
    # a record of who acted, and storing one takes no key share of the account.
    created_by_id: Mapped[int | None] = mapped_column(Integer)

    application: Mapped[Application] = relationship(back_populates="quotes")

    snapshot = StoredJson[dict[str, Any]]("snapshot_json")
    modifications = StoredJson[list[dict[str, Any]]]("modifications_json", empty="[]")


class ApplicationNote(Base):
    """An internal note by licensing staff: never shown to vendors, on pages or the API."""

    __tablename__ = "application_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    author: Mapped[User] = relationship()


# How the office reached a licensee when it chased a licence (round 60), in the
# words the form and the list show.
CONTACT_WAYS = {
    "email": "by email",
    "phone": "by phone",
    "letter": "by letter",
    "meeting": "in a meeting",
}
CONTACT_NOTE_MAX = 2000


class AgreementContact(Base):
    """A contact the office made with a licensee about an agreement that expired
    without a renewal (round 60, agreements60: nothing recorded that the office had
    chased a licence): the day, how, a note and who recorded it (the account's id,
    without a foreign key, as a decision keeps its maker's). Never changed once
    recorded; audited `agreement.licensee_contacted` on the agreement."""

    __tablename__ = "agreement_contacts"
    __table_args__ = (
        one_of("how", CONTACT_WAYS),
        # An agreement's contacts by day: its last one (the list's *Last chased*).
        Index("ix_agreement_contacts_agreement_day", "agreement_id", "contacted_on", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("agreements.id"))
    contacted_on: Mapped[date] = mapped_column(Date)
    how: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")
    recorded_by_id: Mapped[int | None] = mapped_column(Integer)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CorrectionNotice(Base):
    """That the licensee of an agreement was told of the card `version` correcting its
    own (round 62, correction62): one row per agreement per correcting card, stored with
    the email it queued, in the same unit of work, so the telling, done in batches after
    the card is published, runs again where it stopped and never tells anyone twice.
    `emailed` is false where it was not emailed: a second correction of the same days
    that prices the agreement's uses by the same rules and discounts as the correction it
    was told of (its page says the newer card all the same)."""

    __tablename__ = "card_correction_notices"
    __table_args__ = (UniqueConstraint("agreement_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("agreements.id"))
    version: Mapped[str] = mapped_column(String(64))
    emailed: Mapped[bool] = mapped_column(Boolean)
    told_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class HandPricedAgreement(Base):
    """An agreement no rate card priced (round 66, currency66): a renewal licensing staff
    priced by hand, no card in its currency having been in effect on its first day when
    it was priced. Its quote names the renewed agreement's card (round 62: the rules the
    licensee has paid under, by the pricing contract's snapshot), and so does the
    agreement's `rate_card`, which the royalty and correction code read; this row is what
    the agreement says instead: no card priced it, and `in_effect`, the card in effect in
    its currency on its first day when it was issued (None: none was). One row, written
    with the agreement at issue and never changed (agreements_0014); an agreement issued
    before has none, and `agreements.hand_priced` works the card out as of its issue."""

    __tablename__ = "hand_priced_agreements"

    agreement_id: Mapped[int] = mapped_column(ForeignKey("agreements.id"), primary_key=True)
    in_effect: Mapped[str | None] = mapped_column(String(64))


class AgreementNumberSequence(Base):
    """The last agreement number issued in each year (locked while allocating)."""

    __tablename__ = "agreement_number_sequences"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(Integer, default=0)


class Agreement(Snapshotted, Base):
    """The issued license: its number, term, PDF (stored, never regenerated) and state."""

    __tablename__ = "agreements"
    __table_args__ = (
        one_of("state", AGREEMENT.states),
        # Each list order an index the database can walk, and stop after the page
        # (agreements_0007, round 52; docs/list-pages.md): the agreements lists, newest
        # first (every agreement, one organization's or a vendor's, one state's), and
        # the active agreements by term end (renewals due, ending within 90 days).
        Index("ix_agreements_issued_order", "issued_at", "id"),
        Index("ix_agreements_organization_issued_order", "organization_id", "issued_at", "id"),
        Index("ix_agreements_state_issued_order", "state", "issued_at", "id"),
        Index("ix_agreements_state_term_end_order", "state", "term_end", "id"),
        # One agreement of an application in force or offered (agreements_0008, round
        # 55): an agreement replaced by its reissue on a corrected rate card keeps its
        # row and its application beside the reissue.
        Index(
            "uq_agreements_live_application",
            "application_id",
            unique=True,
            sqlite_where=text(LIVE_APPLICATION_WHERE),
            postgresql_where=text(LIVE_APPLICATION_WHERE),
        ),
        # A vendor's agreements by number (round 55, agreements_0009, with the
        # vendor's other list orders); every agreement's reads the number's own.
        Index("ix_agreements_organization_number", "organization_id", "number"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"))
    quote_id: Mapped[int] = mapped_column(ForeignKey("application_quotes.id"))
    state: Mapped[str] = mapped_column(String(20), default=ISSUED, index=True)
    term_start: Mapped[date] = mapped_column(Date)
    term_end: Mapped[date] = mapped_column(Date, index=True)
    rate_card: Mapped[str] = mapped_column(String(64))
    currency: Mapped[str] = mapped_column(String(3))
    total: Mapped[Decimal] = mapped_column(Money())
    payment_terms_days: Mapped[int] = mapped_column(Integer)
    late_fee_monthly_percent: Mapped[Decimal] = mapped_column(Money())
    pdf_sha256: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # SHA-256 of the canonical amounts (currency, total, terms), sealed when issued.
    amounts_sha256: Mapped[str | None] = mapped_column(String(64))
    # The seal of the issued document (see `licensing.audit.seals`).
    seal_key_id: Mapped[str | None] = mapped_column(String(16))
    seal: Mapped[str | None] = mapped_column(String(64))
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    termination_reason: Mapped[str | None] = mapped_column(Text)
    renewal_of_id: Mapped[int | None] = mapped_column(ForeignKey("agreements.id"))
    superseded_by_id: Mapped[int | None] = mapped_column(ForeignKey("agreements.id"))
    # The agreement this one reissued on a corrected rate card, now `replaced` (round 55).
    reissue_of_id: Mapped[int | None] = mapped_column(ForeignKey("agreements.id"))
    # The issued bytes (about 51 KB), loaded only where a query asks for them
    # (`queries.stored_pdf`, the seal's check: `undefer`); reading them on a row
    # loaded without them raises, so no list or run carries every agreement's PDF
    # by accident (round 51). Stored after every other column on SQLite
    # (`agreements_0006`): a column after the bytes is read through their pages.
    pdf: Mapped[bytes] = mapped_column(LargeBinary, deferred=True, deferred_raiseload=True)

    organization: Mapped[Organization] = relationship()
    application: Mapped[Application] = relationship(foreign_keys=[application_id])
    quote: Mapped[QuoteVersion] = relationship()
    acceptance: Mapped[Acceptance | None] = relationship(
        back_populates="agreement", uselist=False, viewonly=True
    )
    renewal_of: Mapped[Agreement | None] = relationship(
        foreign_keys=[renewal_of_id], remote_side="Agreement.id"
    )
    reissue_of: Mapped[Agreement | None] = relationship(
        foreign_keys=[reissue_of_id], remote_side="Agreement.id", viewonly=True
    )
    # Its reissue, once `replaced` (the other side of `reissue_of`).
    reissued_as: Mapped[Agreement | None] = relationship(
        foreign_keys=[reissue_of_id], uselist=False, viewonly=True
    )
    # Its accepted renewal ("Renewed by" / "Superseded by" on the pages).
    superseded_by: Mapped[Agreement | None] = relationship(
        foreign_keys=[superseded_by_id], remote_side="Agreement.id", viewonly=True
    )
    # What its invoices charged so far, where a query loads it
    # (`queries.with_charged_to_date`); None otherwise.
    charged_to_date: Mapped[Decimal | None] = query_expression()
    # The application that renews it now (`queries.live_renewal`), where a query
    # loads it (`queries.with_live_renewal`); None otherwise, or when none does.
    live_renewal_id: Mapped[int | None] = query_expression()

    @property
    def reference(self) -> str:
        return self.number

    SNAPSHOT = ("number", "state", "term_start", "term_end", "total", "pdf_sha256")
    AMOUNTS = ("total",)

    def __repr__(self) -> str:
        return f"<Agreement {self.number} {self.state}>"


class Acceptance(Base):
    """The click-through acceptance: who, in what capacity, when, from where, which bytes."""

    __tablename__ = "agreement_acceptances"

    id: Mapped[int] = mapped_column(primary_key=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("agreements.id"), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    signer_name: Mapped[str] = mapped_column(String(SIGNER_MAX))
    signer_title: Mapped[str] = mapped_column(String(SIGNER_MAX))
    authority_confirmed: Mapped[bool] = mapped_column(Boolean)
    accepted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ip_address: Mapped[str] = mapped_column(String(64))
    user_agent: Mapped[str] = mapped_column(String(USER_AGENT_MAX))
    pdf_sha256: Mapped[str] = mapped_column(String(64))

    agreement: Mapped[Agreement] = relationship(back_populates="acceptance")
    user: Mapped[User] = relationship()


# Written once: the mechanism every feature's immutable records share (a letter, a
# review step, a published card, an invoice's kept PDF).
for _model in (QuoteVersion, Acceptance):
    refuse_changes(
        _model, ImmutableRecordChanged, lambda row: f"{type(row).__name__} {row.id} is written once"
    )


refuse_changes(
    HandPricedAgreement,
    ImmutableRecordChanged,
    lambda row: f"agreement {row.agreement_id}'s card in effect, priced by hand, is written once",
)


@event.listens_for(Agreement, "before_update")
def _keep_the_pdf(_mapper: Any, _connection: Any, target: Agreement) -> None:
    state = inspect(target)
    for name in ("pdf", "pdf_sha256", "number", "quote_id", "term_start", "term_end", "total"):
        if state.attrs[name].history.has_changes():
            raise ImmutableRecordChanged(f"agreement {target.number}: {name} never changes")


@event.listens_for(Agreement, "before_delete")
def _keep_agreements(_mapper: Any, _connection: Any, target: Agreement) -> None:
    raise ImmutableRecordChanged(f"agreement {target.number} cannot be deleted")
