"""What an agreement must report: its reportable lines, periods and their states."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from licensing import db
from licensing.actors import Actor
from licensing.agreements import hand_priced
from licensing.agreements.models import Agreement
from licensing.agreements.queries import with_terms
from licensing.agreements.states import ACTIVE, EXPIRED, SUPERSEDED, TERMINATED
from licensing.billing.models import Invoice
from licensing.calendar import office_date
from licensing.db import utcnow
from licensing.errors import NotFound
from licensing.pricing import Quote
from licensing.ratecards import queries as ratecard_queries
from licensing.ratecards.models import RateCardRecord

from ..computation import LineRoyalty, Pricer, ReportableLine, reportable_lines
from ..lateness import accepted_on, late_from
from ..models import (
    RoyaltyReport,
)
from ..periods import Period, period_starting, reporting_periods
from ..states import (
    DUE,
    OVERDUE,
    SUBMITTED,
    UPCOMING,
)

# Agreements whose reports may be filed: active ones, and expired or superseded ones
# for their last periods. A renewal accepted before the term ends supersedes the
# agreement when its term ends: its remaining periods (and any overdue) must still be
# reported, as the usage happened under it. A terminated one, for the periods it was
# in force (`last_reported_day`): the usage up to its termination happened under it
# too, and until round 23 its royalties were never reported nor invoiced.
REPORTING_STATES = (ACTIVE, EXPIRED, SUPERSEDED, TERMINATED)


@dataclass(frozen=True)
class Obligations:
    """An agreement's reporting duties: its periods, reportable lines and pricer."""

    agreement: Agreement
    periods: tuple[Period, ...]
    lines: tuple[ReportableLine, ...]
    pricer: Pricer
    product_names: Mapping[int, str]

    @property
    def currency(self) -> str:
        return self.agreement.currency

    @property
    def priced_card(self) -> str | None:
        """Round 68: the card that priced the agreement, by the one rule
        (`hand_priced.priced_by_card`, on the card already read): its version, or None
        where licensing staff priced it by hand (its quote names the renewed agreement's
        card; no such agreement has a reportable line, so nothing is reported on it)."""
        card = self.pricer.card
        if not hand_priced.priced_by_card(card, self.agreement.term_start):
            return None
        return self.agreement.rate_card

    def line(self, number: int) -> ReportableLine:
        return next(line for line in self.lines if line.number == number)

    def period(self, start: date) -> Period:
        found = period_starting(self.periods, start)
        if found is None:
            starts = ", ".join(p.start.isoformat() for p in self.periods)
            raise NotFound(
                f"Agreement {self.agreement.number} has no reporting period starting "
                f"{start.isoformat()} (its periods start {starts})."
            )
        return found


def last_reported_day(agreement: Agreement) -> date | None:
    """The last day whose usage the agreement reports: its term's last day, or, for
    one terminated while in force, the office day of its termination (within the
    term), so its last period ends that day and is due 30 days later. None for one
    terminated before it was accepted, which licensed nothing."""
    if agreement.state != TERMINATED:
        return agreement.term_end
    if agreement.activated_at is None or agreement.ended_at is None:
        return None
    return min(agreement.term_end, office_date(agreement.ended_at))


def obligations(
    session: Session, agreement: Agreement, cards: dict[str, RateCardRecord] | None = None
) -> Obligations:
    """`cards`: rate cards already read, by version (a list of agreements shares them)."""
    quote = Quote.from_snapshot(agreement.quote.snapshot)
    cards = {} if cards is None else cards
    if agreement.rate_card not in cards:
        cards[agreement.rate_card] = ratecard_queries.get(session, agreement.rate_card)
    card = ratecard_queries.domain_card(cards[agreement.rate_card])
    lines = reportable_lines(quote, card)
    organization_type = (
        quote.request.organization_type
        if quote.request is not None
        else agreement.organization.organization_type
    )
    uses = agreement.application.uses
    names = {line.number: uses[line.use_index].product_name for line in lines}
    last_day = last_reported_day(agreement)
    periods = reporting_periods(agreement.term_start, last_day) if lines and last_day else ()
    # Priced over the term as issued, terminated or not: the contract prices with the
    # agreement's term, and the minimum and fixed fees are not prorated on termination.
    pricer = Pricer(card, organization_type, agreement.term_start, agreement.term_end)
    return Obligations(agreement, periods, lines, pricer, names)


