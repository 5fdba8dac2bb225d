"""General-ledger accounts and uses of invoice lines.

An invoice line's account comes from configuration (`EXPORT_GL_ACCOUNTS`, read
in `licensing.config`) by the kind of charge and, where the line has one, its
use: `fee.distribution` if configured, else `fee`. Credit notes reverse the
accounts of the lines they credit.

Invoice lines store no use, so it is found the way the line was made: an
agreement's up-front invoice has one line per licensed quote line with a fixed
part above zero, in quote order (`agreements.services._charges`), so line N is
the Nth such quote line, whose use is the application's. A royalty-report
invoice has one line per report line whose due is not zero, in line order
(`royalties.services`), so line N is the Nth such report line, whose use is its
agreement line's. Late fees and manual invoices have no use.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from licensing.agreements.models import Agreement, ApplicationUse, QuoteVersion
from licensing.billing.states import AGREEMENT, LATE_FEE, MANUAL, ROYALTY_REPORT
from licensing.pricing import Quote
from licensing.royalties.models import RoyaltyReport, RoyaltyReportLine

FEE = "fee"
ROYALTY = "royalty"
KIND_BY_SOURCE = {AGREEMENT: FEE, ROYALTY_REPORT: ROYALTY, LATE_FEE: "late_fee", MANUAL: "manual"}

# Agreements remembered at once while an export runs: enough for locality (lines
# come invoice by invoice), bounded so memory stays flat on any export.
_CACHE_LIMIT = 5000


@dataclass(frozen=True)
class SourceFacts:
    """What an invoice's lines take from the agreement or royalty report it was
    issued for: the days its revenue is earned over (the agreement's term, the
    report's period) and the use of each line of the invoice, line 1 first."""

    start: date
    end: date
    line_uses: tuple[str, ...]


def _missing(cache: dict[int, SourceFacts | None], keys: Collection[int]) -> set[int]:
    """Those of `keys` not in `cache`, to be read at once; when they would not
    fit, the cache is emptied and all of `keys` are read again (bounded memory)."""
    wanted = set(keys)
    missing = wanted - cache.keys()
    if missing and len(cache) + len(missing) > _CACHE_LIMIT:
        cache.clear()
        return wanted
    return missing


def _remembered(
    cache: dict[int, SourceFacts | None],
    key: int,
    load: Callable[[int], SourceFacts | None],
) -> SourceFacts | None:
    """`load(key)`, looked up once while it stays in `cache`, which is emptied when
    full (bounded memory on any export)."""
    if key not in cache:
        if len(cache) >= _CACHE_LIMIT:
            cache.clear()
        cache[key] = load(key)
    return cache[key]


def application_uses(session: Session, application_id: int) -> list[str]:
    """The uses an application asked for, in its order (a quote line's
    `use_index` points into this list)."""
    return list(
        session.scalars(
            select(ApplicationUse.use)
            .where(ApplicationUse.application_id == application_id)
            .order_by(ApplicationUse.position)
        )
    )


def uses_by_application(session: Session, application_ids: Iterable[int]) -> dict[int, list[str]]:
    """`application_uses` of each of the applications, in one statement: for a
    batch of rows rather than a query per row (the `agreements` export)."""
    found: dict[int, list[str]] = {application_id: [] for application_id in application_ids}
    if not found:
        return found
    statement = (
        select(ApplicationUse.application_id, ApplicationUse.use)
        .where(ApplicationUse.application_id.in_(found))
        .order_by(ApplicationUse.application_id, ApplicationUse.position)
    )
    for application_id, use in session.connection().execute(statement):
        found[application_id].append(use)
    return found


class Ledger:
    """Accounts, kinds and uses for one export (it caches what it looks up)."""

    def __init__(self, session: Session, accounts: Mapping[str, str]) -> None:
        self.session = session
        self.accounts = accounts
        self._agreements: dict[int, SourceFacts | None] = {}
        self._reports: dict[int, SourceFacts | None] = {}

    @staticmethod
    def kind(source_type: str) -> str:
        return KIND_BY_SOURCE.get(source_type, "manual")

    def account(self, kind: str, use: str | None) -> str:
        if use and f"{kind}.{use}" in self.accounts:
            return self.accounts[f"{kind}.{use}"]
        return self.accounts.get(kind, "")

    def classify(
        self, source_type: str, source_id: int | None, position: int
    ) -> tuple[str, str | None, str]:
        """An invoice line's kind, use (None when it has none) and account."""
        kind = KIND_BY_SOURCE.get(source_type, "manual")
        use = self.line_use(source_type, source_id, position)
        return kind, use, self.account(kind, use)

    def agreement(self, source_type: str, source_id: int | None) -> SourceFacts | None:
        """The agreement an up-front fee invoice was issued for, if it exists."""
        if source_type != AGREEMENT or source_id is None:
            return None
        return _remembered(self._agreements, source_id, self._load)

    def royalty(self, source_type: str, source_id: int | None) -> SourceFacts | None:
        """The royalty report a royalty invoice was issued for, if it exists."""
        if source_type != ROYALTY_REPORT or source_id is None:
            return None
        return _remembered(self._reports, source_id, self._load_report)

    def line_use(self, source_type: str, source_id: int | None, position: int) -> str | None:
        facts = self.agreement(source_type, source_id) or self.royalty(source_type, source_id)
        if facts is None or not 1 <= position <= len(facts.line_uses):
            return None
        return facts.line_uses[position - 1]

    def _load_report(self, report_id: int) -> SourceFacts | None:
        found = self.session.execute(
            _REPORT_FACTS.where(RoyaltyReport.id == report_id)
        ).one_or_none()
        if found is None:
            return None
        lines = self.session.execute(_due_lines([report_id]))
        return _report_facts(found, [number for _report_id, number in lines])

    def remember_sources(self, batch: Iterable[Any]) -> None:
        """The agreements of a batch's up-front fee lines and the reports of its
        royalty lines (rows with `source_type` and `source_id`), read at once (two
        statements each: `remember_agreements`, `remember_reports`) rather than
        one by one as `classify` reaches them."""
        rows = list(batch)
        self.remember_agreements(
            {row.source_id for row in rows if row.source_type == AGREEMENT and row.source_id}
        )
        self.remember_reports(
            {row.source_id for row in rows if row.source_type == ROYALTY_REPORT and row.source_id}
        )

    def remember_reports(self, report_ids: Collection[int]) -> None:
        """The facts of those of `report_ids` not remembered yet, read in two
        statements (the reports with their agreements' quotes, then their lines
        with a due) where `royalty` reads two for each: for a batch of invoice
        lines, whose royalty invoices are each for a report of their own. The
        cache keeps within its bound as in `remember_agreements`."""
        missing = _missing(self._reports, report_ids)
        if not missing:
            return
        rows = (
            self.session.connection()
            .execute(
                _REPORT_FACTS.add_columns(RoyaltyReport.id).where(RoyaltyReport.id.in_(missing))
            )
            .all()
        )
        numbers: dict[int, list[int]] = {row.id: [] for row in rows}
        for report_id, number in self.session.connection().execute(_due_lines(numbers)):
            numbers[report_id].append(number)
        for report_id in missing:
            self._reports[report_id] = None  # no such report
        for row in rows:
            self._reports[row.id] = _report_facts(row, numbers[row.id])

    def remember_agreements(self, agreement_ids: Collection[int]) -> None:
        """The facts of those of `agreement_ids` not remembered yet, read in two
        statements (the agreements with their quotes, then their applications'
        uses) where `agreement` reads two for each: for a batch of invoice lines
        (`invoice_lines`), whose up-front invoices are each for an agreement of
        their own. The cache keeps within its bound: full, it is emptied and the
        whole batch read."""
        missing = _missing(self._agreements, agreement_ids)
        if not missing:
            return
        found = self.session.connection().execute(
            _AGREEMENT_FACTS.add_columns(Agreement.id).where(Agreement.id.in_(missing))
        )
        rows = found.all()
        uses = uses_by_application(self.session, {row.application_id for row in rows})
        for agreement_id in missing:
            self._agreements[agreement_id] = None  # no such agreement
        for row in rows:
            self._agreements[row.id] = _agreement_facts(row, uses[row.application_id])

    def _load(self, agreement_id: int) -> SourceFacts | None:
        found = self.session.execute(
            _AGREEMENT_FACTS.where(Agreement.id == agreement_id)
        ).one_or_none()
        if found is None:
            return None
        return _agreement_facts(found, application_uses(self.session, found.application_id))


# An agreement's term, application and quote: what its up-front invoice's lines take.
_AGREEMENT_FACTS = select(
    Agreement.term_start,
    Agreement.term_end,
    Agreement.application_id,
    QuoteVersion.snapshot_json,
).join(QuoteVersion, QuoteVersion.id == Agreement.quote_id)


def _agreement_facts(found: Any, uses: list[str]) -> SourceFacts:
    """An agreement's facts from its `_AGREEMENT_FACTS` row and its application's
    uses: line N of its up-front invoice is its Nth licensed quote line with a
    fixed part above zero (the module's docstring)."""
    quote = Quote.from_snapshot(json.loads(found.snapshot_json))
    line_uses = tuple(
        uses[line.use_index]
        for line in quote.lines
        if line.route == "license"
        and line.breakdown is not None
        and line.breakdown.fixed > 0
        and line.use_index < len(uses)
    )
    return SourceFacts(found.term_start, found.term_end, line_uses)


# A royalty report's period and its agreement's quote: what its invoice's lines take.
_REPORT_FACTS = (
    select(RoyaltyReport.period_start, RoyaltyReport.period_end, QuoteVersion.snapshot_json)
    .join(Agreement, Agreement.id == RoyaltyReport.agreement_id)
    .join(QuoteVersion, QuoteVersion.id == Agreement.quote_id)
)


def _due_lines(report_ids: Iterable[int]) -> Any:
    """(report, line number) of the reports' lines with a due, in line order:
    the lines their invoices have, one each."""
    return (
        select(RoyaltyReportLine.report_id, RoyaltyReportLine.line)
        .where(RoyaltyReportLine.report_id.in_(list(report_ids)))
        .where(RoyaltyReportLine.due != Decimal(0))
        .order_by(RoyaltyReportLine.report_id, RoyaltyReportLine.line)
    )


def _report_facts(found: Any, numbers: list[int]) -> SourceFacts:
    """A report's facts from its `_REPORT_FACTS` row and the numbers of its lines
    with a due: line N of its invoice is its Nth such line, whose use is its
    agreement's licensed quote line's (the module's docstring)."""
    quote = Quote.from_snapshot(json.loads(found.snapshot_json))
    request = quote.request
    licensed = [line for line in quote.lines if line.route == "license"]
    uses = tuple(
        request.uses[licensed[number - 1].use_index].use if request else ""
        for number in numbers
        if 1 <= number <= len(licensed)
    )
    return SourceFacts(found.period_start, found.period_end, uses)
