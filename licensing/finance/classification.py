"""Which use, product type, user type and organization type an invoice line's
revenue belongs to.

Invoice lines carry no classification of their own: it lives where the amount
was priced. Each invoice source (`Invoice.source_type`) has a *classifier* that
reads it back from there:

- `agreement` (the up-front invoice issued on acceptance): the agreement's
  quote snapshot. The invoice's lines are the licensed lines with a fixed part
  above zero, in Schedule A order (`licensing.agreements.services._charges`);
  a line is classified only when its position and amount both match, never
  guessed.
- `royalty_report`: registered by the royalties package
  (`licensing.royalties.classification`), reading its own report line table
  (report line -> agreement line -> `agreement_lines()` below).

Lines without a classifier (late fees, manual invoices) or that cannot be
matched are reported as unclassified rather than dropped, so the totals by
classification still add up to what was invoiced.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from licensing.agreements.issuing import licensed_lines
from licensing.agreements.models import Agreement
from licensing.agreements.queries import with_terms
from licensing.pricing.quote import Quote

UNCLASSIFIED = "unclassified"
AXES = ("use", "product_type", "user_type", "organization_type")


@dataclass(frozen=True)
class Classification:
    use: str
    product_type: str
    user_type: str
    organization_type: str

    def value(self, axis: str) -> str:
        found: str = getattr(self, axis)
        return found


NOT_CLASSIFIED = Classification(UNCLASSIFIED, UNCLASSIFIED, UNCLASSIFIED, UNCLASSIFIED)


@dataclass(frozen=True)
class RevenueLine:
    """An issued invoice line to classify: enough to find where it was priced."""

    invoice_line_id: int
    invoice_id: int
    source_type: str
    source_id: int | None
    position: int
    amount: Decimal


# Given the lines of one source type, answer {invoice_line_id: Classification}
# for those it can classify; the rest count as unclassified.
Classifier = Callable[[Session, Sequence[RevenueLine]], Mapping[int, Classification]]
_CLASSIFIERS: dict[str, Classifier] = {}


def register_classifier(source_type: str, classifier: Classifier) -> Classifier:
    _CLASSIFIERS[source_type] = classifier
    return classifier


def classify(session: Session, lines: Iterable[RevenueLine]) -> dict[int, Classification]:
    """Every line's classification, `NOT_CLASSIFIED` where no classifier knows it."""
    by_source: dict[str, list[RevenueLine]] = {}
    for line in lines:
        by_source.setdefault(line.source_type, []).append(line)
    found: dict[int, Classification] = {}
    for source_type, group in by_source.items():
        classifier = _CLASSIFIERS.get(source_type)
        known = classifier(session, group) if classifier else {}
        for line in group:
            found[line.invoice_line_id] = known.get(line.invoice_line_id, NOT_CLASSIFIED)
    return found


# --- agreements: from the quote snapshot ------------------------------------------------


@dataclass(frozen=True)
class AgreementLine:
    """A licensed line of an agreement (Schedule A), classified as priced."""

    number: int  # Schedule A's line number, from 1
    classification: Classification
    up_front: Decimal  # the fixed part invoiced on acceptance


def agreement_lines(agreement: Agreement) -> list[AgreementLine]:
    """The agreement's Schedule A lines with their classification, read from the
    quote snapshot the agreement was issued from (the application's uses and
    organization type as priced, not as they may read today)."""
    quote = Quote.from_snapshot(agreement.quote.snapshot)
    request = quote.request
    uses = agreement.application.uses
    organization_type = (
        request.organization_type if request else agreement.organization.organization_type
    )
    lines = []
    for number, line in enumerate(licensed_lines(quote), start=1):
        if request is not None:
            proposed = request.uses[line.use_index]
            use, product_type, user_type = (
                proposed.use,
                proposed.product_type,
                proposed.user_type,
            )
        else:
            stored = uses[line.use_index]
            use, product_type, user_type = stored.use, stored.product_type, stored.user_type
        fixed = line.breakdown.fixed if line.breakdown is not None else Decimal(0)
        lines.append(
            AgreementLine(
                number, Classification(use, product_type, user_type, organization_type), fixed
            )
        )
    return lines


def _agreements(session: Session, ids: set[int]) -> dict[int, Agreement]:
    if not ids:
        return {}
    found = session.scalars(with_terms(select(Agreement).where(Agreement.id.in_(ids))))
    return {agreement.id: agreement for agreement in found}


def classify_up_front_lines(
    session: Session, lines: Sequence[RevenueLine]
) -> dict[int, Classification]:
    """An agreement invoice's line N is the N-th licensed line with an up-front
    amount; kept only when that line's amount is the invoice line's amount."""
    agreements = _agreements(session, {line.source_id for line in lines if line.source_id})
    charged: dict[int, list[AgreementLine]] = {
        agreement_id: [line for line in agreement_lines(agreement) if line.up_front > 0]
        for agreement_id, agreement in agreements.items()
    }
    found: dict[int, Classification] = {}
    for line in lines:
        candidates = charged.get(line.source_id or 0, [])
        if 1 <= line.position <= len(candidates):
            candidate = candidates[line.position - 1]
            if candidate.up_front == line.amount:
                found[line.invoice_line_id] = candidate.classification
    return found


register_classifier("agreement", classify_up_front_lines)