def _agreement(session: Session, agreement_id: int, actor: Actor, *, lock: bool) -> Agreement:
    statement = select(Agreement).where(Agreement.id == agreement_id)
    if lock:
        statement = statement.with_for_update()
    agreement = session.scalars(statement).one_or_none()
    if agreement is None or not actor.may_see(agreement.organization_id):
        raise NotFound(f"There is no agreement {agreement_id}.")
    return agreement


def current_reports(session: Session, agreement_id: int) -> dict[date, RoyaltyReport]:
    reports = session.scalars(
        select(RoyaltyReport).where(
            RoyaltyReport.agreement_id == agreement_id, RoyaltyReport.state == SUBMITTED
        )
    )
    return {report.period_start: report for report in reports}


@dataclass(frozen=True)
class PeriodStatus:
    agreement_id: int
    agreement_number: str
    organization_id: int
    organization_name: str
    period: Period
    state: str
    report: RoyaltyReport | None
    invoice_number: str | None
    # When the period was first filed, for a period an amendment reports: the
    # amendment's own `submitted_at` says nothing of how late the first was.
    first_filed_at: datetime | None = None
    # When its agreement was accepted (None: never): a report due before then is
    # late only from the acceptance's office day (`lateness.late_from`, round 50).
    accepted_at: datetime | None = None
    # For a period its current report amends, the period's royalty as amended (every
    # report's due summed; round 52: the lists showed the amendment's change alone).
    royalty_as_amended: Decimal | None = None
    # The stored period's id (`ReportingPeriod.id`): the key its list's page links
    # name to read the next page after it (round 56; None where no list reads it).
    # A paging key, not part of what the status says: two readings of one period
    # compare equal whether or not a list's read carried it.
    period_id: int | None = field(default=None, compare=False)

    @property
    def due_on(self) -> date:
        """The contract's due date, shown as it is (pages and the API's `due_on`)."""
        return self.period.due_on

    @property
    def accepted_on(self) -> date | None:
        return accepted_on(self.accepted_at)

    @property
    def late_from(self) -> date:
        """The last day the report is on time: its due date, or the acceptance's day
        when its agreement was accepted after it (a back report)."""
        return late_from(self.due_on, self.accepted_on)

    @property
    def back_report(self) -> bool:
        """Whether its due date passed before its agreement was accepted."""
        return self.late_from > self.due_on

    @property
    def first_filed_days_late(self) -> int:
        """Office days the first filing came after the report was late from (0 if on
        time)."""
        if self.first_filed_at is None:
            return 0
        return max((office_date(self.first_filed_at) - self.late_from).days, 0)

    @property
    def filed_days_late(self) -> int:
        """Office days the period's report came after it was late from (0 if on time
        or not filed): its first filing's, for an amended period."""
        filed = self.first_filed_at or (self.report.submitted_at if self.report else None)
        if filed is None:
            return 0
        return max((office_date(filed) - self.late_from).days, 0)


def period_state(
    period: Period, report: RoyaltyReport | None, today: date, accepted: date | None = None
) -> str:
    """Submitted once reported; upcoming until the period ends; due to the day it is
    late from (`lateness.late_from`: its due date, or a later acceptance's office day)
    inclusive; overdue after."""
    if report is not None:
        return SUBMITTED
    if today < period.first_filing_day:
        return UPCOMING
    return DUE if today <= late_from(period.due_on, accepted) else OVERDUE


def _statuses(session: Session, obligation: Obligations, today: date) -> list[PeriodStatus]:
    reports = current_reports(session, obligation.agreement.id)
    invoices = _invoice_numbers(session, [r.invoice_id for r in reports.values() if r.invoice_id])
    return _period_statuses(obligation, reports, invoices, today)


def _period_statuses(
    obligation: Obligations,
    reports: Mapping[date, RoyaltyReport],
    invoices: Mapping[int, str],
    today: date,
) -> list[PeriodStatus]:
    agreement = obligation.agreement
    accepted = agreement.activated_at
    accepted_day = accepted_on(accepted)
    return [
        PeriodStatus(
            agreement.id,
            agreement.number,
            agreement.organization_id,
            agreement.organization.legal_name,
            period,
            period_state(period, reports.get(period.start), today, accepted_day),
            reports.get(period.start),
            invoices.get(reports[period.start].invoice_id or 0)
            if period.start in reports
            else None,
            accepted_at=accepted,
        )
        for period in obligation.periods
    ]


