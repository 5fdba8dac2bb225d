"""What a resubmission brought back to the reviewer (round 57).

A licensing analyst who returned an application with a question met it again in the
queue as "submitted" and, on its page, the vendor's answer alone under "Vendor's
answer" (the question had been cleared with the resubmission; only the email to
staff paired them) above two quote tables, the first the stale one, both "as
submitted": which figure the vendor changed, and how the price moved, meant reading
the two tables side by side. `resubmission` pairs the question (the return's audited
note) with the answer, and sets each use of the resubmitted quote beside the same use
of the quote the question was asked on, with what moved (quantities, revenue, the
rule, the card's change to it), in the renewal comparison's words
(`renewal_change`). Read only; nothing is stored.

Round 58: the review page printed every quote version in full, one table after
another; it shows the current one and folds the earlier ones, each with what the
next version changed from it (`version_changes`, the same comparison).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from licensing.accounts.models import User
from licensing.agreements.models import SUBMITTED, Application, QuoteVersion
from licensing.agreements.renewal_change import (
    PAGE,
    UseChange,
    card_sentences,
    figure_changes,
    rule_changes,
)
from licensing.agreements.states import RETURNED
from licensing.audit import queries as audit_queries
from licensing.pricing import ProposedUse, Quote

RETURNED_EVENT = "application.returned"


@dataclass(frozen=True)
class VersionChange:
    """A quote version (`after`) against an earlier one (`before`): cards, totals,
    each use with what moved, the uses no longer quoted (`dropped`) and the terms."""

    before: int
    after: int
    card_before: str
    card_after: str
    currency: str
    total_before: Decimal | None
    total_after: Decimal | None
    uses: tuple[UseChange, ...]
    dropped: tuple[str, ...]
    term_before: tuple[date, date]
    term_after: tuple[date, date]
    # Round 65: the earlier version's currency, where a card it named since is in
    # another (no difference is worked out across currencies).
    currency_before: str = ""

    @property
    def across_currencies(self) -> bool:
        return bool(self.currency_before) and self.currency_before != self.currency

    @property
    def change(self) -> Decimal | None:
        if self.total_before is None or self.total_after is None or self.across_currencies:
            return None
        return self.total_after - self.total_before

    @property
    def uses_changed(self) -> tuple[UseChange, ...]:
        """The uses whose amount or working moved (or that are new)."""
        return tuple(use for use in self.uses if use.reasons or use.change != 0)


@dataclass(frozen=True)
class Resubmission(VersionChange):
    """The office's last question (None where no return is recorded), who asked it
    and when, the vendor's answer (None: changes only), and the resubmitted quote
    version (`after`) against the one the question was asked on (`before`)."""

    asked: str | None = None
    asked_at: datetime | None = None
    asked_by: str | None = None
    answer: str | None = None


def _total(quote: Quote) -> Decimal | None:
    return quote.total if quote.fully_priced else None


def _same_kind(old: ProposedUse, new: ProposedUse) -> bool:
    return (old.use, old.product_type, old.user_type) == (new.use, new.product_type, new.user_type)


def _around_the_return(
    application: Application, versions: Sequence[QuoteVersion]
) -> tuple[QuoteVersion, QuoteVersion] | None:
    """The submitted version the question was asked on and the first one submitted
    after it, for an application resubmitted since its last return (not one waiting
    on the vendor now, whose page says the question)."""
    returned = application.returned_at
    if returned is None or application.state == RETURNED:
        return None
    submitted = [v for v in versions if v.kind == SUBMITTED]
    before = [v for v in submitted if v.created_at <= returned]
    after = [v for v in submitted if v.created_at > returned]
    if not before or not after:
        return None
    return before[-1], after[0]


def resubmission(
    session: Session, application: Application, versions: Sequence[QuoteVersion]
) -> Resubmission | None:
    """What the last resubmission brought back, or None for an application never
    returned, waiting on the vendor now, or whose versions do not say it."""
    pair = _around_the_return(application, versions)
    if pair is None:
        return None
    old_version, new_version = pair
    asked = audit_queries.latest_event(session, "application", application.id, RETURNED_EVENT)
    # Who asked, as pages name a person who acted ("Ana Ruiz (ana@...)"); the audit's
    # own actor (an address, or `system`) where the account is gone.
    asker = session.get(User, asked.actor_user_id) if asked and asked.actor_user_id else None
    compared = version_change(session, application, old_version, new_version)
    return Resubmission(
        **{field.name: getattr(compared, field.name) for field in fields(VersionChange)},
        asked=asked.note if asked else None,
        asked_at=asked.occurred_at if asked else None,
        asked_by=asker.name_and_email if asker else asked.actor if asked else None,
        answer=application.vendor_response,
    )


def version_change(
    session: Session,
    application: Application,
    old_version: QuoteVersion,
    new_version: QuoteVersion,
    sentences: dict[tuple[str, str], str] | None = None,
) -> VersionChange:
    """`new_version` against `old_version`, each use in the renewal comparison's words
    (`sentences`: the two cards' differences, read here when not given)."""
    before = Quote.from_snapshot(old_version.snapshot)
    after = Quote.from_snapshot(new_version.snapshot)
    # A snapshot stored without its request (older ones) says each use's amount only:
    # uses are then matched by position, and no figure is said to have moved.
    known = before.request is not None and after.request is not None
    old_uses = before.request.uses if before.request else ()
    new_uses = after.request.uses if after.request else ()
    old_lines = {line.use_index: line for line in before.lines}
    new_lines = {line.use_index: line for line in after.lines}
    if sentences is None:
        sentences = card_sentences(session, before.rate_card, after.rate_card, PAGE)
    names = [use.product_name for use in application.uses]
    uses = []
    for index, new_line in sorted(new_lines.items()):
        name = names[index] if index < len(names) else f"use {index + 1}"
        old_line = old_lines.get(index)
        matched = index < len(old_uses) and index < len(new_uses)
        if old_line is None or (
            known and (not matched or not _same_kind(old_uses[index], new_uses[index]))
        ):
            reasons: tuple[str, ...] = (f"Not in quote version {old_version.version}.",)
            uses.append(UseChange(index + 1, name, None, new_line.amount, reasons))
            continue
        found = rule_changes(old_line, new_line, sentences, after.rate_card)
        if known:
            found += figure_changes(old_uses[index], new_uses[index], after.currency, PAGE)
        uses.append(
            UseChange(
                index + 1,
                name,
                old_line.amount,
                new_line.amount,
                tuple(found),
                across_currencies=before.currency != after.currency,
            )
        )
    dropped = tuple(
        old_uses[i].description or f"use {i + 1}"
        for i in range(len(old_uses))
        if i >= len(new_uses) or not _same_kind(old_uses[i], new_uses[i])
    )
    return VersionChange(
        before=old_version.version,
        after=new_version.version,
        card_before=before.rate_card,
        card_after=after.rate_card,
        currency=after.currency,
        total_before=_total(before),
        total_after=_total(after),
        uses=tuple(uses),
        dropped=dropped,
        term_before=(old_version.term_start, old_version.term_end),
        term_after=(new_version.term_start, new_version.term_end),
        currency_before=before.currency,
    )


def version_changes(
    session: Session, application: Application, versions: Sequence[QuoteVersion]
) -> dict[int, VersionChange]:
    """For each version but the last, by its number, what the next one changed (round
    58: the review page folds the earlier versions, each with this). The cards'
    differences are read once for each pair of cards."""
    said: dict[tuple[str, str], dict[tuple[str, str], str]] = {}
    changes: dict[int, VersionChange] = {}
    for old_version, new_version in itertools.pairwise(versions):
        cards = (old_version.rate_card, new_version.rate_card)
        if cards not in said:
            said[cards] = card_sentences(session, *cards, PAGE) if cards[0] != cards[1] else {}
        changes[old_version.version] = version_change(
            session, application, old_version, new_version, said[cards]
        )
    return changes
