"""General-ledger accounts and uses of invoice lines.

An invoice line's account comes from configuration (`EXPORT_GL_ACCOUNTS`, read
in `licensing.config`) by the kind of charge and, where the line has one, its
use: `fee.distribution` if configured, else `fee`. Credit notes reverse the
accounts of the lines they credit.

Invoice lines store no use, so it is found the way the line was made: an
agreement's up-front invoice has one line per licensed quote line with a fixed
part above zero, in quote order (`agreements.services._charges`), so line N is
the Nth such quote line, whose use is the application's. Royalty-report invoices
will name their lines' uses once royalty reports exist; until then their use is
empty, like late fees and manual invoices.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from licensing.agreements.models import Agreement, ApplicationUse, QuoteVersion
from licensing.billing.states import AGREEMENT, LATE_FEE, MANUAL, ROYALTY_REPORT
from licensing.pricing import Quote

FEE = "fee"
ROYALTY = "royalty"
KIND_BY_SOURCE = {AGREEMENT: FEE, ROYALTY_REPORT: ROYALTY, LATE_FEE: "late_fee", MANUAL: "manual"}

# Agreements remembered at once while an export runs: enough for locality (lines
# come invoice by invoice), bounded so memory stays flat on any export.
_CACHE_LIMIT = 5000


@dataclass(frozen=True)
class AgreementFacts:
    term_start: date
    term_end: date
    # The use of each line of the agreement's up-front invoice, line 1 first.
    line_uses: tuple[str, ...]


class Ledger:
    """Accounts, kinds and uses for one export (it caches what it looks up)."""

    def __init__(self, session: Session, accounts: Mapping[str, str]) -> None:
        self.session = session
        self.accounts = accounts
        self._agreements: dict[int, AgreementFacts | None] = {}

    @staticmethod
    def kind(source_type: str) -> str:
        return KIND_BY_SOURCE.get(source_type, "manual")

    def account(self, kind: str, use: str | None) -> str:
        if use and f"{kind}.{use}" in self.accounts:
            return self.accounts[f"{kind}.{use}"]
        return self.accounts.get(kind, "")

    def agreement(self, source_type: str, source_id: int | None) -> AgreementFacts | None:
        """The agreement an up-front fee invoice was issued for, if it exists."""
        if source_type != AGREEMENT or source_id is None:
            return None
        if source_id not in self._agreements:
            if len(self._agreements) >= _CACHE_LIMIT:
                self._agreements.clear()
            self._agreements[source_id] = self._load(source_id)
        return self._agreements[source_id]

    def line_use(self, source_type: str, source_id: int | None, position: int) -> str | None:
        facts = self.agreement(source_type, source_id)
        if facts is None or not 1 <= position <= len(facts.line_uses):
            return None
        return facts.line_uses[position - 1]

    def _load(self, agreement_id: int) -> AgreementFacts | None:
        found = self.session.execute(
            select(
                Agreement.term_start,
                Agreement.term_end,
                Agreement.application_id,
                QuoteVersion.snapshot_json,
            )
            .join(QuoteVersion, QuoteVersion.id == Agreement.quote_id)
            .where(Agreement.id == agreement_id)
        ).first()
        if found is None:
            return None
        uses = list(
            self.session.scalars(
                select(ApplicationUse.use)
                .where(ApplicationUse.application_id == found.application_id)
                .order_by(ApplicationUse.position)
            )
        )
        quote = Quote.from_snapshot(json.loads(found.snapshot_json))
        line_uses = tuple(
            uses[line.use_index]
            for line in quote.lines
            if line.route == "license"
            and line.breakdown is not None
            and line.breakdown.fixed > 0
            and line.use_index < len(uses)
        )
        return AgreementFacts(found.term_start, found.term_end, line_uses)