def _invoice_numbers(session: Session, ids: Sequence[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.execute(select(Invoice.id, Invoice.number).where(Invoice.id.in_(ids)))
    return {row.id: row.number or "" for row in rows}


def agreement_periods(
    agreement_id: int, actor: Actor, *, now: datetime | None = None
) -> tuple[Agreement, list[PeriodStatus]]:
    """Every reporting period of an agreement, with its state and current report."""
    today = office_date(now or utcnow())
    session = db.session()
    agreement = _agreement(session, agreement_id, actor, lock=False)
    return agreement, _statuses(session, obligations(session, agreement), today)


def reporting_agreements(session: Session, organization_id: int | None = None) -> list[Agreement]:
    # What obligations() and the period list read of every agreement.
    statement = with_terms(select(Agreement).where(Agreement.state.in_(REPORTING_STATES)))
    if organization_id is not None:
        statement = statement.where(Agreement.organization_id == organization_id)
    return list(session.scalars(statement.order_by(Agreement.term_start, Agreement.id)))


def all_periods(
    actor: Actor, *, now: datetime | None = None, organization_id: int | None = None
) -> list[PeriodStatus]:
    """The reporting periods of every agreement the actor may see, built in Python
    from each agreement's obligations: the reference the stored periods are tested
    against. The pages read the stored periods (`queries.staff_queue_listing` and the
    others), whose work does not grow with the agreements."""
    today = office_date(now or utcnow())
    session = db.session()
    if not actor.sees_every_organization:
        if not actor.is_vendor:
            return []  # a link actor sees no organization's periods
        organization_id = actor.organization_id
    # One query each for the agreements (with what obligations() reads of them), their
    # current reports and those reports' invoice numbers, however many agreements.
    agreements = reporting_agreements(session, organization_id)
    reports = _current_reports_of(session, [agreement.id for agreement in agreements])
    invoices = _invoice_numbers(
        session,
        [r.invoice_id for by_start in reports.values() for r in by_start.values() if r.invoice_id],
    )
    cards: dict[str, RateCardRecord] = {}
    statuses: list[PeriodStatus] = []
    for agreement in agreements:
        obligation = obligations(session, agreement, cards)
        statuses.extend(
            _period_statuses(obligation, reports.get(agreement.id, {}), invoices, today)
        )
    return statuses


def _current_reports_of(
    session: Session, agreement_ids: Sequence[int]
) -> dict[int, dict[date, RoyaltyReport]]:
    """The current (submitted) reports of these agreements, by agreement and period start."""
    found: dict[int, dict[date, RoyaltyReport]] = {}
    if not agreement_ids:
        return found
    reports = session.scalars(
        select(RoyaltyReport).where(
            RoyaltyReport.agreement_id.in_(agreement_ids), RoyaltyReport.state == SUBMITTED
        )
    )
    for report in reports:
        found.setdefault(report.agreement_id, {})[report.period_start] = report
    return found


@dataclass
class Filing:
    """A report's computation: what preview shows and submit stores."""

    agreement_number: str
    period: Period
    currency: str
    amends: int | None
    lines: list[LineRoyalty]
    flags: list[str] = field(default_factory=list)
    report: RoyaltyReport | None = None
    invoice_number: str | None = None
    credit_notes: list[str] = field(default_factory=list)
    # The last period reported when it was filed, when after its own: an amendment
    # recomputes every later period, so its lines are to date through that one.
    through: Period | None = None
    # The card every line is priced on: the agreement's (the royalty contract),
    # named beside the total (cardcheck54: only each line's working named it).
    rate_card: str | None = None
    # Each reportable line's product, by its number: the lines' table names it beside
    # the number (round 66: "1" and "2" alone sent the vendor back to the period page).
    products: Mapping[int, str] = field(default_factory=dict)

    @property
    def total_due(self) -> Decimal:
        return sum((line.due for line in self.lines), Decimal(0))
